//! What every engine does around the transactions themselves, written once: the preamble
//! (the block is valid on the snapshot's chain, the reward lies beneath it), the summary of
//! an executed transaction that the fold in block order needs, and the way back to the
//! sequential oracle, by choice or after a failure.
//!
//! Engines differ only in how they run the transactions between the preamble and the
//! epilogue ([`crate::block::finish_block_from_writes`] and its callers); keeping the rest
//! here is what makes "same output as the oracle" a statement about that part alone.

use storage_adapter::StateView;

use super::sequential::execute_sequential;
use super::{Execution, ExecutionStats};
use crate::block::{validate_block, Prologue, Totals};
use crate::model::Block;
use crate::outcome::{BlockError, DeltaSet, TxOutcome, TxResult, WriteSet};

/// Validates `block` against the chain of `view` and applies the reward beneath it: the
/// start of every engine, so that every engine rejects a block for the same reason.
pub(crate) fn preamble<S: StateView + ?Sized>(
    block: &Block,
    view: &S,
) -> Result<Prologue, BlockError> {
    let chain = view.chain_state()?;
    validate_block(block, &chain)?;
    Prologue::new(block, view)
}

/// What the fold in block order and the block output need of an executed transaction,
/// once its writes have gone elsewhere (an overlay, the multi-version memory): small,
/// because a parallel engine stores and moves one per execution.
#[derive(Debug)]
pub(crate) struct TxSummary {
    /// Success, or why it failed.
    pub(crate) result: TxResult,
    /// TOS fee earned by the miner; 0 when failed.
    pub(crate) fee: u64,
    /// TOS burned; 0 when failed.
    pub(crate) burned: u64,
}

impl TxSummary {
    /// Splits an outcome into its summary, its writes and its deltas.
    pub(crate) fn split(outcome: TxOutcome) -> (TxSummary, WriteSet, DeltaSet) {
        let TxOutcome {
            result,
            writes,
            deltas,
            fee,
            burned,
        } = outcome;
        (
            TxSummary {
                result,
                fee,
                burned,
            },
            writes,
            deltas,
        )
    }

    /// Takes the summary out of `outcome`, leaving only its writes and deltas there (its
    /// result reads `Success` and its fee and burn 0 afterwards): the outcome, hundreds of
    /// bytes of inline write lists, then moves on whole instead of being copied apart.
    pub(crate) fn take_from(outcome: &mut TxOutcome) -> TxSummary {
        TxSummary {
            result: std::mem::replace(&mut outcome.result, TxResult::Success),
            fee: std::mem::take(&mut outcome.fee),
            burned: std::mem::take(&mut outcome.burned),
        }
    }

    /// Folds the fee and the burn into `totals` (the same overflow errors as
    /// [`Totals::add`]); transactions must be folded in block order.
    pub(crate) fn fold_into(&self, totals: &mut Totals) -> Result<(), BlockError> {
        totals.add_amounts(self.fee, self.burned)
    }
}

/// Runs `block` on the sequential oracle, reporting `stats` (the engine says why it took
/// this path: one thread, a small or contended block, a failure).
pub(crate) fn run_sequentially<S: StateView + ?Sized>(
    block: &Block,
    view: &S,
    stats: ExecutionStats,
) -> Result<Execution, BlockError> {
    let output = execute_sequential(block, view)?;
    Ok(Execution { output, stats })
}

/// A parallel engine failed (a panic, a broken invariant): says so loudly, then runs the
/// block on the oracle. The fallback is counted in [`ExecutionStats::fallbacks`] and
/// nowhere else; the daemon slot turns it into its metric and trips its breaker.
pub(crate) fn fall_back<S: StateView + ?Sized>(
    engine: &'static str,
    reason: &str,
    block: &Block,
    view: &S,
    stats: ExecutionStats,
) -> Result<Execution, BlockError> {
    tracing::warn!(
        engine,
        %reason,
        "the engine failed; executing the block sequentially instead"
    );
    run_sequentially(
        block,
        view,
        ExecutionStats {
            fallbacks: 1,
            ..stats
        },
    )
}
