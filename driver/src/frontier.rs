//! Frontier runs: the commit role executes the transactions at the commit frontier
//! itself, on final state, and commits them at once (see [`Plan::frontier_run`]).
//!
//! Block-STM's bookkeeping (a versioned entry per write, a read set per execution, its
//! validation, a status change per step) is the price of running ahead of lower
//! transactions. A transaction that starts when every lower one has committed does not
//! run ahead of anything: it reads final values, so it needs no read set and no
//! validation, and it can commit the moment it finishes. The worker holding the commit
//! role, finding the next transaction to commit not started, runs it and the ones after
//! it that are still waiting, keeps their writes in an overlay of its own (one hash map,
//! as sequential execution does), then publishes each key's last value once and commits
//! the run. On one worker every transaction goes this way; with more, the others run
//! speculatively above the run as before, and the run's commit makes those that read
//! around its writes validate again (the scheduler's `frontier` module argues why that
//! suffices).
//!
//! [`Plan::frontier_run`]: crate::Plan::frontier_run

use mvmemory::{Counter, Version, Write};
use scheduler::{Committer, FrontierRun};
use smallvec::SmallVec;

use crate::commit::SinkSlot;
use crate::error::DriverError;
use crate::run::{BlockRun, LastRun};
use crate::stats::DriverStats;
use crate::sync::lock;
use crate::task::{CommitSink, ExecuteError, ExecutionWrites, ParallelTask};
use crate::view::{read_below_run, Overlay, SpeculativeRead, SpeculativeReads};
use crate::{Incarnation, TxnIndex};

/// What becomes of one transaction's writes in the overlay.
enum Fold {
    /// Folded in.
    Done,
    /// A delta the run cannot apply exactly here (no counter, out of range, a base it
    /// cannot read on final state): the ordinary path must take the transaction.
    HandBack,
}

