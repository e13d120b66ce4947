//! Contract calls on every engine against the sequential oracle: random starting states
//! and random blocks mixing native transfers with calls of every bundled contract and of
//! a probe that reverts, runs out of gas and faults; calls with deposits, with tiny
//! `max_gas`, to an address with no contract, and to a contract deployed earlier in the
//! same block; few accounts, so calls contend on storage, contract balances and
//! accounts. At 1 to 8 threads, on the interpreter and on the JIT, the whole
//! `Result<BlockOutput, BlockError>` must be the oracle's (interpreter) result.

use executor::engine::blockstm::{BlockStmConfig, BlockStmExecutor};
use executor::engine::{self, EngineKind};
use executor::{execute_sequential, VmKind};
use integration_tests::contract_case::{arb_block, arb_state};
use integration_tests::{parallel_forced, store_with};
use proptest::prelude::*;
use storage_adapter::BlockStore;

fn vm_kinds() -> Vec<VmKind> {
    [VmKind::Interpreter, VmKind::Jit]
        .into_iter()
        .filter(|kind| kind.is_available())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_engine_equals_the_oracle_on_contract_blocks(
        state in arb_state(),
        block in arb_block(40),
        threads in 1usize..=8,
    ) {
        let store = store_with(state);
        let snapshot = store.snapshot().expect("memory snapshot");
        let expected = execute_sequential(&block, &snapshot);
        for vm in vm_kinds() {
            let mut config = parallel_forced(threads);
            config.vm = vm;
            // One worker on the parallel path too: all of Block-STM's bookkeeping, and
            // frontier runs off so that it speculates.
            config.block_stm.parallel_on_one_thread = true;
            for kind in EngineKind::ALL {
                let got = engine::build(kind, &config)
                    .execute_block(&block, &snapshot)
                    .map(|execution| execution.output);
                prop_assert_eq!(&got, &expected, "{} on the {}", kind, vm);
            }
            let speculating = BlockStmExecutor::new(BlockStmConfig {
                frontier_run: 0,
                ..config.block_stm
            })
            .with_vm(vm);
            let got = speculating.execute(&block, &snapshot).map(|execution| execution.output);
            prop_assert_eq!(&got, &expected, "block-stm without frontier runs on the {}", vm);
        }
    }
}

/// The generator really reaches the paths the property is about: over many blocks, the
/// oracle sees successes, reverts, out-of-gas, faults, calls to no contract, charged
/// failures and deploys that calls then use.
#[test]
fn the_generated_blocks_reach_every_contract_outcome() {
    use executor::outcome::{CallFailure, TxFailure, TxResult};
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let mut seen = [false; 6];
    for _ in 0..200 {
        let state = arb_state().new_tree(&mut runner).expect("state").current();
        let block = arb_block(40)
            .new_tree(&mut runner)
            .expect("block")
            .current();
        let store = store_with(state);
        let Ok(output) = execute_sequential(&block, &store.snapshot().expect("snapshot")) else {
            continue;
        };
        for (tx, result) in block.transactions().iter().zip(&output.results) {
            let index = match result {
                TxResult::Success if tx.calls_contract() => 0,
                TxResult::Failed(TxFailure::Call(CallFailure::Revert { .. })) => 1,
                TxResult::Failed(TxFailure::Call(CallFailure::OutOfGas)) => 2,
                TxResult::Failed(TxFailure::Call(CallFailure::Fault(_))) => 3,
                TxResult::Failed(TxFailure::NoContract { .. }) => 4,
                TxResult::Success
                    if matches!(tx.payload(), executor::Payload::DeployContract { .. }) =>
                {
                    5
                }
                _ => continue,
            };
            seen[index] = true;
        }
    }
    assert_eq!(
        seen, [true; 6],
        "success, revert, out of gas, fault, no contract, deploy"
    );
}
