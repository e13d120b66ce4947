//! Execution claims: a worker may take several consecutive transactions with one fetch
//! of the execution sweep and start them in order, so that neighbouring transactions run
//! on one core.

use crate::status::Task;
use crate::{Scheduler, ORDER};

/// Transactions a worker has claimed for execution and not started yet; one per worker,
/// passed to [`Scheduler::next_task_claiming`].
///
/// Claiming several consecutive transactions at once is about locality: with one claim
/// per transaction, neighbouring transactions run on different cores, so the counters,
/// statuses and memory entries that one transaction writes and the next one reads move
/// between cores on every transaction. A claimed transaction counts as an active task
/// until it is started or found already started, so the block cannot be declared done
/// under it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutionClaim {
    pub(crate) next: usize,
    pub(crate) end: usize,
}

impl ExecutionClaim {
    /// Claimed transactions not started yet.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.next)
    }

    /// Whether no claimed transaction is waiting.
    pub fn is_empty(&self) -> bool {
        self.next >= self.end
    }
}

/// A claim size the sweep can hand out: at least one transaction, at most the block.
fn clamp_claim_size(size: usize, num_txns: usize) -> usize {
    size.clamp(1, num_txns.max(1))
}

impl Scheduler {
    /// Makes each fetch of the execution sweep claim `size` consecutive transactions
    /// for the worker that asks through [`Scheduler::next_task_claiming`]. Larger claims
    /// keep neighbouring transactions on one core and touch the shared counters less
    /// often; they also let workers run further apart in the block, so on contended
    /// blocks more transactions read values that a lower, still unexecuted claim will
    /// change. The output never depends on the size.
    ///
    /// Every `usize` is accepted: the size is clamped to `1..=num_txns` (0 means 1, the
    /// paper's behaviour and the default; a claim larger than the block could only claim
    /// the whole block). The clamp is what keeps the sweep's arithmetic exact: each
    /// worker that passes the sweep's bound check adds at most one claim to
    /// `execution_idx` and to the active-task count, so both stay below
    /// `num_txns × (workers + 1)`, far from overflow, whatever the caller asked for.
    pub fn with_claim_size(mut self, size: usize) -> Self {
        self.claim_size = clamp_claim_size(size, self.num_txns);
        self
    }

    /// The claim size in force, after [`Scheduler::with_claim_size`]'s clamp.
    pub fn claim_size(&self) -> usize {
        self.claim_size
    }

    pub(crate) fn next_version_to_execute(
        &self,
        claim: &mut ExecutionClaim,
        size: usize,
    ) -> Option<Task> {
        if self.execution_idx.load(ORDER) >= self.num_txns {
            self.check_done();
            return None;
        }
        *claim = self.claim_executions(size);
        self.start_claimed(claim)
    }

    /// Claims the next `size` transactions of the execution sweep (fewer at the block's
    /// end, none past it). Several workers may get here at once after passing the
    /// sweep's bound check; each adds at most one claim, which `with_claim_size` keeps
    /// within the block, so the counters cannot wrap.
    pub(crate) fn claim_executions(&self, size: usize) -> ExecutionClaim {
        // Counted active before they are claimed, as the paper counts one, so that no
        // worker sees the sweep past the end with these still unstarted and no task.
        self.num_active_tasks.fetch_add(size, ORDER);
        let first = self.execution_idx.fetch_add(size, ORDER);
        let end = first.saturating_add(size).min(self.num_txns).max(first);
        // What was counted but not claimed (indices past the block): give it back, exactly.
        let unclaimed = size - (end - first);
        if unclaimed > 0 {
            self.num_active_tasks.fetch_sub(unclaimed, ORDER);
        }
        ExecutionClaim { next: first, end }
    }

    /// [`Scheduler::next_task`] for a worker that keeps `claim` across calls: the
    /// transactions it claimed and has not started come first, in order, and a new
    /// execution claim takes [`Scheduler::with_claim_size`] transactions at once.
    pub fn next_task_claiming(&self, claim: &mut ExecutionClaim) -> Option<Task> {
        self.next_task_with(claim, self.claim_size)
    }

    /// Starts the first claimed transaction that is still ready; each one tried gives up
    /// its active-task count (to the execution it becomes, or to nobody).
    pub(crate) fn start_claimed(&self, claim: &mut ExecutionClaim) -> Option<Task> {
        while claim.next < claim.end {
            let idx = claim.next;
            claim.next += 1;
            if let Some(task) = self.try_incarnate(idx) {
                return Some(task);
            }
        }
        None
    }
}
