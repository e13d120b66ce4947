//! Contract calls on an sBPF virtual machine, after TOS's TAKO model.
//!
//! Contracts are `solana-sbpf` bytecode with their own storage and balances, reached only
//! through syscalls that charge gas. This crate is the VM half of that: it loads and
//! verifies modules, runs one call of a module against a host that owns the state, meters
//! it, and says how it ended. It knows nothing about transactions, fees, deposits or
//! engines; the executor builds those on top.
//!
//! - [`abi`]: the syscall ABI (registers, limits, result codes) — read this to write a
//!   contract;
//! - [`gas`]: what instructions and syscalls cost;
//! - [`Module`]: bytecode loaded and verified once, shared by all workers;
//! - [`ContractVm`]: one worker's VM (interpreter or JIT, see [`VmKind`]);
//! - [`ContractHost`]: the state a call runs against, fallible for Block-STM;
//!   [`MemoryHost`] is an in-memory one with write buffering;
//! - [`CallOutcome`] / [`HostAbort`]: how a call ends;
//! - [`contracts`]: the bundled contracts (token, AMM, ticket mint, vote) and their input
//!   encodings.
//!
//! A call's result depends only on the module, the call and what the host answers: the
//! same on every node, with either VM kind, on any thread.

pub mod abi;
mod context;
pub mod contracts;
pub mod gas;
mod host;
mod ids;
mod memory_host;
mod module;
mod outcome;
mod syscalls;
mod vm;

pub use host::{ContractHost, TransferError};
pub use ids::{Asset, ContractId, PublicKey, StorageKey, StorageValue};
pub use memory_host::{MemoryHost, MemoryHostError};
pub use module::{assemble_source, LoadError, Module};
pub use outcome::{CallOutcome, FaultReason, HostAbort};
pub use vm::{
    CallContext, ContractVm, Meter, ParseVmKindError, VmKind, VmUnavailable, MAX_METERED_GAS,
};
