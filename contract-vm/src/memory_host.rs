//! An in-memory host with write buffering: the reference host for tests, and a model for
//! the engines' hosts.
//!
//! A call's writes and transfers go to a pending layer that reads see; [`MemoryHost::commit`]
//! applies it (after a success) and [`MemoryHost::discard`] drops it (after a revert, out
//! of gas or a fault). A failure can be planted on a storage key to stand in for
//! Block-STM's "read met an unfinished transaction".

use std::collections::BTreeMap;

use crate::host::{ContractHost, TransferError};
use crate::ids::{Asset, ContractId, PublicKey, StorageKey, StorageValue};

/// The failure [`MemoryHost`] returns from a planted key.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("planted read failure at {0:?}")]
pub struct MemoryHostError(pub StorageKey);

/// Contract storage, contract balances and account balances in memory, with a pending
/// layer for the running call.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct MemoryHost {
    storage: BTreeMap<(ContractId, StorageKey), StorageValue>,
    contract_balances: BTreeMap<(ContractId, Asset), u64>,
    account_balances: BTreeMap<(PublicKey, Asset), u64>,
    pending_storage: BTreeMap<(ContractId, StorageKey), Option<StorageValue>>,
    pending_contract_balances: BTreeMap<(ContractId, Asset), u64>,
    pending_account_balances: BTreeMap<(PublicKey, Asset), u64>,
    fail_on: Option<StorageKey>,
    operations: u64,
}

impl MemoryHost {
    /// An empty host.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every later read of `key` (in any contract) fail, or stops doing so.
    pub fn fail_reads_of(&mut self, key: Option<StorageKey>) {
        self.fail_on = key;
    }

    /// How many host operations syscalls have asked for so far.
    pub fn operations(&self) -> u64 {
        self.operations
    }

    /// Sets a contract's committed balance (a deposit, or genesis).
    pub fn set_contract_balance(&mut self, contract: ContractId, asset: Asset, amount: u64) {
        self.contract_balances.insert((contract, asset), amount);
    }

    /// Sets an account's committed balance.
    pub fn set_account_balance(&mut self, account: PublicKey, asset: Asset, amount: u64) {
        self.account_balances.insert((account, asset), amount);
    }

    /// A contract's committed balance.
    pub fn contract_balance(&self, contract: &ContractId, asset: &Asset) -> u64 {
        self.contract_balances
            .get(&(*contract, *asset))
            .copied()
            .unwrap_or(0)
    }

    /// An account's committed balance.
    pub fn account_balance(&self, account: &PublicKey, asset: &Asset) -> u64 {
        self.account_balances
            .get(&(*account, *asset))
            .copied()
            .unwrap_or(0)
    }

    /// Sets a committed storage value directly (genesis, or a test's starting state).
    pub fn storage_write_committed(
        &mut self,
        contract: ContractId,
        key: StorageKey,
        value: StorageValue,
    ) {
        self.storage.insert((contract, key), value);
    }

    /// A committed storage value.
    pub fn stored(&self, contract: &ContractId, key: &StorageKey) -> Option<&StorageValue> {
        self.storage.get(&(*contract, *key))
    }

    /// Number of committed storage entries across all contracts.
    pub fn storage_len(&self) -> usize {
        self.storage.len()
    }

    /// Whether the running call has buffered anything.
    pub fn has_pending(&self) -> bool {
        !(self.pending_storage.is_empty()
            && self.pending_contract_balances.is_empty()
            && self.pending_account_balances.is_empty())
    }

    /// Applies the pending layer (the call succeeded).
    pub fn commit(&mut self) {
        for (key, value) in std::mem::take(&mut self.pending_storage) {
            match value {
                Some(value) => self.storage.insert(key, value),
                None => self.storage.remove(&key),
            };
        }
        self.contract_balances
            .append(&mut self.pending_contract_balances);
        self.account_balances
            .append(&mut self.pending_account_balances);
    }

    /// Drops the pending layer (the call failed).
    pub fn discard(&mut self) {
        self.pending_storage.clear();
        self.pending_contract_balances.clear();
        self.pending_account_balances.clear();
    }

