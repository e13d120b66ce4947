//! Determinism of Block-STM across runs, thread counts and stores.
//!
//! Block-STM's schedule differs from run to run (which thread executes what, which
//! incarnations abort, which reads wait), but the block's preset order must fix its
//! output. These tests run the same 20 seeded blocks (of an uncontended workload, a
//! contended one and one hot receiver) 100 times each from genesis, with the
//! worker count cycling through 1..=8 (more workers than cores, so the OS interleaves
//! them differently each time), and require every run to reach the sequential oracle's
//! root after every block. The contention guard is off, so contended blocks speculate
//! (and abort) rather than taking the sequential path.
//!
//! Another test applies the same blocks to RocksDB and to the in-memory store: the
//! store behind the engine must not change any root either.

use executor::engine::blockstm::{BlockStmConfig, BlockStmExecutor};
use executor::engine::BlockStmCounters;
use executor::workload::{Workload, WorkloadConfig, WorkloadKind};
use executor::{Block, ExecutionStats};
use integration_tests::{apply, commit_genesis, fingerprint, parallel_forced};
use storage_adapter::{Asset, BlockCommit, BlockStore, Hash, MemoryStore, PublicKey, RocksStore};

/// Blocks in the chain.
const BLOCKS: u64 = 20;
/// Runs of the chain per workload.
const RUNS: usize = 100;
/// Worker counts cycle through `1..=MAX_THREADS`.
const MAX_THREADS: usize = 8;
/// Transactions per block: small enough that 100 runs of both workloads stay within a
/// couple of minutes on 2 cores.
const BLOCK_SIZE: usize = 300;

/// A seeded chain and the oracle's root after each of its blocks.
struct Chain {
    name: &'static str,
    genesis: BlockCommit,
    accounts: Vec<PublicKey>,
    blocks: Vec<Block>,
    oracle_roots: Vec<Hash>,
}

impl Chain {
    /// Generates `BLOCKS` blocks of `kind` over `accounts` (5% deliberately failing
    /// transactions) and runs them through the sequential oracle.
    fn new(name: &'static str, kind: WorkloadKind, accounts: usize) -> Self {
        let mut workload = Workload::new(WorkloadConfig {
            failure_rate: 0.05,
            ..WorkloadConfig::new(kind, accounts, BLOCK_SIZE, 7)
        })
        .expect("the workload configuration is valid");
        let genesis = workload.genesis().expect("a workload's genesis is valid");
        let blocks: Vec<Block> = (1..=BLOCKS)
            .map(|topoheight| workload.next_block(topoheight))
            .collect();
        let oracle = commit_genesis(MemoryStore::new(), &genesis);
        let oracle_roots = blocks
            .iter()
            .map(|block| {
                apply(&oracle, block)
                    .expect("a generated block is valid")
                    .state_root()
            })
            .collect();
        Self {
            name,
            accounts: workload.accounts().to_vec(),
            genesis,
            blocks,
            oracle_roots,
        }
    }

    /// Applies every block to `store` (already at genesis) with Block-STM on `threads`
    /// workers, committing each output; returns the root after each block and the
    /// engine's counters summed over the blocks.
    fn run_blockstm<S: BlockStore>(
        &self,
        store: &S,
        threads: usize,
        deltas: bool,
    ) -> (Vec<Hash>, ExecutionStats) {
        let engine = BlockStmExecutor::new(BlockStmConfig {
            deltas,
            ..parallel_forced(threads).block_stm
        });
        let mut stats = ExecutionStats::default();
        let roots = self
            .blocks
            .iter()
            .map(|block| {
                let execution = {
                    let snapshot = store.snapshot().expect("snapshot");
                    engine
                        .execute(block, &snapshot)
                        .expect("a generated block is valid")
                };
                store
                    .commit(&execution.output.commit)
                    .expect("the engine's commit applies");
                stats.accumulate(&execution.stats);
                execution.output.state_root()
            })
            .collect();
        (roots, stats)
    }
}

/// Runs `chain` `RUNS` times from genesis on fresh memory stores, threads cycling through
/// `1..=MAX_THREADS`, and checks every root of every run against the oracle. The parallel
/// path must really run (no sequential shortcut above one thread, no fallback after a
/// worker panic, which would hide an engine bug behind the oracle's output); returns the
/// counters of all the runs. `deltas` turns Block-STM's deltas and predicates on or off.
fn hundred_runs_agree_with_the_oracle(chain: &Chain, deltas: bool) -> ExecutionStats {
    let mut total = ExecutionStats::default();
    for run in 0..RUNS {
        let threads = run % MAX_THREADS + 1;
        let store = commit_genesis(MemoryStore::new(), &chain.genesis);
        let (roots, stats) = chain.run_blockstm(&store, threads, deltas);
        if let Some(block) = (0..roots.len()).find(|&i| roots[i] != chain.oracle_roots[i]) {
            panic!(
                "{}: run {run} on {threads} threads diverges from the oracle at block {} \
                 (root {} instead of {}); final root {} instead of {}",
                chain.name,
                block + 1,
                roots[block],
                chain.oracle_roots[block],
                roots[roots.len() - 1],
                chain.oracle_roots[roots.len() - 1],
            );
        }
        assert_eq!(stats.fallbacks, 0, "{}: run {run} fell back", chain.name);
        let expected_sequential = if threads == 1 { BLOCKS } else { 0 };
        assert_eq!(
            stats.sequential_blocks, expected_sequential,
            "{}: run {run} on {threads} threads took the sequential path",
            chain.name
        );
        total.accumulate(&stats);
    }
    eprintln!(
        "{} (deltas {}): {RUNS} runs of {BLOCKS} blocks of {BLOCK_SIZE} transactions agree: \
         {} executions, {} validations, {} aborts, {} dependency waits, {} deltas \
         ({} saves), {} predicates ({} saves)",
        chain.name,
        if deltas { "on" } else { "off" },
        total.executions,
        counters(&total).validations,
        counters(&total).aborts,
        counters(&total).dependency_waits,
        counters(&total).delta_writes,
        counters(&total).delta_saves,
        counters(&total).predicate_reads,
        counters(&total).predicate_saves,
    );
    total
}

