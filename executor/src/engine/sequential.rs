//! The sequential oracle: the specification every other engine is checked against.
//!
//! It runs the transactions one after another in block order, each seeing the writes of
//! the successful ones before it, then the prologue's base layer, then storage.

use contract_vm::VmKind;
use rustc_hash::FxHashMap;
use storage_adapter::{StateKey, StateValue, StateView};

use super::frame::preamble;
use super::overlay::OverlayView;
use super::{BlockExecutor, Execution, ExecutionStats};
use crate::block::{finish_block, Totals};
use crate::model::Block;
use crate::outcome::{BlockError, BlockOutput};
use crate::vm::execute_transaction_on;

/// The sequential [`BlockExecutor`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SequentialExecutor {
    vm: VmKind,
}

impl SequentialExecutor {
    /// The sequential engine, running contract calls on the interpreter.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same engine running contract calls on a VM of `vm` (same results, another
    /// speed).
    pub fn with_vm(self, vm: VmKind) -> Self {
        Self { vm }
    }
}

impl BlockExecutor for SequentialExecutor {
    fn name(&self) -> &'static str {
        "sequential"
    }

    fn execute_block(&self, block: &Block, view: &dyn StateView) -> Result<Execution, BlockError> {
        let output = execute_sequential_on(block, view, self.vm)?;
        let stats = ExecutionStats::sequential(block.transactions().len());
        Ok(Execution { output, stats })
    }
}

/// Validates and executes `block` on `view` in block order: the reference result.
/// Contract calls run on the interpreter; see [`execute_sequential_on`].
pub fn execute_sequential<S: StateView + ?Sized>(
    block: &Block,
    view: &S,
) -> Result<BlockOutput, BlockError> {
    execute_sequential_on(block, view, VmKind::Interpreter)
}

/// [`execute_sequential`] with contract calls on a VM of `vm`: the same result, another
/// speed.
pub fn execute_sequential_on<S: StateView + ?Sized>(
    block: &Block,
    view: &S,
    vm: VmKind,
) -> Result<BlockOutput, BlockError> {
    let prologue = preamble(block, view)?;
    let transactions = block.transactions();
    // Roughly three keys per transfer; sizing up front avoids rehashing in big blocks.
    let mut writes: FxHashMap<StateKey, StateValue> = FxHashMap::with_capacity_and_hasher(
        transactions.len().saturating_mul(3),
        Default::default(),
    );
    let mut results = Vec::with_capacity(transactions.len());
    let mut totals = Totals::default();
    for tx in transactions {
        let outcome = execute_transaction_on(
            tx,
            &mut OverlayView {
                writes: &writes,
                prologue: &prologue,
                storage: view,
            },
            vm,
        )?;
        totals.add(&outcome)?;
        writes.extend(outcome.writes);
        results.push(outcome.result);
    }
    finish_block(block, view, &prologue, writes, results, totals)
}
