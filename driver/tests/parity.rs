//! The generic Block-STM machinery (MVMemory + scheduler + driver) against a sequential
//! baseline, with the mock transactions of `support`, whose keys are only known at run time.

mod support;

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use blockstm_driver::{CommitSink, DriverError};
use proptest::prelude::*;
use support::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn parallel_run_equals_sequential_baseline(block in block_strategy(), threads in 1usize..=8) {
        let (expected_outputs, expected_writes) = sequential(&block);
        let (run, sink) = block.run_into(threads, OrderSink::default())
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(run.outputs, expected_outputs);
        let writes: HashMap<u64, u64> = run.writes.into_iter().collect();
        prop_assert_eq!(writes, expected_writes);
        let in_order: Vec<u32> = (0..block.txns.len() as u32).collect();
        prop_assert_eq!(sink.committed, in_order);
        prop_assert!(run.stats.executions >= block.txns.len() as u64);
        if block.frontier_run > 0 && threads == 1 {
            // One worker commits as it goes: every transaction starts at the frontier.
            prop_assert_eq!(run.stats.frontier_txns, block.txns.len() as u64);
            prop_assert_eq!(run.stats.validations, 0);
        }
        if block.frontier_run == 0 {
            prop_assert_eq!(run.stats.frontier_txns, 0);
        }
    }
}

#[test]
fn heavy_contention_on_one_key_is_exact_and_repeatable() {
    // Every transaction reads and writes key 0: a chain of true dependencies.
    let block = MockBlock::new((0..2000).map(|i| i * 4 + 1), HashMap::new(), 1);
    let expected = sequential(&block);
    for _ in 0..5 {
        let (run, sink) = block.run_into(8, OrderSink::default()).expect("no error");
        assert_eq!(run.outputs, expected.0);
        assert_eq!(
            run.writes.into_iter().collect::<HashMap<_, _>>(),
            expected.1
        );
        assert_eq!(sink.committed.len(), 2000);
    }
}

#[test]
fn a_panicking_transaction_ends_the_run_without_hanging() {
    let block = MockBlock {
        panic_at: Some(250),
        ..MockBlock::new(0..500, HashMap::new(), 8)
    };
    let result = block.run_into(4, OrderSink::default());
    match result {
        Err(DriverError::Panicked(message)) => {
            assert!(message.contains("mock transaction 250 panics"))
        }
        other => panic!(
            "expected a panic report, got {:?}",
            other.map(|(run, _)| run.stats)
        ),
    }
}

#[test]
fn a_transaction_panicking_inside_a_frontier_run_ends_the_run_without_hanging() {
    for threads in [1, 2, 4] {
        let block = MockBlock {
            panic_at: Some(250),
            frontier_run: 64,
            ..MockBlock::new(0..500, HashMap::new(), 8)
        };
        match block.run_into(threads, OrderSink::default()) {
            Err(DriverError::Panicked(message)) => {
                assert!(message.contains("mock transaction 250 panics"))
            }
            other => panic!(
                "expected a panic report, got {:?}",
                other.map(|(run, _)| run.stats)
            ),
        }
    }
}

#[test]
fn a_fatal_error_in_the_sink_ends_the_run() {
    struct FailingSink;
    impl CommitSink<Vec<u64>, String> for FailingSink {
        fn commit(&mut self, txn_idx: u32, _output: &Vec<u64>) -> Result<(), String> {
            if txn_idx == 100 {
                Err("overflow at 100".into())
            } else {
                Ok(())
            }
        }
    }
    let block = MockBlock::new(0..400, HashMap::new(), 16);
    match block.run_into(4, FailingSink) {
        Err(DriverError::Sink { error: message, .. }) => assert_eq!(message, "overflow at 100"),
        other => panic!(
            "expected the sink's error, got {:?}",
            other.map(|(run, _)| run.stats)
        ),
    }
}

#[test]
fn empty_block_runs() {
    let block = MockBlock::new([], HashMap::new(), 1);
    let (run, sink) = block
        .run_into(4, OrderSink::default())
        .expect("empty block");
    assert!(run.outputs.is_empty() && run.writes.is_empty() && sink.committed.is_empty());
    assert_eq!(block.executions.load(Ordering::Relaxed), 0);
}

/// A block that writes thousands of keys on several threads, ending in a frontier run
/// (whose writes replace the memory's at their keys) or not: every key once, with the
/// baseline's value.
#[test]
fn a_block_of_many_keys_writes_each_once() {
    for frontier_run in [0, 64] {
        let mut block = MockBlock::new(
            (0..20_000u64).map(|i| i.wrapping_mul(2_654_435_761)),
            HashMap::new(),
            50_000,
        );
        block.frontier_run = frontier_run;
        let (outputs, writes) = sequential(&block);
        assert!(writes.len() > 4_096, "{} keys written", writes.len());
        for threads in [2, 3] {
            let (run, _) = block
                .run_into(threads, OrderSink::default())
                .expect("no error");
            assert_eq!(run.outputs, outputs);
            assert_eq!(run.writes.len(), writes.len(), "each key once");
            assert_eq!(run.writes.into_iter().collect::<HashMap<_, _>>(), writes);
        }
    }
}
