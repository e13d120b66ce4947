//! The rules of contract deploys and calls (`executor::contract`), checked on every
//! engine with exact figures: what a deploy burns, what a call pays and refunds, how the
//! gas splits between the miner and the burn, and what a failed call keeps (the nonce,
//! the fee and the gas) and discards (its writes, its transfers, the deposits).

use std::sync::Arc;

use contract_vm::contracts;
use executor::contract::{deploy_burn, gas_burned};
use executor::outcome::{CallFailure, FaultReason, TxFailure, TxResult};
use executor::{Block, BlockOutput, Deposit, Payload, Transaction};
use integration_tests::contract_case::{module, probe, token, PROBE};
use integration_tests::*;
use storage_adapter::{
    Asset, BlockStore, ContractId, MemoryStore, PublicKey, StateKey, StateValue, StateView,
    StorageValue,
};

const TOS: Asset = Asset::TOS;
const FUNDS: u64 = 10_000_000;
const MINER: u64 = 9;
const REWARD: u64 = 1_000;

fn alice() -> PublicKey {
    account(0)
}

fn bob() -> PublicKey {
    account(1)
}

fn stored(value: StorageValue) -> StateValue {
    StateValue::Storage(Some(Arc::new(value)))
}

/// Alice and Bob funded in TOS and asset 1; the token (Alice holds 500, owns it) and the
/// probe (holding 100 TOS) deployed.
fn store() -> MemoryStore {
    let mut state = Vec::new();
    for holder in [alice(), bob()] {
        state.push(nonce_entry(holder, 0));
        state.push(balance_entry(holder, TOS, FUNDS));
        state.push(balance_entry(holder, asset(1), FUNDS));
    }
    state.push((
        StateKey::Module(token()),
        StateValue::Module(module(contracts::TOKEN)),
    ));
    state.push((
        StateKey::Storage(token(), contracts::token::OWNER_KEY),
        stored(StorageValue::from_slice(alice().as_bytes())),
    ));
    state.push((
        StateKey::Storage(token(), contracts::token::balance_key(&alice())),
        stored(StorageValue::from(500)),
    ));
    state.push((StateKey::Module(probe()), StateValue::Module(module(PROBE))));
    state.push((
        StateKey::ContractBalance(probe(), TOS),
        StateValue::Balance(100),
    ));
    store_with(state)
}

fn call(
    nonce: u64,
    fee: u64,
    contract: ContractId,
    deposits: Vec<Deposit>,
    max_gas: u64,
    input: Vec<u8>,
) -> Transaction {
    Transaction::new(
        alice(),
        nonce,
        fee,
        Payload::InvokeContract {
            contract,
            deposits,
            max_gas,
            input,
        },
    )
}

/// Runs `transactions` as one block on every engine, commits it, and returns the output.
fn run(store: &MemoryStore, transactions: Vec<Transaction>) -> (Block, BlockOutput) {
    let block = next_block(store, account(MINER), REWARD, transactions);
    let output = run_everywhere(store, &block).expect("the block is valid");
    store.commit(&output.commit).expect("commit");
    (block, output)
}

fn get(store: &MemoryStore, key: StateKey) -> Option<StateValue> {
    store.snapshot().expect("snapshot").get(&key).expect("read")
}

fn balance(store: &MemoryStore, key: StateKey) -> u64 {
    match get(store, key) {
        None => 0,
        Some(StateValue::Balance(balance)) => balance,
        Some(other) => panic!("not a balance: {other:?}"),
    }
}

fn token_balance(store: &MemoryStore, holder: &PublicKey) -> Option<StateValue> {
    get(
        store,
        StateKey::Storage(token(), contracts::token::balance_key(holder)),
    )
}

