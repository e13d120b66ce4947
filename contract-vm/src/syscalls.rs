//! The syscalls of [`crate::abi`], and the loader that registers them.
//!
//! Every syscall follows the same order, which the ABI documents: check lengths against
//! their limits (a fault), charge gas (out of gas), then read pointers and do the work (a
//! bad pointer faults, a host failure aborts). Nothing is done before it is paid for.

use std::sync::{Arc, OnceLock};

use solana_sbpf::elf::ElfError;
use solana_sbpf::program::{BuiltinFunctionDefinition, BuiltinProgram, SBPFVersion};
use solana_sbpf::vm::Config;

use crate::abi::{self, names, SyscallFault};
use crate::context::{InvokeContext, Stop};
use crate::gas;
use crate::host::TransferError;
use crate::ids::{Asset, PublicKey, StorageKey, StorageValue};
use crate::module::LoadError;

/// The sBPF version contracts are assembled and run as: static syscalls (an unknown
/// syscall fails verification instead of the call), `jmp32`, the classic `mul`/`div`.
pub(crate) const SBPF_VERSION: SBPFVersion = SBPFVersion::V3;

/// The VM configuration every module is loaded under (consensus: see [`crate::abi`]).
fn config() -> Config {
    Config {
        max_call_depth: abi::MAX_CALL_DEPTH,
        stack_frame_size: abi::STACK_FRAME_SIZE,
        enable_instruction_meter: true,
        enabled_sbpf_versions: SBPF_VERSION..=SBPF_VERSION,
        ..Config::default()
    }
}

/// The loader shared by every module: the configuration and the syscall table. One
/// instance for the process, because the VM requires a module's loader and the VM's to be
/// the same object.
pub(crate) fn loader() -> Result<Arc<BuiltinProgram<InvokeContext>>, LoadError> {
    static LOADER: OnceLock<Result<Arc<BuiltinProgram<InvokeContext>>, String>> = OnceLock::new();
    LOADER
        .get_or_init(|| {
            build_loader()
                .map(Arc::new)
                .map_err(|error| error.to_string())
        })
        .clone()
        .map_err(LoadError::Loader)
}

fn build_loader() -> Result<BuiltinProgram<InvokeContext>, ElfError> {
    let mut loader = BuiltinProgram::new_loader(config());
    StorageRead::register(&mut loader, names::STORAGE_READ)?;
    StorageWrite::register(&mut loader, names::STORAGE_WRITE)?;
    StorageDelete::register(&mut loader, names::STORAGE_DELETE)?;
    GetInputData::register(&mut loader, names::GET_INPUT_DATA)?;
    SetReturnData::register(&mut loader, names::SET_RETURN_DATA)?;
    GetCaller::register(&mut loader, names::GET_CALLER)?;
    GetContractHash::register(&mut loader, names::GET_CONTRACT_HASH)?;
    GetBalance::register(&mut loader, names::GET_BALANCE)?;
    Transfer::register(&mut loader, names::TRANSFER)?;
    Log::register(&mut loader, names::LOG)?;
    Blake3::register(&mut loader, names::BLAKE3)?;
    Ok(loader)
}

/// Faults when `len` exceeds `limit`.
fn within(len: u64, limit: u64, fault: SyscallFault) -> Result<(), Stop> {
    if len > limit {
        Err(Stop::Fault(fault))
    } else {
        Ok(())
    }
}

