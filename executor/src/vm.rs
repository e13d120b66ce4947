//! The TOS VM: the execution rules of one transaction (design §3, step 2).
//!
//! The VM reads state only through [`VmView`], so the same code runs against the
//! sequential oracle's view and against Block-STM's multi-version memory. Two properties
//! matter for the latter:
//!
//! - **It never panics, whatever the view says.** A speculative incarnation may see an
//!   inconsistent state; all arithmetic is checked, nothing is indexed, and a value of the
//!   wrong variant for its key is reported as [`VmError::InvalidState`].
//! - **It reads each key at most once per execution.** Later uses of a key go through the
//!   transaction's own write set, which doubles as a local overlay (so two transfers to
//!   one destination both count). Fewer reads mean smaller read sets to validate.
//!
//! Rules, checked in this order (the first that applies decides the result):
//!
//! 1. hash already marked executed in storage → [`TxFailure::AlreadyExecuted`];
//! 2. `tx.nonce != nonce(source)` (absent = 0) → [`TxFailure::InvalidNonce`];
//! 3. spending per asset (transfer amounts + burn amount, + fee in TOS) overflows →
//!    [`OverflowKind::Spending`];
//! 4. an asset's spending exceeds `balance(source, asset)` (absent = 0), assets taken in
//!    order of first appearance (TOS fee first) → [`TxFailure::InsufficientFunds`];
//! 5. a destination credit overflows → [`OverflowKind::Credit`] (the whole transaction
//!    fails, including transfers that would have fitted);
//! 6. `nonce(source) + 1` overflows → [`OverflowKind::Nonce`].
//!
//! Otherwise the source is debited, destinations credited, a multisig payload writes the
//! source's configuration, the nonce is incremented, the fee is reported for the miner and
//! a TOS burn is reported as burned. Zero amounts (possible only in transactions that
//! block validation would reject) are no-ops: they read and write nothing.
//!
//! # Deltas and predicates
//!
//! A view may [defer](VmView::defers) a balance: the VM then checks a debit from it as
//! the predicate "balance ≥ spend" ([`VmView::covers`]) instead of reading it, and leaves
//! debits and credits there as deltas ([`TxOutcome::deltas`]) instead of values. Rules
//! 1–4 stay exact (a predicate is exactly rule 4's condition; when it fails, the balance
//! is read to report it). Rule 5 cannot be checked without the balance, so it moves to
//! the view's owner: Block-STM checks every delta's total at commit, in block order, and
//! runs a transaction whose delta does not fit again with nothing deferred. A deferred
//! credit could also hide rule 5 behind a later failure (a credit to a key that is not
//! deferred overflows, or the nonce does): so a run that deferred a credit and then
//! fails is run again with nothing deferred, and only a success keeps its deltas.

use std::fmt;
use std::sync::Arc;

use contract_vm::VmKind;
use smallvec::SmallVec;
use storage_adapter::{Asset, Hash, MultisigConfig, StateKey, StateValue, StorageError};

use crate::contract;
use crate::model::{Payload, Transaction};
use crate::outcome::{
    BlockError, DeltaSet, OverflowKind, TxFailure, TxOutcome, TxResult, WriteSet,
};

/// The state a transaction executes against.
///
/// `&mut self` lets an implementation record what was read (Block-STM's read set).
pub trait VmView {
    /// What a failed read reports (a storage error, a dependency on an unfinished
    /// transaction, …). The VM passes it through untouched in [`VmError::Read`].
    type Error;

    /// The value at `key`, or `None` when absent.
    fn read(&mut self, key: &StateKey) -> Result<Option<StateValue>, Self::Error>;

    /// Whether `tx_hash` is marked executed in storage (by an earlier block).
    fn is_executed(&mut self, tx_hash: &Hash) -> Result<bool, Self::Error>;

    /// Whether the VM should change the balance at `key` by deltas instead of reading
    /// and writing it (see the module documentation). No by default.
    fn defers(&mut self, key: &StateKey) -> bool {
        let _ = key;
        false
    }

