//! The host: the state a call reads and changes, behind a trait the engines implement.
//!
//! The VM never owns state. Each syscall that touches storage or balances asks the host,
//! so the sequential oracle, batch grouping and Block-STM can each answer from their own
//! view. Two rules make that work under Block-STM:
//!
//! - **Every host method is fallible.** A read may meet an unfinished lower transaction;
//!   the host then returns its `Error`, and the VM stops at once and hands that error back
//!   typed ([`crate::HostAbort`]) instead of turning it into a contract fault. The engine
//!   ends the incarnation; nothing the contract did afterwards happens.
//! - **The host buffers.** Writes and transfers a call makes are the host's to keep or
//!   drop: it keeps them when the outcome is a success and drops them otherwise
//!   ([`crate::MemoryHost`] shows how). The VM itself moves no deposits and no fees.

use crate::ids::{Asset, ContractId, PublicKey, StorageKey, StorageValue};

/// Why a transfer out of a contract did not happen. The contract sees it as a code in
/// `r0` (see [`crate::abi`]) and decides what to do; it is not a fault.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error)]
pub enum TransferError {
    /// The contract holds less than the amount.
    #[error("insufficient contract balance")]
    InsufficientBalance,
    /// The receiver's balance would overflow.
    #[error("receiver balance overflow")]
    Overflow,
}

/// The state one call runs against. `&mut self` lets an implementation record what was
/// read (Block-STM's read set) and buffer what was written.
pub trait ContractHost {
    /// Why the host could not answer (a storage error, a dependency on an unfinished
    /// transaction, …). The VM passes it through untouched in [`crate::HostAbort`].
    type Error;

    /// The value at `key` in `contract`'s storage, or `None` when absent.
    fn storage_read(
        &mut self,
        contract: &ContractId,
        key: &StorageKey,
    ) -> Result<Option<StorageValue>, Self::Error>;

    /// Sets `key` in `contract`'s storage to `value`.
    fn storage_write(
        &mut self,
        contract: &ContractId,
        key: &StorageKey,
        value: StorageValue,
    ) -> Result<(), Self::Error>;

    /// Removes `key` from `contract`'s storage (absent afterwards, whether or not it was
    /// there).
    fn storage_delete(
        &mut self,
        contract: &ContractId,
        key: &StorageKey,
    ) -> Result<(), Self::Error>;

    /// `contract`'s balance of `asset` (absent = 0).
    fn balance(&mut self, contract: &ContractId, asset: &Asset) -> Result<u64, Self::Error>;

    /// Moves `amount` of `asset` from `contract` to the account `to`. The outer `Err`
    /// stops the VM like any host error; the inner one is a refusal the contract sees.
    fn transfer(
        &mut self,
        from: &ContractId,
        to: &PublicKey,
        asset: &Asset,
        amount: u64,
    ) -> Result<Result<(), TransferError>, Self::Error>;
}

impl<H: ContractHost + ?Sized> ContractHost for &mut H {
    type Error = H::Error;

    fn storage_read(
        &mut self,
        contract: &ContractId,
        key: &StorageKey,
    ) -> Result<Option<StorageValue>, Self::Error> {
        (**self).storage_read(contract, key)
    }

    fn storage_write(
        &mut self,
        contract: &ContractId,
        key: &StorageKey,
        value: StorageValue,
    ) -> Result<(), Self::Error> {
        (**self).storage_write(contract, key, value)
    }

    fn storage_delete(
        &mut self,
        contract: &ContractId,
        key: &StorageKey,
    ) -> Result<(), Self::Error> {
        (**self).storage_delete(contract, key)
    }

    fn balance(&mut self, contract: &ContractId, asset: &Asset) -> Result<u64, Self::Error> {
        (**self).balance(contract, asset)
    }

    fn transfer(
        &mut self,
        from: &ContractId,
        to: &PublicKey,
        asset: &Asset,
        amount: u64,
    ) -> Result<Result<(), TransferError>, Self::Error> {
        (**self).transfer(from, to, asset, amount)
    }
}
