//! The syscall ABI: what a contract may call, with which registers, under which limits.
//!
//! Everything here is consensus: two nodes that disagree on a constant disagree on the
//! outcome of a call. That is why the limits are constants and not configuration.
//!
//! # Calling convention
//!
//! A syscall takes its arguments in `r1`..`r5` and returns its result in `r0`; like any
//! call it clobbers `r1`..`r5` and keeps `r6`..`r9`. Pointers are guest addresses (the
//! stack at `0x2_0000_0000`, the heap at `0x3_0000_0000`; the module's code is readable,
//! not writable, from address 0). A pointer whose range is not
//! mapped, or not writable where the syscall writes, **faults the call**
//! ([`SyscallFault::BadPointer`]); so does any length over its limit. A fault never stops
//! the process.
//!
//! | syscall | `r1` | `r2` | `r3` | `r0` |
//! |---|---|---|---|---|
//! | `tos_storage_read` | key ptr (32 B) | out ptr | out capacity | value length, or [`ABSENT`]; copies `min(length, capacity)` bytes |
//! | `tos_storage_write` | key ptr (32 B) | value ptr | value length (≤ [`MAX_VALUE_LEN`]) | 0 |
//! | `tos_storage_delete` | key ptr (32 B) | | | 0 |
//! | `tos_get_input_data` | out ptr | out capacity | | input length; copies `min(length, capacity)` bytes |
//! | `tos_set_return_data` | ptr | length (≤ [`MAX_RETURN_DATA_LEN`]) | | 0; a later call replaces it |
//! | `tos_get_caller` | out ptr (32 B) | | | 0; the transaction's source account |
//! | `tos_get_contract_hash` | out ptr (32 B) | | | 0; the called contract's id |
//! | `tos_get_balance` | asset ptr (32 B) | | | the contract's balance of the asset |
//! | `tos_transfer` | to account ptr (32 B) | asset ptr (32 B) | amount | [`TRANSFER_OK`], [`TRANSFER_INSUFFICIENT_BALANCE`] or [`TRANSFER_OVERFLOW`] |
//! | `tos_log` | ptr | length (≤ [`MAX_LOG_LEN`]) | | 0; at most [`MAX_LOGS`] per call |
//! | `tos_blake3` | ptr | length (≤ [`MAX_HASH_INPUT_LEN`]) | out ptr (32 B) | 0 |
//!
//! Each syscall works in one order: it checks its lengths against their limits (a fault),
//! charges its gas (see [`crate::gas`]; out of gas), then reads its pointers and does its
//! work (a bad pointer faults; a host failure stops the VM with [`crate::HostAbort`]).
//!
//! Storage keys are exactly 32 bytes ([`KEY_LEN`]); a contract that wants longer keys
//! hashes them with `tos_blake3`. Keys are per contract: two contracts never see each
//! other's storage. A stored value may be empty, which is not the same as absent.
//!
//! # Exit
//!
//! `exit` with `r0 = 0` is a success; any other `r0` is a revert carrying that code. The
//! contract's memory is its stack ([`STACK_FRAME_SIZE`] bytes per frame, [`MAX_CALL_DEPTH`]
//! frames) and a heap of [`HEAP_SIZE`] bytes, both zeroed before every call. Contracts
//! receive nothing in registers: they ask for their input with `tos_get_input_data`.
//!
//! No calls from one contract into another yet.

/// Length of a storage key, an account, an asset and a contract id in guest memory.
pub const KEY_LEN: u64 = 32;

/// Largest stored value, in bytes.
pub const MAX_VALUE_LEN: u64 = storage_adapter::MAX_STORAGE_VALUE_LEN as u64;

/// Largest return data, in bytes.
pub const MAX_RETURN_DATA_LEN: u64 = 1024;

/// Largest single log entry, in bytes.
pub const MAX_LOG_LEN: u64 = 1024;

/// Most log entries one call may emit.
pub const MAX_LOGS: usize = 64;

/// Largest input `tos_blake3` hashes in one call, in bytes.
pub const MAX_HASH_INPUT_LEN: u64 = 16 * 1024;

/// Largest call input, in bytes (checked by [`crate::ContractVm::invoke`]).
pub const MAX_INPUT_LEN: usize = 16 * 1024;

/// Largest module (bytecode), in bytes.
pub const MAX_MODULE_LEN: usize = storage_adapter::MAX_MODULE_LEN;

/// Bytes in one stack frame (fixed by `solana-sbpf`).
pub const STACK_FRAME_SIZE: usize = 4096;

/// Deepest internal call nesting (frames on the stack).
pub const MAX_CALL_DEPTH: usize = 8;

/// Bytes of heap at `0x3_0000_0000`.
pub const HEAP_SIZE: usize = 32 * 1024;

/// What `tos_storage_read` returns for a key that holds no value.
pub const ABSENT: u64 = u64::MAX;

/// `tos_transfer`: the transfer happened.
pub const TRANSFER_OK: u64 = 0;
/// `tos_transfer`: the contract holds less than the amount; nothing moved.
pub const TRANSFER_INSUFFICIENT_BALANCE: u64 = 1;
/// `tos_transfer`: the receiver's balance would overflow; nothing moved.
pub const TRANSFER_OVERFLOW: u64 = 2;

/// The syscall names, as contracts write them after `syscall`.
pub mod names {
    /// Reads a storage value.
    pub const STORAGE_READ: &str = "tos_storage_read";
    /// Writes a storage value.
    pub const STORAGE_WRITE: &str = "tos_storage_write";
    /// Deletes a storage value.
    pub const STORAGE_DELETE: &str = "tos_storage_delete";
    /// Copies the call's input.
    pub const GET_INPUT_DATA: &str = "tos_get_input_data";
    /// Sets the call's return data.
    pub const SET_RETURN_DATA: &str = "tos_set_return_data";
    /// Writes the caller's account.
    pub const GET_CALLER: &str = "tos_get_caller";
    /// Writes the contract's own id.
    pub const GET_CONTRACT_HASH: &str = "tos_get_contract_hash";
    /// The contract's balance of an asset.
    pub const GET_BALANCE: &str = "tos_get_balance";
    /// Moves an asset from the contract to an account.
    pub const TRANSFER: &str = "tos_transfer";
    /// Emits a log entry.
    pub const LOG: &str = "tos_log";
    /// Hashes bytes with blake3.
    pub const BLAKE3: &str = "tos_blake3";
}

/// Why a syscall failed the call. Part of [`crate::FaultReason`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error)]
pub enum SyscallFault {
    /// A pointer range is not mapped, or not writable where the syscall writes.
    #[error("bad pointer")]
    BadPointer,
    /// A value longer than [`MAX_VALUE_LEN`].
    #[error("value too long")]
    ValueTooLong,
    /// Return data longer than [`MAX_RETURN_DATA_LEN`].
    #[error("return data too long")]
    ReturnDataTooLong,
    /// A log entry longer than [`MAX_LOG_LEN`].
    #[error("log entry too long")]
    LogTooLong,
    /// More than [`MAX_LOGS`] log entries.
    #[error("too many log entries")]
    TooManyLogs,
    /// A hash input longer than [`MAX_HASH_INPUT_LEN`].
    #[error("hash input too long")]
    HashInputTooLong,
}
