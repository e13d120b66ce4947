//! Behaviour of the bundled contracts on the memory host, on every VM kind, failure paths
//! included.

mod common;

use common::{account, kinds, u64_of, Deployed};
use contract_vm::contracts::{self, amm, codes, ticket, token, vote};
use contract_vm::{Asset, CallOutcome, StorageValue};

#[test]
fn token_mint_transfer_and_balances() {
    for kind in kinds() {
        let mut token = Deployed::new(contracts::TOKEN, kind);
        let (owner, alice, bob) = (account(1), account(2), account(3));
        token.ok(&owner, &token::init());
        token.reverts(&alice, &token::init(), codes::ALREADY_INITIALIZED);

        token.ok(&owner, &token::mint(&alice, 100));
        assert_eq!(u64_of(&token.ok(&bob, &token::balance_of(&alice))), 100);
        assert_eq!(
            token.host.stored(&token.contract, &token::SUPPLY_KEY),
            Some(&StorageValue::from(100))
        );

        let outcome = token.call(&alice, &token::transfer(&bob, 30));
        match outcome {
            CallOutcome::Success { logs, .. } => {
                assert_eq!(logs, vec![token::transfer(&bob, 30)], "one transfer event")
            }
            other => panic!("{kind}: transfer failed: {other:?}"),
        }
        assert_eq!(u64_of(&token.ok(&bob, &token::balance_of(&alice))), 70);
        assert_eq!(u64_of(&token.ok(&bob, &token::balance_of(&bob))), 30);
        assert_eq!(
            token
                .host
                .stored(&token.contract, &token::balance_key(&bob)),
            Some(&StorageValue::from(30))
        );

        // A transfer to oneself changes nothing.
        token.ok(&alice, &token::transfer(&alice, 70));
        assert_eq!(u64_of(&token.ok(&bob, &token::balance_of(&alice))), 70);
    }
}

#[test]
fn token_failure_paths_revert_and_keep_nothing() {
    for kind in kinds() {
        let mut token = Deployed::new(contracts::TOKEN, kind);
        let (owner, alice, bob) = (account(1), account(2), account(3));
        // Minting before init: nobody is the owner.
        token.reverts(&owner, &token::mint(&alice, 1), codes::UNAUTHORIZED);
        token.ok(&owner, &token::init());
        token.reverts(&alice, &token::mint(&alice, 1), codes::UNAUTHORIZED);
        token.ok(&owner, &token::mint(&alice, 10));
        token.reverts(&alice, &token::transfer(&bob, 11), codes::INSUFFICIENT);
        token.reverts(&bob, &token::transfer(&alice, 1), codes::INSUFFICIENT);
        token.reverts(&owner, &token::mint(&bob, u64::MAX), codes::OVERFLOW);
        assert_eq!(u64_of(&token.ok(&bob, &token::balance_of(&bob))), 0);

        // Bad input: empty, unknown method, wrong lengths.
        token.reverts(&alice, &[], codes::BAD_INPUT);
        token.reverts(&alice, &[9], codes::BAD_INPUT);
        let mut long = token::transfer(&bob, 1);
        long.push(0);
        token.reverts(&alice, &long, codes::BAD_INPUT);
        token.reverts(&alice, &token::transfer(&bob, 1)[..40], codes::BAD_INPUT);
        token.reverts(&alice, &[0, 0], codes::BAD_INPUT);
        assert_eq!(u64_of(&token.ok(&bob, &token::balance_of(&alice))), 10);
    }
}

fn pool(kind: contract_vm::VmKind, reserve_a: u64, reserve_b: u64) -> (Deployed, Asset, Asset) {
    let mut pool = Deployed::new(contracts::AMM, kind);
    let (a, b) = (Asset::from_index(1), Asset::from_index(2));
    // The init call's deposits, moved in by the executor before the call.
    pool.host.set_contract_balance(pool.contract, a, reserve_a);
    pool.host.set_contract_balance(pool.contract, b, reserve_b);
    pool.ok(&account(1), &amm::init(&a, &b));
    (pool, a, b)
}

