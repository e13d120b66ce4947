//! The arguments of `blockstm compare`, their parsers, and the thread counts they name.

use std::path::PathBuf;

use anyhow::bail;
use executor::engine::blockstm::{BlockStmConfig, SinkPolicy};
use executor::slot::ContentionCutoff;
use executor::workload::WorkloadKind;
use executor::VmKind;

use crate::names;

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

The machine's own parallel ceiling is measured in the same rounds: at each thread count \
N above 1, N threads each execute their own copy of the blocks with the sequential \
oracle on a private in-memory state, and the ceiling is N x (time of one copy alone) / \
(time of the N copies at once), the speedup a perfectly parallel job gets on this \
machine now (median of the rounds; 1 at one thread by definition). '% ceiling' is each \
speedup over sequential as a share of the ceiling at its thread count.

The command fails (non-zero exit) if two runs disagree on any block's state root.

With --plot FILE it also writes a PNG of the speedup over sequential against the number \
of accounts, one line per engine and thread count; without --accounts it then sweeps \
2,10,100,1000,10000 accounts.")]
pub struct CompareArgs {
    /// The workload shape.
    #[arg(long, value_parser = names::workload(), default_value_t = WorkloadKind::P2p)]
    pub workload: WorkloadKind,
    /// Number of accounts (at least 2); a comma-separated list runs the comparison once
    /// per count [default: 1000, or 2,10,100,1000,10000 with --plot].
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub accounts: Option<Vec<usize>>,
    /// Transactions per block.
    #[arg(long, default_value_t = 1000)]
    pub block_size: usize,
    /// Timed blocks per engine run.
    #[arg(long, default_value_t = 10)]
    pub blocks: u64,
    /// Blocks applied before the timed ones, not timed (their roots are still checked).
    #[arg(long, default_value_t = 1)]
    pub warmup: u64,
    /// Rounds: every engine run is repeated this many times, round-robin and in rotated
    /// order (so that load from elsewhere and run order hit all engines alike), and the
    /// run with the median execution time is reported.
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    /// Seed of the workload generator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Share of deliberately failing transactions (wrong nonce or insufficient funds).
    #[arg(long, default_value_t = 0.0)]
    pub failure_rate: f64,
    /// AMM pools of the `amm` and `mixed` workloads.
    #[arg(long, default_value_t = executor::workload::DEFAULT_POOLS)]
    pub pools: usize,
    /// Share of token transfers whose sender, and whose receiver, is one of 4 hot holders
    /// (`token` and `mixed`; 0 is uniform).
    #[arg(long, default_value_t = 0.0)]
    pub hot_ratio: f64,
    /// The VM every engine runs contract calls on (same results, another speed).
    #[arg(long, value_name = "interpreter|jit", default_value_t = VmKind::Interpreter)]
    pub vm: VmKind,
    /// Thread counts of the parallel engines, comma-separated
    /// [default: 1,2 and the available parallelism when larger].
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub threads: Option<Vec<usize>>,
    /// A scratch directory for the RocksDB stores, which must not hold earlier runs
    /// [default: a fresh temporary directory, removed afterwards].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Print one JSON array (an object per account count, engine and thread count)
    /// instead of the tables.
    #[arg(long)]
    pub json: bool,
    /// Write a PNG chart of the speedup over sequential against the number of accounts.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Block-STM runs a block sequentially when at least this percentage of its first
    /// transactions conflict with their neighbours; `off` always runs it in parallel.
    #[arg(long, value_name = "PERCENT|off", default_value_t = ContentionCutoff::default())]
    pub contention_cutoff: ContentionCutoff,
    /// Block-STM's nonce hints: a transaction waits for the same sender's previous one to
    /// execute before it starts (`off` to measure what they save).
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    pub nonce_hints: bool,
    /// Block-STM's deltas and predicates: hot balances change by commutative deltas and
    /// debits from them are checked as "balance ≥ spend" (`off` to measure what they save).
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    pub deltas: bool,
    /// Block-STM's execution claims: a worker claims runs of consecutive transactions
    /// (sized from a sample of the block) instead of one at a time (`off` to measure what
    /// they save).
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    pub claims: bool,
    /// Block-STM's settled balances: hot balances that the block only credits are settled
    /// at commit instead of versioned (`receive-only`); `all-hot` settles every hot
    /// balance, `off` none (to measure what they save).
    #[arg(long, value_name = "receive-only|all-hot|off", default_value = "receive-only", value_parser = parse_sinks)]
    pub sinks: SinkPolicy,
    /// What Block-STM runs at 1 thread: the sequential path, as the engine does
    /// (`sequential`), or its parallel path on one worker (`parallel`), to measure what
    /// Block-STM's own bookkeeping costs when nothing runs beside it.
    #[arg(long, value_name = "sequential|parallel", default_value = "sequential", value_parser = parse_one_thread, action = clap::ArgAction::Set)]
    pub one_thread: bool,
    /// Block-STM's frontier runs: the most transactions the commit role executes at once
    /// at the commit frontier, on final state, with two or more workers (0 turns frontier
    /// runs off, at any thread count; one worker otherwise runs the whole block so).
    #[arg(long, value_name = "N", default_value_t = BlockStmConfig::DEFAULT_FRONTIER_RUN)]
    pub frontier_run: usize,
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

/// The thread counts to run: the given list (each at least 1, duplicates dropped) or 1, 2
/// and the available parallelism when larger.
pub fn thread_counts(given: Option<&[usize]>) -> anyhow::Result<Vec<usize>> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
