//! How a block's run is scheduled, apart from what its transactions do.
//!
//! Everything here changes how much work the run does, never its output: a wrong hint,
//! any claim size and any choice of sinks give the same result as the defaults.

use crate::TxnIndex;

/// The schedule of one run: hints, execution claims, sinks and frontier runs.
///
/// ```
/// use blockstm_driver::Plan;
///
/// // Transaction 2 almost surely reads what transaction 0 writes; workers claim four
/// // transactions at a time; key "fees" is credited by everyone and read by no one.
/// let plan = Plan {
///     predecessors: vec![None, None, Some(0)],
///     claim_size: 4,
///     sinks: vec!["fees"],
///     // The commit role runs up to 64 transactions at a time at the frontier.
///     frontier_run: 64,
/// };
/// assert_eq!(plan.predecessor(2), Some(0));
/// assert_eq!(plan.predecessor(7), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan<K> {
    /// Scheduling hints: `predecessors[i]` is a lower transaction that transaction `i`
    /// almost surely depends on (in TOS, the same sender's previous transaction, whose
    /// nonce it needs). Before executing `i`, the driver makes it wait until that one has
    /// executed, instead of running it speculatively against a state about to change.
    /// Missing entries (a shorter list) mean no hint; a hint not lower than its
    /// transaction is ignored.
    pub predecessors: Vec<Option<TxnIndex>>,
    /// How many consecutive transactions a worker claims for execution at once (see
    /// [`scheduler::ExecutionClaim`]); 1 is the paper's scheduler. Larger claims keep
    /// neighbouring transactions, and the memory entries one writes and the next reads,
    /// on one core; on a contended block they also make more transactions run against
    /// values that a lower claim is about to change. Any value is accepted: it is
    /// clamped to `1..=num_txns`.
    pub claim_size: usize,
    /// Keys settled at commit instead of versioned (see [`mvmemory`]'s sinks). Writes
    /// there (deltas or values) are applied in block order as their writers commit, so a
    /// key that every transaction credits costs no shared entry per credit; a read there
    /// waits until every lower transaction has committed. For keys the block writes
    /// often and reads seldom: a balance it only credits.
    pub sinks: Vec<K>,
    /// Frontier runs: the most transactions the worker holding the commit role executes
    /// in one go at the commit frontier (0: none). When the next transaction to commit
    /// has not started, every lower one is final, so that worker runs it, and the ones
    /// after it, on final state: no read sets, no validation, one memory entry per key
    /// the run writes rather than per write, and the run commits at once. A single
    /// worker then does little more than sequential execution would. With several
    /// workers, the others run speculatively above the run, and those that read around
    /// its writes are validated again when it commits; so a long run costs them more
    /// re-executions on a contended block. Any value is accepted (clamped to the block).
    pub frontier_run: usize,
}

impl<K> Default for Plan<K> {
    /// The paper's schedule: no hints, one transaction per claim, no sinks, no frontier
    /// runs.
    fn default() -> Self {
        Self {
            predecessors: Vec::new(),
            claim_size: 1,
            sinks: Vec::new(),
            frontier_run: 0,
        }
    }
}

impl<K> Plan<K> {
    /// The hinted predecessor of `txn_idx`, if it has one lower than itself.
    pub fn predecessor(&self, txn_idx: TxnIndex) -> Option<TxnIndex> {
        self.predecessors
            .get(txn_idx as usize)
            .copied()
            .flatten()
            .filter(|&predecessor| predecessor < txn_idx)
    }
}
