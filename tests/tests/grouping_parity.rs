//! Batch grouping against the sequential oracle: the random cases of the Block-STM parity
//! property (random starting states, random blocks of every transaction kind, failing ones
//! included, contended and uncontended), at 1 to 8 threads. The whole result must be
//! equal — outputs, writes, totals, root, or the same block error.

use executor::engine::grouping::{batches, GroupingConfig, GroupingExecutor};
use executor::execute_sequential;
use integration_tests::random_case::{build_case, shape_strategy, CaseShape};
use proptest::prelude::*;
use storage_adapter::BlockStore;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn grouping_equals_the_oracle(shape in shape_strategy()) {
        let (store, block) = build_case(&shape);
        let snapshot = store.snapshot().expect("memory snapshot");
        let expected = execute_sequential(&block, &snapshot);
        let engine = GroupingExecutor::new(GroupingConfig { threads: shape.threads });
        for _ in 0..2 {
            let got = engine.execute(&block, &snapshot).map(|execution| {
                assert_eq!(execution.stats.fallbacks, 0, "no fallback on a healthy run");
                let grouping = execution.stats.grouping.expect("grouping's counters");
                assert!(grouping.batches <= batches(block.transactions()).len() as u64);
                execution.output
            });
            prop_assert_eq!(&got, &expected);
        }
    }
}

#[test]
fn every_thread_count_on_the_same_cases() {
    // The property draws one thread count per case; here every count sees the same
    // blocks, contended and not.
    let mut parallel_batches = 0;
    for seed in 0..12 {
        for (accounts, hot_share) in [(2, 0.0), (10, 0.5), (100, 0.0), (1000, 0.0), (1000, 0.95)] {
            let shape = CaseShape {
                seed,
                accounts,
                block_size: 300,
                hot_share,
                threads: 1,
            };
            let (store, block) = build_case(&shape);
            let snapshot = store.snapshot().expect("memory snapshot");
            let expected = execute_sequential(&block, &snapshot);
            for threads in 1..=8 {
                let got = GroupingExecutor::new(GroupingConfig { threads })
                    .execute(&block, &snapshot)
                    .map(|execution| {
                        let grouping = execution.stats.grouping.expect("grouping's counters");
                        parallel_batches += grouping.parallel_batches;
                        execution.output
                    });
                assert_eq!(
                    got, expected,
                    "seed {seed}, {accounts} accounts, {threads} threads"
                );
            }
        }
    }
    // The cases reach the worker threads, not only the inline path.
    assert!(
        parallel_batches > 100,
        "{parallel_batches} parallel batches"
    );
}

#[test]
fn batches_partition_the_block_into_account_disjoint_runs() {
    for seed in 0..20 {
        let shape = CaseShape {
            seed,
            accounts: 100,
            block_size: 200,
            hot_share: 0.5,
            threads: 1,
        };
        let (_, block) = build_case(&shape);
        let transactions = block.transactions();
        let ranges = batches(transactions);
        let mut next = 0;
        for range in &ranges {
            assert_eq!(range.start, next, "batches are contiguous");
            assert!(!range.is_empty());
            next = range.end;
            let mut seen = std::collections::HashSet::new();
            for tx in &transactions[range.clone()] {
                let mut accounts = vec![*tx.source()];
                if let executor::Payload::Transfers(transfers) = tx.payload() {
                    accounts.extend(transfers.iter().map(|t| t.destination));
                }
                accounts.sort();
                accounts.dedup();
                for account in accounts {
                    assert!(seen.insert(account), "an account repeats within a batch");
                }
            }
            // Greedy: the batch ends because the next transaction conflicts with it.
            if let Some(tx) = transactions.get(range.end) {
                let mut accounts = vec![*tx.source()];
                if let executor::Payload::Transfers(transfers) = tx.payload() {
                    accounts.extend(transfers.iter().map(|t| t.destination));
                }
                assert!(accounts.iter().any(|account| seen.contains(account)));
            }
        }
        assert_eq!(next, transactions.len());
    }
}
