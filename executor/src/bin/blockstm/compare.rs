//! `blockstm compare`: the same blocks through every engine, each from the same genesis on
//! a fresh RocksDB store, with throughput ratios measured in one run and every block's
//! state root checked across engines.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use executor::engine::blockstm::{BlockStmConfig, BlockStmExecutor, SinkPolicy};
use executor::engine::grouping::{GroupingConfig, GroupingExecutor};
use executor::engine::{Execution, ExecutionStats};
use executor::workload::{Workload, WorkloadConfig, WorkloadKind};
use executor::{genesis_commit, Block, BlockError, SequentialExecutor};
use serde::Serialize;
use storage_adapter::{BlockStore, Hash, RocksStore, StateView};

use crate::plot;
use executor::slot::ContentionCutoff;

/// The account counts `--plot` sweeps when `--accounts` is not given (the paper's set).
pub const PLOT_ACCOUNTS: [usize; 5] = [2, 10, 100, 1000, 10_000];

/// The arguments of `blockstm compare`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Every engine run starts from the same genesis, committed into a fresh RocksDB store \
(<data-dir>/<accounts>-accounts/<engine>-<threads>-<round>), and executes then commits \
the same generated blocks one by one. The first --warmup blocks (default 1) are executed \
and committed but not timed; a throwaway sequential run over them warms the process \
first. The whole set of runs is repeated --repeat times (default 5), round-robin, each \
round starting one engine further down the list, and each engine's median run (by \
execution time) is reported. tx/s counts execution only (snapshot + execute, as `run` \
does); commit time is reported beside it. Ratios are measured in this one run: 'x seq' \
is tx/s over the sequential oracle's, 'x grouping' over batch grouping's at the same \
thread count. Block-STM reports executions and validations per transaction, grouping \
its batches per block.

The command fails (non-zero exit) if two runs disagree on any block's state root.

With --plot FILE it also writes a PNG of the speedup over sequential against the number \
of accounts, one line per engine and thread count; without --accounts it then sweeps \
2,10,100,1000,10000 accounts.")]
pub struct CompareArgs {
    /// The workload shape.
    #[arg(long, value_enum, default_value_t = WorkloadKind::P2p)]
    workload: WorkloadKind,
    /// Number of accounts (at least 2); a comma-separated list runs the comparison once
    /// per count [default: 1000, or 2,10,100,1000,10000 with --plot].
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    accounts: Option<Vec<usize>>,
    /// Transactions per block.
    #[arg(long, default_value_t = 1000)]
    block_size: usize,
    /// Timed blocks per engine run.
    #[arg(long, default_value_t = 10)]
    blocks: u64,
    /// Blocks applied before the timed ones, not timed (their roots are still checked).
    #[arg(long, default_value_t = 1)]
    warmup: u64,
    /// Rounds: every engine run is repeated this many times, round-robin and in rotated
    /// order (so that load from elsewhere and run order hit all engines alike), and the
    /// run with the median execution time is reported.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Seed of the workload generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Share of deliberately failing transactions (wrong nonce or insufficient funds).
    #[arg(long, default_value_t = 0.0)]
    failure_rate: f64,
    /// Thread counts of the parallel engines, comma-separated
    /// [default: 1,2 and the available parallelism when larger].
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    threads: Option<Vec<usize>>,
    /// A scratch directory for the RocksDB stores, which must not hold earlier runs
    /// [default: a fresh temporary directory, removed afterwards].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Print one JSON array (an object per account count, engine and thread count)
    /// instead of the tables.
    #[arg(long)]
    json: bool,
    /// Write a PNG chart of the speedup over sequential against the number of accounts.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// Block-STM runs a block sequentially when at least this percentage of its first
    /// transactions conflict with their neighbours; `off` always runs it in parallel.
    #[arg(long, value_name = "PERCENT|off", default_value_t = ContentionCutoff::default())]
    contention_cutoff: ContentionCutoff,
    /// Block-STM's nonce hints: a transaction waits for the same sender's previous one to
    /// execute before it starts (`off` to measure what they save).
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    nonce_hints: bool,
    /// Block-STM's deltas and predicates: hot balances change by commutative deltas and
    /// debits from them are checked as "balance ≥ spend" (`off` to measure what they save).
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    deltas: bool,
    /// Block-STM's execution claims: a worker claims runs of consecutive transactions
    /// (sized from a sample of the block) instead of one at a time (`off` to measure what
    /// they save).
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    claims: bool,
    /// Block-STM's settled balances: hot balances that the block only credits are settled
    /// at commit instead of versioned (`receive-only`); `all-hot` settles every hot
    /// balance, `off` none (to measure what they save).
    #[arg(long, value_name = "receive-only|all-hot|off", default_value = "receive-only", value_parser = parse_sinks)]
    sinks: SinkPolicy,
    /// What Block-STM runs at 1 thread: the sequential path, as the engine does
    /// (`sequential`), or its parallel path on one worker (`parallel`), to measure what
    /// Block-STM's own bookkeeping costs when nothing runs beside it.
    #[arg(long, value_name = "sequential|parallel", default_value = "sequential", value_parser = parse_one_thread, action = clap::ArgAction::Set)]
    one_thread: bool,
}

