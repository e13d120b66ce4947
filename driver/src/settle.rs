//! Waiting for settled sinks: a read of a [sink](crate::Plan::sinks) that a lower
//! transaction has not settled suspends its transaction until every lower transaction
//! has committed, and the committer wakes it when the settled frontier passes it.

use crate::run::BlockRun;
use crate::sync::{fence, lock, Ordering};
use crate::task::{CommitSink, ParallelTask};
use crate::TxnIndex;

impl<T, S> BlockRun<'_, T, S>
where
    T: ParallelTask,
    S: CommitSink<T::Output, T::Error>,
{
    /// Suspends `txn_idx` until every lower transaction has settled, unless they all
    /// have by now (`false`: execute again at once).
    pub(crate) fn wait_for_settle(&self, txn_idx: TxnIndex) -> bool {
        let mut waiters = lock(&self.settle_waiters);
        // Announce, then look at the frontier; `wake_settled` moves the frontier, then
        // looks at the announcement. With a SeqCst fence between the two steps on both
        // sides, one of them sees the other's first step, so a waiter is never left
        // behind a frontier that has passed it. (SeqCst accesses alone would do in the
        // C++ model, but loom models them as acquire/release; it models fences exactly.)
        self.lowest_settle_waiter
            .fetch_min(txn_idx as usize, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        // Planted bug (loom models): suspend without looking at the frontier again, so a
        // waiter that announced itself after the committer last looked is never woken.
        let settled = !blockstm_sync::planted!("settle_wait_without_recheck")
            && self.memory.settled_below() >= txn_idx as usize;
        if settled {
            let lowest = waiters.iter().min().map_or(usize::MAX, |&w| w as usize);
            self.lowest_settle_waiter.store(lowest, Ordering::SeqCst);
            return false;
        }
        self.scheduler.suspend(txn_idx);
        waiters.push(txn_idx);
        true
    }

    /// Resumes the transactions waiting for the settled frontier that it has reached.
    pub(crate) fn wake_settled(&self) {
        if !self.memory.has_sinks() {
            return;
        }
        // The frontier was moved (by `settle`) before this fence; see `wait_for_settle`.
        fence(Ordering::SeqCst);
        if self.lowest_settle_waiter.load(Ordering::SeqCst) > self.memory.settled_below() {
            return;
        }
        let mut waiters = lock(&self.settle_waiters);
        let frontier = self.memory.settled_below();
        waiters.retain(|&waiter| {
            let ready = waiter as usize <= frontier;
            if ready {
                self.scheduler.resume(waiter);
            }
            !ready
        });
        let lowest = waiters.iter().min().map_or(usize::MAX, |&w| w as usize);
        self.lowest_settle_waiter.store(lowest, Ordering::SeqCst);
    }
}
