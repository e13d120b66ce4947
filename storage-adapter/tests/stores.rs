//! Integration tests of the storage adapter's public API: both stores, commits, snapshots,
//! state roots, RocksDB persistence and corruption, and a memory-vs-RocksDB property test.
//!
//! Most behaviour is written once, generic over [`BlockStore`], and run against a fresh
//! [`MemoryStore`] and a fresh [`RocksStore`] in a temporary directory (modules `memory`
//! and `rocks` at the bottom of the generic section).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use proptest::prelude::*;
use storage_adapter::{
    state_root, Asset, BlockCommit, BlockStore, ChainState, ContractId, Hash, MemoryStore,
    ModuleCode, MultisigConfig, PublicKey, RocksOptions, RocksStore, StateKey, StateValue,
    StateView, StorageError, StorageKey, StorageValue, MAX_MODULE_LEN, MAX_MULTISIG_PARTICIPANTS,
    MAX_STORAGE_VALUE_LEN,
};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

/// Accounts the tests write to; account `ACCOUNTS` exists only to be read (always absent).
const ACCOUNTS: u64 = 3;
/// Assets the tests write to (index 0 is TOS); asset `ASSETS` is never written.
const ASSETS: u64 = 3;
/// Transaction hashes the tests may mark executed.
const TXS: u64 = 16;
/// Contracts the tests write to; contract `CONTRACTS` is never written.
const CONTRACTS: u64 = 2;
/// Storage keys the tests write to in each contract; key `SLOTS` is never written.
const SLOTS: u64 = 3;

/// Every column family a `RocksStore` creates: opening its database raw must name them all.
const COLUMN_FAMILIES: [&str; 8] = [
    "nonces",
    "balances",
    "multisig",
    "modules",
    "contract_balances",
    "contract_storage",
    "executed",
    "meta",
];

fn account(index: u64) -> PublicKey {
    PublicKey::from_index(index)
}

fn asset(index: u64) -> Asset {
    if index == 0 {
        Asset::TOS
    } else {
        Asset::from_index(index)
    }
}

fn tx(index: u64) -> Hash {
    Hash::digest(&index.to_le_bytes())
}

fn nonce(a: u64) -> StateKey {
    StateKey::Nonce(account(a))
}

fn balance(a: u64, s: u64) -> StateKey {
    StateKey::Balance(account(a), asset(s))
}

fn multisig_key(a: u64) -> StateKey {
    StateKey::Multisig(account(a))
}

fn multisig(threshold: u8, participants: &[u64]) -> StateValue {
    StateValue::Multisig(Some(Arc::new(MultisigConfig {
        threshold,
        participants: participants.iter().map(|&p| account(100 + p)).collect(),
    })))
}

fn contract(index: u64) -> ContractId {
    ContractId::new(Hash::digest(&[&b"contract"[..], &index.to_le_bytes()].concat()).0)
}

fn storage_key(index: u64) -> StorageKey {
    StorageKey::new(Hash::digest(&[&b"slot"[..], &index.to_le_bytes()].concat()).0)
}

fn module_key(c: u64) -> StateKey {
    StateKey::Module(contract(c))
}

fn contract_balance(c: u64, s: u64) -> StateKey {
    StateKey::ContractBalance(contract(c), asset(s))
}

fn slot(c: u64, k: u64) -> StateKey {
    StateKey::Storage(contract(c), storage_key(k))
}

/// A module of `len` bytes derived from `seed` (its content is opaque to the store).
fn module(seed: u8, len: usize) -> StateValue {
    let bytecode: Vec<u8> = (0..len).map(|i| seed.wrapping_add(i as u8)).collect();
    StateValue::Module(Arc::new(ModuleCode::new(&bytecode)))
}

/// A present storage value (possibly empty).
fn stored(bytes: &[u8]) -> StateValue {
    StateValue::Storage(Some(Arc::new(StorageValue::from_slice(bytes))))
}

/// A storage deletion.
fn unstored() -> StateValue {
    StateValue::Storage(None)
}

/// Every key the tests can write, plus keys of an account, an asset, a contract and a
/// storage key never written.
fn all_keys() -> Vec<StateKey> {
    let mut keys = Vec::new();
    for a in 0..=ACCOUNTS {
        keys.push(nonce(a));
        keys.push(multisig_key(a));
        for s in 0..=ASSETS {
            keys.push(balance(a, s));
        }
    }
    for c in 0..=CONTRACTS {
        keys.push(module_key(c));
        for s in 0..=ASSETS {
            keys.push(contract_balance(c, s));
        }
        for k in 0..=SLOTS {
            keys.push(slot(c, k));
        }
    }
    keys.sort();
    keys
}

fn all_txs() -> Vec<Hash> {
    (0..=TXS).map(tx).collect()
}

/// Sorts writes by key (the last value for a key wins), as `BlockCommit::new` requires.
fn sorted(writes: impl IntoIterator<Item = (StateKey, StateValue)>) -> Vec<(StateKey, StateValue)> {
    writes
        .into_iter()
        .collect::<BTreeMap<_, _>>()
        .into_iter()
        .collect()
}

/// Everything observable through a view over the test's key and hash universe.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Dump {
    chain: ChainState,
    values: Vec<(StateKey, Option<StateValue>)>,
    executed: Vec<(Hash, bool)>,
}

fn dump(view: &impl StateView) -> Dump {
    Dump {
        chain: view.chain_state().expect("chain state"),
        values: all_keys()
            .into_iter()
            .map(|key| (key, view.get(&key).expect("read")))
            .collect(),
        executed: all_txs()
            .into_iter()
            .map(|hash| (hash, view.is_executed(&hash).expect("executed mark")))
            .collect(),
    }
}

fn dump_store<S: BlockStore>(store: &S) -> Dump {
    dump(&store.snapshot().expect("snapshot"))
}

/// What a [`Dump`] must be for a model of the state.
fn expected_dump(
    chain: ChainState,
    model: &BTreeMap<StateKey, StateValue>,
    executed: &BTreeSet<Hash>,
) -> Dump {
    Dump {
        chain,
        values: all_keys()
            .into_iter()
            .map(|key| (key, model.get(&key).cloned()))
            .collect(),
        executed: all_txs()
            .into_iter()
            .map(|hash| (hash, executed.contains(&hash)))
            .collect(),
    }
}

/// Builds the next block on the store's current chain state and commits it.
fn commit_next<S: BlockStore>(
    store: &S,
    writes: impl IntoIterator<Item = (StateKey, StateValue)>,
    executed: Vec<Hash>,
    burned_supply: u64,
) -> BlockCommit {
    let chain = store.chain_state().expect("chain state");
    let commit = BlockCommit::new(
        &chain,
        chain.next_topoheight(),
        sorted(writes),
        executed,
        burned_supply,
    )
    .expect("well-formed commit");
    store.commit(&commit).expect("commit");
    commit
}

/// A RocksDB store in a temporary directory; the store is dropped before the directory.
struct TempRocks {
    store: RocksStore,
    dir: TempDir,
}

impl TempRocks {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = RocksStore::open_with(dir.path(), &small_options()).expect("open RocksDB");
        Self { store, dir }
    }

    /// Closes the store and hands back its directory.
    fn close(self) -> TempDir {
        let Self { store, dir } = self;
        drop(store);
        dir
    }

    fn reopen(dir: TempDir) -> Self {
        let store = RocksStore::open_with(dir.path(), &small_options()).expect("reopen RocksDB");
        Self { store, dir }
    }
}

