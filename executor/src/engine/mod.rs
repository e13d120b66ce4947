//! Block execution engines, all behind one trait so that the binary, the daemon slot,
//! the benches and the parity tests can swap them.
//!
//! Every engine must return exactly the [`BlockOutput`] of [`sequential::execute_sequential`]
//! for every block and starting state; only [`ExecutionStats`] may differ.
//!
//! - [`sequential`], [`grouping`], [`blockstm`]: the three engines;
//! - [`factory`]: [`EngineKind`], [`EngineConfig`] and [`build`], the one way to build
//!   any of them;
//! - [`stats`]: [`ExecutionStats`], the common counters and each engine's own;
//! - `frame`: what every engine does around the transactions (the preamble, the
//!   per-transaction summary, the way back to the oracle);
//! - `overlay`: the view through final writes, shared by the oracle and grouping.

use storage_adapter::StateView;

use crate::model::Block;
use crate::outcome::{BlockError, BlockOutput};

pub mod blockstm;
pub mod factory;
mod frame;
pub mod grouping;
mod overlay;
pub mod sequential;
pub mod stats;

pub use factory::{build, EngineConfig, EngineKind, UnknownEngineKind};
pub use stats::{BlockStmCounters, ExecutionStats, GroupingCounters};

/// Executes whole blocks against a snapshot of state.
pub trait BlockExecutor: Send + Sync {
    /// A short, stable name for logs and reports (`sequential`, `block-stm`, …).
    fn name(&self) -> &'static str;

    /// Validates and executes `block` on `view`, returning the sealed output (nothing is
    /// committed: the caller applies `output.commit` to its store).
    fn execute_block(&self, block: &Block, view: &dyn StateView) -> Result<Execution, BlockError>;
}

/// An engine's result: the output every engine agrees on, and how it got there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// The block's output; identical across engines.
    pub output: BlockOutput,
    /// Engine-specific counters.
    pub stats: ExecutionStats,
}
