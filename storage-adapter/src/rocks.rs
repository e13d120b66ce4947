//! The RocksDB store: the embedded default for the `blockstm` binary.
//!
//! Layout: one column family per kind of state, so that within each family the byte order
//! of keys is the order of [`StateKey`]:
//!
//! | family              | key                    | value                          |
//! |---------------------|------------------------|--------------------------------|
//! | `nonces`            | account                | nonce, big-endian `u64`        |
//! | `balances`          | account ‖ asset        | balance, big-endian `u64`      |
//! | `multisig`          | account                | threshold, count, participants |
//! | `modules`           | contract               | bytecode                       |
//! | `contract_balances` | contract ‖ asset       | balance, big-endian `u64`      |
//! | `contract_storage`  | contract ‖ storage key | `0x01` ‖ value bytes           |
//! | `executed`          | transaction hash       | topoheight, big-endian `u64`   |
//! | `meta`              | `topoheight`, `state_root`, `burned_supply` | their bytes |
//!
//! A block is applied through one `WriteBatch` in sorted key order (state, marks, then
//! metadata last), so after a crash the database is at a block boundary: RocksDB applies a
//! batch whole or not at all.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rustc_hash::FxHashMap;

use rocksdb::{
    ColumnFamily, ColumnFamilyDescriptor, Options, ReadOptions, Snapshot, WriteBatch, WriteOptions,
    DB,
};

use crate::commit::BlockCommit;
use crate::state::{ModuleCode, StateKey, StateValue};
use crate::store::{check_parent, BlockStore};
use crate::types::{ContractId, Hash};
use crate::view::{ChainState, StateView, StorageError};

const CF_NONCES: &str = "nonces";
const CF_BALANCES: &str = "balances";
const CF_MULTISIG: &str = "multisig";
const CF_MODULES: &str = "modules";
const CF_CONTRACT_BALANCES: &str = "contract_balances";
const CF_CONTRACT_STORAGE: &str = "contract_storage";
const CF_EXECUTED: &str = "executed";
const CF_META: &str = "meta";
const COLUMN_FAMILIES: [&str; 8] = [
    CF_NONCES,
    CF_BALANCES,
    CF_MULTISIG,
    CF_MODULES,
    CF_CONTRACT_BALANCES,
    CF_CONTRACT_STORAGE,
    CF_EXECUTED,
    CF_META,
];

const META_TOPOHEIGHT: &[u8] = b"topoheight";
const META_STATE_ROOT: &[u8] = b"state_root";
const META_BURNED_SUPPLY: &[u8] = b"burned_supply";

fn column_of(key: &StateKey) -> &'static str {
    match key {
        StateKey::Nonce(_) => CF_NONCES,
        StateKey::Balance(..) => CF_BALANCES,
        StateKey::Multisig(_) => CF_MULTISIG,
        StateKey::Module(_) => CF_MODULES,
        StateKey::ContractBalance(..) => CF_CONTRACT_BALANCES,
        StateKey::Storage(..) => CF_CONTRACT_STORAGE,
    }
}

/// Options for opening a [`RocksStore`].
#[derive(Clone, Debug)]
pub struct RocksOptions {
    /// Sync the write-ahead log on every block commit (durable against power loss, slower).
    pub sync_commits: bool,
    /// Block cache size in bytes.
    pub block_cache_bytes: usize,
}

impl Default for RocksOptions {
    fn default() -> Self {
        Self {
            sync_commits: false,
            block_cache_bytes: 256 << 20,
        }
    }
}

/// A [`BlockStore`] on an embedded RocksDB database.
///
/// ```no_run
/// use storage_adapter::{BlockStore, RocksStore, StateView};
///
/// let store = RocksStore::open("/tmp/tos-state")?;
/// let chain = store.snapshot()?.chain_state()?;
/// println!("at topoheight {:?}, root {}", chain.topoheight, chain.state_root);
/// # Ok::<(), storage_adapter::StorageError>(())
/// ```
pub struct RocksStore {
    db: DB,
    write_options: WriteOptions,
    /// Held from the parent check to the batch write, so that two concurrent commits on
    /// the same parent cannot both pass the check (the memory store's write lock does the
    /// same there). Readers never take it.
    commit_lock: Mutex<()>,
}

impl std::fmt::Debug for RocksStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksStore")
            .field("path", &self.db.path())
            .finish_non_exhaustive()
    }
}

