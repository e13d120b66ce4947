//! `blockstm run`: applies generated blocks to a RocksDB store with a chosen engine and
//! reports throughput and the final state root.
//!
//! `blockstm compare`: runs the same generated blocks through the sequential oracle, batch
//! grouping and Block-STM at several thread counts, each from the same genesis on a fresh
//! RocksDB store, checks that every block's state root agrees, and reports throughput
//! ratios measured in that one run (a table, `--json`, or a `--plot` PNG).
//!
//! The last line on stdout is always `state root: <64 hex digits>`, so scripts can compare
//! runs (two engines, two machines) with `tail -n 1`.
//!
//! A second run on the same data directory continues the chain. The generator holds the
//! nonces it expects, so it cannot jump into the middle of a chain: it replays from
//! genesis and discards the blocks up to the stored topoheight (cheap next to executing
//! them), then checks that the stored nonces match what it expects, which catches a
//! continuation with different workload parameters.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use executor::engine::blockstm::{BlockStmConfig, BlockStmExecutor};
use executor::engine::{BlockExecutor, ExecutionStats};
use executor::workload::{Workload, WorkloadConfig, WorkloadKind};
use executor::{genesis_commit, SequentialExecutor};
use indicatif::{ProgressBar, ProgressStyle};
use storage_adapter::{BlockStore, RocksStore, StateKey, StateValue, StateView};
use tracing_subscriber::EnvFilter;

// Beside this file rather than in `src/bin/`, where Cargo would take them for binaries.
#[path = "blockstm/compare.rs"]
mod compare;
#[path = "blockstm/plot.rs"]
mod plot;

/// `--contention-cutoff`: Block-STM's [`BlockStmConfig::contention_cutoff`], a percentage
/// from 0 to 100, or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentionCutoff(pub Option<u8>);

impl Default for ContentionCutoff {
    fn default() -> Self {
        Self(BlockStmConfig::default().contention_cutoff)
    }
}

impl std::str::FromStr for ContentionCutoff {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "off" {
            return Ok(Self(None));
        }
        match text.parse::<u8>() {
            Ok(percent) if percent <= 100 => Ok(Self(Some(percent))),
            _ => Err(format!(
                "`{text}` is neither a percentage from 0 to 100 nor `off`"
            )),
        }
    }
}

impl std::fmt::Display for ContentionCutoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(percent) => write!(f, "{percent}"),
            None => f.write_str("off"),
        }
    }
}

/// How many accounts the continuation check compares against the store.
const NONCE_CHECK_ACCOUNTS: usize = 16;

/// Runs the Block-STM project's engines on generated TOS workloads.
#[derive(Debug, Parser)]
#[command(name = "blockstm", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate blocks, execute them, commit them to RocksDB, report throughput.
    Run(RunArgs),
    /// Run the same blocks through sequential, batch grouping and Block-STM (at each
    /// thread count), check that their state roots agree, and compare throughput.
    Compare(compare::CompareArgs),
}

/// The engines the binary can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ExecutorKind {
    /// The sequential oracle.
    #[value(name = "sequential")]
    Sequential,
    /// Block-STM: optimistic parallel execution, same result as the oracle.
    #[value(name = "block-stm")]
    BlockStm,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The workload shape.
    #[arg(long, value_enum, default_value_t = WorkloadKind::P2p)]
    workload: WorkloadKind,
    /// Number of accounts (at least 2).
    #[arg(long, default_value_t = 1000)]
    accounts: usize,
    /// Transactions per block.
    #[arg(long, default_value_t = 1000)]
    block_size: usize,
    /// Blocks to apply in this run.
    #[arg(long, default_value_t = 10)]
    blocks: u64,
    /// Seed of the workload generator (keep it when continuing a chain).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Share of deliberately failing transactions (wrong nonce or insufficient funds).
    #[arg(long, default_value_t = 0.0)]
    failure_rate: f64,
    /// The RocksDB directory; created when missing, continued when it holds a chain.
    #[arg(long, default_value = "./blockstm-data")]
    data_dir: PathBuf,
    /// The execution engine.
    #[arg(long, value_enum, default_value_t = ExecutorKind::BlockStm)]
    executor: ExecutorKind,
    /// Worker threads for parallel engines [default: available parallelism].
    #[arg(long)]
    threads: Option<usize>,
    /// Blocks with fewer transactions run sequentially even on a parallel engine.
    #[arg(long, default_value_t = BlockStmConfig::default().min_parallel_txns)]
    min_parallel_txns: usize,
    /// Block-STM runs a block sequentially when at least this percentage of its first
    /// transactions conflict with their neighbours; `off` always runs it in parallel.
    #[arg(long, value_name = "PERCENT|off", default_value_t = ContentionCutoff::default())]
    contention_cutoff: ContentionCutoff,
}

fn main() -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Run(args) => run(&args),
        Command::Compare(args) => compare::compare(&args),
    }
}

