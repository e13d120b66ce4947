//! The seeded workload generator shared by the binary, the benches and the tests.
//!
//! One generator, so that a figure in a report, a bench and a failing test all talk about
//! the same blocks. Everything is drawn from one ChaCha8 stream seeded by
//! [`WorkloadConfig::seed`]: the same configuration always yields the same genesis and the
//! same sequence of blocks, on every platform.
//!
//! The generator tracks each account's next nonce, assuming its well-formed transactions
//! succeed (accounts start with [`GENESIS_BALANCE`], far more than any run spends), so with
//! `failure_rate == 0` every transaction succeeds. Deliberately failing transactions
//! either carry a wrong nonce (`expected + 1_000_000 + counter`) or spend more than any
//! balance (`u64::MAX / 4 + counter`); they do not advance the sender's nonce.
//!
//! Hashes never repeat: successful transactions differ by `(source, nonce)`; failing ones
//! pay a zero fee (successful ones pay 1..=10) and differ from each other by the counter.
//!
//! # Contract workloads
//!
//! `token`, `token-chain`, `amm`, `mint` and `mixed` call the bundled contracts
//! (`contract-vm`'s `contracts/`). Their genesis ([`Workload::genesis`]) deploys them
//! directly into state, at the addresses deploys by [`deployer`] at nonces 0, 1, … would
//! get: the token, with every account holding [`TOKEN_BALANCE`]; the ticket mint; and
//! [`WorkloadConfig::pools`] AMM pools, each holding [`POOL_RESERVE`] of two assets that
//! every account also holds. Calls reserve [`CALL_MAX_GAS`], far more than they use, and
//! amounts are sized so that no call reverts: with no deliberate failures every
//! transaction still succeeds.

use std::fmt;
use std::str::FromStr;

use std::sync::Arc;

use contract_vm::contracts;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use storage_adapter::{
    Asset, BlockCommit, ContractId, ModuleCode, PublicKey, StateKey, StateValue, StorageValue,
};

use crate::block::genesis_commit_with;
use crate::model::{Block, Deposit, Payload, Transaction, Transfer};
use crate::outcome::BlockError;

/// What every account holds in TOS (and in each extra asset for
/// [`WorkloadKind::MultiAsset`]) at genesis: 1000 TOS, which covers ~10⁸ transactions of
/// at most 1010 units, while 10 000 accounts stay below the maximum supply.
pub const GENESIS_BALANCE: u64 = 100_000_000_000;

/// The reward of every generated block.
pub const BLOCK_REWARD: u64 = 1_000_000;

/// How many senders [`WorkloadKind::NonceChains`] uses at most.
pub const NONCE_CHAIN_SENDERS: usize = 16;

/// How many assets besides TOS [`WorkloadKind::MultiAsset`] moves.
pub const EXTRA_ASSETS: u64 = 3;

/// Every account's token balance at genesis in the token workloads.
pub const TOKEN_BALANCE: u64 = 1_000_000_000;

/// Each AMM pool's reserve of each of its two assets at genesis.
pub const POOL_RESERVE: u64 = 100_000_000_000;

/// The gas every generated contract call reserves: several times what the bundled
/// contracts use, so that none runs out.
pub const CALL_MAX_GAS: u64 = 50_000;

/// The default [`WorkloadConfig::pools`].
pub const DEFAULT_POOLS: usize = 16;

/// How many holders [`WorkloadConfig::hot_ratio`] skews token transfers onto.
pub const HOT_HOLDERS: usize = 4;

/// The account whose deploys put the workloads' contracts in place (it holds nothing).
pub fn deployer() -> PublicKey {
    PublicKey::from_index(u64::MAX)
}

/// The token contract of the contract workloads.
pub fn token_contract() -> ContractId {
    crate::contract::address(&deployer(), 0)
}

/// The ticket mint contract of the contract workloads.
pub fn ticket_contract() -> ContractId {
    crate::contract::address(&deployer(), 1)
}

