//! Block-STM against the sequential oracle: random starting states, random blocks of every
//! transaction kind (failing ones included), contended and uncontended, at 1 to 8 threads.
//! The whole result must be equal — outputs, writes, totals, root, or the same block error.

use executor::engine::blockstm::{BlockStmConfig, BlockStmExecutor};
use executor::execute_sequential;
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
        let engine = BlockStmExecutor::new(BlockStmConfig { threads: shape.threads, min_parallel_txns: 0 });
        for _ in 0..2 {
            let got = engine.execute(&block, &snapshot).map(|execution| {
                assert_eq!(execution.stats.fallbacks, 0, "no fallback on a healthy run");
                execution.output
            });
            prop_assert_eq!(&got, &expected);
        }
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
