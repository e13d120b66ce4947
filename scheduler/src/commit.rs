//! The rolling commit: one worker at a time holds the commit role and commits executed
//! transactions in block order, once a validation recent enough vouches for each.

use crate::status::{Task, TxnStatus};
use crate::sync::{try_lock, MutexGuard};
use crate::{Incarnation, Scheduler, TxnIndex, ORDER};

/// The commit role's own state, under the role's lock.
#[derive(Debug)]
pub(crate) struct CommitState {
    /// The next transaction to commit.
    pub(crate) next: usize,
    /// The highest record epoch among committed transactions.
    pub(crate) max_record_epoch: u64,
}

impl Scheduler {
    /// Takes the commit role if no other worker holds it.
    pub fn try_commit(&self) -> Option<Committer<'_>> {
        if self.commit_idx.load(ORDER) >= self.num_txns {
            return None;
        }
        try_lock(&self.commit).map(|state| Committer {
            scheduler: self,
            state,
        })
    }
}

/// The next transaction in block order, ready to commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitCandidate {
    /// The transaction.
    pub txn_idx: TxnIndex,
    /// Its executed incarnation.
    pub incarnation: Incarnation,
    /// No validation since the last lower transaction's final writes: the committer must
    /// validate the read set now (definitive, since every lower transaction is final) and
    /// abort with [`Committer::try_abort`] if it fails.
    pub needs_validation: bool,
}

/// The commit role, held by one worker at a time. Commits happen in block order.
#[derive(Debug)]
pub struct Committer<'a> {
    pub(crate) scheduler: &'a Scheduler,
    pub(crate) state: MutexGuard<'a, CommitState>,
}

impl Committer<'_> {
    /// The next transaction to commit, if it has executed.
    pub fn next_candidate(&mut self) -> Option<CommitCandidate> {
        if self.state.next >= self.scheduler.num_txns {
            return None;
        }
        let txn_idx = self.state.next as TxnIndex;
        let state = self.scheduler.txn(txn_idx);
        if state.status != TxnStatus::Executed {
            return None;
        }
        // Planted bug (loom models): trust any earlier validation, or none at all.
        let needs_validation = !blockstm_sync::planted!("commit_without_validation")
            && state
                .validated_epoch
                .is_none_or(|epoch| epoch < self.state.max_record_epoch);
        Some(CommitCandidate {
            txn_idx,
            incarnation: state.incarnation,
            needs_validation,
        })
    }

    /// Commits the candidate, unless its incarnation was aborted meanwhile (`false`: ask
    /// for the next candidate again). After `true`, the transaction's last output is final.
    pub fn commit(&mut self, candidate: CommitCandidate) -> bool {
        let record_epoch = {
            let mut state = self.scheduler.txn(candidate.txn_idx);
            if state.status != TxnStatus::Executed || state.incarnation != candidate.incarnation {
                return false;
            }
            state.status = TxnStatus::Committed;
            state.record_epoch
        };
        self.state.max_record_epoch = self.state.max_record_epoch.max(record_epoch);
        self.state.next += 1;
        self.scheduler.commit_idx.store(self.state.next, ORDER);
        if self.state.next == self.scheduler.num_txns {
            self.scheduler.check_done();
        }
        true
    }

    /// The candidate failed its commit-time validation. Claims the abort (as
    /// [`Scheduler::try_validation_abort`] does); when this returns `true` the caller must
    /// turn the incarnation's writes into ESTIMATEs and then call
    /// [`Committer::finish_abort`].
    pub fn try_abort(&mut self, candidate: CommitCandidate) -> bool {
        self.scheduler
            .try_validation_abort(candidate.txn_idx, candidate.incarnation)
    }

    /// Completes an abort claimed with [`Committer::try_abort`], releasing the commit
    /// role; returns the re-execution task when the caller should run it.
    pub fn finish_abort(self, candidate: CommitCandidate) -> Option<Task> {
        let scheduler = self.scheduler;
        drop(self.state);
        // The abort is work outside `next_task`; count it so `done` cannot rise under it.
        scheduler.begin_task();
        scheduler.after_abort(candidate.txn_idx)
    }
}
