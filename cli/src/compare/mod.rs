//! `blockstm compare`: the same blocks through every engine, each from the same genesis on
//! a fresh RocksDB store, with throughput ratios measured in one run, every block's state
//! root checked across engines, and the machine's own parallel ceiling measured beside
//! them.
//!
//! [`args`] holds the command line, [`engines`] builds the engines, [`rounds`] schedules
//! and times their runs, [`ceiling`] measures what the machine itself can give at each
//! thread count, and [`report`] prints the table or the JSON; `--plot` hands the
//! measurements to [`crate::plot`].

use std::io::Write;

use anyhow::{bail, Context};
use executor::workload::{Workload, WorkloadConfig};
use executor::Block;

mod args;
mod ceiling;
mod engines;
mod report;
mod rounds;

pub use args::CompareArgs;
pub use engines::EngineKind;
pub use report::Measurement;

/// The account counts `--plot` sweeps when `--accounts` is not given (the paper's set).
pub const PLOT_ACCOUNTS: [usize; 5] = [2, 10, 100, 1000, 10_000];

/// Runs `blockstm compare`.
pub fn compare(args: &CompareArgs) -> anyhow::Result<()> {
    let accounts = match (&args.accounts, &args.plot) {
        (Some(accounts), _) => accounts.clone(),
        (None, Some(_)) => PLOT_ACCOUNTS.to_vec(),
        (None, None) => vec![1000],
    };
    let threads = args::thread_counts(args.threads.as_deref())?;
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
    let plan = rounds::plan(&threads);

    let mut measurements = Vec::new();
    let mut out = std::io::stdout().lock();
    for &count in &accounts {
        let config = WorkloadConfig {
            kind: args.workload,
            accounts: count,
            block_size: args.block_size,
            seed: args.seed,
            failure_rate: args.failure_rate,
            pools: args.pools,
            hot_ratio: args.hot_ratio,
        };
        let mut workload = Workload::new(config).context("invalid workload")?;
        let genesis = workload.genesis().context("building genesis")?;
        let total_blocks = args.warmup.saturating_add(args.blocks);
        let blocks: Vec<Block> = (1..=total_blocks)
            .map(|topoheight| workload.next_block(topoheight))
            .collect();
        drop(workload);

        let dir = base.join(format!("{count}-accounts"));
        let setting = rounds::Setting {
            args,
            accounts: count,
            dir: &dir,
            remove_after: args.data_dir.is_none(),
            genesis: &genesis,
            blocks: &blocks,
        };
        let medians = rounds::run_rounds(&setting, &plan)?;
        let measured = report::measure(args, count, &medians);
        if !args.json {
            report::print_table(&mut out, args, count, &measured, &medians.ceilings)?;
        }
        measurements.extend(measured);
    }

    if args.json {
        report::print_json(&mut out, &measurements).context("writing JSON")?;
    }
    if let Some(path) = &args.plot {
        crate::plot::speedup_chart(
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
