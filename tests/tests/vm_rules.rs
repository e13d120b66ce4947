//! Every rule of the TOS VM (design §3, step 2), one test per rule, run directly against
//! a counting map view so each test also checks that the VM reads each key at most once.

use std::sync::Arc;

use executor::outcome::{OverflowKind, TxFailure, TxOutcome, TxResult};
use executor::vm::execute_transaction;
use integration_tests::*;
use storage_adapter::{Asset, MultisigConfig, StateKey, StateValue};

fn run(view: &mut MapView, tx: &executor::Transaction) -> TxOutcome {
    let outcome = execute_transaction(tx, view).expect("a map view never fails");
    assert!(view.read_each_key_at_most_once(), "reads: {:?}", view.reads);
    outcome
}

/// The outcome's writes, sorted, for order-independent comparison.
fn sorted_writes(outcome: &TxOutcome) -> Vec<(StateKey, StateValue)> {
    let mut writes = outcome.writes.to_vec();
    writes.sort_by_key(|(key, _)| *key);
    writes
}

/// `entries` sorted by key, to compare with [`sorted_writes`].
fn sorted(mut entries: Vec<(StateKey, StateValue)>) -> Vec<(StateKey, StateValue)> {
    entries.sort_by_key(|(key, _)| *key);
    entries
}

fn assert_failed(outcome: &TxOutcome, failure: TxFailure) {
    assert_eq!(outcome.result, TxResult::Failed(failure));
    assert!(
        outcome.writes.is_empty(),
        "a failed transaction writes nothing: {:?}",
        outcome.writes
    );
    assert_eq!(
        (outcome.fee, outcome.burned),
        (0, 0),
        "a failed transaction pays and burns nothing"
    );
}

#[test]
fn already_executed_is_skipped() {
    let (a, b) = (account(0), account(1));
    let tx = pay(a, 0, 1, b, 10);
    let mut view = MapView::new([balance_entry(a, Asset::TOS, 100)]);
    view.executed.insert(*tx.hash());
    assert_failed(&run(&mut view, &tx), TxFailure::AlreadyExecuted);
}

#[test]
fn wrong_nonce_fails() {
    let (a, b) = (account(0), account(1));
    // Absent nonce counts as 0.
    let mut view = MapView::new([balance_entry(a, Asset::TOS, 100)]);
    assert_failed(
        &run(&mut view, &pay(a, 1, 1, b, 10)),
        TxFailure::InvalidNonce {
            expected: 0,
            got: 1,
        },
    );
    let view = MapView::new([nonce_entry(a, 5), balance_entry(a, Asset::TOS, 100)]);
    assert_failed(
        &run(&mut view.clone(), &pay(a, 4, 1, b, 10)),
        TxFailure::InvalidNonce {
            expected: 5,
            got: 4,
        },
    );
    assert_failed(
        &run(&mut view.clone(), &pay(a, 6, 1, b, 10)),
        TxFailure::InvalidNonce {
            expected: 5,
            got: 6,
        },
    );
}

#[test]
fn insufficient_funds_counts_the_fee_and_absent_balances() {
    let (a, b) = (account(0), account(1));
    let mut view = MapView::new([balance_entry(a, Asset::TOS, 100)]);
    assert_failed(
        &run(&mut view, &pay(a, 0, 6, b, 95)),
        TxFailure::InsufficientFunds {
            asset: Asset::TOS,
            needed: 101,
            available: 100,
        },
    );
    // Exactly enough succeeds.
    let mut view = MapView::new([balance_entry(a, Asset::TOS, 100)]);
    assert_eq!(
        run(&mut view, &pay(a, 0, 5, b, 95)).result,
        TxResult::Success
    );
    // An absent balance is 0 (the fee alone cannot be paid).
    let mut view = MapView::new([]);
    assert_failed(
        &run(&mut view, &pay(a, 0, 1, b, 1)),
        TxFailure::InsufficientFunds {
            asset: Asset::TOS,
            needed: 2,
            available: 0,
        },
    );
    // Per asset: TOS covers the fee, the other asset is short.
    let x = asset(1);
    let mut view = MapView::new([balance_entry(a, Asset::TOS, 100), balance_entry(a, x, 50)]);
    assert_failed(
        &run(
            &mut view,
            &transfers(a, 0, 1, &[(x, b, 30), (x, account(2), 30)]),
        ),
        TxFailure::InsufficientFunds {
            asset: x,
            needed: 60,
            available: 50,
        },
    );
}

