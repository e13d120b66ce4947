//! The bad input table (`papers/bad_input.md`): every way a block or a transaction can be
//! malformed or hostile, one test per row. Each row runs on every engine — the oracle,
//! batch grouping and Block-STM (parallel path forced, and with its defaults; see
//! [`engines_under_test`]) — which must all give the row's typed block error or its
//! failed-transaction result, never a panic; a rejected block leaves the store exactly as
//! it was ([`assert_rejected`]).
//!
//! Every block starts with [`FILLER`] independent transfers, so that the parallel engines
//! really take their parallel path (a block of one transaction would not).

use executor::{
    Block, BlockError, BlockOutput, MalformedTransaction, OverflowKind, Transaction, TxFailure,
    TxResult, MAX_BLOCK_TRANSACTIONS, MAX_SUPPLY,
};
use integration_tests::*;
use storage_adapter::{Asset, BlockStore, MemoryStore, StateKey, StateValue};

const TOS: Asset = Asset::TOS;
/// Independent transfers at the head of every block (accounts 20.. pay accounts 40..).
const FILLER: usize = 8;
/// A plain balance for the row's accounts 0..4.
const FUNDS: u64 = 1_000_000;
const MINER: u64 = 9;

/// A store at topoheight 0: accounts 0..4 funded in TOS with nonce 0, the filler senders
/// funded, plus `extra` entries (which replace the defaults for the same key).
fn store(extra: &[(StateKey, StateValue)]) -> MemoryStore {
    let mut entries: Vec<(StateKey, StateValue)> = (0..4)
        .chain(20..20 + FILLER as u64)
        .flat_map(|i| {
            [
                balance_entry(account(i), TOS, FUNDS),
                nonce_entry(account(i), 0),
            ]
        })
        .collect();
    entries.retain(|(key, _)| !extra.iter().any(|(k, _)| k == key));
    entries.extend_from_slice(extra);
    store_with(entries)
}

/// The filler transfers followed by `transactions`, at the store's next topoheight.
fn block(store: &MemoryStore, reward: u64, transactions: Vec<Transaction>) -> Block {
    let mut all: Vec<Transaction> = (0..FILLER as u64)
        .map(|i| pay(account(20 + i), 0, 1, account(40 + i), 10))
        .collect();
    all.extend(transactions);
    next_block(store, account(MINER), reward, all)
}

/// Every engine accepts `block` with `expected` as the result of its last transaction;
/// the output is committed. Returns it.
fn assert_last_result(store: &MemoryStore, block: &Block, expected: TxResult) -> BlockOutput {
    let output = run_everywhere(store, block).expect("the block is valid");
    assert_eq!(output.results.last(), Some(&expected));
    assert!(
        output.results[..FILLER].iter().all(TxResult::is_success),
        "the filler transactions are unaffected"
    );
    store.commit(&output.commit).expect("commit");
    output
}

fn malformed(index: usize, reason: MalformedTransaction) -> BlockError {
    BlockError::MalformedTransaction {
        index: FILLER + index,
        reason,
    }
}

fn failed(failure: TxFailure) -> TxResult {
    TxResult::Failed(failure)
}

// ---- Block structure ----

#[test]
fn duplicate_transaction_hashes() {
    let store = store(&[]);
    let tx = pay(account(0), 0, 1, account(1), 5);
    let block = block(
        &store,
        1,
        vec![tx.clone(), pay(account(0), 1, 1, account(1), 5), tx.clone()],
    );
    assert_rejected(
        &store,
        &block,
        BlockError::DuplicateTransaction {
            index: FILLER + 2,
            first: FILLER,
            hash: *tx.hash(),
        },
    );
}

#[test]
fn wrong_topoheight() {
    let store = store(&[]);
    let good = block(&store, 1, vec![pay(account(0), 0, 1, account(1), 5)]);
    for got in [0, 2, u64::MAX] {
        let wrong = Block::new(got, account(MINER), 1, good.transactions().to_vec());
        assert_rejected(
            &store,
            &wrong,
            BlockError::WrongTopoheight { expected: 1, got },
        );
    }
}

#[test]
fn more_than_65535_transactions() {
    let store = store(&[]);
    let transactions = (0..=MAX_BLOCK_TRANSACTIONS as u64 - FILLER as u64)
        .map(|n| pay(account(0), n, 0, account(1), 1))
        .collect();
    let block = block(&store, 1, transactions);
    assert_eq!(block.transactions().len(), MAX_BLOCK_TRANSACTIONS + 1);
    assert_rejected(
        &store,
        &block,
        BlockError::TooManyTransactions {
            count: MAX_BLOCK_TRANSACTIONS + 1,
        },
    );
}