impl<T, S> BlockRun<'_, T, S>
where
    T: ParallelTask,
    S: CommitSink<T::Output, T::Error>,
{
    /// Runs transactions at the frontier and commits them, under the commit role.
    /// `None`: no run could start (the next transaction is not waiting to execute) or the
    /// block failed; `Some(committed_any)` otherwise.
    pub(crate) fn frontier_run(
        &self,
        committer: &mut Committer<'_>,
        sink: &mut SinkSlot<S>,
        stats: &mut DriverStats,
    ) -> Option<bool> {
        let (mut run, mut incarnation) = committer.begin_run(self.plan.frontier_run)?;
        stats.frontier_runs += 1;
        let start = run.start();
        // Sized, as the sequential oracle's, for about two new keys per transaction, so
        // that a long run (one worker's whole block) never rehashes its overlay.
        let mut overlay =
            Overlay::with_capacity_and_hasher(run.max_len().saturating_mul(2), Default::default());
        let mut outputs: Vec<(Incarnation, T::Output)> = Vec::with_capacity(run.max_len());
        let mut txn_idx = start;
        loop {
            stats.executions += 1;
            if incarnation > 0 {
                // An earlier incarnation ran speculatively and left entries behind.
                self.memory.discard(txn_idx);
            }
            let mut reads =
                SpeculativeReads::at_frontier(&self.memory, self.task, txn_idx, start, &overlay);
            let result = self.task.execute(txn_idx, &mut reads);
            drop(reads);
            let folded = match result {
                Ok((output, writes)) => {
                    let version = Version::new(txn_idx, incarnation);
                    match self.fold(&mut overlay, version, start, writes) {
                        Ok(Fold::Done) => {
                            outputs.push((incarnation, output));
                            true
                        }
                        Ok(Fold::HandBack) => false,
                        Err(error) => {
                            self.fail(error);
                            return None;
                        }
                    }
                }
                Err(ExecuteError::Blocked(_)) => false,
                Err(ExecuteError::Failed(error)) => {
                    self.fail(DriverError::Execution { txn_idx, error });
                    return None;
                }
            };
            if !folded {
                committer.hand_back(&mut run);
                break;
            }
            if self.scheduler.is_halted() {
                return None;
            }
            match committer.start_at_frontier(&mut run) {
                Some((next, next_incarnation)) => {
                    txn_idx = next;
                    incarnation = next_incarnation;
                }
                None => break,
            }
        }
        self.commit_frontier_run(committer, run, overlay, outputs, sink, stats)
    }

    /// Publishes the run's writes, commits it, and hands its outputs to the sink.
    fn commit_frontier_run(
        &self,
        committer: &mut Committer<'_>,
        run: FrontierRun,
        overlay: Overlay<T::Key, T::Value>,
        outputs: Vec<(Incarnation, T::Output)>,
        sink: &mut SinkSlot<S>,
        stats: &mut DriverStats,
    ) -> Option<bool> {
        let (start, end) = (run.start(), run.end());
        debug_assert_eq!(
            outputs.len(),
            run.len(),
            "invariant: one output per started transaction"
        );
        // The block's last run: nobody reads above it, so its writes and outputs go
        // straight to the block's result (see `finish`) instead of through the memory and
        // the output slots.
        let last_writes = if end as usize == self.outputs.len() {
            Some(overlay)
        } else {
            // (Planted bug, loom models: commit the run without publishing its writes, so
            // that higher transactions never see them.)
            if !blockstm_sync::planted!("frontier_run_unpublished") {
                self.memory.publish(
                    overlay
                        .into_iter()
                        .map(|(key, (version, value))| (key, version, value)),
                );
            }
            None
        };
        // After the writes are in memory: the commit takes the epoch that makes
        // speculative readers above validate again.
        committer.commit_run(run);
        if end == start {
            return Some(false);
        }
        self.memory.settle_through(end);
        self.wake_settled();
        stats.frontier_txns += u64::from(end - start);
        for ((_, output), txn_idx) in outputs.iter().zip(start..) {
            if let Err(error) = sink.commit(txn_idx, output) {
                self.fail(error);
                return None;
            }
        }
        match last_writes {
            Some(writes) => {
                *lock(&self.last_run) = Some(LastRun {
                    start,
                    writes,
                    outputs,
                });
            }
            None => {
                for ((incarnation, output), txn_idx) in outputs.into_iter().zip(start..) {
                    *lock(&self.outputs[txn_idx as usize]) = Some((incarnation, output));
                }
            }
        }
        Some(true)
    }

    /// Folds one transaction's writes into the run's overlay, all or none: values as they
    /// are, deltas added to the exact value below them (the run reads only final state,
    /// so the sum is exact too).
    ///
    /// A set that knows it holds values only ([`ExecutionWrites::into_values`]; every TOS
    /// execution at the frontier) goes in as it is: nothing can fail. Otherwise each
    /// write goes in as it comes, rather than through a buffer of the whole set first,
    /// and what it replaced is kept aside, so that a delta that cannot be applied puts
    /// the overlay back as it was before this transaction. (On one worker on 100
    /// accounts, the buffer and the conversion of every write into a [`Write`] cost a
    /// tenth of the block, measured with callgrind.)
    fn fold(
        &self,
        overlay: &mut Overlay<T::Key, T::Value>,
        version: Version,
        start: TxnIndex,
        writes: T::Writes,
    ) -> Result<Fold, DriverError<T::Error>> {
        type Replaced<K, V> = SmallVec<[(K, Option<(Version, V)>); 4]>;
        fn undo<K: Eq + std::hash::Hash, V>(overlay: &mut Overlay<K, V>, replaced: Replaced<K, V>) {
            // Keys of one execution are distinct, so the order of restoring is free.
            for (key, previous) in replaced {
                match previous {
                    Some(entry) => overlay.insert(key, entry),
                    None => overlay.remove(&key),
                };
            }
        }
        let writes = match writes.into_values() {
            Ok(values) => {
                // Nothing to check: the values go in as they are.
                for (key, value) in values {
                    overlay.insert(key, (version, value));
                }
                return Ok(Fold::Done);
            }
            Err(writes) => writes,
        };
        let mut replaced: Replaced<T::Key, T::Value> = SmallVec::new();
        for (key, write) in writes {
            let value = match write {
                Write::Value(value) => value,
                Write::Delta(delta) => {
                    let below = match overlay.get(&key) {
                        Some((_, value)) => Ok(Some(value.count())),
                        None => self.final_count(&key, start),
                    };
                    let total = match below {
                        Ok(Some(below)) => {
                            below.and_then(|below| u64::try_from(i128::from(below) + delta).ok())
                        }
                        // A blocker below the run, which the run does not decide.
                        Ok(None) => None,
                        Err(error) => {
                            undo(overlay, replaced);
                            return Err(DriverError::Execution {
                                txn_idx: version.txn_idx,
                                error,
                            });
                        }
                    };
                    match total {
                        Some(total) => T::Value::from_count(total),
                        None => {
                            undo(overlay, replaced);
                            return Ok(Fold::HandBack);
                        }
                    }
                }
            };
            let previous = overlay.insert(key.clone(), (version, value));
            replaced.push((key, previous));
        }
        Ok(Fold::Done)
    }

    /// The counter at `key` below the run, on final state (`Some(None)`: no counter
    /// there); `None` when the memory reports a blocker, which the run does not decide.
    fn final_count(&self, key: &T::Key, start: TxnIndex) -> Result<Option<Option<u64>>, T::Error> {
        Ok(match read_below_run(&self.memory, self.task, key, start)? {
            SpeculativeRead::Value(value) => Some(value.count()),
            SpeculativeRead::NotFound => Some(Some(self.task.counter_base(key)?)),
            SpeculativeRead::Blocked(_) => None,
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::{ExecuteResult, Plan, SpeculativeReads};

    /// Counters beneath the block: key `k` holds `k`, or, with `broken_base`, no counter
    /// can be read there. Execution is never asked for; the tests fold writes by hand.
    struct Counters {
        broken_base: bool,
    }

    impl ParallelTask for Counters {
        type Key = u64;
        type Value = u64;
        type Output = ();
        type Error = String;
        type Writes = Vec<(u64, Write<u64>)>;

        fn execute(&self, _: TxnIndex, _: &mut SpeculativeReads<'_, Self>) -> ExecuteResult<Self> {
            Err(ExecuteError::Failed("not executed in these tests".into()))
        }

        fn counter_base(&self, key: &u64) -> Result<u64, String> {
            if self.broken_base {
                return Err(format!("no base at {key}"));
            }
            Ok(*key)
        }
    }

    const COUNTERS: Counters = Counters { broken_base: false };

    struct NoSink;

    impl CommitSink<(), String> for NoSink {
        fn commit(&mut self, _: TxnIndex, _: &()) -> Result<(), String> {
            Ok(())
        }
    }

    fn overlay_of(entries: &[(u64, u64)]) -> Overlay<u64, u64> {
        entries
            .iter()
            .map(|&(key, value)| (key, (Version::new(0, 0), value)))
            .collect()
    }

    fn sorted(overlay: &Overlay<u64, u64>) -> Vec<(u64, Version, u64)> {
        let mut entries: Vec<_> = overlay
            .iter()
            .map(|(key, (version, value))| (*key, *version, *value))
            .collect();
        entries.sort_by_key(|(key, ..)| *key);
        entries
    }

    /// A delta that cannot be applied after values of the same transaction went in puts
    /// the overlay back as it was: replaced values return, new keys disappear.
    #[test]
    fn a_delta_that_does_not_fit_undoes_the_values_before_it() {
        let run = BlockRun::new(&COUNTERS, 4, Plan::default(), NoSink);
        let mut overlay = overlay_of(&[(1, 10), (2, 20)]);
        let before = sorted(&overlay);
        let writes = vec![
            (1, Write::Value(11)),
            (7, Write::Value(70)),
            (2, Write::Delta(5)),
            // Key 3 holds 3 beneath the block: 3 − 4 leaves u64.
            (3, Write::Delta(-4)),
        ];
        let fold = run.fold(&mut overlay, Version::new(2, 0), 0, writes);
        assert!(matches!(fold, Ok(Fold::HandBack)));
        assert_eq!(sorted(&overlay), before);
    }

    /// Values and deltas that fit all go in: deltas on the overlay's value where it has
    /// one, on the base beneath the block otherwise.
    #[test]
    fn values_and_deltas_that_fit_all_go_in() {
        let run = BlockRun::new(&COUNTERS, 4, Plan::default(), NoSink);
        let mut overlay = overlay_of(&[(1, 10), (2, 20)]);
        let version = Version::new(2, 1);
        let writes = vec![
            (1, Write::Value(11)),
            (2, Write::Delta(-5)),
            (3, Write::Delta(4)),
        ];
        let fold = run.fold(&mut overlay, version, 0, writes);
        assert!(matches!(fold, Ok(Fold::Done)));
        assert_eq!(
            sorted(&overlay),
            [(1, version, 11), (2, version, 15), (3, version, 7)]
        );
    }

    /// A set of values only takes the direct way in (`ExecutionWrites::into_values`) and
    /// replaces what the overlay held.
    #[test]
    fn values_only_replace_what_was_there() {
        let run = BlockRun::new(&COUNTERS, 4, Plan::default(), NoSink);
        let mut overlay = overlay_of(&[(1, 10)]);
        let version = Version::new(1, 0);
        let writes = vec![(1, Write::Value(0)), (5, Write::Value(50))];
        let fold = run.fold(&mut overlay, version, 0, writes);
        assert!(matches!(fold, Ok(Fold::Done)));
        assert_eq!(sorted(&overlay), [(1, version, 0), (5, version, 50)]);
    }

    /// An error reading a delta's base ends the fold with the error, and leaves the
    /// overlay as it was.
    #[test]
    fn an_error_under_a_delta_leaves_the_overlay_as_it_was() {
        let broken = Counters { broken_base: true };
        let run = BlockRun::new(&broken, 4, Plan::default(), NoSink);
        let mut overlay = overlay_of(&[(1, 10)]);
        let before = sorted(&overlay);
        let writes = vec![(1, Write::Value(0)), (9, Write::Delta(1))];
        match run.fold(&mut overlay, Version::new(3, 0), 0, writes) {
            Err(DriverError::Execution { txn_idx: 3, error }) => assert_eq!(error, "no base at 9"),
            _ => panic!("the base's error ends the fold"),
        }
        assert_eq!(sorted(&overlay), before);
    }
}
