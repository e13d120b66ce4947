//! The loom models. Each explores every interleaving (up to a preemption bound) of a tiny
//! block on the real scheduler, MVMemory and driver.
//!
//! Planted bugs: building with `--cfg loom_planted_bug="NAME"` switches a deliberate bug
//! on in the real code; the model that must catch it is then expected to fail
//! (`should_panic`), which proves the model can fail at all. `scripts/loom.sh` runs the
//! clean build and every planted variant.
#![cfg(loom)]

use loom_tests::harness::{assert_matches_baseline, leak, run_block, MockBlock, MockTxn};

fn model(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(bound);
    }
    builder.check(f);
}

fn rmw(keys: &[u8], credit: u64) -> MockTxn {
    MockTxn {
        reads: vec![],
        writes: keys.to_vec(),
        credit,
        fee: 1,
    }
}

/// 1. Scheduler counters: two workers, three conflicting transactions, so aborts and
/// re-executions happen in some interleavings. Every transaction executes, validates and
/// commits; the workers leave only when `done` rose, and `done` rose only once everything
/// committed (otherwise `finish` reports an invariant failure and this panics).
#[test]
#[cfg_attr(loom_planted_bug = "done_ignores_commit", should_panic)]
fn scheduler_counters() {
    model(2, || {
        let block = leak(MockBlock::new(
            vec![rmw(&[0], 1), rmw(&[0], 2), rmw(&[1], 3)],
            &[(0, 10)],
        ));
        let outcome = run_block(block, 2);
        let stats = assert_matches_baseline(block, outcome);
        assert!(stats.executions >= 3);
    });
}

/// 2. Dependencies: a chain 0 → 1 → 2 through keys 0 and 1. When 1 is aborted its write
/// becomes an ESTIMATE, and 2 waits on it; the wait always ends (a lost wake-up would spin
/// the workers until loom gives up on the execution).
#[test]
#[cfg_attr(loom_planted_bug = "skip_dependency_resume", should_panic)]
fn dependencies_always_resume() {
    model(2, || {
        let txns = vec![
            rmw(&[0], 5),
            MockTxn {
                reads: vec![0],
                writes: vec![1],
                credit: 1,
                fee: 1,
            },
            MockTxn {
                reads: vec![1],
                writes: vec![2],
                credit: 1,
                fee: 1,
            },
        ];
        let block = leak(MockBlock::new(txns, &[]));
        let outcome = run_block(block, 2);
        assert_matches_baseline(block, outcome);
    });
}

/// 2b. Nonce hints: a transaction held back until its hinted predecessor has executed is
/// always resumed (no lost wake-up, the run ends), and the hints change nothing in the
/// result, even where a hint is wrong (transaction 2's real dependency is transaction 1,
/// but it is hinted to transaction 0).
#[test]
fn hinted_transactions_always_resume() {
    model(2, || {
        let mut block = MockBlock::new(vec![rmw(&[0], 5), rmw(&[0], 1), rmw(&[0], 2)], &[]);
        block.predecessors = vec![None, Some(0), Some(0)];
        let block = leak(block);
        let outcome = run_block(block, 2);
        assert_matches_baseline(block, outcome);
    });
}

/// 3. Rolling commit: each transaction is committed exactly once, in block order, and only
/// with the output of its final, validated incarnation.
#[test]
#[cfg_attr(loom_planted_bug = "commit_without_validation", should_panic)]
fn rolling_commit_in_order_after_validation() {
    model(3, || {
        let block = leak(MockBlock::new(
            vec![
                rmw(&[0], 1),
                MockTxn {
                    reads: vec![0],
                    writes: vec![],
                    credit: 0,
                    fee: 1,
                },
            ],
            &[],
        ));
        let outcome = run_block(block, 2);
        assert_matches_baseline(block, outcome);
    });
}

/// 4a. Counters: the fee total equals the sum over the committed final incarnations. Fees
/// depend on what was read, so an aborted incarnation's fee differs and would show.
#[test]
#[cfg_attr(loom_planted_bug = "fold_at_execution", should_panic)]
fn fee_totals_come_from_final_incarnations() {
    model(2, || {
        let block = leak(MockBlock::new(vec![rmw(&[0], 1), rmw(&[0], 1)], &[(0, 1)]));
        let outcome = run_block(block, 2);
        assert_matches_baseline(block, outcome);
    });
}

