//! Random blocks of contract calls for the parity properties: every bundled contract and
//! a probe contract that reverts, runs out of gas or faults on request, over a handful
//! of accounts, so that calls contend on the same storage keys, contract balances and
//! accounts.
//!
//! The genesis state deploys the contracts directly (token, AMM pool, ticket mint, vote
//! counter, probe) with random balances, some too small for the fees, gas and deposits
//! the calls reserve; blocks mix native transfers, calls with deposits, tiny `max_gas`,
//! a deploy of the vote counter and calls to it in the same block, calls to an address
//! with no contract, and nonces that are sometimes wrong.

use std::sync::Arc;

use contract_vm::contracts;
use executor::model::{Block, Deposit, Payload, Transaction, Transfer};
use proptest::prelude::*;
use storage_adapter::{
    Asset, ContractId, ModuleCode, PublicKey, StateKey, StateValue, StorageValue,
};

use crate::account;

/// A contract for the failure paths. Input byte 0 picks what it does: 0 spins until it
/// runs out of gas, 1 loads from unmapped memory (a fault), 2 reverts with code 42, 3
/// pays the caller 5 TOS from its own balance (refused, and still exit 0, when short),
/// anything else (or no input) exits 0.
pub const PROBE: &str = "
entrypoint:
    mov64 r1, r10
    add64 r1, -128
    mov64 r2, 128
    syscall tos_get_input_data
    jeq r0, 0, done
    ldxb r7, [r10-128]
    jeq r7, 0, spin
    jeq r7, 1, fault
    jeq r7, 2, give_up
    jeq r7, 3, pay
done:
    mov64 r0, 0
    exit
spin:
    ja spin
fault:
    mov64 r1, 5
    lsh64 r1, 32
    ldxdw r0, [r1+0]
    exit
give_up:
    mov64 r0, 42
    exit
pay:
    mov64 r1, r10
    add64 r1, -160
    syscall tos_get_caller
    stdw [r10-192], 0
    stdw [r10-184], 0
    stdw [r10-176], 0
    stdw [r10-168], 0
    mov64 r1, r10
    add64 r1, -160
    mov64 r2, r10
    add64 r2, -192
    mov64 r3, 5
    syscall tos_transfer
    mov64 r0, 0
    exit
";

/// Accounts taking part.
pub const ACCOUNTS: u64 = 5;

/// The account that owns the token (it may mint).
pub fn owner() -> PublicKey {
    account(0)
}

/// The contracts in place at genesis.
pub fn token() -> ContractId {
    ContractId([0xa1; 32])
}
/// The AMM pool.
pub fn pool() -> ContractId {
    ContractId([0xa2; 32])
}
/// The ticket mint.
pub fn ticket() -> ContractId {
    ContractId([0xa3; 32])
}
/// The vote counter.
pub fn vote() -> ContractId {
    ContractId([0xa4; 32])
}
/// The probe.
pub fn probe() -> ContractId {
    ContractId([0xa5; 32])
}
/// An address that holds no contract.
pub fn nowhere() -> ContractId {
    ContractId([0xee; 32])
}

/// The pool's two assets.
pub fn pool_assets() -> (Asset, Asset) {
    (Asset::from_index(71), Asset::from_index(72))
}

/// The bytecode of a bundled or test contract.
pub fn module(source: &str) -> Arc<ModuleCode> {
    let bytecode = contract_vm::assemble_source(source).expect("the contract assembles");
    Arc::new(ModuleCode::new(&bytecode))
}

fn stored(value: StorageValue) -> StateValue {
    StateValue::Storage(Some(Arc::new(value)))
}