#[test]
fn a_block_of_exactly_65535_transactions_is_valid() {
    // Distinct senders (each paying the next), so no engine serialises on one account.
    let senders = MAX_BLOCK_TRANSACTIONS - FILLER;
    let extra: Vec<_> = (100..100 + senders as u64)
        .map(|i| balance_entry(account(i), TOS, 10))
        .collect();
    let store = store(&extra);
    let transactions = (100..100 + senders as u64)
        .map(|i| pay(account(i), 0, 1, account(i + 1), 2))
        .collect();
    let block = block(&store, 1, transactions);
    assert_eq!(block.transactions().len(), MAX_BLOCK_TRANSACTIONS);
    let output = assert_last_result(&store, &block, TxResult::Success);
    assert_eq!(output.successful(), MAX_BLOCK_TRANSACTIONS);
    assert_eq!(output.total_fees, MAX_BLOCK_TRANSACTIONS as u64);
}

#[test]
fn an_empty_block_only_pays_the_reward() {
    let store = store(&[]);
    let block = next_block(&store, account(MINER), 50, Vec::new());
    let output = run_everywhere(&store, &block).expect("an empty block is valid");
    assert!(output.results.is_empty());
    store.commit(&output.commit).expect("commit");
    assert_eq!(balance(&store, account(MINER), TOS), 50);
    assert_eq!(store.chain_state().expect("chain").topoheight, Some(1));
}

#[test]
fn reward_overflowing_the_miner_balance() {
    let store = store(&[balance_entry(account(MINER), TOS, u64::MAX)]);
    let block = block(&store, 1, vec![]);
    assert_rejected(&store, &block, BlockError::RewardOverflow);
}

#[test]
fn total_fees_overflowing() {
    let store = store(&[balance_entry(account(0), TOS, u64::MAX)]);
    let block = block(
        &store,
        0,
        vec![
            pay(account(0), 0, u64::MAX - 1, account(1), 1),
            pay(account(1), 0, 2, account(2), 1),
        ],
    );
    assert_rejected(&store, &block, BlockError::FeeOverflow);
}

#[test]
fn fees_overflowing_the_miner_balance() {
    let store = store(&[balance_entry(account(MINER), TOS, u64::MAX - 100)]);
    let block = block(&store, 0, vec![pay(account(0), 0, 93, account(1), 1)]);
    // Fillers pay 8 in fees: 8 + 93 = 101 > 100.
    assert_rejected(&store, &block, BlockError::MinerCreditOverflow);
}

#[test]
fn total_burn_overflowing() {
    let half = u64::MAX / 2 + 1;
    let store = store(&[
        balance_entry(account(0), TOS, half),
        balance_entry(account(1), TOS, half),
    ]);
    let block = block(
        &store,
        0,
        vec![
            burn(account(0), 0, 0, TOS, half),
            burn(account(1), 0, 0, TOS, half),
        ],
    );
    assert_rejected(&store, &block, BlockError::BurnOverflow);
}

#[test]
fn burned_supply_beyond_the_maximum() {
    let store = store(&[balance_entry(account(0), TOS, MAX_SUPPLY + 10)]);
    let block = block(&store, 0, vec![burn(account(0), 0, 0, TOS, MAX_SUPPLY + 1)]);
    assert_rejected(
        &store,
        &block,
        BlockError::BurnedSupplyExceeded {
            previous: 0,
            burned: MAX_SUPPLY + 1,
        },
    );
}

// ---- Malformed transactions ----

#[test]
fn more_than_255_transfers() {
    let store = store(&[]);
    let list: Vec<_> = (0..256).map(|_| (TOS, account(1), 1)).collect();
    let block = block(&store, 1, vec![transfers(account(0), 0, 1, &list)]);
    assert_rejected(
        &store,
        &block,
        malformed(0, MalformedTransaction::TooManyTransfers { count: 256 }),
    );
}

#[test]
fn an_empty_transfer_list() {
    let store = store(&[]);
    let block = block(&store, 1, vec![transfers(account(0), 0, 1, &[])]);
    assert_rejected(
        &store,
        &block,
        malformed(0, MalformedTransaction::EmptyTransfers),
    );
}

