//! What an engine reports beside a block's output: the counters every engine has, and the
//! counters only one engine can fill, each in a part of its own.
//!
//! Every engine fills [`ExecutionStats`]'s common counters. Block-STM adds
//! [`BlockStmCounters`], batch grouping [`GroupingCounters`]; an engine's part is present
//! whenever that engine ran the block, its sequential path included (then at zero), so
//! the part also says which engine the counters came from. Totals over a run are summed
//! with [`ExecutionStats::accumulate`].

/// What an engine did to produce a block's output.
///
/// The sequential oracle reports `executions == transactions`, nothing else.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExecutionStats {
    /// Transactions in the block.
    pub transactions: u64,
    /// VM executions (incarnations), re-executions included.
    pub executions: u64,
    /// Times the engine fell back to sequential execution after its parallel path failed
    /// (a panic, a broken invariant). The only place a fallback is counted: the daemon
    /// slot sums these into its metric.
    pub fallbacks: u64,
    /// Blocks a parallel engine ran on its sequential path by choice (one thread, a small
    /// block, or, for Block-STM, a block too contended to gain from speculation), or, for
    /// Block-STM, to decide a block on which an incarnation returned an error (storage,
    /// corrupt state) that the block order might never meet.
    pub sequential_blocks: u64,
    /// Block-STM's own counters (absent for the other engines). Flattened in JSON, so a
    /// Block-STM report keeps its counters beside the common ones.
    #[serde(flatten)]
    pub block_stm: Option<BlockStmCounters>,
    /// Batch grouping's own counters (absent for the other engines); flattened in JSON.
    #[serde(flatten)]
    pub grouping: Option<GroupingCounters>,
}

impl ExecutionStats {
    /// The counters of a block of `transactions` run once each on the sequential path, by
    /// no engine in particular (add an engine's part for its sequential path).
    pub fn sequential(transactions: usize) -> Self {
        Self {
            transactions: transactions as u64,
            executions: transactions as u64,
            ..Self::default()
        }
    }

    /// Adds another block's counters (for totals over a run); an engine's part is summed
    /// where either side has one.
    pub fn accumulate(&mut self, other: &ExecutionStats) {
        self.transactions += other.transactions;
        self.executions += other.executions;
        self.fallbacks += other.fallbacks;
        self.sequential_blocks += other.sequential_blocks;
        if let Some(other) = &other.block_stm {
            self.block_stm
                .get_or_insert_with(BlockStmCounters::default)
                .accumulate(other);
        }
        if let Some(other) = &other.grouping {
            self.grouping
                .get_or_insert_with(GroupingCounters::default)
                .accumulate(other);
        }
    }
}

/// What only Block-STM counts: its validations, aborts and waits, and what its deltas,
/// predicates and balances settled at commit did. These are exactly the driver's
/// counters, one type for both (serialized through the driver's `serde` feature).
pub use blockstm_driver::DriverStats as BlockStmCounters;

/// What only batch grouping counts: the batches it split the block into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GroupingCounters {
    /// Batches the block was split into (0 for an empty block, and for a block that fell
    /// back to sequential execution).
    pub batches: u64,
    /// Of those, the batches large enough to be handed to the worker threads; the others
    /// ran inline on the calling thread.
    pub parallel_batches: u64,
}

impl GroupingCounters {
    /// Adds another block's counters.
    pub fn accumulate(&mut self, other: &GroupingCounters) {
        self.batches += other.batches;
        self.parallel_batches += other.parallel_batches;
    }
}
