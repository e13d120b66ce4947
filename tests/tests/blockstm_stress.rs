//! Stress under real threads: big blocks on 8 threads (more than these machines' cores, so
//! workers are preempted at arbitrary points), repeated, every root identical to the
//! oracle's.

use executor::engine::blockstm::BlockStmExecutor;
use executor::{execute_sequential, Workload, WorkloadConfig, WorkloadKind};
use integration_tests::parallel_forced;
use storage_adapter::{BlockStore, MemoryStore};

fn stress(kind: WorkloadKind, accounts: usize, block_size: usize, runs: usize) {
    let mut workload =
        Workload::new(WorkloadConfig::new(kind, accounts, block_size, 7)).expect("valid workload");
    let store = MemoryStore::new();
    store
        .commit(&workload.genesis().expect("genesis"))
        .expect("commit genesis");
    let engine = BlockStmExecutor::new(parallel_forced(8).block_stm);
    for topoheight in 1..=2 {
        let block = workload.next_block(topoheight);
        let snapshot = store.snapshot().expect("snapshot");
        let expected = execute_sequential(&block, &snapshot).expect("oracle executes the block");
        for run in 0..runs {
            let execution = engine
                .execute(&block, &snapshot)
                .expect("block-stm executes the block");
            assert_eq!(execution.stats.fallbacks, 0);
            assert_eq!(
                execution.output.state_root(),
                expected.state_root(),
                "{kind} over {accounts} accounts, block {topoheight}, run {run}"
            );
            assert_eq!(execution.output, expected);
        }
        store.commit(&expected.commit).expect("commit");
    }
}

#[test]
fn ten_thousand_transactions_on_two_accounts() {
    stress(WorkloadKind::P2p, 2, 10_000, 3);
}

#[test]
fn ten_thousand_transactions_on_ten_thousand_accounts() {
    stress(WorkloadKind::P2p, 10_000, 10_000, 3);
}

#[test]
fn hot_receiver_and_nonce_chains() {
    stress(WorkloadKind::HotReceiver, 1_000, 5_000, 2);
    stress(WorkloadKind::NonceChains, 1_000, 5_000, 2);
}
