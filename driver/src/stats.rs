//! What a run did: counters summed over its workers, and where its time went (the
//! workers' busy time against the run's wall time: the parallelism it achieved).

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
    /// Nanoseconds the workers spent on tasks, summed over workers: each worker's time
    /// in its loop less the time it found nothing to do. Timing, not a count: it differs
    /// from run to run.
    pub busy_nanos: u64,
    /// Nanoseconds from the run's start to its last worker's end (set once per run, by
    /// [`run_parallel`](crate::run_parallel); summed over runs by
    /// [`DriverStats::accumulate`]).
    pub wall_nanos: u64,
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
        self.busy_nanos += other.busy_nanos;
        self.wall_nanos += other.wall_nanos;
    }

    /// The parallelism the run achieved: the workers' busy time over its wall time (1.0
    /// is one core's worth of work, the thread count the most there can be); `None`
    /// when no wall time was measured (no parallel run).
    pub fn achieved_parallelism(&self) -> Option<f64> {
        (self.wall_nanos > 0).then(|| self.busy_nanos as f64 / self.wall_nanos as f64)
    }
}

/// Nanoseconds in `duration`, saturating (a `u64` holds 584 years of them).
pub(crate) fn nanos(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn achieved_parallelism_is_busy_over_wall() {
        assert_eq!(DriverStats::default().achieved_parallelism(), None);
        let mut stats = DriverStats {
            busy_nanos: 300,
            wall_nanos: 200,
            ..DriverStats::default()
        };
        assert_eq!(stats.achieved_parallelism(), Some(1.5));
        stats.accumulate(&DriverStats {
            busy_nanos: 100,
            wall_nanos: 200,
            ..DriverStats::default()
        });
        assert_eq!(stats.achieved_parallelism(), Some(1.0));
    }
}