#[test]
fn a_transfer_to_self() {
    let store = store(&[]);
    let tx = transfers(
        account(0),
        0,
        1,
        &[(TOS, account(1), 1), (TOS, account(0), 1)],
    );
    let block = block(&store, 1, vec![tx]);
    assert_rejected(
        &store,
        &block,
        malformed(0, MalformedTransaction::TransferToSelf { transfer: 1 }),
    );
}

#[test]
fn a_zero_amount_transfer() {
    let store = store(&[]);
    let block = block(&store, 1, vec![pay(account(0), 0, 1, account(1), 0)]);
    assert_rejected(
        &store,
        &block,
        malformed(0, MalformedTransaction::ZeroAmountTransfer { transfer: 0 }),
    );
}

#[test]
fn a_zero_amount_burn() {
    let store = store(&[]);
    let block = block(&store, 1, vec![burn(account(0), 0, 1, TOS, 0)]);
    assert_rejected(
        &store,
        &block,
        malformed(0, MalformedTransaction::ZeroAmountBurn),
    );
}

#[test]
fn a_multisig_threshold_above_its_participants() {
    let store = store(&[]);
    let block = block(
        &store,
        1,
        vec![multisig(account(0), 0, 1, 3, vec![account(1), account(2)])],
    );
    assert_rejected(
        &store,
        &block,
        malformed(
            0,
            MalformedTransaction::ThresholdAboveParticipants {
                threshold: 3,
                participants: 2,
            },
        ),
    );
}

#[test]
fn a_multisig_with_threshold_zero_and_participants() {
    let store = store(&[]);
    let block = block(
        &store,
        1,
        vec![multisig(account(0), 0, 1, 0, vec![account(1)])],
    );
    assert_rejected(
        &store,
        &block,
        malformed(0, MalformedTransaction::ZeroThreshold { participants: 1 }),
    );
}

#[test]
fn a_multisig_with_more_than_255_participants() {
    let store = store(&[]);
    let participants = (1000..1256).map(account).collect();
    let block = block(&store, 1, vec![multisig(account(0), 0, 1, 1, participants)]);
    assert_rejected(
        &store,
        &block,
        malformed(0, MalformedTransaction::TooManyParticipants { count: 256 }),
    );
}

#[test]
fn a_multisig_with_a_duplicate_participant() {
    let store = store(&[]);
    let tx = multisig(
        account(0),
        0,
        1,
        1,
        vec![account(1), account(2), account(1)],
    );
    let block = block(&store, 1, vec![tx]);
    assert_rejected(
        &store,
        &block,
        malformed(
            0,
            MalformedTransaction::DuplicateParticipant {
                participant: account(1),
            },
        ),
    );
}

#[test]
fn a_multisig_naming_its_source() {
    let store = store(&[]);
    let block = block(
        &store,
        1,
        vec![multisig(account(0), 0, 1, 1, vec![account(1), account(0)])],
    );
    assert_rejected(
        &store,
        &block,
        malformed(0, MalformedTransaction::SourceIsParticipant),
    );
}

// ---- Hostile but well-formed transactions: failed, reported, no effect ----

#[test]
fn an_amount_of_u64_max() {
    let store = store(&[]);
    let block = block(&store, 1, vec![pay(account(0), 0, 0, account(1), u64::MAX)]);
    let before = balance(&store, account(0), TOS);
    assert_last_result(
        &store,
        &block,
        failed(TxFailure::InsufficientFunds {
            asset: TOS,
            needed: u64::MAX,
            available: FUNDS,
        }),
    );
    assert_eq!(balance(&store, account(0), TOS), before, "no effect");
    assert_eq!(nonce(&store, account(0)), Some(0), "nonce not consumed");
}

#[test]
fn a_fee_of_u64_max() {
    let store = store(&[]);
    let block = block(&store, 1, vec![pay(account(0), 0, u64::MAX, account(1), 1)]);
    assert_last_result(
        &store,
        &block,
        failed(TxFailure::Overflow(OverflowKind::Spending { asset: TOS })),
    );
    // Alone, a fee of u64::MAX is just more than the balance.
    let block = block_at(&store, vec![multisig(account(0), 0, u64::MAX, 0, vec![])]);
    let output = run_everywhere(&store, &block).expect("valid");
    assert_eq!(
        output.results.last(),
        Some(&failed(TxFailure::InsufficientFunds {
            asset: TOS,
            needed: u64::MAX,
            available: FUNDS,
        }))
    );
}

