//! The engines `blockstm compare` runs, built from its arguments through the library's one
//! engine factory, so that they are configured exactly as the daemon slot configures them.

use std::sync::Arc;

use executor::engine::blockstm::BlockStmConfig;
use executor::engine::grouping::GroupingConfig;
pub use executor::engine::EngineKind;
use executor::engine::{self, BlockExecutor, EngineConfig, Execution};
use executor::{Block, BlockError};
use storage_adapter::StateView;

use super::args::CompareArgs;

/// An engine ready to run.
pub struct Engine(Arc<dyn BlockExecutor>);

impl Engine {
    /// The engine `kind` at `threads`, configured by `args` (Block-STM's switches).
    pub fn new(kind: EngineKind, threads: usize, args: &CompareArgs) -> Self {
        let config = EngineConfig {
            grouping: GroupingConfig { threads },
            block_stm: BlockStmConfig {
                threads,
                contention_cutoff: args.contention_cutoff.0,
                nonce_hints: args.nonce_hints,
                deltas: args.deltas,
                claims: args.claims,
                sinks: args.sinks,
                parallel_on_one_thread: args.one_thread,
                frontier_run: args.frontier_run,
                ..BlockStmConfig::default()
            },
            vm: args.vm,
        };
        Self(engine::build(kind, &config))
    }

    /// Executes `block`; the batch count for grouping.
    pub fn execute<S: StateView>(
        &self,
        block: &Block,
        view: &S,
    ) -> Result<(Execution, Option<u64>), BlockError> {
        let execution = self.0.execute_block(block, view)?;
        let batches = execution
            .stats
            .grouping
            .as_ref()
            .map(|grouping| grouping.batches);
        Ok((execution, batches))
    }
}
