//! The collaborative scheduler of Block-STM, with a rolling commit.
//!
//! Worker threads ask the scheduler for the next task — execute a transaction, or validate
//! one that has executed — and report back when it is done. Two shared counters,
//! `execution_idx` and `validation_idx`, sweep the block in order; aborts and re-executions
//! pull them back down (`decrease_cnt` counts those pulls) so that every transaction whose
//! reads may have changed is validated again. Per-transaction status and incarnation live
//! under a small lock per transaction, with the list of transactions waiting on it.
//!
//! On top of the paper's design sits a **rolling commit**: transactions commit one by one in
//! block order, as soon as every lower transaction has committed and a validation of the
//! current incarnation ran *after* every lower transaction's final writes were recorded. A
//! validation that merely succeeded earlier proves nothing: a lower transaction may have
//! changed its writes since. Each recorded execution bumps a global *write epoch*; a
//! validation remembers the epoch at which it started; a transaction is committable when
//! that epoch is at least the epoch of the last recording among all lower (committed)
//! transactions. When it is not, the committer validates it on the spot, which is then
//! definitive because everything below is final. An execution that takes the epoch
//! before its first read ([`Scheduler::finish_execution_read_at`]) counts as a validation
//! from that epoch: its reads are the read set, read after it. A transaction started after
//! every lower transaction recorded its final writes then commits without one.
//!
//! A worker may also claim several consecutive transactions with one fetch of
//! `execution_idx` ([`Scheduler::with_claim_size`], [`ExecutionClaim`]) and start them in
//! order before taking other work, so that neighbouring transactions run on one core.
//! Claimed transactions count as active tasks until started, so the done rule does not
//! change; with a claim size of 1 the scheduler is the paper's.
//!
//! ## A transaction's life
//!
//! Each transaction's [`TxnStatus`] and incarnation change under its own small lock, only
//! along these edges (the incarnation grows by one on every edge into `ReadyToExecute`
//! after the first):
//!
//! ```text
//!                 next_task / next_task_claiming / a re-execution handed back
//!  ReadyToExecute ─────────────────────────────────────────────► Executing
//!        ▲                                                        │      │
//!        │ the blocker's finish_execution                         │      │ finish_execution
//!        │ (dependents), resume (suspended),                      │      │ (writes recorded)
//!        │ after an abort: the next incarnation                   │      ▼
//!        │                                 add_dependency (met an │   Executed ──────────► Committed
//!        │                                 ESTIMATE), suspend     │      │   Committer::commit
//!        │                                 (waits for the caller, │      │   (block order; final)
//!        │                                 e.g. a settled sink)   ▼      │
//!        └─────────────────────────────────────────────────── Aborting ◄─┘
//!                                               try_validation_abort or Committer::try_abort
//!                                               (a failed validation; one winner per incarnation)
//! ```
//!
//! A [frontier run](FrontierRun) adds two shortcuts, both under the commit role: the
//! transaction next to commit goes `ReadyToExecute → Executing` outside the sweep, and
//! then straight `Executing → Committed` once its writes are in memory, since everything
//! it read was final; or, when the run cannot finish it, back to `ReadyToExecute` with
//! the next incarnation.
//!
//! `Committed` is final: nothing leaves it. A transaction is `Executing` in at most one
//! worker at a time, and a suspended transaction must be resumed exactly once.
//!
//! The scheduler knows only transaction indices; what a task *does* is the caller's
//! business (see the `executor` crate's Block-STM engine).
//!
//! ```
//! use scheduler::{Scheduler, Task};
//!
//! // A one-thread run over two independent transactions.
//! let scheduler = Scheduler::new(2);
//! let mut committed = Vec::new();
//! while !scheduler.done() {
//!     let mut task = scheduler.next_task();
//!     while let Some(next) = task {
//!         task = match next {
//!             Task::Execute { txn_idx, incarnation } => {
//!                 // ... run the transaction and record its writes ...
//!                 scheduler.finish_execution(txn_idx, incarnation, true)
//!             }
//!             Task::Validate { txn_idx, incarnation } => {
//!                 let epoch = scheduler.start_validation();
//!                 // ... validate the read set: here it always holds ...
//!                 scheduler.finish_validation(txn_idx, incarnation, epoch, false)
//!             }
//!         };
//!     }
//!     if let Some(mut committer) = scheduler.try_commit() {
//!         while let Some(candidate) = committer.next_candidate() {
//!             // `candidate.needs_validation` would mean: validate now, under the committer.
//!             if committer.commit(candidate) {
//!                 committed.push(candidate.txn_idx);
//!             }
//!         }
//!     }
//! }
//! assert_eq!(committed, vec![0, 1]);
//! ```