#[test]
fn spending_sum_overflow_fails() {
    let (a, b, c) = (account(0), account(1), account(2));
    let half = u64::MAX / 2 + 1;
    let mut view = MapView::new([balance_entry(a, Asset::TOS, u64::MAX)]);
    assert_failed(
        &run(
            &mut view,
            &transfers(a, 0, 0, &[(Asset::TOS, b, half), (Asset::TOS, c, half)]),
        ),
        TxFailure::Overflow(OverflowKind::Spending { asset: Asset::TOS }),
    );
    // The fee counts towards the TOS sum.
    let mut view = MapView::new([balance_entry(a, Asset::TOS, u64::MAX)]);
    assert_failed(
        &run(&mut view, &pay(a, 0, 1, b, u64::MAX)),
        TxFailure::Overflow(OverflowKind::Spending { asset: Asset::TOS }),
    );
    // A burn adds to the same asset's transfers: only one payload per tx, so check burn + fee.
    let mut view = MapView::new([balance_entry(a, Asset::TOS, u64::MAX)]);
    assert_failed(
        &run(&mut view, &burn(a, 0, 2, Asset::TOS, u64::MAX - 1)),
        TxFailure::Overflow(OverflowKind::Spending { asset: Asset::TOS }),
    );
}

#[test]
fn credit_overflow_fails_the_whole_transaction() {
    let (a, b, c) = (account(0), account(1), account(2));
    let state = [
        balance_entry(a, Asset::TOS, 1_000),
        balance_entry(c, Asset::TOS, u64::MAX - 5),
    ];
    // The credit to b would fit; the one to c does not: nothing happens at all.
    let mut view = MapView::new(state.clone());
    assert_failed(
        &run(
            &mut view,
            &transfers(a, 0, 1, &[(Asset::TOS, b, 10), (Asset::TOS, c, 10)]),
        ),
        TxFailure::Overflow(OverflowKind::Credit {
            destination: c,
            asset: Asset::TOS,
        }),
    );
    // Two credits that overflow only together also fail (the second sees the first).
    let mut view = MapView::new(state.clone());
    assert_failed(
        &run(
            &mut view,
            &transfers(a, 0, 1, &[(Asset::TOS, c, 3), (Asset::TOS, c, 3)]),
        ),
        TxFailure::Overflow(OverflowKind::Credit {
            destination: c,
            asset: Asset::TOS,
        }),
    );
    // Up to the limit is fine.
    let mut view = MapView::new(state);
    let outcome = run(
        &mut view,
        &transfers(a, 0, 1, &[(Asset::TOS, c, 2), (Asset::TOS, c, 3)]),
    );
    assert_eq!(outcome.result, TxResult::Success);
    assert!(outcome
        .writes
        .contains(&balance_entry(c, Asset::TOS, u64::MAX)));
}

#[test]
fn nonce_overflow_fails() {
    let (a, b) = (account(0), account(1));
    let mut view = MapView::new([nonce_entry(a, u64::MAX), balance_entry(a, Asset::TOS, 100)]);
    assert_failed(
        &run(&mut view, &pay(a, u64::MAX, 1, b, 1)),
        TxFailure::Overflow(OverflowKind::Nonce),
    );
}

#[test]
fn transfer_debits_credits_increments_and_reports_the_fee() {
    let (a, b) = (account(0), account(1));
    let mut view = MapView::new([
        nonce_entry(a, 3),
        balance_entry(a, Asset::TOS, 100),
        balance_entry(b, Asset::TOS, 7),
    ]);
    let outcome = run(&mut view, &pay(a, 3, 4, b, 30));
    assert_eq!(outcome.result, TxResult::Success);
    assert_eq!((outcome.fee, outcome.burned), (4, 0));
    assert_eq!(
        sorted_writes(&outcome),
        sorted(vec![
            nonce_entry(a, 4),
            balance_entry(a, Asset::TOS, 66),
            balance_entry(b, Asset::TOS, 37)
        ])
    );
}

#[test]
fn two_transfers_to_one_destination_both_count() {
    let (a, b) = (account(0), account(1));
    let mut view = MapView::new([
        balance_entry(a, Asset::TOS, 100),
        balance_entry(b, Asset::TOS, 1),
    ]);
    let outcome = run(
        &mut view,
        &transfers(a, 0, 1, &[(Asset::TOS, b, 10), (Asset::TOS, b, 20)]),
    );
    assert_eq!(outcome.result, TxResult::Success);
    assert_eq!(
        sorted_writes(&outcome),
        sorted(vec![
            nonce_entry(a, 1),
            balance_entry(a, Asset::TOS, 69),
            balance_entry(b, Asset::TOS, 31)
        ])
    );
    assert_eq!(view.reads.get(&StateKey::Balance(b, Asset::TOS)), Some(&1));
}

#[test]
fn multi_asset_spending_is_per_asset() {
    let (a, b, c) = (account(0), account(1), account(2));
    let (x, y) = (asset(1), asset(2));
    let mut view = MapView::new([
        balance_entry(a, Asset::TOS, 100),
        balance_entry(a, x, 50),
        balance_entry(a, y, 9),
        balance_entry(c, y, 1),
    ]);
    let outcome = run(
        &mut view,
        &transfers(
            a,
            0,
            2,
            &[(x, b, 20), (Asset::TOS, c, 10), (x, c, 5), (y, c, 9)],
        ),
    );
    assert_eq!(outcome.result, TxResult::Success);
    assert_eq!(outcome.fee, 2);
    assert_eq!(
        sorted_writes(&outcome),
        sorted(vec![
            nonce_entry(a, 1),
            balance_entry(a, Asset::TOS, 88),
            balance_entry(a, x, 25),
            balance_entry(a, y, 0),
            balance_entry(b, x, 20),
            balance_entry(c, Asset::TOS, 10),
            balance_entry(c, x, 5),
            balance_entry(c, y, 10),
        ])
    );
}

