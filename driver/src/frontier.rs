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
use crate::run::BlockRun;
use crate::stats::DriverStats;
use crate::sync::lock;
use crate::task::{CommitSink, ExecuteError, ParallelTask};
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
        let mut overlay = Overlay::default();
        let mut outputs: Vec<(Incarnation, T::Output)> = Vec::new();
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
        if end as usize == self.outputs.len() {
            // The block's last run: nobody reads above it, so its writes go straight to
            // the block's final state (see `finish`) instead of through the memory.
            *lock(&self.last_run_writes) = Some(overlay);
        } else if !blockstm_sync::planted!("frontier_run_unpublished") {
            // (Planted bug, loom models: commit the run without publishing its writes, so
            // that higher transactions never see them.)
            self.memory.publish(
                overlay
                    .into_iter()
                    .map(|(key, (version, value))| (key, version, value)),
            );
        }
        // After the writes are in memory: the commit takes the epoch that makes
        // speculative readers above validate again.
        committer.commit_run(run);
        if end == start {
            return Some(false);
        }
        self.memory.settle_through(end);
        self.wake_settled();
        stats.frontier_txns += u64::from(end - start);
        for ((incarnation, output), txn_idx) in outputs.into_iter().zip(start..) {
            if let Err(error) = sink.commit(txn_idx, &output) {
                self.fail(error);
                return None;
            }
            *lock(&self.outputs[txn_idx as usize]) = Some((incarnation, output));
        }
        Some(true)
    }

    /// Folds one transaction's writes into the run's overlay, all or none: values as they
    /// are, deltas added to the exact value below them (the run reads only final state,
    /// so the sum is exact too).
    fn fold(
        &self,
        overlay: &mut Overlay<T::Key, T::Value>,
        version: Version,
        start: TxnIndex,
        writes: T::Writes,
    ) -> Result<Fold, DriverError<T::Error>> {
        let mut folded: SmallVec<[(T::Key, T::Value); 4]> = SmallVec::new();
        for (key, write) in writes {
            let value = match write {
                Write::Value(value) => value,
                Write::Delta(delta) => {
                    let below = match overlay.get(&key) {
                        Some((_, value)) => value.count(),
                        None => match self.final_count(&key, start) {
                            Ok(Some(count)) => count,
                            Ok(None) => return Ok(Fold::HandBack),
                            Err(error) => {
                                return Err(DriverError::Execution {
                                    txn_idx: version.txn_idx,
                                    error,
                                })
                            }
                        },
                    };
                    let total =
                        below.and_then(|below| u64::try_from(i128::from(below) + delta).ok());
                    match total {
                        Some(total) => T::Value::from_count(total),
                        None => return Ok(Fold::HandBack),
                    }
                }
            };
            folded.push((key, value));
        }
        for (key, value) in folded {
            overlay.insert(key, (version, value));
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