impl Deref for TempRocks {
    type Target = RocksStore;

    fn deref(&self) -> &RocksStore {
        &self.store
    }
}

fn small_options() -> RocksOptions {
    RocksOptions {
        sync_commits: false,
        block_cache_bytes: 1 << 20,
    }
}

/// Writes raw bytes into a closed RocksStore database, bypassing every encoding.
fn raw_put(path: &Path, column: &str, key: &[u8], value: &[u8]) {
    let options = rocksdb::Options::default();
    let db = rocksdb::DB::open_cf(&options, path, COLUMN_FAMILIES).expect("raw open");
    let family = db.cf_handle(column).expect("column family exists");
    db.put_cf(family, key, value).expect("raw put");
}

// ---------------------------------------------------------------------------------------
// Behaviour every store must have (run against both below)
// ---------------------------------------------------------------------------------------

fn empty_store_reads_nothing<S: BlockStore>(store: &S) {
    let chain = store.chain_state().expect("chain state");
    assert_eq!(chain, ChainState::default());
    assert_eq!(chain.topoheight, None);
    assert_eq!(chain.state_root, Hash::ZERO);
    assert_eq!(chain.next_topoheight(), 0);
    let dump = dump_store(store);
    assert!(
        dump.values.iter().all(|(_, value)| value.is_none()),
        "{dump:?}"
    );
    assert!(
        dump.executed.iter().all(|(_, executed)| !executed),
        "{dump:?}"
    );
}

fn commit_round_trip<S: BlockStore>(store: &S) {
    let big = multisig(2, &[0, 1, 2]);
    let empty_config = multisig(1, &[]);
    commit_next(
        store,
        [
            (nonce(0), StateValue::Nonce(u64::MAX)),
            (nonce(1), StateValue::Nonce(0)),
            (balance(0, 0), StateValue::Balance(1_000)),
            (balance(0, 1), StateValue::Balance(0)),
            (balance(1, 2), StateValue::Balance(u64::MAX)),
            (multisig_key(0), big.clone()),
            (multisig_key(1), empty_config.clone()),
            // Deleting a key that was never there is a no-op, not an error.
            (multisig_key(2), StateValue::Multisig(None)),
        ],
        vec![],
        0,
    );
    let snapshot = store.snapshot().expect("snapshot");
    let get = |key: StateKey| snapshot.get(&key).expect("read");
    assert_eq!(get(nonce(0)), Some(StateValue::Nonce(u64::MAX)));
    assert_eq!(get(nonce(1)), Some(StateValue::Nonce(0)));
    assert_eq!(get(balance(0, 0)), Some(StateValue::Balance(1_000)));
    // A zero balance that was written is stored, not treated as absent.
    assert_eq!(get(balance(0, 1)), Some(StateValue::Balance(0)));
    assert_eq!(get(balance(1, 2)), Some(StateValue::Balance(u64::MAX)));
    assert_eq!(get(multisig_key(0)), Some(big.clone()));
    // A configuration with no participants is a value, distinct from "no configuration".
    assert_eq!(get(multisig_key(1)), Some(empty_config));
    assert_eq!(get(multisig_key(2)), None);
    // Absent keys: other accounts, other assets of a known account, other key kinds.
    assert_eq!(get(nonce(2)), None);
    assert_eq!(get(nonce(ACCOUNTS)), None);
    assert_eq!(get(balance(0, 2)), None);
    assert_eq!(get(balance(1, 0)), None);
    assert_eq!(get(balance(ACCOUNTS, 0)), None);
    assert_eq!(get(multisig_key(ACCOUNTS)), None);
    drop(snapshot);

    // Second block: delete a multisig, overwrite a value, add a value.
    commit_next(
        store,
        [
            (balance(0, 0), StateValue::Balance(7)),
            (balance(2, 0), StateValue::Balance(3)),
            (multisig_key(0), StateValue::Multisig(None)),
        ],
        vec![],
        0,
    );
    let snapshot = store.snapshot().expect("snapshot");
    let get = |key: StateKey| snapshot.get(&key).expect("read");
    assert_eq!(
        get(multisig_key(0)),
        None,
        "multisig deletion removes the key"
    );
    assert_eq!(get(balance(0, 0)), Some(StateValue::Balance(7)));
    assert_eq!(get(balance(2, 0)), Some(StateValue::Balance(3)));
    // Keys the block did not write keep their values.
    assert_eq!(get(nonce(0)), Some(StateValue::Nonce(u64::MAX)));
    assert_eq!(get(balance(1, 2)), Some(StateValue::Balance(u64::MAX)));
    assert_eq!(get(multisig_key(1)), Some(multisig(1, &[])));
    drop(snapshot);

    // Third block: a deleted configuration can be set again.
    commit_next(store, [(multisig_key(0), multisig(1, &[4]))], vec![], 0);
    assert_eq!(
        store
            .snapshot()
            .expect("snapshot")
            .get(&multisig_key(0))
            .expect("read"),
        Some(multisig(1, &[4]))
    );
}

fn executed_marks<S: BlockStore>(store: &S) {
    commit_next(
        store,
        [(nonce(0), StateValue::Nonce(1))],
        vec![tx(2), tx(0)],
        0,
    );
    let after_first = store.snapshot().expect("snapshot");
    assert!(after_first.is_executed(&tx(0)).expect("mark"));
    assert!(after_first.is_executed(&tx(2)).expect("mark"));
    assert!(!after_first.is_executed(&tx(1)).expect("mark"));
    assert!(!after_first.is_executed(&tx(3)).expect("mark"));

    // A block with no state writes can still mark transactions.
    commit_next(store, [], vec![tx(1)], 0);
    let after_second = store.snapshot().expect("snapshot");
    for i in 0..3 {
        assert!(after_second.is_executed(&tx(i)).expect("mark"), "tx {i}");
    }
    assert!(!after_second.is_executed(&tx(3)).expect("mark"));
    // The older snapshot does not see the newer mark.
    assert!(!after_first.is_executed(&tx(1)).expect("mark"));
    // A mark is not state: it does not show up as a key.
    assert_eq!(after_second.get(&nonce(1)).expect("read"), None);
}

fn chain_state_follows_commits<S: BlockStore>(store: &S) {
    let writes0 = sorted([
        (nonce(0), StateValue::Nonce(1)),
        (balance(0, 0), StateValue::Balance(10)),
    ]);
    let c0 = commit_next(store, writes0.clone(), vec![tx(0)], 5);
    let expected_root0 = state_root(&Hash::ZERO, 0, 5, &writes0, &[tx(0)]);
    assert_eq!(c0.state_root(), expected_root0);
    assert_ne!(expected_root0, Hash::ZERO);
    let chain0 = store.chain_state().expect("chain state");
    assert_eq!(
        chain0,
        ChainState {
            topoheight: Some(0),
            state_root: expected_root0,
            burned_supply: 5
        }
    );
    assert_eq!(chain0, c0.chain_state());
    assert_eq!(
        store
            .snapshot()
            .expect("snapshot")
            .chain_state()
            .expect("chain"),
        chain0
    );
    assert_eq!(chain0.next_topoheight(), 1);

    let writes1 = sorted([
        (balance(0, 0), StateValue::Balance(4)),
        (multisig_key(1), multisig(1, &[0])),
    ]);
    let mut executed1 = vec![tx(3), tx(1)];
    let c1 = commit_next(store, writes1.clone(), executed1.clone(), 12);
    executed1.sort();
    // The root chains the previous root: computed from the block alone it would differ.
    let expected_root1 = state_root(&expected_root0, 1, 12, &writes1, &executed1);
    assert_ne!(
        expected_root1,
        state_root(&Hash::ZERO, 1, 12, &writes1, &executed1)
    );
    let chain1 = store.chain_state().expect("chain state");
    assert_eq!(
        chain1,
        ChainState {
            topoheight: Some(1),
            state_root: expected_root1,
            burned_supply: 12
        }
    );
    assert_eq!(chain1, c1.chain_state());
    assert_eq!(c1.parent(), &chain0);

    // An empty block still advances the topoheight and changes the root.
    let c2 = commit_next(store, [], vec![], 12);
    let chain2 = store.chain_state().expect("chain state");
    assert_eq!(chain2.topoheight, Some(2));
    assert_eq!(chain2.burned_supply, 12);
    assert_eq!(
        chain2.state_root,
        state_root(&expected_root1, 2, 12, &[], &[])
    );
    assert_ne!(chain2.state_root, chain1.state_root);
    assert_eq!(chain2, c2.chain_state());
}

