//! The block-level rules (design §3, steps 1, 3 and 4) through the sequential oracle on a
//! memory store: the reward prologue, fees, burned supply, new-account registration,
//! executed marks, the counters' overflow errors, and genesis.

use executor::engine::BlockExecutor;
use executor::outcome::{BlockError, TxFailure, TxResult, MAX_SUPPLY};
use executor::{genesis_commit, ExecutionStats, SequentialExecutor};
use integration_tests::*;
use storage_adapter::{Asset, BlockStore, MemoryStore, StateKey, StateValue};

const TOS: Asset = Asset::TOS;

#[test]
fn reward_is_credited_once_in_an_empty_block() {
    let miner = account(9);
    let store = store_with([balance_entry(miner, TOS, 5), nonce_entry(miner, 0)]);
    let output =
        apply(&store, &next_block(&store, miner, 100, vec![])).expect("empty block is valid");
    assert_eq!(balance(&store, miner, TOS), 105);
    assert_eq!(output.total_fees, 0);
    assert!(output.results.is_empty());
    assert_eq!(output.writes(), &[balance_entry(miner, TOS, 105)]);
}

#[test]
fn transactions_see_the_reward_and_it_is_credited_once() {
    let (miner, a) = (account(9), account(0));
    // The miner owns nothing in storage: its transaction can only pay thanks to the reward.
    let store = store_with([balance_entry(a, TOS, 1_000), nonce_entry(a, 0)]);
    let block = next_block(
        &store,
        miner,
        100,
        vec![
            pay(miner, 0, 5, a, 90), // reads and writes the miner balance: 100 - 95 = 5
            pay(a, 0, 7, miner, 20), // credits it: 25
            pay(miner, 1, 1, a, 24), // reads it again: 0
            pay(miner, 2, 1, a, 1),  // nothing left: fails (the reward is not applied twice)
        ],
    );
    let output = apply(&store, &block).expect("valid block");
    assert_eq!(
        output.results,
        vec![
            TxResult::Success,
            TxResult::Success,
            TxResult::Success,
            TxResult::Failed(TxFailure::InsufficientFunds {
                asset: TOS,
                needed: 2,
                available: 0
            })
        ]
    );
    assert_eq!(output.total_fees, 13);
    // 100 reward - 95 + 20 - 25 + 13 fees.
    assert_eq!(balance(&store, miner, TOS), 13);
    assert_eq!(balance(&store, a, TOS), 1_000 + 90 - 27 + 24);
    assert_eq!(nonce(&store, miner), Some(2));
}

#[test]
fn fees_of_successful_transactions_go_to_the_miner() {
    let (miner, a, b) = (account(9), account(0), account(1));
    let store = store_with([
        balance_entry(a, TOS, 100),
        nonce_entry(a, 0),
        balance_entry(b, TOS, 1),
        nonce_entry(b, 0),
    ]);
    let block = next_block(
        &store,
        miner,
        0,
        vec![
            pay(a, 0, 10, b, 5),
            pay(b, 0, 50, a, 1), // fails: b has 6 TOS
            pay(a, 1, 0, b, 5),  // a zero fee is valid
        ],
    );
    let output = apply(&store, &block).expect("valid block");
    assert_eq!(output.results.iter().filter(|r| r.is_success()).count(), 2);
    assert_eq!(output.total_fees, 10);
    assert_eq!(balance(&store, miner, TOS), 10);
    assert_eq!(balance(&store, a, TOS), 80);
    assert_eq!(balance(&store, b, TOS), 11);
}

#[test]
fn burned_supply_counts_tos_burns_only() {
    let (miner, a) = (account(9), account(0));
    let x = asset(1);
    let store = store_with([
        balance_entry(a, TOS, 1_000),
        balance_entry(a, x, 1_000),
        nonce_entry(a, 0),
    ]);
    let block = next_block(
        &store,
        miner,
        0,
        vec![
            burn(a, 0, 1, TOS, 100),
            burn(a, 1, 1, x, 300),
            burn(a, 2, 1, TOS, 5_000),
            burn(a, 2, 1, TOS, 20),
        ],
    );
    let output = apply(&store, &block).expect("valid block");
    assert!(!output.results[2].is_success());
    assert_eq!(output.burned, 120);
    assert_eq!(store.chain_state().expect("chain").burned_supply, 120);
    assert_eq!(balance(&store, a, TOS), 1_000 - 120 - 3);
    assert_eq!(balance(&store, a, x), 700);
    // A second block adds to it.
    let output = apply(
        &store,
        &next_block(&store, miner, 0, vec![burn(a, 3, 0, TOS, 7)]),
    )
    .expect("valid block");
    assert_eq!(output.burned, 7);
    assert_eq!(store.chain_state().expect("chain").burned_supply, 127);
}

