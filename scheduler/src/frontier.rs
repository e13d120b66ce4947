//! Frontier runs: transactions executed by the commit role at the commit frontier, final
//! as soon as they finish.
//!
//! A transaction that starts when every lower one has committed reads only final state.
//! It needs no read set and no validation, and it can commit the moment it finishes. The
//! worker that holds the commit role and finds the next transaction to commit not started
//! yet may therefore run it, and the ones after it, itself: it starts each with
//! [`Committer::start_at_frontier`] (`ReadyToExecute → Executing`) and, once their writes
//! are in memory, commits them all at once with [`Committer::commit_run`]
//! (`Executing → Committed`). One worker on a block does nothing else, so its bookkeeping
//! per transaction is one status change at each end instead of the full cycle.
//!
//! Why it is safe with other workers running:
//! - **Nobody else commits meanwhile.** The run is made under the commit role's lock, so
//!   the frontier cannot move while it lasts, and nothing below the run can change.
//! - **Nobody else executes a run's transaction.** Each is started under its own status
//!   lock, like any execution; a transaction someone else started first ends the run.
//! - **Speculative readers above the run are checked.** They may have read around the
//!   run's writes before they were in memory. [`Committer::commit_run`] takes a new write
//!   epoch *after* the caller published the writes, and makes it the highest record
//!   epoch among committed transactions, so every transaction above whose reads are
//!   older is validated again before it commits (the rolling commit's rule, see the
//!   crate docs); the validation sweep is also pulled back to the run's end.
//! - **The sweep finds everything.** The run moves `execution_idx` past the transactions
//!   it means to start, so that others do not wait on them; when it stops early, it pulls
//!   the sweep back to where it stopped, as a resumed dependency does.

use crate::status::TxnStatus;
use crate::{Committer, Incarnation, TxnIndex, ORDER};

/// A frontier run in progress: the transactions started so far, from the frontier on.
///
/// Made by [`Committer::begin_run`]; it counts as one active task until
/// [`Committer::commit_run`] ends it.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a run counts as an active task until `commit_run` ends it"]
pub struct FrontierRun {
    start: usize,
    /// One past the last transaction started.
    end: usize,
    /// How far the run means to go: the sweep was moved here.
    reserved: usize,
    /// Where the sweep stood when the run moved it (or the run's second transaction, if
    /// higher): `skipped_from..reserved` is what the run took from the sweep.
    skipped_from: usize,
}

impl FrontierRun {
    /// The first transaction of the run: the commit frontier when it began.
    pub fn start(&self) -> TxnIndex {
        self.start as TxnIndex
    }

    /// One past the last transaction started.
    pub fn end(&self) -> TxnIndex {
        self.end as TxnIndex
    }

    /// The most transactions the run may start (it may stop sooner).
    pub fn max_len(&self) -> usize {
        self.reserved - self.start
    }

    /// How many transactions the run has started.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the run has started none.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

impl Committer<'_> {
    /// Begins a run at the commit frontier by starting the next transaction to commit,
    /// meaning to start up to `max_len` transactions in all (at least one, at most the
    /// rest of the block). `None`, with nothing changed, when that transaction is not
    /// ready to execute (another worker runs it, or it has run) or every transaction has
    /// committed.
    pub fn begin_run(&mut self, max_len: usize) -> Option<(FrontierRun, Incarnation)> {
        let start = self.state.next;
        let scheduler = self.scheduler;
        if start >= scheduler.num_txns {
            return None;
        }
        // Counted active before the start, so that `done` cannot be declared under it.
        scheduler.begin_task();
        let Some(incarnation) = scheduler.start_if_ready(start as TxnIndex) else {
            scheduler.end_task();
            return None;
        };
        let reserved = start.saturating_add(max_len.max(1)).min(scheduler.num_txns);
        // Others need not sweep over what the run is about to start; if it stops early,
        // `commit_run` gives back what it skipped (see the module docs).
        let swept = scheduler.execution_idx.fetch_max(reserved, ORDER);
        let run = FrontierRun {
            start,
            end: start + 1,
            reserved,
            skipped_from: swept.max(start + 1),
        };
        Some((run, incarnation))
    }

    /// Starts the run's next transaction if it is ready to execute and the run has room,
    /// returning it and its incarnation. `None` ends the run: the transaction is being
    /// executed (or was executed) by another worker, or the run is full.
    pub fn start_at_frontier(&mut self, run: &mut FrontierRun) -> Option<(TxnIndex, Incarnation)> {
        if run.end >= run.reserved {
            return None;
        }
        let txn_idx = run.end as TxnIndex;
        let incarnation = self.scheduler.start_if_ready(txn_idx)?;
        run.end += 1;
        Some((txn_idx, incarnation))
    }

    /// Gives the run's last started transaction back to the ordinary path, unexecuted:
    /// its next incarnation becomes ready and the sweep will find it (for a transaction
    /// the run cannot finish itself, e.g. one that must wait).
    pub fn hand_back(&mut self, run: &mut FrontierRun) {
        debug_assert!(run.end > run.start, "invariant: hand_back after a start");
        run.end -= 1;
        let txn_idx = run.end as TxnIndex;
        self.scheduler.set_ready_status(txn_idx);
        // The sweep must find it (and whatever the run skipped after it) again.
        self.scheduler.decrease_execution_idx(run.end);
        run.reserved = run.end;
    }

    /// Commits every transaction the run started, whose writes the caller has published
    /// to memory (all of them, before this call): they are final. Ends the run's task.
    pub fn commit_run(&mut self, run: FrontierRun) {
        let scheduler = self.scheduler;
        if run.end < run.reserved {
            // Stopped early: give the sweep back what the run took and never started.
            scheduler.decrease_execution_idx(run.skipped_from.max(run.end));
        }
        if run.is_empty() {
            scheduler.end_task();
            return;
        }
        // Taken after the caller published the writes: a validation that starts at this
        // epoch or later sees them; one that started before does not count for commits
        // above the run (see the module docs).
        let record_epoch = if blockstm_sync::planted!("frontier_run_without_epoch") {
            // Planted bug (loom models): commit without a new epoch, so speculative
            // reads taken before the run's writes were published are trusted.
            scheduler.write_epoch.load(ORDER)
        } else {
            scheduler.write_epoch.fetch_add(1, ORDER) + 1
        };
        let mut woken: Option<TxnIndex> = None;
        for txn_idx in run.start..run.end {
            let dependents = {
                let mut state = scheduler.txn(txn_idx as TxnIndex);
                debug_assert_eq!(
                    state.status,
                    TxnStatus::Executing,
                    "invariant: a run's transactions stay its own until it commits"
                );
                state.status = TxnStatus::Committed;
                state.record_epoch = record_epoch;
                std::mem::take(&mut state.dependents)
            };
            // Transactions that met an ESTIMATE of an earlier incarnation wait here.
            for dependent in dependents {
                scheduler.set_ready_status(dependent);
                woken = Some(woken.map_or(dependent, |lowest| lowest.min(dependent)));
            }
        }
        if let Some(lowest) = woken {
            scheduler.decrease_execution_idx(lowest as usize);
        }
        self.state.max_record_epoch = self.state.max_record_epoch.max(record_epoch);
        self.state.next = run.end;
        scheduler.commit_idx.store(run.end, ORDER);
        // Transactions above may have read around the run's writes: validate them again.
        if scheduler.validation_idx.load(ORDER) > run.end {
            scheduler.decrease_validation_idx(run.end);
        }
        scheduler.end_task();
        if run.end == scheduler.num_txns {
            scheduler.check_done();
        }
    }
}