/// AMM pool `index` of the contract workloads.
pub fn pool_contract(index: usize) -> ContractId {
    crate::contract::address(&deployer(), 2 + index as u64)
}

/// The two assets every AMM pool trades.
pub fn pool_assets() -> (Asset, Asset) {
    (Asset::from_index(1_000), Asset::from_index(1_001))
}

/// The shape of the generated transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WorkloadKind {
    /// A random sender pays a random other account (N = 2 is A ↔ B).
    P2p,
    /// Every transaction pays account 0; senders are random among the others.
    HotReceiver,
    /// A few senders (at most 16, see `NONCE_CHAIN_SENDERS`) each send chains of
    /// consecutive nonces to random receivers.
    NonceChains,
    /// 1–3 transfers per transaction, each in TOS or one of 3 other assets.
    MultiAsset,
    /// About 20% burns of TOS, the rest peer-to-peer transfers.
    Burns,
    /// Token transfers between random holders (skewed by [`WorkloadConfig::hot_ratio`]).
    Token,
    /// Token transfers where each holder pays the next: every call depends on the one
    /// before it, the worst case for any parallel engine.
    TokenChain,
    /// Swaps on [`WorkloadConfig::pools`] AMM pools, random pool and direction.
    Amm,
    /// Every call takes the ticket mint's next ticket: one global counter.
    Mint,
    /// 60% native transfers, 20% token transfers, 20% swaps.
    Mixed,
}

impl WorkloadKind {
    /// Every kind, in declaration order.
    pub const ALL: [WorkloadKind; 10] = [
        WorkloadKind::P2p,
        WorkloadKind::HotReceiver,
        WorkloadKind::NonceChains,
        WorkloadKind::MultiAsset,
        WorkloadKind::Burns,
        WorkloadKind::Token,
        WorkloadKind::TokenChain,
        WorkloadKind::Amm,
        WorkloadKind::Mint,
        WorkloadKind::Mixed,
    ];

    /// Whether the kind calls contracts.
    pub fn calls_contracts(self) -> bool {
        matches!(
            self,
            WorkloadKind::Token
                | WorkloadKind::TokenChain
                | WorkloadKind::Amm
                | WorkloadKind::Mint
                | WorkloadKind::Mixed
        )
    }

    /// The kind's command-line name.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::P2p => "p2p",
            WorkloadKind::HotReceiver => "hot-receiver",
            WorkloadKind::NonceChains => "nonce-chains",
            WorkloadKind::MultiAsset => "multi-asset",
            WorkloadKind::Burns => "burns",
            WorkloadKind::Token => "token",
            WorkloadKind::TokenChain => "token-chain",
            WorkloadKind::Amm => "amm",
            WorkloadKind::Mint => "mint",
            WorkloadKind::Mixed => "mixed",
        }
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a [`WorkloadKind`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown workload `{0}` (expected p2p, hot-receiver, nonce-chains, multi-asset, burns, \
     token, token-chain, amm, mint or mixed)"
)]
pub struct UnknownWorkloadKind(pub String);

impl FromStr for WorkloadKind {
    type Err = UnknownWorkloadKind;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        WorkloadKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| UnknownWorkloadKind(name.to_owned()))
    }
}

/// A workload's parameters; the same parameters give the same blocks.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadConfig {
    /// The transaction shape.
    pub kind: WorkloadKind,
    /// How many accounts take part; at least 2.
    pub accounts: usize,
    /// Transactions per block.
    pub block_size: usize,
    /// The seed of the random stream.
    pub seed: u64,
    /// Share (0.0..=1.0) of deliberately failing transactions.
    pub failure_rate: f64,
    /// AMM pools ([`WorkloadKind::Amm`], [`WorkloadKind::Mixed`]); at least 1.
    pub pools: usize,
    /// Share (0.0..=1.0) of token transfers whose sender, and independently whose
    /// receiver, is one of [`HOT_HOLDERS`] holders ([`WorkloadKind::Token`],
    /// [`WorkloadKind::Mixed`]); 0 is uniform.
    pub hot_ratio: f64,
}