fn snapshot_isolation<S: BlockStore>(store: &S) {
    commit_next(
        store,
        [
            (nonce(0), StateValue::Nonce(1)),
            (balance(0, 0), StateValue::Balance(100)),
            (multisig_key(0), multisig(1, &[1, 2])),
        ],
        vec![tx(0)],
        1,
    );
    let old = store.snapshot().expect("snapshot");
    let old_dump = dump(&old);

    commit_next(
        store,
        [
            (nonce(0), StateValue::Nonce(2)),
            (nonce(1), StateValue::Nonce(0)),
            (balance(0, 0), StateValue::Balance(40)),
            (balance(1, 0), StateValue::Balance(60)),
            (multisig_key(0), StateValue::Multisig(None)),
        ],
        vec![tx(1)],
        2,
    );
    let new = store.snapshot().expect("snapshot");

    // The old snapshot still shows the state of its block, value for value.
    assert_eq!(dump(&old), old_dump);
    assert_eq!(
        old.get(&nonce(0)).expect("read"),
        Some(StateValue::Nonce(1))
    );
    assert_eq!(old.get(&nonce(1)).expect("read"), None);
    assert_eq!(
        old.get(&balance(0, 0)).expect("read"),
        Some(StateValue::Balance(100))
    );
    assert_eq!(
        old.get(&multisig_key(0)).expect("read"),
        Some(multisig(1, &[1, 2]))
    );
    assert!(!old.is_executed(&tx(1)).expect("mark"));
    assert_eq!(old.chain_state().expect("chain").topoheight, Some(0));
    assert_eq!(old.chain_state().expect("chain").burned_supply, 1);

    // The new one shows the new block.
    assert_eq!(
        new.get(&nonce(0)).expect("read"),
        Some(StateValue::Nonce(2))
    );
    assert_eq!(
        new.get(&nonce(1)).expect("read"),
        Some(StateValue::Nonce(0))
    );
    assert_eq!(
        new.get(&balance(0, 0)).expect("read"),
        Some(StateValue::Balance(40))
    );
    assert_eq!(new.get(&multisig_key(0)).expect("read"), None);
    assert!(new.is_executed(&tx(1)).expect("mark"));
    assert_eq!(new.chain_state().expect("chain").topoheight, Some(1));
    assert_ne!(dump(&new), old_dump);

    // Snapshots are `Sync`: several threads read one at once and all see the same state.
    thread::scope(|scope| {
        let readers: Vec<_> = (0..3).map(|_| scope.spawn(|| dump(&old))).collect();
        for reader in readers {
            assert_eq!(reader.join().expect("reader thread"), old_dump);
        }
    });
}

fn rejected_commits_change_nothing<S: BlockStore>(store: &S) {
    let c0 = commit_next(
        store,
        [
            (nonce(0), StateValue::Nonce(1)),
            (balance(0, 0), StateValue::Balance(50)),
        ],
        vec![tx(0)],
        5,
    );
    let c1 = commit_next(
        store,
        [
            (balance(0, 0), StateValue::Balance(30)),
            (multisig_key(0), multisig(1, &[1])),
        ],
        vec![tx(1)],
        9,
    );
    let before = dump_store(store);
    assert_eq!(before.chain, c1.chain_state());

    // Each of these touches existing keys, new keys, a deletion and a new executed mark,
    // so any partial application would show in the dump.
    let hostile_writes = || {
        sorted([
            (nonce(0), StateValue::Nonce(99)),
            (nonce(2), StateValue::Nonce(99)),
            (balance(0, 0), StateValue::Balance(99)),
            (balance(2, 1), StateValue::Balance(99)),
            (multisig_key(0), StateValue::Multisig(None)),
            (multisig_key(2), multisig(1, &[3])),
        ])
    };
    let build = |parent: ChainState, topoheight: u64| {
        BlockCommit::new(
            &parent,
            topoheight,
            hostile_writes(),
            vec![tx(7), tx(8)],
            1_000,
        )
        .expect("well-formed commit")
    };
    let c1_chain = c1.chain_state();
    let rejected = [
        (
            "stale parent: built on block 0, reusing topoheight 1",
            build(c0.chain_state(), 1),
        ),
        ("built on the empty store", build(ChainState::default(), 0)),
        (
            "right topoheight, wrong state root",
            build(
                ChainState {
                    state_root: Hash([7; 32]),
                    ..c1_chain
                },
                2,
            ),
        ),
        (
            "right topoheight and root, wrong burned supply",
            build(
                ChainState {
                    burned_supply: 8,
                    ..c1_chain
                },
                2,
            ),
        ),
        (
            "parent claims a topoheight ahead",
            build(
                ChainState {
                    topoheight: Some(2),
                    ..c1_chain
                },
                3,
            ),
        ),
        ("replay of the last block", c1.clone()),
        ("replay of an older block", c0.clone()),
    ];
    for (what, commit) in &rejected {
        let error = store.commit(commit).expect_err(what);
        assert!(
            matches!(error, StorageError::InvalidCommit(_)),
            "{what}: {error:?}"
        );
        assert_eq!(dump_store(store), before, "{what}: the store changed");
        assert_eq!(
            store.chain_state().expect("chain state"),
            c1_chain,
            "{what}"
        );
    }

    // A commit whose topoheight does not follow its parent cannot even be built.
    for topoheight in [0, 1, 3, u64::MAX] {
        let error = BlockCommit::new(&c1_chain, topoheight, hostile_writes(), vec![], 0)
            .expect_err("wrong topoheight is refused");
        assert!(matches!(error, StorageError::InvalidCommit(_)), "{error:?}");
    }

    // The store still takes the right next block after all those rejections.
    let c2 = commit_next(store, hostile_writes(), vec![tx(7)], 10);
    let after = dump_store(store);
    assert_eq!(after.chain, c2.chain_state());
    assert_eq!(
        after
            .values
            .iter()
            .find(|(key, _)| *key == nonce(2))
            .map(|(_, v)| v.clone()),
        Some(Some(StateValue::Nonce(99)))
    );
}

