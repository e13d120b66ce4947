//! Bad input never panics: every invalid block is a typed [`BlockError`] and leaves the
//! store unchanged; inconsistent stored state and failing storage are errors too.

use executor::outcome::BlockError;
use executor::{
    execute_sequential, validate_block, Block, MalformedTransaction, Transaction,
    MAX_BLOCK_TRANSACTIONS,
};
use integration_tests::*;
use proptest::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

use storage_adapter::{
    Asset, BlockStore, MemorySnapshot, MemoryStore, PublicKey, StateKey, StateValue, StorageError,
};

const TOS: Asset = Asset::TOS;

fn funded_store() -> MemoryStore {
    store_with((0..4).flat_map(|i| {
        [
            balance_entry(account(i), TOS, 1_000_000),
            nonce_entry(account(i), 0),
        ]
    }))
}

#[test]
fn wrong_topoheight() {
    let store = funded_store(); // at topoheight 0
    let tx = pay(account(0), 0, 1, account(1), 5);
    for got in [0, 2, u64::MAX] {
        let block = Block::new(got, account(9), 1, vec![tx.clone()]);
        assert_rejected(
            &store,
            &block,
            BlockError::WrongTopoheight { expected: 1, got },
        );
    }
    // An empty store expects genesis at 0.
    let empty = MemoryStore::new();
    let block = Block::new(1, account(9), 1, vec![]);
    assert_eq!(
        execute_sequential(&block, &empty.snapshot().expect("snapshot")),
        Err(BlockError::WrongTopoheight {
            expected: 0,
            got: 1
        })
    );
}

#[test]
fn too_many_transactions() {
    let store = funded_store();
    let (a, b) = (account(0), account(1));
    let mut transactions: Vec<Transaction> = (0..=MAX_BLOCK_TRANSACTIONS as u64)
        .map(|n| pay(a, n, 1, b, 1))
        .collect();
    let block = next_block(&store, account(9), 1, transactions.clone());
    assert_rejected(
        &store,
        &block,
        BlockError::TooManyTransactions {
            count: MAX_BLOCK_TRANSACTIONS + 1,
        },
    );
    // The maximum itself is structurally fine.
    transactions.pop();
    let block = next_block(&store, account(9), 1, transactions);
    let chain = store.chain_state().expect("chain");
    assert_eq!(validate_block(&block, &chain), Ok(()));
}

#[test]
fn duplicate_transaction_hashes() {
    let store = funded_store();
    let (a, b) = (account(0), account(1));
    let (t0, t1) = (pay(a, 0, 1, b, 5), pay(a, 1, 1, b, 5));
    let block = next_block(&store, account(9), 1, vec![t0.clone(), t1, t0.clone()]);
    assert_rejected(
        &store,
        &block,
        BlockError::DuplicateTransaction {
            index: 2,
            first: 0,
            hash: *t0.hash(),
        },
    );
}

#[test]
fn each_malformed_transaction_rejects_the_block() {
    use MalformedTransaction as M;
    let store = funded_store();
    let (a, b, c) = (account(0), account(1), account(2));
    let good = pay(a, 0, 1, b, 5);
    let many_transfers: Vec<_> = (0..256).map(|_| (TOS, b, 1)).collect();
    let cases = [
        (transfers(a, 1, 1, &[]), M::EmptyTransfers),
        (
            transfers(a, 1, 1, &many_transfers),
            M::TooManyTransfers { count: 256 },
        ),
        (
            transfers(a, 1, 1, &[(TOS, b, 1), (TOS, a, 1)]),
            M::TransferToSelf { transfer: 1 },
        ),
        (
            transfers(a, 1, 1, &[(TOS, b, 0)]),
            M::ZeroAmountTransfer { transfer: 0 },
        ),
        (burn(a, 1, 1, TOS, 0), M::ZeroAmountBurn),
        (
            multisig(a, 1, 1, 2, vec![b]),
            M::ThresholdAboveParticipants {
                threshold: 2,
                participants: 1,
            },
        ),
        (
            multisig(a, 1, 1, 0, vec![b]),
            M::ZeroThreshold { participants: 1 },
        ),
        (
            multisig(a, 1, 1, 1, (10..266).map(account).collect()),
            M::TooManyParticipants { count: 256 },
        ),
        (
            multisig(a, 1, 1, 1, vec![b, c, b]),
            M::DuplicateParticipant { participant: b },
        ),
        (multisig(a, 1, 1, 1, vec![b, a]), M::SourceIsParticipant),
    ];
    for (bad, reason) in cases {
        let block = next_block(&store, account(9), 1, vec![good.clone(), bad]);
        assert_rejected(
            &store,
            &block,
            BlockError::MalformedTransaction { index: 1, reason },
        );
    }
    // The first offending transaction is the one reported.
    let block = next_block(
        &store,
        account(9),
        1,
        vec![good.clone(), good.clone(), burn(a, 1, 1, TOS, 0)],
    );
    assert_rejected(
        &store,
        &block,
        BlockError::DuplicateTransaction {
            index: 1,
            first: 0,
            hash: *good.hash(),
        },
    );
    // Valid edge cases: zero fee, removing a multisig, an empty block.
    let block = next_block(
        &store,
        account(9),
        1,
        vec![pay(a, 0, 0, b, 5), multisig(b, 0, 0, 0, vec![])],
    );
    assert_eq!(apply(&store, &block).expect("valid block").successful(), 2);
    apply(&store, &next_block(&store, account(9), 1, vec![])).expect("an empty block is valid");
}

