//! Block-STM against the sequential oracle: random starting states, random blocks of every
//! transaction kind (failing ones included), contended and uncontended, at 1 to 8 threads.
//! The whole result must be equal — outputs, writes, totals, root, or the same block error —
//! with deltas on and off. The workloads that make balances hot (many credits to a few
//! accounts, credits near `u64::MAX`, hot receivers spending) are in `delta_parity.rs`.

use executor::engine::blockstm::{BlockStmConfig, BlockStmExecutor};
use executor::execute_sequential;
use integration_tests::parallel_forced;
use integration_tests::random_case::{build_case, shape_strategy, CaseShape};
use proptest::prelude::*;
use storage_adapter::BlockStore;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn block_stm_equals_the_oracle(shape in shape_strategy()) {
        let (store, block) = build_case(&shape);
        let snapshot = store.snapshot().expect("memory snapshot");
        let expected = execute_sequential(&block, &snapshot);
        // The contention guard off: contended blocks must go through the parallel path too,
        // and so must one-thread cases (one worker doing all of Block-STM's bookkeeping).
        let forced = BlockStmConfig {
            parallel_on_one_thread: true,
            ..parallel_forced(shape.threads).block_stm
        };
        // Below two transactions every engine runs the sequential path.
        let parallel = block.transactions().len() >= 2;
        // Deltas on (the default), then off: hot balances, if the sample finds any, change
        // by deltas or by exact writes, and the result is the same. Frontier runs at
        // their default, off (so that one worker also runs every transaction
        // speculatively) and short.
        for (deltas, frontier_run) in [(true, forced.frontier_run), (true, 0), (false, 0), (false, 3)] {
            let engine = BlockStmExecutor::new(BlockStmConfig { deltas, frontier_run, ..forced });
            let got = engine.execute(&block, &snapshot).map(|execution| {
                assert_eq!(execution.stats.fallbacks, 0, "no fallback on a healthy run");
                if parallel {
                    assert_eq!(execution.stats.sequential_blocks, 0, "the parallel path ran");
                }
                if !deltas {
                    let counters = execution.stats.block_stm.expect("Block-STM's counters");
                    assert_eq!(counters.delta_writes + counters.predicate_reads, 0);
                }
                execution.output
            });
            prop_assert_eq!(&got, &expected, "deltas {}, frontier runs {}", deltas, frontier_run);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// With the contention guard at any cutoff, whichever path the engine picks, the
    /// result is the oracle's, and a block the guard sends to the sequential path says so.
    #[test]
    fn the_contention_guard_never_changes_the_result(
        shape in shape_strategy(),
        cutoff in 0u8..=100,
    ) {
        let (store, block) = build_case(&shape);
        let snapshot = store.snapshot().expect("memory snapshot");
        let expected = execute_sequential(&block, &snapshot);
        let engine = BlockStmExecutor::new(BlockStmConfig {
            contention_cutoff: Some(cutoff),
            ..parallel_forced(shape.threads.max(2)).block_stm
        });
        let got = engine.execute(&block, &snapshot);
        if cutoff == 0 {
            if let Ok(execution) = &got {
                prop_assert_eq!(execution.stats.sequential_blocks, 1, "cutoff 0 always runs sequentially");
            }
        }
        prop_assert_eq!(got.map(|execution| execution.output), expected);
    }
}

#[test]
fn cases_cover_successes_failures_and_errors() {
    // Guard against a generator that only makes failing transactions or only block errors:
    // the property above would then prove little.
    let mut successes = 0;
    let mut failures = 0;
    let mut block_errors = 0;
    for seed in 0..40 {
        let shape = CaseShape {
            seed,
            accounts: 10,
            block_size: 100,
            hot_share: 0.5,
            threads: 2,
        };
        let (store, block) = build_case(&shape);
        match execute_sequential(&block, &store.snapshot().expect("snapshot")) {
            Ok(output) => {
                successes += output.successful();
                failures += output.results.len() - output.successful();
            }
            Err(_) => block_errors += 1,
        }
    }
    assert!(successes > 1000, "{successes} successful transactions");
    assert!(failures > 200, "{failures} failed transactions");
    assert!(block_errors < 20, "{block_errors} block errors");
}