/// A random genesis state: the contracts, and balances that are sometimes too small.
pub fn arb_state() -> impl Strategy<Value = Vec<(StateKey, StateValue)>> {
    let balance = prop_oneof![
        3 => Just(10_000_000_000u64),
        1 => 0..2_000u64,
        1 => 50_000..200_000u64,
        1 => Just(u64::MAX - 1_000),
    ];
    let token_balance = prop_oneof![Just(0u64), 1..5_000u64, Just(u64::MAX - 10)];
    let reserve = prop_oneof![1 => Just(0u64), 4 => 1_000_000..1_000_000_000u64];
    (
        proptest::collection::vec(
            (balance.clone(), balance.clone(), balance, token_balance),
            ACCOUNTS as usize,
        ),
        reserve.clone(),
        reserve,
        0..100u64,
    )
        .prop_map(|(accounts, reserve_a, reserve_b, probe_tos)| {
            let (asset_a, asset_b) = pool_assets();
            let mut state = Vec::new();
            for (index, (tos, a, b, tokens)) in accounts.into_iter().enumerate() {
                let holder = account(index as u64);
                state.push((StateKey::Nonce(holder), StateValue::Nonce(0)));
                state.push((
                    StateKey::Balance(holder, Asset::TOS),
                    StateValue::Balance(tos),
                ));
                state.push((StateKey::Balance(holder, asset_a), StateValue::Balance(a)));
                state.push((StateKey::Balance(holder, asset_b), StateValue::Balance(b)));
                state.push((
                    StateKey::Storage(token(), contracts::token::balance_key(&holder)),
                    stored(StorageValue::from(tokens)),
                ));
            }
            state.push((
                StateKey::Module(token()),
                StateValue::Module(module(contracts::TOKEN)),
            ));
            state.push((
                StateKey::Storage(token(), contracts::token::OWNER_KEY),
                stored(StorageValue::from_slice(owner().as_bytes())),
            ));
            state.push((
                StateKey::Module(pool()),
                StateValue::Module(module(contracts::AMM)),
            ));
            state.push((
                StateKey::Storage(pool(), contracts::amm::asset_a_key()),
                stored(StorageValue::from_slice(asset_a.as_bytes())),
            ));
            state.push((
                StateKey::Storage(pool(), contracts::amm::asset_b_key()),
                stored(StorageValue::from_slice(asset_b.as_bytes())),
            ));
            for (key, asset, reserve) in [
                (contracts::amm::reserve_a_key(), asset_a, reserve_a),
                (contracts::amm::reserve_b_key(), asset_b, reserve_b),
            ] {
                state.push((
                    StateKey::Storage(pool(), key),
                    stored(StorageValue::from(reserve)),
                ));
                state.push((
                    StateKey::ContractBalance(pool(), asset),
                    StateValue::Balance(reserve),
                ));
            }
            state.push((
                StateKey::Module(ticket()),
                StateValue::Module(module(contracts::TICKET)),
            ));
            state.push((
                StateKey::Module(vote()),
                StateValue::Module(module(contracts::VOTE)),
            ));
            state.push((StateKey::Module(probe()), StateValue::Module(module(PROBE))));
            state.push((
                StateKey::ContractBalance(probe(), Asset::TOS),
                StateValue::Balance(probe_tos),
            ));
            state
        })
}

/// What one generated transaction does, before nonces are assigned.
#[derive(Clone, Debug)]
enum Action {
    Pay {
        to: u64,
        amount: u64,
    },
    TokenTransfer {
        to: u64,
        amount: u64,
    },
    TokenMint {
        to: u64,
        amount: u64,
    },
    Swap {
        direction: u8,
        amount: u64,
        min_out: u64,
    },
    Ticket,
    Vote {
        option: u8,
    },
    Unvote,
    Probe {
        op: u8,
    },
    Deploy,
    /// A call to the contract the last deploy of this block made (or to nowhere when
    /// there was none).
    CallDeployed {
        option: u8,
    },
    CallNowhere,
}

fn arb_action() -> impl Strategy<Value = Action> {
    let amount = prop_oneof![4 => 1..1_000u64, 1 => Just(u64::MAX / 2)];
    prop_oneof![
        2 => (0..ACCOUNTS, amount.clone()).prop_map(|(to, amount)| Action::Pay { to, amount }),
        3 => (0..ACCOUNTS, amount.clone())
            .prop_map(|(to, amount)| Action::TokenTransfer { to, amount }),
        1 => (0..ACCOUNTS, amount).prop_map(|(to, amount)| Action::TokenMint { to, amount }),
        3 => (0..3u8, prop_oneof![1..1_000_000u64, Just(u64::MAX / 2)], prop_oneof![Just(0u64), Just(1), Just(u64::MAX)])
            .prop_map(|(direction, amount, min_out)| Action::Swap { direction, amount, min_out }),
        2 => Just(Action::Ticket),
        2 => (0..18u8).prop_map(|option| Action::Vote { option }),
        1 => Just(Action::Unvote),
        3 => (0..5u8).prop_map(|op| Action::Probe { op }),
        1 => Just(Action::Deploy),
        2 => (0..16u8).prop_map(|option| Action::CallDeployed { option }),
        1 => Just(Action::CallNowhere),
    ]
}