fn reserves(pool: &mut Deployed) -> (u64, u64) {
    let data = pool.ok(&account(9), &amm::reserves());
    (u64_of(&data[..8]), u64_of(&data[8..]))
}

#[test]
fn amm_swaps_both_ways_at_the_quoted_price() {
    for kind in kinds() {
        let (mut pool, a, b) = pool(kind, 1_000_000, 2_000_000);
        let trader = account(5);
        assert_eq!(reserves(&mut pool), (1_000_000, 2_000_000));
        // `init` stored the two assets where the published keys say (genesis writes
        // pools there directly).
        for (key, asset) in [(amm::asset_a_key(), a), (amm::asset_b_key(), b)] {
            assert_eq!(
                pool.host
                    .stored(&pool.contract, &key)
                    .map(|value| value.as_bytes()),
                Some(&asset.as_bytes()[..])
            );
        }
        for (key, reserve) in [
            (amm::reserve_a_key(), 1_000_000u64),
            (amm::reserve_b_key(), 2_000_000),
        ] {
            assert_eq!(
                pool.host
                    .stored(&pool.contract, &key)
                    .map(|value| value.as_bytes()),
                Some(&reserve.to_le_bytes()[..])
            );
        }

        // Deposit 10_000 A, swap A for B.
        let expected = amm::quote(10_000, 1_000_000, 2_000_000).expect("quotable");
        pool.host.set_contract_balance(pool.contract, a, 1_010_000);
        let out = u64_of(&pool.ok(&trader, &amm::swap(amm::A_TO_B, expected)));
        assert_eq!(out, expected);
        assert_eq!(pool.host.account_balance(&trader, &b), expected);
        assert_eq!(
            pool.host.contract_balance(&pool.contract, &b),
            2_000_000 - expected
        );
        assert_eq!(reserves(&mut pool), (1_010_000, 2_000_000 - expected));

        // And back: deposit 5_000 B.
        let (ra, rb) = reserves(&mut pool);
        let back = amm::quote(5_000, rb, ra).expect("quotable");
        pool.host.set_contract_balance(pool.contract, b, rb + 5_000);
        assert_eq!(u64_of(&pool.ok(&trader, &amm::swap(amm::B_TO_A, 0))), back);
        assert_eq!(pool.host.account_balance(&trader, &a), back);
        assert_eq!(reserves(&mut pool), (ra - back, rb + 5_000));
    }
}

#[test]
fn amm_failure_paths() {
    for kind in kinds() {
        let (mut pool, a, _) = pool(kind, 1_000, 1_000);
        let trader = account(5);
        pool.reverts(&trader, &amm::init(&a, &a), codes::ALREADY_INITIALIZED);
        // Nothing deposited.
        pool.reverts(&trader, &amm::swap(amm::A_TO_B, 0), codes::INSUFFICIENT);
        // Slippage: ask for more than the quote.
        pool.host.set_contract_balance(pool.contract, a, 1_100);
        let quote = amm::quote(100, 1_000, 1_000).expect("quotable");
        pool.reverts(&trader, &amm::swap(amm::A_TO_B, quote + 1), codes::SLIPPAGE);
        // A deposit too small to buy anything.
        pool.host.set_contract_balance(pool.contract, a, 1_001);
        pool.reverts(&trader, &amm::swap(amm::A_TO_B, 0), codes::SLIPPAGE);
        // Overflow in amount_in * 997.
        pool.host.set_contract_balance(pool.contract, a, u64::MAX);
        pool.reverts(&trader, &amm::swap(amm::A_TO_B, 0), codes::OVERFLOW);
        // Bad direction and lengths.
        pool.reverts(&trader, &amm::swap(2, 0), codes::BAD_INPUT);
        pool.reverts(&trader, &amm::swap(0, 0)[..9], codes::BAD_INPUT);
        assert_eq!(reserves(&mut pool), (1_000, 1_000));
        assert_eq!(pool.host.account_balance(&trader, &a), 0);
    }
}

