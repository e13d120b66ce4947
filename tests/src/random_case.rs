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

/// The workloads of the delta parity properties: blocks in which a few balances are
/// credited so often that Block-STM changes them by deltas (see `contention::analyze`:
/// credited at least twice and at least once per `2 × window` sampled transactions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HotWorkload {
    /// Many transactions credit 1–3 hot receivers (balances absent or ordinary); the
    /// senders are random.
    ManyCredits,
    /// The hot receivers start near `u64::MAX` (or are pushed there mid-block by whales),
    /// so that some credits overflow and later, smaller ones still fit; transactions
    /// credit one hot key twice, or a hot and a non-hot key (itself sometimes near
    /// `u64::MAX`); some senders' nonces are at or next to `u64::MAX`.
    NearMax,
    /// The hot receivers also spend (transfers, burns, fees alone), from small balances,
    /// so that some debit predicates fail with insufficient funds; now and then a block
    /// holds a self-transfer (malformed: both engines must reject it alike).
    Spenders,
    /// The miner is the hot receiver: the reward is the base under the deltas.
    HotMiner,
    /// All of the above at once.
    Mixed,
}

impl HotWorkload {
    /// Every workload.
    pub const ALL: [HotWorkload; 5] = [
        HotWorkload::ManyCredits,
        HotWorkload::NearMax,
        HotWorkload::Spenders,
        HotWorkload::HotMiner,
        HotWorkload::Mixed,
    ];

    fn near_max(self) -> bool {
        matches!(self, HotWorkload::NearMax | HotWorkload::Mixed)
    }

    fn spends(self) -> bool {
        matches!(self, HotWorkload::Spenders | HotWorkload::Mixed)
    }

    fn miner_is_hot(self) -> bool {
        matches!(self, HotWorkload::HotMiner | HotWorkload::Mixed)
    }
}

/// How a hot-receiver case is shaped.
#[derive(Clone, Copy, Debug)]
pub struct HotShape {
    /// Seeds everything random in the case.
    pub seed: u64,
    /// What the block does to its hot balances.
    pub workload: HotWorkload,
    /// Hot receivers (1–3).
    pub hot: usize,
    /// Ordinary senders.
    pub senders: usize,
    /// Transactions in the block.
    pub block_size: usize,
    /// Threads of the engine under test.
    pub threads: usize,
}

/// The hot receivers of a hot-receiver case: accounts `0..hot`.
pub fn hot_accounts(hot: usize) -> Vec<PublicKey> {
    (0..hot as u64).map(PublicKey::from_index).collect()
}

/// Accounts that only receive, too rarely to be hot: `1000..1008`.
pub fn outsiders() -> Vec<PublicKey> {
    (1000..1008).map(PublicKey::from_index).collect()
}

/// The assets of the hot-receiver cases: TOS and one other (hot receivers are credited
/// in both, so both can be hot).
fn hot_assets() -> [Asset; 2] {
    [Asset::TOS, Asset::from_index(1)]
}