impl RocksStore {
    /// Opens the database at `path`, creating it (and its column families) if missing.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        Self::open_with(path, &RocksOptions::default())
    }

    /// Opens the database at `path` with explicit options.
    pub fn open_with(path: impl AsRef<Path>, options: &RocksOptions) -> Result<Self, StorageError> {
        let mut db_options = Options::default();
        db_options.create_if_missing(true);
        db_options.create_missing_column_families(true);
        let mut table = rocksdb::BlockBasedOptions::default();
        table.set_block_cache(&rocksdb::Cache::new_lru_cache(options.block_cache_bytes));
        table.set_bloom_filter(10.0, false);
        db_options.set_block_based_table_factory(&table);
        let families = COLUMN_FAMILIES
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, db_options.clone()));
        let db = DB::open_cf_descriptors(&db_options, path, families)?;
        let mut write_options = WriteOptions::default();
        write_options.set_sync(options.sync_commits);
        Ok(Self {
            db,
            write_options,
            commit_lock: Mutex::new(()),
        })
    }

    fn column(&self, name: &'static str) -> &ColumnFamily {
        // Every family in COLUMN_FAMILIES is created by `open`; a missing one would mean
        // `open` changed without this function, which no input can cause.
        self.db
            .cf_handle(name)
            .unwrap_or_else(|| panic!("invariant: column family `{name}` is created by open"))
    }

    fn read_chain_state(&self, options: &ReadOptions) -> Result<ChainState, StorageError> {
        let meta = self.column(CF_META);
        let read = |key: &'static [u8]| self.db.get_pinned_cf_opt(meta, key, options);
        let corrupt = |reason| StorageError::Corrupt {
            column: CF_META,
            key: String::from_utf8_lossy(reason).into_owned(),
            reason: "metadata value has the wrong length",
        };
        let topoheight = match read(META_TOPOHEIGHT)? {
            None => None,
            Some(bytes) => Some(u64::from_be_bytes(
                bytes
                    .as_ref()
                    .try_into()
                    .map_err(|_| corrupt(META_TOPOHEIGHT))?,
            )),
        };
        let state_root = match read(META_STATE_ROOT)? {
            None => Hash::ZERO,
            Some(bytes) => Hash::from_slice(&bytes).ok_or_else(|| corrupt(META_STATE_ROOT))?,
        };
        let burned_supply = match read(META_BURNED_SUPPLY)? {
            None => 0,
            Some(bytes) => u64::from_be_bytes(
                bytes
                    .as_ref()
                    .try_into()
                    .map_err(|_| corrupt(META_BURNED_SUPPLY))?,
            ),
        };
        Ok(ChainState {
            topoheight,
            state_root,
            burned_supply,
        })
    }
}

/// A point-in-time view of a [`RocksStore`], read from every worker thread directly.
pub struct RocksSnapshot<'a> {
    store: &'a RocksStore,
    // Declared before `snapshot` so it is dropped first: it points at the snapshot.
    read_options: ReadOptions,
    _snapshot: Snapshot<'a>,
    nonces: &'a ColumnFamily,
    balances: &'a ColumnFamily,
    multisig: &'a ColumnFamily,
    modules: &'a ColumnFamily,
    contract_balances: &'a ColumnFamily,
    contract_storage: &'a ColumnFamily,
    executed: &'a ColumnFamily,
    chain: ChainState,
    /// Modules already read from this snapshot. Every contract call reads its module, and
    /// decoding one hashes its whole bytecode (blake3, for the VM's cache of loaded
    /// modules): 7% of the sequential oracle's time on a block of token transfers. A
    /// snapshot never changes, so a module read once is the same for the snapshot's life.
    modules_read: Mutex<FxHashMap<ContractId, Arc<ModuleCode>>>,
}

impl std::fmt::Debug for RocksSnapshot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksSnapshot")
            .field("chain", &self.chain)
            .finish_non_exhaustive()
    }
}

impl StateView for RocksSnapshot<'_> {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StorageError> {
        if let StateKey::Module(contract) = key {
            return self.module(contract);
        }
        self.get_stored(key)
    }

    fn is_executed(&self, tx_hash: &Hash) -> Result<bool, StorageError> {
        Ok(self
            .store
            .db
            .get_pinned_cf_opt(self.executed, tx_hash.as_bytes(), &self.read_options)?
            .is_some())
    }

    fn chain_state(&self) -> Result<ChainState, StorageError> {
        Ok(self.chain)
    }
}

