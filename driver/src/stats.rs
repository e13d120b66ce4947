//! What a run did: counters summed over its workers.

/// Counters of one parallel run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DriverStats {
    /// Executions started, re-executions and executions cut short by a dependency included.
    pub executions: u64,
    /// Read-set validations, commit-time ones included.
    pub validations: u64,
    /// Validations done by the committer because no earlier one was recent enough.
    pub commit_validations: u64,
    /// Incarnations aborted after a failed validation.
    pub aborts: u64,
    /// Executions suspended on a dependency.
    pub dependency_waits: u64,
    /// Executions deferred, before they started, until their
    /// [predecessor](crate::Plan::predecessors) had executed.
    pub hint_waits: u64,
    /// Deltas resolved at commit (one per transaction and key).
    pub delta_writes: u64,
    /// Committed deltas whose key a lower transaction wrote after the delta was recorded:
    /// a read-modify-write there would have been invalidated, so each is an abort the
    /// delta avoided.
    pub delta_saves: u64,
    /// Reads resolved through deltas (summing them) rather than from one version.
    pub delta_reads: u64,
    /// Reads recorded as predicates ("at least").
    pub predicate_reads: u64,
    /// Validations of a predicate read that held although the counter had changed: each
    /// would have failed as an exact read.
    pub predicate_saves: u64,
    /// Transactions executed again without deltas because a delta did not fit at commit.
    pub exact_reexecutions: u64,
    /// Executions suspended until every lower transaction had committed, because they
    /// read a [sink](crate::Plan::sinks).
    pub settle_waits: u64,
    /// [Frontier runs](crate::Plan::frontier_run) made by the commit role.
    pub frontier_runs: u64,
    /// Transactions executed and committed in frontier runs (counted in `executions`
    /// too): final on their first execution, with no read set to validate.
    pub frontier_txns: u64,
}

impl DriverStats {
    /// Adds another worker's counters.
    pub fn accumulate(&mut self, other: &DriverStats) {
        self.executions += other.executions;
        self.validations += other.validations;
        self.commit_validations += other.commit_validations;
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
        self.frontier_runs += other.frontier_runs;
        self.frontier_txns += other.frontier_txns;
    }
}
