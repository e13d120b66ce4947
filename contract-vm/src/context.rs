//! The per-call context that `solana-sbpf` hands to every syscall.
//!
//! `solana-sbpf` fixes one context type per executable, and an executable is loaded once
//! and shared, so the context cannot be generic over the host or borrow it: it reaches the
//! host through a type-erased pointer that is valid only while one call runs (see
//! [`HostSlot`]). The host's own typed error never crosses the VM: the adapter keeps it,
//! the syscall returns the marker [`Stop::HostAbort`], and [`crate::ContractVm::invoke`]
//! takes the typed error back from the adapter after the VM has stopped.

use std::ptr::NonNull;

use solana_sbpf::memory_region::{AccessType, MemoryMapping};
use solana_sbpf::vm::ContextObject;

use crate::abi::{SyscallFault, KEY_LEN};
use crate::host::{ContractHost, TransferError};
use crate::ids::{Asset, ContractId, PublicKey, StorageKey, StorageValue};

/// Why a syscall stopped the call; the error every syscall returns through the VM. The
/// VM boxes it (`EbpfError::SyscallError`) and [`crate::ContractVm`] downcasts it back.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub(crate) enum Stop {
    /// The host failed; its typed error waits in the [`HostAdapter`].
    #[error("host aborted")]
    HostAbort,
    /// The syscall's cost exceeded the gas left.
    #[error("out of gas")]
    OutOfGas,
    /// The syscall refused its arguments.
    #[error("syscall fault: {0}")]
    Fault(SyscallFault),
    /// No host is installed: a bug of this crate, never a contract's doing.
    #[error("no host installed")]
    NoHost,
}

/// The host operations syscalls need, without the host's error type: a failure is the
/// marker [`Stop::HostAbort`] and the typed error stays with the implementation.
pub(crate) trait ErasedHost {
    fn storage_read(
        &mut self,
        contract: &ContractId,
        key: &StorageKey,
    ) -> Result<Option<StorageValue>, Stop>;
    fn storage_write(
        &mut self,
        contract: &ContractId,
        key: &StorageKey,
        value: StorageValue,
    ) -> Result<(), Stop>;
    fn storage_delete(&mut self, contract: &ContractId, key: &StorageKey) -> Result<(), Stop>;
    fn balance(&mut self, contract: &ContractId, asset: &Asset) -> Result<u64, Stop>;
    fn transfer(
        &mut self,
        from: &ContractId,
        to: &PublicKey,
        asset: &Asset,
        amount: u64,
    ) -> Result<Result<(), TransferError>, Stop>;
}

/// Wraps a typed host and keeps the first error it returns.
pub(crate) struct HostAdapter<'h, H: ContractHost> {
    host: &'h mut H,
    error: Option<H::Error>,
}

impl<'h, H: ContractHost> HostAdapter<'h, H> {
    pub(crate) fn new(host: &'h mut H) -> Self {
        Self { host, error: None }
    }

    /// The host error that stopped the call, if one did.
    pub(crate) fn take_error(&mut self) -> Option<H::Error> {
        self.error.take()
    }

    fn keep<T>(&mut self, result: Result<T, H::Error>) -> Result<T, Stop> {
        result.map_err(|error| {
            self.error = Some(error);
            Stop::HostAbort
        })
    }
}

impl<H: ContractHost> ErasedHost for HostAdapter<'_, H> {
    fn storage_read(
        &mut self,
        contract: &ContractId,
        key: &StorageKey,
    ) -> Result<Option<StorageValue>, Stop> {
        let result = self.host.storage_read(contract, key);
        self.keep(result)
    }

    fn storage_write(
        &mut self,
        contract: &ContractId,
        key: &StorageKey,
        value: StorageValue,
    ) -> Result<(), Stop> {
        let result = self.host.storage_write(contract, key, value);
        self.keep(result)
    }

    fn storage_delete(&mut self, contract: &ContractId, key: &StorageKey) -> Result<(), Stop> {
        let result = self.host.storage_delete(contract, key);
        self.keep(result)
    }

    fn balance(&mut self, contract: &ContractId, asset: &Asset) -> Result<u64, Stop> {
        let result = self.host.balance(contract, asset);
        self.keep(result)
    }

    fn transfer(
        &mut self,
        from: &ContractId,
        to: &PublicKey,
        asset: &Asset,
        amount: u64,
    ) -> Result<Result<(), TransferError>, Stop> {
        let result = self.host.transfer(from, to, asset, amount);
        self.keep(result)
    }
}

