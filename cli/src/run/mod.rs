//! `blockstm run`: applies generated blocks to a RocksDB store through the daemon's
//! executor slot and node, and reports throughput and the final state root.
//!
//! The last line on stdout is always `state root: <64 hex digits>`, so scripts can compare
//! runs (two engines, two machines) with `tail -n 1`.
//!
//! A second run on the same data directory continues the chain. The generator holds the
//! nonces it expects, so it cannot jump into the middle of a chain: it replays from
//! genesis and discards the blocks up to the stored topoheight (cheap next to executing
//! them), then checks that the stored nonces match what it expects, which catches a
//! continuation with different workload parameters.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use executor::capsule::config::CapsuleOverrides;
use executor::capsule::BlocksWriter;
use executor::node::health::HealthPolicy;
use executor::node::{metrics, Node};
use executor::slot::{
    CircuitBreakerOverrides, ConfigOverrides, ContentionCutoff, EngineKind, ExecutorConfig,
    Network, VmSetting,
};
use executor::workload::{Workload, WorkloadConfig, WorkloadKind};
use indicatif::{ProgressBar, ProgressStyle};
use storage_adapter::{BlockStore, RocksStore, StateKey, StateValue, StateView};

use crate::names;

mod report;

/// How many accounts the continuation check compares against the store.
const NONCE_CHECK_ACCOUNTS: usize = 16;

/// The arguments of `blockstm run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The workload shape.
    #[arg(long, value_parser = names::workload(), default_value_t = WorkloadKind::P2p)]
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
    /// AMM pools of the `amm` and `mixed` workloads (keep it when continuing a chain).
    #[arg(long, default_value_t = executor::workload::DEFAULT_POOLS)]
    pools: usize,
    /// Share of token transfers whose sender, and whose receiver, is one of 4 hot holders
    /// (`token` and `mixed`; 0 is uniform).
    #[arg(long, default_value_t = 0.0)]
    hot_ratio: f64,
    /// The VM contract calls run on: `interpreter` or `jit` (x86_64); the same results
    /// [config: vm; default: interpreter].
    #[arg(long, value_name = "interpreter|jit")]
    vm: Option<VmSetting>,
    /// The RocksDB directory; created when missing, continued when it holds a chain.
    #[arg(long, default_value = "./blockstm-data")]
    data_dir: PathBuf,
    /// The executor configuration file (TOML; see README). `TOS_EXECUTOR_*` environment
    /// variables override it, and the flags below override both.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The network, which sets the default parallel threshold (20, 10, 4 transactions)
    /// [config: network; default: mainnet].
    #[arg(long, value_parser = names::network())]
    network: Option<Network>,
    /// The execution engine [config: kind; default: block-stm].
    #[arg(long, value_parser = names::engine_kind())]
    executor: Option<EngineKind>,
    /// Worker threads for parallel engines [config: threads; default: available
    /// parallelism].
    #[arg(long)]
    threads: Option<usize>,
    /// Blocks with fewer transactions run sequentially [config: min_parallel_txns;
    /// default: the network's].
    #[arg(long)]
    min_parallel_txns: Option<usize>,
    /// Block-STM runs a block sequentially when at least this percentage of its first
    /// transactions conflict with their neighbours; `off` always runs it in parallel
    /// [config: contention_cutoff; default: 50].
    #[arg(long, value_name = "PERCENT|off")]
    contention_cutoff: Option<ContentionCutoff>,
    /// Run Block-STM beside the sequential oracle on every block, compare, keep the
    /// oracle's output [config: shadow].
    #[arg(long)]
    shadow: bool,
    /// After a shadow mismatch or a fallback, run this many blocks sequentially before
    /// trying the parallel engine again; 0 never stops it [config:
    /// circuit_breaker.cooldown_blocks; default: 100].
    #[arg(long)]
    breaker_cooldown_blocks: Option<u64>,
    /// Serve the node's statistics in the Prometheus text format at
    /// `http://ADDR/metrics`, and its admin API beside them (`/status`, `/health`,
    /// `/blocks`, `/config`; see `blockstm status` and `blockstm config`), while the run
    /// lasts; a bare port means 127.0.0.1:PORT.
    #[arg(long, value_name = "ADDR", value_parser = metrics::parse_addr)]
    metrics_addr: Option<SocketAddr>,
    /// Write a capsule to DIR after a shadow mismatch or a fallback (`blockstm replay`
    /// re-runs it) [config: capsules.dir; default: none].
    #[arg(long, value_name = "DIR")]
    capsule_dir: Option<PathBuf>,
    /// Write the chain's genesis and every block from topoheight 1, with the roots this
    /// run reached, to FILE (JSON Lines; `blockstm replay --blocks FILE` runs it).
    #[arg(long, value_name = "FILE")]
    export_blocks: Option<PathBuf>,
    /// `/health` reports the node unhealthy after this many seconds without a block;
    /// 0 never does.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    health_max_block_age: u64,
    /// How many recent blocks `/blocks` and the status's averages keep.
    #[arg(long, value_name = "BLOCKS", default_value_t = executor::node::history::DEFAULT_HISTORY_CAPACITY)]
    history_blocks: usize,
}

