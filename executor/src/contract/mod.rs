//! Contract deploys and calls: the rules the oracle defines for them, on top of the
//! contract VM (`contract-vm`).
//!
//! # Deploy
//!
//! `DeployContract { module }` stores the module at [`Transaction::deployed_contract`]
//! and burns [`deploy_burn`] TOS on top of the fee. After the nonce check: the fee plus
//! the burn overflowing is [`OverflowKind::Spending`]; more than the source's TOS is
//! [`TxFailure::InsufficientFunds`]; an address already holding a module is
//! [`TxFailure::ContractExists`]; then the nonce overflow. Each of these changes nothing.
//! A module that does not load or verify never gets here: the block is malformed.
//!
//! # Call
//!
//! `InvokeContract { contract, deposits, max_gas, input }`, after the nonce check:
//!
//! 1. The fee plus `max_gas` (1 gas = 1 atomic TOS unit), and each deposit, are reserved
//!    from the source's balances (TOS first, then deposits in order): an overflowing sum
//!    or a short balance fails the call with no effects, like a native transaction; so
//!    does the nonce overflow.
//! 2. No module at `contract`: [`TxFailure::NoContract`], **charged**: the nonce moves on
//!    and the fee is paid, no gas; the deposits stay with the source.
//! 3. The deposits are credited to the contract's balances; one overflowing fails the
//!    call with no effects ([`OverflowKind::ContractCredit`]).
//! 4. The contract runs (see `contract-vm` for the syscalls and their gas) against the
//!    state with the reservation and deposits applied.
//!    - Exit 0: its storage writes and transfers apply, the unused gas is refunded.
//!    - A revert, running out of gas or a fault: [`TxFailure::Call`], **charged**: the
//!      nonce moves on, the fee and the gas are paid (the gas used on a revert, all of
//!      `max_gas` otherwise), the deposits come back, everything else the call did is
//!      discarded.
//!
//! The gas paid is split: [`GAS_BURN_PERCENT`] percent (rounded down) is burned and
//! counts towards the burned supply, the rest goes to the miner with the fee. A refund
//! that would overflow the source's balance (only possible when the contract paid the
//! source nearly `u64::MAX`) fails the call with no effects.
//!
//! Calls from one contract into another are not supported yet.
//!
//! [`Transaction::deployed_contract`]: crate::model::Transaction::deployed_contract
//! [`OverflowKind::Spending`]: crate::outcome::OverflowKind::Spending
//! [`OverflowKind::ContractCredit`]: crate::outcome::OverflowKind::ContractCredit

mod host;
pub mod modules;

/// The assembler and the bundled contracts, for tests, benches and the fuzz target that
/// reach contracts only through this crate.
pub use contract_vm::{assemble_source, contracts};

use std::cell::RefCell;
use std::sync::Arc;

use contract_vm::{CallContext, CallOutcome, ContractVm, HostAbort, VmKind};
use smallvec::SmallVec;
use storage_adapter::{Asset, ContractId, ModuleCode, PublicKey, StateKey, StateValue};

use crate::model::{Deposit, Transaction};
use crate::outcome::{CallFailure, OverflowKind, TxFailure, TxOutcome, TxResult, WriteSet};
use crate::vm::{VmError, VmView};
use host::{CallHost, HostError};

/// TOS burned by every deploy, whatever its size.
pub const DEPLOY_BURN_BASE: u64 = 100_000;

/// TOS burned by a deploy per byte of module.
pub const DEPLOY_BURN_PER_BYTE: u64 = 10;

/// The share of a call's gas that is burned, in percent; the rest goes to the miner.
pub const GAS_BURN_PERCENT: u64 = 30;

/// The address a deploy by `deployer` at `nonce` stores its contract at: blake3 over a
/// domain tag, the deployer and the nonce, so two deploys never share one (a source's
/// nonce only grows).
pub fn address(deployer: &PublicKey, nonce: u64) -> ContractId {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"tos-blockstm/contract/v1");
    hasher.update(deployer.as_bytes());
    hasher.update(&nonce.to_be_bytes());
    ContractId(*hasher.finalize().as_bytes())
}

/// What deploying a module of `len` bytes burns.
pub fn deploy_burn(len: usize) -> u64 {
    let len = u64::try_from(len).unwrap_or(u64::MAX);
    DEPLOY_BURN_BASE.saturating_add(len.saturating_mul(DEPLOY_BURN_PER_BYTE))
}

/// The part of `gas` paid that is burned; the miner gets `gas - gas_burned(gas)`.
pub fn gas_burned(gas: u64) -> u64 {
    // Widened: `gas * 30` cannot overflow, and the quotient fits since it is below `gas`.
    (u128::from(gas) * u128::from(GAS_BURN_PERCENT) / 100) as u64
}

