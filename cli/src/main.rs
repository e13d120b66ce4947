//! The `blockstm` binary: the command line, its dispatch and the logging set-up.
//!
//! `blockstm run` ([`run`]) applies generated blocks to a RocksDB store through the
//! daemon's executor slot and node, and reports throughput and the final state root.
//! `blockstm compare` ([`compare`]) runs the same generated blocks through the sequential
//! oracle, batch grouping and Block-STM at several thread counts, each from the same
//! genesis on a fresh RocksDB store, checks that every block's state root agrees, and
//! reports throughput ratios measured in that one run beside the machine's own parallel
//! ceiling (a table, `--json`, or a `--plot` PNG). `blockstm replay` ([`replay`]) re-runs
//! a mismatch capsule, or a block file written by `run --export-blocks`, on every engine
//! and thread count, and exits non-zero where they diverge. `blockstm status` and
//! `blockstm config get|set` ([`admin`]) ask a running node's admin API.
//!
//! A crate of its own so that the library a daemon links, `executor`, carries none of
//! the binary's dependencies (clap, indicatif, plotters, tracing-subscriber, tempfile,
//! anyhow).

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

mod admin;
mod compare;
mod names;
mod plot;
mod replay;
mod run;

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
    Run(run::RunArgs),
    /// Run the same blocks through sequential, batch grouping and Block-STM (at each
    /// thread count), check that their state roots agree, and compare throughput.
    Compare(compare::CompareArgs),
    /// Re-run a mismatch capsule (or, with --blocks, a block file) on every engine and
    /// thread count, and print where they differ; exits non-zero on divergence.
    Replay(replay::ReplayArgs),
    /// Show a running node's status (its admin API: `blockstm run --metrics-addr`).
    Status(admin::StatusArgs),
    /// Show or change a running node's executor configuration (from the next block).
    Config(admin::ConfigArgs),
}

fn main() -> anyhow::Result<()> {
    // Logs go to stderr, so that stdout holds only the report (and `run`'s last line is
    // always the state root).
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Run(args) => run::run(&args),
        Command::Compare(args) => compare::compare(&args),
        Command::Replay(args) => replay::replay_command(&args),
        Command::Status(args) => admin::status(&args),
        Command::Config(args) => admin::config(&args),
    }
}
