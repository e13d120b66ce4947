//! The case of the `blockstm_vs_oracle` fuzz target (`fuzz/`): a starting state and a block
//! decoded from arbitrary bytes, and [`check`], which runs Block-STM, batch grouping and
//! the sequential oracle on it and panics when they disagree.
//!
//! The fuzz target includes this file by path (it builds without RocksDB), so it uses only
//! `executor` and `storage_adapter`, never the rest of this crate. The replay test
//! (`tests/fuzz_corpus.rs`) runs the seed corpus through the same code.
//!
//! # Encoding
//!
//! The decoder is total: every byte string is a case, and a read past the end gives 0, so
//! short inputs are small cases and libFuzzer's mutations stay meaningful. One byte makes
//! one decision (a few split a byte into two fields):
//!
//! ```text
//! header     threads (2..=4) and accounts (2..=8); miner; reward; chain flags
//!            (burned supply before the block, a wrong topoheight, rarely)
//! accounts   per account: nonce (absent, small, or near u64::MAX), a balance in TOS and
//!            two other assets (absent, tiny, moderate, near u64::MAX, or any u64), and
//!            sometimes a multisig configuration; rarely (1 account in 32) one of its
//!            keys holds a value of the wrong kind instead (corrupt state, see below)
//! txs        until the input ends, at most 64: kind and sender, nonce (mostly the
//!            sender's current one, tracked through the block; sometimes off by one or two;
//!            sometimes the hash is marked executed before the block), fee (mostly small,
//!            sometimes near u64::MAX), then the payload: one transfer, 2 to 8 transfers,
//!            a burn, a multisig set-up or removal, a contract call, and rarely a
//!            malformed or duplicate transaction (the block is then rejected whole)
//! ```
//!
//! Every case's state also holds the bundled token contract (its owner the first
//! account, every account holding 1000 tokens), decoded from no byte. A contract call
//! takes one byte: its target account, what it calls (a token transfer or mint, an input
//! the token rejects, or an address with no contract) and its `max_gas` (too little for
//! the token's storage, some, or plenty), then an amount.
//!
//! Amounts are mostly small next to the balances, so most transactions succeed and the
//! engines have real conflicts to resolve (2 to 8 accounts share up to 64 transactions);
//! values near `u64::MAX` make credits, spending sums, nonces, rewards, fee totals and the
//! burned supply overflow now and then.
//!
//! # Corrupt state
//!
//! The account's multisig byte, when it is 30 modulo 32, puts a value of the wrong kind at
//! one of the account's keys (its top three bits pick which, see `corrupt_entry`): a nonce
//! key holding a balance or a multisig configuration, a balance key holding a nonce or a
//! multisig configuration, a multisig key holding a balance or a nonce. `MemoryStore` keeps
//! values as given, so the engines meet them as a store with a damaged value would hand
//! them over. A transaction that reads such a key in block order makes the oracle reject
//! the block with `BlockError::InvalidState` (the miner's balance is read before any
//! transaction); a key that only a speculative Block-STM incarnation reads (a transaction
//! that, in block order, fails on its nonce before reading it) must not change the
//! verdict: Block-STM then decides the block on its sequential path.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use executor::contract::contracts;
use executor::engine::blockstm::{BlockStmConfig, BlockStmExecutor};
use executor::outcome::{BlockError, BlockOutput};
use executor::{
    execute_sequential, execute_transaction, Block, Execution, GroupingConfig, GroupingExecutor,
    Payload, Transaction, Transfer, VmView, MAX_SUPPLY,
};
use storage_adapter::{
    Asset, BlockCommit, BlockStore, ChainState, ContractId, Hash, MemoryStore, ModuleCode,
    MultisigConfig, PublicKey, StateKey, StateValue, StorageError, StorageValue,
};

/// The token contract every case's state holds.
const TOKEN: ContractId = ContractId([0xa1; 32]);