/// After a successful commit, all of its writes, marks and metadata become visible
/// together: a reader racing the writer never sees a block half-applied.
fn readers_see_whole_blocks<S: BlockStore>(store: &S) {
    const KEYS: u64 = 24;
    const BLOCKS: u64 = 60;
    let keys: Vec<StateKey> = (0..KEYS)
        .flat_map(|i| {
            [
                StateKey::Nonce(account(i)),
                StateKey::Balance(account(i), Asset::TOS),
            ]
        })
        .collect();
    let done = AtomicBool::new(false);
    let observed = thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut topoheights = BTreeSet::new();
            loop {
                let finished = done.load(Ordering::Acquire);
                let snapshot = store.snapshot().expect("snapshot");
                let chain = snapshot.chain_state().expect("chain");
                match chain.topoheight {
                    None => {
                        for key in &keys {
                            assert_eq!(snapshot.get(key).expect("read"), None);
                        }
                    }
                    Some(t) => {
                        assert_eq!(chain.burned_supply, t, "metadata of one block");
                        for key in &keys {
                            let expected = match key {
                                StateKey::Nonce(_) => StateValue::Nonce(t),
                                _ => StateValue::Balance(t),
                            };
                            assert_eq!(snapshot.get(key).expect("read"), Some(expected), "at {t}");
                        }
                        assert!(snapshot.is_executed(&tx(t)).expect("mark"));
                        assert!(!snapshot.is_executed(&tx(t + 1)).expect("mark"));
                    }
                }
                topoheights.insert(chain.topoheight);
                if finished {
                    return topoheights;
                }
            }
        });
        for t in 0..BLOCKS {
            let writes = keys.iter().map(|key| {
                let value = match key {
                    StateKey::Nonce(_) => StateValue::Nonce(t),
                    _ => StateValue::Balance(t),
                };
                (*key, value)
            });
            commit_next(store, writes, vec![tx(t)], t);
        }
        done.store(true, Ordering::Release);
        reader.join().expect("reader thread")
    });
    // The last snapshot was taken after the last commit.
    assert!(observed.contains(&Some(BLOCKS - 1)), "{observed:?}");
}

/// Concurrent commits built on the same parent: exactly one may win, the others are
/// rejected and leave nothing behind.
fn concurrent_commits_on_one_parent_admit_one<S: BlockStore>(store: &S) {
    const THREADS: u64 = 4;
    const ROUNDS: u64 = 40;
    for round in 0..ROUNDS {
        let parent = store.chain_state().expect("chain state");
        let commits: Vec<BlockCommit> = (0..THREADS)
            .map(|i| {
                BlockCommit::new(
                    &parent,
                    parent.next_topoheight(),
                    vec![(StateKey::Nonce(account(i)), StateValue::Nonce(round + 1))],
                    vec![Hash::digest(&(round * THREADS + i).to_be_bytes())],
                    round * THREADS + i,
                )
                .expect("well-formed commit")
            })
            .collect();
        let barrier = Barrier::new(commits.len());
        let results: Vec<bool> = thread::scope(|scope| {
            let handles: Vec<_> = commits
                .iter()
                .map(|commit| {
                    let barrier = &barrier;
                    scope.spawn(move || {
                        barrier.wait();
                        store.commit(commit).is_ok()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("committer thread"))
                .collect()
        });
        let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i]).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: commits accepted: {results:?}"
        );
        let winner = &commits[winners[0]];
        let snapshot = store.snapshot().expect("snapshot");
        assert_eq!(
            snapshot.chain_state().expect("chain"),
            winner.chain_state(),
            "round {round}"
        );
        for (i, commit) in commits.iter().enumerate() {
            let won = i == winners[0];
            assert_eq!(
                snapshot.is_executed(&commit.executed()[0]).expect("mark"),
                won,
                "round {round}"
            );
            let value = snapshot
                .get(&StateKey::Nonce(account(i as u64)))
                .expect("read");
            if won {
                assert_eq!(value, Some(StateValue::Nonce(round + 1)));
            } else {
                assert_ne!(
                    value,
                    Some(StateValue::Nonce(round + 1)),
                    "round {round}: loser {i} wrote"
                );
            }
        }
    }
}

fn multisig_participant_limit<S: BlockStore>(store: &S) {
    let config = |count: usize| {
        StateValue::Multisig(Some(Arc::new(MultisigConfig {
            threshold: 1,
            participants: (0..count as u64).map(|i| account(1_000 + i)).collect(),
        })))
    };
    // The largest configuration allowed round-trips whole.
    let full = config(MAX_MULTISIG_PARTICIPANTS);
    commit_next(store, [(multisig_key(0), full.clone())], vec![], 0);
    assert_eq!(
        store
            .snapshot()
            .expect("snapshot")
            .get(&multisig_key(0))
            .expect("read"),
        Some(full)
    );
    // One more participant cannot be committed: its encoding (what RocksDB stores and the
    // root hashes) could not represent it, so the stores would disagree on what it is.
    let before = dump_store(store);
    let chain = store.chain_state().expect("chain state");
    let oversized = BlockCommit::new(
        &chain,
        chain.next_topoheight(),
        vec![(multisig_key(1), config(MAX_MULTISIG_PARTICIPANTS + 1))],
        vec![],
        0,
    );
    // (Not `expect_err`: its message would print all 256 participants.)
    assert!(
        matches!(oversized, Err(StorageError::InvalidCommit(_))),
        "a 256-participant configuration was accepted"
    );
    assert_eq!(dump_store(store), before);
}

fn contract_state_round_trip<S: BlockStore>(store: &S) {
    let long = vec![0x5a; 33];
    commit_next(
        store,
        [
            (module_key(0), module(1, 100)),
            (contract_balance(0, 0), StateValue::Balance(500)),
            (contract_balance(0, 1), StateValue::Balance(0)),
            (slot(0, 0), stored(&7u64.to_le_bytes())),
            // Past the 32 bytes a value keeps inline.
            (slot(0, 1), stored(&long)),
            (slot(1, 0), stored(&[])),
            // Deleting a key that was never there is a no-op, not an error.
            (slot(1, 1), unstored()),
            // An account and a contract with the same bytes are different keys.
            (balance(0, 0), StateValue::Balance(9)),
        ],
        vec![],
        0,
    );
    let snapshot = store.snapshot().expect("snapshot");
    let get = |key: StateKey| snapshot.get(&key).expect("read");
    assert_eq!(get(module_key(0)), Some(module(1, 100)));
    assert_eq!(get(contract_balance(0, 0)), Some(StateValue::Balance(500)));
    // A zero balance that was written is stored, not treated as absent.
    assert_eq!(get(contract_balance(0, 1)), Some(StateValue::Balance(0)));
    assert_eq!(get(slot(0, 0)), Some(stored(&7u64.to_le_bytes())));
    assert_eq!(get(slot(0, 1)), Some(stored(&long)));
    // An empty value is a value, distinct from "no value".
    assert_eq!(get(slot(1, 0)), Some(stored(&[])));
    assert_eq!(get(slot(1, 1)), None);
    // Absent keys: other contracts, other assets and storage keys of a known contract.
    assert_eq!(get(module_key(1)), None);
    assert_eq!(get(module_key(CONTRACTS)), None);
    assert_eq!(get(contract_balance(0, 2)), None);
    assert_eq!(get(contract_balance(1, 0)), None);
    assert_eq!(get(slot(0, 2)), None);
    assert_eq!(get(slot(CONTRACTS, 0)), None);
    // A contract's balance is not an account's balance, whatever the bytes.
    assert_eq!(get(balance(0, 0)), Some(StateValue::Balance(9)));
    drop(snapshot);

    // Second block: delete storage keys (one empty, one not), overwrite, add.
    commit_next(
        store,
        [
            (slot(0, 0), unstored()),
            (slot(1, 0), unstored()),
            (slot(0, 1), stored(&[1])),
            (slot(0, 2), stored(&[2; 4])),
            (contract_balance(0, 0), StateValue::Balance(499)),
            (module_key(1), module(2, 1)),
        ],
        vec![],
        0,
    );
    let snapshot = store.snapshot().expect("snapshot");
    let get = |key: StateKey| snapshot.get(&key).expect("read");
    assert_eq!(get(slot(0, 0)), None, "storage deletion removes the key");
    assert_eq!(get(slot(1, 0)), None, "deleting an empty value removes it");
    assert_eq!(get(slot(0, 1)), Some(stored(&[1])));
    assert_eq!(get(slot(0, 2)), Some(stored(&[2; 4])));
    assert_eq!(get(contract_balance(0, 0)), Some(StateValue::Balance(499)));
    assert_eq!(get(module_key(1)), Some(module(2, 1)));
    // Keys the block did not write keep their values.
    assert_eq!(get(module_key(0)), Some(module(1, 100)));
    assert_eq!(get(contract_balance(0, 1)), Some(StateValue::Balance(0)));
    drop(snapshot);

    // Third block: a deleted key can be set again.
    commit_next(store, [(slot(0, 0), stored(&[3]))], vec![], 0);
    assert_eq!(
        store
            .snapshot()
            .expect("snapshot")
            .get(&slot(0, 0))
            .expect("read"),
        Some(stored(&[3]))
    );
}