/// A pointer to the host adapter of the call that is running, with its lifetime erased.
///
/// The executable's context type must be one type for all calls, so it cannot carry the
/// borrow of the host. [`HostSlot::new`] is `unsafe` and states the one rule that makes
/// dereferencing sound.
pub(crate) struct HostSlot(NonNull<dyn ErasedHost + 'static>);

impl HostSlot {
    /// # Safety
    ///
    /// `host` must stay alive, and must not be used except through this slot, for as long
    /// as the slot (and the [`InvokeContext`] holding it) may be used.
    /// [`crate::ContractVm::invoke`] upholds this: the adapter is a local declared before
    /// the context, the context is dropped first, and the adapter is not touched until the
    /// VM has returned.
    pub(crate) unsafe fn new<'h>(host: &'h mut (dyn ErasedHost + 'h)) -> Self {
        let pointer: NonNull<dyn ErasedHost + 'h> = NonNull::from(host);
        // SAFETY: only the trait object's lifetime bound changes (same layout, same
        // vtable); the caller guarantees the pointee outlives every use of the slot.
        let pointer = unsafe {
            std::mem::transmute::<NonNull<dyn ErasedHost + 'h>, NonNull<dyn ErasedHost + 'static>>(
                pointer,
            )
        };
        Self(pointer)
    }

    fn get(&mut self) -> &mut dyn ErasedHost {
        // SAFETY: `HostSlot::new`'s contract keeps the pointee alive and unaliased while
        // the slot is used, and `&mut self` makes this the only borrow through the slot.
        unsafe { self.0.as_mut() }
    }
}

/// Everything one call's syscalls see: its memory, its gas, its identity, its host and
/// what it has produced so far.
pub(crate) struct InvokeContext {
    pub(crate) mapping: MemoryMapping,
    /// Gas left (the instruction meter and the syscalls draw from it).
    pub(crate) remaining: u64,
    /// Gas the syscalls charged, so that instructions can be told apart.
    pub(crate) syscall_gas: u64,
    host: Option<HostSlot>,
    pub(crate) caller: PublicKey,
    pub(crate) contract: ContractId,
    pub(crate) input: Vec<u8>,
    pub(crate) return_data: Vec<u8>,
    pub(crate) logs: Vec<Vec<u8>>,
}

impl InvokeContext {
    pub(crate) fn new(
        mapping: MemoryMapping,
        gas: u64,
        host: Option<HostSlot>,
        caller: PublicKey,
        contract: ContractId,
        input: Vec<u8>,
    ) -> Self {
        Self {
            mapping,
            remaining: gas,
            syscall_gas: 0,
            host,
            caller,
            contract,
            input,
            return_data: Vec::new(),
            logs: Vec::new(),
        }
    }

    pub(crate) fn host(&mut self) -> Result<&mut dyn ErasedHost, Stop> {
        self.host.as_mut().map(HostSlot::get).ok_or(Stop::NoHost)
    }

    /// Takes `cost` from the gas left, or empties it and stops the call.
    pub(crate) fn charge(&mut self, cost: u64) -> Result<(), Stop> {
        match self.remaining.checked_sub(cost) {
            Some(left) => {
                self.remaining = left;
                self.syscall_gas = self.syscall_gas.saturating_add(cost);
                Ok(())
            }
            None => {
                self.remaining = 0;
                Err(Stop::OutOfGas)
            }
        }
    }

    /// Copies `len` bytes of guest memory at `addr` into `out` (cleared first).
    ///
    /// Goes through the mapping's checked loads, eight bytes at a time, so no host pointer
    /// is ever dereferenced here.
    pub(crate) fn read_guest(
        &mut self,
        addr: u64,
        len: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), Stop> {
        out.clear();
        let end = addr.checked_add(len).ok_or(BAD_POINTER)?;
        let mut at = addr;
        while at < end {
            if end - at >= 8 {
                let word = load(&mut self.mapping, at, 8)?;
                out.extend_from_slice(&word.to_le_bytes());
                at += 8;
            } else {
                let byte = load(&mut self.mapping, at, 1)?;
                out.push(byte as u8);
                at += 1;
            }
        }
        Ok(())
    }

    /// Reads a 32-byte value (a key, an account, an asset) from guest memory.
    pub(crate) fn read_32(&mut self, addr: u64) -> Result<[u8; 32], Stop> {
        let mut bytes = [0u8; 32];
        for (index, chunk) in bytes.chunks_exact_mut(8).enumerate() {
            let offset = (index as u64) * 8;
            let at = addr.checked_add(offset).ok_or(BAD_POINTER)?;
            chunk.copy_from_slice(&load(&mut self.mapping, at, 8)?.to_le_bytes());
        }
        debug_assert_eq!(bytes.len() as u64, KEY_LEN);
        Ok(bytes)
    }

    /// Copies `bytes` into guest memory at `addr`. The whole range is checked writable
    /// first, so a bad pointer changes nothing.
    pub(crate) fn write_guest(&mut self, addr: u64, bytes: &[u8]) -> Result<(), Stop> {
        if bytes.is_empty() {
            return Ok(());
        }
        let len = bytes.len() as u64;
        if Result::from(self.mapping.map(AccessType::Store, addr, len)).is_err() {
            return Err(BAD_POINTER);
        }
        let mut at = addr;
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut array = [0u8; 8];
            array.copy_from_slice(word);
            store_result(self.mapping.store(u64::from_le_bytes(array), at))?;
            at = at.checked_add(8).ok_or(BAD_POINTER)?;
        }
        for &byte in words.remainder() {
            store_result(self.mapping.store(byte, at))?;
            at = at.checked_add(1).ok_or(BAD_POINTER)?;
        }
        Ok(())
    }
}

const BAD_POINTER: Stop = Stop::Fault(SyscallFault::BadPointer);

/// One checked load of `size` (1 or 8) bytes.
fn load(mapping: &mut MemoryMapping, addr: u64, size: u8) -> Result<u64, Stop> {
    let result = if size == 8 {
        mapping.load::<u64>(addr)
    } else {
        mapping.load::<u8>(addr)
    };
    Result::from(result).map_err(|_| BAD_POINTER)
}

fn store_result(result: solana_sbpf::error::ProgramResult) -> Result<(), Stop> {
    Result::from(result).map(|_| ()).map_err(|_| BAD_POINTER)
}

impl ContextObject for InvokeContext {
    fn consume(&mut self, amount: u64) {
        self.remaining = self.remaining.saturating_sub(amount);
    }

    fn get_remaining(&self) -> u64 {
        self.remaining
    }

    fn active_mapping_ptr(&mut self) -> NonNull<MemoryMapping> {
        NonNull::from(&mut self.mapping)
    }
}