/// Builds the starting state (a store at topoheight 0) and the block under test of a
/// hot-receiver case. The generator tracks the state the block reaches (reward
/// included), so that most nonces are right and some credits fill a hot balance up to
/// `u64::MAX` exactly or overflow it by one.
pub fn build_hot_case(shape: &HotShape) -> (MemoryStore, Block) {
    let mut rng = ChaCha8Rng::seed_from_u64(shape.seed);
    let workload = shape.workload;
    let hot = hot_accounts(shape.hot.clamp(1, 3));
    let senders: Vec<PublicKey> = (100..100 + shape.senders.max(3) as u64)
        .map(PublicKey::from_index)
        .collect();
    let outsiders = outsiders();
    // A few senders rich enough to credit near-`u64::MAX` amounts.
    let whales = if workload.near_max() { 2 } else { 0 };

    let mut state = Vec::new();
    for (index, sender) in senders.iter().enumerate() {
        let nonce = match rng.gen_range(0..20) {
            0 | 1 => None,
            2 | 3 if workload.near_max() => Some(u64::MAX - rng.gen_range(0..2)),
            _ => Some(rng.gen_range(0..3)),
        };
        if let Some(nonce) = nonce {
            state.push((StateKey::Nonce(*sender), StateValue::Nonce(nonce)));
        }
        for asset in hot_assets() {
            let balance = if index < whales {
                u64::MAX - rng.gen_range(0..1000)
            } else {
                match rng.gen_range(0..10) {
                    0 => continue,
                    1 => rng.gen_range(0..50),
                    _ => rng.gen_range(100_000..10_000_000),
                }
            };
            state.push((
                StateKey::Balance(*sender, asset),
                StateValue::Balance(balance),
            ));
        }
    }
    let credits_per_key = (shape.block_size as u64 * 2 / hot.len() as u64).max(1);
    let mut feeless = false;
    for (index, receiver) in hot.iter().enumerate() {
        if rng.gen_bool(0.7) {
            state.push((
                StateKey::Nonce(*receiver),
                StateValue::Nonce(rng.gen_range(0..3)),
            ));
        }
        for asset in hot_assets() {
            let is_miner = workload.miner_is_hot() && index == 0 && asset == Asset::TOS;
            let near_max_share = match workload {
                HotWorkload::NearMax => 0.6,
                HotWorkload::Mixed => 0.5,
                HotWorkload::HotMiner if is_miner => 0.4,
                _ => 0.0,
            };
            let balance = if rng.gen_bool(near_max_share) {
                // Overflow right away, somewhere mid-block, or hardly ever.
                let headroom = match rng.gen_range(0..4) {
                    0 => rng.gen_range(0..10),
                    1 | 2 => rng.gen_range(0..credits_per_key * 2_000),
                    _ => rng.gen_range(0..credits_per_key * 20_000),
                };
                if is_miner {
                    // Whether a credit fits depends on the reward (1000, now and then
                    // none or much more), which must fit itself but for rare blocks. No
                    // fees then, or the epilogue's fee credit to the miner would fail
                    // most of these blocks as a whole.
                    feeless = true;
                    u64::MAX - 1_000 - headroom
                } else {
                    u64::MAX - headroom
                }
            } else if workload.spends() {
                match rng.gen_range(0..3) {
                    0 => continue,
                    _ => rng.gen_range(0..5_000),
                }
            } else {
                match rng.gen_range(0..4) {
                    0 => continue,
                    1 => rng.gen_range(0..100),
                    _ => rng.gen_range(0..1_000_000),
                }
            };
            state.push((
                StateKey::Balance(*receiver, asset),
                StateValue::Balance(balance),
            ));
        }
    }
    for outsider in &outsiders {
        if workload.near_max() && rng.gen_bool(0.5) {
            state.push((
                StateKey::Balance(*outsider, Asset::TOS),
                StateValue::Balance(u64::MAX - rng.gen_range(0..20_000)),
            ));
        }
    }

    let store = MemoryStore::with_state(state);
    let snapshot = store.snapshot().expect("memory snapshot");
    let mut simulation = Simulation {
        storage: &snapshot,
        writes: HashMap::new(),
    };

    // The miner and the prologue first, so that the simulation sees the reward.
    let miner = if workload.miner_is_hot() {
        hot[0]
    } else {
        // Not a whale: its reward would overflow.
        senders[rng.gen_range(whales..senders.len())]
    };
    let reward = match rng.gen_range(0..20) {
        0 => 0,
        1 if workload.miner_is_hot() => rng.gen_range(0..1u64 << 40),
        _ => 1_000,
    };
    let miner_key = StateKey::Balance(miner, Asset::TOS);
    let miner_balance = simulation.balance(&miner_key);
    if let Some(rewarded) = miner_balance.checked_add(reward) {
        simulation
            .writes
            .insert(miner_key, StateValue::Balance(rewarded));
    }

    let self_transfer_at = (workload.spends() && rng.gen_bool(0.03))
        .then(|| rng.gen_range(0..shape.block_size.max(1)));
    let mut transactions = Vec::with_capacity(shape.block_size);
    let mut seen = HashSet::new();
    while transactions.len() < shape.block_size {
        let hot_sender = workload.spends() && rng.gen_bool(0.3);
        let whale = !hot_sender && whales > 0 && rng.gen_bool(0.15);
        let source = if hot_sender {
            hot[rng.gen_range(0..hot.len())]
        } else if whale {
            senders[rng.gen_range(0..whales)]
        } else {
            senders[rng.gen_range(0..senders.len())]
        };
        let current = simulation.nonce(source);
        let nonce = match rng.gen_range(0..25) {
            0 => current.wrapping_add(1),
            1 => current.wrapping_sub(1),
            _ => current,
        };
        let fee = match rng.gen_range(0..30) {
            _ if feeless => 0,
            0 if hot_sender => rng.gen_range(0..20_000),
            1 => 0,
            _ => rng.gen_range(1..20),
        };
        // A destination other than the source: mostly a hot receiver.
        let destination = |rng: &mut ChaCha8Rng, hot_share: f64| loop {
            let candidate = if rng.gen_bool(hot_share) {
                // Skewed: the first hot receiver is the hottest.
                hot[rng.gen_range(0..hot.len()).min(rng.gen_range(0..hot.len()))]
            } else if rng.gen_bool(0.5) {
                outsiders[rng.gen_range(0..outsiders.len())]
            } else {
                senders[rng.gen_range(0..senders.len())]
            };
            if candidate != source {
                break candidate;
            }
        };
        let asset = |rng: &mut ChaCha8Rng| hot_assets()[usize::from(rng.gen_bool(0.2))];
        let payload = if transactions.len() == self_transfer_at.unwrap_or(usize::MAX) {
            Payload::Transfers(vec![Transfer::new(Asset::TOS, source, 1)])
        } else if hot_sender {
            match rng.gen_range(0..12) {
                // Spends all the balance the block has given it so far, or one more:
                // the predicate holds or fails on the last credit below it.
                10 | 11 => {
                    let asset = asset(&mut rng);
                    let balance = simulation.balance(&StateKey::Balance(source, asset));
                    let fee = if asset == Asset::TOS { fee } else { 0 };
                    let amount = balance
                        .saturating_sub(fee)
                        .saturating_add(u64::from(rng.gen_bool(0.5)))
                        .max(1);
                    if rng.gen_bool(0.5) {
                        Payload::Burn { asset, amount }
                    } else {
                        Payload::Transfers(vec![Transfer::new(
                            asset,
                            destination(&mut rng, 0.5),
                            amount,
                        )])
                    }
                }
                0 | 1 => Payload::Burn {
                    asset: asset(&mut rng),
                    amount: rng.gen_range(1..20_000),
                },
                // Spends the fee alone.
                2 => Payload::Multisig {
                    threshold: 0,
                    participants: Vec::new(),
                },
                _ => {
                    let transfers = (0..rng.gen_range(1..=3))
                        .map(|_| {
                            Transfer::new(
                                asset(&mut rng),
                                destination(&mut rng, 0.5),
                                rng.gen_range(1..20_000),
                            )
                        })
                        .collect();
                    Payload::Transfers(transfers)
                }
            }
        } else if rng.gen_bool(0.04) {
            Payload::Burn {
                asset: asset(&mut rng),
                amount: rng.gen_range(1..5_000),
            }
        } else {
            let mut transfers: Vec<Transfer> = Vec::new();
            let pattern = rng.gen_range(0..10);
            if pattern < 2 {
                // One hot key credited twice.
                let to = hot[rng.gen_range(0..hot.len())];
                let asset = asset(&mut rng);
                transfers.push(Transfer::new(
                    asset,
                    to,
                    credit_amount(&mut rng, workload, whale),
                ));
                transfers.push(Transfer::new(
                    asset,
                    to,
                    credit_amount(&mut rng, workload, whale),
                ));
            } else if pattern < 4 {
                // A hot and a non-hot key, in either order.
                let to = hot[rng.gen_range(0..hot.len())];
                let other = outsiders[rng.gen_range(0..outsiders.len())];
                let mut pair = [
                    Transfer::new(Asset::TOS, to, credit_amount(&mut rng, workload, whale)),
                    Transfer::new(Asset::TOS, other, credit_amount(&mut rng, workload, whale)),
                ];
                if rng.gen_bool(0.5) {
                    pair.swap(0, 1);
                }
                transfers.extend(pair);
            } else {
                for _ in 0..rng.gen_range(1..=3) {
                    let to = destination(&mut rng, 0.85);
                    transfers.push(Transfer::new(
                        asset(&mut rng),
                        to,
                        credit_amount(&mut rng, workload, whale),
                    ));
                }
            }
            if workload.near_max() && rng.gen_bool(0.15) {
                // Fill a credited balance up to `u64::MAX` exactly, or one past it.
                let at = rng.gen_range(0..transfers.len());
                let Transfer {
                    asset, destination, ..
                } = transfers[at];
                let headroom =
                    u64::MAX - simulation.balance(&StateKey::Balance(destination, asset));
                let amount = headroom.saturating_add(u64::from(rng.gen_bool(0.5))).max(1);
                if amount <= simulation.balance(&StateKey::Balance(source, asset)) / 2 {
                    transfers[at] = Transfer::new(asset, destination, amount);
                }
            }
            Payload::Transfers(transfers)
        };
        let tx = Transaction::new(source, nonce, fee, payload);
        if seen.insert(*tx.hash()) {
            if let Ok(outcome) = execute_transaction(&tx, &mut simulation) {
                simulation.writes.extend(outcome.writes);
            }
            transactions.push(tx);
        }
    }
    (store, Block::new(1, miner, reward, transactions))
}