macro_rules! syscall {
    ($(#[$doc:meta])* $name:ident, |$ctx:ident, $a:ident, $b:ident, $c:ident| $body:block) => {
        $(#[$doc])*
        pub(crate) struct $name;

        impl BuiltinFunctionDefinition<InvokeContext> for $name {
            type Error = Stop;

            fn rust(
                $ctx: &mut InvokeContext,
                $a: u64,
                $b: u64,
                $c: u64,
                _: u64,
                _: u64,
            ) -> Result<u64, Stop> {
                $body
            }
        }
    };
}

syscall!(
    /// `tos_storage_read(key, out, capacity) -> length | ABSENT`.
    StorageRead,
    |ctx, key_ptr, out_ptr, capacity| {
        ctx.charge(gas::STORAGE_READ)?;
        let key = StorageKey(ctx.read_32(key_ptr)?);
        let contract = ctx.contract;
        let Some(value) = ctx.host()?.storage_read(&contract, &key)? else {
            return Ok(abi::ABSENT);
        };
        let length = value.len() as u64;
        let copied = length.min(capacity);
        ctx.charge(gas::with_bytes(0, copied))?;
        // `copied <= value.len()`, so the range exists.
        let bytes = value.as_bytes().get(..copied as usize).unwrap_or_default();
        ctx.write_guest(out_ptr, bytes)?;
        Ok(length)
    }
);

syscall!(
    /// `tos_storage_write(key, value, length) -> 0`.
    StorageWrite,
    |ctx, key_ptr, value_ptr, length| {
        within(length, abi::MAX_VALUE_LEN, SyscallFault::ValueTooLong)?;
        ctx.charge(gas::with_bytes(gas::STORAGE_WRITE, length))?;
        let key = StorageKey(ctx.read_32(key_ptr)?);
        let mut bytes = Vec::new();
        ctx.read_guest(value_ptr, length, &mut bytes)?;
        let contract = ctx.contract;
        ctx.host()?
            .storage_write(&contract, &key, StorageValue::from_slice(&bytes))?;
        Ok(0)
    }
);

syscall!(
    /// `tos_storage_delete(key) -> 0`.
    StorageDelete,
    |ctx, key_ptr, _b, _c| {
        ctx.charge(gas::STORAGE_DELETE)?;
        let key = StorageKey(ctx.read_32(key_ptr)?);
        let contract = ctx.contract;
        ctx.host()?.storage_delete(&contract, &key)?;
        Ok(0)
    }
);

syscall!(
    /// `tos_get_input_data(out, capacity) -> input length`.
    GetInputData,
    |ctx, out_ptr, capacity, _c| {
        let length = ctx.input.len() as u64;
        let copied = length.min(capacity);
        ctx.charge(gas::with_bytes(gas::GET_INPUT_DATA, copied))?;
        let input = std::mem::take(&mut ctx.input);
        let result = ctx.write_guest(out_ptr, input.get(..copied as usize).unwrap_or_default());
        ctx.input = input;
        result.map(|()| length)
    }
);

syscall!(
    /// `tos_set_return_data(data, length) -> 0`.
    SetReturnData,
    |ctx, data_ptr, length, _c| {
        within(length, abi::MAX_RETURN_DATA_LEN, SyscallFault::ReturnDataTooLong)?;
        ctx.charge(gas::with_bytes(gas::SET_RETURN_DATA, length))?;
        let mut data = std::mem::take(&mut ctx.return_data);
        let result = ctx.read_guest(data_ptr, length, &mut data);
        ctx.return_data = data;
        result.map(|()| 0)
    }
);

syscall!(
    /// `tos_get_caller(out) -> 0`.
    GetCaller,
    |ctx, out_ptr, _b, _c| {
        ctx.charge(gas::GET_CALLER)?;
        let caller = ctx.caller;
        ctx.write_guest(out_ptr, caller.as_bytes())?;
        Ok(0)
    }
);

syscall!(
    /// `tos_get_contract_hash(out) -> 0`.
    GetContractHash,
    |ctx, out_ptr, _b, _c| {
        ctx.charge(gas::GET_CONTRACT_HASH)?;
        let contract = ctx.contract;
        ctx.write_guest(out_ptr, &contract.0)?;
        Ok(0)
    }
);

syscall!(
    /// `tos_get_balance(asset) -> balance`.
    GetBalance,
    |ctx, asset_ptr, _b, _c| {
        ctx.charge(gas::GET_BALANCE)?;
        let asset = Asset(ctx.read_32(asset_ptr)?);
        let contract = ctx.contract;
        ctx.host()?.balance(&contract, &asset)
    }
);

syscall!(
    /// `tos_transfer(to, asset, amount) -> TRANSFER_*`.
    Transfer,
    |ctx, to_ptr, asset_ptr, amount| {
        ctx.charge(gas::TRANSFER)?;
        let to = PublicKey(ctx.read_32(to_ptr)?);
        let asset = Asset(ctx.read_32(asset_ptr)?);
        let contract = ctx.contract;
        Ok(match ctx.host()?.transfer(&contract, &to, &asset, amount)? {
            Ok(()) => abi::TRANSFER_OK,
            Err(TransferError::InsufficientBalance) => abi::TRANSFER_INSUFFICIENT_BALANCE,
            Err(TransferError::Overflow) => abi::TRANSFER_OVERFLOW,
        })
    }
);

syscall!(
    /// `tos_log(data, length) -> 0`.
    Log,
    |ctx, data_ptr, length, _c| {
        within(length, abi::MAX_LOG_LEN, SyscallFault::LogTooLong)?;
        if ctx.logs.len() >= abi::MAX_LOGS {
            return Err(Stop::Fault(SyscallFault::TooManyLogs));
        }
        ctx.charge(gas::with_bytes(gas::LOG, length))?;
        let mut entry = Vec::new();
        ctx.read_guest(data_ptr, length, &mut entry)?;
        ctx.logs.push(entry);
        Ok(0)
    }
);

syscall!(
    /// `tos_blake3(data, length, out) -> 0`.
    Blake3,
    |ctx, data_ptr, length, out_ptr| {
        within(length, abi::MAX_HASH_INPUT_LEN, SyscallFault::HashInputTooLong)?;
        ctx.charge(gas::with_bytes(gas::BLAKE3, length))?;
        let mut data = Vec::new();
        ctx.read_guest(data_ptr, length, &mut data)?;
        let hash = blake3::hash(&data);
        ctx.write_guest(out_ptr, hash.as_bytes())?;
        Ok(0)
    }
);