fn contract_value_limits<S: BlockStore>(store: &S) {
    // The largest module and storage value allowed round-trip whole.
    let largest_module = module(3, MAX_MODULE_LEN);
    let largest_value = stored(&[0xee; MAX_STORAGE_VALUE_LEN]);
    commit_next(
        store,
        [
            (module_key(0), largest_module.clone()),
            (slot(0, 0), largest_value.clone()),
        ],
        vec![],
        0,
    );
    let snapshot = store.snapshot().expect("snapshot");
    assert_eq!(
        snapshot.get(&module_key(0)).expect("read"),
        Some(largest_module)
    );
    assert_eq!(
        snapshot.get(&slot(0, 0)).expect("read"),
        Some(largest_value)
    );
    drop(snapshot);

    // Anything a read would refuse cannot be committed: RocksDB could not give it back.
    let before = dump_store(store);
    let chain = store.chain_state().expect("chain state");
    let refused = [
        (module_key(1), module(4, MAX_MODULE_LEN + 1)),
        (module_key(1), module(4, 0)),
        (slot(0, 1), stored(&[0xee; MAX_STORAGE_VALUE_LEN + 1])),
    ];
    for (key, value) in refused {
        let commit = BlockCommit::new(
            &chain,
            chain.next_topoheight(),
            vec![(key, value)],
            vec![],
            0,
        );
        // (Not `expect_err`: its message would print up to 64 KiB of bytes.)
        assert!(
            matches!(commit, Err(StorageError::InvalidCommit(_))),
            "an out-of-bounds value at {key:?} was accepted"
        );
    }
    assert_eq!(dump_store(store), before);
}

macro_rules! for_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[test]
                fn $name() {
                    super::$name(&storage_adapter::MemoryStore::new());
                }
            )*
        }

        mod rocks {
            $(
                #[test]
                fn $name() {
                    let db = super::TempRocks::new();
                    super::$name(&*db);
                }
            )*
        }
    };
}

for_both_stores!(
    empty_store_reads_nothing,
    commit_round_trip,
    executed_marks,
    chain_state_follows_commits,
    snapshot_isolation,
    rejected_commits_change_nothing,
    readers_see_whole_blocks,
    concurrent_commits_on_one_parent_admit_one,
    multisig_participant_limit,
    contract_state_round_trip,
    contract_value_limits,
);

// ---------------------------------------------------------------------------------------
// Commits and roots
// ---------------------------------------------------------------------------------------

#[test]
fn commit_refuses_malformed_blocks() {
    let chain = ChainState::default();
    let mut unsorted = sorted([
        (nonce(0), StateValue::Nonce(1)),
        (nonce(1), StateValue::Nonce(1)),
    ]);
    unsorted.reverse();
    assert!(matches!(
        BlockCommit::new(&chain, 0, unsorted, vec![], 0),
        Err(StorageError::InvalidCommit(_))
    ));
    let duplicate = vec![
        (nonce(0), StateValue::Nonce(1)),
        (nonce(0), StateValue::Nonce(2)),
    ];
    assert!(matches!(
        BlockCommit::new(&chain, 0, duplicate, vec![], 0),
        Err(StorageError::InvalidCommit(_))
    ));
    let misfit = vec![(balance(0, 0), StateValue::Nonce(1))];
    assert!(matches!(
        BlockCommit::new(&chain, 0, misfit, vec![], 0),
        Err(StorageError::InvalidCommit(_))
    ));
    let misfit = vec![(multisig_key(0), StateValue::Balance(1))];
    assert!(matches!(
        BlockCommit::new(&chain, 0, misfit, vec![], 0),
        Err(StorageError::InvalidCommit(_))
    ));
    assert!(matches!(
        BlockCommit::new(&chain, 0, vec![], vec![tx(1), tx(0), tx(1)], 0),
        Err(StorageError::InvalidCommit(_))
    ));
    // The last topoheight has no successor: the next block cannot reuse it.
    let last = ChainState {
        topoheight: Some(u64::MAX),
        ..ChainState::default()
    };
    assert!(matches!(
        BlockCommit::new(&last, u64::MAX, vec![], vec![], 0),
        Err(StorageError::InvalidCommit(_))
    ));
    assert!(matches!(
        BlockCommit::new(&last, 0, vec![], vec![], 0),
        Err(StorageError::InvalidCommit(_))
    ));
    // Executed hashes come out sorted whatever order they went in.
    let commit =
        BlockCommit::new(&chain, 0, vec![], vec![tx(3), tx(1), tx(2)], 0).expect("well-formed");
    let mut hashes = [tx(1), tx(2), tx(3)];
    hashes.sort();
    assert_eq!(commit.executed(), &hashes[..]);
}

#[test]
fn root_depends_on_history_not_just_final_state() {
    let a = MemoryStore::new();
    commit_next(&a, [(nonce(0), StateValue::Nonce(1))], vec![], 0);
    commit_next(&a, [(nonce(0), StateValue::Nonce(2))], vec![], 0);
    let b = MemoryStore::new();
    commit_next(&b, [(nonce(0), StateValue::Nonce(2))], vec![], 0);
    commit_next(&b, [(nonce(0), StateValue::Nonce(2))], vec![], 0);
    let (dump_a, dump_b) = (dump_store(&a), dump_store(&b));
    assert_eq!(dump_a.values, dump_b.values);
    assert_ne!(dump_a.chain.state_root, dump_b.chain.state_root);
}

