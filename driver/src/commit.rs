//! The rolling commit: whichever worker holds the commit role commits every transaction
//! that is ready, in block order, validating it on the spot when no earlier validation
//! is recent enough, resolving its deltas, settling its sinks and handing its output to
//! the commit sink. When the next transaction to commit has not started, the same worker
//! runs it, and those after it, at the frontier (the `frontier` module).

use mvmemory::DeltaCommit;
use scheduler::Task;

use crate::error::{DriverError, Invariant};
use crate::run::BlockRun;
use crate::stats::DriverStats;
use crate::sync::{lock, Ordering};
use crate::task::{CommitSink, ParallelTask};
use crate::TxnIndex;

/// The commit sink, and whether it may still receive outputs.
///
/// Closed for good the moment a commit fails (or panics): the run then halts, but a
/// worker that was already past its `done` check may still take the commit role after
/// the failing committer released it, and it must find nothing to hand over. The flag
/// lives under the sink's own lock, so every later committer sees it, whatever it saw
/// of the halt.
pub(crate) struct SinkSlot<S> {
    sink: S,
    open: bool,
}

impl<S> SinkSlot<S> {
    pub(crate) fn new(sink: S) -> Self {
        Self { sink, open: true }
    }

    pub(crate) fn into_sink(self) -> S {
        self.sink
    }

    /// Hands `output` to the sink. The slot is closed while the sink works and opened
    /// again only when it returns `Ok`, so an error or a panic inside it closes it.
    pub(crate) fn commit<O, E>(
        &mut self,
        txn_idx: TxnIndex,
        output: &O,
    ) -> Result<(), DriverError<E>>
    where
        S: CommitSink<O, E>,
    {
        self.open = false;
        self.sink
            .commit(txn_idx, output)
            .map_err(|error| DriverError::Sink { txn_idx, error })?;
        self.open = true;
        Ok(())
    }
}

/// A committing transaction's deltas, resolved: how many it wrote, and how many of them
/// a later write of a lower transaction went under.
struct ResolvedDeltas {
    deltas: u32,
    saves: u32,
}

impl<T, S> BlockRun<'_, T, S>
where
    T: ParallelTask,
    S: CommitSink<T::Output, T::Error>,
{
    /// Resolves the deltas of a committing transaction, or `None` if one does not fit.
    fn resolve_deltas(
        &self,
        txn_idx: TxnIndex,
    ) -> Result<Option<ResolvedDeltas>, DriverError<T::Error>> {
        loop {
            match self.memory.commit_deltas(txn_idx) {
                DeltaCommit::Resolved { deltas, saves } => {
                    return Ok(Some(ResolvedDeltas { deltas, saves }))
                }
                DeltaCommit::OutOfRange { .. } => return Ok(None),
                DeltaCommit::NeedsBase { key } => {
                    let base = self
                        .task
                        .counter_base(&key)
                        .map_err(|error| DriverError::Execution { txn_idx, error })?;
                    self.memory.provide_base(&key, base);
                }
                DeltaCommit::Unfinished { txn_idx: lower } => {
                    return Err(Invariant::CommitAboveUnfinished { txn_idx, lower }.into())
                }
            }
        }
    }

    /// Commits every transaction that is ready, in order, if no other worker is doing so.
    /// Returns a re-execution task when a commit-time validation aborts a transaction.
    pub(crate) fn commit_ready(&self, stats: &mut DriverStats) -> Option<Task> {
        let mut committer = self.scheduler.try_commit()?;
        let mut sink = lock(&self.sink);
        let mut runs_left = self.plan.frontier_run > 0;
        // Planted bug (loom models): commit on after the run halted and the sink failed,
        // as a worker that was past its `done` check did before the sink could close.
        let ignore_halt = blockstm_sync::planted!("commit_after_sink_failure");
        while ignore_halt || (!self.scheduler.is_halted() && sink.open) {
            let Some(candidate) = committer.next_candidate() else {
                // Nothing executed to commit: run what comes next at the frontier. A run
                // that commits nothing (its first transaction had to wait) is the last:
                // the ordinary path takes that transaction.
                if runs_left {
                    runs_left = self.frontier_run(&mut committer, &mut sink, stats)?;
                    continue;
                }
                break;
            };
            if candidate.needs_validation {
                stats.validations += 1;
                stats.commit_validations += 1;
                // Every lower transaction is committed, so this validation is definitive.
                let validation = self.memory.validate(candidate.txn_idx);
                stats.predicate_saves += u64::from(validation.predicate_saves);
                if !validation.valid {
                    if committer.try_abort(candidate) {
                        stats.aborts += 1;
                        self.memory.convert_writes_to_estimates(candidate.txn_idx);
                        drop(sink);
                        return committer.finish_abort(candidate);
                    }
                    // Another validator aborted it first; it is no longer a candidate.
                    continue;
                }
            }
            // Every lower transaction is committed, so the totals under this one's deltas
            // are final: resolve them, in block order, and check that they fit.
            let resolved = match self.resolve_deltas(candidate.txn_idx) {
                Ok(Some(resolved)) => resolved,
                Ok(None) => {
                    // A delta does not fit: run the transaction again on exact values,
                    // so that it fails the way sequential execution fails it.
                    self.exact[candidate.txn_idx as usize].store(true, Ordering::Relaxed);
                    if committer.try_abort(candidate) {
                        stats.aborts += 1;
                        stats.exact_reexecutions += 1;
                        self.memory.convert_writes_to_estimates(candidate.txn_idx);
                        drop(sink);
                        return committer.finish_abort(candidate);
                    }
                    continue;
                }
                Err(error) => {
                    self.fail(error);
                    return None;
                }
            };
            if !committer.commit(candidate) {
                continue;
            }
            // Final: apply its sink writes, and wake whoever waited for them.
            self.memory.settle(candidate.txn_idx);
            self.wake_settled();
            stats.delta_writes += u64::from(resolved.deltas);
            stats.delta_saves += u64::from(resolved.saves);
            let slot = lock(&self.outputs[candidate.txn_idx as usize]);
            let result = match &*slot {
                // Planted bug (loom models): the output was folded when it was produced.
                Some(_) if blockstm_sync::planted!("fold_at_execution") => Ok(()),
                Some((incarnation, output)) if *incarnation == candidate.incarnation => {
                    sink.commit(candidate.txn_idx, output)
                }
                _ => Err(Invariant::MissingOutput {
                    txn_idx: candidate.txn_idx,
                    incarnation: candidate.incarnation,
                }
                .into()),
            };
            drop(slot);
            if let Err(error) = result {
                self.fail(error);
                return None;
            }
        }
        None
    }
}