/// The token deployed at [`TOKEN`]: its module, its owner (the first account) and 1000
/// tokens for every account.
fn token_state(accounts: &[PublicKey]) -> Vec<(StateKey, StateValue)> {
    static MODULE: OnceLock<Arc<ModuleCode>> = OnceLock::new();
    let module = MODULE.get_or_init(|| {
        let bytecode = executor::contract::assemble_source(contracts::TOKEN)
            .unwrap_or_else(|error| panic!("invariant: the bundled token assembles: {error}"));
        Arc::new(ModuleCode::new(&bytecode))
    });
    let stored = |value: StorageValue| StateValue::Storage(Some(Arc::new(value)));
    let mut state = vec![(
        StateKey::Module(TOKEN),
        StateValue::Module(Arc::clone(module)),
    )];
    if let Some(owner) = accounts.first() {
        state.push((
            StateKey::Storage(TOKEN, contracts::token::OWNER_KEY),
            stored(StorageValue::from_slice(owner.as_bytes())),
        ));
    }
    for account in accounts {
        state.push((
            StateKey::Storage(TOKEN, contracts::token::balance_key(account)),
            stored(StorageValue::from(1_000)),
        ));
    }
    state
}

/// Most transactions a decoded block carries.
pub const MAX_TRANSACTIONS: usize = 64;

/// Accounts that never hold state before the block (destinations, rarely senders or the
/// miner): they exercise registration of new accounts.
const OUTSIDERS: u64 = 3;

/// First index of the outsider accounts.
const OUTSIDER_BASE: u64 = 1_000;

/// A starting state and a block, decoded from bytes by [`FuzzCase::decode`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuzzCase {
    /// Block-STM's worker threads, 2 to 4.
    pub threads: usize,
    /// The state before the block (topoheight 0 of a [`MemoryStore`]).
    pub values: Vec<(StateKey, StateValue)>,
    /// Transaction hashes marked executed by an earlier block. When this is non-empty or
    /// `burned_supply` is non-zero, an empty block at topoheight 1 sets them, and the
    /// block under test normally follows it at topoheight 2.
    pub executed: Vec<Hash>,
    /// The burned supply before the block.
    pub burned_supply: u64,
    /// The block under test.
    pub block: Block,
}

/// What [`check`] saw, for the replay test's coverage assertions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckSummary {
    /// Transactions in the block.
    pub transactions: usize,
    /// Successful transactions (0 when the block was rejected).
    pub successful: usize,
    /// Whether the block was rejected whole (both engines with the same error).
    pub block_error: bool,
    /// Whether Block-STM ran its parallel path (not the small-block sequential one),
    /// which the engine does from 2 transactions.
    pub parallel: bool,
    /// Keys of the starting state that hold a value of the wrong kind.
    pub corrupt_keys: usize,
    /// Whether the block was rejected with `BlockError::InvalidState` (corrupt state read
    /// in block order).
    pub invalid_state: bool,
    /// Whether Block-STM handed a block it had started in parallel to its sequential path
    /// because an incarnation met corrupt state (only in cases with corrupt keys; varies
    /// with the interleaving from run to run).
    pub decided_sequentially: bool,
}

/// Reads the input one byte at a time; past the end every byte is 0.
struct Input<'a> {
    data: &'a [u8],
    position: usize,
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let byte = self.data.get(self.position).copied().unwrap_or(0);
        self.position = self.position.saturating_add(1);
        byte
    }

    fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |value, _| (value << 8) | u64::from(self.byte()))
    }

    fn is_empty(&self) -> bool {
        self.position >= self.data.len()
    }
}

/// The assets of the starting state: TOS and two others.
fn state_assets() -> [Asset; 3] {
    [Asset::TOS, Asset::from_index(1), Asset::from_index(2)]
}

/// The assets transactions use: the state's three and, rarely, one nobody holds.
fn tx_asset(selector: u8) -> Asset {
    match selector % 8 {
        0 | 3 | 6 => Asset::TOS,
        7 => Asset::from_index(3),
        other => Asset::from_index(u64::from(other % 3)),
    }
}

/// A balance in the starting state; `None` is absent.
fn balance(input: &mut Input<'_>) -> Option<u64> {
    let mode = input.byte();
    let high = u64::from(mode >> 4);
    match mode % 16 {
        12 => Some(high),
        13 => None,
        14 => Some(u64::MAX - u64::from(input.byte())),
        15 => Some(input.u64()),
        _ => Some(1_000 + high * 10_000 + u64::from(input.byte()) * 100),
    }
}

/// A transfer or burn amount, never zero: mostly small, sometimes huge.
fn amount(input: &mut Input<'_>) -> u64 {
    let mode = input.byte();
    let high = u64::from(mode >> 5);
    match mode % 32 {
        28 => (u64::from(input.byte()) + 1) * 10_000,
        29 => input.u64().max(1),
        30 => u64::MAX / 2 + u64::from(input.byte()),
        31 => u64::MAX - u64::from(input.byte()),
        low => 1 + high * 128 + u64::from(low) * 4,
    }
}