#[test]
fn root_keeps_empty_storage_value_and_deletion_apart() {
    // Writing an empty value, deleting, and not writing at all are three different blocks:
    // the root must tell them apart, or two nodes could disagree on state under one root.
    let roots: Vec<Hash> = [
        vec![(slot(0, 0), stored(&[]))],
        vec![(slot(0, 0), unstored())],
        vec![],
    ]
    .into_iter()
    .map(|writes| {
        BlockCommit::new(&ChainState::default(), 0, writes, vec![], 0)
            .expect("well-formed commit")
            .state_root()
    })
    .collect();
    let distinct: BTreeSet<Hash> = roots.iter().copied().collect();
    assert_eq!(distinct.len(), 3, "{roots:?}");
    // The same bytes under an account's and a contract's key hash differently too.
    let account_root = BlockCommit::new(
        &ChainState::default(),
        0,
        vec![(
            StateKey::Balance(PublicKey([1; 32]), Asset::TOS),
            StateValue::Balance(1),
        )],
        vec![],
        0,
    )
    .expect("well-formed commit")
    .state_root();
    let contract_root = BlockCommit::new(
        &ChainState::default(),
        0,
        vec![(
            StateKey::ContractBalance(ContractId([1; 32]), Asset::TOS),
            StateValue::Balance(1),
        )],
        vec![],
        0,
    )
    .expect("well-formed commit")
    .state_root();
    assert_ne!(account_root, contract_root);
}

#[test]
fn memory_with_state_starts_at_topoheight_zero() {
    let store = MemoryStore::with_state([
        (nonce(0), StateValue::Nonce(3)),
        (balance(0, 0), StateValue::Balance(9)),
        (multisig_key(0), StateValue::Multisig(None)),
    ]);
    let chain = store.chain_state().expect("chain state");
    assert_eq!(
        chain,
        ChainState {
            topoheight: Some(0),
            state_root: Hash::ZERO,
            burned_supply: 0
        }
    );
    let snapshot = store.snapshot().expect("snapshot");
    assert_eq!(
        snapshot.get(&nonce(0)).expect("read"),
        Some(StateValue::Nonce(3))
    );
    assert_eq!(
        snapshot.get(&balance(0, 0)).expect("read"),
        Some(StateValue::Balance(9))
    );
    assert_eq!(snapshot.get(&multisig_key(0)).expect("read"), None);
    drop(snapshot);
    // The next block is topoheight 1, chained on the zero root.
    let commit = commit_next(&store, [(nonce(0), StateValue::Nonce(4))], vec![], 0);
    assert_eq!(commit.topoheight(), 1);
    assert_eq!(
        store
            .snapshot()
            .expect("snapshot")
            .get(&balance(0, 0))
            .expect("read"),
        Some(StateValue::Balance(9))
    );
}

/// One block of a fixed history: sorted writes, executed hashes, burned supply.
type HistoryBlock = (Vec<(StateKey, StateValue)>, Vec<Hash>, u64);

/// A fixed history touching every kind of key, deletions included (a multisig, a storage
/// value and an empty storage value).
fn sample_history() -> Vec<HistoryBlock> {
    vec![
        (
            sorted([
                (nonce(0), StateValue::Nonce(0)),
                (balance(0, 0), StateValue::Balance(1_000)),
                (balance(0, 1), StateValue::Balance(5)),
                (multisig_key(0), multisig(2, &[0, 1])),
                (module_key(0), module(1, 64)),
                (slot(0, 0), stored(&1u64.to_le_bytes())),
                (slot(0, 1), stored(&[])),
            ]),
            vec![tx(0)],
            0,
        ),
        (
            sorted([
                (nonce(0), StateValue::Nonce(1)),
                (nonce(1), StateValue::Nonce(0)),
                (balance(0, 0), StateValue::Balance(900)),
                (balance(1, 0), StateValue::Balance(90)),
                (contract_balance(0, 0), StateValue::Balance(100)),
                (slot(0, 0), stored(&2u64.to_le_bytes())),
                (slot(0, 2), stored(&[7; 40])),
            ]),
            vec![tx(2), tx(1)],
            10,
        ),
        (
            sorted([
                (multisig_key(0), StateValue::Multisig(None)),
                (multisig_key(1), multisig(1, &[5])),
                (module_key(1), module(2, 3)),
                (contract_balance(0, 0), StateValue::Balance(40)),
                (contract_balance(1, 0), StateValue::Balance(60)),
                (slot(0, 0), unstored()),
                (slot(0, 1), unstored()),
                (slot(1, 0), stored(&[])),
            ]),
            vec![],
            10,
        ),
        (
            sorted([
                (balance(2, 2), StateValue::Balance(u64::MAX)),
                (slot(0, 0), stored(&[9])),
            ]),
            vec![tx(3)],
            25,
        ),
    ]
}

fn apply_history<S: BlockStore>(store: &S, history: &[HistoryBlock]) -> Vec<Hash> {
    history
        .iter()
        .map(|(writes, executed, burned)| {
            commit_next(store, writes.clone(), executed.clone(), *burned).state_root()
        })
        .collect()
}

#[test]
fn memory_and_rocks_give_the_same_roots_and_state() {
    let memory = MemoryStore::new();
    let rocks = TempRocks::new();
    let history = sample_history();
    for (writes, executed, burned) in &history {
        let chain = memory.chain_state().expect("chain state");
        assert_eq!(chain, rocks.chain_state().expect("chain state"));
        let commit = BlockCommit::new(
            &chain,
            chain.next_topoheight(),
            writes.clone(),
            executed.clone(),
            *burned,
        )
        .expect("well-formed commit");
        memory.commit(&commit).expect("memory commit");
        rocks.commit(&commit).expect("rocks commit");
        assert_eq!(dump_store(&memory), dump_store(&*rocks));
    }
    let roots = apply_history(&MemoryStore::new(), &history);
    assert_eq!(
        roots.last().copied(),
        Some(rocks.chain_state().expect("chain state").state_root)
    );
    // Every block moves the root.
    let distinct: BTreeSet<Hash> = roots.iter().copied().collect();
    assert_eq!(distinct.len(), roots.len());
}

// ---------------------------------------------------------------------------------------
// RocksDB: persistence, determinism, corruption
// ---------------------------------------------------------------------------------------

/// A RocksDB snapshot decodes each module once and hands out the same module after
/// that, from any thread; a snapshot taken before the module was committed never sees it,
/// and one taken after does, whatever an older snapshot read.
#[test]
fn rocks_snapshots_read_each_module_once() {
    let rocks = TempRocks::new();
    let before = rocks.snapshot().expect("snapshot before the deploy");
    assert_eq!(before.get(&module_key(3)).expect("read"), None);
    commit_next(&*rocks, [(module_key(3), module(9, 300))], vec![], 0);
    // The older snapshot still sees no module: a miss is not remembered as a module.
    assert_eq!(before.get(&module_key(3)).expect("read"), None);
    let after = rocks.snapshot().expect("snapshot after the deploy");
    let read = |snapshot: &storage_adapter::RocksSnapshot<'_>| match snapshot
        .get(&module_key(3))
        .expect("read")
    {
        Some(StateValue::Module(module)) => module,
        other => panic!("a module, not {other:?}"),
    };
    let first = read(&after);
    assert_eq!(StateValue::Module(Arc::clone(&first)), module(9, 300));
    let from_threads: Vec<Arc<ModuleCode>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4).map(|_| scope.spawn(|| read(&after))).collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("reading thread"))
            .collect()
    });
    for module in from_threads {
        assert!(Arc::ptr_eq(&module, &first), "decoded once per snapshot");
    }
    // Another snapshot decodes for itself, to an equal module.
    let again = read(&rocks.snapshot().expect("another snapshot"));
    assert!(!Arc::ptr_eq(&again, &first));
    assert_eq!(again, first);
}

