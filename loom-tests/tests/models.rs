//! The loom models. Each explores every interleaving (up to a preemption bound) of a tiny
//! block on the real scheduler, MVMemory and driver.
//!
//! Planted bugs: running with `LOOM_PLANTED_BUG=NAME` switches a deliberate bug on in
//! the real code (see the `blockstm-sync` crate); the model that guards against it must then
//! fail, which proves the model can fail at all. `scripts/loom.sh` builds once, runs the
//! models on the real code, then runs each guarding model with its bug and checks that
//! it fails.
#![cfg(loom)]

use loom_tests::harness::{
    assert_matches_baseline, leak, run_block, run_block_into, FailingSink, MockBlock, MockTxn,
};

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
        ..MockTxn::default()
    }
}

/// 1. Scheduler counters: two workers, three conflicting transactions, so aborts and
/// re-executions happen in some interleavings. Every transaction executes, validates and
/// commits; the workers leave only when `done` rose, and `done` rose only once everything
/// committed (otherwise `finish` reports an invariant failure and this panics).
#[test]
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
fn dependencies_always_resume() {
    model(2, || {
        let txns = vec![
            rmw(&[0], 5),
            MockTxn {
                reads: vec![0],
                writes: vec![1],
                credit: 1,
                fee: 1,
                ..MockTxn::default()
            },
            MockTxn {
                reads: vec![1],
                writes: vec![2],
                credit: 1,
                fee: 1,
                ..MockTxn::default()
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

/// 2c. Execution claims: a worker claims two consecutive transactions at once. Claimed
/// transactions that the worker has not started keep the block from being done (a worker
/// leaving early would make `finish` report uncommitted transactions), the other worker
/// starts what the sweep hands it when the execution sweep is pulled back under a claim,
/// and the result is the baseline's. All three transactions write key 0, so aborts and
/// ESTIMATE waits happen inside a claim and across the two.
#[test]
fn claims_of_two_commit_everything() {
    model(3, || {
        let mut block = MockBlock::new(vec![rmw(&[0], 5), rmw(&[0], 1), rmw(&[0, 1], 2)], &[]);
        block.claim_size = 2;
        let block = leak(block);
        let outcome = run_block(block, 2);
        let stats = assert_matches_baseline(block, outcome);
        assert!(stats.executions >= 3);
    });
}

/// 2d. Sinks: key 1 is settled at commit. Transactions 0 and 1 credit it by deltas
/// (transaction 1 also rewrites key 0, so it can be aborted and run again), and
/// transaction 2 reads it: a read that must wait until both have committed and then see
/// their sum. The wait is never lost (the run ends: a waiter that announced itself after
/// the committer last looked at the waiters sees the frontier instead), and the read
/// sees the baseline's value.
#[test]
fn sink_readers_wait_for_the_settled_frontier() {
    model(2, || {
        let credit = |delta| MockTxn {
            deltas: vec![(1, delta)],
            fee: 1,
            ..MockTxn::default()
        };
        let mut block = MockBlock::new(
            vec![
                credit(5),
                MockTxn {
                    writes: vec![0],
                    ..credit(7)
                },
                MockTxn {
                    reads: vec![1],
                    writes: vec![0],
                    fee: 1,
                    ..MockTxn::default()
                },
            ],
            &[(1, 10)],
        );
        block.sinks = vec![1];
        let block = leak(block);
        let outcome = run_block(block, 2);
        let stats = assert_matches_baseline(block, outcome);
        assert_eq!(stats.delta_reads, 0, "a sink is never summed: {stats:?}");
    });
}

/// 3. Rolling commit: each transaction is committed exactly once, in block order, and only
/// with the output of its final, validated incarnation. An execution's own reads count as
/// a validation only from the epoch taken before them, so the reader here, which may run
/// while the writer below it records, is validated again when that happened.
#[test]
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
                    ..MockTxn::default()
                },
            ],
            &[],
        ));
        let outcome = run_block(block, 2);
        assert_matches_baseline(block, outcome);
    });
}

