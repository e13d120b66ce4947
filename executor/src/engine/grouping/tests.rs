//! Grouping's unit tests: the partition, the claim word, and the engine against the
//! oracle (block errors and a worker's panic included).

use storage_adapter::{
    Asset, BlockStore, ChainState, Hash, MemoryStore, PublicKey, StateKey, StateValue, StateView,
    StorageError,
};

use super::pool::{pack, unpack};
use super::{batches, GroupingConfig, GroupingExecutor};
use crate::engine::sequential::execute_sequential;
use crate::model::{Block, Payload, Transaction, Transfer};
use crate::outcome::BlockError;

fn account(index: u64) -> PublicKey {
    PublicKey::from_index(index)
}

fn pay(source: u64, nonce: u64, destinations: &[u64]) -> Transaction {
    let transfers = destinations
        .iter()
        .map(|&destination| Transfer::new(Asset::TOS, account(destination), 1))
        .collect();
    Transaction::new(account(source), nonce, 1, Payload::Transfers(transfers))
}

#[test]
fn empty_block_has_no_batch() {
    assert!(batches(&[]).is_empty());
}

#[test]
fn hot_receiver_gives_one_transaction_per_batch() {
    let txs: Vec<_> = (1..=5).map(|source| pay(source, 0, &[0])).collect();
    assert_eq!(batches(&txs), vec![0..1, 1..2, 2..3, 3..4, 4..5]);
}

#[test]
fn disjoint_transactions_share_one_batch() {
    let txs: Vec<_> = (0..5).map(|i| pay(2 * i, 0, &[2 * i + 1])).collect();
    assert_eq!(batches(&txs), vec![0..5]);
}

#[test]
fn a_chain_splits_where_an_account_repeats() {
    // A → B, B → C: B is in both.
    let txs = vec![pay(0, 0, &[1]), pay(1, 0, &[2])];
    assert_eq!(batches(&txs), vec![0..1, 1..2]);
    // A → B, C → D, D → A: the third touches D (and A) again; then E → F joins it.
    let txs = vec![
        pay(0, 0, &[1]),
        pay(2, 0, &[3]),
        pay(3, 0, &[0]),
        pay(4, 0, &[5]),
    ];
    assert_eq!(batches(&txs), vec![0..2, 2..4]);
}

#[test]
fn same_sender_twice_splits() {
    let txs = vec![pay(0, 0, &[1]), pay(0, 1, &[2])];
    assert_eq!(batches(&txs), vec![0..1, 1..2]);
}

#[test]
fn a_destination_named_twice_in_one_transaction_is_no_conflict() {
    let txs = vec![pay(0, 0, &[1, 1, 2]), pay(3, 0, &[4])];
    assert_eq!(batches(&txs), vec![0..2]);
}

#[test]
fn burns_and_multisig_touch_only_the_source() {
    let burn = Transaction::new(
        account(0),
        0,
        1,
        Payload::Burn {
            asset: Asset::TOS,
            amount: 1,
        },
    );
    let multisig = Transaction::new(
        account(1),
        0,
        1,
        Payload::Multisig {
            threshold: 1,
            // Participants are not accounts of the transaction.
            participants: vec![account(0)],
        },
    );
    let txs = vec![burn, multisig, pay(2, 0, &[3]), pay(1, 1, &[4])];
    assert_eq!(batches(&txs), vec![0..3, 3..4]);
}

#[test]
fn pack_round_trips() {
    for (epoch, next, end) in [(0, 0, 0), (1, 5, 9), (70_000, 65_535, 65_535)] {
        assert_eq!(unpack(pack(epoch, next, end)), (epoch, next, end));
    }
}

/// A store where `accounts` each hold `balance` TOS, registered.
fn store(accounts: u64, balance: u64) -> MemoryStore {
    MemoryStore::with_state((0..accounts).flat_map(|index| {
        [
            (StateKey::Nonce(account(index)), StateValue::Nonce(0)),
            (
                StateKey::Balance(account(index), Asset::TOS),
                StateValue::Balance(balance),
            ),
        ]
    }))
}