    fn current_contract_balance(&self, contract: &ContractId, asset: &Asset) -> u64 {
        self.pending_contract_balances
            .get(&(*contract, *asset))
            .copied()
            .unwrap_or_else(|| self.contract_balance(contract, asset))
    }

    fn current_account_balance(&self, account: &PublicKey, asset: &Asset) -> u64 {
        self.pending_account_balances
            .get(&(*account, *asset))
            .copied()
            .unwrap_or_else(|| self.account_balance(account, asset))
    }
}

impl ContractHost for MemoryHost {
    type Error = MemoryHostError;

    fn storage_read(
        &mut self,
        contract: &ContractId,
        key: &StorageKey,
    ) -> Result<Option<StorageValue>, Self::Error> {
        self.operations += 1;
        if self.fail_on == Some(*key) {
            return Err(MemoryHostError(*key));
        }
        Ok(match self.pending_storage.get(&(*contract, *key)) {
            Some(pending) => pending.clone(),
            None => self.storage.get(&(*contract, *key)).cloned(),
        })
    }

    fn storage_write(
        &mut self,
        contract: &ContractId,
        key: &StorageKey,
        value: StorageValue,
    ) -> Result<(), Self::Error> {
        self.operations += 1;
        self.pending_storage.insert((*contract, *key), Some(value));
        Ok(())
    }

    fn storage_delete(
        &mut self,
        contract: &ContractId,
        key: &StorageKey,
    ) -> Result<(), Self::Error> {
        self.operations += 1;
        self.pending_storage.insert((*contract, *key), None);
        Ok(())
    }

    fn balance(&mut self, contract: &ContractId, asset: &Asset) -> Result<u64, Self::Error> {
        self.operations += 1;
        Ok(self.current_contract_balance(contract, asset))
    }

    fn transfer(
        &mut self,
        from: &ContractId,
        to: &PublicKey,
        asset: &Asset,
        amount: u64,
    ) -> Result<Result<(), TransferError>, Self::Error> {
        self.operations += 1;
        let source = self.current_contract_balance(from, asset);
        let Some(source_after) = source.checked_sub(amount) else {
            return Ok(Err(TransferError::InsufficientBalance));
        };
        let target = self.current_account_balance(to, asset);
        let Some(target_after) = target.checked_add(amount) else {
            return Ok(Err(TransferError::Overflow));
        };
        self.pending_contract_balances
            .insert((*from, *asset), source_after);
        self.pending_account_balances
            .insert((*to, *asset), target_after);
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_writes_are_read_back_then_committed_or_discarded() {
        let contract = ContractId([1; 32]);
        let key = StorageKey([2; 32]);
        let mut host = MemoryHost::new();
        host.storage_write(&contract, &key, StorageValue::from(7))
            .expect("memory host writes");
        assert_eq!(
            host.storage_read(&contract, &key).expect("read"),
            Some(StorageValue::from(7))
        );
        assert_eq!(host.stored(&contract, &key), None);
        host.discard();
        assert_eq!(host.storage_read(&contract, &key).expect("read"), None);

        host.storage_write(&contract, &key, StorageValue::from(9))
            .expect("memory host writes");
        host.commit();
        assert_eq!(host.stored(&contract, &key), Some(&StorageValue::from(9)));
        host.storage_delete(&contract, &key).expect("delete");
        host.commit();
        assert_eq!(host.stored(&contract, &key), None);
    }

    #[test]
    fn transfers_check_both_sides() {
        let contract = ContractId([1; 32]);
        let to = PublicKey::from_index(1);
        let asset = Asset::TOS;
        let mut host = MemoryHost::new();
        host.set_contract_balance(contract, asset, 10);
        assert_eq!(
            host.transfer(&contract, &to, &asset, 11).expect("host"),
            Err(TransferError::InsufficientBalance)
        );
        host.set_account_balance(to, asset, u64::MAX);
        assert_eq!(
            host.transfer(&contract, &to, &asset, 1).expect("host"),
            Err(TransferError::Overflow)
        );
        host.set_account_balance(to, asset, 5);
        assert_eq!(
            host.transfer(&contract, &to, &asset, 10).expect("host"),
            Ok(())
        );
        host.commit();
        assert_eq!(host.contract_balance(&contract, &asset), 0);
        assert_eq!(host.account_balance(&to, &asset), 15);
    }
}