/// Like [`block`] with fresh filler senders, for a second block on the same store.
fn block_at(store: &MemoryStore, transactions: Vec<Transaction>) -> Block {
    let topoheight = store.chain_state().expect("chain").next_topoheight();
    let mut all: Vec<Transaction> = (0..FILLER as u64)
        .map(|i| pay(account(20 + i), topoheight - 1, 1, account(40 + i), 10))
        .collect();
    all.extend(transactions);
    next_block(store, account(MINER), 1, all)
}

#[test]
fn transfer_amounts_whose_sum_overflows() {
    let x = asset(1);
    let store = store(&[balance_entry(account(0), x, u64::MAX)]);
    let half = u64::MAX / 2 + 1;
    let tx = transfers(
        account(0),
        0,
        1,
        &[(x, account(1), half), (x, account(2), half)],
    );
    let block = block(&store, 1, vec![tx]);
    assert_last_result(
        &store,
        &block,
        failed(TxFailure::Overflow(OverflowKind::Spending { asset: x })),
    );
    assert_eq!(balance(&store, account(0), x), u64::MAX, "no effect");
}

#[test]
fn a_credit_that_overflows_the_receiver() {
    let store = store(&[balance_entry(account(1), TOS, u64::MAX - 4)]);
    let block = block(&store, 1, vec![pay(account(0), 0, 1, account(1), 5)]);
    assert_last_result(
        &store,
        &block,
        failed(TxFailure::Overflow(OverflowKind::Credit {
            destination: account(1),
            asset: TOS,
        })),
    );
    assert_eq!(balance(&store, account(1), TOS), u64::MAX - 4);
    assert_eq!(balance(&store, account(0), TOS), FUNDS);
}

#[test]
fn a_credit_that_reaches_u64_max_exactly() {
    let store = store(&[balance_entry(account(1), TOS, u64::MAX - 5)]);
    let block = block(&store, 1, vec![pay(account(0), 0, 1, account(1), 5)]);
    assert_last_result(&store, &block, TxResult::Success);
    assert_eq!(balance(&store, account(1), TOS), u64::MAX);
}

#[test]
fn a_nonce_of_u64_max() {
    let store = store(&[nonce_entry(account(0), u64::MAX)]);
    let block = block(&store, 1, vec![pay(account(0), u64::MAX, 1, account(1), 5)]);
    assert_last_result(
        &store,
        &block,
        failed(TxFailure::Overflow(OverflowKind::Nonce)),
    );
}

#[test]
fn a_wrong_nonce() {
    let store = store(&[]);
    let block = block(&store, 1, vec![pay(account(0), 7, 1, account(1), 5)]);
    assert_last_result(
        &store,
        &block,
        failed(TxFailure::InvalidNonce {
            expected: 0,
            got: 7,
        }),
    );
}

#[test]
fn an_unknown_asset() {
    let store = store(&[]);
    let unknown = asset(777);
    let tx = transfers(account(0), 0, 1, &[(unknown, account(1), 1)]);
    let block = block(&store, 1, vec![tx]);
    assert_last_result(
        &store,
        &block,
        failed(TxFailure::InsufficientFunds {
            asset: unknown,
            needed: 1,
            available: 0,
        }),
    );
}

#[test]
fn the_zero_asset_is_tos() {
    // The all-zero asset id is the native asset, not a hole in validation.
    let store = store(&[]);
    let zero = Asset::new([0; 32]);
    assert_eq!(zero, TOS);
    let tx = transfers(account(0), 0, 1, &[(zero, account(1), 5)]);
    let block = block(&store, 1, vec![tx]);
    assert_last_result(&store, &block, TxResult::Success);
    assert_eq!(balance(&store, account(1), TOS), FUNDS + 5);
}

#[test]
fn a_transaction_already_executed() {
    let store = store(&[]);
    let tx = pay(account(0), 0, 1, account(1), 5);
    let first = block(&store, 1, vec![tx.clone()]);
    assert_last_result(&store, &first, TxResult::Success);
    let replay = block_at(&store, vec![tx]);
    assert_last_result(&store, &replay, failed(TxFailure::AlreadyExecuted));
    assert_eq!(balance(&store, account(1), TOS), FUNDS + 5, "paid once");
}

// ---- Contract transactions ----

