//! Throughput of the block execution engines: sequential, Block-STM and batch grouping on
//! every generated workload, at block sizes 1000 and 10000, on state held in memory and in
//! RocksDB.
//!
//! # What is measured
//!
//! Every criterion group is one fixture, named `WORKLOAD/block-SIZE/STORE`:
//!
//! - `WORKLOAD` is `p2p-2`, `p2p-10`, `p2p-100`, `p2p-1000`, `p2p-10000` (peer-to-peer
//!   transfers over that many accounts), or `hot-receiver-1000`, `nonce-chains-1000`,
//!   `multi-asset-1000`, `burns-1000`, and the contract workloads `token-10000`,
//!   `token-chain-1000`, `amm-1000` (16 pools), `mint-1000`, `mixed-1000` (those shapes
//!   over that many accounts or holders);
//! - `SIZE` is the number of transactions in the block (1000 or 10000);
//! - `STORE` is `memory` (a `MemoryStore`) or `rocksdb` (a `RocksStore` in a temporary
//!   directory).
//!
//! The fixture commits the workload's genesis, then executes and commits one warm-up block
//! (so that the accounts have been read and rewritten through the store), then generates
//! the next block. Each measured iteration executes that block through
//! `BlockExecutor::execute_block` against the same `store.snapshot()` and commits nothing,
//! so every iteration starts from the same state. Each engine's output is checked once
//! against the sequential oracle's before it is timed.
//!
//! The bench ids inside a group are `sequential`, `block-stm/1`, `block-stm/2` and
//! `block-stm/N` for the machine's available parallelism N when it is larger than 2, and
//! `grouping/1`, `grouping/2`, … the same way. At one thread the engines take their
//! single-thread paths (Block-STM runs the oracle, grouping runs every batch on the calling
//! thread), so `…/1` shows an engine's overhead over sequential, not parallel execution.
//! Throughput is reported in transactions per second.
//!
//! Fixtures are built lazily, the first time one of their benches runs, so a filtered run
//! only builds what it measures.
//!
//! # Running
//!
//! Always with the shared target directory (`. scripts/env.sh`). The whole matrix is
//! 14 workloads × 2 block sizes × 2 stores × 5 engines on 2 cores (280 benches, 7 with
//! more cores), each measured briefly (10 flat samples, 0.5 s warm-up, 2 s measurement): about
//! a quarter of an hour. Run a subset with criterion's filter, a regular expression
//! searched for in `GROUP/ID`:
//!
//! ```text
//! cargo bench -p benches --bench engines -- 'p2p-10000/block-10000'          # both stores
//! cargo bench -p benches --bench engines -- 'p2p-10/block-1000/memory'       # p2p-10 only
//! cargo bench -p benches --bench engines -- 'block-10000/rocksdb/block-stm'  # Block-STM only
//! cargo bench -p benches --bench engines -- --list                           # every id
//! cargo bench --workspace --no-run                                           # build only (CI)
//! ```
//!
//! A filter is searched for, not matched whole: `p2p-10` also selects `p2p-100`, `p2p-1000`
//! and `p2p-10000`, and `block-1000` also selects `block-10000`; end them with `/`.
//!
//! # Reading the figures
//!
//! The development and CI machines have 2 cores and are shared, so absolute times drift
//! from run to run. What we compare are ratios measured within one run: Block-STM (or
//! grouping) at a stated thread count over sequential, in the same group.

use std::cell::OnceCell;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Bencher, Criterion, SamplingMode, Throughput};
use executor::engine::{self, BlockExecutor, EngineConfig, EngineKind};
use executor::{execute_sequential, Block, BlockOutput, Workload, WorkloadConfig, WorkloadKind};
use storage_adapter::{BlockCommit, BlockStore, MemoryStore, RocksStore, StateView};
use tempfile::TempDir;

/// The seed of every workload, so that all groups of one run see the same blocks.
const SEED: u64 = 42;

/// Accounts of the non-p2p workloads.
const ACCOUNTS: usize = 1000;

/// The workloads: a kind and its number of accounts.
const WORKLOADS: [(WorkloadKind, usize); 14] = [
    (WorkloadKind::P2p, 2),
    (WorkloadKind::P2p, 10),
    (WorkloadKind::P2p, 100),
    (WorkloadKind::P2p, 1000),
    (WorkloadKind::P2p, 10000),
    (WorkloadKind::HotReceiver, ACCOUNTS),
    (WorkloadKind::NonceChains, ACCOUNTS),
    (WorkloadKind::MultiAsset, ACCOUNTS),
    (WorkloadKind::Burns, ACCOUNTS),
    (WorkloadKind::Token, 10000),
    (WorkloadKind::TokenChain, ACCOUNTS),
    (WorkloadKind::Amm, ACCOUNTS),
    (WorkloadKind::Mint, ACCOUNTS),
    (WorkloadKind::Mixed, ACCOUNTS),
];

/// Transactions per block.
const BLOCK_SIZES: [usize; 2] = [1000, 10000];

/// Where the state lives.
#[derive(Clone, Copy, Debug)]
enum StoreKind {
    Memory,
    Rocks,
}

impl StoreKind {
    const ALL: [StoreKind; 2] = [StoreKind::Memory, StoreKind::Rocks];

    fn name(self) -> &'static str {
        match self {
            StoreKind::Memory => "memory",
            StoreKind::Rocks => "rocksdb",
        }
    }
}

/// The thread counts of the parallel engines: 1, 2 and the available parallelism if
/// larger.
fn thread_counts() -> Vec<usize> {
    let available = std::thread::available_parallelism().map_or(1, usize::from);
    let mut counts = vec![1, 2, available];
    counts.sort_unstable();
    counts.dedup();
    counts
}

