//! RocksDB against the in-memory store: the same generated blocks give the same roots,
//! two fresh databases agree, a reopened database continues where it stopped, and a
//! rejected block leaves the database untouched.

use executor::outcome::BlockError;
use executor::workload::{Workload, WorkloadConfig, WorkloadKind};
use executor::Block;
use integration_tests::*;
use storage_adapter::{Asset, BlockStore, Hash, MemoryStore, PublicKey, RocksStore};

const BLOCKS: u64 = 5;

fn config(kind: WorkloadKind) -> WorkloadConfig {
    WorkloadConfig {
        failure_rate: 0.05,
        ..WorkloadConfig::new(kind, 20, 150, 11)
    }
}

/// Genesis plus `blocks` generated blocks; returns the root after each block.
fn run<S: BlockStore>(store: &S, workload: &mut Workload, from: u64, blocks: u64) -> Vec<Hash> {
    (from..from + blocks)
        .map(|topoheight| {
            apply(store, &workload.next_block(topoheight))
                .expect("generated block is valid")
                .state_root()
        })
        .collect()
}

fn assets() -> Vec<Asset> {
    vec![
        Asset::TOS,
        Asset::from_index(1),
        Asset::from_index(2),
        Asset::from_index(3),
    ]
}

fn open(path: &std::path::Path) -> RocksStore {
    RocksStore::open(path).expect("open rocksdb")
}

#[test]
fn memory_and_rocksdb_agree_on_every_root_and_value() {
    for kind in WorkloadKind::ALL {
        let mut workload = Workload::new(config(kind)).expect("valid config");
        let accounts: Vec<PublicKey> = workload.accounts().to_vec();
        let memory = workload_store(MemoryStore::new(), &workload);
        let dir = tempfile::tempdir().expect("tempdir");
        let rocks = workload_store(open(dir.path()), &workload);
        assert_eq!(
            memory.chain_state().expect("chain"),
            rocks.chain_state().expect("chain")
        );

        let mut replica = workload.clone();
        let memory_roots = run(&memory, &mut workload, 1, BLOCKS);
        let rocks_roots = run(&rocks, &mut replica, 1, BLOCKS);
        assert_eq!(memory_roots, rocks_roots, "{kind}");
        assert_eq!(
            fingerprint(&memory, &accounts, &assets(), &[]),
            fingerprint(&rocks, &accounts, &assets(), &[]),
            "{kind}"
        );
    }
}

#[test]
fn two_fresh_databases_give_the_same_root() {
    let roots: Vec<Vec<Hash>> = (0..2)
        .map(|_| {
            let mut workload =
                Workload::new(config(WorkloadKind::MultiAsset)).expect("valid config");
            let dir = tempfile::tempdir().expect("tempdir");
            let store = workload_store(open(dir.path()), &workload);
            run(&store, &mut workload, 1, BLOCKS)
        })
        .collect();
    assert_eq!(roots[0], roots[1]);
    // And the roots do change from block to block.
    assert!(roots[0].windows(2).all(|pair| pair[0] != pair[1]));
}

#[test]
fn a_reopened_database_keeps_its_state_and_continues_the_chain() {
    let mut workload = Workload::new(config(WorkloadKind::Burns)).expect("valid config");
    let accounts: Vec<PublicKey> = workload.accounts().to_vec();
    let dir = tempfile::tempdir().expect("tempdir");
    // The uninterrupted reference, in memory.
    let memory = workload_store(MemoryStore::new(), &workload);
    let mut reference = workload.clone();
    let reference_roots = run(&memory, &mut reference, 1, 2 * BLOCKS);

    let first_half = {
        let rocks = workload_store(open(dir.path()), &workload);
        run(&rocks, &mut workload, 1, BLOCKS)
    };
    let rocks = open(dir.path());
    let chain = rocks.chain_state().expect("chain");
    assert_eq!(chain.topoheight, Some(BLOCKS));
    assert_eq!(Some(&chain.state_root), first_half.last());
    let second_half = run(&rocks, &mut workload, BLOCKS + 1, BLOCKS);
    assert_eq!([first_half, second_half].concat(), reference_roots);
    assert_eq!(
        fingerprint(&memory, &accounts, &[Asset::TOS], &[]),
        fingerprint(&rocks, &accounts, &[Asset::TOS], &[])
    );
    drop(rocks);
    // Reopening once more changes nothing.
    let rocks = open(dir.path());
    assert_eq!(
        fingerprint(&memory, &accounts, &[Asset::TOS], &[]),
        fingerprint(&rocks, &accounts, &[Asset::TOS], &[])
    );
}

#[test]
fn a_rejected_block_leaves_rocksdb_unchanged() {
    let mut workload = Workload::new(config(WorkloadKind::P2p)).expect("valid config");
    let accounts: Vec<PublicKey> = workload.accounts().to_vec();
    let dir = tempfile::tempdir().expect("tempdir");
    let rocks = workload_store(open(dir.path()), &workload);
    run(&rocks, &mut workload, 1, 2);

    // A good block's transactions with one of them repeated: rejected as a whole.
    let good = workload.next_block(3);
    let mut transactions = good.transactions().to_vec();
    transactions.push(transactions[0].clone());
    let bad = Block::new(3, *good.miner(), good.reward(), transactions);
    let hashes: Vec<Hash> = good.transactions().iter().map(|tx| *tx.hash()).collect();
    let before = fingerprint(&rocks, &accounts, &[Asset::TOS], &hashes);
    let error = apply(&rocks, &bad).expect_err("duplicate transaction");
    assert!(
        matches!(error, BlockError::DuplicateTransaction { first: 0, .. }),
        "{error:?}"
    );
    // A block that fails in the prologue.
    let overflow = Block::new(3, *good.miner(), u64::MAX, good.transactions().to_vec());
    assert_eq!(
        apply(&rocks, &overflow).map(|_| ()),
        Err(BlockError::RewardOverflow)
    );
    // A block that fails late, in the epilogue, after all its transactions ran: a fresh
    // miner whose reward fills its balance cannot take the fees.
    let late = Block::new(3, account(1_000), u64::MAX, good.transactions().to_vec());
    assert_eq!(
        apply(&rocks, &late).map(|_| ()),
        Err(BlockError::MinerCreditOverflow)
    );
    assert_eq!(
        fingerprint(&rocks, &accounts, &[Asset::TOS], &hashes),
        before
    );
    drop(rocks);
    let rocks = open(dir.path());
    assert_eq!(
        fingerprint(&rocks, &accounts, &[Asset::TOS], &hashes),
        before,
        "unchanged after reopening"
    );
    // And the good block still applies on top.
    apply(&rocks, &good).expect("the good block applies");
}