#[test]
fn new_accounts_are_registered_with_nonce_zero_once() {
    let (miner, a, b, c) = (account(9), account(0), account(1), account(2));
    let x = asset(1);
    // b already has a nonce; c and the miner are new.
    let store = store_with([
        balance_entry(a, TOS, 1_000),
        balance_entry(a, x, 10),
        nonce_entry(a, 0),
        nonce_entry(b, 4),
    ]);
    let block = next_block(
        &store,
        miner,
        1,
        vec![transfers(a, 0, 1, &[(TOS, b, 5), (x, c, 3)])],
    );
    let output = apply(&store, &block).expect("valid block");
    let writes = output.writes();
    assert!(
        writes.contains(&nonce_entry(c, 0)),
        "receiver of another asset registered"
    );
    assert!(
        writes.contains(&nonce_entry(miner, 0)),
        "new miner registered"
    );
    assert!(
        writes.contains(&nonce_entry(a, 1)),
        "sender keeps its incremented nonce"
    );
    assert!(
        !writes.iter().any(|(key, _)| *key == StateKey::Nonce(b)),
        "b has a nonce: not re-registered"
    );
    assert_eq!(nonce(&store, b), Some(4));
    assert_eq!(nonce(&store, c), Some(0));
    // Writes are sorted, unique.
    assert!(writes.windows(2).all(|pair| pair[0].0 < pair[1].0));

    // Next block: c and the miner are registered now, so nothing re-registers them.
    let output = apply(
        &store,
        &next_block(&store, miner, 1, vec![pay(a, 1, 1, c, 1)]),
    )
    .expect("valid block");
    assert!(!output
        .writes()
        .iter()
        .any(|(key, _)| matches!(key, StateKey::Nonce(k) if *k == c || *k == miner)));
}

#[test]
fn executed_marks_skip_replays_but_not_failed_transactions() {
    let (miner, a, b) = (account(9), account(0), account(1));
    let store = store_with([
        balance_entry(a, TOS, 100),
        nonce_entry(a, 0),
        nonce_entry(b, 0),
    ]);
    let from_b = pay(b, 0, 1, a, 10); // b has nothing yet
    let first = pay(a, 0, 1, b, 50);
    let output = apply(
        &store,
        &next_block(&store, miner, 0, vec![from_b.clone(), first.clone()]),
    )
    .expect("valid");
    assert!(matches!(
        output.results[0],
        TxResult::Failed(TxFailure::InsufficientFunds { .. })
    ));
    assert_eq!(output.commit.executed(), &[*first.hash()]);
    // The same successful transaction again is skipped; the failed one may now succeed.
    let output = apply(&store, &next_block(&store, miner, 0, vec![first, from_b])).expect("valid");
    assert_eq!(
        output.results,
        vec![
            TxResult::Failed(TxFailure::AlreadyExecuted),
            TxResult::Success
        ]
    );
}

#[test]
fn writes_and_nonces_chain_within_a_block() {
    let (miner, a, b) = (account(9), account(0), account(1));
    let store = store_with([balance_entry(a, TOS, 100), nonce_entry(a, 0)]);
    // b receives, then spends what it received, in the same block; a sends a nonce chain.
    let block = next_block(
        &store,
        miner,
        0,
        vec![
            pay(a, 0, 1, b, 30),
            pay(b, 0, 1, a, 20),
            pay(a, 1, 1, b, 1),
            pay(a, 1, 1, b, 2),
            pay(a, 2, 1, b, 3),
        ],
    );
    let output = apply(&store, &block).expect("valid block");
    assert_eq!(
        output.results[3],
        TxResult::Failed(TxFailure::InvalidNonce {
            expected: 2,
            got: 1
        })
    );
    assert_eq!(output.successful(), 4);
    assert_eq!(balance(&store, b, TOS), 30 - 21 + 1 + 3);
    assert_eq!(nonce(&store, a), Some(3));
    assert_eq!(nonce(&store, b), Some(1));
}

#[test]
fn the_oracle_is_deterministic_and_reports_its_stats() {
    let (miner, a, b) = (account(9), account(0), account(1));
    let store = store_with([balance_entry(a, TOS, 100), nonce_entry(a, 0)]);
    let block = next_block(
        &store,
        miner,
        3,
        vec![pay(a, 0, 1, b, 30), pay(a, 1, 1, b, 30)],
    );
    let snapshot = store.snapshot().expect("snapshot");
    let first = SequentialExecutor::new()
        .execute_block(&block, &snapshot)
        .expect("valid");
    let second = SequentialExecutor::new()
        .execute_block(&block, &snapshot)
        .expect("valid");
    assert_eq!(first, second);
    assert_eq!(first.stats.transactions, 2);
    assert_eq!(first.stats.executions, 2);
    // Nothing else: no fallback, no engine's own counters.
    assert_eq!(first.stats, ExecutionStats::sequential(2));
    assert_eq!(SequentialExecutor::new().name(), "sequential");
}

