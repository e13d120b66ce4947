//! Gas: what a call pays for, in one unit.
//!
//! One meter counts both: each executed sBPF instruction costs [`INSTRUCTION`] (the VM's
//! own instruction meter), and each syscall charges its cost from the same meter **before
//! it does anything**, so a call that cannot pay for a syscall stops without its effect.
//! A syscall that moves bytes pays per byte on top of its base cost; the byte count is
//! known from its arguments, except for a storage read, which pays its base before the
//! read and the bytes it copies before it copies them.
//!
//! Costs are consensus constants. They are set so that storage, which Block-STM must
//! version and validate, costs far more than arithmetic; a write costs more than a read
//! because it also lands in the block's commit.

/// One sBPF instruction.
pub const INSTRUCTION: u64 = 1;

/// Per byte moved between guest memory and the host (input, values, return data, logs,
/// hash input).
pub const PER_BYTE: u64 = 1;

/// `tos_storage_read`, before the bytes it copies.
pub const STORAGE_READ: u64 = 200;
/// `tos_storage_write`, before the value's bytes.
pub const STORAGE_WRITE: u64 = 1_000;
/// `tos_storage_delete`.
pub const STORAGE_DELETE: u64 = 500;
/// `tos_get_input_data`, before the bytes it copies.
pub const GET_INPUT_DATA: u64 = 10;
/// `tos_set_return_data`, before its bytes.
pub const SET_RETURN_DATA: u64 = 10;
/// `tos_get_caller`.
pub const GET_CALLER: u64 = 10;
/// `tos_get_contract_hash`.
pub const GET_CONTRACT_HASH: u64 = 10;
/// `tos_get_balance`.
pub const GET_BALANCE: u64 = 200;
/// `tos_transfer`.
pub const TRANSFER: u64 = 1_000;
/// `tos_log`, before its bytes.
pub const LOG: u64 = 100;
/// `tos_blake3`, before its input's bytes.
pub const BLAKE3: u64 = 100;

/// `base` plus [`PER_BYTE`] for each of `bytes`, saturating: an absurd length costs more
/// gas than any call has, which is what a length that large deserves.
pub fn with_bytes(base: u64, bytes: u64) -> u64 {
    base.saturating_add(bytes.saturating_mul(PER_BYTE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_costs_add_and_saturate() {
        assert_eq!(with_bytes(STORAGE_WRITE, 8), 1_008);
        assert_eq!(with_bytes(LOG, u64::MAX), u64::MAX);
    }
}