/// One generated transaction: its action, its sender, whether its nonce is right, its
/// fee and its `max_gas`.
fn arb_step() -> impl Strategy<Value = (Action, u64, bool, u64, u64)> {
    let max_gas = prop_oneof![
        6 => Just(100_000u64),
        2 => 1..400u64,
        1 => Just(executor::model::MAX_GAS),
    ];
    (
        arb_action(),
        0..ACCOUNTS,
        proptest::bool::weighted(0.9),
        0..6u64,
        max_gas,
    )
}

/// A random block of 1 to `max_len` transactions over [`arb_state`]'s accounts.
pub fn arb_block(max_len: usize) -> impl Strategy<Value = Block> {
    (
        proptest::collection::vec(arb_step(), 1..=max_len),
        0..ACCOUNTS,
    )
        .prop_map(|(steps, miner)| {
            let mut nonces = [0u64; ACCOUNTS as usize];
            let mut deployed: Option<ContractId> = None;
            let vote_module = module(contracts::VOTE);
            let transactions = steps
                .into_iter()
                .enumerate()
                .map(|(index, (action, sender, right_nonce, fee, max_gas))| {
                    let source = account(sender);
                    let nonce = if right_nonce {
                        nonces[sender as usize]
                    } else {
                        // Wrong, and unique, so that hashes never repeat.
                        1_000_000 + index as u64
                    };
                    let call = |contract, deposits: Vec<Deposit>, input: Vec<u8>| {
                        Payload::InvokeContract {
                            contract,
                            deposits,
                            max_gas,
                            input,
                        }
                    };
                    let payload = match action {
                        Action::Pay { to, amount } => {
                            let to = if to == sender {
                                (to + 1) % ACCOUNTS
                            } else {
                                to
                            };
                            Payload::Transfers(vec![Transfer::new(Asset::TOS, account(to), amount)])
                        }
                        Action::TokenTransfer { to, amount } => call(
                            token(),
                            Vec::new(),
                            contracts::token::transfer(&account(to), amount),
                        ),
                        Action::TokenMint { to, amount } => call(
                            token(),
                            Vec::new(),
                            contracts::token::mint(&account(to), amount),
                        ),
                        Action::Swap {
                            direction,
                            amount,
                            min_out,
                        } => {
                            let (asset_a, asset_b) = pool_assets();
                            let asset = if direction == 1 { asset_b } else { asset_a };
                            call(
                                pool(),
                                vec![Deposit { asset, amount }],
                                contracts::amm::swap(direction, min_out),
                            )
                        }
                        Action::Ticket => call(ticket(), Vec::new(), contracts::ticket::mint()),
                        Action::Vote { option } => {
                            call(vote(), Vec::new(), contracts::vote::vote(option))
                        }
                        Action::Unvote => call(vote(), Vec::new(), contracts::vote::unvote()),
                        Action::Probe { op } => call(
                            probe(),
                            vec![Deposit {
                                asset: Asset::TOS,
                                amount: 3,
                            }],
                            vec![op],
                        ),
                        Action::Deploy => {
                            deployed = Some(executor::contract::address(&source, nonce));
                            Payload::DeployContract {
                                module: Arc::clone(&vote_module),
                            }
                        }
                        Action::CallDeployed { option } => call(
                            deployed.unwrap_or_else(nowhere),
                            Vec::new(),
                            contracts::vote::vote(option),
                        ),
                        Action::CallNowhere => call(nowhere(), Vec::new(), vec![0]),
                    };
                    if right_nonce {
                        nonces[sender as usize] += 1;
                    }
                    // The fee tells apart two wrong-nonce transactions of one sender.
                    Transaction::new(source, nonce, fee, payload)
                })
                .collect();
            Block::new(1, account(miner), 1_000, transactions)
        })
}