/// 3b. Frontier runs: the commit role runs the next transaction itself when nobody has
/// started it, on final state, and commits it at once, while the other worker runs the
/// transactions above speculatively. A reader that read key 0 before the run published
/// its write there must be validated again before it commits (the run's commit takes a
/// new write epoch), and the run's writes must reach the memory for readers above and for
/// the final state.
#[test]
fn frontier_runs_beside_speculation() {
    model(2, || {
        let mut block = MockBlock::new(
            vec![
                rmw(&[0], 4),
                MockTxn {
                    reads: vec![0],
                    writes: vec![1],
                    fee: 1,
                    ..MockTxn::default()
                },
                rmw(&[1], 2),
            ],
            &[(0, 3)],
        );
        block.frontier_run = 1;
        let block = leak(block);
        let outcome = run_block(block, 2);
        // Some interleavings run transaction 0 speculatively first and make no run;
        // the planted bugs of `scripts/loom.sh` show that the others do.
        assert_matches_baseline(block, outcome);
    });
}

/// 4a. Counters: the fee total equals the sum over the committed final incarnations. Fees
/// depend on what was read, so an aborted incarnation's fee differs and would show.
#[test]
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
            ..MockTxn::default()
        };
        let block = leak(MockBlock::new(vec![big.clone(), big], &[]));
        match run_block(block, 2) {
            Err(blockstm_driver::DriverError::Sink { error: message, .. }) => {
                assert_eq!(message, "fee overflow")
            }
            other => panic!(
                "expected the overflow error, got {:?}",
                other.map(|(run, _)| run.stats)
            ),
        }
    });
}

/// 4c. A failed sink receives nothing more: once a commit has failed, no worker (one that
/// was past its `done` check included) hands the sink a later output.
#[test]
fn nothing_reaches_a_failed_sink() {
    model(2, || {
        let log = loom::sync::Arc::new(loom::sync::Mutex::new(Vec::new()));
        let sink = FailingSink {
            fail_at: 0,
            log: log.clone(),
        };
        let block = leak(MockBlock::new(
            vec![rmw(&[0], 1), rmw(&[1], 1), rmw(&[2], 1)],
            &[],
        ));
        match run_block_into(block, 2, sink) {
            Err(blockstm_driver::DriverError::Sink { error: message, .. }) => {
                assert_eq!(message, "sink fails at 0")
            }
            other => panic!(
                "expected the sink's error, got {:?}",
                other.map(|(run, _)| run.stats)
            ),
        }
        let log = log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        assert_eq!(*log, vec![0], "the sink was handed outputs after it failed");
    });
}

/// 5. Reward-once: the prologue credits the miner (key 0); transactions read and write the
/// miner's balance and get re-executed; the committed balance holds the reward exactly once.
#[test]
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
            // Only full values are written here: no delta to sum, no base to ask for,
            // and no sink.
            ReadResult::Summed { .. }
            | ReadResult::NeedsBase
            | ReadResult::Settled { .. }
            | ReadResult::Unsettled => {
                panic!("a delta or sink result with no delta or sink: {result:?}")
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

/// 6a. The key index's id table (`mvmemory::id_table`): two threads meet key 1 first at
/// once, while one of them also places key 2 in the same probe window. The ids come from
/// a shared counter and each key is stored beside its id (Relaxed) before the id is
/// offered, as the index pushes a slot before publishing its id. Both threads must get
/// one id for key 1, never key 2's, and a lookup afterwards finds exactly those ids: a
/// check-then-store, or a publication that does not order the stored key before the id
/// (a reader would then not recognise the key and place it again), gives two.
#[test]
fn id_table_one_id_per_key() {
    use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};
    use loom::sync::Arc;
    use mvmemory::id_table::{IdTable, Lookup};

    /// What the index keeps beside the table: each id's key (0 before it is stored).
    struct Slots {
        next: AtomicU32,
        keys: [AtomicU64; 3],
    }

    impl Slots {
        fn intern(&self, table: &IdTable, key: u64) -> u32 {
            // Every key hashes to the same window, and to one fingerprint.
            table
                .intern(
                    7,
                    |id| self.keys[id as usize].load(Ordering::Relaxed) == key,
                    || {
                        let id = self.next.fetch_add(1, Ordering::Relaxed);
                        self.keys[id as usize].store(key, Ordering::Relaxed);
                        id
                    },
                )
                .expect("a window of 16 words holds two keys")
        }
    }

    model(3, || {
        let table = Arc::new(IdTable::with_capacity(0));
        let slots = Arc::new(Slots {
            next: AtomicU32::new(0),
            keys: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
        });
        let other = {
            let (table, slots) = (Arc::clone(&table), Arc::clone(&slots));
            loom::thread::spawn(move || {
                let two = slots.intern(&table, 2);
                (slots.intern(&table, 1), two)
            })
        };
        let one = slots.intern(&table, 1);
        let (other_one, two) = other.join().expect("interning thread");
        assert_eq!(one, other_one, "two ids for one key");
        assert_ne!(one, two, "two keys share an id");
        let found = |key: u64| {
            table.find(7, |id| {
                slots.keys[id as usize].load(Ordering::Relaxed) == key
            })
        };
        assert_eq!(found(1), Lookup::Found(one));
        assert_eq!(found(2), Lookup::Found(two));
        assert_eq!(found(3), Lookup::Absent);
    });
}