impl RunArgs {
    /// The flags that override the configuration file and environment.
    fn overrides(&self) -> ConfigOverrides {
        ConfigOverrides {
            network: self.network,
            kind: self.executor,
            threads: self.threads,
            min_parallel_txns: self.min_parallel_txns,
            contention_cutoff: self.contention_cutoff,
            vm: self.vm,
            shadow: self.shadow.then_some(true),
            circuit_breaker: self.breaker_cooldown_blocks.map(|cooldown_blocks| {
                CircuitBreakerOverrides {
                    cooldown_blocks: Some(cooldown_blocks),
                }
            }),
            capsules: self
                .capsule_dir
                .clone()
                .map(|dir| CapsuleOverrides { dir: Some(dir) }),
        }
    }
}

/// Runs `blockstm run`.
pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let config = ExecutorConfig::load(args.config.as_deref(), &args.overrides())?;
    let workload_config = WorkloadConfig {
        kind: args.workload,
        accounts: args.accounts,
        block_size: args.block_size,
        seed: args.seed,
        failure_rate: args.failure_rate,
        pools: args.pools,
        hot_ratio: args.hot_ratio,
    };
    let mut workload = Workload::new(workload_config).context("invalid workload")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("blockstm-runtime")
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;

    let health = HealthPolicy {
        max_block_age: (args.health_max_block_age > 0)
            .then(|| Duration::from_secs(args.health_max_block_age)),
    };
    let node = Arc::new(
        Node::open(&args.data_dir, &config)
            .with_context(|| format!("opening the node at {}", args.data_dir.display()))?
            .with_history_capacity(args.history_blocks)
            .with_health_policy(health),
    );
    // `SIGHUP` reads the configuration again (file, environment, these flags) and
    // applies it from the next block.
    #[cfg(unix)]
    let reloader = {
        let source = executor::slot::ConfigSource {
            path: args.config.clone(),
            overrides: args.overrides(),
        };
        let node = Arc::clone(&node);
        runtime.spawn(async move {
            if let Err(error) = executor::node::admin::reload_on_sighup(node, source).await {
                tracing::warn!(%error, "cannot watch SIGHUP: no configuration reload");
            }
        })
    };
    if node.chain_state().topoheight.is_none() {
        let genesis = workload.genesis().context("building genesis")?;
        node.apply_genesis(&genesis).context("committing genesis")?;
    }
    let mut export = match &args.export_blocks {
        Some(path) => Some(start_export(path, &workload)?),
        None => None,
    };
    let first = node.chain_state().next_topoheight();
    if first > 1 {
        replay(&mut workload, node.store(), first, export.as_mut())?;
    }

    let metrics_server = match args.metrics_addr {
        Some(addr) => Some(start_metrics_server(&runtime, addr, Arc::clone(&node))?),
        None => None,
    };

    let progress = progress_bar(args.blocks);
    let mut generating = Duration::ZERO;
    for topoheight in (first..).take(usize::try_from(args.blocks).unwrap_or(usize::MAX)) {
        let started = Instant::now();
        let block = workload.next_block(topoheight);
        generating += started.elapsed();
        // A copy only when exporting: the node takes the block.
        let exported = export.is_some().then(|| block.clone());
        let applied = runtime
            .block_on(node.apply_block(block))
            .with_context(|| format!("applying block {topoheight}"))?;
        if let (Some(export), Some(block)) = (export.as_mut(), exported) {
            export
                .write_block(&block, Some(applied.state_root))
                .context("writing the block file")?;
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    if let Some(export) = export {
        export.finish().context("writing the block file")?;
    }
    // Wait for the reload task to be gone, not just told to go: it holds a handle on the
    // node, and so on the database. A handle left on another thread could close RocksDB
    // while the process exits, and RocksDB aborts ("pthread lock: Invalid argument")
    // when its mutexes go away under a running database; seen once in the crash test's
    // short continuation runs. Then the node below is the last handle and closes the
    // database here, on this thread.
    #[cfg(unix)]
    {
        reloader.abort();
        // A cancelled task answers `Err(cancelled)`: that is the expected outcome.
        let _ = runtime.block_on(reloader);
    }
    // The same for the slot's execution threads, which hold the store until they end.
    runtime.block_on(node.executor().wait_idle());
    if let Some((shutdown, server)) = metrics_server {
        let _ = shutdown.send(());
        runtime
            .block_on(server)
            .context("the metrics server task")?
            .context("the metrics server")?;
    }

    report::print(
        args,
        &config,
        &node.stats(),
        &node.chain_state(),
        generating,
    )
}

/// Binds `addr` and serves the node's metrics on the runtime until the returned sender
/// fires.
fn start_metrics_server(
    runtime: &tokio::runtime::Runtime,
    addr: SocketAddr,
    node: Arc<Node>,
) -> anyhow::Result<(
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
)> {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .with_context(|| format!("binding the metrics address {addr}"))?;
    let local = listener.local_addr()?;
    if !local.ip().is_loopback() {
        tracing::warn!(%local, "serving metrics beyond loopback");
    }
    eprintln!("metrics: http://{local}/metrics, admin API: http://{local}/status");
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(metrics::serve(listener, node, async move {
        let _ = stop.await;
    }));
    Ok((shutdown, server))
}

/// The block file of `--export-blocks`, buffered.
type Export = BlocksWriter<std::io::BufWriter<std::fs::File>>;

/// Creates the block file at `path` with the workload's genesis.
fn start_export(path: &std::path::Path, workload: &Workload) -> anyhow::Result<Export> {
    // The block file's header carries genesis balances only; a contract workload's
    // genesis also deploys contracts, which the format cannot carry yet.
    anyhow::ensure!(
        !workload.config().kind.calls_contracts(),
        "--export-blocks does not support the contract workload `{}` yet: the block file \
         records genesis balances, not deployed contracts",
        workload.config().kind
    );
    let file = std::fs::File::create(path)
        .with_context(|| format!("creating the block file {}", path.display()))?;
    BlocksWriter::new(
        std::io::BufWriter::new(file),
        &workload.genesis_allocations(),
    )
    .with_context(|| format!("writing the block file {}", path.display()))
}

/// Regenerates the blocks already in the store (writing them to the block file, without
/// roots, when exporting), so the generator's nonces match the stored chain, then checks
/// them against a few stored nonces.
fn replay(
    workload: &mut Workload,
    store: &RocksStore,
    first: u64,
    mut export: Option<&mut Export>,
) -> anyhow::Result<()> {
    for topoheight in 1..first {
        let block = workload.next_block(topoheight);
        if let Some(export) = export.as_deref_mut() {
            export
                .write_block(&block, None)
                .context("writing the block file")?;
        }
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