/// `--one-thread`: whether Block-STM runs its parallel path at 1 thread.
fn parse_one_thread(text: &str) -> Result<bool, String> {
    match text {
        "sequential" => Ok(false),
        "parallel" => Ok(true),
        _ => Err(format!("`{text}` is neither `sequential` nor `parallel`")),
    }
}

fn parse_sinks(text: &str) -> Result<SinkPolicy, String> {
    match text {
        "receive-only" => Ok(SinkPolicy::ReceiveOnly),
        "all-hot" => Ok(SinkPolicy::AllHot),
        "off" => Ok(SinkPolicy::Off),
        _ => Err(format!(
            "`{text}` is none of `receive-only`, `all-hot` and `off`"
        )),
    }
}

fn parse_on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("`{text}` is neither `on` nor `off`")),
    }
}

/// The engines compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    Sequential,
    Grouping,
    BlockStm,
}

impl EngineKind {
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Sequential => "sequential",
            EngineKind::Grouping => "grouping",
            EngineKind::BlockStm => "block-stm",
        }
    }
}

/// One engine at one thread count on one workload: what the table, the JSON and the plot
/// show.
#[derive(Clone, Debug, Serialize)]
pub struct Measurement {
    pub workload: String,
    pub accounts: usize,
    pub block_size: usize,
    /// Timed blocks.
    pub blocks: u64,
    /// Untimed blocks applied first.
    pub warmup_blocks: u64,
    /// Rounds run; the figures are the median round's.
    pub rounds: usize,
    pub seed: u64,
    pub failure_rate: f64,
    pub engine: &'static str,
    pub threads: usize,
    /// Transactions in the timed blocks.
    pub transactions: u64,
    /// Seconds executing the timed blocks (snapshot + execute).
    pub execute_s: f64,
    /// Seconds committing the timed blocks.
    pub commit_s: f64,
    /// Transactions per second of execution.
    pub tx_per_s: f64,
    pub speedup_vs_sequential: f64,
    /// Over grouping at the same thread count; `null` when grouping did not run at it.
    pub speedup_vs_grouping: Option<f64>,
    /// The state root after the last block.
    pub root: String,
    pub executions_per_tx: f64,
    pub validations_per_tx: f64,
    /// Grouping only.
    pub batches_per_block: Option<f64>,
    /// The engine's counters over the timed blocks.
    pub stats: Stats,
}

/// [`ExecutionStats`] (grouping's batches included), over the timed blocks.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    /// The engine's own counters, summed (flattened into the JSON object).
    #[serde(flatten)]
    pub engine: ExecutionStats,
}

impl Stats {
    fn add(&mut self, stats: &ExecutionStats) {
        self.engine.accumulate(stats);
    }
}

/// An engine ready to run.
enum Engine {
    Sequential(SequentialExecutor),
    Grouping(GroupingExecutor),
    BlockStm(BlockStmExecutor),
}

impl Engine {
    fn new(kind: EngineKind, threads: usize, args: &CompareArgs) -> Self {
        match kind {
            EngineKind::Sequential => Engine::Sequential(SequentialExecutor::new()),
            EngineKind::Grouping => {
                Engine::Grouping(GroupingExecutor::new(GroupingConfig { threads }))
            }
            EngineKind::BlockStm => Engine::BlockStm(BlockStmExecutor::new(BlockStmConfig {
                threads,
                contention_cutoff: args.contention_cutoff.0,
                nonce_hints: args.nonce_hints,
                deltas: args.deltas,
                claims: args.claims,
                sinks: args.sinks,
                parallel_on_one_thread: args.one_thread,
                ..BlockStmConfig::default()
            })),
        }
    }

