//! The random case generator of the parity properties (Block-STM and batch grouping
//! against the sequential oracle): random starting states, random blocks of every
//! transaction kind (failing ones included), contended and uncontended.

use std::collections::{HashMap, HashSet};

use executor::{
    execute_sequential, execute_transaction, Block, Payload, Transaction, Transfer, VmView,
};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use storage_adapter::{
    Asset, BlockStore, Hash, MemoryStore, PublicKey, StateKey, StateValue, StateView, StorageError,
};

/// Storage plus the writes of the transactions generated so far: lets the generator pick
/// the nonce each sender really has, so most transactions succeed.
#[derive(Debug)]
pub struct Simulation<'a, S> {
    /// The state before the block.
    pub storage: &'a S,
    /// The writes of the transactions generated so far.
    pub writes: HashMap<StateKey, StateValue>,
}

impl<S: StateView> VmView for Simulation<'_, S> {
    type Error = StorageError;

    fn read(&mut self, key: &StateKey) -> Result<Option<StateValue>, StorageError> {
        match self.writes.get(key) {
            Some(value) => Ok(Some(value.clone())),
            None => self.storage.get(key),
        }
    }

    fn is_executed(&mut self, tx_hash: &Hash) -> Result<bool, StorageError> {
        self.storage.is_executed(tx_hash)
    }
}

impl<S: StateView> Simulation<'_, S> {
    /// The nonce `account` has after the transactions generated so far (absent = 0).
    pub fn nonce(&mut self, account: PublicKey) -> u64 {
        match self.read(&StateKey::Nonce(account)) {
            Ok(Some(StateValue::Nonce(n))) => n,
            _ => 0,
        }
    }
}

/// How a random case is shaped.
#[derive(Clone, Copy, Debug)]
pub struct CaseShape {
    /// Seeds everything random in the case.
    pub seed: u64,
    /// Accounts taking part (a few more appear as destinations only).
    pub accounts: usize,
    /// Transactions in the block under test.
    pub block_size: usize,
    /// Share of transactions sent by the few hottest accounts (0 = uniform).
    pub hot_share: f64,
    /// Threads of the engine under test.
    pub threads: usize,
}

/// The assets of the random cases: TOS and two others.
pub fn assets() -> [Asset; 3] {
    [Asset::TOS, Asset::from_index(1), Asset::from_index(2)]
}

/// A random starting state: balances from zero to near `u64::MAX` (so credits overflow
/// sometimes), nonces present or absent.
pub fn starting_state(rng: &mut ChaCha8Rng, accounts: &[PublicKey]) -> Vec<(StateKey, StateValue)> {
    let mut values = Vec::new();
    for account in accounts {
        if rng.gen_bool(0.8) {
            values.push((
                StateKey::Nonce(*account),
                StateValue::Nonce(rng.gen_range(0..3)),
            ));
        }
        for asset in assets() {
            let balance = match rng.gen_range(0..10) {
                0 => continue,
                1 => u64::MAX - rng.gen_range(0..2000),
                2 => rng.gen_range(0..20),
                _ => rng.gen_range(1_000..1_000_000),
            };
            values.push((
                StateKey::Balance(*account, asset),
                StateValue::Balance(balance),
            ));
        }
    }
    values
}

