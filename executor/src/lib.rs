//! TOS transactions and blocks, the TOS VM, the execution engines and the workloads.
//!
//! - [`model`]: transactions and blocks, with their structural rules.
//! - [`vm`]: the execution rules of one transaction, over a pluggable [`vm::VmView`].
//! - [`contract`]: the rules of contract deploys and calls, on the `contract-vm` VM, and
//!   the cache of loaded modules every worker shares.
//! - [`block`]: what every engine shares around the transactions: validation, the
//!   reward prologue, fee/burn totals and the sealing epilogue.
//! - [`engine`]: the [`engine::BlockExecutor`] trait and its engines: the sequential
//!   oracle that defines correct results, batch grouping (the daemon's pessimistic
//!   baseline) and Block-STM, the frame they share, and the one factory that builds
//!   them ([`engine::build`]).
//! - [`slot`]: the daemon's executor slot: configuration, the parallel threshold, shadow
//!   mode, the circuit breaker, and an async facade for tokio.
//! - [`capsule`]: mismatch capsules: the evidence of a shadow mismatch or a fallback in
//!   one file that replays without a database, its bounded directory, replay on every
//!   engine, and the block file of `blockstm run --export-blocks`.
//! - [`node`]: the daemon's block path in small: blocks applied in order to a store
//!   through the slot, with statistics and Prometheus metrics.
//! - [`workload`]: the seeded block generator of the binary, benches and tests.
//!
//! The library never prints; it reports through return values and `tracing`.

pub mod block;
pub mod capsule;
pub mod contract;
pub mod engine;
pub mod model;
pub mod node;
pub mod outcome;
pub mod slot;
pub mod vm;
pub mod workload;

pub use block::{
    finish_block, genesis_commit, genesis_commit_with, validate_block, Prologue, Totals,
};
pub use contract_vm::VmKind;
pub use engine::grouping::{GroupingConfig, GroupingExecutor};
pub use engine::sequential::{execute_sequential, SequentialExecutor};
pub use engine::{BlockExecutor, EngineConfig, EngineKind, Execution, ExecutionStats};
pub use model::{
    Block, Deposit, MalformedTransaction, Payload, Transaction, Transfer, MAX_BLOCK_TRANSACTIONS,
    MAX_TRANSFERS_PER_TX,
};
pub use outcome::{
    BlockError, BlockOutput, CallFailure, OverflowKind, TxFailure, TxOutcome, TxResult, WriteSet,
    MAX_SUPPLY,
};
pub use vm::{execute_transaction, execute_transaction_on, VmError, VmView};
pub use workload::{Workload, WorkloadConfig, WorkloadError, WorkloadKind};
