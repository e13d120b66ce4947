//! The sequential oracle: the specification every other engine is checked against.
//!
//! It runs the transactions one after another in block order, each seeing the writes of
//! the successful ones before it, then the prologue's base layer, then storage.

use rustc_hash::FxHashMap;
use storage_adapter::{Hash, StateKey, StateValue, StateView, StorageError};

use super::{BlockExecutor, Execution, ExecutionStats};
use crate::block::{finish_block, validate_block, Prologue, Totals};
use crate::model::Block;
use crate::outcome::{BlockError, BlockOutput};
use crate::vm::{execute_transaction, VmView};

/// The sequential [`BlockExecutor`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SequentialExecutor;

impl SequentialExecutor {
    /// The sequential engine (it has no settings).
    pub fn new() -> Self {
        Self
    }
}

impl BlockExecutor for SequentialExecutor {
    fn name(&self) -> &'static str {
        "sequential"
    }

    fn execute_block(&self, block: &Block, view: &dyn StateView) -> Result<Execution, BlockError> {
        let output = execute_sequential(block, view)?;
        let stats = ExecutionStats::sequential(block.transactions().len());
        Ok(Execution { output, stats })
    }
}

/// Validates and executes `block` on `view` in block order: the reference result.
pub fn execute_sequential<S: StateView + ?Sized>(
    block: &Block,
    view: &S,
) -> Result<BlockOutput, BlockError> {
    let chain = view.chain_state()?;
    validate_block(block, &chain)?;
    let prologue = Prologue::new(block, view)?;
    let transactions = block.transactions();
    // Roughly three keys per transfer; sizing up front avoids rehashing in big blocks.
    let mut writes: FxHashMap<StateKey, StateValue> = FxHashMap::with_capacity_and_hasher(
        transactions.len().saturating_mul(3),
        Default::default(),
    );
    let mut results = Vec::with_capacity(transactions.len());
    let mut totals = Totals::default();
    for tx in transactions {
        let outcome = execute_transaction(
            tx,
            &mut LayeredView {
                writes: &writes,
                prologue: &prologue,
                storage: view,
            },
        )?;
        totals.add(&outcome)?;
        writes.extend(outcome.writes);
        results.push(outcome.result);
    }
    finish_block(block, view, &prologue, writes, results, totals)
}

/// The oracle's view: the block's writes so far, then the prologue, then storage.
struct LayeredView<'a, S: ?Sized> {
    writes: &'a FxHashMap<StateKey, StateValue>,
    prologue: &'a Prologue,
    storage: &'a S,
}

impl<S: StateView + ?Sized> VmView for LayeredView<'_, S> {
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