#[test]
fn amm_swap_before_init_and_transfer_refused() {
    for kind in kinds() {
        let mut empty = Deployed::new(contracts::AMM, kind);
        empty.reverts(&account(1), &amm::swap(0, 0), codes::NOT_FOUND);

        // The receiver's balance would overflow: the host refuses the transfer.
        let (mut pool, a, b) = pool(kind, 1_000, 1_000);
        let trader = account(5);
        pool.host.set_account_balance(trader, b, u64::MAX);
        pool.host.set_contract_balance(pool.contract, a, 2_000);
        pool.reverts(&trader, &amm::swap(amm::A_TO_B, 0), codes::TRANSFER_FAILED);
        assert_eq!(pool.host.account_balance(&trader, &b), u64::MAX);
    }
}

#[test]
fn ticket_mint_hands_out_ids_in_order() {
    for kind in kinds() {
        let mut tickets = Deployed::new(contracts::TICKET, kind);
        for id in 0..5 {
            let buyer = account(100 + id);
            assert_eq!(u64_of(&tickets.ok(&buyer, &ticket::mint())), id);
        }
        assert_eq!(
            tickets.ok(&account(1), &ticket::owner_of(3)),
            account(103).0.to_vec()
        );
        assert_eq!(
            tickets.host.stored(&tickets.contract, &ticket::NEXT_ID_KEY),
            Some(&StorageValue::from(5))
        );
        assert_eq!(
            tickets
                .host
                .stored(&tickets.contract, &ticket::owner_key(4)),
            Some(&StorageValue::from_slice(account(104).as_bytes()))
        );
        tickets.reverts(&account(1), &ticket::owner_of(5), codes::NOT_FOUND);
        tickets.reverts(&account(1), &[0, 0], codes::BAD_INPUT);
        tickets.reverts(&account(1), &ticket::owner_of(1)[..8], codes::BAD_INPUT);

        // The counter cannot wrap.
        tickets.host.storage_write_committed(
            tickets.contract,
            ticket::NEXT_ID_KEY,
            StorageValue::from(u64::MAX),
        );
        tickets.reverts(&account(1), &ticket::mint(), codes::OVERFLOW);
    }
}

#[test]
fn vote_counts_once_per_account_and_can_be_taken_back() {
    for kind in kinds() {
        let mut ballot = Deployed::new(contracts::VOTE, kind);
        ballot.ok(&account(1), &vote::vote(3));
        ballot.ok(&account(2), &vote::vote(3));
        ballot.ok(&account(3), &vote::vote(15));
        ballot.reverts(&account(1), &vote::vote(4), codes::ALREADY_VOTED);
        ballot.reverts(&account(4), &vote::vote(vote::OPTIONS), codes::BAD_INPUT);
        assert_eq!(u64_of(&ballot.ok(&account(9), &vote::count(3))), 2);
        assert_eq!(u64_of(&ballot.ok(&account(9), &vote::count(15))), 1);
        assert_eq!(u64_of(&ballot.ok(&account(9), &vote::count(4))), 0);
        assert_eq!(
            ballot
                .host
                .stored(&ballot.contract, &vote::voter_key(&account(1))),
            Some(&StorageValue::from_slice(&[3]))
        );

        ballot.ok(&account(1), &vote::unvote());
        assert_eq!(
            ballot
                .host
                .stored(&ballot.contract, &vote::voter_key(&account(1))),
            None
        );
        assert_eq!(u64_of(&ballot.ok(&account(9), &vote::count(3))), 1);
        ballot.reverts(&account(1), &vote::unvote(), codes::NOT_FOUND);
        // Voting again after taking it back is allowed.
        ballot.ok(&account(1), &vote::vote(4));
        assert_eq!(u64_of(&ballot.ok(&account(9), &vote::count(4))), 1);
        ballot.reverts(&account(1), &[1], codes::BAD_INPUT);
    }
}