    /// Whether the balance at `key` (a key this view defers) is at least `amount`. A
    /// view records this as the predicate it is. `false` makes the VM read the balance,
    /// which is also the default.
    fn covers(&mut self, key: &StateKey, amount: u64) -> Result<bool, Self::Error> {
        let _ = (key, amount);
        Ok(false)
    }
}

impl<V: VmView + ?Sized> VmView for &mut V {
    type Error = V::Error;

    fn read(&mut self, key: &StateKey) -> Result<Option<StateValue>, Self::Error> {
        (**self).read(key)
    }

    fn is_executed(&mut self, tx_hash: &Hash) -> Result<bool, Self::Error> {
        (**self).is_executed(tx_hash)
    }

    fn defers(&mut self, key: &StateKey) -> bool {
        (**self).defers(key)
    }

    fn covers(&mut self, key: &StateKey, amount: u64) -> Result<bool, Self::Error> {
        (**self).covers(key, amount)
    }
}

/// Why the VM could not decide a transaction's outcome. Unlike a [`TxFailure`], this is
/// not a result: the view itself is unusable (or, in Block-STM, the incarnation must end).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum VmError<E> {
    /// The view failed to answer.
    Read(E),
    /// The view holds a value whose variant does not fit its key.
    InvalidState(StateKey),
}

impl<E: fmt::Display> fmt::Display for VmError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VmError::Read(error) => write!(f, "read failed: {error}"),
            VmError::InvalidState(key) => write!(f, "value of the wrong kind at {key:?}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for VmError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            VmError::Read(error) => Some(error),
            VmError::InvalidState(_) => None,
        }
    }
}

impl From<VmError<StorageError>> for BlockError {
    fn from(error: VmError<StorageError>) -> Self {
        match error {
            VmError::Read(error) => BlockError::Storage(error),
            VmError::InvalidState(key) => {
                BlockError::InvalidState(format!("value of the wrong kind at {key:?}"))
            }
        }
    }
}

/// Per-asset spending of one transaction; four assets fit inline (no allocation).
type Spending = SmallVec<[(Asset, u64); 4]>;

/// Executes `tx` against `view` under the rules in the module documentation, running
/// contract calls on the interpreter. See [`execute_transaction_on`].
pub fn execute_transaction<V: VmView>(
    tx: &Transaction,
    view: &mut V,
) -> Result<TxOutcome, VmError<V::Error>> {
    execute_transaction_on(tx, view, VmKind::Interpreter)
}

/// Executes `tx` against `view` under the rules in the module documentation (and, for
/// contract payloads, [`crate::contract`]'s), running contract calls on a VM of `kind`;
/// the result is the same for every kind.
///
/// `Ok` carries the outcome, success or failure; `Err` means the view could not be read
/// consistently. Never panics, whatever `view` returns.
pub fn execute_transaction_on<V: VmView>(
    tx: &Transaction,
    view: &mut V,
    kind: VmKind,
) -> Result<TxOutcome, VmError<V::Error>> {
    let (outcome, deferred_a_credit) = execute(tx, view, true, kind)?;
    if deferred_a_credit && !outcome.result.is_success() {
        // A deferred credit might have overflowed before the rule that failed: only an
        // exact run can say which failure is the transaction's.
        return execute(tx, view, false, kind).map(|(outcome, _)| outcome);
    }
    Ok(outcome)
}