/// 6b. MVMemory with deltas, on one key whose base (10) is known. Transaction 0 records a
/// delta (+5), is aborted (ESTIMATE) and records its second incarnation (`second`: a
/// delta or a full value, leaving the key lower than the first did); transaction 1 records
/// a delta (+100) concurrently. Meanwhile a reader sums the key as transaction 2, and
/// reads it as the predicates "at least 16" (transaction 3: true at the end) and "at least
/// 112" (transaction 4: true only while the first +5 and the +100 are both in, false at
/// the end). Every total a reader sees is the base plus what the entries below held at
/// one moment (never a partial sum, nor the aborted +5 once the ESTIMATE is known to
/// stand); an ESTIMATE on the way down is a dependency; once everything is in, exactly
/// the reads that still hold in the final state validate. Committed in order, the deltas
/// resolve to the final total, which reads and the snapshot then give.
fn mvmemory_deltas(second: mvmemory::Write<u64>) {
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Arc;
    use mvmemory::{
        DeltaCommit, MVMemory, PredicateRead, ReadOrigin, ReadResult, Validation, Version, Write,
    };

    /// What transaction 0's entry held when a read took the key's lock.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Zero {
        Nothing,
        First,
        Estimate,
        Second,
    }
    const BASE: u64 = 10;
    /// The predicate readers: (transaction, threshold).
    const PREDICATES: [(u32, u64); 2] = [(3, 16), (4, 112)];

    model(3, move || {
        let second = second.clone();
        let second_in_total = second.clone();
        // The total transactions 2 to 4 see, for a state of the two entries below them
        // (`None`: a dependency).
        let total = move |zero: Zero, one: bool| -> Option<u64> {
            let one = if one { 100 } else { 0 };
            match (zero, &second_in_total) {
                (Zero::Nothing, _) => Some(BASE + one),
                (Zero::First, _) => Some(BASE + 5 + one),
                (Zero::Estimate, _) => None,
                (Zero::Second, Write::Delta(delta)) => {
                    Some(u64::try_from(i128::from(BASE) + delta).expect("small") + one)
                }
                (Zero::Second, Write::Value(value)) => Some(value + one),
            }
        };
        let final_total = total(Zero::Second, true).expect("no ESTIMATE at the end");

        let memory: Arc<MVMemory<u8, u64>> = Arc::new(MVMemory::new(5));
        memory.provide_base(&7, BASE);
        // Transaction 0. 0: nothing yet, 1: +5 in, 2: ESTIMATE in, 3: second write
        // starting, 4: second write in.
        let zero_phase = Arc::new(AtomicUsize::new(0));
        // Transaction 1. 0: nothing yet, 1: +100 starting, 2: +100 in.
        let one_phase = Arc::new(AtomicUsize::new(0));
        let zero = {
            let (memory, zero_phase, one_phase) = (
                Arc::clone(&memory),
                Arc::clone(&zero_phase),
                Arc::clone(&one_phase),
            );
            let second_write = second.clone();
            loom::thread::spawn(move || {
                memory.record_writes(Version::new(0, 0), vec![], [(7, Write::Delta(5))]);
                zero_phase.store(1, Ordering::SeqCst);
                memory.convert_writes_to_estimates(0);
                zero_phase.store(2, Ordering::SeqCst);
                zero_phase.store(3, Ordering::SeqCst);
                // Transaction 1's delta was in before this write: it was recorded above
                // another entry, so its commit counts a save.
                let one_was_in = one_phase.load(Ordering::SeqCst) == 2;
                memory.record_writes(Version::new(0, 1), vec![], [(7, second_write)]);
                zero_phase.store(4, Ordering::SeqCst);
                one_was_in
            })
        };
        let one = {
            let (memory, zero_phase, one_phase) = (
                Arc::clone(&memory),
                Arc::clone(&zero_phase),
                Arc::clone(&one_phase),
            );
            loom::thread::spawn(move || {
                // Transaction 0's final write was in before this one: no save.
                let zero_was_in = zero_phase.load(Ordering::SeqCst) == 4;
                one_phase.store(1, Ordering::SeqCst);
                memory.record_writes(Version::new(1, 0), vec![], [(7, Write::Delta(100))]);
                one_phase.store(2, Ordering::SeqCst);
                zero_was_in
            })
        };

        let (zero_before, one_before) = (
            zero_phase.load(Ordering::SeqCst),
            one_phase.load(Ordering::SeqCst),
        );
        let mut sum_reads = Vec::new();
        let summed = memory.read_recorded(&7, 2, &mut sum_reads);
        let predicates = PREDICATES.map(|(txn_idx, threshold)| {
            let mut reads = Vec::new();
            let result = memory.read_at_least(&7, txn_idx, threshold, &mut reads);
            (txn_idx, threshold, result, reads)
        });
        let (zero_after, one_after) = (
            zero_phase.load(Ordering::SeqCst),
            one_phase.load(Ordering::SeqCst),
        );
        // The states each entry may have held at some moment between the two loads.
        let zero_states: Vec<Zero> = [
            (Zero::Nothing, zero_before == 0),
            (Zero::First, zero_before < 2),
            (Zero::Estimate, zero_after >= 1 && zero_before < 4),
            (Zero::Second, zero_after >= 3),
        ]
        .into_iter()
        .filter_map(|(state, possible)| possible.then_some(state))
        .collect();
        let one_states: Vec<bool> = [(false, one_before < 2), (true, one_after >= 1)]
            .into_iter()
            .filter_map(|(state, possible)| possible.then_some(state))
            .collect();
        let possible = |wanted: &dyn Fn(Zero, bool) -> bool| {
            zero_states
                .iter()
                .any(|&zero| one_states.iter().any(|&one| wanted(zero, one)))
        };
        let phases = format!("phases {zero_before}..{zero_after}, {one_before}..{one_after}");
        // Transaction 0's ESTIMATE stood throughout (converted before the first load, the
        // rewrite not started at the last): every read is a dependency.
        let estimate_throughout = zero_before == 2 && zero_after == 2;

        match &summed {
            ReadResult::NotFound => assert!(
                possible(&|zero, one| zero == Zero::Nothing && !one),
                "nothing below, in {phases}"
            ),
            ReadResult::Value { version, value } => assert!(
                *version == Version::new(0, 1)
                    && second == Write::Value(*value)
                    && possible(&|zero, one| zero == Zero::Second && !one),
                "a full value read: {version:?} with {value}"
            ),
            ReadResult::Summed { value } => assert!(
                possible(&|zero, one| {
                    (zero, one) != (Zero::Nothing, false) && total(zero, one) == Some(*value)
                }),
                "summed {value}, in {phases}"
            ),
            ReadResult::Dependency { blocking_txn } => {
                assert_eq!(*blocking_txn, 0);
                assert!(
                    zero_states.contains(&Zero::Estimate),
                    "a dependency on no ESTIMATE"
                );
            }
            ReadResult::NeedsBase => panic!("the base was provided"),
            ReadResult::Settled { .. } | ReadResult::Unsettled => panic!("no sink here"),
        }
        if estimate_throughout {
            assert_eq!(summed, ReadResult::Dependency { blocking_txn: 0 });
        }
        // Each predicate reader's read, if it recorded one: the total it saw.
        let mut held = Vec::new();
        for (txn_idx, threshold, result, reads) in predicates {
            let seen = match (result, reads.as_slice()) {
                (PredicateRead::Holds, [read]) => match read.origin() {
                    ReadOrigin::AtLeast {
                        threshold: recorded,
                        seen,
                    } => {
                        assert_eq!(recorded, threshold);
                        assert!(
                            seen >= threshold
                                && possible(&|zero, one| total(zero, one) == Some(seen)),
                            "at least {threshold} held at {seen}, in {phases}"
                        );
                        Some(seen)
                    }
                    other => panic!("a predicate recorded as {other:?}"),
                },
                (PredicateRead::Fails, [read]) => {
                    assert_eq!(read.origin(), ReadOrigin::Below { threshold });
                    assert!(
                        possible(&|zero, one| total(zero, one).is_some_and(|t| t < threshold)),
                        "at least {threshold} failed, in {phases}"
                    );
                    None
                }
                (PredicateRead::Dependency { blocking_txn: 0 }, []) => {
                    assert!(
                        zero_states.contains(&Zero::Estimate),
                        "a dependency on no ESTIMATE"
                    );
                    None
                }
                other => panic!("at least {threshold}: {other:?}"),
            };
            if estimate_throughout {
                assert_eq!(result, PredicateRead::Dependency { blocking_txn: 0 });
            }
            // A dependency records nothing; a failed predicate records its negation.
            if !reads.is_empty() {
                memory.record(Version::new(txn_idx, 0), reads, []);
                held.push((txn_idx, threshold, seen));
            }
        }
        // A dependency is not a read: nothing to record or validate.
        let recorded = !sum_reads.is_empty();
        if recorded {
            memory.record(Version::new(2, 0), sum_reads, []);
        }
        let one_was_in = zero.join().expect("transaction 0");
        let zero_was_in = one.join().expect("transaction 1");

        // Everything is in: an exact read validates only if it saw the final total, a
        // predicate only if the final total satisfies it (a save if the total changed).
        if recorded {
            let read_final = match summed {
                ReadResult::Summed { value } | ReadResult::Value { value, .. } => {
                    value == final_total
                }
                _ => false,
            };
            assert_eq!(
                memory.validate_read_set(2),
                read_final,
                "validation of {summed:?} against {final_total}"
            );
        }
        for (txn_idx, threshold, seen) in held {
            let holds = final_total >= threshold;
            let validation = memory.validate(txn_idx);
            // A predicate that held validates while it holds; one that failed, while it
            // fails.
            assert_eq!(
                validation.valid,
                holds == seen.is_some(),
                "at least {threshold}, seen {seen:?}, against {final_total}"
            );
            if let (true, Some(seen)) = (holds, seen) {
                assert_eq!(
                    validation,
                    Validation {
                        valid: true,
                        predicate_saves: u32::from(seen != final_total),
                    }
                );
            }
        }

        // Commit in block order: the deltas resolve to the final total.
        let zero_deltas = u32::from(matches!(second, Write::Delta(_)));
        assert_eq!(
            memory.commit_deltas(0),
            DeltaCommit::Resolved {
                deltas: zero_deltas,
                saves: 0
            }
        );
        match memory.commit_deltas(1) {
            DeltaCommit::Resolved { deltas: 1, saves } => {
                if zero_was_in {
                    assert_eq!(saves, 0, "recorded above the final entry");
                }
                if one_was_in {
                    assert_eq!(saves, 1, "recorded before the final entry");
                }
            }
            other => panic!("transaction 1's commit: {other:?}"),
        }
        assert_eq!(
            memory.read(&7, 2),
            ReadResult::Summed { value: final_total }
        );
        assert_eq!(
            memory.read(&7, 1),
            match second {
                Write::Value(value) => ReadResult::Value {
                    version: Version::new(0, 1),
                    value,
                },
                Write::Delta(_) => ReadResult::Summed {
                    value: total(Zero::Second, false).expect("final"),
                },
            }
        );
        assert_eq!(
            memory.snapshot().expect("all resolved"),
            vec![(7, final_total)]
        );
    });
}