/// A fee: mostly small, sometimes zero or huge.
fn fee(input: &mut Input<'_>) -> u64 {
    let mode = input.byte();
    let high = u64::from(mode >> 4);
    match mode % 16 {
        12 => 0,
        13 => high * 100_000,
        14 => u64::MAX / 2 + high,
        15 => u64::MAX - high,
        _ => high + u64::from(mode % 4),
    }
}

/// A value of the wrong kind at one of `account`'s keys, chosen by `selector` (0 to 7);
/// `other` is the account a corrupt multisig configuration names.
fn corrupt_entry(account: PublicKey, selector: u8, other: PublicKey) -> (StateKey, StateValue) {
    let config = || {
        StateValue::Multisig(Some(Arc::new(MultisigConfig {
            threshold: 1,
            participants: vec![other],
        })))
    };
    match selector % 8 {
        0 => (StateKey::Nonce(account), StateValue::Balance(1_000)),
        1 => (StateKey::Nonce(account), config()),
        2 => (StateKey::Balance(account, Asset::TOS), StateValue::Nonce(0)),
        3 => (StateKey::Balance(account, Asset::TOS), config()),
        4 => (
            StateKey::Balance(account, Asset::from_index(1)),
            StateValue::Nonce(1),
        ),
        5 => (StateKey::Balance(account, Asset::from_index(2)), config()),
        6 => (StateKey::Multisig(account), StateValue::Balance(1)),
        _ => (StateKey::Multisig(account), StateValue::Nonce(0)),
    }
}

/// Whether `value` is of the wrong kind for `key`.
fn is_corrupt(key: &StateKey, value: &StateValue) -> bool {
    !value.fits(key)
}

/// The block reward: rarely zero or huge.
fn reward(input: &mut Input<'_>) -> u64 {
    match input.byte() {
        0xFD => 0,
        0xFE => u64::MAX / 2,
        0xFF => u64::MAX - 1,
        other => 1_000 + u64::from(other),
    }
}

/// The decoder's running view of the block: the starting state plus the writes of the
/// transactions decoded so far, so that it can pick the nonce each sender really has.
struct Simulation {
    values: HashMap<StateKey, StateValue>,
    executed: HashSet<Hash>,
}

impl VmView for Simulation {
    type Error = StorageError;

    fn read(&mut self, key: &StateKey) -> Result<Option<StateValue>, StorageError> {
        Ok(self.values.get(key).cloned())
    }

    fn is_executed(&mut self, tx_hash: &Hash) -> Result<bool, StorageError> {
        Ok(self.executed.contains(tx_hash))
    }
}

impl Simulation {
    fn nonce(&self, account: &PublicKey) -> u64 {
        match self.values.get(&StateKey::Nonce(*account)) {
            Some(StateValue::Nonce(nonce)) => *nonce,
            _ => 0,
        }
    }
}