/// One run of the rules; `deltas` lets it defer what the view defers. Also says whether
/// a credit was deferred.
fn execute<V: VmView>(
    tx: &Transaction,
    view: &mut V,
    deltas: bool,
    kind: VmKind,
) -> Result<(TxOutcome, bool), VmError<V::Error>> {
    let failed = |failure| Ok((TxOutcome::failed(failure), false));
    if view.is_executed(tx.hash()).map_err(VmError::Read)? {
        return failed(TxFailure::AlreadyExecuted);
    }

    let source = *tx.source();
    let nonce_key = StateKey::Nonce(source);
    let nonce = match view.read(&nonce_key).map_err(VmError::Read)? {
        None => 0,
        Some(StateValue::Nonce(nonce)) => nonce,
        Some(_) => return Err(VmError::InvalidState(nonce_key)),
    };
    if tx.nonce() != nonce {
        return failed(TxFailure::InvalidNonce {
            expected: nonce,
            got: tx.nonce(),
        });
    }

    // Contracts have rules of their own, and never defer: they read what they touch.
    match tx.payload() {
        Payload::DeployContract { module } => {
            return contract::deploy(tx, view, nonce, module).map(|outcome| (outcome, false));
        }
        Payload::InvokeContract {
            contract,
            deposits,
            max_gas,
            input,
        } => {
            let call = contract::Call {
                contract,
                deposits,
                max_gas: *max_gas,
                input,
            };
            return contract::invoke(tx, view, nonce, kind, call).map(|outcome| (outcome, false));
        }
        Payload::Transfers(_) | Payload::Burn { .. } | Payload::Multisig { .. } => {}
    }

    let spending = match spending(tx) {
        Ok(spending) => spending,
        Err(asset) => return failed(TxFailure::Overflow(OverflowKind::Spending { asset })),
    };

    // The write set is also the transaction's overlay: every key read below is written,
    // so a second use of a key finds it here instead of reading the view again.
    // Deferred balances go to `changes` instead, as deltas: the two never share a key.
    let mut writes = WriteSet::new();
    let mut changes = DeltaSet::new();
    for &(asset, needed) in &spending {
        let key = StateKey::Balance(source, asset);
        if deltas && view.defers(&key) && view.covers(&key, needed).map_err(VmError::Read)? {
            changes.push((key, -i128::from(needed)));
            continue;
        }
        let available = read_balance(view, &key)?;
        let Some(remaining) = available.checked_sub(needed) else {
            return failed(TxFailure::InsufficientFunds {
                asset,
                needed,
                available,
            });
        };
        writes.push((key, StateValue::Balance(remaining)));
    }

    let mut deferred_a_credit = false;
    let mut burned = 0;
    match tx.payload() {
        Payload::Transfers(transfers) => {
            for transfer in transfers.iter().filter(|transfer| transfer.amount != 0) {
                let key = StateKey::Balance(transfer.destination, transfer.asset);
                let overflow = TxFailure::Overflow(OverflowKind::Credit {
                    destination: transfer.destination,
                    asset: transfer.asset,
                });
                if let Some((_, change)) = changes.iter_mut().find(|(changed, _)| *changed == key) {
                    // At most a few `u64`s summed: no `i128` overflow.
                    *change += i128::from(transfer.amount);
                    deferred_a_credit = true;
                    continue;
                }
                match writes.iter_mut().find(|(written, _)| *written == key) {
                    Some((_, StateValue::Balance(current))) => {
                        match current.checked_add(transfer.amount) {
                            Some(credited) => *current = credited,
                            None => return Ok((TxOutcome::failed(overflow), deferred_a_credit)),
                        }
                    }
                    // Only balances are written at balance keys above; kept as an error
                    // rather than a panic all the same.
                    Some((key, _)) => return Err(VmError::InvalidState(*key)),
                    None if deltas && view.defers(&key) => {
                        changes.push((key, i128::from(transfer.amount)));
                        deferred_a_credit = true;
                    }
                    None => {
                        let current = read_balance(view, &key)?;
                        let Some(credited) = current.checked_add(transfer.amount) else {
                            return Ok((TxOutcome::failed(overflow), deferred_a_credit));
                        };
                        writes.push((key, StateValue::Balance(credited)));
                    }
                }
            }
        }
        Payload::Burn { asset, amount } => {
            // Burned supply counts TOS only: burning another asset just destroys that
            // balance (already debited above).
            if *asset == Asset::TOS {
                burned = *amount;
            }
        }
        Payload::Multisig {
            threshold,
            participants,
        } => {
            // Threshold 0 removes the configuration (validation allows it only with no
            // participants).
            let config = (*threshold != 0).then(|| {
                Arc::new(MultisigConfig {
                    threshold: *threshold,
                    participants: participants.clone(),
                })
            });
            writes.push((StateKey::Multisig(source), StateValue::Multisig(config)));
        }
        // Returned above.
        Payload::DeployContract { .. } | Payload::InvokeContract { .. } => {}
    }

    let Some(next_nonce) = nonce.checked_add(1) else {
        return Ok((
            TxOutcome::failed(TxFailure::Overflow(OverflowKind::Nonce)),
            deferred_a_credit,
        ));
    };
    writes.push((nonce_key, StateValue::Nonce(next_nonce)));

    Ok((
        TxOutcome {
            result: TxResult::Success,
            writes,
            deltas: changes,
            fee: tx.fee(),
            burned,
        },
        deferred_a_credit,
    ))
}