thread_local! {
    /// Each thread's VMs, one per kind, made on first use: a worker owns its VM, its
    /// stack and its heap (zeroed before every call by the VM itself).
    static VMS: RefCell<[Option<ContractVm>; 2]> = const { RefCell::new([None, None]) };
}

/// Runs `f` on this thread's VM of `kind` (the interpreter where `kind` is not available
/// here: both give the same result).
fn with_vm<R>(kind: VmKind, f: impl FnOnce(&mut ContractVm) -> R) -> R {
    let kind = if kind.is_available() {
        kind
    } else {
        VmKind::Interpreter
    };
    let slot = match kind {
        VmKind::Interpreter => 0,
        VmKind::Jit => 1,
    };
    VMS.with(|vms| {
        let mut vms = vms.borrow_mut();
        let vm = vms[slot].get_or_insert_with(|| {
            ContractVm::new(kind)
                .or_else(|_| ContractVm::new(VmKind::Interpreter))
                .unwrap_or_else(|_| unreachable!("invariant: the interpreter is always available"))
        });
        f(vm)
    })
}

/// A failure that changes nothing.
fn failed<E>(failure: TxFailure) -> Result<TxOutcome, VmError<E>> {
    Ok(TxOutcome::failed(failure))
}

/// Reads a balance (absent = 0), rejecting a value of another kind.
fn read_balance<V: VmView>(view: &mut V, key: &StateKey) -> Result<u64, VmError<V::Error>> {
    match view.read(key).map_err(VmError::Read)? {
        None => Ok(0),
        Some(StateValue::Balance(balance)) => Ok(balance),
        Some(_) => Err(VmError::InvalidState(*key)),
    }
}

/// Executes a deploy whose nonce (`nonce`) already matched.
pub(crate) fn deploy<V: VmView>(
    tx: &Transaction,
    view: &mut V,
    nonce: u64,
    module: &Arc<ModuleCode>,
) -> Result<TxOutcome, VmError<V::Error>> {
    let burn = deploy_burn(module.bytecode().len());
    let Some(needed) = tx.fee().checked_add(burn) else {
        return failed(TxFailure::Overflow(OverflowKind::Spending {
            asset: Asset::TOS,
        }));
    };
    let balance_key = StateKey::Balance(*tx.source(), Asset::TOS);
    let available = read_balance(view, &balance_key)?;
    let Some(remaining) = available.checked_sub(needed) else {
        return failed(TxFailure::InsufficientFunds {
            asset: Asset::TOS,
            needed,
            available,
        });
    };
    let contract = tx.deployed_contract();
    let module_key = StateKey::Module(contract);
    if view.read(&module_key).map_err(VmError::Read)?.is_some() {
        return failed(TxFailure::ContractExists { contract });
    }
    let Some(next_nonce) = nonce.checked_add(1) else {
        return failed(TxFailure::Overflow(OverflowKind::Nonce));
    };
    let mut writes = WriteSet::new();
    writes.push((balance_key, StateValue::Balance(remaining)));
    writes.push((module_key, StateValue::Module(Arc::clone(module))));
    writes.push((StateKey::Nonce(*tx.source()), StateValue::Nonce(next_nonce)));
    Ok(TxOutcome {
        result: TxResult::Success,
        writes,
        deltas: Default::default(),
        fee: tx.fee(),
        burned: burn,
    })
}

/// A contract call's fields, borrowed from its payload.
pub(crate) struct Call<'a> {
    pub(crate) contract: &'a ContractId,
    pub(crate) deposits: &'a [Deposit],
    pub(crate) max_gas: u64,
    pub(crate) input: &'a [u8],
}

