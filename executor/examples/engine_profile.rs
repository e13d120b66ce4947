//! Times one engine configuration on one generated block, many times over, for quick
//! profiling sessions: `cargo run --release -p executor --example engine_profile -- \
//! [memory|rocksdb] ACCOUNTS BLOCK_SIZE THREADS REPEATS`. Prints the median time of the
//! sequential oracle and of Block-STM, and their ratio. Criterion benches are the
//! reference figures; this is the tool for iterating on the engine. Set `ONLY_PARALLEL=1`
//! to skip the oracle's timings (for `perf record` of the engine alone), and
//! `WORKLOAD=hot-receiver` (any `blockstm compare --workload` name) for another workload
//! than p2p, `CLAIMS=off` for one-transaction execution claims, and `SINKS=off` (or
//! `all-hot`) to version every hot balance (or settle every one at commit), and
//! `FRONTIER_RUN=N` for another frontier run length (0: none, so that one worker runs
//! every transaction speculatively). THREADS 1
//! runs the parallel path on one worker, to time Block-STM's bookkeeping alone. "Outside
//! the driver" is the median of each run's time less its driver's wall time: the plan and
//! the epilogue that seals the block.

// An example program reports on stdout; that is its whole job.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use executor::engine::blockstm::{BlockStmConfig, BlockStmExecutor, SinkPolicy};
use executor::{execute_sequential, Workload, WorkloadConfig, WorkloadKind};
use storage_adapter::{BlockStore, MemoryStore, RocksStore, StateView};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn measure<S: StateView>(view: &S, block: &executor::Block, threads: usize, repeats: usize) {
    let engine = BlockStmExecutor::new(BlockStmConfig {
        threads,
        min_parallel_txns: 0,
        // Profiles the parallel path, contended blocks included.
        contention_cutoff: None,
        claims: std::env::var_os("CLAIMS").is_none_or(|claims| claims != "off"),
        sinks: match std::env::var("SINKS").as_deref() {
            Ok("off") => SinkPolicy::Off,
            Ok("all-hot") => SinkPolicy::AllHot,
            _ => SinkPolicy::ReceiveOnly,
        },
        parallel_on_one_thread: true,
        frontier_run: std::env::var("FRONTIER_RUN")
            .ok()
            .and_then(|run| run.parse().ok())
            .unwrap_or(BlockStmConfig::default().frontier_run),
        ..BlockStmConfig::default()
    });
    let mut sequential = Vec::new();
    let mut parallel = Vec::new();
    let mut outside_driver = Vec::new();
    let mut stats = None;
    let expected = execute_sequential(block, view).expect("oracle");
    let only_parallel = std::env::var_os("ONLY_PARALLEL").is_some();
    for _ in 0..repeats {
        if !only_parallel {
            let started = Instant::now();
            let _ = execute_sequential(block, view).expect("oracle");
            sequential.push(started.elapsed());
        }
        let started = Instant::now();
        let execution = engine.execute(block, view).expect("block-stm");
        let elapsed = started.elapsed();
        parallel.push(elapsed);
        if let Some(driver) = &execution.stats.block_stm {
            outside_driver.push(elapsed.saturating_sub(Duration::from_nanos(driver.wall_nanos)));
        }
        assert_eq!(execution.output, expected);
        stats = Some(execution.stats);
    }
    for samples in [&mut sequential, &mut outside_driver] {
        if samples.is_empty() {
            samples.push(Duration::ZERO);
        }
    }
    let (s, p, o) = (median(sequential), median(parallel), median(outside_driver));
    println!(
        "sequential {s:?}  block-stm/{threads} {p:?}  speedup {:.3}  outside the driver {o:?}  stats {stats:?}",
        s.as_secs_f64() / p.as_secs_f64()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_owned());
    let store_kind = arg(1, "memory");
    let accounts: usize = arg(2, "10000").parse().expect("accounts");
    let block_size: usize = arg(3, "10000").parse().expect("block size");
    let threads: usize = arg(4, "2").parse().expect("threads");
    let repeats: usize = arg(5, "10").parse().expect("repeats");
    let kind: WorkloadKind = std::env::var("WORKLOAD")
        .map_or(Ok(WorkloadKind::P2p), |name| name.parse())
        .expect("WORKLOAD names a workload");
    let mut workload =
        Workload::new(WorkloadConfig::new(kind, accounts, block_size, 1)).expect("workload");
    let genesis = workload.genesis().expect("genesis");
    let block = workload.next_block(1);
    if store_kind == "rocksdb" {
        let dir = std::env::temp_dir().join(format!("engine-profile-{}", std::process::id()));
        let store = RocksStore::open(&dir).expect("rocksdb");
        store.commit(&genesis).expect("genesis");
        measure(
            &store.snapshot().expect("snapshot"),
            &block,
            threads,
            repeats,
        );
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    } else {
        let store = MemoryStore::new();
        store.commit(&genesis).expect("genesis");
        measure(
            &store.snapshot().expect("snapshot"),
            &block,
            threads,
            repeats,
        );
    }
}