#[test]
fn stored_values_of_the_wrong_kind_are_invalid_state() {
    let (a, b, miner) = (account(0), account(1), account(9));
    // The sender's nonce key holds a balance.
    let store = store_with([
        balance_entry(a, TOS, 100),
        (StateKey::Nonce(a), StateValue::Balance(0)),
    ]);
    let block = next_block(&store, miner, 1, vec![pay(a, 0, 1, b, 5)]);
    assert!(matches!(
        apply(&store, &block),
        Err(BlockError::InvalidState(_))
    ));
    // The miner's balance key holds a nonce (caught by the prologue).
    let store = store_with([(StateKey::Balance(miner, TOS), StateValue::Nonce(3))]);
    assert!(matches!(
        apply(&store, &next_block(&store, miner, 1, vec![])),
        Err(BlockError::InvalidState(_))
    ));
    // A receiver's nonce key holds a balance (caught by registration in the epilogue).
    let store = store_with([
        balance_entry(a, TOS, 100),
        nonce_entry(a, 0),
        (StateKey::Nonce(b), StateValue::Balance(1)),
    ]);
    let block = next_block(&store, miner, 1, vec![pay(a, 0, 1, b, 5)]);
    assert!(matches!(
        apply(&store, &block),
        Err(BlockError::InvalidState(_))
    ));
    assert_eq!(
        store.chain_state().expect("chain").topoheight,
        Some(0),
        "nothing committed"
    );
}

/// A snapshot of `store` whose value reads fail after `healthy` successful ones.
fn failing_after(
    store: &MemoryStore,
    healthy: usize,
) -> ReadHook<MemorySnapshot, impl Fn(StorageRead<'_>) -> Result<(), StorageError> + Sync> {
    let left = AtomicUsize::new(healthy);
    ReadHook::new(store.snapshot().expect("snapshot"), move |read| {
        if let StorageRead::Value(_) = read {
            if left.load(Ordering::Relaxed) == 0 {
                return Err(StorageError::Other("injected: disk on fire".into()));
            }
            left.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(())
    })
}

#[test]
fn storage_errors_are_block_errors() {
    let store = funded_store();
    let block = next_block(
        &store,
        account(9),
        1,
        vec![pay(account(0), 0, 1, account(1), 5)],
    );
    // Fail at the prologue's read, then inside the transaction (nonce, balances), then at
    // registration (the receiver's and the miner's nonces): always a storage error.
    for healthy in 0..6 {
        let view = failing_after(&store, healthy);
        assert!(
            matches!(
                execute_sequential(&block, &view),
                Err(BlockError::Storage(StorageError::Other(_)))
            ),
            "failing after {healthy} reads"
        );
    }
    let view = failing_after(&store, 100);
    assert!(execute_sequential(&block, &view).is_ok());
}

fn arb_tx() -> impl Strategy<Value = Transaction> {
    let key = (0..5u64).prop_map(account);
    let some_asset = prop_oneof![Just(TOS), Just(asset(1))];
    let amount = prop_oneof![Just(0u64), Just(u64::MAX), 1..2_000_000u64];
    let transfer = (some_asset.clone(), key.clone(), amount.clone());
    let payload = prop_oneof![
        proptest::collection::vec(transfer, 0..4).prop_map(|list| {
            executor::Payload::Transfers(
                list.into_iter()
                    .map(|(asset, to, amount)| executor::Transfer::new(asset, to, amount))
                    .collect(),
            )
        }),
        (some_asset, amount.clone())
            .prop_map(|(asset, amount)| executor::Payload::Burn { asset, amount }),
        (0..4u8, proptest::collection::vec(key.clone(), 0..4)).prop_map(
            |(threshold, participants)| executor::Payload::Multisig {
                threshold,
                participants
            }
        ),
    ];
    (key, 0..3u64, prop_oneof![0..10u64, Just(u64::MAX)], payload)
        .prop_map(|(source, nonce, fee, payload)| Transaction::new(source, nonce, fee, payload))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary blocks (malformed transactions, extreme amounts, wrong topoheights,
    /// duplicates) never panic; an accepted block yields one result per transaction and
    /// sorted writes that fit their keys; a rejected one commits nothing.
    #[test]
    fn arbitrary_blocks_never_panic(
        topoheight in prop_oneof![Just(1u64), 0..3u64],
        miner in (0..6u64).prop_map(account),
        reward in prop_oneof![0..1000u64, Just(u64::MAX)],
        transactions in proptest::collection::vec(arb_tx(), 0..12),
        duplicate in any::<bool>(),
    ) {
        let store = funded_store();
        let mut transactions = transactions;
        if duplicate {
            if let Some(first) = transactions.first().cloned() {
                transactions.push(first);
            }
        }
        let block = Block::new(topoheight, miner, reward, transactions);
        let accounts: Vec<PublicKey> = (0..6).map(account).collect();
        let before = fingerprint(&store, &accounts, &[TOS, asset(1)], &[]);
        match apply(&store, &block) {
            Ok(output) => {
                prop_assert_eq!(output.results.len(), block.transactions().len());
                prop_assert!(output.writes().windows(2).all(|pair| pair[0].0 < pair[1].0));
                prop_assert!(output.writes().iter().all(|(key, value)| value.fits(key)));
            }
            Err(_) => prop_assert_eq!(fingerprint(&store, &accounts, &[TOS, asset(1)], &[]), before),
        }
    }
}
