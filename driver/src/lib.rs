//! The generic Block-STM driver: worker threads, the task loop, and the rolling commit.
//!
//! This is where [`MVMemory`](mvmemory::MVMemory) and the
//! [`Scheduler`](scheduler::Scheduler) meet. It is a crate of its own, below the executor,
//! so that the loom models compile it (with `--cfg loom`) without the executor's storage
//! stack. It knows nothing about TOS:
//!
//! - [`ParallelTask`] (`task`) says how to execute one transaction against a
//!   [`SpeculativeReads`] view (`view`) and how to read the state beneath the block;
//! - a [`Plan`] (`plan`) says how the block is scheduled: hints, claims, sinks, frontier
//!   runs (`frontier`: the commit role executing at the commit frontier, on final state);
//! - a [`CommitSink`] receives each transaction's output once, in block order, as soon
//!   as it is final (the rolling commit, `commit`);
//! - [`run_parallel`] (`run`) runs the workers (`worker`) and returns a [`ParallelRun`]
//!   or a [`DriverError`] (`error`), with [`DriverStats`] (`stats`).
//!
//! The TOS engine and the generic property tests (mock transactions whose keys are only
//! known at run time, in `tests/`) both drive this same code.
//!
//! ```
//! use blockstm_driver::{
//!     run_parallel, CommitSink, ExecuteError, ExecuteResult, ParallelTask, Plan,
//!     SpeculativeRead, SpeculativeReads, TxnIndex, Write,
//! };
//!
//! /// Every transaction adds one to counter 0 and reports what it saw.
//! struct Increments;
//!
//! impl ParallelTask for Increments {
//!     type Key = u8;
//!     type Value = u64;
//!     type Output = u64;
//!     type Error = String;
//!     type Writes = [(u8, Write<u64>); 1];
//!
//!     fn execute(&self, _: TxnIndex, reads: &mut SpeculativeReads<'_, Self>) -> ExecuteResult<Self> {
//!         let seen = match reads.read(&0).map_err(ExecuteError::Failed)? {
//!             SpeculativeRead::Value(value) => value,
//!             SpeculativeRead::NotFound => 0, // nothing beneath the block
//!             SpeculativeRead::Blocked(blocker) => return Err(ExecuteError::Blocked(blocker)),
//!         };
//!         Ok((seen, [(0, Write::Value(seen + 1))]))
//!     }
//!
//!     fn counter_base(&self, _: &u8) -> Result<u64, String> {
//!         Ok(0)
//!     }
//! }
//!
//! /// Collects outputs as they become final.
//! struct Collect(Vec<u64>);
//!
//! impl CommitSink<u64, String> for Collect {
//!     fn commit(&mut self, _: TxnIndex, seen: &u64) -> Result<(), String> {
//!         self.0.push(*seen);
//!         Ok(())
//!     }
//! }
//!
//! let (run, sink) = run_parallel(&Increments, 100, Plan::default(), 4, Collect(Vec::new()))
//!     .expect("no task fails");
//! assert_eq!(sink.0, (0..100).collect::<Vec<u64>>());
//! assert_eq!(run.writes, vec![(0, 100)]);
//! ```

mod commit;
mod error;
mod frontier;
mod plan;
mod run;
mod settle;
mod stats;
mod task;
mod view;
mod worker;

// The atomics and locks, `std`'s or loom's (see `blockstm-sync`).
use blockstm_sync as sync;
pub use error::{DriverError, Invariant};
pub use mvmemory::{Counter, Write};
pub use plan::Plan;
#[cfg(not(loom))]
pub use run::run_parallel;
pub use run::{BlockRun, ParallelRun, RunResult};
pub use scheduler::{Incarnation, TxnIndex};
pub use stats::DriverStats;
pub use task::{CommitSink, ExecuteError, ExecuteResult, ExecutionWrites, ParallelTask};
pub use view::{Blocker, SpeculativePredicate, SpeculativeRead, SpeculativeReads};
pub use worker::panic_message;