/// Random well-formed transactions; nonces usually right (tracked per sender), amounts
/// usually affordable, sometimes not.
pub fn random_block<S: StateView>(
    rng: &mut ChaCha8Rng,
    accounts: &[PublicKey],
    storage: &S,
    topoheight: u64,
    size: usize,
    hot_share: f64,
) -> Block {
    let hot = accounts.len().min(3);
    let pick = |rng: &mut ChaCha8Rng| {
        if rng.gen_bool(hot_share) {
            rng.gen_range(0..hot)
        } else {
            rng.gen_range(0..accounts.len())
        }
    };
    let mut simulation = Simulation {
        storage,
        writes: HashMap::new(),
    };
    let mut transactions = Vec::with_capacity(size);
    let mut seen = HashSet::new();
    while transactions.len() < size {
        let sender = pick(rng);
        let source = accounts[sender];
        let current = simulation.nonce(source);
        let nonce = match rng.gen_range(0..10) {
            0 => current + rng.gen_range(1..3),
            1 => current.saturating_sub(1),
            _ => current,
        };
        let fee = if rng.gen_bool(0.02) {
            u64::MAX - rng.gen_range(0..10)
        } else {
            rng.gen_range(0..20)
        };
        let amount = |rng: &mut ChaCha8Rng| {
            if rng.gen_bool(0.02) {
                u64::MAX - rng.gen_range(0..1000)
            } else {
                rng.gen_range(1..5_000)
            }
        };
        let payload = match rng.gen_range(0..10) {
            0 => Payload::Burn {
                asset: assets()[rng.gen_range(0..3)],
                amount: amount(rng),
            },
            1 => {
                let others: Vec<PublicKey> = accounts
                    .iter()
                    .filter(|a| **a != source)
                    .copied()
                    .take(3)
                    .collect();
                let count = rng.gen_range(0..=others.len());
                let threshold = if count == 0 {
                    0
                } else {
                    rng.gen_range(1..=count as u8)
                };
                Payload::Multisig {
                    threshold,
                    participants: others[..count].to_vec(),
                }
            }
            _ => {
                let transfers = (0..rng.gen_range(1..4))
                    .map(|_| {
                        let mut destination = accounts[pick(rng)];
                        if destination == source {
                            destination = PublicKey::from_index(10_000 + rng.gen_range(0..4));
                        }
                        Transfer::new(assets()[rng.gen_range(0..3)], destination, amount(rng))
                    })
                    .collect();
                Payload::Transfers(transfers)
            }
        };
        let tx = Transaction::new(source, nonce, fee, payload);
        if seen.insert(*tx.hash()) {
            if let Ok(outcome) = execute_transaction(&tx, &mut simulation) {
                simulation.writes.extend(outcome.writes);
            }
            transactions.push(tx);
        }
    }
    let miner = accounts[rng.gen_range(0..accounts.len())];
    let reward = if rng.gen_bool(0.05) {
        u64::MAX / 2
    } else {
        1_000
    };
    Block::new(topoheight, miner, reward, transactions)
}

/// Builds the store (starting state plus one committed block, so some transactions of the
/// block under test are already executed) and the block under test.
pub fn build_case(shape: &CaseShape) -> (MemoryStore, Block) {
    let mut rng = ChaCha8Rng::seed_from_u64(shape.seed);
    let accounts: Vec<PublicKey> = (0..shape.accounts as u64)
        .map(PublicKey::from_index)
        .collect();
    let store = MemoryStore::with_state(starting_state(&mut rng, &accounts));
    let snapshot = store.snapshot().expect("memory snapshot");
    let first = random_block(&mut rng, &accounts, &snapshot, 1, 20, shape.hot_share);
    if let Ok(output) = execute_sequential(&first, &snapshot) {
        store
            .commit(&output.commit)
            .expect("commit the first block");
    }
    let snapshot = store.snapshot().expect("memory snapshot");
    let mut second = random_block(
        &mut rng,
        &accounts,
        &snapshot,
        2,
        shape.block_size,
        shape.hot_share,
    );
    // Replay a few transactions of the first block: already executed if they succeeded.
    let mut transactions = second.transactions().to_vec();
    for tx in first.transactions().iter().take(3) {
        if !transactions.iter().any(|t| t.hash() == tx.hash()) {
            let at = rng.gen_range(0..=transactions.len());
            transactions.insert(at, tx.clone());
        }
    }
    second = Block::new(
        second.topoheight(),
        *second.miner(),
        second.reward(),
        transactions,
    );
    (store, second)
}

/// Random case shapes: 2 to 1000 accounts, blocks of 1 to 399 transactions, uniform to
/// very hot senders, 1 to 8 threads.
pub fn shape_strategy() -> impl Strategy<Value = CaseShape> {
    (
        any::<u64>(),
        prop_oneof![Just(2usize), Just(3), Just(10), Just(100), Just(1000)],
        1usize..400,
        prop_oneof![Just(0.0), Just(0.5), Just(0.95)],
        1usize..=8,
    )
        .prop_map(
            |(seed, accounts, block_size, hot_share, threads)| CaseShape {
                seed,
                accounts,
                block_size,
                hot_share,
                threads,
            },
        )
}