#[test]
fn equals_the_oracle_at_every_thread_count() {
    let store = store(64, 1_000);
    let snapshot = store.snapshot().expect("memory snapshot");
    // Mixed: disjoint pairs (large batches), a hot receiver run (one per batch), the
    // miner paying and being paid, and repeated senders.
    let mut txs = Vec::new();
    let mut nonces = [0u64; 64];
    let mut add = |source: u64, destinations: &[u64]| {
        let nonce = nonces[source as usize];
        nonces[source as usize] += 1;
        txs.push(pay(source, nonce, destinations));
    };
    for i in 0..20 {
        add(2 * i, &[2 * i + 1]);
    }
    for i in 1..10 {
        add(i, &[0]);
    }
    add(7, &[63]);
    add(63, &[7, 8]);
    for i in 0..30 {
        add(i + 30, &[(i + 1) % 30]);
    }
    let block = Block::new(1, account(7), 500, txs);
    let expected = execute_sequential(&block, &snapshot).expect("a valid block");
    for threads in 1..=8 {
        let engine = GroupingExecutor::new(GroupingConfig { threads });
        let execution = engine.execute(&block, &snapshot).expect("a valid block");
        assert_eq!(execution.output, expected, "{threads} threads");
        assert_eq!(execution.stats.fallbacks, 0);
        let grouping = execution.stats.grouping.expect("grouping's counters");
        assert_eq!(grouping.batches, batches(block.transactions()).len() as u64);
    }
}

#[test]
fn block_errors_are_the_oracles() {
    // Fee overflow in the middle of a large batch.
    let store = store(40, u64::MAX / 2 + 10);
    let snapshot = store.snapshot().expect("memory snapshot");
    let txs: Vec<_> = (0..20)
        .map(|i| {
            let fee = if i == 11 || i == 15 {
                u64::MAX / 2 + 1
            } else {
                1
            };
            Transaction::new(
                account(2 * i),
                0,
                fee,
                Payload::Transfers(vec![Transfer::new(Asset::TOS, account(2 * i + 1), 1)]),
            )
        })
        .collect();
    let block = Block::new(1, account(0), 0, txs);
    let expected = execute_sequential(&block, &snapshot);
    assert_eq!(expected, Err(BlockError::FeeOverflow));
    for threads in 1..=4 {
        let got = GroupingExecutor::new(GroupingConfig { threads })
            .execute(&block, &snapshot)
            .map(|execution| execution.output);
        assert_eq!(got, expected, "{threads} threads");
    }
}

/// A view whose reads panic on the grouping worker threads, and are slow elsewhere
/// (so that the workers surely take part in a batch).
struct WorkersPanic(MemoryStore);

impl StateView for WorkersPanic {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StorageError> {
        let on_worker = std::thread::current()
            .name()
            .is_some_and(|name| name.starts_with("grouping-"));
        if on_worker {
            panic!("injected panic on a worker");
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
        self.0.snapshot()?.get(key)
    }

    fn is_executed(&self, tx_hash: &Hash) -> Result<bool, StorageError> {
        self.0.snapshot()?.is_executed(tx_hash)
    }

    fn chain_state(&self) -> Result<ChainState, StorageError> {
        self.0.snapshot()?.chain_state()
    }
}

#[test]
fn a_panic_in_a_worker_falls_back_to_sequential() {
    let view = WorkersPanic(store(64, 1_000));
    let txs: Vec<_> = (0..32).map(|i| pay(2 * i, 0, &[2 * i + 1])).collect();
    let block = Block::new(1, account(0), 0, txs);
    let expected =
        execute_sequential(&block, &view.0.snapshot().expect("snapshot")).expect("a valid block");
    let execution = GroupingExecutor::new(GroupingConfig { threads: 2 })
        .execute(&block, &view)
        .expect("the fallback executes the block");
    assert_eq!(execution.output, expected);
    assert_eq!(execution.stats.fallbacks, 1);
}
