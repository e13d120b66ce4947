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

/// Commits every transaction ready to commit (validated or not: these tests do no memory
/// work); returns how many.
fn commit_ready(s: &Scheduler) -> usize {
    let mut committer = s.try_commit().expect("commit role");
    let mut committed = 0;
    while let Some(candidate) = committer.next_candidate() {
        assert!(committer.commit(candidate));
        committed += 1;
    }
    committed
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

#[test]
fn a_claim_starts_its_transactions_in_order_before_anything_else() {
    let s = Scheduler::new(7).with_claim_size(3);
    let mut mine = ExecutionClaim::default();
    let mut theirs = ExecutionClaim::default();
    assert_eq!(s.next_task_claiming(&mut mine), exec(0, 0));
    assert_eq!(mine.len(), 2);
    // Another worker's claim starts after this one's three transactions.
    assert_eq!(s.next_task_claiming(&mut theirs), exec(3, 0));
    assert_eq!(s.finish_execution(0, 0, true), None);
    // Transaction 0 could be validated now, but the claimed transactions come first.
    assert_eq!(s.next_task_claiming(&mut mine), exec(1, 0));
    assert_eq!(s.next_task_claiming(&mut mine), exec(2, 0));
    assert!(mine.is_empty());
    assert_eq!(s.next_task_claiming(&mut mine), val(0, 0));
}

#[test]
fn claimed_transactions_keep_the_block_from_being_done() {
    let s = Scheduler::new(2).with_claim_size(2);
    let mut claim = ExecutionClaim::default();
    assert_eq!(s.next_task_claiming(&mut claim), exec(0, 0));
    assert_eq!(s.finish_execution(0, 0, true), None);
    assert_eq!(commit_ready(&s), 1);
    // Transaction 1 is claimed but not started: nobody else may finish the block.
    for _ in 0..4 {
        assert_eq!(s.next_task(), None);
        assert!(!s.done());
    }
    assert_eq!(s.next_task_claiming(&mut claim), exec(1, 0));
    assert_eq!(s.finish_execution(1, 0, true), None);
    let mut committer = s.try_commit().expect("commit role");
    let candidate = committer.next_candidate().expect("1 executed");
    assert!(candidate.needs_validation);
    assert!(committer.commit(candidate));
    drop(committer);
    assert_eq!(s.next_task_claiming(&mut claim), None);
    assert!(s.done());
}

#[test]
fn a_claim_past_the_end_of_the_block_is_cut_to_it() {
    let s = Scheduler::new(3).with_claim_size(16);
    let mut first = ExecutionClaim::default();
    let mut second = ExecutionClaim::default();
    assert_eq!(s.next_task_claiming(&mut first), exec(0, 0));
    assert_eq!(first.len(), 2);
    assert_eq!(s.next_task_claiming(&mut second), None);
    assert!(second.is_empty());
    // Only the three real transactions count as active: once they are done, so is the block.
    for txn_idx in 0..3 {
        if txn_idx > 0 {
            assert_eq!(s.next_task_claiming(&mut first), exec(txn_idx, 0));
        }
        assert_eq!(s.finish_execution(txn_idx, 0, true), None);
    }
    commit_ready(&s);
    assert_eq!(s.next_task_claiming(&mut second), None);
    assert!(s.done());
}

#[test]
fn a_claimed_transaction_started_elsewhere_is_skipped() {
    let s = Scheduler::new(4).with_claim_size(2);
    let mut claim = ExecutionClaim::default();
    assert_eq!(s.next_task_claiming(&mut claim), exec(0, 0));
    // A worker without a claim of its own sweeps on to 2 and 3; then 1, still in the
    // claim above, is started by nobody else, and the claimant finds it ready.
    assert_eq!(s.next_task(), exec(2, 0));
    assert_eq!(s.finish_execution(0, 0, true), None);
    assert_eq!(s.next_task_claiming(&mut claim), exec(1, 0));
    // Had the execution sweep been pulled back under a claim, the other worker would
    // start the claimed transaction first; the claimant then skips it.
    let s = Scheduler::new(3).with_claim_size(3);
    let mut claim = ExecutionClaim::default();
    assert_eq!(s.next_task_claiming(&mut claim), exec(0, 0));
    assert_eq!(s.try_incarnate(1), exec(1, 0));
    assert_eq!(s.next_task_claiming(&mut claim), exec(2, 0));
}

#[test]
fn next_task_without_a_claim_takes_one_transaction_whatever_the_claim_size() {
    // A claim made through `next_task` would be dropped with its unstarted transactions
    // still counted active, and the block would never be done.
    let s = Scheduler::new(2).with_claim_size(8);
    assert_eq!(next(&s), exec(0, 0));
    assert_eq!(next(&s), exec(1, 0));
    assert_eq!(s.finish_execution(0, 0, true), None);
    assert_eq!(s.finish_execution(1, 0, true), None);
    commit_ready(&s);
    assert_eq!(s.next_task(), None);
    assert!(s.done());
}

/// An execution's reads count as a validation from the epoch taken before them: after
/// every lower recording they need no validation at commit; before one, they do.
#[test]
fn reads_taken_after_every_lower_recording_need_no_commit_validation() {
    let s = Scheduler::new(3);
    for txn_idx in 0..3 {
        assert_eq!(next(&s), exec(txn_idx, 0));
    }
    // Transaction 1 starts reading before transaction 0 records its writes.
    let early = s.start_validation();
    assert_eq!(s.finish_execution(0, 0, true), None);
    assert_eq!(s.finish_execution_read_at(1, 0, true, early), None);
    // Transaction 2 starts reading after both have recorded.
    let late = s.start_validation();
    assert_eq!(s.finish_execution_read_at(2, 0, true, late), None);

    let mut committer = s.try_commit().expect("commit role");
    let first = committer.next_candidate().expect("executed");
    assert!(first.needs_validation, "no validation of 0 ran at all");
    assert!(committer.commit(first));
    let second = committer.next_candidate().expect("executed");
    assert!(
        second.needs_validation,
        "1 read before 0 recorded: its reads may be stale"
    );
    assert!(committer.commit(second));
    let third = committer.next_candidate().expect("executed");
    assert!(
        !third.needs_validation,
        "2 read after every lower recording: its reads are a definitive validation"
    );
    assert!(committer.commit(third));
}

#[test]
fn claim_sizes_are_clamped_to_the_block() {
    for (asked, num_txns, expected) in [
        (0, 5, 1),
        (1, 5, 1),
        (5, 5, 5),
        (6, 5, 5),
        (1 << 63, 5, 5),
        (usize::MAX, 5, 5),
        (usize::MAX, 0, 1),
    ] {
        let s = Scheduler::new(num_txns).with_claim_size(asked);
        assert_eq!(s.claim_size(), expected, "claim size {asked} on {num_txns}");
    }
}

#[test]
fn a_claim_of_usize_max_runs_the_block_to_its_end() {
    // Before the clamp, two claims of 2^63 wrapped `execution_idx` back to the start and
    // a claim of `usize::MAX` wrapped the active-task count, so the block never finished.
    for size in [1usize << 63, usize::MAX] {
        let s = Scheduler::new(7).with_claim_size(size);
        let mut claims = [ExecutionClaim::default(), ExecutionClaim::default()];
        let mut executed = Vec::new();
        for round in 0..100 {
            if s.done() {
                break;
            }
            // Two workers asking in turn, each keeping its own claim.
            let mut task = s.next_task_claiming(&mut claims[round % 2]);
            while let Some(next) = task {
                task = match next {
                    Task::Execute {
                        txn_idx,
                        incarnation,
                    } => {
                        executed.push(txn_idx);
                        s.finish_execution(txn_idx, incarnation, true)
                    }
                    Task::Validate {
                        txn_idx,
                        incarnation,
                    } => {
                        let epoch = s.start_validation();
                        s.finish_validation(txn_idx, incarnation, epoch, false)
                    }
                };
            }
            if let Some(mut committer) = s.try_commit() {
                while let Some(candidate) = committer.next_candidate() {
                    assert!(committer.commit(candidate));
                }
            }
        }
        assert!(s.done(), "claim size {size}: the block must finish");
        assert_eq!(executed, (0..7).collect::<Vec<_>>());
    }
}

#[test]
fn workers_claiming_at_once_count_exactly_what_they_claimed() {
    // Two workers that both passed the sweep's bound check before either claimed: the
    // second claim lies past the block, and must leave no active task behind. Before the
    // clamp, two claims of 2^63 wrapped `execution_idx` to 0 and left one task counted
    // active for good, so the block never finished.
    for asked in [2, 5, 6, 1 << 63, usize::MAX] {
        let s = Scheduler::new(5).with_claim_size(asked);
        let size = s.claim_size();
        let first = s.claim_executions(size);
        let second = s.claim_executions(size);
        assert_eq!((first.next, first.end), (0, size), "claim size {asked}");
        assert_eq!(
            second.len() + first.len(),
            5.min(2 * size),
            "claim size {asked}"
        );
        assert_eq!(
            s.num_active_tasks.load(ORDER),
            first.len() + second.len(),
            "claim size {asked}: only claimed transactions count as active"
        );
        assert!(s.execution_idx.load(ORDER) <= 2 * 5, "claim size {asked}");
    }
}

/// A run of every transaction of the block, as one worker makes it.
#[test]
fn a_frontier_run_starts_and_commits_the_block_in_order() {
    let s = Scheduler::new(4);
    let mut committer = s.try_commit().expect("commit role");
    let (mut run, incarnation) = committer.begin_run(usize::MAX).expect("0 is ready");
    assert_eq!((run.start(), incarnation), (0, 0));
    assert_eq!(s.status(0), (TxnStatus::Executing, 0));
    let mut started = vec![0];
    while let Some((txn_idx, incarnation)) = committer.start_at_frontier(&mut run) {
        assert_eq!(incarnation, 0);
        started.push(txn_idx);
    }
    assert_eq!(started, [0, 1, 2, 3]);
    assert!(!s.done(), "the run is still an active task");
    committer.commit_run(run);
    drop(committer);
    assert_eq!(s.committed(), 4);
    assert!((0..4).all(|txn_idx| s.status(txn_idx).0 == TxnStatus::Committed));
    assert!(s.done());
    assert_eq!(s.next_task(), None);
}

#[test]
fn a_run_does_not_start_what_another_worker_runs() {
    let s = Scheduler::new(3);
    assert_eq!(next(&s), exec(0, 0));
    let mut committer = s.try_commit().expect("commit role");
    assert_eq!(
        committer.begin_run(8),
        None,
        "0 is being executed elsewhere"
    );
    drop(committer);
    // Nothing changed: the sweep goes on from 1.
    assert_eq!(next(&s), exec(1, 0));
    assert_eq!(s.finish_execution(0, 0, true), None);
    let mut committer = s.try_commit().expect("commit role");
    let candidate = committer.next_candidate().expect("0 executed");
    assert!(committer.commit(candidate));
    // 1 is executing elsewhere too; a run from 1 cannot begin.
    assert_eq!(committer.begin_run(8), None);
}

#[test]
fn a_run_that_stops_early_gives_the_sweep_back() {
    let s = Scheduler::new(6);
    let mut committer = s.try_commit().expect("commit role");
    let (mut run, _) = committer.begin_run(4).expect("0 is ready");
    // The sweep skips what the run means to start…
    assert_eq!(s.execution_idx.load(ORDER), 4);
    assert_eq!(committer.start_at_frontier(&mut run), Some((1, 0)));
    // …but the run stops after 1 (its caller chose to), so 2 and 3 must be found again.
    committer.commit_run(run);
    drop(committer);
    assert_eq!(s.committed(), 2);
    assert_eq!(next(&s), exec(2, 0));
    assert_eq!(next(&s), exec(3, 0));
    assert_eq!(next(&s), exec(4, 0));
}

#[test]
fn a_run_stops_at_a_transaction_started_elsewhere() {
    let s = Scheduler::new(4).with_claim_size(1);
    let mut committer = s.try_commit().expect("commit role");
    let (mut run, _) = committer.begin_run(2).expect("0 is ready");
    // The sweep was moved to 2; a worker takes 2 while the run is on 0.
    assert_eq!(next(&s), exec(2, 0));
    assert_eq!(committer.start_at_frontier(&mut run), Some((1, 0)));
    assert_eq!(
        committer.start_at_frontier(&mut run),
        None,
        "the run is full"
    );
    committer.commit_run(run);
    assert_eq!(s.committed(), 2);
    assert_eq!(s.status(2), (TxnStatus::Executing, 0));
}

#[test]
fn a_handed_back_transaction_runs_again_on_the_ordinary_path() {
    let s = Scheduler::new(3);
    let mut committer = s.try_commit().expect("commit role");
    let (mut run, _) = committer.begin_run(3).expect("0 is ready");
    assert_eq!(committer.start_at_frontier(&mut run), Some((1, 0)));
    // 1 cannot finish at the frontier: it goes back, with its next incarnation.
    committer.hand_back(&mut run);
    assert_eq!(run.len(), 1);
    committer.commit_run(run);
    drop(committer);
    assert_eq!(s.committed(), 1);
    assert_eq!(s.status(1), (TxnStatus::ReadyToExecute, 1));
    assert_eq!(next(&s), exec(1, 1));
    assert_eq!(next(&s), exec(2, 0));
}

#[test]
fn a_run_that_commits_nothing_leaves_the_block_as_it_was() {
    let s = Scheduler::new(2);
    let mut committer = s.try_commit().expect("commit role");
    let (mut run, _) = committer.begin_run(2).expect("0 is ready");
    committer.hand_back(&mut run);
    assert!(run.is_empty());
    committer.commit_run(run);
    drop(committer);
    assert_eq!(s.committed(), 0);
    assert!(!s.done());
    assert_eq!(next(&s), exec(0, 1));
}

#[test]
fn a_run_resumes_the_dependents_of_its_transactions() {
    let s = Scheduler::new(3);
    // 0 runs speculatively, is aborted, and 2 waits on its ESTIMATE.
    assert_eq!(next(&s), exec(0, 0));
    assert_eq!(s.finish_execution(0, 0, true), None);
    assert!(s.try_validation_abort(0, 0));
    s.begin_task();
    assert_eq!(s.after_abort(0), exec(0, 1));
    assert!(s.add_dependency(2, 0), "0 is executing again: 2 waits");
    // The re-execution is handed back unexecuted (as a worker that stops would not):
    // simulate a run taking 0 instead by making it ready again.
    s.set_ready_status(0);
    s.end_task();
    let mut committer = s.try_commit().expect("commit role");
    let (run, incarnation) = committer.begin_run(1).expect("0 is ready again");
    assert_eq!(incarnation, 2);
    committer.commit_run(run);
    drop(committer);
    assert_eq!(s.status(0), (TxnStatus::Committed, 2));
    // 2 was resumed with its next incarnation, and the sweep finds it.
    let (status, incarnation) = s.status(2);
    assert_eq!(status, TxnStatus::ReadyToExecute);
    assert!(incarnation >= 1);
}

#[test]
fn a_run_makes_speculative_transactions_above_it_validate_again() {
    let s = Scheduler::new(3);
    // 1 and 2 run speculatively, one at a time, each claim taken with the sweep at 0.
    let mut claim = ExecutionClaim::default();
    s.execution_idx.store(1, ORDER);
    assert_eq!(s.next_task_claiming(&mut claim), exec(1, 0));
    let epoch = s.start_validation();
    assert_eq!(s.finish_execution_read_at(1, 0, true, epoch), None);
    // The validation sweep passes 1.
    s.validation_idx.store(2, ORDER);
    let mut committer = s.try_commit().expect("commit role");
    let (run, _) = committer.begin_run(1).expect("0 is ready");
    committer.commit_run(run);
    // 1 read before the run's writes were in memory: it must validate before committing.
    let candidate = committer.next_candidate().expect("1 executed");
    assert_eq!(candidate.txn_idx, 1);
    assert!(candidate.needs_validation);
    drop(committer);
    assert_eq!(
        s.validation_idx.load(ORDER),
        1,
        "the sweep is pulled back to the run's end"
    );
}
