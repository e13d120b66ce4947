//! The view a Block-STM incarnation reads through: the block's multi-version memory below
//! the transaction (values, deltas summed, predicates), then the prologue's base layer,
//! then the storage snapshot. A read may meet an unfinished lower transaction; that ends
//! the incarnation with a blocker, never the process.

use rustc_hash::FxHashSet;
use storage_adapter::{Hash, StateKey, StateValue, StateView, StorageError};

use super::TosTask;
use crate::block::Prologue;
use crate::outcome::BlockError;
use crate::vm::VmView;
use blockstm_driver::{Blocker, SpeculativePredicate, SpeculativeRead, SpeculativeReads};

/// Why a read through [`TosView`] did not return a value.
pub(super) enum ViewError {
    /// The read must wait (an ESTIMATE below, or an unsettled sink): the incarnation ends.
    Blocked(Blocker),
    Storage(StorageError),
    /// The base of a delta chain could not be read (storage, or a value of the wrong
    /// kind).
    Block(BlockError),
}

/// A transaction's view: the block's memory below it, then the prologue, then storage.
pub(super) struct TosView<'r, 'm, 't, S: StateView + ?Sized> {
    pub(super) reads: &'r mut SpeculativeReads<'m, TosTask<'t, S>>,
    pub(super) prologue: &'r Prologue,
    pub(super) storage: &'r S,
    /// The balances to defer, unless this execution must be exact or none are.
    pub(super) hot: Option<&'r FxHashSet<StateKey>>,
}

impl<S: StateView + ?Sized> VmView for TosView<'_, '_, '_, S> {
    type Error = ViewError;

    fn defers(&mut self, key: &StateKey) -> bool {
        self.hot.is_some_and(|hot| hot.contains(key))
    }

    fn covers(&mut self, key: &StateKey, amount: u64) -> Result<bool, ViewError> {
        match self.reads.at_least(key, amount).map_err(ViewError::Block)? {
            SpeculativePredicate::Holds => Ok(true),
            SpeculativePredicate::Fails => Ok(false),
            SpeculativePredicate::Blocked(blocker) => Err(ViewError::Blocked(blocker)),
        }
    }

    fn read(&mut self, key: &StateKey) -> Result<Option<StateValue>, ViewError> {
        match self.reads.read(key).map_err(ViewError::Block)? {
            SpeculativeRead::Value(value) => Ok(Some(value)),
            SpeculativeRead::Blocked(blocker) => Err(ViewError::Blocked(blocker)),
            // The prologue and storage never change during the block, so a read that
            // lands on them is validated as "still not in memory", like any storage read.
            SpeculativeRead::NotFound => match self.prologue.get(key) {
                Some(value) => Ok(Some(value.clone())),
                None => self.storage.get(key).map_err(ViewError::Storage),
            },
        }
    }

    fn is_executed(&mut self, tx_hash: &Hash) -> Result<bool, ViewError> {
        // Executed marks come from earlier blocks only (a block cannot hold one hash
        // twice), so they are read from storage and need no validation.
        self.storage
            .is_executed(tx_hash)
            .map_err(ViewError::Storage)
    }
}