/// A call of the probe contract at `contract` (which need not exist: malformed calls are
/// rejected before anything is read).
fn invoke(deposits: Vec<executor::Deposit>, max_gas: u64, input: Vec<u8>) -> Transaction {
    Transaction::new(
        account(0),
        0,
        1,
        executor::Payload::InvokeContract {
            contract: storage_adapter::ContractId([7; 32]),
            deposits,
            max_gas,
            input,
        },
    )
}

/// A deploy of `bytecode` from account 0.
fn deploy(bytecode: &[u8]) -> Transaction {
    let module = std::sync::Arc::new(storage_adapter::ModuleCode::new(bytecode));
    Transaction::new(
        account(0),
        0,
        1,
        executor::Payload::DeployContract { module },
    )
}

/// A block of `tx` alone, on a fresh store, is refused: `tx` is malformed for `reason`.
fn assert_malformed_alone(tx: Transaction, reason: MalformedTransaction) {
    let store = store(&[]);
    let block = block(&store, 1, vec![tx]);
    assert_rejected(&store, &block, malformed(0, reason));
}

#[test]
fn a_deploy_whose_module_does_not_verify() {
    // Eight bytes that are no sBPF instruction the verifier accepts.
    assert_malformed_alone(deploy(&[0xff; 8]), MalformedTransaction::InvalidModule);
}

#[test]
fn an_empty_module() {
    assert_malformed_alone(deploy(&[]), MalformedTransaction::InvalidModule);
}

#[test]
fn a_call_with_no_gas_or_too_much() {
    for max_gas in [0, executor::model::MAX_GAS + 1, u64::MAX] {
        assert_malformed_alone(
            invoke(Vec::new(), max_gas, Vec::new()),
            MalformedTransaction::InvalidMaxGas { max_gas },
        );
    }
}

#[test]
fn a_call_with_too_many_deposits() {
    let deposits = vec![
        executor::Deposit {
            asset: TOS,
            amount: 1
        };
        executor::model::MAX_DEPOSITS + 1
    ];
    assert_malformed_alone(
        invoke(deposits, 1_000, Vec::new()),
        MalformedTransaction::TooManyDeposits {
            count: executor::model::MAX_DEPOSITS + 1,
        },
    );
}

#[test]
fn a_deposit_of_zero() {
    let deposits = vec![
        executor::Deposit {
            asset: TOS,
            amount: 1,
        },
        executor::Deposit {
            asset: asset(1),
            amount: 0,
        },
    ];
    assert_malformed_alone(
        invoke(deposits, 1_000, Vec::new()),
        MalformedTransaction::ZeroAmountDeposit { deposit: 1 },
    );
}

#[test]
fn a_call_input_over_the_limit() {
    let len = executor::model::MAX_INPUT_LEN + 1;
    assert_malformed_alone(
        invoke(Vec::new(), 1_000, vec![0; len]),
        MalformedTransaction::InputTooLong { len },
    );
}

#[test]
fn a_call_that_cannot_reserve_its_gas_changes_nothing() {
    // FUNDS covers the fee but not the fee plus the gas.
    let store = store(&[]);
    let block = block(&store, 1, vec![invoke(Vec::new(), FUNDS, Vec::new())]);
    assert_last_result(
        &store,
        &block,
        failed(TxFailure::InsufficientFunds {
            asset: TOS,
            needed: FUNDS + 1,
            available: FUNDS,
        }),
    );
}

#[test]
fn a_call_to_no_contract_is_charged_its_fee_only() {
    let store = store(&[]);
    let block = block(&store, 1, vec![invoke(Vec::new(), 1_000, Vec::new())]);
    let output = assert_last_result(
        &store,
        &block,
        failed(TxFailure::NoContract {
            contract: storage_adapter::ContractId([7; 32]),
        }),
    );
    use storage_adapter::StateView as _;
    let snapshot = store.snapshot().expect("snapshot");
    assert_eq!(
        snapshot
            .get(&StateKey::Balance(account(0), TOS))
            .expect("read"),
        Some(StateValue::Balance(FUNDS - 1))
    );
    assert_eq!(
        snapshot.get(&StateKey::Nonce(account(0))).expect("read"),
        Some(StateValue::Nonce(1))
    );
    let hash = *block.transactions()[FILLER].hash();
    assert!(
        output.commit.executed().contains(&hash),
        "a charged call is marked executed"
    );
}
