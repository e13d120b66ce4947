//! The driver's contract at the edges of what its types allow: a commit sink that fails
//! (or panics) at any transaction, and claim sizes and thread counts from the whole
//! `usize` range. Both found by issue 18: a worker already past its `done` check could
//! take the commit role after the sink failed and hand it later outputs, and claim sizes
//! near `usize::MAX` wrapped the scheduler's counters so that the run never finished.

mod support;

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use blockstm_driver::{run_parallel, CommitSink, DriverError};
use proptest::prelude::*;
use support::*;

/// How long a run may take before the watchdog calls it a hang. Generous: the blocks are
/// small, but CI runs tests beside each other on two cores.
const WATCHDOG: Duration = Duration::from_secs(60);

/// Runs `body` on a thread of its own and fails the test if it does not finish within
/// [`WATCHDOG`] (a hung run would otherwise hang CI).
fn with_watchdog<R: Send + 'static>(what: String, body: impl FnOnce() -> R + Send + 'static) -> R {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        // The receiver is gone only when the watchdog already failed the test.
        let _ = done.send(body());
    });
    match finished.recv_timeout(WATCHDOG) {
        Ok(result) => result,
        Err(_) => panic!("{what}: no result within {WATCHDOG:?} (a hang)"),
    }
}

/// What the failing sink does at its chosen transaction.
#[derive(Clone, Copy, Debug)]
enum Failure {
    Error,
    Panic,
}

/// A sink that records every call it receives, and fails at `fail_at`.
struct FailingSink<'a> {
    fail_at: u32,
    failure: Failure,
    calls: &'a Mutex<Vec<u32>>,
}

impl CommitSink<Vec<u64>, String> for FailingSink<'_> {
    fn commit(&mut self, txn_idx: u32, _output: &Vec<u64>) -> Result<(), String> {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(txn_idx);
        if txn_idx != self.fail_at {
            return Ok(());
        }
        match self.failure {
            Failure::Error => Err(format!("sink fails at {txn_idx}")),
            Failure::Panic => panic!("sink panics at {txn_idx}"),
        }
    }
}

/// A block for the sink property: seeds, a failure index inside it, hints and claims.
fn failing_block_strategy() -> impl Strategy<Value = (MockBlock, u32)> {
    (
        2u64..24,
        proptest::collection::vec(any::<u64>(), 1..500),
        prop_oneof![Just(0u32), 1u32..4],
        prop_oneof![Just(1usize), Just(2usize), 3usize..=32],
        any::<prop::sample::Index>(),
        frontier_run_strategy(),
    )
        .prop_map(
            |(num_keys, seeds, predecessor_gap, claim_size, fail_at, frontier_run)| {
                let fail_at = fail_at.index(seeds.len()) as u32;
                let mut block = MockBlock::new(seeds, HashMap::new(), num_keys);
                block.predecessor_gap = predecessor_gap;
                block.claim_size = claim_size;
                block.frontier_run = frontier_run;
                (block, fail_at)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    /// Once the sink has failed, nothing more reaches it: it has seen exactly the block's
    /// prefix up to the failure, in order, and the run reports the sink's error.
    #[test]
    fn nothing_reaches_the_sink_after_it_failed(
        (block, fail_at) in failing_block_strategy(),
        threads in 1usize..=8,
        panics in any::<bool>(),
    ) {
        let failure = if panics { Failure::Panic } else { Failure::Error };
        let what = format!(
            "{} transactions, failing at {fail_at} ({failure:?}), {threads} threads",
            block.txns.len()
        );
        let (calls, result) = with_watchdog(what.clone(), move || {
            let calls = Mutex::new(Vec::new());
            let sink = FailingSink { fail_at, failure, calls: &calls };
            let result = block.run_into(threads, sink)
                .map(|(run, _)| run.stats);
            let calls = calls.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
            (calls, result)
        });
        let prefix: Vec<u32> = (0..=fail_at).collect();
        prop_assert_eq!(&calls, &prefix, "{}", what);
        match (failure, result) {
            (Failure::Error, Err(DriverError::Sink { error: message, .. })) => {
                prop_assert_eq!(message, format!("sink fails at {fail_at}"));
            }
            (Failure::Panic, Err(DriverError::Panicked(message))) => {
                prop_assert_eq!(message, format!("sink panics at {fail_at}"));
            }
            (_, other) => prop_assert!(false, "{}: the run returned {:?}", what, other),
        }
    }
}

/// Claim sizes from the whole `usize` range, the edges included.
fn claim_size_strategy(num_txns: usize) -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0usize),
        Just(1usize),
        Just(2usize),
        Just(num_txns),
        Just(num_txns + 1),
        Just(1usize << 32),
        Just(1usize << 63),
        Just(usize::MAX),
        any::<usize>(),
    ]
}