/// The gas a call paid, from Alice's TOS before and after, and the checks that the
/// output splits it as the rules say.
fn gas_paid(output: &BlockOutput, fee: u64, before: u64, after: u64) -> u64 {
    let gas = before - fee - after;
    assert_eq!(output.burned, gas_burned(gas), "30% of the gas is burned");
    assert_eq!(
        output.total_fees,
        fee + gas - gas_burned(gas),
        "the rest goes to the miner"
    );
    gas
}

#[test]
fn a_deploy_stores_the_module_and_burns_by_size() {
    let store = store();
    let code = module(contracts::VOTE);
    let deploy = Transaction::new(
        alice(),
        0,
        7,
        Payload::DeployContract {
            module: Arc::clone(&code),
        },
    );
    let address = deploy.deployed_contract();
    let (_, output) = run(&store, vec![deploy]);
    assert_eq!(output.results, vec![TxResult::Success]);
    let burn = deploy_burn(code.bytecode().len());
    assert_eq!(burn, 100_000 + 10 * code.bytecode().len() as u64);
    assert_eq!(output.burned, burn);
    assert_eq!(output.total_fees, 7);
    assert_eq!(
        balance(&store, StateKey::Balance(alice(), TOS)),
        FUNDS - 7 - burn
    );
    assert_eq!(
        get(&store, StateKey::Module(address)),
        Some(StateValue::Module(code))
    );
    assert_eq!(
        get(&store, StateKey::Nonce(alice())),
        Some(StateValue::Nonce(1))
    );
}

#[test]
fn a_deploy_and_a_call_to_it_in_one_block() {
    let store = store();
    let deploy = Transaction::new(
        alice(),
        0,
        1,
        Payload::DeployContract {
            module: module(contracts::VOTE),
        },
    );
    let address = deploy.deployed_contract();
    let vote = call(1, 1, address, Vec::new(), 100_000, contracts::vote::vote(3));
    let (_, output) = run(&store, vec![deploy, vote]);
    assert_eq!(output.results, vec![TxResult::Success, TxResult::Success]);
    assert_eq!(
        get(
            &store,
            StateKey::Storage(address, contracts::vote::count_key(3))
        ),
        Some(stored(StorageValue::from(1)))
    );
}

#[test]
fn a_successful_call_pays_the_gas_it_used_and_applies_its_writes() {
    let store = store();
    let before = balance(&store, StateKey::Balance(alice(), TOS));
    let transfer = call(
        0,
        5,
        token(),
        Vec::new(),
        100_000,
        contracts::token::transfer(&bob(), 120),
    );
    let (block, output) = run(&store, vec![transfer]);
    assert_eq!(output.results, vec![TxResult::Success]);
    let gas = gas_paid(
        &output,
        5,
        before,
        balance(&store, StateKey::Balance(alice(), TOS)),
    );
    assert!(
        gas > 0 && gas < 100_000,
        "the unused gas is refunded: paid {gas}"
    );
    assert_eq!(
        token_balance(&store, &alice()),
        Some(stored(StorageValue::from(380)))
    );
    assert_eq!(
        token_balance(&store, &bob()),
        Some(stored(StorageValue::from(120)))
    );
    assert!(output
        .commit
        .executed()
        .contains(block.transactions()[0].hash()));
}

#[test]
fn a_revert_pays_its_gas_and_returns_the_deposits() {
    let store = store();
    let before = balance(&store, StateKey::Balance(alice(), TOS));
    let deposits = vec![Deposit {
        asset: asset(1),
        amount: 1_000,
    }];
    let revert = call(0, 2, probe(), deposits, 100_000, vec![2]);
    let (block, output) = run(&store, vec![revert]);
    assert_eq!(
        output.results,
        vec![TxResult::Failed(TxFailure::Call(CallFailure::Revert {
            code: 42
        }))]
    );
    let gas = gas_paid(
        &output,
        2,
        before,
        balance(&store, StateKey::Balance(alice(), TOS)),
    );
    assert!(
        gas > 0 && gas < 100_000,
        "a revert pays the gas it used: {gas}"
    );
    assert_eq!(balance(&store, StateKey::Balance(alice(), asset(1))), FUNDS);
    assert_eq!(
        balance(&store, StateKey::ContractBalance(probe(), asset(1))),
        0
    );
    assert_eq!(
        get(&store, StateKey::Nonce(alice())),
        Some(StateValue::Nonce(1))
    );
    assert!(output
        .commit
        .executed()
        .contains(block.transactions()[0].hash()));
}