    /// Executes `block`.
    fn execute<S: StateView>(&self, block: &Block, view: &S) -> Result<Execution, BlockError> {
        use executor::engine::BlockExecutor;
        match self {
            Engine::Sequential(engine) => engine.execute_block(block, view),
            Engine::Grouping(engine) => engine.execute(block, view),
            Engine::BlockStm(engine) => engine.execute(block, view),
        }
    }
}

/// What one engine run produced.
#[derive(Clone)]
struct RunResult {
    kind: EngineKind,
    threads: usize,
    /// The root after each block, warm-up included.
    roots: Vec<Hash>,
    transactions: u64,
    executing: Duration,
    committing: Duration,
    stats: Stats,
}

impl RunResult {
    fn label(&self) -> String {
        let threads = if self.threads == 1 {
            "thread"
        } else {
            "threads"
        };
        format!("{} ({} {threads})", self.kind.name(), self.threads)
    }

    fn tx_per_s(&self) -> f64 {
        let seconds = self.executing.as_secs_f64();
        if seconds > 0.0 {
            self.transactions as f64 / seconds
        } else {
            0.0
        }
    }
}

pub fn compare(args: &CompareArgs) -> anyhow::Result<()> {
    let accounts = match (&args.accounts, &args.plot) {
        (Some(accounts), _) => accounts.clone(),
        (None, Some(_)) => PLOT_ACCOUNTS.to_vec(),
        (None, None) => vec![1000],
    };
    let threads = thread_counts(args.threads.as_deref())?;
    if args.blocks == 0 {
        bail!("--blocks must be at least 1");
    }
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    // Removed when dropped, errors included.
    let mut scratch = None;
    let base = match &args.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the data directory {}", dir.display()))?;
            dir.clone()
        }
        None => {
            let dir = tempfile::Builder::new()
                .prefix("blockstm-compare-")
                .tempdir()
                .context("creating a temporary data directory")?;
            scratch.insert(dir).path().to_path_buf()
        }
    };
    let remove_after = args.data_dir.is_none();
    // Ran in this order: sequential once, then grouping and Block-STM per thread count.
    let mut plan = vec![(EngineKind::Sequential, 1)];
    for &threads in &threads {
        plan.push((EngineKind::Grouping, threads));
        plan.push((EngineKind::BlockStm, threads));
    }

    let progress = std::io::stderr().is_terminal();
    let mut measurements = Vec::new();
    let mut out = std::io::stdout().lock();
    for &count in &accounts {
        let config = WorkloadConfig {
            kind: args.workload,
            accounts: count,
            block_size: args.block_size,
            seed: args.seed,
            failure_rate: args.failure_rate,
        };
        let mut workload = Workload::new(config).context("invalid workload")?;
        let genesis =
            genesis_commit(&workload.genesis_allocations()).context("building genesis")?;
        let total_blocks = args.warmup.saturating_add(args.blocks);
        let blocks: Vec<Block> = (1..=total_blocks)
            .map(|topoheight| workload.next_block(topoheight))
            .collect();
        drop(workload);

        // A throwaway run over the first block(s) warms the process (allocator, RocksDB,
        // page cache) so that the first timed run is not a cold one.
        let warm = blocks.len().min(args.warmup.max(1) as usize);
        let dir = base.join(format!("{count}-accounts")).join("warm-up");
        run_engine(
            EngineKind::Sequential,
            Engine::new(EngineKind::Sequential, 1, args),
            1,
            &dir,
            &genesis,
            &blocks[..warm],
            u64::MAX,
        )?;
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        // Every run of every round, by plan position.
        let mut rounds: Vec<Vec<RunResult>> = plan.iter().map(|_| Vec::new()).collect();
        let mut reference: Option<RunResult> = None;
        for round in 1..=args.repeat {
            // Each round starts one engine further down the plan, so that no engine
            // always runs first (cold) or right after another one's leftovers.
            for position in 0..plan.len() {
                let slot = (position + round - 1) % plan.len();
                let (kind, threads) = plan[slot];
                let runs = &mut rounds[slot];
                if progress {
                    eprintln!(
                        "{count} accounts, round {round}/{}: {} at {threads} thread(s)",
                        args.repeat,
                        kind.name()
                    );
                }
                let dir = base
                    .join(format!("{count}-accounts"))
                    .join(format!("{}-{threads}-{round}", kind.name()));
                let run = run_engine(
                    kind,
                    Engine::new(kind, threads, args),
                    threads,
                    &dir,
                    &genesis,
                    &blocks,
                    args.warmup,
                )?;
                if remove_after {
                    // Keeps the scratch space to one store at a time.
                    std::fs::remove_dir_all(&dir)
                        .with_context(|| format!("removing {}", dir.display()))?;
                }
                match &reference {
                    Some(reference) => check_roots(reference, &run)?,
                    None => reference = Some(run.clone()),
                }
                runs.push(run);
            }
        }
        let runs: Vec<RunResult> = rounds.into_iter().filter_map(median).collect();
        let measured = measure(args, count, &runs);
        if !args.json {
            print_table(&mut out, args, count, &measured)?;
        }
        measurements.extend(measured);
    }

    if args.json {
        serde_json::to_writer_pretty(&mut out, &measurements).context("writing JSON")?;
        writeln!(out)?;
    }
    if let Some(path) = &args.plot {
        plot::speedup_chart(
            path,
            args.workload,
            args.block_size,
            args.blocks,
            &measurements,
        )
        .with_context(|| format!("writing the chart {}", path.display()))?;
        if !args.json {
            writeln!(out, "chart written to {}", path.display())?;
        }
    }
    Ok(())
}