/// Uncontended blocks (p2p over 1000 accounts: few transactions share an account) give
/// the oracle's root after every block in each of 100 runs.
#[test]
fn uncontended_blocks_give_one_root_in_100_runs() {
    let chain = Chain::new("p2p over 1000 accounts", WorkloadKind::P2p, 1000);
    hundred_runs_agree_with_the_oracle(&chain, true);
}

/// Block-STM's own counters, summed over runs (present on every path it takes).
fn counters(stats: &ExecutionStats) -> BlockStmCounters {
    stats.block_stm.expect("Block-STM reports its counters")
}

/// Checks that `stats` show speculation conflicting, or a "contended" test would only
/// repeat the uncontended one.
fn assert_contended(chain: &Chain, stats: &ExecutionStats) {
    let stats = counters(stats);
    assert!(
        stats.aborts + stats.dependency_waits > 0,
        "{}: Block-STM never aborted or waited: the workload is not contended",
        chain.name
    );
}

/// Contended blocks (p2p over 10 accounts: nearly every transaction conflicts with its
/// neighbours, as sender and as receiver) give the oracle's root after every block in
/// each of 100 runs.
#[test]
fn contended_blocks_give_one_root_in_100_runs() {
    let chain = Chain::new("p2p over 10 accounts", WorkloadKind::P2p, 10);
    let stats = hundred_runs_agree_with_the_oracle(&chain, true);
    assert_contended(&chain, &stats);
}

/// Blocks whose every transaction credits one account (hot receiver over 1000 accounts:
/// one key written by all, senders mostly distinct) give the oracle's root after every
/// block in each of 100 runs, with deltas (the credits commute: they must really have
/// been deltas, some of them landing above a lower transaction's later write) and
/// without (every credit a read-modify-write of one balance: contended).
#[test]
fn hot_receiver_blocks_give_one_root_in_100_runs() {
    let chain = Chain::new("hot receiver", WorkloadKind::HotReceiver, 1000);
    let stats = counters(&hundred_runs_agree_with_the_oracle(&chain, true));
    assert!(stats.delta_writes > 0, "no credit was a delta: {stats:?}");
    assert!(
        stats.delta_saves > 0,
        "no delta ever landed above a later lower write: {stats:?}"
    );
    let stats = hundred_runs_agree_with_the_oracle(&chain, false);
    assert_contended(&chain, &stats);
    assert_eq!(counters(&stats).delta_writes, 0);
}

/// Blocks of contract calls mixed with native transfers (60% transfers, 20% token
/// transfers, 20% swaps on 16 pools) give the oracle's root after every block in each of
/// 100 runs; so do token transfers among 10 holders, where nearly every call reads a
/// balance its neighbour writes in the token's storage, which no account list names.
#[test]
fn contract_blocks_give_one_root_in_100_runs() {
    let mixed = Chain::new("mixed over 100 accounts", WorkloadKind::Mixed, 100);
    hundred_runs_agree_with_the_oracle(&mixed, true);
    let token = Chain::new("token over 10 holders", WorkloadKind::Token, 10);
    let stats = hundred_runs_agree_with_the_oracle(&token, true);
    assert_contended(&token, &stats);
}

/// The same blocks, run by Block-STM on RocksDB (read from its snapshots by the worker
/// threads) and on the in-memory store, give the oracle's root after every block and the
/// same final state: every account's nonce, multisig and TOS balance, and the executed
/// mark of every transaction.
#[test]
fn rocksdb_and_memory_give_the_same_root_after_every_block() {
    for chain in [
        Chain::new("p2p over 1000 accounts", WorkloadKind::P2p, 1000),
        Chain::new("p2p over 10 accounts", WorkloadKind::P2p, 10),
        Chain::new("hot receiver", WorkloadKind::HotReceiver, 1000),
        Chain::new("mixed over 100 accounts", WorkloadKind::Mixed, 100),
    ] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let rocks = commit_genesis(
            RocksStore::open(dir.path()).expect("open RocksDB"),
            &chain.genesis,
        );
        let memory = commit_genesis(MemoryStore::new(), &chain.genesis);
        let (rocks_roots, _) = chain.run_blockstm(&rocks, 4, true);
        let (memory_roots, _) = chain.run_blockstm(&memory, 4, true);
        for (index, (rocks_root, memory_root)) in rocks_roots.iter().zip(&memory_roots).enumerate()
        {
            assert_eq!(
                rocks_root,
                memory_root,
                "{}: the stores disagree after block {}",
                chain.name,
                index + 1
            );
        }
        assert_eq!(rocks_roots, chain.oracle_roots, "{}", chain.name);
        let hashes: Vec<Hash> = chain
            .blocks
            .iter()
            .flat_map(|block| block.transactions().iter().map(|tx| *tx.hash()))
            .collect();
        assert_eq!(
            fingerprint(&rocks, &chain.accounts, &[Asset::TOS], &hashes),
            fingerprint(&memory, &chain.accounts, &[Asset::TOS], &hashes),
            "{}: the stores' final states differ",
            chain.name
        );
    }
}
