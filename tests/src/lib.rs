//! Integration tests live in `tests/`; this library holds helpers they share: short names
//! for accounts and assets, transaction builders, a counting [`VmView`] over a map, and
//! store helpers that apply a block the way the node does (execute, then commit only on
//! success); the engines under test and the checks that run a block on all of them
//! ([`mod@engines`]); storage that misbehaves on purpose ([`faults`]); and the random case
//! generator of the parity properties ([`random_case`]).

pub mod contract_case;
pub mod engines;
pub mod faults;
pub mod fuzz_case;
pub mod random_case;

pub use engines::{assert_rejected, engines, engines_under_test, parallel_forced, run_everywhere};
pub use faults::{HookedStore, ReadHook, StorageRead, StoreHook};

use std::collections::{HashMap, HashSet};

use executor::model::{Block, Payload, Transaction, Transfer};
use executor::outcome::{BlockError, BlockOutput};
use executor::vm::VmView;
use executor::{execute_sequential, genesis_commit};
use storage_adapter::{
    Asset, BlockStore, ChainState, Hash, MemoryStore, PublicKey, StateKey, StateValue, StateView,
};

/// Test account `index`.
pub fn account(index: u64) -> PublicKey {
    PublicKey::from_index(index)
}

/// Test asset `index` (never TOS).
pub fn asset(index: u64) -> Asset {
    Asset::from_index(index)
}

/// A transaction paying each `(asset, destination, amount)`.
pub fn transfers(
    source: PublicKey,
    nonce: u64,
    fee: u64,
    list: &[(Asset, PublicKey, u64)],
) -> Transaction {
    let transfers = list
        .iter()
        .map(|&(asset, destination, amount)| Transfer::new(asset, destination, amount))
        .collect();
    Transaction::new(source, nonce, fee, Payload::Transfers(transfers))
}

/// A single TOS transfer.
pub fn pay(
    source: PublicKey,
    nonce: u64,
    fee: u64,
    destination: PublicKey,
    amount: u64,
) -> Transaction {
    transfers(source, nonce, fee, &[(Asset::TOS, destination, amount)])
}

/// A burn.
pub fn burn(source: PublicKey, nonce: u64, fee: u64, asset: Asset, amount: u64) -> Transaction {
    Transaction::new(source, nonce, fee, Payload::Burn { asset, amount })
}

/// A multisig set-up (threshold 0 and no participants removes it).
pub fn multisig(
    source: PublicKey,
    nonce: u64,
    fee: u64,
    threshold: u8,
    participants: Vec<PublicKey>,
) -> Transaction {
    Transaction::new(
        source,
        nonce,
        fee,
        Payload::Multisig {
            threshold,
            participants,
        },
    )
}

/// `(Nonce(account), n)`.
pub fn nonce_entry(account: PublicKey, nonce: u64) -> (StateKey, StateValue) {
    (StateKey::Nonce(account), StateValue::Nonce(nonce))
}

/// `(Balance(account, asset), amount)`.
pub fn balance_entry(account: PublicKey, asset: Asset, amount: u64) -> (StateKey, StateValue) {
    (
        StateKey::Balance(account, asset),
        StateValue::Balance(amount),
    )
}

/// A [`VmView`] over a map that records how often each key is read.
#[derive(Debug, Default, Clone)]
pub struct MapView {
    /// The state.
    pub values: HashMap<StateKey, StateValue>,
    /// Hashes marked executed.
    pub executed: HashSet<Hash>,
    /// Reads per key.
    pub reads: HashMap<StateKey, usize>,
}

