//! The loom models' mock ledger (`driver-mocks`) at sizes loom cannot explore, under real
//! threads: random blocks of reads, read-modify-writes, credits written as deltas (some
//! overflowing at commit), fees folded in block order, a miner reward applied once by
//! the prologue, with hints, claims and sinks; every run equals the sequential baseline.

use std::collections::HashMap;

use blockstm_driver::{run_parallel, DriverError};
use driver_mocks::{Key, MockBlock, MockTxn, RecordingSink};
use proptest::prelude::*;

const KEYS: Key = 12;

fn txn_strategy() -> impl Strategy<Value = MockTxn> {
    (
        proptest::collection::vec(0..KEYS, 0..3),
        proptest::collection::btree_set(0..KEYS, 0..3),
        0u64..50,
        prop_oneof![0u64..10, Just(u64::MAX / 3)],
        proptest::collection::btree_map(
            0..KEYS,
            prop_oneof![-20i128..20, Just(i128::from(u64::MAX / 2))],
            0..3,
        ),
    )
        .prop_map(|(reads, writes, credit, fee, deltas)| {
            // Delta keys are neither read nor written, as the mock requires.
            let writes: Vec<Key> = writes.into_iter().collect();
            let deltas = deltas
                .into_iter()
                .filter(|(key, _)| !reads.contains(key) && !writes.contains(key))
                .collect();
            MockTxn {
                reads,
                writes,
                credit,
                fee,
                deltas,
            }
        })
}

fn block_strategy() -> impl Strategy<Value = MockBlock> {
    (
        proptest::collection::vec(txn_strategy(), 1..200),
        proptest::collection::vec((0..KEYS, prop_oneof![0u64..100, Just(u64::MAX - 5)]), 0..8),
        prop_oneof![Just(0u64), 1u64..1000],
        prop_oneof![Just(1usize), 2usize..6, Just(usize::MAX)],
        proptest::collection::vec(any::<bool>(), KEYS as usize),
        any::<bool>(),
        prop_oneof![Just(0usize), Just(1usize), 2usize..40, Just(usize::MAX)],
    )
        .prop_map(
            |(txns, storage, reward, claim_size, sink_mask, hints, frontier_run)| {
                let num_txns = txns.len() as u32;
                // Key 0 is the miner's: the prologue's credit there must fit.
                let storage: Vec<(Key, u64)> = storage
                    .into_iter()
                    .map(|(key, value)| (key, if key == 0 { value % 100 } else { value }))
                    .collect();
                let mut block = MockBlock::new(txns, &storage);
                block.reward = reward;
                block.claim_size = claim_size;
                block.frontier_run = frontier_run;
                // Keys only credited (never read or written) are the sinks a plan would
                // choose; any other choice must give the same result too.
                block.sinks = (0..KEYS).filter(|&key| sink_mask[key as usize]).collect();
                if hints {
                    block.predecessors = (0..num_txns).map(|i| i.checked_sub(3)).collect();
                }
                block.apply_prologue();
                block
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn the_mock_ledger_equals_its_baseline(block in block_strategy(), threads in 1usize..=8) {
        let (outputs, writes, fees) = block.sequential();
        let result = run_parallel(&block, block.txns.len(), block.plan(), threads, RecordingSink::default());
        match (result, fees) {
            (Ok((run, sink)), Some(fees)) => {
                prop_assert_eq!(&run.outputs, &outputs);
                prop_assert_eq!(sink.outputs, outputs);
                prop_assert_eq!(sink.committed, (0..block.txns.len() as u32).collect::<Vec<_>>());
                prop_assert_eq!(sink.fees, fees);
                prop_assert_eq!(run.writes.into_iter().collect::<HashMap<_, _>>(), writes);
            }
            // The fee total overflows: the sink's error, at the first transaction whose
            // fee does not fit, in every run.
            (Err(DriverError::Sink { error, .. }), None) => prop_assert_eq!(error, "fee overflow"),
            (other, fees) => prop_assert!(
                false,
                "baseline fees {:?}, run {:?}",
                fees,
                other.map(|(run, _)| run.stats)
            ),
        }
        prop_assert_eq!(block.reward_applications.load(std::sync::atomic::Ordering::SeqCst), u64::from(block.reward > 0));
    }
}