impl FuzzCase {
    /// Decodes `data`; never panics, every input is a case.
    pub fn decode(data: &[u8]) -> FuzzCase {
        let mut input = Input { data, position: 0 };

        let shape = input.byte();
        let threads = 2 + usize::from(shape % 3);
        let account_count = 2 + u64::from(shape / 3) % 7;
        let accounts: Vec<PublicKey> = (0..account_count).map(PublicKey::from_index).collect();
        let everyone: Vec<PublicKey> = accounts
            .iter()
            .copied()
            .chain((0..OUTSIDERS).map(|i| PublicKey::from_index(OUTSIDER_BASE + i)))
            .collect();
        let pick = |selector: u8| everyone[usize::from(selector) % everyone.len()];
        // Senders: mostly the accounts with state, rarely an outsider.
        let sender = |selector: u8| match selector {
            0..=29 => accounts[usize::from(selector) % accounts.len()],
            _ => everyone[accounts.len() + usize::from(selector) % 2],
        };

        let miner = pick(input.byte());
        let reward = reward(&mut input);
        let chain_flags = input.byte();
        let burned_supply = match chain_flags >> 4 {
            13 => 1_000_000,
            14 => MAX_SUPPLY - u64::from(chain_flags & 0xF) * 1_000,
            15 => MAX_SUPPLY,
            _ => 0,
        };
        // 1 in 16: a topoheight that does not follow the store.
        let topoheight_skew: i8 = match (chain_flags % 16, chain_flags >> 7) {
            (15, 0) => -1,
            (15, _) => 1,
            _ => 0,
        };

        let mut values = Vec::new();
        for (index, account) in accounts.iter().enumerate() {
            let nonce = input.byte();
            let nonce = match nonce % 8 {
                6 => Some(u64::MAX - u64::from(nonce >> 3) % 3),
                7 => None,
                _ => Some(u64::from(nonce >> 3) % 4),
            };
            if let Some(nonce) = nonce {
                values.push((StateKey::Nonce(*account), StateValue::Nonce(nonce)));
            }
            for asset in state_assets() {
                if let Some(amount) = balance(&mut input) {
                    values.push((
                        StateKey::Balance(*account, asset),
                        StateValue::Balance(amount),
                    ));
                }
            }
            let multisig = input.byte();
            if multisig % 4 == 3 {
                let count = 1 + usize::from(multisig >> 2) % 3;
                let participants: Vec<PublicKey> = (1..=count)
                    .map(|offset| everyone[(index + offset) % everyone.len()])
                    .collect();
                let threshold = 1 + (multisig >> 4) % count as u8;
                values.push((
                    StateKey::Multisig(*account),
                    StateValue::Multisig(Some(Arc::new(MultisigConfig {
                        threshold,
                        participants,
                    }))),
                ));
            }
            if multisig % 32 == 30 {
                // Rarely: corrupt state, a value of the wrong kind at one of the keys.
                let other = everyone[(index + 1) % everyone.len()];
                let (key, value) = corrupt_entry(*account, multisig >> 5, other);
                values.retain(|(existing, _)| *existing != key);
                values.push((key, value));
            }
        }
        values.extend(token_state(&accounts));

        let mut simulation = Simulation {
            values: values.iter().cloned().collect(),
            executed: HashSet::new(),
        };
        // The miner's reward comes before any transaction.
        let miner_key = StateKey::Balance(miner, Asset::TOS);
        let rewarded = match simulation.values.get(&miner_key) {
            Some(StateValue::Balance(balance)) => balance.saturating_add(reward),
            _ => reward,
        };
        simulation
            .values
            .insert(miner_key, StateValue::Balance(rewarded));

        let mut transactions: Vec<Transaction> = Vec::new();
        let mut seen = HashSet::new();
        while !input.is_empty() && transactions.len() < MAX_TRANSACTIONS {
            let head = input.byte();
            let source = sender(head >> 3);
            let nonce_byte = input.byte();
            let current = simulation.nonce(&source);
            let nonce = match nonce_byte % 16 {
                13 => current.wrapping_add(1),
                14 => current.wrapping_sub(1),
                15 => current.wrapping_add(2),
                _ => current,
            };
            let mark_executed = nonce_byte >> 4 == 0xF;
            let fee = fee(&mut input);
            let transfer = |input: &mut Input<'_>| {
                let target = input.byte();
                let mut destination = pick(target & 0xF);
                if destination == source {
                    // Never to self (that is malformed): to an outsider instead.
                    destination = [OUTSIDER_BASE + u64::from(target >> 7), OUTSIDER_BASE + 2]
                        .map(PublicKey::from_index)
                        .into_iter()
                        .find(|outsider| *outsider != source)
                        .unwrap_or(destination);
                }
                Transfer::new(tx_asset(target >> 4), destination, amount(input))
            };
            let payload = match head % 8 {
                6 => {
                    let shape = input.byte();
                    let target = pick(shape & 0xF);
                    let max_gas = match shape >> 6 {
                        0 => 150,
                        1 => 2_000,
                        _ => 100_000,
                    };
                    let (contract, call) = match (shape >> 4) % 4 {
                        0 => (
                            TOKEN,
                            contracts::token::transfer(&target, amount(&mut input)),
                        ),
                        1 => (TOKEN, contracts::token::mint(&target, amount(&mut input))),
                        2 => (TOKEN, vec![9]),
                        _ => (ContractId([0xee; 32]), vec![0]),
                    };
                    Payload::InvokeContract {
                        contract,
                        deposits: Vec::new(),
                        max_gas,
                        input: call,
                    }
                }
                3 => {
                    let count = 2 + usize::from(input.byte() % 4);
                    Payload::Transfers((0..count).map(|_| transfer(&mut input)).collect())
                }
                4 => {
                    let asset = tx_asset(input.byte());
                    Payload::Burn {
                        asset,
                        amount: amount(&mut input),
                    }
                }
                5 => {
                    let shape = input.byte();
                    let count = usize::from(shape % 4);
                    let participants: Vec<PublicKey> = everyone
                        .iter()
                        .copied()
                        .filter(|account| *account != source)
                        .cycle()
                        .skip(usize::from(shape >> 4))
                        .take(count)
                        .collect();
                    let threshold = match count {
                        0 => 0,
                        count => 1 + (shape >> 2) % count as u8,
                    };
                    Payload::Multisig {
                        threshold,
                        participants,
                    }
                }
                7 if input.byte() == 0xFF => {
                    // Rarely: something block validation rejects.
                    let rule = input.byte();
                    match rule % 4 {
                        0 => {
                            // A transaction that repeats an earlier one.
                            let Some(earlier) = transactions
                                .get(usize::from(rule >> 2) % transactions.len().max(1))
                                .cloned()
                            else {
                                continue;
                            };
                            transactions.push(earlier);
                            continue;
                        }
                        1 => Payload::Transfers(vec![Transfer::new(Asset::TOS, source, 1)]),
                        2 => Payload::Burn {
                            asset: Asset::TOS,
                            amount: 0,
                        },
                        _ => Payload::Multisig {
                            threshold: 2,
                            participants: vec![pick(rule >> 2)],
                        },
                    }
                }
                _ => Payload::Transfers(vec![transfer(&mut input)]),
            };
            let tx = Transaction::new(source, nonce, fee, payload);
            if !seen.insert(*tx.hash()) {
                // Identical bytes twice would only make a duplicate-hash block error.
                continue;
            }
            if mark_executed {
                simulation.executed.insert(*tx.hash());
            }
            if let Ok(outcome) = execute_transaction(&tx, &mut simulation) {
                // A charged contract failure writes (its nonce, its payment) too.
                if outcome.result.is_charged() {
                    simulation.values.extend(outcome.writes);
                }
            }
            transactions.push(tx);
        }