fn run(args: &RunArgs) -> anyhow::Result<()> {
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let engine: Box<dyn BlockExecutor> = match args.executor {
        // The sequential engine ignores the thread count.
        ExecutorKind::Sequential => Box::new(SequentialExecutor::new()),
        ExecutorKind::BlockStm => Box::new(BlockStmExecutor::new(BlockStmConfig {
            threads,
            min_parallel_txns: args.min_parallel_txns,
            contention_cutoff: args.contention_cutoff.0,
        })),
    };
    let config = WorkloadConfig {
        kind: args.workload,
        accounts: args.accounts,
        block_size: args.block_size,
        seed: args.seed,
        failure_rate: args.failure_rate,
    };
    let mut workload = Workload::new(config).context("invalid workload")?;

    let store = RocksStore::open(&args.data_dir)
        .with_context(|| format!("opening the store at {}", args.data_dir.display()))?;
    if store.chain_state()?.topoheight.is_none() {
        let genesis =
            genesis_commit(&workload.genesis_allocations()).context("building genesis")?;
        store.commit(&genesis).context("committing genesis")?;
        tracing::info!(root = %genesis.state_root(), "wrote genesis");
    }
    let first = store.chain_state()?.next_topoheight();
    if first > 1 {
        replay(&mut workload, &store, first)?;
    }

    let progress = progress_bar(args.blocks);
    let (mut transactions, mut successful) = (0u64, 0u64);
    let (mut executing, mut committing) = (Duration::ZERO, Duration::ZERO);
    let mut generating = Duration::ZERO;
    let mut stats = ExecutionStats::default();
    for topoheight in (first..).take(usize::try_from(args.blocks).unwrap_or(usize::MAX)) {
        let started = Instant::now();
        let block = workload.next_block(topoheight);
        generating += started.elapsed();

        let started = Instant::now();
        let snapshot = store.snapshot()?;
        let execution = engine
            .execute_block(&block, &snapshot)
            .with_context(|| format!("executing block {topoheight}"))?;
        drop(snapshot);
        executing += started.elapsed();

        let started = Instant::now();
        store
            .commit(&execution.output.commit)
            .with_context(|| format!("committing block {topoheight}"))?;
        committing += started.elapsed();

        transactions += block.transactions().len() as u64;
        successful += execution.output.successful() as u64;
        tracing::debug!(topoheight, stats = ?execution.stats, "block applied");
        stats.accumulate(&execution.stats);
        progress.inc(1);
    }
    progress.finish_and_clear();

    let chain = store.chain_state()?;
    let elapsed = executing + committing;
    let seconds = elapsed.as_secs_f64();
    let rate = |count: u64| {
        if seconds > 0.0 {
            count as f64 / seconds
        } else {
            0.0
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "executor: {} ({threads} threads)", engine.name())?;
    writeln!(
        out,
        "workload: {}, {} accounts, {} tx/block, seed {}",
        args.workload, args.accounts, args.block_size, args.seed
    )?;
    writeln!(
        out,
        "blocks: {} (topoheight now {})",
        args.blocks,
        chain.topoheight.unwrap_or(0)
    )?;
    writeln!(
        out,
        "transactions: {transactions} (successful {successful}, failed {})",
        transactions - successful
    )?;
    writeln!(
        out,
        "elapsed: {seconds:.3} s (execute {:.3} s, commit {:.3} s; generation {:.3} s not counted)",
        executing.as_secs_f64(),
        committing.as_secs_f64(),
        generating.as_secs_f64()
    )?;
    writeln!(
        out,
        "throughput: {:.2} blocks/s, {:.0} tx/s",
        rate(args.blocks),
        rate(transactions)
    )?;
    if stats.transactions > 0 && args.executor != ExecutorKind::Sequential {
        let per_tx = |count: u64| count as f64 / stats.transactions as f64;
        writeln!(
            out,
            "engine: {:.3} executions/tx, {:.3} validations/tx, {} aborts, {} dependency waits, {} fallbacks",
            per_tx(stats.executions),
            per_tx(stats.validations),
            stats.aborts,
            stats.dependency_waits,
            stats.fallbacks
        )?;
    }
    writeln!(out, "state root: {}", chain.state_root)?;
    Ok(())
}

/// Regenerates (and discards) the blocks already in the store, so the generator's nonces
/// match the stored chain, then checks them against a few stored nonces.
fn replay(workload: &mut Workload, store: &RocksStore, first: u64) -> anyhow::Result<()> {
    for topoheight in 1..first {
        workload.next_block(topoheight);
    }
    let snapshot = store.snapshot()?;
    for (index, account) in workload
        .accounts()
        .iter()
        .enumerate()
        .take(NONCE_CHECK_ACCOUNTS)
    {
        let stored = match snapshot.get(&StateKey::Nonce(*account))? {
            Some(StateValue::Nonce(nonce)) => nonce,
            _ => 0,
        };
        let expected = workload.expected_nonce(index).unwrap_or(0);
        if stored != expected {
            bail!(
                "the store at topoheight {} was not built with these workload parameters \
                 (account {index}: stored nonce {stored}, expected {expected}); \
                 use the same --workload/--accounts/--block-size/--seed/--failure-rate or a fresh --data-dir",
                first - 1
            );
        }
    }
    Ok(())
}

/// A progress bar on stderr, hidden when stderr is not a terminal or the run is short.
fn progress_bar(blocks: u64) -> ProgressBar {
    if blocks < 5 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(blocks);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} blocks, {per_sec}, eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}
