//! The host a contract call runs against: the transaction's view, behind a buffer.
//!
//! Every key the call touches is read through the view at most once (Block-STM records
//! it in the read set once) and kept here with whatever the call did to it; nothing
//! reaches the view. When the call succeeds, the dirty entries become the transaction's
//! writes; when it fails, the buffer is dropped whole, which is how a revert discards
//! the call's storage writes and transfers.
//!
//! A read that the view cannot answer (a dependency on an unfinished transaction under
//! Block-STM, a storage error) or that finds a value of the wrong kind stops the VM at
//! once through [`HostError`], which the VM hands back typed; the incarnation (or the
//! block) ends there, never as a contract fault.

use std::sync::Arc;

use contract_vm::{ContractHost, TransferError};
use storage_adapter::{
    Asset, ContractId, PublicKey, StateKey, StateValue, StorageKey, StorageValue,
};

use crate::outcome::WriteSet;
use crate::vm::VmView;

/// Why the host stopped a call.
#[derive(Debug)]
pub(crate) enum HostError<E> {
    /// The view failed to answer.
    Read(E),
    /// The view holds a value of the wrong kind at this key.
    InvalidState(StateKey),
}

/// One key the call touched: its value now (`None` = absent) and whether the call
/// changed it.
struct Entry {
    key: StateKey,
    value: Option<StateValue>,
    dirty: bool,
}

/// The buffered state of one call.
pub(crate) struct CallHost<'v, V> {
    view: &'v mut V,
    /// A call touches a handful of keys: a linear scan beats hashing them.
    entries: Vec<Entry>,
}

impl<'v, V: VmView> CallHost<'v, V> {
    /// A host over `view` whose buffer starts with `preset`: the writes the transaction
    /// made before the call (the source's debits, the deposits), which the call must see.
    pub(crate) fn new(view: &'v mut V, preset: &WriteSet) -> Self {
        let entries = preset
            .iter()
            .map(|(key, value)| Entry {
                key: *key,
                value: Some(value.clone()),
                dirty: true,
            })
            .collect();
        Self { view, entries }
    }

    /// Every key the call (or the preset) changed, with its final value, in first-touch
    /// order.
    pub(crate) fn into_writes(self) -> WriteSet {
        self.entries
            .into_iter()
            .filter(|entry| entry.dirty)
            // Only storage is ever removed by a call: an absent dirty entry is a delete.
            .map(|entry| (entry.key, entry.value.unwrap_or(StateValue::Storage(None))))
            .collect()
    }

    fn entry(&mut self, key: StateKey) -> Result<usize, HostError<V::Error>> {
        if let Some(index) = self.entries.iter().position(|entry| entry.key == key) {
            return Ok(index);
        }
        let value = self.view.read(&key).map_err(HostError::Read)?;
        if value.as_ref().is_some_and(|value| !value.fits(&key)) {
            return Err(HostError::InvalidState(key));
        }
        self.entries.push(Entry {
            key,
            value,
            dirty: false,
        });
        Ok(self.entries.len() - 1)
    }

    /// Adds `amount` to the balance at `key`; `false` (and no change) when it overflows.
    pub(crate) fn credit(
        &mut self,
        key: StateKey,
        amount: u64,
    ) -> Result<bool, HostError<V::Error>> {
        let (index, balance) = self.balance_at(key)?;
        match balance.checked_add(amount) {
            Some(credited) => {
                self.set(index, Some(StateValue::Balance(credited)));
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn balance_at(&mut self, key: StateKey) -> Result<(usize, u64), HostError<V::Error>> {
        let index = self.entry(key)?;
        match &self.entries[index].value {
            None => Ok((index, 0)),
            Some(StateValue::Balance(balance)) => Ok((index, *balance)),
            Some(_) => Err(HostError::InvalidState(key)),
        }
    }

    fn set(&mut self, index: usize, value: Option<StateValue>) {
        let entry = &mut self.entries[index];
        entry.value = value;
        entry.dirty = true;
    }
}

impl<V: VmView> ContractHost for CallHost<'_, V> {
    type Error = HostError<V::Error>;

    fn storage_read(
        &mut self,
        contract: &ContractId,
        key: &StorageKey,
    ) -> Result<Option<StorageValue>, Self::Error> {
        let state_key = StateKey::Storage(*contract, *key);
        let index = self.entry(state_key)?;
        match &self.entries[index].value {
            None | Some(StateValue::Storage(None)) => Ok(None),
            Some(StateValue::Storage(Some(value))) => Ok(Some(StorageValue::clone(value))),
            Some(_) => Err(HostError::InvalidState(state_key)),
        }
    }

    fn storage_write(
        &mut self,
        contract: &ContractId,
        key: &StorageKey,
        value: StorageValue,
    ) -> Result<(), Self::Error> {
        // Blind writes still read: the read pins the key in Block-STM's read set, so a
        // later validation notices a lower transaction that wrote it too. Cheap next to
        // the syscall's gas.
        let index = self.entry(StateKey::Storage(*contract, *key))?;
        self.set(index, Some(StateValue::Storage(Some(Arc::new(value)))));
        Ok(())
    }

    fn storage_delete(
        &mut self,
        contract: &ContractId,
        key: &StorageKey,
    ) -> Result<(), Self::Error> {
        let index = self.entry(StateKey::Storage(*contract, *key))?;
        self.set(index, None);
        Ok(())
    }

    fn balance(&mut self, contract: &ContractId, asset: &Asset) -> Result<u64, Self::Error> {
        self.balance_at(StateKey::ContractBalance(*contract, *asset))
            .map(|(_, balance)| balance)
    }

    fn transfer(
        &mut self,
        from: &ContractId,
        to: &PublicKey,
        asset: &Asset,
        amount: u64,
    ) -> Result<Result<(), TransferError>, Self::Error> {
        let (from_index, available) = self.balance_at(StateKey::ContractBalance(*from, *asset))?;
        let Some(remaining) = available.checked_sub(amount) else {
            return Ok(Err(TransferError::InsufficientBalance));
        };
        let (to_index, current) = self.balance_at(StateKey::Balance(*to, *asset))?;
        let Some(credited) = current.checked_add(amount) else {
            return Ok(Err(TransferError::Overflow));
        };
        if amount != 0 {
            self.set(from_index, Some(StateValue::Balance(remaining)));
            self.set(to_index, Some(StateValue::Balance(credited)));
        }
        Ok(Ok(()))
    }
}
