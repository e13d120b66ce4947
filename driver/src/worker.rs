//! One worker's loop: take a task from the scheduler, execute or validate, then try the
//! commit role; until the block is done or halted.

use mvmemory::{ReadDescriptor, Version};
use scheduler::{ExecutionClaim, Task};

use crate::error::DriverError;
use crate::run::BlockRun;
use crate::stats::{nanos, DriverStats};
use crate::sync::{self, lock, Ordering};
use crate::task::{CommitSink, ExecuteError, ParallelTask};
use crate::view::{Blocker, SpeculativeReads};
use crate::{Incarnation, TxnIndex};

impl<T, S> BlockRun<'_, T, S>
where
    T: ParallelTask,
    S: CommitSink<T::Output, T::Error>,
{
    /// One worker's loop: runs tasks and commits until the block is done or halted.
    /// A panic in a task (or in the sink) halts the run, reported by
    /// [`BlockRun::finish`], instead of leaving the other workers waiting for a
    /// transaction that will never finish.
    pub fn work(&self) -> DriverStats {
        let mut stats = DriverStats::default();
        #[cfg(loom)]
        self.work_loop(&mut stats);
        #[cfg(not(loom))]
        if let Err(payload) =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.work_loop(&mut stats)))
        {
            self.fail(DriverError::Panicked(panic_message(&*payload)));
        }
        stats
    }

    fn work_loop(&self, stats: &mut DriverStats) {
        // Busy time is the loop's time less its idle spells, so the clock is read twice
        // per idle spell (when one starts and when it ends), never per task or read.
        let started = std::time::Instant::now();
        let mut idle = std::time::Duration::ZERO;
        let mut idle_since: Option<std::time::Instant> = None;
        let mut read_buffer = Vec::new();
        let mut claim = ExecutionClaim::default();
        let mut pending: Option<Task> = None;
        let mut idle_rounds = 0u32;
        while !self.scheduler.done() {
            // Committing comes first: it frees the frontier, and when the next
            // transaction to commit has not started, the committer runs it there itself
            // (see `frontier`), which is cheaper than any speculative execution.
            let task = match pending.take() {
                Some(task) => Some(task),
                None => self
                    .commit_ready(stats)
                    .or_else(|| self.scheduler.next_task_claiming(&mut claim)),
            };
            pending = match task {
                Some(Task::Execute {
                    txn_idx,
                    incarnation,
                }) => self.execute(txn_idx, incarnation, &mut read_buffer, stats),
                Some(Task::Validate {
                    txn_idx,
                    incarnation,
                }) => self.validate(txn_idx, incarnation, stats),
                None => None,
            };
            if task.is_none() {
                // Nothing to do until another worker finishes something.
                if idle_rounds == 0 {
                    idle_since = Some(std::time::Instant::now());
                }
                idle_rounds += 1;
                sync::idle(idle_rounds);
            } else {
                if let Some(since) = idle_since.take() {
                    idle += since.elapsed();
                }
                idle_rounds = 0;
            }
        }
        if let Some(since) = idle_since {
            idle += since.elapsed();
        }
        stats.busy_nanos = nanos(started.elapsed().saturating_sub(idle));
    }

    fn execute(
        &self,
        txn_idx: TxnIndex,
        incarnation: Incarnation,
        read_buffer: &mut Vec<ReadDescriptor>,
        stats: &mut DriverStats,
    ) -> Option<Task> {
        // A hinted predecessor that has not executed yet: wait for it like for an
        // ESTIMATE (it resumes this transaction when it finishes), rather than execute
        // now and almost surely be aborted.
        if let Some(predecessor) = self.plan.predecessor(txn_idx) {
            if self.scheduler.add_dependency(txn_idx, predecessor) {
                stats.hint_waits += 1;
                return None;
            }
        }
        loop {
            stats.executions += 1;
            // Taken before the first read, so the reads count as a validation that started
            // here: if every lower transaction's final writes were recorded by now, the
            // committer need not read them all again.
            let read_epoch = self.scheduler.start_validation();
            let mut reads = SpeculativeReads::new(
                &self.memory,
                self.task,
                txn_idx,
                std::mem::take(read_buffer),
                // Set (under the commit role) before the abort that leads here, which
                // the scheduler's status lock orders before this execution.
                !self.exact[txn_idx as usize].load(Ordering::Relaxed),
            );
            let result = self.task.execute(txn_idx, &mut reads);
            let recorded = reads.finish();
            stats.delta_reads += recorded.delta_reads;
            stats.predicate_reads += recorded.predicate_reads;
            match result {
                Err(ExecuteError::Blocked(Blocker::CommitFrontier)) => {
                    *read_buffer = recorded.reads;
                    if self.wait_for_settle(txn_idx) {
                        stats.settle_waits += 1;
                        return None;
                    }
                    // Everything below settled meanwhile: run again straight away.
                }
                Err(ExecuteError::Blocked(Blocker::Txn(blocking_txn))) => {
                    *read_buffer = recorded.reads;
                    if blocking_txn >= txn_idx {
                        // A task that names a blocker it cannot have met (not below it).
                        self.fail(DriverError::Invariant(crate::Invariant::BlockerNotBelow {
                            txn_idx,
                            blocking_txn,
                        }));
                        return None;
                    }
                    if self.scheduler.add_dependency(txn_idx, blocking_txn) {
                        stats.dependency_waits += 1;
                        return None;
                    }
                    // The blocker finished meanwhile: run again straight away.
                }
                Err(ExecuteError::Failed(error)) => {
                    self.fail(DriverError::Execution { txn_idx, error });
                    return None;
                }
                Ok((output, writes)) => {
                    let version = Version::new(txn_idx, incarnation);
                    let recorded = self.memory.record_writes(version, recorded.reads, writes);
                    *read_buffer = recorded.spare_read_buffer;
                    // Planted bug (loom models): fold the output when it is produced
                    // rather than when it is final, so aborted incarnations leak into it.
                    if blockstm_sync::planted!("fold_at_execution") {
                        if let Err(error) = lock(&self.sink).commit(txn_idx, &output) {
                            self.fail(error);
                            return None;
                        }
                    }
                    *lock(&self.outputs[txn_idx as usize]) = Some((incarnation, output));
                    return self.scheduler.finish_execution_read_at(
                        txn_idx,
                        incarnation,
                        recorded.wrote_new_location,
                        read_epoch,
                    );
                }
            }
        }
    }

    fn validate(
        &self,
        txn_idx: TxnIndex,
        incarnation: Incarnation,
        stats: &mut DriverStats,
    ) -> Option<Task> {
        stats.validations += 1;
        let epoch = self.scheduler.start_validation();
        let validation = self.memory.validate(txn_idx);
        stats.predicate_saves += u64::from(validation.predicate_saves);
        let aborted =
            !validation.valid && self.scheduler.try_validation_abort(txn_idx, incarnation);
        if aborted {
            stats.aborts += 1;
            self.memory.convert_writes_to_estimates(txn_idx);
        }
        self.scheduler
            .finish_validation(txn_idx, incarnation, epoch, aborted)
    }
}

/// The message a panic carried (`panic!("…")` gives a `&str` or a `String`), or a
/// placeholder for a payload of another type: one wording wherever a panic is reported,
/// here and in the engines that catch panics of their own.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