/// The run with the median execution time (the upper one of an even count).
fn median(mut runs: Vec<RunResult>) -> Option<RunResult> {
    runs.sort_by_key(|run| run.executing);
    let middle = runs.len() / 2;
    runs.into_iter().nth(middle)
}

/// The thread counts to run: the given list (each at least 1, duplicates dropped) or 1, 2
/// and the available parallelism when larger.
fn thread_counts(given: Option<&[usize]>) -> anyhow::Result<Vec<usize>> {
    let mut threads = match given {
        Some(list) => {
            if list.is_empty() || list.contains(&0) {
                bail!("--threads takes thread counts of at least 1, e.g. --threads 1,2,4");
            }
            list.to_vec()
        }
        None => {
            let available = std::thread::available_parallelism().map_or(1, usize::from);
            let mut threads = vec![1, 2];
            if available > 2 {
                threads.push(available);
            }
            threads
        }
    };
    let mut seen = std::collections::HashSet::new();
    threads.retain(|threads| seen.insert(*threads));
    Ok(threads)
}

/// Applies `blocks` to a fresh store at `dir` holding `genesis`, timing the blocks after
/// the first `warmup`.
#[allow(clippy::too_many_arguments)]
fn run_engine(
    kind: EngineKind,
    engine: Engine,
    threads: usize,
    dir: &Path,
    genesis: &storage_adapter::BlockCommit,
    blocks: &[Block],
    warmup: u64,
) -> anyhow::Result<RunResult> {
    if dir.exists() {
        bail!(
            "{} already exists: --data-dir must not hold an earlier comparison",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = format!("{} at {threads} thread(s)", kind.name());
    let store =
        RocksStore::open(dir).with_context(|| format!("opening the store at {}", dir.display()))?;
    store.commit(genesis).context("committing genesis")?;

    let mut result = RunResult {
        kind,
        threads,
        roots: Vec::with_capacity(blocks.len()),
        transactions: 0,
        executing: Duration::ZERO,
        committing: Duration::ZERO,
        stats: Stats::default(),
    };
    for (position, block) in blocks.iter().enumerate() {
        let timed = position as u64 >= warmup;
        let topoheight = block.topoheight();

        let started = Instant::now();
        let snapshot = store.snapshot()?;
        let execution = engine
            .execute(block, &snapshot)
            .with_context(|| format!("{name}: executing block {topoheight}"))?;
        drop(snapshot);
        let executing = started.elapsed();

        let started = Instant::now();
        store
            .commit(&execution.output.commit)
            .with_context(|| format!("{name}: committing block {topoheight}"))?;
        let committing = started.elapsed();

        result.roots.push(execution.output.commit.state_root());
        if timed {
            result.executing += executing;
            result.committing += committing;
            result.transactions += block.transactions().len() as u64;
            result.stats.add(&execution.stats);
        }
    }
    Ok(result)
}

/// Fails, naming both runs and roots, at the first block where `run` and `reference`
/// disagree.
fn check_roots(reference: &RunResult, run: &RunResult) -> anyhow::Result<()> {
    for (position, (expected, got)) in reference.roots.iter().zip(&run.roots).enumerate() {
        if expected != got {
            bail!(
                "state roots disagree at block {}: {} has {expected}, {} has {got}",
                position + 1,
                reference.label(),
                run.label(),
            );
        }
    }
    if reference.roots.len() != run.roots.len() {
        bail!(
            "{} applied {} blocks, {} applied {}",
            reference.label(),
            reference.roots.len(),
            run.label(),
            run.roots.len()
        );
    }
    Ok(())
}

fn measure(args: &CompareArgs, accounts: usize, runs: &[RunResult]) -> Vec<Measurement> {
    let sequential = runs
        .iter()
        .find(|run| run.kind == EngineKind::Sequential)
        .map_or(0.0, RunResult::tx_per_s);
    let grouping_at = |threads: usize| {
        runs.iter()
            .find(|run| run.kind == EngineKind::Grouping && run.threads == threads)
            .map(RunResult::tx_per_s)
    };
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    runs.iter()
        .map(|run| {
            let rate = run.tx_per_s();
            let per_tx = |count: u64| {
                if run.stats.engine.transactions > 0 {
                    count as f64 / run.stats.engine.transactions as f64
                } else {
                    0.0
                }
            };
            Measurement {
                workload: args.workload.to_string(),
                accounts,
                block_size: args.block_size,
                blocks: args.blocks,
                warmup_blocks: args.warmup,
                rounds: args.repeat,
                seed: args.seed,
                failure_rate: args.failure_rate,
                engine: run.kind.name(),
                threads: run.threads,
                transactions: run.transactions,
                execute_s: run.executing.as_secs_f64(),
                commit_s: run.committing.as_secs_f64(),
                tx_per_s: rate,
                speedup_vs_sequential: ratio(rate, sequential),
                speedup_vs_grouping: grouping_at(run.threads).map(|grouping| ratio(rate, grouping)),
                root: run.roots.last().map(Hash::to_string).unwrap_or_default(),
                executions_per_tx: per_tx(run.stats.engine.executions),
                validations_per_tx: per_tx(
                    run.stats.engine.block_stm.unwrap_or_default().validations,
                ),
                batches_per_block: run
                    .stats
                    .engine
                    .grouping
                    .map(|grouping| grouping.batches as f64 / args.blocks as f64),
                stats: run.stats.clone(),
            }
        })
        .collect()
}

fn print_table(
    out: &mut impl Write,
    args: &CompareArgs,
    accounts: usize,
    measurements: &[Measurement],
) -> anyhow::Result<()> {
    writeln!(
        out,
        "{} workload, {accounts} accounts, {} tx/block, {} timed blocks (+{} warm-up, not timed), \
         median of {} rounds, seed {}{}",
        args.workload,
        args.block_size,
        args.blocks,
        args.warmup,
        args.repeat,
        args.seed,
        if args.failure_rate > 0.0 {
            format!(", failure rate {}", args.failure_rate)
        } else {
            String::new()
        }
    )?;
    writeln!(
        out,
        "{:<11} {:>7} {:>10} {:>9} {:>10} {:>7} {:>10} {:>8} {:>8} {:>13}",
        "engine",
        "threads",
        "execute s",
        "commit s",
        "tx/s",
        "x seq",
        "x grouping",
        "exec/tx",
        "val/tx",
        "batches/block"
    )?;
    for m in measurements {
        let dash = || "-".to_owned();
        let grouping = m
            .speedup_vs_grouping
            .map_or_else(dash, |ratio| format!("{ratio:.2}"));
        let (executions, validations) = if m.engine == EngineKind::BlockStm.name() {
            (
                format!("{:.3}", m.executions_per_tx),
                format!("{:.3}", m.validations_per_tx),
            )
        } else {
            (dash(), dash())
        };
        let batches = m
            .batches_per_block
            .map_or_else(dash, |batches| format!("{batches:.1}"));
        writeln!(
            out,
            "{:<11} {:>7} {:>10.3} {:>9.3} {:>10.0} {:>7.2} {:>10} {:>8} {:>8} {:>13}",
            m.engine,
            m.threads,
            m.execute_s,
            m.commit_s,
            m.tx_per_s,
            m.speedup_vs_sequential,
            grouping,
            executions,
            validations,
            batches
        )?;
    }
    for m in measurements {
        if m.engine == EngineKind::BlockStm.name()
            && (m.threads > 1 || args.one_thread)
            && m.stats.engine.sequential_blocks > 0
        {
            writeln!(
                out,
                "block-stm at {} threads ran {} of {} timed blocks on its sequential path \
                 (contention cutoff {}%; --contention-cutoff off always runs in parallel)",
                m.threads, m.stats.engine.sequential_blocks, args.blocks, args.contention_cutoff
            )?;
        }
    }
    for m in measurements {
        let engine = m.stats.engine.block_stm.unwrap_or_default();
        if m.engine == EngineKind::BlockStm.name()
            && engine.delta_writes + engine.predicate_reads + engine.exact_reexecutions > 0
        {
            writeln!(
                out,
                "block-stm at {} threads: {} deltas ({} above a later lower write), {} summed \
                 reads, {} predicates ({} held through a change), {} exact re-executions, \
                 {} waits for settled balances",
                m.threads,
                engine.delta_writes,
                engine.delta_saves,
                engine.delta_reads,
                engine.predicate_reads,
                engine.predicate_saves,
                engine.exact_reexecutions,
                engine.settle_waits
            )?;
        }
    }
    let fallbacks: u64 = measurements.iter().map(|m| m.stats.engine.fallbacks).sum();
    if fallbacks > 0 {
        writeln!(out, "fallbacks to sequential: {fallbacks}")?;
    }
    if let Some(first) = measurements.first() {
        writeln!(
            out,
            "all {} runs agree on every block's state root; final root {}",
            measurements.len() * args.repeat,
            first.root
        )?;
    }
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kind: EngineKind, threads: usize, roots: &[u8], executing_ms: u64) -> RunResult {
        RunResult {
            kind,
            threads,
            roots: roots.iter().map(|&byte| Hash([byte; 32])).collect(),
            transactions: 10,
            executing: Duration::from_millis(executing_ms),
            committing: Duration::ZERO,
            stats: Stats::default(),
        }
    }

    #[test]
    fn disagreeing_roots_fail_naming_both_runs() {
        let reference = run(EngineKind::Sequential, 1, &[1, 2, 3], 5);
        assert!(check_roots(&reference, &run(EngineKind::BlockStm, 4, &[1, 2, 3], 5)).is_ok());
        let error = check_roots(&reference, &run(EngineKind::Grouping, 2, &[1, 9, 3], 5))
            .expect_err("roots differ at block 2")
            .to_string();
        assert!(error.contains("block 2"), "{error}");
        assert!(error.contains("sequential (1 thread)"), "{error}");
        assert!(error.contains("grouping (2 threads)"), "{error}");
        assert!(error.contains(&Hash([2; 32]).to_string()), "{error}");
        assert!(error.contains(&Hash([9; 32]).to_string()), "{error}");
        assert!(check_roots(&reference, &run(EngineKind::Grouping, 2, &[1, 2], 5)).is_err());
    }

    #[test]
    fn the_median_run_is_reported() {
        let runs = [7, 3, 9, 5, 4]
            .map(|ms| run(EngineKind::Grouping, 2, &[1], ms))
            .to_vec();
        let median = median(runs).expect("five runs");
        assert_eq!(median.executing, Duration::from_millis(5));
        assert!(super::median(Vec::new()).is_none());
    }

    #[test]
    fn thread_counts_are_checked_and_deduplicated() {
        assert_eq!(
            thread_counts(Some(&[2, 1, 2, 4])).expect("valid"),
            vec![2, 1, 4]
        );
        assert!(thread_counts(Some(&[1, 0])).is_err());
        assert!(thread_counts(Some(&[])).is_err());
        let default = thread_counts(None).expect("valid");
        assert_eq!(&default[..2], &[1, 2]);
    }
}