impl WorkloadConfig {
    /// A configuration with no deliberate failures.
    pub fn new(kind: WorkloadKind, accounts: usize, block_size: usize, seed: u64) -> Self {
        Self {
            kind,
            accounts,
            block_size,
            seed,
            failure_rate: 0.0,
            pools: DEFAULT_POOLS,
            hot_ratio: 0.0,
        }
    }
}

impl Default for WorkloadConfig {
    /// The binary's defaults: p2p over 1000 accounts, blocks of 1000, seed 42.
    fn default() -> Self {
        Self::new(WorkloadKind::P2p, 1000, 1000, 42)
    }
}

/// A configuration the generator cannot honour.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum WorkloadError {
    /// Transfers need a sender and another receiver.
    #[error("a workload needs at least 2 accounts, got {0}")]
    TooFewAccounts(usize),
    /// The failure rate is not a probability.
    #[error("failure rate must be within 0.0..=1.0, got {0}")]
    InvalidFailureRate(f64),
    /// The hot ratio is not a probability.
    #[error("hot ratio must be within 0.0..=1.0, got {0}")]
    InvalidHotRatio(f64),
    /// An AMM workload needs a pool.
    #[error("an AMM workload needs at least 1 pool")]
    NoPools,
}

/// The generator: a configuration, the accounts, their next nonces and the random stream.
#[derive(Clone, Debug)]
pub struct Workload {
    config: WorkloadConfig,
    accounts: Vec<PublicKey>,
    /// TOS first, then the extra assets (multi-asset only).
    assets: Vec<Asset>,
    next_nonce: Vec<u64>,
    /// Counts deliberate failures; makes each failing transaction unique.
    failures: u64,
    /// The next sender of [`WorkloadKind::TokenChain`].
    chain_position: usize,
    rng: ChaCha8Rng,
}

