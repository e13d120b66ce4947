//! An in-memory store, for tests and benches.
//!
//! State lives in an immutable map behind an `Arc`; a snapshot is a clone of the `Arc`
//! and a commit builds the next map and swaps it in, so readers never block a commit and
//! always see whole blocks.

use std::sync::{Arc, PoisonError, RwLock};

use rustc_hash::FxHashMap;

use crate::commit::BlockCommit;
use crate::state::{StateKey, StateValue};
use crate::store::{check_parent, BlockStore};
use crate::types::Hash;
use crate::view::{ChainState, StateView, StorageError};

#[derive(Clone, Debug, Default)]
struct MemoryState {
    values: FxHashMap<StateKey, StateValue>,
    executed: FxHashMap<Hash, u64>,
    chain: ChainState,
}

/// An in-memory [`BlockStore`].
///
/// ```
/// use storage_adapter::{BlockStore, MemoryStore, StateView};
///
/// let store = MemoryStore::new();
/// assert_eq!(store.snapshot().unwrap().chain_state().unwrap().topoheight, None);
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    current: RwLock<Arc<MemoryState>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `values` at topoheight 0 with a zero root: a test's starting state.
    /// Later commits chain on it as on any other state.
    pub fn with_state(values: impl IntoIterator<Item = (StateKey, StateValue)>) -> Self {
        let state = MemoryState {
            values: values
                .into_iter()
                .filter(|(_, v)| !v.is_deletion())
                .collect(),
            executed: FxHashMap::default(),
            chain: ChainState {
                topoheight: Some(0),
                ..ChainState::default()
            },
        };
        Self {
            current: RwLock::new(Arc::new(state)),
        }
    }

    fn current(&self) -> Arc<MemoryState> {
        // A poisoned lock only means another thread panicked while holding it; the `Arc`
        // inside is always a whole state, so it is safe to keep using.
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A snapshot of a [`MemoryStore`].
#[derive(Clone, Debug)]
pub struct MemorySnapshot {
    state: Arc<MemoryState>,
}

impl StateView for MemorySnapshot {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StorageError> {
        Ok(self.state.values.get(key).cloned())
    }

    fn is_executed(&self, tx_hash: &Hash) -> Result<bool, StorageError> {
        Ok(self.state.executed.contains_key(tx_hash))
    }

    fn chain_state(&self) -> Result<ChainState, StorageError> {
        Ok(self.state.chain)
    }
}

impl BlockStore for MemoryStore {
    type Snapshot<'a> = MemorySnapshot;

    fn snapshot(&self) -> Result<MemorySnapshot, StorageError> {
        Ok(MemorySnapshot {
            state: self.current(),
        })
    }

    fn commit(&self, commit: &BlockCommit) -> Result<(), StorageError> {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        check_parent(&current.chain, commit)?;
        let mut next = MemoryState::clone(&current);
        for (key, value) in commit.writes() {
            if value.is_deletion() {
                next.values.remove(key);
            } else {
                next.values.insert(*key, value.clone());
            }
        }
        for hash in commit.executed() {
            next.executed.insert(*hash, commit.topoheight());
        }
        next.chain = commit.chain_state();
        *current = Arc::new(next);
        Ok(())
    }
}