        let mut executed: Vec<Hash> = simulation.executed.into_iter().collect();
        executed.sort_unstable();
        let next_topoheight: u64 = if executed.is_empty() && burned_supply == 0 {
            1
        } else {
            2
        };
        let topoheight = next_topoheight.saturating_add_signed(i64::from(topoheight_skew));
        FuzzCase {
            threads,
            values,
            executed,
            burned_supply,
            block: Block::new(topoheight, miner, reward, transactions),
        }
    }

    /// A memory store holding the case's starting state, executed marks and burned supply.
    pub fn store(&self) -> MemoryStore {
        let store = MemoryStore::with_state(self.values.iter().cloned());
        if !self.executed.is_empty() || self.burned_supply != 0 {
            let chain: ChainState = store.chain_state().expect("memory chain state");
            let commit = BlockCommit::new(
                &chain,
                chain.next_topoheight(),
                Vec::new(),
                self.executed.clone(),
                self.burned_supply,
            )
            .expect("the marks block is well formed");
            store.commit(&commit).expect("the marks block commits");
        }
        store
    }
}

/// Runs the sequential oracle, Block-STM (the case's threads, parallel from 2
/// transactions, contention guard off) and batch grouping (the case's threads) on the case
/// and panics, saying how, when an engine's result differs from the oracle's (outputs or
/// block errors), when an engine fell back to sequential execution (a panic or broken
/// invariant in its parallel path), or when Block-STM handed a block with well-formed state
/// to its sequential path (only an incarnation that met corrupt state may do that).
pub fn check(case: &FuzzCase) -> CheckSummary {
    let store = case.store();
    let snapshot = store.snapshot().expect("memory snapshot");
    let expected = execute_sequential(&case.block, &snapshot);
    let transactions = case.block.transactions().len();
    let corrupt_keys = case
        .values
        .iter()
        .filter(|(key, value)| is_corrupt(key, value))
        .count();

    let engine = BlockStmExecutor::new(BlockStmConfig {
        threads: case.threads,
        min_parallel_txns: 2,
        contention_cutoff: None,
        ..BlockStmConfig::default()
    });
    let got = engine.execute(&case.block, &snapshot);
    let decided_sequentially = match &got {
        Ok(execution) => {
            if execution.stats.fallbacks != 0 {
                panic!(
                    "Block-STM fell back to sequential execution ({} threads); case: {case:#?}",
                    case.threads
                );
            }
            let decided_sequentially = transactions >= 2 && execution.stats.sequential_blocks != 0;
            if decided_sequentially && corrupt_keys == 0 {
                panic!(
                    "Block-STM ({} threads) decided a block with well-formed state on its \
                     sequential path; case: {case:#?}",
                    case.threads
                );
            }
            decided_sequentially
        }
        Err(_) => false,
    };
    compare("Block-STM", case, &got, &expected);

    let grouping = GroupingExecutor::new(GroupingConfig {
        threads: case.threads,
    });
    let grouped = grouping.execute(&case.block, &snapshot);
    if let Ok(execution) = &grouped {
        if execution.stats.fallbacks != 0 {
            panic!(
                "batch grouping fell back to sequential execution ({} threads); case: {case:#?}",
                case.threads
            );
        }
    }
    compare("batch grouping", case, &grouped, &expected);

    match expected {
        Ok(output) => {
            // The agreed output must also be applicable to the store it was built on.
            store
                .commit(&output.commit)
                .expect("the oracle's commit applies to its own store");
            CheckSummary {
                transactions,
                successful: output.successful(),
                block_error: false,
                parallel: transactions >= 2,
                corrupt_keys,
                invalid_state: false,
                decided_sequentially,
            }
        }
        Err(error) => CheckSummary {
            transactions,
            successful: 0,
            block_error: true,
            // With 2 threads or more, the engine takes the parallel path from 2 transactions.
            parallel: transactions >= 2,
            corrupt_keys,
            invalid_state: matches!(error, BlockError::InvalidState(_)),
            decided_sequentially,
        },
    }
}