impl Workload {
    /// A generator for `config`; accounts are `PublicKey::from_index(0..accounts)`.
    pub fn new(config: WorkloadConfig) -> Result<Self, WorkloadError> {
        if config.accounts < 2 {
            return Err(WorkloadError::TooFewAccounts(config.accounts));
        }
        if !(0.0..=1.0).contains(&config.failure_rate) {
            return Err(WorkloadError::InvalidFailureRate(config.failure_rate));
        }
        if !(0.0..=1.0).contains(&config.hot_ratio) {
            return Err(WorkloadError::InvalidHotRatio(config.hot_ratio));
        }
        if config.pools == 0 {
            return Err(WorkloadError::NoPools);
        }
        let accounts = (0..config.accounts as u64)
            .map(PublicKey::from_index)
            .collect();
        let mut assets = vec![Asset::TOS];
        if config.kind == WorkloadKind::MultiAsset {
            assets.extend((1..=EXTRA_ASSETS).map(Asset::from_index));
        }
        if matches!(config.kind, WorkloadKind::Amm | WorkloadKind::Mixed) {
            let (a, b) = pool_assets();
            assets.extend([a, b]);
        }
        Ok(Self {
            next_nonce: vec![0; config.accounts],
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            config,
            accounts,
            assets,
            failures: 0,
            chain_position: 0,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &WorkloadConfig {
        &self.config
    }

    /// The participating accounts, by index.
    pub fn accounts(&self) -> &[PublicKey] {
        &self.accounts
    }

    /// The nonce the generator expects account `index` to have once every block generated
    /// so far is applied; `None` for an index out of range.
    pub fn expected_nonce(&self, index: usize) -> Option<u64> {
        self.next_nonce.get(index).copied()
    }

    /// The genesis commit: [`Workload::genesis_allocations`], and for the contract
    /// workloads [`Workload::genesis_contracts`].
    pub fn genesis(&self) -> Result<BlockCommit, BlockError> {
        genesis_commit_with(&self.genesis_allocations(), self.genesis_contracts())
    }

    /// The contracts in place at genesis, as state (empty for the native workloads):
    /// see the module documentation.
    pub fn genesis_contracts(&self) -> Vec<(StateKey, StateValue)> {
        if !self.config.kind.calls_contracts() {
            return Vec::new();
        }
        let module = |source: &str| {
            // The bundled sources are part of this crate's tests: they always assemble.
            let bytecode = contract_vm::assemble_source(source)
                .unwrap_or_else(|error| panic!("invariant: a bundled contract assembles: {error}"));
            StateValue::Module(Arc::new(ModuleCode::new(&bytecode)))
        };
        let stored = |value: StorageValue| StateValue::Storage(Some(Arc::new(value)));
        let mut state = Vec::new();

        let token = token_contract();
        state.push((StateKey::Module(token), module(contracts::TOKEN)));
        state.push((
            StateKey::Storage(token, contracts::token::OWNER_KEY),
            stored(StorageValue::from_slice(deployer().as_bytes())),
        ));
        let supply = TOKEN_BALANCE.saturating_mul(self.accounts.len() as u64);
        state.push((
            StateKey::Storage(token, contracts::token::SUPPLY_KEY),
            stored(StorageValue::from(supply)),
        ));
        for holder in &self.accounts {
            state.push((
                StateKey::Storage(token, contracts::token::balance_key(holder)),
                stored(StorageValue::from(TOKEN_BALANCE)),
            ));
        }

        state.push((
            StateKey::Module(ticket_contract()),
            module(contracts::TICKET),
        ));

        let amm = module(contracts::AMM);
        let (asset_a, asset_b) = pool_assets();
        for index in 0..self.config.pools {
            let pool = pool_contract(index);
            state.push((StateKey::Module(pool), amm.clone()));
            state.push((
                StateKey::Storage(pool, contracts::amm::asset_a_key()),
                stored(StorageValue::from_slice(asset_a.as_bytes())),
            ));
            state.push((
                StateKey::Storage(pool, contracts::amm::asset_b_key()),
                stored(StorageValue::from_slice(asset_b.as_bytes())),
            ));
            for (key, asset) in [
                (contracts::amm::reserve_a_key(), asset_a),
                (contracts::amm::reserve_b_key(), asset_b),
            ] {
                state.push((
                    StateKey::Storage(pool, key),
                    stored(StorageValue::from(POOL_RESERVE)),
                ));
                state.push((
                    StateKey::ContractBalance(pool, asset),
                    StateValue::Balance(POOL_RESERVE),
                ));
            }
        }
        state
    }

    /// The genesis balances: every account holds [`GENESIS_BALANCE`] TOS, and for
    /// multi-asset also as much of each extra asset, for the AMM workloads of both pool
    /// assets.
    pub fn genesis_allocations(&self) -> Vec<(PublicKey, Asset, u64)> {
        self.accounts
            .iter()
            .flat_map(|account| {
                self.assets
                    .iter()
                    .map(move |asset| (*account, *asset, GENESIS_BALANCE))
            })
            .collect()
    }

    /// The next block, at `topoheight`, mined by a random account with [`BLOCK_REWARD`].
    pub fn next_block(&mut self, topoheight: u64) -> Block {
        let miner = self.accounts[self.rng.gen_range(0..self.accounts.len())];
        let transactions = (0..self.config.block_size)
            .map(|_| self.next_transaction())
            .collect();
        Block::new(topoheight, miner, BLOCK_REWARD, transactions)
    }

    fn next_transaction(&mut self) -> Transaction {
        let accounts = self.accounts.len();
        let fail = self.config.failure_rate > 0.0 && self.rng.gen_bool(self.config.failure_rate);
        let sender = match self.config.kind {
            WorkloadKind::HotReceiver => self.rng.gen_range(1..accounts),
            WorkloadKind::NonceChains => self.rng.gen_range(0..accounts.min(NONCE_CHAIN_SENDERS)),
            WorkloadKind::TokenChain => {
                let sender = self.chain_position % accounts;
                self.chain_position = self.chain_position.wrapping_add(1);
                sender
            }
            WorkloadKind::Token => self.token_holder(),
            WorkloadKind::P2p
            | WorkloadKind::MultiAsset
            | WorkloadKind::Burns
            | WorkloadKind::Amm
            | WorkloadKind::Mint
            | WorkloadKind::Mixed => self.rng.gen_range(0..accounts),
        };
        let fee = self.rng.gen_range(1..=10);
        let mut payload = match self.config.kind {
            WorkloadKind::P2p | WorkloadKind::NonceChains => self.tos_transfer(sender),
            WorkloadKind::HotReceiver => Payload::Transfers(vec![Transfer::new(
                Asset::TOS,
                self.accounts[0],
                self.amount(),
            )]),
            WorkloadKind::MultiAsset => {
                let count = self.rng.gen_range(1..=3);
                let transfers = (0..count)
                    .map(|_| {
                        let asset = self.assets[self.rng.gen_range(0..self.assets.len())];
                        let destination = self.other_than(sender);
                        Transfer::new(asset, self.accounts[destination], self.amount())
                    })
                    .collect();
                Payload::Transfers(transfers)
            }
            WorkloadKind::Burns => {
                if self.rng.gen_bool(0.2) {
                    Payload::Burn {
                        asset: Asset::TOS,
                        amount: self.amount(),
                    }
                } else {
                    self.tos_transfer(sender)
                }
            }
            WorkloadKind::Token => self.token_transfer(sender),
            WorkloadKind::TokenChain => {
                let receiver = (sender + 1) % accounts;
                let amount = self.amount();
                call(
                    token_contract(),
                    Vec::new(),
                    contracts::token::transfer(&self.accounts[receiver], amount),
                )
            }
            WorkloadKind::Amm => self.swap(),
            WorkloadKind::Mint => call(ticket_contract(), Vec::new(), contracts::ticket::mint()),
            WorkloadKind::Mixed => match self.rng.gen_range(0..10) {
                0..6 => self.tos_transfer(sender),
                6..8 => self.token_transfer(sender),
                _ => self.swap(),
            },
        };
        let source = self.accounts[sender];
        let expected = self.next_nonce[sender];
        if !fail {
            self.next_nonce[sender] = expected.saturating_add(1);
            return Transaction::new(source, expected, fee, payload);
        }
        self.failures += 1;
        let nonce = if self.rng.gen_bool(0.5) {
            expected
                .saturating_add(1_000_000)
                .saturating_add(self.failures)
        } else {
            let destination = self.other_than(sender);
            let amount = (u64::MAX / 4).saturating_add(self.failures);
            payload = Payload::Transfers(vec![Transfer::new(
                Asset::TOS,
                self.accounts[destination],
                amount,
            )]);
            expected
        };
        // A zero fee sets failing transactions apart from every successful one (fee ≥ 1).
        Transaction::new(source, nonce, 0, payload)
    }

    fn tos_transfer(&mut self, sender: usize) -> Payload {
        let destination = self.other_than(sender);
        let amount = self.amount();
        Payload::Transfers(vec![Transfer::new(
            Asset::TOS,
            self.accounts[destination],
            amount,
        )])
    }

    /// A token holder: one of the first [`HOT_HOLDERS`] with probability `hot_ratio`,
    /// any holder otherwise.
    fn token_holder(&mut self) -> usize {
        let accounts = self.accounts.len();
        if self.config.hot_ratio > 0.0 && self.rng.gen_bool(self.config.hot_ratio) {
            self.rng.gen_range(0..accounts.min(HOT_HOLDERS))
        } else {
            self.rng.gen_range(0..accounts)
        }
    }

    fn token_transfer(&mut self, sender: usize) -> Payload {
        let mut receiver = self.token_holder();
        if receiver == sender {
            receiver = self.other_than(sender);
        }
        let amount = self.amount();
        call(
            token_contract(),
            Vec::new(),
            contracts::token::transfer(&self.accounts[receiver], amount),
        )
    }

    /// A swap on a random pool in a random direction, of 1000..=10000 units: enough that
    /// the output is never zero, small enough against the reserves that nothing
    /// overflows.
    fn swap(&mut self) -> Payload {
        let pool = pool_contract(self.rng.gen_range(0..self.config.pools));
        let (asset_a, asset_b) = pool_assets();
        let (direction, asset) = if self.rng.gen_bool(0.5) {
            (contracts::amm::A_TO_B, asset_a)
        } else {
            (contracts::amm::B_TO_A, asset_b)
        };
        let amount = self.rng.gen_range(1_000..=10_000);
        call(
            pool,
            vec![Deposit { asset, amount }],
            contracts::amm::swap(direction, 1),
        )
    }

    /// A random account index other than `index` (there are at least 2 accounts).
    fn other_than(&mut self, index: usize) -> usize {
        let drawn = self.rng.gen_range(0..self.accounts.len() - 1);
        if drawn >= index {
            drawn + 1
        } else {
            drawn
        }
    }

    fn amount(&mut self) -> u64 {
        self.rng.gen_range(1..=1000)
    }
}

/// A call of `contract` with `deposits` and `input`, reserving [`CALL_MAX_GAS`].
fn call(contract: ContractId, deposits: Vec<Deposit>, input: Vec<u8>) -> Payload {
    Payload::InvokeContract {
        contract,
        deposits,
        max_gas: CALL_MAX_GAS,
        input,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use storage_adapter::{BlockStore, MemoryStore};

    use super::*;
    use crate::engine::sequential::execute_sequential;
    use crate::outcome::{TxFailure, TxResult};

    /// Runs `blocks` generated blocks from genesis, returning every result.
    fn run(config: WorkloadConfig, blocks: u64) -> Vec<TxResult> {
        let mut workload = Workload::new(config).expect("valid config");
        let store = MemoryStore::new();
        store
            .commit(&workload.genesis().expect("genesis"))
            .expect("genesis commit");
        let mut results = Vec::new();
        for topoheight in 1..=blocks {
            let block = workload.next_block(topoheight);
            let output = execute_sequential(&block, &store.snapshot().expect("snapshot"))
                .expect("generated block is valid");
            store.commit(&output.commit).expect("commit");
            results.extend(output.results);
        }
        results
    }

    #[test]
    fn same_seed_same_blocks_other_seed_other_blocks() {
        for kind in WorkloadKind::ALL {
            let config = WorkloadConfig {
                failure_rate: 0.1,
                ..WorkloadConfig::new(kind, 10, 50, 7)
            };
            let mut a = Workload::new(config.clone()).expect("valid config");
            let mut b = Workload::new(config.clone()).expect("valid config");
            let mut c = Workload::new(WorkloadConfig { seed: 8, ..config }).expect("valid config");
            assert_eq!(a.genesis_allocations(), b.genesis_allocations());
            for topoheight in 1..=3 {
                let block = a.next_block(topoheight);
                assert_eq!(block, b.next_block(topoheight), "{kind}");
                assert_ne!(block, c.next_block(topoheight), "{kind}");
            }
        }
    }

    #[test]
    fn hashes_never_repeat() {
        for kind in WorkloadKind::ALL {
            for accounts in [2, 10] {
                let config = WorkloadConfig {
                    failure_rate: 0.3,
                    ..WorkloadConfig::new(kind, accounts, 500, 1)
                };
                let mut workload = Workload::new(config).expect("valid config");
                let mut seen = HashSet::new();
                for topoheight in 1..=6 {
                    for tx in workload.next_block(topoheight).transactions() {
                        assert!(seen.insert(*tx.hash()), "{kind} repeated {:?}", tx.hash());
                    }
                }
            }
        }
    }

    #[test]
    fn every_transaction_succeeds_without_deliberate_failures() {
        for kind in WorkloadKind::ALL {
            for accounts in [2, 50] {
                let results = run(WorkloadConfig::new(kind, accounts, 300, 3), 4);
                assert_eq!(results.len(), 1200);
                let failed: Vec<_> = results
                    .iter()
                    .filter(|result| !result.is_success())
                    .collect();
                assert!(
                    failed.is_empty(),
                    "{kind} with {accounts} accounts: {failed:?}"
                );
            }
        }
    }

    #[test]
    fn failure_rate_produces_the_intended_failures_only() {
        for kind in WorkloadKind::ALL {
            let config = WorkloadConfig {
                failure_rate: 0.25,
                ..WorkloadConfig::new(kind, 20, 400, 5)
            };
            let results = run(config, 3);
            let failed = results.iter().filter(|result| !result.is_success()).count();
            let share = failed as f64 / results.len() as f64;
            assert!(
                (0.18..0.32).contains(&share),
                "{kind}: failure share {share}"
            );
            for result in &results {
                assert!(
                    matches!(
                        result,
                        TxResult::Success
                            | TxResult::Failed(
                                TxFailure::InvalidNonce { .. }
                                    | TxFailure::InsufficientFunds { .. }
                            )
                    ),
                    "{kind}: {result:?}"
                );
            }
        }
    }

    #[test]
    fn kinds_have_their_shape() {
        let mut hot = Workload::new(WorkloadConfig::new(WorkloadKind::HotReceiver, 5, 100, 1))
            .expect("valid");
        let receiver = hot.accounts()[0];
        for tx in hot.next_block(1).transactions() {
            assert_ne!(*tx.source(), receiver);
            assert!(
                matches!(tx.payload(), Payload::Transfers(t) if t.len() == 1 && t[0].destination == receiver)
            );
        }
        let mut chains = Workload::new(WorkloadConfig::new(WorkloadKind::NonceChains, 100, 500, 1))
            .expect("valid");
        let senders: HashSet<_> = chains
            .next_block(1)
            .transactions()
            .iter()
            .map(|tx| *tx.source())
            .collect();
        assert!(senders.len() <= NONCE_CHAIN_SENDERS);
        let mut burns =
            Workload::new(WorkloadConfig::new(WorkloadKind::Burns, 10, 1000, 1)).expect("valid");
        let burn_count = burns
            .next_block(1)
            .transactions()
            .iter()
            .filter(|tx| matches!(tx.payload(), Payload::Burn { .. }))
            .count();
        assert!(
            (120..280).contains(&burn_count),
            "{burn_count} burns in 1000"
        );
        let mut multi = Workload::new(WorkloadConfig::new(WorkloadKind::MultiAsset, 10, 300, 1))
            .expect("valid");
        assert_eq!(multi.genesis_allocations().len(), 40);
        let assets: HashSet<_> = multi
            .next_block(1)
            .transactions()
            .iter()
            .flat_map(|tx| match tx.payload() {
                Payload::Transfers(transfers) => {
                    transfers.iter().map(|t| t.asset).collect::<Vec<_>>()
                }
                _ => Vec::new(),
            })
            .collect();
        assert_eq!(assets.len(), 4);
    }

    #[test]
    fn bad_configs_and_names() {
        assert_eq!(
            Workload::new(WorkloadConfig::new(WorkloadKind::P2p, 1, 10, 0)).err(),
            Some(WorkloadError::TooFewAccounts(1))
        );
        let config = WorkloadConfig {
            failure_rate: 1.5,
            ..WorkloadConfig::default()
        };
        assert!(matches!(
            Workload::new(config),
            Err(WorkloadError::InvalidFailureRate(_))
        ));
        let config = WorkloadConfig {
            failure_rate: f64::NAN,
            ..WorkloadConfig::default()
        };
        assert!(matches!(
            Workload::new(config),
            Err(WorkloadError::InvalidFailureRate(_))
        ));
        for kind in WorkloadKind::ALL {
            assert_eq!(kind.to_string().parse::<WorkloadKind>(), Ok(kind));
        }
        assert!("p3p".parse::<WorkloadKind>().is_err());
    }
}