mod claim;
mod commit;
mod frontier;
mod status;

// The atomics and locks, `std`'s or loom's (see `blockstm-sync`).
use blockstm_sync as sync;
use crossbeam_utils::CachePadded;

pub use claim::ExecutionClaim;
use commit::CommitState;
pub use commit::{CommitCandidate, Committer};
pub use frontier::FrontierRun;
use status::TxnState;
pub use status::{Task, TxnStatus, ValidationEpoch};
use sync::{lock, AtomicBool, AtomicU64, AtomicUsize, Mutex, MutexGuard, Ordering};

// One definition of a transaction's position and incarnation for the whole engine, the
// memory's (as Aptos's scheduler takes its own from its multi-version map): the driver
// passes the scheduler's indices straight to the memory.
pub use mvmemory::{Incarnation, TxnIndex};

/// The scheduler of one block. Shared by reference among the block's worker threads.
#[derive(Debug)]
pub struct Scheduler {
    pub(crate) num_txns: usize,
    pub(crate) execution_idx: CachePadded<AtomicUsize>,
    pub(crate) validation_idx: CachePadded<AtomicUsize>,
    pub(crate) decrease_cnt: CachePadded<AtomicUsize>,
    pub(crate) num_active_tasks: CachePadded<AtomicUsize>,
    pub(crate) done_marker: CachePadded<AtomicBool>,
    pub(crate) halted: AtomicBool,
    pub(crate) write_epoch: CachePadded<AtomicU64>,
    pub(crate) commit_idx: CachePadded<AtomicUsize>,
    /// Padded like the counters: the committer writes it on every commit, and unpadded it
    /// would share a cache line with `num_txns` and `txns`, which every worker reads on
    /// every call, so each commit would cost every other core a miss.
    pub(crate) commit: CachePadded<Mutex<CommitState>>,
    pub(crate) txns: Box<[CachePadded<Mutex<TxnState>>]>,
    /// How many consecutive transactions one fetch of `execution_idx` claims for
    /// execution ([`Scheduler::with_claim_size`]).
    pub(crate) claim_size: usize,
}
// Every atomic uses SeqCst. The algorithm's correctness argument (the paper's, and the
// epoch argument for commits) is made in a sequentially consistent model; the counters are
// touched a few times per task, far from the cost of executing a transaction, so weaker
// orderings would buy nothing measurable and cost a proof.
pub(crate) const ORDER: Ordering = Ordering::SeqCst;

impl Scheduler {
    /// A scheduler for a block of `num_txns` transactions, all ready to execute.
    ///
    /// # Panics
    /// If `num_txns` does not fit a [`TxnIndex`] (an engine invariant: blocks are capped
    /// far below that long before they reach the scheduler).
    pub fn new(num_txns: usize) -> Self {
        assert!(
            TxnIndex::try_from(num_txns).is_ok(),
            "invariant: block of {num_txns} transactions exceeds the scheduler's index type"
        );
        let txns = (0..num_txns)
            .map(|_| {
                CachePadded::new(Mutex::new(TxnState {
                    incarnation: 0,
                    status: TxnStatus::ReadyToExecute,
                    record_epoch: 0,
                    validated_epoch: None,
                    dependents: Vec::new(),
                }))
            })
            .collect();
        Self {
            num_txns,
            execution_idx: CachePadded::new(AtomicUsize::new(0)),
            validation_idx: CachePadded::new(AtomicUsize::new(0)),
            decrease_cnt: CachePadded::new(AtomicUsize::new(0)),
            num_active_tasks: CachePadded::new(AtomicUsize::new(0)),
            done_marker: CachePadded::new(AtomicBool::new(num_txns == 0)),
            halted: AtomicBool::new(false),
            write_epoch: CachePadded::new(AtomicU64::new(0)),
            commit_idx: CachePadded::new(AtomicUsize::new(0)),
            commit: CachePadded::new(Mutex::new(CommitState {
                next: 0,
                max_record_epoch: 0,
            })),
            txns,
            claim_size: 1,
        }
    }