impl MapView {
    /// A view holding `values`.
    pub fn new(values: impl IntoIterator<Item = (StateKey, StateValue)>) -> Self {
        Self {
            values: values.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Whether no key was read more than once.
    pub fn read_each_key_at_most_once(&self) -> bool {
        self.reads.values().all(|&count| count <= 1)
    }
}

impl VmView for MapView {
    type Error = std::convert::Infallible;

    fn read(&mut self, key: &StateKey) -> Result<Option<StateValue>, Self::Error> {
        *self.reads.entry(*key).or_default() += 1;
        Ok(self.values.get(key).cloned())
    }

    fn is_executed(&mut self, tx_hash: &Hash) -> Result<bool, Self::Error> {
        Ok(self.executed.contains(tx_hash))
    }
}

/// A memory store at topoheight 0 holding `values` (the next block is topoheight 1).
pub fn store_with(values: impl IntoIterator<Item = (StateKey, StateValue)>) -> MemoryStore {
    MemoryStore::with_state(values)
}

/// A store holding `workload`'s genesis, contracts included (the next block is
/// topoheight 1).
pub fn workload_store<S: BlockStore>(store: S, workload: &executor::Workload) -> S {
    let commit = workload.genesis().expect("a workload's genesis is valid");
    commit_genesis(store, &commit)
}

/// `store` with `genesis` committed (the next block is topoheight 1).
pub fn commit_genesis<S: BlockStore>(store: S, genesis: &storage_adapter::BlockCommit) -> S {
    store
        .commit(genesis)
        .expect("genesis commits on an empty store");
    store
}

/// A store holding the genesis of `allocations` (the next block is topoheight 1).
pub fn genesis_store<S: BlockStore>(store: S, allocations: &[(PublicKey, Asset, u64)]) -> S {
    let commit = genesis_commit(allocations).expect("genesis allocations are valid");
    store
        .commit(&commit)
        .expect("genesis commits on an empty store");
    store
}

/// Executes `block` on a snapshot of `store` with the sequential oracle and commits the
/// result only on success, as a node does.
pub fn apply<S: BlockStore>(store: &S, block: &Block) -> Result<BlockOutput, BlockError> {
    let output = {
        let snapshot = store.snapshot()?;
        execute_sequential(block, &snapshot)?
    };
    store.commit(&output.commit)?;
    Ok(output)
}

/// The block at the store's next topoheight.
pub fn next_block<S: BlockStore>(
    store: &S,
    miner: PublicKey,
    reward: u64,
    transactions: Vec<Transaction>,
) -> Block {
    let chain = store.chain_state().expect("chain state");
    Block::new(chain.next_topoheight(), miner, reward, transactions)
}

/// The value at `key` in the store's current state.
pub fn get<S: BlockStore>(store: &S, key: StateKey) -> Option<StateValue> {
    store.snapshot().expect("snapshot").get(&key).expect("read")
}

/// The TOS (or other) balance of `account`, 0 when absent.
pub fn balance<S: BlockStore>(store: &S, account: PublicKey, asset: Asset) -> u64 {
    match get(store, StateKey::Balance(account, asset)) {
        None => 0,
        Some(StateValue::Balance(balance)) => balance,
        Some(other) => panic!("balance key holds {other:?}"),
    }
}

/// The nonce of `account`, `None` when unregistered.
pub fn nonce<S: BlockStore>(store: &S, account: PublicKey) -> Option<u64> {
    match get(store, StateKey::Nonce(account)) {
        None => None,
        Some(StateValue::Nonce(nonce)) => Some(nonce),
        Some(other) => panic!("nonce key holds {other:?}"),
    }
}

/// Everything a test can observe about a store for `accounts` and `assets`: chain state,
/// each account's nonce, balances and multisig, and the executed marks of `hashes`. Two
/// equal fingerprints mean the store did not change (as far as these keys go).
pub fn fingerprint<S: BlockStore>(
    store: &S,
    accounts: &[PublicKey],
    assets: &[Asset],
    hashes: &[Hash],
) -> (ChainState, Vec<Option<StateValue>>, Vec<bool>) {
    let snapshot = store.snapshot().expect("snapshot");
    let mut values = Vec::new();
    for account in accounts {
        values.push(snapshot.get(&StateKey::Nonce(*account)).expect("read"));
        values.push(snapshot.get(&StateKey::Multisig(*account)).expect("read"));
        for asset in assets {
            values.push(
                snapshot
                    .get(&StateKey::Balance(*account, *asset))
                    .expect("read"),
            );
        }
    }
    let executed = hashes
        .iter()
        .map(|hash| snapshot.is_executed(hash).expect("read"))
        .collect();
    (
        snapshot.chain_state().expect("chain state"),
        values,
        executed,
    )
}

/// How many threads this process has now (Linux: the entries of `/proc/self/task`). Tests
/// that check that an engine leaves no thread behind compare it before and after; they
/// must be the only test of their binary, or another test's threads would count too.
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task is readable on Linux")
        .count()
}