/// The engines of every group, by bench id, in the order they are measured: sequential,
/// then each parallel engine at every thread count, each built by the executor's factory
/// with its default settings. Adding an engine is one entry of `EngineKind::ALL`.
fn engines() -> Vec<(String, Arc<dyn BlockExecutor>)> {
    let mut engines = Vec::new();
    for kind in EngineKind::ALL {
        if kind == EngineKind::Sequential {
            engines.push((
                kind.to_string(),
                engine::build(kind, &EngineConfig::default()),
            ));
            continue;
        }
        for threads in thread_counts() {
            let id = format!("{kind}/{threads}");
            engines.push((id, engine::build(kind, &EngineConfig::new(threads))));
        }
    }
    engines
}

/// A store holding the state after genesis and the warm-up block.
enum Store {
    Memory(MemoryStore),
    // `store` is declared before `_dir` so that the database is closed before its
    // directory is removed.
    Rocks { store: RocksStore, _dir: TempDir },
}

/// One group's state and the block its benches execute.
struct Fixture {
    store: Store,
    block: Block,
    /// The sequential oracle's output for `block`, which every engine must reproduce.
    expected: BlockOutput,
}

impl Fixture {
    fn new(kind: WorkloadKind, accounts: usize, block_size: usize, store_kind: StoreKind) -> Self {
        let config = WorkloadConfig::new(kind, accounts, block_size, SEED);
        let mut workload = Workload::new(config).expect("the bench workloads are valid");
        let genesis = workload.genesis().expect("genesis");
        let store = match store_kind {
            StoreKind::Memory => Store::Memory(MemoryStore::new()),
            StoreKind::Rocks => {
                let dir = tempfile::Builder::new()
                    .prefix("tos-bench-")
                    .tempdir()
                    .expect("a temporary directory for RocksDB");
                let store = RocksStore::open(dir.path()).expect("opening RocksDB");
                Store::Rocks { store, _dir: dir }
            }
        };
        let block = match &store {
            Store::Memory(store) => prepare(store, &mut workload, &genesis),
            Store::Rocks { store, .. } => prepare(store, &mut workload, &genesis),
        };
        let expected = match &store {
            Store::Memory(store) => oracle(store, &block),
            Store::Rocks { store, .. } => oracle(store, &block),
        };
        Self {
            store,
            block,
            expected,
        }
    }
}

/// Commits genesis and one warm-up block to `store`, and returns the next block (not
/// committed).
fn prepare<B: BlockStore>(store: &B, workload: &mut Workload, genesis: &BlockCommit) -> Block {
    store.commit(genesis).expect("committing genesis");
    let warm_up = workload.next_block(1);
    let output = {
        let snapshot = store.snapshot().expect("snapshot");
        execute_sequential(&warm_up, &snapshot).expect("the warm-up block executes")
    };
    store
        .commit(&output.commit)
        .expect("committing the warm-up block");
    workload.next_block(2)
}

fn oracle<B: BlockStore>(store: &B, block: &Block) -> BlockOutput {
    let snapshot = store.snapshot().expect("snapshot");
    execute_sequential(block, &snapshot).expect("the measured block executes")
}

/// Times `engine` on the fixture's block, checking its output once first.
fn run<V: StateView>(
    bencher: &mut Bencher<'_>,
    engine: &dyn BlockExecutor,
    fixture: &Fixture,
    view: &V,
    checked: &mut bool,
) {
    if !*checked {
        let execution = engine
            .execute_block(&fixture.block, view)
            .expect("the measured block executes");
        assert!(
            execution.output == fixture.expected,
            "{} disagrees with the sequential oracle",
            engine.name()
        );
        *checked = true;
    }
    bencher.iter(|| {
        engine
            .execute_block(&fixture.block, view)
            .expect("the measured block executes")
    });
}

fn bench_engines(c: &mut Criterion) {
    let engines = engines();
    for (kind, accounts) in WORKLOADS {
        for block_size in BLOCK_SIZES {
            for store_kind in StoreKind::ALL {
                let name = format!(
                    "{}-{accounts}/block-{block_size}/{}",
                    kind.name(),
                    store_kind.name()
                );
                let mut group = c.benchmark_group(name);
                // Flat sampling: the slowest blocks (tens of ms) fit 10 samples in the 2 s
                // budget, which criterion's default linear sampling (55 iterations) does not.
                group
                    .sampling_mode(SamplingMode::Flat)
                    .sample_size(10)
                    .warm_up_time(Duration::from_millis(500))
                    .measurement_time(Duration::from_secs(2))
                    .throughput(Throughput::Elements(block_size as u64));
                // Built by the first bench of the group that passes the filter, dropped
                // (temporary directory included) when the group ends.
                let fixture = OnceCell::new();
                for (id, engine) in &engines {
                    let mut checked = false;
                    group.bench_function(id.as_str(), |b| {
                        let fixture = fixture
                            .get_or_init(|| Fixture::new(kind, accounts, block_size, store_kind));
                        match &fixture.store {
                            Store::Memory(store) => {
                                let snapshot = store.snapshot().expect("snapshot");
                                run(b, engine.as_ref(), fixture, &snapshot, &mut checked);
                            }
                            Store::Rocks { store, .. } => {
                                let snapshot = store.snapshot().expect("snapshot");
                                run(b, engine.as_ref(), fixture, &snapshot, &mut checked);
                            }
                        }
                    });
                }
                group.finish();
            }
        }
    }
}

criterion_group!(benches, bench_engines);
criterion_main!(benches);
