//! The read side of storage: a consistent snapshot of state at one topoheight.

use crate::state::{StateKey, StateValue};
use crate::types::Hash;

/// Why storage could not answer or could not commit.
///
/// Cloneable so that a parallel engine can hand the first error it met to its caller
/// while other workers still hold theirs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// RocksDB reported an error (I/O, corruption detected by RocksDB itself, …).
    #[error("rocksdb: {0}")]
    Backend(String),
    /// Bytes on disk that do not decode as what their column family holds.
    #[error("corrupt data in column family `{column}` at key {key}: {reason}")]
    Corrupt {
        /// The column family.
        column: &'static str,
        /// The key, in hex.
        key: String,
        /// What is wrong with the bytes.
        reason: &'static str,
    },
    /// A commit that does not follow the stored chain or is not well formed; nothing
    /// was written.
    #[error("commit rejected: {0}")]
    InvalidCommit(String),
    /// The caller gave up on the block (a dropped async execution): reads are refused so
    /// that the engine stops early. Never committed, never a verdict on the block.
    #[error("execution cancelled by the caller")]
    Cancelled,
    /// A failure of a store implemented outside this crate (a daemon's own backend, a
    /// test double of failing storage), in that store's words.
    #[error("storage failure: {0}")]
    Other(String),
}

#[cfg(feature = "rocksdb")]
impl From<rocksdb::Error> for StorageError {
    fn from(error: rocksdb::Error) -> Self {
        StorageError::Backend(error.into_string())
    }
}

/// The chain-level metadata that a store keeps beside the account state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ChainState {
    /// The topoheight of the last committed block; `None` for an empty store.
    pub topoheight: Option<u64>,
    /// The state root after that block ([`Hash::ZERO`] for an empty store).
    pub state_root: Hash,
    /// Total TOS burned so far.
    pub burned_supply: u64,
}

impl ChainState {
    /// The topoheight that the next block must carry.
    pub fn next_topoheight(&self) -> u64 {
        self.topoheight.map_or(0, |t| t.saturating_add(1))
    }
}

/// A consistent, read-only snapshot of state.
///
/// Every method is fallible: a storage error is a value, never a panic. Implementations
/// are `Sync` because the parallel engines read a snapshot from all their worker threads
/// at once, with no lock of their own.
pub trait StateView: Sync {
    /// The value at `key`, or `None` when the key is absent.
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StorageError>;

    /// Whether a transaction with this hash was executed by an earlier block.
    fn is_executed(&self, tx_hash: &Hash) -> Result<bool, StorageError>;

    /// The chain metadata at this snapshot.
    fn chain_state(&self) -> Result<ChainState, StorageError>;
}

impl<T: StateView + ?Sized> StateView for &T {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StorageError> {
        (**self).get(key)
    }

    fn is_executed(&self, tx_hash: &Hash) -> Result<bool, StorageError> {
        (**self).is_executed(tx_hash)
    }

    fn chain_state(&self) -> Result<ChainState, StorageError> {
        (**self).chain_state()
    }
}