/// Executes a contract call whose nonce (`nonce`) already matched, on a VM of `kind`.
pub(crate) fn invoke<V: VmView>(
    tx: &Transaction,
    view: &mut V,
    nonce: u64,
    kind: VmKind,
    call: Call<'_>,
) -> Result<TxOutcome, VmError<V::Error>> {
    let source = *tx.source();
    let contract = *call.contract;

    // 1. The reservation: fee and gas in TOS first, then the deposits.
    let mut spending: SmallVec<[(Asset, u64); 4]> = SmallVec::new();
    let mut add = |asset: Asset, amount: u64| -> Result<(), Asset> {
        match spending.iter_mut().find(|(spent, _)| *spent == asset) {
            Some((_, total)) => *total = total.checked_add(amount).ok_or(asset)?,
            None => spending.push((asset, amount)),
        }
        Ok(())
    };
    let reserved = tx
        .fee()
        .checked_add(call.max_gas)
        .ok_or(Asset::TOS)
        .and_then(|tos| add(Asset::TOS, tos))
        .and_then(|()| {
            call.deposits
                .iter()
                .try_for_each(|deposit| add(deposit.asset, deposit.amount))
        });
    if let Err(asset) = reserved {
        return failed(TxFailure::Overflow(OverflowKind::Spending { asset }));
    }
    let mut debits = WriteSet::new();
    // The source's TOS before the call: what a charged failure pays from.
    let mut tos_before = 0;
    for &(asset, needed) in &spending {
        let key = StateKey::Balance(source, asset);
        let available = read_balance(view, &key)?;
        let Some(remaining) = available.checked_sub(needed) else {
            return failed(TxFailure::InsufficientFunds {
                asset,
                needed,
                available,
            });
        };
        if asset == Asset::TOS {
            tos_before = available;
        }
        debits.push((key, StateValue::Balance(remaining)));
    }
    let Some(next_nonce) = nonce.checked_add(1) else {
        return failed(TxFailure::Overflow(OverflowKind::Nonce));
    };
    let charged = |failure: TxFailure, gas: u64| {
        // `tos_before` covers the fee and all of `max_gas`, and `gas <= max_gas`.
        let balance = tos_before.saturating_sub(tx.fee()).saturating_sub(gas);
        let mut writes = WriteSet::new();
        writes.push((
            StateKey::Balance(source, Asset::TOS),
            StateValue::Balance(balance),
        ));
        writes.push((StateKey::Nonce(source), StateValue::Nonce(next_nonce)));
        let burned = gas_burned(gas);
        TxOutcome {
            result: TxResult::Failed(failure),
            writes,
            deltas: Default::default(),
            fee: tx.fee().saturating_add(gas - burned),
            burned,
        }
    };

    // 2. The module.
    let module_key = StateKey::Module(contract);
    let code = match view.read(&module_key).map_err(VmError::Read)? {
        None => return Ok(charged(TxFailure::NoContract { contract }, 0)),
        Some(StateValue::Module(code)) => code,
        Some(_) => return Err(VmError::InvalidState(module_key)),
    };
    // A stored module was verified when it was deployed: one that does not load now is
    // corrupt state, the same on every engine.
    let module = modules::load_for(&code, kind).map_err(|error| {
        tracing::error!(?contract, %error, "stored contract module does not load");
        VmError::InvalidState(module_key)
    })?;

    // 3. The deposits, credited to the contract through the call's buffer.
    let mut host = CallHost::new(view, &debits);
    for deposit in call.deposits {
        let key = StateKey::ContractBalance(contract, deposit.asset);
        if !host.credit(key, deposit.amount).map_err(host_error)? {
            return failed(TxFailure::Overflow(OverflowKind::ContractCredit {
                contract,
                asset: deposit.asset,
            }));
        }
    }

    // 4. The call.
    let context = CallContext {
        caller: source,
        contract,
        input: call.input,
        max_gas: call.max_gas,
    };
    let outcome = with_vm(kind, |vm| vm.invoke(&module, &mut host, &context))
        .map_err(|HostAbort(error)| host_error(error))?;
    let failure = match outcome {
        CallOutcome::Success { gas_used, .. } => {
            let refund_key = StateKey::Balance(source, Asset::TOS);
            if !host
                .credit(refund_key, call.max_gas - gas_used.min(call.max_gas))
                .map_err(host_error)?
            {
                return failed(TxFailure::Overflow(OverflowKind::Credit {
                    destination: source,
                    asset: Asset::TOS,
                }));
            }
            let mut writes = host.into_writes();
            writes.push((StateKey::Nonce(source), StateValue::Nonce(next_nonce)));
            let burned = gas_burned(gas_used);
            return Ok(TxOutcome {
                result: TxResult::Success,
                writes,
                deltas: Default::default(),
                fee: tx.fee().saturating_add(gas_used - burned),
                burned,
            });
        }
        CallOutcome::Revert { code, .. } => CallFailure::Revert { code },
        CallOutcome::OutOfGas { .. } => CallFailure::OutOfGas,
        CallOutcome::Fault { reason, .. } => CallFailure::Fault(reason),
    };
    Ok(charged(
        TxFailure::Call(failure),
        outcome.gas_used().min(call.max_gas),
    ))
}

fn host_error<E>(error: HostError<E>) -> VmError<E> {
    match error {
        HostError::Read(error) => VmError::Read(error),
        HostError::InvalidState(key) => VmError::InvalidState(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gas_split_rounds_the_burn_down() {
        assert_eq!(gas_burned(0), 0);
        assert_eq!(gas_burned(9), 2);
        assert_eq!(gas_burned(10), 3);
        assert_eq!(
            gas_burned(u64::MAX),
            (u128::from(u64::MAX) * 30 / 100) as u64
        );
    }

    #[test]
    fn deploy_burn_grows_with_the_module_and_saturates() {
        assert_eq!(deploy_burn(0), DEPLOY_BURN_BASE);
        assert_eq!(deploy_burn(8), DEPLOY_BURN_BASE + 80);
        assert_eq!(deploy_burn(usize::MAX), u64::MAX);
    }
}