#[test]
fn running_out_of_gas_or_faulting_pays_all_of_max_gas() {
    for (op, failure) in [
        (0, CallFailure::OutOfGas),
        (1, CallFailure::Fault(FaultReason::MemoryAccess)),
    ] {
        let store = store();
        let before = balance(&store, StateKey::Balance(alice(), TOS));
        let (_, output) = run(
            &store,
            vec![call(0, 1, probe(), Vec::new(), 5_000, vec![op])],
        );
        assert_eq!(
            output.results,
            vec![TxResult::Failed(TxFailure::Call(failure))]
        );
        let gas = gas_paid(
            &output,
            1,
            before,
            balance(&store, StateKey::Balance(alice(), TOS)),
        );
        assert_eq!(gas, 5_000, "{failure:?}");
    }
}

#[test]
fn a_failed_call_discards_its_writes_and_transfers() {
    let store = store();
    // Too little gas for the token's storage writes: out of gas after it read.
    let transfer = call(
        0,
        1,
        token(),
        Vec::new(),
        300,
        contracts::token::transfer(&bob(), 120),
    );
    let (_, output) = run(&store, vec![transfer]);
    assert_eq!(
        output.results,
        vec![TxResult::Failed(TxFailure::Call(CallFailure::OutOfGas))]
    );
    assert_eq!(
        token_balance(&store, &alice()),
        Some(stored(StorageValue::from(500)))
    );
    assert_eq!(token_balance(&store, &bob()), None);
    // A revert discards as well: the token refuses Bob's transfer of more than he holds,
    // and no balance moves.
    let overdraw = Transaction::new(
        bob(),
        0,
        1,
        Payload::InvokeContract {
            contract: token(),
            deposits: Vec::new(),
            max_gas: 100_000,
            input: contracts::token::transfer(&alice(), 1),
        },
    );
    let (_, output) = run(&store, vec![overdraw]);
    assert_eq!(
        output.results,
        vec![TxResult::Failed(TxFailure::Call(CallFailure::Revert {
            code: contracts::codes::INSUFFICIENT
        }))]
    );
    assert_eq!(
        token_balance(&store, &alice()),
        Some(stored(StorageValue::from(500)))
    );
}

#[test]
fn a_contract_pays_an_account_from_its_own_balance() {
    let store = store();
    let before = balance(&store, StateKey::Balance(alice(), TOS));
    let (_, output) = run(
        &store,
        vec![call(0, 1, probe(), Vec::new(), 100_000, vec![3])],
    );
    assert_eq!(output.results, vec![TxResult::Success]);
    assert_eq!(balance(&store, StateKey::ContractBalance(probe(), TOS)), 95);
    let after = balance(&store, StateKey::Balance(alice(), TOS));
    // Alice received 5 from the contract: her payment is the fee and the gas, less 5.
    gas_paid(&output, 1, before + 5, after);
}

#[test]
fn deposits_reach_the_contract_before_it_runs() {
    let store = store();
    // The probe pays 5 TOS out of what it holds: 100 at genesis plus the deposit.
    let deposits = vec![Deposit {
        asset: TOS,
        amount: 50,
    }];
    let (_, output) = run(
        &store,
        vec![call(0, 1, probe(), deposits, 100_000, vec![3])],
    );
    assert_eq!(output.results, vec![TxResult::Success]);
    assert_eq!(
        balance(&store, StateKey::ContractBalance(probe(), TOS)),
        145
    );
}