#[test]
fn rocks_reopen_keeps_state_and_root() {
    let history = sample_history();
    let rocks = TempRocks::new();
    let roots = apply_history(&*rocks, &history);
    let before = dump_store(&*rocks);
    assert_eq!(before.chain.state_root, *roots.last().expect("roots"));
    assert_eq!(before.chain.topoheight, Some(history.len() as u64 - 1));

    // The history's contract state, read back before any reopen (a dump of nothing but
    // absences would compare equal after one too).
    let snapshot = rocks.snapshot().expect("snapshot");
    let get = |key: StateKey| snapshot.get(&key).expect("read");
    assert_eq!(get(module_key(0)), Some(module(1, 64)));
    assert_eq!(get(contract_balance(1, 0)), Some(StateValue::Balance(60)));
    assert_eq!(get(slot(0, 0)), Some(stored(&[9])));
    assert_eq!(get(slot(0, 1)), None);
    assert_eq!(get(slot(1, 0)), Some(stored(&[])));
    drop(snapshot);

    // Reopen, also with different options: the state is the same.
    let dir = rocks.close();
    let reopened = TempRocks::reopen(dir);
    assert_eq!(dump_store(&*reopened), before);
    let dir = reopened.close();
    let durable = RocksStore::open_with(
        dir.path(),
        &RocksOptions {
            sync_commits: true,
            block_cache_bytes: 0,
        },
    )
    .expect("reopen with other options");
    assert_eq!(dump_store(&durable), before);

    // The reopened store chains on: its next block gets the same root as a store that
    // never closed.
    let memory = MemoryStore::new();
    apply_history(&memory, &history);
    let next = sorted([
        (nonce(2), StateValue::Nonce(0)),
        (balance(0, 0), StateValue::Balance(1)),
        (slot(0, 2), unstored()),
        (slot(1, 1), stored(&[1, 2, 3])),
    ]);
    let a = commit_next(&durable, next.clone(), vec![tx(9)], 30);
    let b = commit_next(&memory, next, vec![tx(9)], 30);
    assert_eq!(a.state_root(), b.state_root());
    assert_eq!(dump_store(&durable), dump_store(&memory));
    drop(durable);

    // And that block survives another reopen.
    let again = TempRocks::reopen(dir);
    assert_eq!(again.chain_state().expect("chain state"), a.chain_state());
    assert!(again
        .snapshot()
        .expect("snapshot")
        .is_executed(&tx(9))
        .expect("mark"));
}

#[test]
fn two_fresh_databases_agree_on_roots() {
    let history = sample_history();
    let (first, second) = (TempRocks::new(), TempRocks::new());
    let roots_first = apply_history(&*first, &history);
    let roots_second = apply_history(&*second, &history);
    assert_eq!(roots_first, roots_second);
    assert_eq!(dump_store(&*first), dump_store(&*second));
    // And a different history (one value changed) gives a different root.
    let mut changed = history.clone();
    changed[1].0[0].1 = StateValue::Nonce(2);
    let third = TempRocks::new();
    let roots_third = apply_history(&*third, &changed);
    assert_eq!(roots_third[0], roots_first[0]);
    assert_ne!(roots_third[1], roots_first[1]);
    assert_ne!(roots_third.last(), roots_first.last());
}

#[test]
fn rocks_corrupt_values_are_typed_errors() {
    let participant = [9u8; 32];
    let cases: Vec<(StateKey, &str, Vec<u8>)> = vec![
        (nonce(0), "nonces", vec![1, 2, 3]),
        (nonce(0), "nonces", vec![]),
        (balance(0, 1), "balances", vec![0; 9]),
        (balance(0, 1), "balances", vec![0; 7]),
        (multisig_key(0), "multisig", vec![1]),
        (multisig_key(0), "multisig", vec![]),
        // Header says two participants, one follows.
        (
            multisig_key(0),
            "multisig",
            [&[1u8, 2][..], &participant[..]].concat(),
        ),
        // Header says one participant, a byte too many follows.
        (
            multisig_key(0),
            "multisig",
            [&[1u8, 1][..], &participant[..], &[0][..]].concat(),
        ),
        (module_key(0), "modules", vec![]),
        (module_key(0), "modules", vec![1; MAX_MODULE_LEN + 1]),
        (contract_balance(0, 1), "contract_balances", vec![0; 7]),
        (contract_balance(0, 1), "contract_balances", vec![0; 9]),
        (contract_balance(0, 1), "contract_balances", vec![]),
        // No presence marker: RocksDB never stores an empty storage value bare (a deletion
        // removes the key), so these bytes cannot have come from a commit.
        (slot(0, 0), "contract_storage", vec![]),
        (slot(0, 0), "contract_storage", vec![0, 1, 2]),
        (slot(0, 0), "contract_storage", vec![2]),
        (
            slot(0, 0),
            "contract_storage",
            [&[1u8][..], &[0; MAX_STORAGE_VALUE_LEN + 1][..]].concat(),
        ),
    ];
    for (key, column, bytes) in cases {
        let rocks = TempRocks::new();
        commit_next(
            &*rocks,
            [
                (nonce(0), StateValue::Nonce(1)),
                (nonce(1), StateValue::Nonce(2)),
                (balance(0, 1), StateValue::Balance(3)),
                (multisig_key(0), multisig(1, &[0])),
                (module_key(0), module(1, 8)),
                (contract_balance(0, 1), StateValue::Balance(4)),
                (slot(0, 0), stored(&[5])),
            ],
            vec![tx(0)],
            0,
        );
        let chain = rocks.chain_state().expect("chain state");
        let dir = rocks.close();
        raw_put(dir.path(), column, key.column_key().as_ref(), &bytes);
        let rocks = TempRocks::reopen(dir);

        let snapshot = rocks
            .snapshot()
            .expect("metadata is intact, the snapshot opens");
        assert_eq!(snapshot.chain_state().expect("chain"), chain);
        match snapshot.get(&key) {
            Err(StorageError::Corrupt {
                column: got,
                key: hex_key,
                reason,
            }) => {
                assert_eq!(got, column, "{bytes:?}");
                assert_eq!(hex_key, hex::encode(key.column_key()), "{bytes:?}");
                assert!(!reason.is_empty());
            }
            other => panic!(
                "{column} {} bytes: expected Corrupt, got {other:?}",
                bytes.len()
            ),
        }
        // Other keys still read; the error names only the corrupt one.
        assert_eq!(
            snapshot.get(&nonce(1)).expect("intact key"),
            Some(StateValue::Nonce(2))
        );
        assert!(snapshot.is_executed(&tx(0)).expect("mark"));
        drop(snapshot);

        // Commits still work (they only read metadata), and overwriting the key heals it.
        let value = match key {
            StateKey::Nonce(_) => StateValue::Nonce(5),
            StateKey::Balance(..) => StateValue::Balance(5),
            StateKey::Multisig(_) => multisig(1, &[5]),
            StateKey::Module(_) => module(5, 5),
            StateKey::ContractBalance(..) => StateValue::Balance(5),
            StateKey::Storage(..) => stored(&[5]),
        };
        commit_next(&*rocks, [(key, value.clone())], vec![], 0);
        assert_eq!(
            rocks
                .snapshot()
                .expect("snapshot")
                .get(&key)
                .expect("healed"),
            Some(value)
        );
    }
}