/// Panics unless `engine`'s result equals the oracle's exactly: the same output, or the
/// same block error.
fn compare(
    engine: &str,
    case: &FuzzCase,
    got: &Result<Execution, BlockError>,
    expected: &Result<BlockOutput, BlockError>,
) {
    match (got, expected) {
        (Ok(execution), Ok(output)) => {
            if execution.output != *output {
                panic!(
                    "{engine} ({} threads) differs from the oracle\n{}\ncase: {case:#?}",
                    case.threads,
                    describe_difference(&execution.output, output),
                );
            }
        }
        (Err(got), Err(expected)) if got == expected => {}
        _ => panic!(
            "{engine} ({} threads) and the oracle disagree on the block\n\
             {engine}: {:?}\noracle: {:?}\ncase: {case:#?}",
            case.threads,
            got.as_ref().map(|execution| execution.output.state_root()),
            expected.as_ref().map(|output| output.state_root()),
        ),
    }
}
/// The first differences between two outputs, for the panic message.
fn describe_difference(got: &BlockOutput, expected: &BlockOutput) -> String {
    let mut lines = Vec::new();
    for (index, (got, expected)) in got.results.iter().zip(&expected.results).enumerate() {
        if got != expected {
            lines.push(format!(
                "tx {index}: Block-STM {got:?}, oracle {expected:?}"
            ));
        }
    }
    if got.results.len() != expected.results.len() {
        lines.push(format!(
            "results: Block-STM {}, oracle {}",
            got.results.len(),
            expected.results.len()
        ));
    }
    if (got.total_fees, got.burned) != (expected.total_fees, expected.burned) {
        lines.push(format!(
            "fees/burned: Block-STM {}/{}, oracle {}/{}",
            got.total_fees, got.burned, expected.total_fees, expected.burned
        ));
    }
    let got_writes: HashMap<_, _> = got.writes().iter().cloned().collect();
    let expected_writes: HashMap<_, _> = expected.writes().iter().cloned().collect();
    for (key, value) in expected.writes() {
        if got_writes.get(key) != Some(value) {
            lines.push(format!(
                "write {key:?}: Block-STM {:?}, oracle {value:?}",
                got_writes.get(key)
            ));
        }
    }
    for (key, value) in got.writes() {
        if !expected_writes.contains_key(key) {
            lines.push(format!("write {key:?}: Block-STM {value:?}, oracle none"));
        }
    }
    if got.commit.executed() != expected.commit.executed() {
        lines.push("executed marks differ".to_owned());
    }
    if got.state_root() != expected.state_root() {
        lines.push(format!(
            "state root: Block-STM {}, oracle {}",
            got.state_root(),
            expected.state_root()
        ));
    }
    lines.truncate(20);
    lines.join("\n")
}

/// Decodes `data` and [`check`]s it: the fuzz target's body.
pub fn run(data: &[u8]) -> CheckSummary {
    check(&FuzzCase::decode(data))
}