fn block_with_any_claim() -> impl Strategy<Value = MockBlock> {
    (
        1u64..24,
        proptest::collection::vec(any::<u64>(), 0..450),
        prop_oneof![Just(0u32), 1u32..4],
    )
        .prop_flat_map(|(num_keys, seeds, predecessor_gap)| {
            let num_txns = seeds.len();
            claim_size_strategy(num_txns).prop_map(move |claim_size| {
                let mut block = MockBlock::new(seeds.clone(), HashMap::new(), num_keys);
                block.claim_size = claim_size;
                block.predecessor_gap = predecessor_gap;
                block
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    /// Every claim size a task may return, 0 and `usize::MAX` included, gives the
    /// sequential baseline's result, and the run finishes.
    #[test]
    fn any_claim_size_finishes_with_the_baseline(
        block in block_with_any_claim(),
        threads in 1usize..=8,
    ) {
        let what = format!(
            "{} transactions, claim size {}, {threads} threads",
            block.txns.len(),
            block.claim_size
        );
        let (expected, result) = with_watchdog(what.clone(), move || {
            let expected = sequential(&block);
            let result = block.run_into(threads, OrderSink::default())
                .map(|(run, sink)| (run.outputs, run.writes, sink.committed));
            (expected, result)
        });
        let (outputs, writes, committed) = match result {
            Ok(run) => run,
            Err(error) => return Err(TestCaseError::fail(format!("{what}: {error:?}"))),
        };
        prop_assert_eq!(outputs, expected.0, "{}", what);
        prop_assert_eq!(writes.into_iter().collect::<HashMap<_, _>>(), expected.1, "{}", what);
        let in_order: Vec<u32> = (0..committed.len() as u32).collect();
        prop_assert_eq!(committed, in_order, "{}", what);
    }
}

/// Thread counts far beyond the block (up to `usize::MAX`) are clamped to it, not spawned.
#[test]
fn any_thread_count_runs_the_block() {
    for threads in [0, 1, 63, 64, 65, 1 << 40, usize::MAX] {
        let block = MockBlock::new(0..64, HashMap::new(), 5);
        let expected = sequential(&block);
        let (run, sink) = with_watchdog(format!("{threads} threads"), move || {
            block
                .run_into(threads, OrderSink::default())
                .expect("a small block runs")
        });
        assert_eq!(run.outputs, expected.0, "{threads} threads");
        assert_eq!(sink.committed, (0..64).collect::<Vec<u32>>());
    }
}

/// A block the scheduler cannot number is refused with a typed error, before any work.
#[cfg(target_pointer_width = "64")]
#[test]
fn a_block_beyond_the_index_type_is_refused() {
    let block = MockBlock::new([1, 2, 3], HashMap::new(), 5);
    let too_many = u32::MAX as usize + 1;
    match run_parallel(&block, too_many, block.plan(), 2, OrderSink::default()) {
        Err(DriverError::TooManyTransactions { num_txns }) => assert_eq!(num_txns, too_many),
        other => panic!(
            "expected a refusal, got {:?}",
            other.map(|(run, _)| run.stats)
        ),
    }
}

/// The sizes that hung before the clamp, on the thread counts and block sizes that hung,
/// many times over (a hang needs a particular interleaving).
#[test]
fn huge_claims_on_two_and_three_threads_finish() {
    for round in 0..60u64 {
        for size in [1usize << 63, usize::MAX] {
            let threads = 2 + (round % 2) as usize;
            let num_txns = 57 + (round * 37 % 388);
            let mut block = MockBlock::new(
                (0..num_txns).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ round),
                HashMap::new(),
                1 + round % 6,
            );
            block.claim_size = size;
            let expected = sequential(&block);
            let what = format!("{num_txns} transactions, claim {size}, {threads} threads");
            let run = with_watchdog(what.clone(), move || {
                block
                    .run_into(threads, OrderSink::default())
                    .map(|(run, _)| run.outputs)
                    .map_err(|error| format!("{error:?}"))
            });
            assert_eq!(run.as_ref(), Ok(&expected.0), "{what}");
        }
    }
}