/// A credit's amount: mostly small, sometimes large; near-`u64::MAX` workloads also
/// draw a whale's share of the supply now and then.
fn credit_amount(rng: &mut ChaCha8Rng, workload: HotWorkload, whale: bool) -> u64 {
    match rng.gen_range(0..20) {
        0..=5 if whale => rng.gen_range(1..u64::MAX / 3),
        0 if workload.near_max() => rng.gen_range(1..u64::MAX / 3),
        1 | 2 => rng.gen_range(5_000..100_000),
        _ => rng.gen_range(1..5_000),
    }
}

impl<S: StateView> Simulation<'_, S> {
    /// The balance at `key` after the transactions generated so far (absent = 0).
    pub fn balance(&mut self, key: &StateKey) -> u64 {
        match self.read(key) {
            Ok(Some(StateValue::Balance(balance))) => balance,
            _ => 0,
        }
    }
}

/// Random hot-receiver case shapes of `workload`: 1–3 hot receivers, 3–60 senders,
/// blocks of 2–700 transactions (past the 256 the hot balances are picked from), 2–4
/// threads.
pub fn hot_shape_strategy(workload: HotWorkload) -> impl Strategy<Value = HotShape> {
    let block_size = prop_oneof![2usize..=64, 2usize..=300, 256usize..=700];
    (
        any::<u64>(),
        1usize..=3,
        2usize..=60,
        block_size,
        2usize..=4,
    )
        .prop_map(move |(seed, hot, senders, block_size, threads)| HotShape {
            seed,
            workload,
            hot,
            senders,
            block_size,
            threads,
        })
}
