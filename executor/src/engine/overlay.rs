//! The view a transaction reads through when the writes before it are already final: the
//! block's writes so far, then the prologue's base layer, then storage.
//!
//! The sequential oracle reads through it with every earlier transaction's writes, batch
//! grouping with the earlier batches' writes (no transaction of a batch touches another's
//! accounts, so that is the same view). Block-STM's view is another thing: its writes are
//! versioned and speculative (see `blockstm::task`).

use rustc_hash::FxHashMap;
use storage_adapter::{Hash, StateKey, StateValue, StateView, StorageError};

use crate::block::Prologue;
use crate::vm::VmView;

/// Final writes, then the prologue, then storage.
pub(crate) struct OverlayView<'a, S: ?Sized> {
    /// The block's writes visible to the transaction.
    pub(crate) writes: &'a FxHashMap<StateKey, StateValue>,
    /// The reward, beneath every transaction.
    pub(crate) prologue: &'a Prologue,
    /// The snapshot the block runs on.
    pub(crate) storage: &'a S,
}

impl<S: StateView + ?Sized> VmView for OverlayView<'_, S> {
    type Error = StorageError;

    fn read(&mut self, key: &StateKey) -> Result<Option<StateValue>, StorageError> {
        if let Some(value) = self.writes.get(key).or_else(|| self.prologue.get(key)) {
            return Ok(Some(value.clone()));
        }
        self.storage.get(key)
    }

    fn is_executed(&mut self, tx_hash: &Hash) -> Result<bool, StorageError> {
        self.storage.is_executed(tx_hash)
    }
}