#[test]
fn mvmemory_deltas_rewritten_as_delta() {
    mvmemory_deltas(mvmemory::Write::Delta(-3));
}

#[test]
fn mvmemory_deltas_rewritten_as_value() {
    mvmemory_deltas(mvmemory::Write::Value(4));
}

/// A transaction that credits `key` by `delta` without reading it.
fn credit(key: u8, delta: i128) -> MockTxn {
    MockTxn {
        fee: 1,
        deltas: vec![(key, delta)],
        ..MockTxn::default()
    }
}

/// A transaction that only reads `keys`.
fn reader(keys: &[u8]) -> MockTxn {
    MockTxn {
        reads: keys.to_vec(),
        fee: 1,
        ..MockTxn::default()
    }
}

/// 7a. Deltas in the driver: two transactions credit one key by delta (no read, so
/// nothing for them to conflict on) while a third reads it. In every interleaving the
/// outputs and final state are the sequential ones, both deltas are resolved at commit,
/// and nothing runs exactly.
#[test]
fn driver_deltas_commute() {
    model(2, || {
        let block = leak(MockBlock::new(
            vec![credit(0, 5), credit(0, 7), reader(&[0])],
            &[(0, 10)],
        ));
        let outcome = run_block(block, 2);
        let stats = assert_matches_baseline(block, outcome);
        assert_eq!(block.sequential().0[2].read_sum, 22);
        assert_eq!(stats.delta_writes, 2, "{stats:?}");
        assert_eq!(stats.exact_reexecutions, 0, "{stats:?}");
    });
}

