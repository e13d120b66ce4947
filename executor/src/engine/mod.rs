//! Block execution engines, all behind one trait so that the binary, the daemon slot,
//! the benches and the parity tests can swap them.
//!
//! Every engine must return exactly the [`BlockOutput`] of [`sequential::execute_sequential`]
//! for every block and starting state; only [`ExecutionStats`] may differ.

use storage_adapter::StateView;

use crate::model::Block;
use crate::outcome::{BlockError, BlockOutput};

pub mod blockstm;
pub mod grouping;
pub mod sequential;

/// Executes whole blocks against a snapshot of state.
pub trait BlockExecutor: Send + Sync {
    /// A short, stable name for logs and reports (`sequential`, `block-stm`, …).
    fn name(&self) -> &'static str;

    /// Validates and executes `block` on `view`, returning the sealed output (nothing is
    /// committed: the caller applies `output.commit` to its store).
    fn execute_block(&self, block: &Block, view: &dyn StateView) -> Result<Execution, BlockError>;
}

/// An engine's result: the output every engine agrees on, and how it got there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// The block's output; identical across engines.
    pub output: BlockOutput,
    /// Engine-specific counters.
    pub stats: ExecutionStats,
}

/// What an engine did to produce a block's output.
///
/// For the sequential engine `executions == transactions` and the rest are 0.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExecutionStats {
    /// Transactions in the block.
    pub transactions: u64,
    /// VM executions (incarnations), re-executions included.
    pub executions: u64,
    /// Read-set validations.
    pub validations: u64,
    /// Incarnations aborted by a failed validation.
    pub aborts: u64,
    /// Times a transaction waited on an unfinished dependency.
    pub dependency_waits: u64,
    /// Times Block-STM held a transaction back, before it started, until the same
    /// sender's previous transaction had executed (its nonce hint): each is an execution
    /// that would most likely have been aborted.
    pub hint_waits: u64,
    /// Block-STM: deltas committed (one per transaction and hot balance it changed).
    pub delta_writes: u64,
    /// Block-STM: committed deltas whose balance a lower transaction changed after the
    /// delta was recorded. A read-modify-write there would have been invalidated: each is
    /// an abort that deltas avoided.
    pub delta_saves: u64,
    /// Block-STM: reads resolved by summing deltas.
    pub delta_reads: u64,
    /// Block-STM: debits checked as "balance ≥ spend" predicates.
    pub predicate_reads: u64,
    /// Block-STM: validations in which a predicate held although the balance had changed
    /// since it was read: each would have failed, and aborted, as an exact read.
    pub predicate_saves: u64,
    /// Block-STM: transactions run again without deltas because a delta's total did not
    /// fit a `u64` at commit (they then fail with a credit overflow, as in the oracle).
    pub exact_reexecutions: u64,
    /// Block-STM: executions suspended until every lower transaction had committed,
    /// because they read a hot balance settled at commit (see
    /// [`blockstm::SinkPolicy`]).
    pub settle_waits: u64,
    /// Times the engine fell back to sequential execution after its parallel path failed.
    pub fallbacks: u64,
    /// Blocks a parallel engine ran on its sequential path by choice (one thread, a small
    /// block, or, for Block-STM, a block too contended to gain from speculation), or, for
    /// Block-STM, to decide a block on which an incarnation returned an error (storage,
    /// corrupt state) that the block order might never meet.
    pub sequential_blocks: u64,
}

/// The parallel run's counters, as a Block-STM block reports them (the block's size, and
/// the counters only engines know, are left at 0 for the engine to set).
impl From<&blockstm_driver::DriverStats> for ExecutionStats {
    fn from(driver: &blockstm_driver::DriverStats) -> Self {
        Self {
            executions: driver.executions,
            validations: driver.validations,
            aborts: driver.aborts,
            dependency_waits: driver.dependency_waits,
            hint_waits: driver.hint_waits,
            delta_writes: driver.delta_writes,
            delta_saves: driver.delta_saves,
            delta_reads: driver.delta_reads,
            predicate_reads: driver.predicate_reads,
            predicate_saves: driver.predicate_saves,
            exact_reexecutions: driver.exact_reexecutions,
            settle_waits: driver.settle_waits,
            ..Self::default()
        }
    }
}

impl ExecutionStats {
    /// The counters of a block of `transactions` run once each on the sequential path.
    pub fn sequential(transactions: usize) -> Self {
        Self {
            transactions: transactions as u64,
            executions: transactions as u64,
            ..Self::default()
        }
    }

    /// Adds another block's counters (for totals over a run).
    pub fn accumulate(&mut self, other: &ExecutionStats) {
        self.transactions += other.transactions;
        self.executions += other.executions;
        self.validations += other.validations;
        self.aborts += other.aborts;
        self.dependency_waits += other.dependency_waits;
        self.hint_waits += other.hint_waits;
        self.delta_writes += other.delta_writes;
        self.delta_saves += other.delta_saves;
        self.delta_reads += other.delta_reads;
        self.predicate_reads += other.predicate_reads;
        self.predicate_saves += other.predicate_saves;
        self.exact_reexecutions += other.exact_reexecutions;
        self.settle_waits += other.settle_waits;
        self.fallbacks += other.fallbacks;
        self.sequential_blocks += other.sequential_blocks;
    }
}
