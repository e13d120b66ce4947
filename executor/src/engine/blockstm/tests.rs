//! Block-STM's unit tests: the nonce hints.

use storage_adapter::{Asset, BlockStore, MemoryStore, PublicKey};

use super::{same_sender_predecessors, BlockStmConfig, BlockStmExecutor};
use crate::engine::sequential::execute_sequential;
use crate::model::{Block, Payload, Transaction, Transfer};
use crate::workload::{Workload, WorkloadConfig, WorkloadKind};

fn pay(source: u64, nonce: u64) -> Transaction {
    let transfer = Transfer::new(Asset::TOS, PublicKey::from_index(99), 1);
    Transaction::new(
        PublicKey::from_index(source),
        nonce,
        0,
        Payload::Transfers(vec![transfer]),
    )
}

#[test]
fn each_transaction_is_hinted_to_its_senders_previous_one() {
    let block = Block::new(
        1,
        PublicKey::from_index(0),
        0,
        vec![
            pay(1, 0),
            pay(2, 0),
            pay(1, 1),
            pay(3, 0),
            pay(2, 1),
            pay(1, 2),
        ],
    );
    assert_eq!(
        same_sender_predecessors(&block),
        [None, None, Some(0), None, Some(1), Some(2)]
    );
}

#[test]
fn nonce_chains_match_the_oracle_with_hints_and_without() {
    let mut workload = Workload::new(WorkloadConfig::new(WorkloadKind::NonceChains, 200, 2000, 5))
        .expect("valid workload");
    let store = MemoryStore::new();
    store
        .commit(&workload.genesis().expect("genesis"))
        .expect("commit genesis");
    let block = workload.next_block(1);
    let snapshot = store.snapshot().expect("snapshot");
    let expected = execute_sequential(&block, &snapshot).expect("oracle");
    let config = BlockStmConfig {
        threads: 4,
        min_parallel_txns: 2,
        contention_cutoff: None,
        ..BlockStmConfig::default()
    };
    let hinted = BlockStmExecutor::new(config)
        .execute(&block, &snapshot)
        .expect("executes");
    // How often a hint makes a transaction wait depends on the interleaving (the
    // driver's own test forces it); the output never does.
    assert_eq!(hinted.output, expected);
    let unhinted = BlockStmExecutor::new(BlockStmConfig {
        nonce_hints: false,
        ..config
    })
    .execute(&block, &snapshot)
    .expect("executes");
    assert_eq!(unhinted.output, expected);
    let counters = unhinted.stats.block_stm.expect("Block-STM's counters");
    assert_eq!(counters.hint_waits, 0);
}