/// 7b. A delta that does not fit at commit: transaction 2's credit takes the key past
/// `u64::MAX`. The commit step finds it, in every interleaving, and runs transaction 2
/// again exactly (once: its exact incarnation never writes a delta again), where its
/// checked add fails and it writes nothing, as in the sequential baseline. The reader
/// between them sums transaction 0's credit onto the base.
#[test]
fn driver_delta_overflow_reexecutes_exactly() {
    model(2, || {
        let block = leak(MockBlock::new(
            vec![credit(0, 5), reader(&[0]), credit(0, 7)],
            &[(0, u64::MAX - 6)],
        ));
        let outcome = run_block(block, 2);
        let stats = assert_matches_baseline(block, outcome);
        let (outputs, _, _) = block.sequential();
        assert!(!outputs[0].failed && outputs[2].failed);
        assert_eq!(outputs[1].read_sum, u64::MAX - 1);
        assert_eq!(stats.exact_reexecutions, 1, "{stats:?}");
    });
}

/// 7c. As 7b with the reader above the overflowing credit. While transaction 1's delta
/// is uncommitted, the reader's sum (`u64::MAX - 6 + 5 + 7`) is out of range. Such a read
/// must not be re-executed in a loop on the same state (it once was: loom then reported
/// "Model exceeded maximum number of branches", on the schedule where the other worker
/// never runs); it stands until transaction 1's commit fails, and is re-executed once
/// transaction 1's exact re-execution changes the chain.
#[test]
fn driver_delta_overflow_below_a_reader() {
    model(2, || {
        let block = leak(MockBlock::new(
            vec![credit(0, 5), credit(0, 7), reader(&[0])],
            &[(0, u64::MAX - 6)],
        ));
        let outcome = run_block(block, 2);
        let stats = assert_matches_baseline(block, outcome);
        assert_eq!(stats.exact_reexecutions, 1, "{stats:?}");
    });
}
