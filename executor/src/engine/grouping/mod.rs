//! The batch grouping engine: the TOS daemon's pessimistic parallel path, kept as the
//! baseline Block-STM is measured against.
//!
//! The block is split into batches greedily in block order ([`batches`], in `partition`):
//! a new batch starts at the first transaction that touches an account already in the
//! current batch. The batches run one after another; the transactions of a batch run in
//! parallel, each against a view made of the writes of the earlier batches, then the block
//! prologue, then storage (the oracle's view, `engine::overlay`).
//!
//! That is exactly the oracle's result: every key a transaction reads or writes (the
//! source's nonce, balances and multisig, the destinations' balances) belongs to one of its
//! accounts, and no other transaction of its batch touches those accounts, so what it sees
//! is what it would see in block order. The miner's TOS balance is no exception: the
//! prologue writes it under every transaction and the fee credit comes after all of them
//! (in [`finish_block_on`]); a transaction paying or paid by the miner simply has the miner
//! among its accounts. Fees and burns are folded in block order with [`Totals`], so a
//! block error is the oracle's too.
//!
//! How the batches run, for speed (it is a baseline: a weak one would prove nothing), is
//! `pool`'s business: workers spawned once per block, chunks claimed from one atomic
//! word, small batches inline on the calling thread. Batches smaller than four times the
//! thread count run inline, and a block with no batch that large starts no thread at all.
//! A VM panic ends the attempt, never the block: the engine falls back to the sequential
//! oracle, loudly (`tracing::warn`, and [`ExecutionStats::fallbacks`]).
//!
//! [`Totals`]: crate::block::Totals
//! [`ExecutionStats::fallbacks`]: crate::engine::ExecutionStats::fallbacks
//!
//! ```
//! use executor::engine::grouping::{GroupingConfig, GroupingExecutor};
//! use executor::engine::BlockExecutor;
//!
//! let engine = GroupingExecutor::new(GroupingConfig { threads: 4 });
//! assert_eq!(engine.name(), "grouping");
//! ```

mod partition;
mod pool;
mod signal;
#[cfg(test)]
mod tests;

pub use partition::batches;

use contract_vm::VmKind;
use storage_adapter::{StateView, StorageError};

use super::frame::{fall_back, preamble};
use super::{BlockExecutor, Execution, ExecutionStats, GroupingCounters};
use crate::block::finish_block_on;
use crate::model::Block;
use crate::outcome::{BlockError, BlockOutput};

/// Batches with fewer transactions than this many per thread run inline on the calling
/// thread: handing them to the workers costs more than it saves. (Measured on p2p blocks
/// at 2 threads: with 2 per thread, the batches of 30 to 1000 accounts ran 5 to 15%
/// slower on two threads than on one; with 4, within noise of it.)
const INLINE_PER_THREAD: usize = 4;

/// Settings of the grouping engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupingConfig {
    /// Threads that execute a batch, the calling thread included. 1 runs every batch on
    /// the calling thread.
    pub threads: usize,
}

impl Default for GroupingConfig {
    /// As many threads as the machine runs in parallel.
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

/// The batch grouping [`BlockExecutor`].
#[derive(Clone, Debug, Default)]
pub struct GroupingExecutor {
    config: GroupingConfig,
    vm: VmKind,
}

impl GroupingExecutor {
    /// An engine with these settings, running contract calls on the interpreter.
    pub fn new(config: GroupingConfig) -> Self {
        Self {
            config,
            vm: VmKind::Interpreter,
        }
    }

    /// The same engine running contract calls on a VM of `vm` (same results, another
    /// speed).
    pub fn with_vm(self, vm: VmKind) -> Self {
        Self { vm, ..self }
    }

    /// The engine's settings.
    pub fn config(&self) -> &GroupingConfig {
        &self.config
    }

    /// Executes `block` on `view`; see [`BlockExecutor::execute_block`]. The batches are
    /// in [`ExecutionStats::grouping`].
    pub fn execute<S: StateView + ?Sized>(
        &self,
        block: &Block,
        view: &S,
    ) -> Result<Execution, BlockError> {
        let transactions = block.transactions().len();
        let span = tracing::debug_span!("grouping", topoheight = block.topoheight(), transactions);
        let _entered = span.enter();
        let threads = self.config.threads.max(1);
        match execute_grouped(block, view, threads, self.vm) {
            Ok((output, grouping)) => {
                tracing::debug!(
                    batches = grouping.batches,
                    parallel_batches = grouping.parallel_batches,
                    "block executed"
                );
                let stats = ExecutionStats {
                    grouping: Some(grouping),
                    ..ExecutionStats::sequential(transactions)
                };
                Ok(Execution { output, stats })
            }
            Err(GroupingError::Block(error)) => Err(error),
            Err(GroupingError::Engine(reason)) => {
                let stats = ExecutionStats {
                    grouping: Some(GroupingCounters::default()),
                    ..ExecutionStats::sequential(transactions)
                };
                fall_back(self.name(), &reason, block, view, stats)
            }
        }
    }
}

impl BlockExecutor for GroupingExecutor {
    fn name(&self) -> &'static str {
        "grouping"
    }

    fn execute_block(&self, block: &Block, view: &dyn StateView) -> Result<Execution, BlockError> {
        self.execute(block, view)
    }
}

/// Why the grouped path gave no output.
enum GroupingError {
    /// The block itself is in error: every engine reports the same.
    Block(BlockError),
    /// The engine failed (a panic, a broken invariant): fall back to sequential.
    Engine(String),
}

impl From<BlockError> for GroupingError {
    fn from(error: BlockError) -> Self {
        GroupingError::Block(error)
    }
}

impl From<StorageError> for GroupingError {
    fn from(error: StorageError) -> Self {
        GroupingError::Block(error.into())
    }
}

fn execute_grouped<S: StateView + ?Sized>(
    block: &Block,
    view: &S,
    threads: usize,
    vm: VmKind,
) -> Result<(BlockOutput, GroupingCounters), GroupingError> {
    let prologue = preamble(block, view)?;
    let transactions = block.transactions();
    if transactions.len() >= pool::MAX_TRANSACTIONS {
        return Err(GroupingError::Engine(format!(
            "{} transactions do not fit the claim word",
            transactions.len()
        )));
    }
    let ranges = batches(transactions);
    let inline_below = threads.saturating_mul(INLINE_PER_THREAD);
    let workers = if ranges.iter().any(|range| range.len() >= inline_below) {
        threads - 1
    } else {
        0
    };
    let batched = pool::run_batches(
        transactions,
        view,
        &prologue,
        &ranges,
        workers,
        inline_below,
        vm,
    )?;
    let output = finish_block_on(
        threads,
        block,
        view,
        &prologue,
        batched.writes,
        batched.results,
        batched.totals,
    )?;
    Ok((output, batched.counters))
}
