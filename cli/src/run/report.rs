//! What `blockstm run` prints when it is done: the configuration, the workload, the
//! throughput, the paths the executor slot took, the engine's counters, the peak RSS and,
//! as the last line, the state root.

use std::io::Write;
use std::time::Duration;

use executor::node::NodeStats;
use executor::slot::ExecutorConfig;
use storage_adapter::ChainState;

use super::RunArgs;

/// Prints the run's summary; the last line is the state root.
pub(super) fn print(
    args: &RunArgs,
    config: &ExecutorConfig,
    stats: &NodeStats,
    chain: &ChainState,
    generating: Duration,
) -> anyhow::Result<()> {
    let seconds = stats.engine_seconds + stats.commit_seconds;
    let rate = |count: u64| {
        if seconds > 0.0 {
            count as f64 / seconds
        } else {
            0.0
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "executor: {} ({} threads, {} network: parallel from {} transactions{})",
        config.kind,
        config.threads(),
        format!("{:?}", config.network).to_lowercase(),
        config.min_parallel_txns(),
        if config.shadow { ", shadow mode" } else { "" }
    )?;
    writeln!(
        out,
        "workload: {}, {} accounts, {} tx/block, seed {}",
        args.workload, args.accounts, args.block_size, args.seed
    )?;
    writeln!(
        out,
        "blocks: {} (topoheight now {})",
        stats.blocks,
        chain.topoheight.unwrap_or(0)
    )?;
    writeln!(
        out,
        "transactions: {} (successful {}, failed {})",
        stats.transactions,
        stats.successful_transactions,
        stats.transactions - stats.successful_transactions
    )?;
    writeln!(
        out,
        "elapsed: {seconds:.3} s (execute {:.3} s, commit {:.3} s; generation {:.3} s not counted)",
        stats.engine_seconds,
        stats.commit_seconds,
        generating.as_secs_f64()
    )?;
    writeln!(
        out,
        "throughput: {:.2} blocks/s, {:.0} tx/s",
        rate(stats.blocks),
        rate(stats.transactions)
    )?;
    let slot = &stats.slot;
    writeln!(
        out,
        "paths: {} on the engine, {} compared in shadow, {} below the threshold, {} while the breaker was open",
        slot.engine_blocks, slot.shadow_compared, slot.below_threshold, slot.breaker_skipped
    )?;
    if config.shadow {
        writeln!(
            out,
            "shadow: {} blocks compared, {} mismatches",
            slot.shadow_compared, slot.shadow_mismatches
        )?;
    }
    let parallel = &stats.parallel;
    if parallel.transactions > 0 {
        let per_tx = |count: u64| count as f64 / parallel.transactions as f64;
        // Block-STM's own counters; zero when another engine ran the blocks.
        let counters = parallel.block_stm.unwrap_or_default();
        writeln!(
            out,
            "engine: {:.3} executions/tx, {:.3} validations/tx, {} aborts, {} dependency waits, {} nonce-hint waits, {} fallbacks, {} breaker trips",
            per_tx(parallel.executions),
            per_tx(counters.validations),
            counters.aborts,
            counters.dependency_waits,
            counters.hint_waits,
            slot.fallbacks,
            slot.breaker_trips
        )?;
        writeln!(
            out,
            "deltas: {} committed ({} above a later lower write), {} summed reads, {} predicates ({} held through a change), {} exact re-executions, {} waits for settled balances",
            counters.delta_writes,
            counters.delta_saves,
            counters.delta_reads,
            counters.predicate_reads,
            counters.predicate_saves,
            counters.exact_reexecutions,
            counters.settle_waits
        )?;
    }
    if let Some(memory) = Memory::read() {
        writeln!(
            out,
            "memory: peak RSS {:.1} MiB, RSS now {:.1} MiB",
            memory.peak_rss_kib as f64 / 1024.0,
            memory.rss_kib as f64 / 1024.0
        )?;
    }
    writeln!(out, "state root: {}", chain.state_root)?;
    Ok(())
}

/// This process's resident memory, from `/proc/self/status` (Linux only).
struct Memory {
    /// `VmHWM`: the peak resident set size.
    peak_rss_kib: u64,
    /// `VmRSS`: the resident set size now.
    rss_kib: u64,
}

impl Memory {
    fn read() -> Option<Self> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        };
        Some(Self {
            peak_rss_kib: field("VmHWM:")?,
            rss_kib: field("VmRSS:")?,
        })
    }
}