/// 4b. Counters: an overflowing fee total ends the block with the error in every
/// interleaving, never with a result.
#[test]
fn fee_overflow_is_an_error_in_every_interleaving() {
    model(2, || {
        let big = MockTxn {
            reads: vec![],
            writes: vec![0],
            credit: 1,
            fee: u64::MAX - 5,
        };
        let block = leak(MockBlock::new(vec![big.clone(), big], &[]));
        match run_block(block, 2) {
            Err(blockstm_driver::DriverError::Fatal(message)) => {
                assert_eq!(message, "fee overflow")
            }
            other => panic!(
                "expected the overflow error, got {:?}",
                other.map(|(run, _)| run.stats)
            ),
        }
    });
}

/// 5. Reward-once: the prologue credits the miner (key 0); transactions read and write the
/// miner's balance and get re-executed; the committed balance holds the reward exactly once.
#[test]
#[cfg_attr(loom_planted_bug = "reward_in_transaction", should_panic)]
fn miner_reward_applied_exactly_once() {
    model(2, || {
        let mut block = MockBlock::new(vec![rmw(&[0], 7), rmw(&[0], 11)], &[(0, 100)]);
        block.reward = 1_000;
        let block = leak(block);
        let outcome = run_block(block, 2);
        assert_matches_baseline(block, outcome);
        assert_eq!(
            block
                .reward_applications
                .load(std::sync::atomic::Ordering::SeqCst),
            1
        );
        assert!(
            block.storage[&0] == 1_100,
            "the base layer holds storage + reward"
        );
    });
}

/// 6. MVMemory on one key: a writer records, is aborted (ESTIMATE) and records again while
/// a reader reads and validates. The reader sees a whole version or a dependency, never a
/// value paired with another version; a read taken while the ESTIMATE stood is a
/// dependency; and a stale read never validates once the rewrite is in.
#[test]
#[cfg_attr(loom_planted_bug = "skip_estimates", should_panic)]
fn mvmemory_one_key() {
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Arc;
    use mvmemory::{MVMemory, ReadResult, Version};

    model(3, || {
        let memory: Arc<MVMemory<u8, u64>> = Arc::new(MVMemory::new(2));
        // 0: nothing yet, 1: first write in, 2: ESTIMATE in, 3: second write starting,
        // 4: second write in.
        let phase = Arc::new(AtomicUsize::new(0));
        let writer = {
            let (memory, phase) = (Arc::clone(&memory), Arc::clone(&phase));
            loom::thread::spawn(move || {
                memory.record(Version::new(0, 0), vec![], [(7, 100)]);
                phase.store(1, Ordering::SeqCst);
                memory.convert_writes_to_estimates(0);
                phase.store(2, Ordering::SeqCst);
                phase.store(3, Ordering::SeqCst);
                memory.record(Version::new(0, 1), vec![], [(7, 200)]);
                phase.store(4, Ordering::SeqCst);
            })
        };
        let before = phase.load(Ordering::SeqCst);
        let mut reads = Vec::new();
        let result = memory.read_recorded(&7, 1, &mut reads);
        let after = phase.load(Ordering::SeqCst);
        match &result {
            ReadResult::NotFound => assert!(before < 1),
            ReadResult::Value { version, value } => {
                let whole = (*version == Version::new(0, 0) && *value == 100)
                    || (*version == Version::new(0, 1) && *value == 200);
                assert!(whole, "torn read: {version:?} with {value}");
                if *value == 100 {
                    assert!(
                        before < 2,
                        "read the first write after it became an ESTIMATE"
                    );
                }
            }
            ReadResult::Dependency { blocking_txn } => {
                assert_eq!(*blocking_txn, 0);
                assert!(after >= 1, "an ESTIMATE before anything was written");
            }
            // Only full values are written here: no delta to sum, no base to ask for.
            ReadResult::Summed { .. } | ReadResult::NeedsBase => {
                panic!("a delta result with no delta written: {result:?}")
            }
        }
        if before == 2 && after == 2 {
            assert_eq!(
                result,
                ReadResult::Dependency { blocking_txn: 0 },
                "the ESTIMATE stood throughout"
            );
        }
        // A dependency is not a read: nothing to record or validate.
        let recorded = !reads.is_empty();
        if recorded {
            memory.record(Version::new(1, 0), reads, []);
        }
        writer.join().expect("writer");
        // Everything is in: only a read of the final version validates (a dependency is not
        // a read, and ends the incarnation instead).
        if recorded {
            let valid = memory.validate_read_set(1);
            let read_final = matches!(result, ReadResult::Value { version, .. } if version == Version::new(0, 1));
            assert_eq!(
                valid, read_final,
                "validation after the rewrite: {result:?}"
            );
        }
    });
}
