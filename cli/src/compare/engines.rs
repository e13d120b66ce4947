//! The engines `blockstm compare` runs, and the one place where they are built from its
//! arguments.

use executor::engine::blockstm::{BlockStmConfig, BlockStmExecutor};
use executor::engine::grouping::{GroupingConfig, GroupingExecutor};
use executor::engine::{BlockExecutor, Execution};
use executor::{Block, BlockError, SequentialExecutor};
use storage_adapter::StateView;

use super::args::CompareArgs;

/// The engines compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    Sequential,
    Grouping,
    BlockStm,
}

impl EngineKind {
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Sequential => "sequential",
            EngineKind::Grouping => "grouping",
            EngineKind::BlockStm => "block-stm",
        }
    }
}

/// An engine ready to run.
pub enum Engine {
    Sequential(SequentialExecutor),
    Grouping(GroupingExecutor),
    BlockStm(BlockStmExecutor),
}

impl Engine {
    /// The engine `kind` at `threads`, configured by `args` (Block-STM's switches).
    pub fn new(kind: EngineKind, threads: usize, args: &CompareArgs) -> Self {
        match kind {
            EngineKind::Sequential => Engine::Sequential(SequentialExecutor::new()),
            EngineKind::Grouping => {
                Engine::Grouping(GroupingExecutor::new(GroupingConfig { threads }))
            }
            EngineKind::BlockStm => Engine::BlockStm(
                BlockStmExecutor::new(BlockStmConfig {
                    threads,
                    contention_cutoff: args.contention_cutoff.0,
                    ..BlockStmConfig::default()
                })
                .with_nonce_hints(args.nonce_hints)
                .with_deltas(args.deltas)
                .with_claims(args.claims)
                .with_sinks(args.sinks)
                .with_parallel_on_one_thread(args.one_thread),
            ),
        }
    }

    /// Executes `block`; the batch count for grouping.
    pub fn execute<S: StateView>(
        &self,
        block: &Block,
        view: &S,
    ) -> Result<(Execution, Option<u64>), BlockError> {
        match self {
            Engine::Sequential(engine) => engine.execute_block(block, view).map(|e| (e, None)),
            Engine::Grouping(engine) => engine
                .execute_with_stats(block, view)
                .map(|(execution, grouping)| (execution, Some(grouping.batches))),
            Engine::BlockStm(engine) => engine.execute(block, view).map(|e| (e, None)),
        }
    }
}