    /// The block size.
    pub fn num_txns(&self) -> usize {
        self.num_txns
    }

    pub(crate) fn txn(&self, txn_idx: TxnIndex) -> MutexGuard<'_, TxnState> {
        let slot = self
            .txns
            .get(txn_idx as usize)
            .unwrap_or_else(|| panic!("invariant: transaction {txn_idx} is outside the block"));
        lock(slot)
    }

    /// Whether the block is finished (every transaction committed and no task in flight)
    /// or halted. Workers loop until this is true.
    pub fn done(&self) -> bool {
        self.done_marker.load(ORDER)
    }

    /// Stops the block: every worker sees [`Scheduler::done`] and leaves. Used when a task
    /// hits an error that ends the whole block (a storage error, a panic).
    pub fn halt(&self) {
        self.halted.store(true, ORDER);
        self.done_marker.store(true, ORDER);
    }

    /// Whether [`Scheduler::halt`] was called.
    pub fn is_halted(&self) -> bool {
        self.halted.load(ORDER)
    }

    /// How many transactions have committed, in block order, so far.
    pub fn committed(&self) -> usize {
        self.commit_idx.load(ORDER)
    }

    /// How many times `execution_idx` or `validation_idx` was pulled back.
    pub fn decrease_count(&self) -> usize {
        self.decrease_cnt.load(ORDER)
    }

    /// The status and incarnation of a transaction (for tests and diagnostics).
    pub fn status(&self, txn_idx: TxnIndex) -> (TxnStatus, Incarnation) {
        let state = self.txn(txn_idx);
        (state.status, state.incarnation)
    }

    fn decrease_execution_idx(&self, target: usize) {
        self.execution_idx.fetch_min(target, ORDER);
        self.decrease_cnt.fetch_add(1, ORDER);
    }

    fn decrease_validation_idx(&self, target: usize) {
        self.validation_idx.fetch_min(target, ORDER);
        self.decrease_cnt.fetch_add(1, ORDER);
    }

    pub(crate) fn check_done(&self) {
        let observed = self.decrease_cnt.load(ORDER);
        // Planted bug (loom models): the paper's condition without the rolling commit's,
        // so workers may leave while transactions are still uncommitted.
        let all_committed = if blockstm_sync::planted!("done_ignores_commit") {
            self.execution_idx.load(ORDER) >= self.num_txns
        } else {
            self.commit_idx.load(ORDER) == self.num_txns
        };
        if all_committed
            && self.num_active_tasks.load(ORDER) == 0
            && observed == self.decrease_cnt.load(ORDER)
        {
            self.done_marker.store(true, ORDER);
        }
    }

    /// Marks the start of a task that was not handed out by `next_task`.
    pub(crate) fn begin_task(&self) {
        self.num_active_tasks.fetch_add(1, ORDER);
    }

    pub(crate) fn end_task(&self) {
        self.num_active_tasks.fetch_sub(1, ORDER);
    }

    /// `ReadyToExecute → Executing` for a transaction started outside the sweep (a
    /// frontier run); its incarnation, or `None` with nothing changed.
    pub(crate) fn start_if_ready(&self, txn_idx: TxnIndex) -> Option<Incarnation> {
        let mut state = self.txn(txn_idx);
        if state.status != TxnStatus::ReadyToExecute {
            return None;
        }
        state.status = TxnStatus::Executing;
        Some(state.incarnation)
    }

    pub(crate) fn try_incarnate(&self, txn_idx: usize) -> Option<Task> {
        if txn_idx < self.num_txns {
            let idx = txn_idx as TxnIndex;
            let mut state = self.txn(idx);
            if state.status == TxnStatus::ReadyToExecute {
                state.status = TxnStatus::Executing;
                return Some(Task::Execute {
                    txn_idx: idx,
                    incarnation: state.incarnation,
                });
            }
        }
        self.end_task();
        None
    }

    pub(crate) fn next_version_to_validate(&self) -> Option<Task> {
        if self.validation_idx.load(ORDER) >= self.num_txns {
            self.check_done();
            return None;
        }
        self.begin_task();
        let idx = self.validation_idx.fetch_add(1, ORDER);
        if idx < self.num_txns {
            let txn_idx = idx as TxnIndex;
            let state = self.txn(txn_idx);
            if state.status == TxnStatus::Executed {
                return Some(Task::Validate {
                    txn_idx,
                    incarnation: state.incarnation,
                });
            }
        }
        self.end_task();
        None
    }

    /// The next task for a worker, or `None` when there is nothing to do right now (the
    /// worker then tries to commit, checks [`Scheduler::done`] and asks again). Claims
    /// one transaction at a time; see [`Scheduler::next_task_claiming`] for claims of
    /// [`Scheduler::with_claim_size`].
    pub fn next_task(&self) -> Option<Task> {
        // One transaction at a time whatever the claim size: a claim made here would be
        // dropped with its unstarted transactions still counted active.
        self.next_task_with(&mut ExecutionClaim::default(), 1)
    }

    pub(crate) fn next_task_with(
        &self,
        claim: &mut ExecutionClaim,
        claim_size: usize,
    ) -> Option<Task> {
        if self.done() {
            return None;
        }
        if let Some(task) = self.start_claimed(claim) {
            return Some(task);
        }
        // Validation first, as in the paper; but when the validation sweep lands on a
        // transaction that is not executed yet, look for an execution at once instead of
        // returning empty-handed and making the worker go round its loop again.
        if self.validation_idx.load(ORDER) < self.execution_idx.load(ORDER) {
            if let Some(task) = self.next_version_to_validate() {
                return Some(task);
            }
        }
        self.next_version_to_execute(claim, claim_size)
    }

    /// Records that `txn_idx` met an ESTIMATE of `blocking_txn` during its current
    /// incarnation. Returns `false` if the blocker has meanwhile executed (the caller
    /// retries the execution at once); `true` if the transaction now waits and the
    /// execution task is over.
    pub fn add_dependency(&self, txn_idx: TxnIndex, blocking_txn: TxnIndex) -> bool {
        debug_assert!(
            blocking_txn < txn_idx,
            "invariant: dependencies point to lower transactions"
        );
        let mut blocker = self.txn(blocking_txn);
        if matches!(blocker.status, TxnStatus::Executed | TxnStatus::Committed) {
            return false;
        }
        // Lock order is always lower index first, here and everywhere else.
        self.txn(txn_idx).status = TxnStatus::Aborting;
        blocker.dependents.push(txn_idx);
        drop(blocker);
        self.end_task();
        true
    }

    /// Ends the current execution of `txn_idx` without an output, for a wait the caller
    /// keeps track of itself (in the driver: until every lower transaction has committed).
    /// The caller must [`Scheduler::resume`] it exactly once later, or the block never
    /// finishes.
    pub fn suspend(&self, txn_idx: TxnIndex) {
        self.txn(txn_idx).status = TxnStatus::Aborting;
        self.end_task();
    }

    /// Makes a [suspended](Scheduler::suspend) transaction ready to execute again, as a
    /// finished dependency does.
    pub fn resume(&self, txn_idx: TxnIndex) {
        self.set_ready_status(txn_idx);
        self.decrease_execution_idx(txn_idx as usize);
    }

    fn set_ready_status(&self, txn_idx: TxnIndex) {
        let mut state = self.txn(txn_idx);
        state.incarnation += 1;
        state.status = TxnStatus::ReadyToExecute;
        state.validated_epoch = None;
    }

    /// Reports that an incarnation finished and its writes are recorded in memory.
    /// `wrote_new_location`: it wrote a key the previous incarnation did not. Returns a
    /// validation task for the same transaction when the worker should do it next.
    pub fn finish_execution(
        &self,
        txn_idx: TxnIndex,
        incarnation: Incarnation,
        wrote_new_location: bool,
    ) -> Option<Task> {
        self.record_execution(txn_idx, incarnation, wrote_new_location, None)
    }

    /// [`Scheduler::finish_execution`] for an incarnation that took `read_epoch` (from
    /// [`Scheduler::start_validation`]) before its first read: its reads then count as a
    /// validation that started at that epoch, which is exactly what a validation is (a
    /// reading of the read set after the epoch). When every lower transaction's final
    /// writes were recorded before it, the committer need not validate it again; that
    /// is the usual case for a transaction started after its predecessors committed, and
    /// always the case on one worker.
    pub fn finish_execution_read_at(
        &self,
        txn_idx: TxnIndex,
        incarnation: Incarnation,
        wrote_new_location: bool,
        read_epoch: ValidationEpoch,
    ) -> Option<Task> {
        self.record_execution(txn_idx, incarnation, wrote_new_location, Some(read_epoch.0))
    }

    fn record_execution(
        &self,
        txn_idx: TxnIndex,
        incarnation: Incarnation,
        wrote_new_location: bool,
        validated_epoch: Option<u64>,
    ) -> Option<Task> {
        // The epoch is taken after the writes are in memory (the caller recorded them
        // before calling), so a validation that later observes this epoch sees them.
        let record_epoch = self.write_epoch.fetch_add(1, ORDER) + 1;
        let dependents = {
            let mut state = self.txn(txn_idx);
            debug_assert_eq!(
                state.incarnation, incarnation,
                "invariant: one execution per incarnation"
            );
            state.status = TxnStatus::Executed;
            state.record_epoch = record_epoch;
            // Planted bug (loom models): count the reads as validated whenever they ran,
            // as if a lower transaction could not record new writes after they started.
            state.validated_epoch =
                if blockstm_sync::planted!("execution_counts_as_late_validation") {
                    validated_epoch.map(|_| record_epoch)
                } else {
                    validated_epoch
                };
            std::mem::take(&mut state.dependents)
        };
        // Planted bug (loom models): waiting transactions are never woken.
        let dependents = if blockstm_sync::planted!("skip_dependency_resume") {
            Vec::new()
        } else {
            dependents
        };
        if let Some(min_dependent) = dependents.iter().min() {
            for &dependent in &dependents {
                self.set_ready_status(dependent);
            }
            self.decrease_execution_idx(*min_dependent as usize);
        }
        if self.validation_idx.load(ORDER) > txn_idx as usize {
            if wrote_new_location {
                // Higher transactions may have read around a key this one now writes.
                self.decrease_validation_idx(txn_idx as usize);
            } else {
                // Only this transaction needs validating; keep the task going.
                return Some(Task::Validate {
                    txn_idx,
                    incarnation,
                });
            }
        }
        self.end_task();
        None
    }

    /// Call right before reading a read set for validation; pass the result to
    /// [`Scheduler::finish_validation`].
    pub fn start_validation(&self) -> ValidationEpoch {
        ValidationEpoch(self.write_epoch.load(ORDER))
    }

    /// After a failed validation: claims the right to abort this incarnation. Only one
    /// validator wins; `false` if it was already aborted, re-executed or committed.
    pub fn try_validation_abort(&self, txn_idx: TxnIndex, incarnation: Incarnation) -> bool {
        let mut state = self.txn(txn_idx);
        if state.status == TxnStatus::Executed && state.incarnation == incarnation {
            state.status = TxnStatus::Aborting;
            true
        } else {
            false
        }
    }

    /// Reports a finished validation. `aborted`: this validator won
    /// [`Scheduler::try_validation_abort`] and has turned the incarnation's writes into
    /// ESTIMATEs. Returns a re-execution task for the worker when there is one.
    pub fn finish_validation(
        &self,
        txn_idx: TxnIndex,
        incarnation: Incarnation,
        epoch: ValidationEpoch,
        aborted: bool,
    ) -> Option<Task> {
        if aborted {
            return self.after_abort(txn_idx);
        }
        let mut state = self.txn(txn_idx);
        if state.status == TxnStatus::Executed && state.incarnation == incarnation {
            state.validated_epoch = Some(state.validated_epoch.map_or(epoch.0, |e| e.max(epoch.0)));
        }
        drop(state);
        self.end_task();
        None
    }

    /// The shared tail of an abort: next incarnation ready, everything above revalidated,
    /// and the re-execution handed to the caller when the execution sweep is already past.
    pub(crate) fn after_abort(&self, txn_idx: TxnIndex) -> Option<Task> {
        self.set_ready_status(txn_idx);
        self.decrease_validation_idx(txn_idx as usize + 1);
        if self.execution_idx.load(ORDER) > txn_idx as usize {
            return self.try_incarnate(txn_idx as usize);
        }
        self.end_task();
        None
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