/// Sums what `tx` spends per asset (fee in TOS first, then transfers and burn in payload
/// order), skipping zero amounts; `Err(asset)` when an asset's sum overflows.
fn spending(tx: &Transaction) -> Result<Spending, Asset> {
    let mut spending = Spending::new();
    let mut add = |asset: Asset, amount: u64| -> Result<(), Asset> {
        if amount == 0 {
            return Ok(());
        }
        match spending.iter_mut().find(|(spent, _)| *spent == asset) {
            Some((_, total)) => *total = total.checked_add(amount).ok_or(asset)?,
            None => spending.push((asset, amount)),
        }
        Ok(())
    };
    add(Asset::TOS, tx.fee())?;
    match tx.payload() {
        Payload::Transfers(transfers) => {
            for transfer in transfers {
                add(transfer.asset, transfer.amount)?;
            }
        }
        Payload::Burn { asset, amount } => add(*asset, *amount)?,
        // Contract payloads reserve through `crate::contract`.
        Payload::Multisig { .. }
        | Payload::DeployContract { .. }
        | Payload::InvokeContract { .. } => {}
    }
    Ok(spending)
}

/// Reads a balance (absent = 0), rejecting a value of another kind.
fn read_balance<V: VmView>(view: &mut V, key: &StateKey) -> Result<u64, VmError<V::Error>> {
    match view.read(key).map_err(VmError::Read)? {
        None => Ok(0),
        Some(StateValue::Balance(balance)) => Ok(balance),
        Some(_) => Err(VmError::InvalidState(*key)),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;
    use storage_adapter::PublicKey;

    use super::*;
    use crate::model::Transfer;

    /// A view over a map that counts reads per key.
    #[derive(Default)]
    struct MapView {
        values: HashMap<StateKey, StateValue>,
        reads: HashMap<StateKey, usize>,
    }

    impl VmView for MapView {
        type Error = ();

        fn read(&mut self, key: &StateKey) -> Result<Option<StateValue>, ()> {
            *self.reads.entry(*key).or_default() += 1;
            Ok(self.values.get(key).cloned())
        }

        fn is_executed(&mut self, _: &Hash) -> Result<bool, ()> {
            Ok(false)
        }
    }

    fn key(index: u64) -> PublicKey {
        PublicKey::from_index(index)
    }

    #[test]
    fn wrong_variant_is_invalid_state_not_a_panic() {
        let mut view = MapView::default();
        view.values
            .insert(StateKey::Nonce(key(0)), StateValue::Balance(3));
        let tx = Transaction::new(
            key(0),
            0,
            1,
            Payload::Burn {
                asset: Asset::TOS,
                amount: 1,
            },
        );
        assert_eq!(
            execute_transaction(&tx, &mut view),
            Err(VmError::InvalidState(StateKey::Nonce(key(0))))
        );
    }

    #[test]
    fn read_errors_pass_through() {
        struct Failing;
        impl VmView for Failing {
            type Error = &'static str;
            fn read(&mut self, _: &StateKey) -> Result<Option<StateValue>, &'static str> {
                Err("boom")
            }
            fn is_executed(&mut self, _: &Hash) -> Result<bool, &'static str> {
                Ok(false)
            }
        }
        let tx = Transaction::new(
            key(0),
            0,
            1,
            Payload::Burn {
                asset: Asset::TOS,
                amount: 1,
            },
        );
        assert_eq!(
            execute_transaction(&tx, &mut Failing),
            Err(VmError::Read("boom"))
        );
    }

    fn arb_value() -> impl Strategy<Value = StateValue> {
        prop_oneof![
            any::<u64>().prop_map(StateValue::Nonce),
            prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>(), 0..2000u64]
                .prop_map(StateValue::Balance),
            Just(StateValue::Multisig(None)),
        ]
    }

    fn arb_key(accounts: u64) -> impl Strategy<Value = StateKey> {
        (0..accounts, 0..3u8, 0..3u64).prop_map(|(account, kind, asset)| {
            let asset = if asset == 0 {
                Asset::TOS
            } else {
                Asset::from_index(asset)
            };
            match kind {
                0 => StateKey::Nonce(key(account)),
                1 => StateKey::Balance(key(account), asset),
                _ => StateKey::Multisig(key(account)),
            }
        })
    }

    fn arb_tx() -> impl Strategy<Value = Transaction> {
        let amount = prop_oneof![Just(0u64), Just(u64::MAX), 1..1500u64, any::<u64>()];
        let transfer =
            (0..4u64, 0..3u64, amount.clone()).prop_map(|(destination, asset, amount)| {
                let asset = if asset == 0 {
                    Asset::TOS
                } else {
                    Asset::from_index(asset)
                };
                Transfer::new(asset, key(destination), amount)
            });
        let payload = prop_oneof![
            proptest::collection::vec(transfer, 0..6).prop_map(Payload::Transfers),
            (0..3u64, amount).prop_map(|(asset, amount)| Payload::Burn {
                asset: if asset == 0 {
                    Asset::TOS
                } else {
                    Asset::from_index(asset)
                },
                amount
            }),
            (any::<u8>(), proptest::collection::vec(0..4u64, 0..4)).prop_map(
                |(threshold, participants)| {
                    Payload::Multisig {
                        threshold,
                        participants: participants.into_iter().map(key).collect(),
                    }
                }
            ),
        ];
        (
            0..4u64,
            prop_oneof![0..3u64, Just(u64::MAX)],
            prop_oneof![0..20u64, any::<u64>()],
            payload,
        )
            .prop_map(|(source, nonce, fee, payload)| {
                Transaction::new(key(source), nonce, fee, payload)
            })
    }

    proptest! {
        /// Whatever the view holds (wrong variants, extreme values) and however malformed
        /// the transaction, the VM returns without panicking, writes each key at most
        /// once, reads each key at most once, and a failure writes nothing.
        #[test]
        fn never_panics_and_keeps_its_invariants(
            state in proptest::collection::vec((arb_key(4), arb_value()), 0..24),
            tx in arb_tx(),
        ) {
            let mut view = MapView { values: state.into_iter().collect(), ..MapView::default() };
            if let Ok(outcome) = execute_transaction(&tx, &mut view) {
                let mut keys: Vec<_> = outcome.writes.iter().map(|(key, _)| *key).collect();
                keys.sort();
                keys.dedup();
                prop_assert_eq!(keys.len(), outcome.writes.len());
                for (key, value) in &outcome.writes {
                    prop_assert!(value.fits(key));
                }
                if !outcome.result.is_success() {
                    prop_assert!(outcome.writes.is_empty());
                    prop_assert_eq!((outcome.fee, outcome.burned), (0, 0));
                }
            }
            prop_assert!(view.reads.values().all(|&count| count == 1), "{:?}", view.reads);
        }
    }
}