#[test]
fn reward_overflow_is_a_block_error() {
    let miner = account(9);
    let store = store_with([balance_entry(miner, TOS, u64::MAX)]);
    assert_rejected(
        &store,
        &next_block(&store, miner, 1, vec![]),
        BlockError::RewardOverflow,
    );
    // A zero reward on a full balance is fine.
    apply(&store, &next_block(&store, miner, 0, vec![])).expect("zero reward");
}

#[test]
fn fee_total_overflow_is_a_block_error() {
    let (miner, a, b) = (account(9), account(0), account(1));
    let store = store_with([balance_entry(a, TOS, u64::MAX), balance_entry(b, TOS, 10)]);
    let block = next_block(
        &store,
        miner,
        0,
        vec![pay(a, 0, u64::MAX - 1, b, 1), pay(b, 0, 2, a, 1)],
    );
    assert_rejected(&store, &block, BlockError::FeeOverflow);
}

#[test]
fn miner_fee_credit_overflow_is_a_block_error() {
    let (miner, a, b) = (account(9), account(0), account(1));
    let store = store_with([
        balance_entry(miner, TOS, u64::MAX - 10),
        balance_entry(a, TOS, 100),
    ]);
    let block = next_block(&store, miner, 5, vec![pay(a, 0, 6, b, 1)]);
    assert_rejected(&store, &block, BlockError::MinerCreditOverflow);
    // One unit less fits exactly.
    let block = next_block(&store, miner, 5, vec![pay(a, 0, 5, b, 1)]);
    apply(&store, &block).expect("fits exactly");
    assert_eq!(balance(&store, miner, TOS), u64::MAX);
}

#[test]
fn burn_total_overflow_is_a_block_error() {
    let (miner, a, b) = (account(9), account(0), account(1));
    let half = u64::MAX / 2 + 1;
    let store = store_with([balance_entry(a, TOS, half), balance_entry(b, TOS, half)]);
    let block = next_block(
        &store,
        miner,
        0,
        vec![burn(a, 0, 0, TOS, half), burn(b, 0, 0, TOS, half)],
    );
    assert_rejected(&store, &block, BlockError::BurnOverflow);
}

#[test]
fn burned_supply_never_exceeds_the_maximum() {
    let (miner, a) = (account(9), account(0));
    let store = store_with([balance_entry(a, TOS, MAX_SUPPLY + 10)]);
    let block = next_block(&store, miner, 0, vec![burn(a, 0, 0, TOS, MAX_SUPPLY + 1)]);
    assert_rejected(
        &store,
        &block,
        BlockError::BurnedSupplyExceeded {
            previous: 0,
            burned: MAX_SUPPLY + 1,
        },
    );
    // Exactly the maximum is allowed; one more unit later is not.
    apply(
        &store,
        &next_block(&store, miner, 0, vec![burn(a, 0, 0, TOS, MAX_SUPPLY)]),
    )
    .expect("at the maximum");
    assert_eq!(
        store.chain_state().expect("chain").burned_supply,
        MAX_SUPPLY
    );
    let block = next_block(&store, miner, 0, vec![burn(a, 1, 0, TOS, 1)]);
    assert_rejected(
        &store,
        &block,
        BlockError::BurnedSupplyExceeded {
            previous: MAX_SUPPLY,
            burned: 1,
        },
    );
}

#[test]
fn genesis_sums_duplicates_and_registers_accounts() {
    let (a, b) = (account(0), account(1));
    let x = asset(1);
    let commit = genesis_commit(&[(a, TOS, 5), (b, x, 7), (a, TOS, 6)]).expect("valid allocations");
    assert_eq!(commit.topoheight(), 0);
    let mut expected = vec![
        nonce_entry(a, 0),
        nonce_entry(b, 0),
        balance_entry(a, TOS, 11),
        balance_entry(b, x, 7),
    ];
    expected.sort_by_key(|(key, _)| *key);
    assert_eq!(commit.writes(), expected.as_slice());
    assert_eq!(
        genesis_commit(&[(a, TOS, u64::MAX), (a, TOS, 1)]),
        Err(BlockError::AllocationOverflow {
            account: a,
            asset: TOS
        })
    );
    // The same allocations in another order give the same root.
    let reordered =
        genesis_commit(&[(a, TOS, 6), (a, TOS, 5), (b, x, 7)]).expect("valid allocations");
    assert_eq!(commit.state_root(), reordered.state_root());
    let store = genesis_store(MemoryStore::new(), &[(a, TOS, 5)]);
    assert_eq!(store.chain_state().expect("chain").topoheight, Some(0));
    assert_eq!(get(&store, StateKey::Nonce(a)), Some(StateValue::Nonce(0)));
}