impl RocksSnapshot<'_> {
    /// The module at `contract`, decoded once per snapshot (see `modules_read`).
    fn module(&self, contract: &ContractId) -> Result<Option<StateValue>, StorageError> {
        // The map holds only decoded modules, complete when inserted: a panic elsewhere
        // under the lock leaves nothing half-done.
        let cached = self
            .modules_read
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(contract)
            .cloned();
        if let Some(module) = cached {
            return Ok(Some(StateValue::Module(module)));
        }
        // Read and decoded outside the lock; two threads missing at once both decode,
        // and the second insert replaces the first with an equal module.
        let value = self.get_stored(&StateKey::Module(*contract))?;
        if let Some(StateValue::Module(module)) = &value {
            self.modules_read
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(*contract, Arc::clone(module));
        }
        Ok(value)
    }

    /// `key`'s value as stored, decoded.
    fn get_stored(&self, key: &StateKey) -> Result<Option<StateValue>, StorageError> {
        let column = match key {
            StateKey::Nonce(_) => self.nonces,
            StateKey::Balance(..) => self.balances,
            StateKey::Multisig(_) => self.multisig,
            StateKey::Module(_) => self.modules,
            StateKey::ContractBalance(..) => self.contract_balances,
            StateKey::Storage(..) => self.contract_storage,
        };
        let column_key = key.column_key();
        let Some(bytes) =
            self.store
                .db
                .get_pinned_cf_opt(column, column_key, &self.read_options)?
        else {
            return Ok(None);
        };
        StateValue::decode(key, &bytes)
            .map(Some)
            .map_err(|reason| StorageError::Corrupt {
                column: column_of(key),
                key: hex::encode(column_key),
                reason,
            })
    }
}

impl BlockStore for RocksStore {
    type Snapshot<'a> = RocksSnapshot<'a>;

    fn snapshot(&self) -> Result<RocksSnapshot<'_>, StorageError> {
        let snapshot = self.db.snapshot();
        let mut read_options = ReadOptions::default();
        read_options.set_snapshot(&snapshot);
        let chain = self.read_chain_state(&read_options)?;
        Ok(RocksSnapshot {
            store: self,
            read_options,
            _snapshot: snapshot,
            nonces: self.column(CF_NONCES),
            balances: self.column(CF_BALANCES),
            multisig: self.column(CF_MULTISIG),
            modules: self.column(CF_MODULES),
            contract_balances: self.column(CF_CONTRACT_BALANCES),
            contract_storage: self.column(CF_CONTRACT_STORAGE),
            executed: self.column(CF_EXECUTED),
            chain,
            modules_read: Mutex::default(),
        })
    }

    fn commit(&self, commit: &BlockCommit) -> Result<(), StorageError> {
        // The lock guards no data, so a panic while holding it leaves nothing to repair.
        let _guard = self
            .commit_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        check_parent(&self.read_chain_state(&ReadOptions::default())?, commit)?;
        let mut batch = WriteBatch::default();
        let mut value_bytes = Vec::with_capacity(64);
        // `writes` is sorted by StateKey, and StateKey's order is column then column key,
        // so the batch goes out in sorted key order within every family.
        for (key, value) in commit.writes() {
            let column = self.column(column_of(key));
            if value.is_deletion() {
                batch.delete_cf(column, key.column_key());
            } else {
                value_bytes.clear();
                value.encode_into(&mut value_bytes);
                batch.put_cf(column, key.column_key(), &value_bytes);
            }
        }
        let executed = self.column(CF_EXECUTED);
        let topoheight = commit.topoheight().to_be_bytes();
        for hash in commit.executed() {
            batch.put_cf(executed, hash.as_bytes(), topoheight);
        }
        // Metadata keys in byte order: burned_supply < state_root < topoheight.
        let meta = self.column(CF_META);
        batch.put_cf(
            meta,
            META_BURNED_SUPPLY,
            commit.burned_supply().to_be_bytes(),
        );
        batch.put_cf(meta, META_STATE_ROOT, commit.state_root().as_bytes());
        batch.put_cf(meta, META_TOPOHEIGHT, topoheight);
        self.db.write_opt(batch, &self.write_options)?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    /// Writes raw bytes under a state key, bypassing encoding: how tests make corrupt data.
    pub fn write_raw(store: &super::RocksStore, key: &super::StateKey, bytes: &[u8]) {
        let column = store.column(super::column_of(key));
        store
            .db
            .put_cf(column, key.column_key(), bytes)
            .expect("test write");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::PublicKey;

    #[test]
    fn corrupt_value_is_a_typed_error() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = RocksStore::open(dir.path()).expect("open");
        let key = StateKey::Nonce(PublicKey([1; 32]));
        test_support::write_raw(&store, &key, &[1, 2, 3]);
        let snapshot = store.snapshot().expect("snapshot");
        assert!(matches!(
            snapshot.get(&key),
            Err(StorageError::Corrupt {
                column: CF_NONCES,
                ..
            })
        ));
    }
}
