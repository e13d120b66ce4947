//! The write side of storage: stores that hand out snapshots and apply block commits.

use crate::commit::BlockCommit;
use crate::view::{ChainState, StateView, StorageError};

/// A store of TOS state that applies whole blocks atomically.
///
/// A block is executed against [`BlockStore::snapshot`] and its [`BlockCommit`] applied
/// with [`BlockStore::commit`]: all of it or, on any error, none of it.
pub trait BlockStore: Send + Sync {
    /// A consistent read view, valid while the store is borrowed.
    type Snapshot<'a>: StateView
    where
        Self: 'a;

    /// A snapshot of the current state.
    fn snapshot(&self) -> Result<Self::Snapshot<'_>, StorageError>;

    /// Applies a block's writes, executed-transaction marks and chain metadata in one
    /// atomic step. Rejects, writing nothing, a commit not built on the current state.
    fn commit(&self, commit: &BlockCommit) -> Result<(), StorageError>;

    /// The chain metadata of the current state.
    fn chain_state(&self) -> Result<ChainState, StorageError> {
        self.snapshot()?.chain_state()
    }
}

/// Checks that `commit` was built on `current`, the shared rule of every store.
pub(crate) fn check_parent(current: &ChainState, commit: &BlockCommit) -> Result<(), StorageError> {
    if commit.parent() != current {
        return Err(StorageError::InvalidCommit(format!(
            "commit for topoheight {} was built on {:?}, but the store is at {:?}",
            commit.topoheight(),
            commit.parent(),
            current
        )));
    }
    Ok(())
}