#[test]
fn rocks_corrupt_metadata_is_a_typed_error() {
    let cases: [(&str, Vec<u8>); 5] = [
        ("topoheight", vec![0, 0, 1]),
        ("topoheight", vec![0; 9]),
        ("state_root", vec![7; 31]),
        ("state_root", vec![]),
        ("burned_supply", vec![1; 4]),
    ];
    for (meta_key, bytes) in cases {
        let rocks = TempRocks::new();
        commit_next(&*rocks, [(nonce(0), StateValue::Nonce(1))], vec![tx(0)], 3);
        let chain = rocks.chain_state().expect("chain state");
        let dir = rocks.close();
        raw_put(dir.path(), "meta", meta_key.as_bytes(), &bytes);
        let rocks = TempRocks::reopen(dir);

        let is_meta_corruption = |error: &StorageError| matches!(error, StorageError::Corrupt { column: "meta", key, .. } if key == meta_key);
        let error = rocks.snapshot().expect_err("corrupt metadata");
        assert!(
            is_meta_corruption(&error),
            "{meta_key} {bytes:?}: {error:?}"
        );
        let error = rocks.chain_state().expect_err("corrupt metadata");
        assert!(
            is_meta_corruption(&error),
            "{meta_key} {bytes:?}: {error:?}"
        );
        // A commit cannot check its parent, so it is refused, not applied blindly.
        let commit = BlockCommit::new(
            &chain,
            1,
            vec![(nonce(0), StateValue::Nonce(2))],
            vec![tx(1)],
            3,
        )
        .expect("well-formed commit");
        let error = rocks.commit(&commit).expect_err("corrupt metadata");
        assert!(
            is_meta_corruption(&error),
            "{meta_key} {bytes:?}: {error:?}"
        );

        // Nothing of that commit reached the disk: repair the metadata and look.
        let dir = rocks.close();
        let good: Vec<u8> = match meta_key {
            "topoheight" => 0u64.to_be_bytes().to_vec(),
            "state_root" => chain.state_root.as_bytes().to_vec(),
            _ => chain.burned_supply.to_be_bytes().to_vec(),
        };
        raw_put(dir.path(), "meta", meta_key.as_bytes(), &good);
        let rocks = TempRocks::reopen(dir);
        let snapshot = rocks.snapshot().expect("repaired metadata");
        assert_eq!(snapshot.chain_state().expect("chain"), chain);
        assert_eq!(
            snapshot.get(&nonce(0)).expect("read"),
            Some(StateValue::Nonce(1))
        );
        assert!(!snapshot.is_executed(&tx(1)).expect("mark"));
    }
}

// ---------------------------------------------------------------------------------------
// Property: memory and RocksDB agree with each other and with a model
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Block {
    writes: BTreeMap<StateKey, StateValue>,
    executed: BTreeSet<u64>,
    burned_supply: u64,
}

fn key_strategy() -> impl Strategy<Value = StateKey> {
    // Storage keys weigh double: they are the only contract keys with deletions and
    // empty values, the cases the stores and the root most easily get wrong.
    prop_oneof![
        1 => (0..ACCOUNTS).prop_map(nonce),
        1 => (0..ACCOUNTS, 0..ASSETS).prop_map(|(a, s)| balance(a, s)),
        1 => (0..ACCOUNTS).prop_map(multisig_key),
        1 => (0..CONTRACTS).prop_map(module_key),
        1 => (0..CONTRACTS, 0..ASSETS).prop_map(|(c, s)| contract_balance(c, s)),
        2 => (0..CONTRACTS, 0..SLOTS).prop_map(|(c, k)| slot(c, k)),
    ]
}

fn u64_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), Just(u64::MAX), 0..1_000u64, any::<u64>()]
}

fn write_strategy() -> impl Strategy<Value = (StateKey, StateValue)> {
    key_strategy().prop_flat_map(|key| {
        let value: BoxedStrategy<StateValue> = match key {
            StateKey::Nonce(_) => u64_strategy().prop_map(StateValue::Nonce).boxed(),
            StateKey::Balance(..) => u64_strategy().prop_map(StateValue::Balance).boxed(),
            StateKey::Multisig(_) => prop_oneof![
                Just(StateValue::Multisig(None)),
                (1u8..4, prop::collection::vec(0..6u64, 0..4))
                    .prop_map(|(threshold, participants)| multisig(threshold, &participants)),
            ]
            .boxed(),
            StateKey::Module(_) => (any::<u8>(), 1..80usize)
                .prop_map(|(seed, len)| module(seed, len))
                .boxed(),
            StateKey::ContractBalance(..) => u64_strategy().prop_map(StateValue::Balance).boxed(),
            // Deletions, empty values, inline values and values past the inline 32 bytes.
            StateKey::Storage(..) => prop_oneof![
                Just(unstored()),
                Just(stored(&[])),
                prop::collection::vec(any::<u8>(), 1..48).prop_map(|bytes| stored(&bytes)),
            ]
            .boxed(),
        };
        value.prop_map(move |value| (key, value))
    })
}

fn block_strategy() -> impl Strategy<Value = Block> {
    (
        prop::collection::vec(write_strategy(), 0..12),
        prop::collection::btree_set(0..TXS, 0..4),
        u64_strategy(),
    )
        .prop_map(|(writes, executed, burned_supply)| Block {
            writes: writes.into_iter().collect(),
            executed,
            burned_supply,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn memory_and_rocks_agree_on_random_histories(blocks in prop::collection::vec(block_strategy(), 1..7)) {
        let memory = MemoryStore::new();
        let rocks = TempRocks::new();
        let mut model: BTreeMap<StateKey, StateValue> = BTreeMap::new();
        let mut executed: BTreeSet<Hash> = BTreeSet::new();
        // Every block's snapshots, kept open while later blocks commit.
        let mut history = Vec::new();
        for block in &blocks {
            let chain = memory.chain_state().expect("chain state");
            prop_assert_eq!(chain, rocks.chain_state().expect("chain state"));
            let writes: Vec<(StateKey, StateValue)> =
                block.writes.iter().map(|(k, v)| (*k, v.clone())).collect();
            let hashes: Vec<Hash> = block.executed.iter().map(|&i| tx(i)).collect();
            let commit = BlockCommit::new(
                &chain,
                chain.next_topoheight(),
                writes.clone(),
                hashes.clone(),
                block.burned_supply,
            )
            .expect("well-formed commit");
            memory.commit(&commit).expect("memory commit");
            rocks.commit(&commit).expect("rocks commit");

            for (key, value) in &writes {
                if value.is_deletion() {
                    model.remove(key);
                } else {
                    model.insert(*key, value.clone());
                }
            }
            executed.extend(hashes.iter().copied());
            let mut sorted_hashes = hashes;
            sorted_hashes.sort();
            let root = state_root(
                &chain.state_root,
                chain.next_topoheight(),
                block.burned_supply,
                &writes,
                &sorted_hashes,
            );
            let expected_chain = ChainState {
                topoheight: Some(chain.next_topoheight()),
                state_root: root,
                burned_supply: block.burned_supply,
            };
            let expected = expected_dump(expected_chain, &model, &executed);

            let memory_snapshot = memory.snapshot().expect("memory snapshot");
            let rocks_snapshot = rocks.snapshot().expect("rocks snapshot");
            prop_assert_eq!(&dump(&memory_snapshot), &expected);
            prop_assert_eq!(&dump(&rocks_snapshot), &expected);
            history.push((expected, memory_snapshot, rocks_snapshot));
        }
        // Old snapshots still show their own block after all the later ones.
        for (expected, memory_snapshot, rocks_snapshot) in &history {
            prop_assert_eq!(&dump(memory_snapshot), expected);
            prop_assert_eq!(&dump(rocks_snapshot), expected);
        }
        drop(history);

        // And the database reopens to the final state.
        let last = dump_store(&memory);
        let reopened = TempRocks::reopen(rocks.close());
        prop_assert_eq!(dump_store(&*reopened), last);
    }
}
