use super::*;

fn exec(txn_idx: TxnIndex, incarnation: Incarnation) -> Option<Task> {
    Some(Task::Execute {
        txn_idx,
        incarnation,
    })
}

fn val(txn_idx: TxnIndex, incarnation: Incarnation) -> Option<Task> {
    Some(Task::Validate {
        txn_idx,
        incarnation,
    })
}

/// The next task, skipping the empty answers a sweep gives while it passes transactions
/// that have nothing to do.
fn next(s: &Scheduler) -> Option<Task> {
    (0..8).find_map(|_| s.next_task())
}

#[test]
fn empty_block_is_done_at_once() {
    let s = Scheduler::new(0);
    assert!(s.done());
    assert_eq!(s.next_task(), None);
}

#[test]
fn executes_in_order_then_validates() {
    let s = Scheduler::new(2);
    assert_eq!(next(&s), exec(0, 0));
    assert_eq!(s.status(0), (TxnStatus::Executing, 0));
    assert_eq!(s.finish_execution(0, 0, true), None);
    assert_eq!(s.status(0), (TxnStatus::Executed, 0));
    // validation_idx (0) < execution_idx (1): validation comes first.
    assert_eq!(next(&s), val(0, 0));
    let epoch = s.start_validation();
    assert_eq!(s.finish_validation(0, 0, epoch, false), None);
    assert_eq!(next(&s), exec(1, 0));
}

#[test]
fn finish_execution_hands_back_own_validation_when_sweep_passed() {
    let s = Scheduler::new(2);
    assert_eq!(next(&s), exec(0, 0));
    assert_eq!(next(&s), exec(1, 0));
    assert_eq!(s.finish_execution(1, 0, true), None);
    // The validation sweep skips 0 (still executing) and validates 1.
    assert_eq!(next(&s), val(1, 0));
    // Now 0 finishes without new locations... it wrote new ones (first incarnation), so
    // the sweep is pulled back to 0 instead of handing back a task.
    let before = s.decrease_count();
    assert_eq!(s.finish_execution(0, 0, true), None);
    assert_eq!(s.decrease_count(), before + 1);
    assert_eq!(next(&s), val(0, 0));
}

#[test]
fn failed_validation_aborts_once_and_reexecutes() {
    let s = Scheduler::new(1);
    assert_eq!(next(&s), exec(0, 0));
    assert_eq!(s.finish_execution(0, 0, true), None);
    assert_eq!(next(&s), val(0, 0));
    assert!(s.try_validation_abort(0, 0));
    assert!(
        !s.try_validation_abort(0, 0),
        "only one validator wins the abort"
    );
    assert_eq!(s.status(0), (TxnStatus::Aborting, 0));
    let epoch = s.start_validation();
    assert_eq!(s.finish_validation(0, 0, epoch, true), exec(0, 1));
    assert_eq!(s.status(0), (TxnStatus::Executing, 1));
}

#[test]
fn dependency_suspends_and_resumes() {
    let s = Scheduler::new(2);
    assert_eq!(next(&s), exec(0, 0));
    assert_eq!(next(&s), exec(1, 0));
    assert!(s.add_dependency(1, 0));
    assert_eq!(s.status(1), (TxnStatus::Aborting, 0));
    assert_eq!(s.finish_execution(0, 0, true), None);
    assert_eq!(s.status(1), (TxnStatus::ReadyToExecute, 1));
    // Execution index was pulled back to 1; validation of 0 comes first.
    assert_eq!(next(&s), val(0, 0));
    assert_eq!(next(&s), exec(1, 1));
}

#[test]
fn dependency_on_executed_transaction_is_refused() {
    let s = Scheduler::new(2);
    assert_eq!(next(&s), exec(0, 0));
    assert_eq!(next(&s), exec(1, 0));
    assert_eq!(s.finish_execution(0, 0, true), None);
    assert!(!s.add_dependency(1, 0));
    assert_eq!(s.status(1), (TxnStatus::Executing, 0));
}

#[test]
fn commit_needs_validation_after_lower_records() {
    let s = Scheduler::new(2);
    assert_eq!(next(&s), exec(0, 0));
    assert_eq!(next(&s), exec(1, 0));
    // 1 finishes and is validated before 0 records: that validation proves nothing.
    assert_eq!(s.finish_execution(1, 0, true), None);
    let early = s.start_validation();
    assert_eq!(s.finish_execution(0, 0, true), None);
    let late = s.start_validation();
    assert!(early < late);
    // Pretend the sweep handed out (1, 0) before 0 finished.
    s.begin_task();
    assert_eq!(s.finish_validation(1, 0, early, false), None);
    let mut committer = s.try_commit().expect("free");
    let first = committer.next_candidate().expect("0 executed");
    assert_eq!(first.txn_idx, 0);
    assert!(first.needs_validation, "never validated");
    assert!(committer.commit(first));
    let second = committer.next_candidate().expect("1 executed");
    assert!(second.needs_validation, "validated before 0's final record");
    drop(committer);
    s.begin_task();
    assert_eq!(s.finish_validation(1, 0, late, false), None);
    let mut committer = s.try_commit().expect("free");
    let second = committer.next_candidate().expect("1 executed");
    assert!(!second.needs_validation);
    assert!(committer.commit(second));
    assert_eq!(s.committed(), 2);
    drop(committer);
    assert!(s.done());
}

#[test]
fn commit_fails_if_aborted_in_between_and_aborted_txn_cannot_commit() {
    let s = Scheduler::new(1);
    assert_eq!(next(&s), exec(0, 0));
    assert_eq!(s.finish_execution(0, 0, true), None);
    let mut committer = s.try_commit().expect("free");
    let candidate = committer.next_candidate().expect("executed");
    assert!(s.try_validation_abort(0, 0));
    assert!(!committer.commit(candidate));
    assert_eq!(committer.next_candidate(), None);
    assert_eq!(s.committed(), 0);
}

#[test]
fn committed_txn_cannot_be_aborted() {
    let s = Scheduler::new(1);
    assert_eq!(next(&s), exec(0, 0));
    assert_eq!(s.finish_execution(0, 0, true), None);
    let mut committer = s.try_commit().expect("free");
    let candidate = committer.next_candidate().expect("executed");
    assert!(committer.commit(candidate));
    assert!(!s.try_validation_abort(0, 0));
    assert_eq!(s.status(0), (TxnStatus::Committed, 0));
}

#[test]
fn commit_time_abort_returns_reexecution() {
    let s = Scheduler::new(1);
    assert_eq!(next(&s), exec(0, 0));
    assert_eq!(s.finish_execution(0, 0, true), None);
    let mut committer = s.try_commit().expect("free");
    let candidate = committer.next_candidate().expect("executed");
    assert!(committer.try_abort(candidate));
    assert_eq!(committer.finish_abort(candidate), exec(0, 1));
    assert!(s.try_commit().is_some(), "the commit role was released");
}

#[test]
fn only_one_committer_at_a_time() {
    let s = Scheduler::new(1);
    let first = s.try_commit();
    assert!(first.is_some());
    assert!(s.try_commit().is_none());
}

#[test]
fn halt_makes_done() {
    let s = Scheduler::new(3);
    s.halt();
    assert!(s.done() && s.is_halted());
    assert_eq!(s.next_task(), None);
}