#[test]
fn zero_fee_is_allowed_and_reads_no_tos() {
    let (a, b) = (account(0), account(1));
    let x = asset(1);
    let mut view = MapView::new([balance_entry(a, x, 5)]);
    let outcome = run(&mut view, &transfers(a, 0, 0, &[(x, b, 5)]));
    assert_eq!(outcome.result, TxResult::Success);
    assert_eq!(outcome.fee, 0);
    // Nothing spent in TOS, so the source's TOS balance is neither read nor written.
    assert!(!view.reads.contains_key(&StateKey::Balance(a, Asset::TOS)));
    assert_eq!(
        sorted_writes(&outcome),
        sorted(vec![
            nonce_entry(a, 1),
            balance_entry(a, x, 0),
            balance_entry(b, x, 5)
        ])
    );
}

#[test]
fn burning_tos_counts_as_burned() {
    let a = account(0);
    let mut view = MapView::new([balance_entry(a, Asset::TOS, 100)]);
    let outcome = run(&mut view, &burn(a, 0, 3, Asset::TOS, 40));
    assert_eq!(outcome.result, TxResult::Success);
    assert_eq!((outcome.fee, outcome.burned), (3, 40));
    assert_eq!(
        sorted_writes(&outcome),
        sorted(vec![nonce_entry(a, 1), balance_entry(a, Asset::TOS, 57)])
    );
}

#[test]
fn burning_another_asset_destroys_it_without_counting() {
    let a = account(0);
    let x = asset(1);
    let mut view = MapView::new([balance_entry(a, Asset::TOS, 100), balance_entry(a, x, 10)]);
    let outcome = run(&mut view, &burn(a, 0, 3, x, 10));
    assert_eq!(outcome.result, TxResult::Success);
    assert_eq!((outcome.fee, outcome.burned), (3, 0));
    assert_eq!(
        sorted_writes(&outcome),
        sorted(vec![
            nonce_entry(a, 1),
            balance_entry(a, Asset::TOS, 97),
            balance_entry(a, x, 0)
        ])
    );
    // Without enough of the asset it fails.
    let mut view = MapView::new([balance_entry(a, Asset::TOS, 100), balance_entry(a, x, 9)]);
    assert_failed(
        &run(&mut view, &burn(a, 0, 3, x, 10)),
        TxFailure::InsufficientFunds {
            asset: x,
            needed: 10,
            available: 9,
        },
    );
}

#[test]
fn multisig_sets_and_removes_the_configuration() {
    let (a, b, c) = (account(0), account(1), account(2));
    let mut view = MapView::new([balance_entry(a, Asset::TOS, 100)]);
    let outcome = run(&mut view, &multisig(a, 0, 2, 2, vec![b, c]));
    assert_eq!(outcome.result, TxResult::Success);
    let config = MultisigConfig {
        threshold: 2,
        participants: vec![b, c],
    };
    assert_eq!(
        sorted_writes(&outcome),
        sorted(vec![
            nonce_entry(a, 1),
            balance_entry(a, Asset::TOS, 98),
            (
                StateKey::Multisig(a),
                StateValue::Multisig(Some(Arc::new(config.clone())))
            ),
        ])
    );

    let mut view = MapView::new([
        nonce_entry(a, 1),
        balance_entry(a, Asset::TOS, 98),
        (
            StateKey::Multisig(a),
            StateValue::Multisig(Some(Arc::new(config))),
        ),
    ]);
    let outcome = run(&mut view, &multisig(a, 1, 0, 0, vec![]));
    assert_eq!(outcome.result, TxResult::Success);
    assert_eq!(
        sorted_writes(&outcome),
        sorted(vec![
            nonce_entry(a, 2),
            (StateKey::Multisig(a), StateValue::Multisig(None))
        ])
    );
}

#[test]
fn failure_precedence_follows_the_rule_order() {
    let (a, b) = (account(0), account(1));
    // Wrong nonce and no funds: the nonce is reported.
    let mut view = MapView::new([]);
    assert_failed(
        &run(&mut view, &pay(a, 9, 1, b, 10)),
        TxFailure::InvalidNonce {
            expected: 0,
            got: 9,
        },
    );
    // Already executed beats everything, and reads no state.
    let tx = pay(a, 9, 1, b, 10);
    let mut view = MapView::new([]);
    view.executed.insert(*tx.hash());
    assert_failed(&run(&mut view, &tx), TxFailure::AlreadyExecuted);
    assert!(view.reads.is_empty());
}
