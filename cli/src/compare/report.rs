//! What `blockstm compare` reports: one [`Measurement`] per account count, engine and
//! thread count, printed as a table (with the machine's ceiling under it) or as JSON.

use std::io::Write;

use serde::Serialize;
use storage_adapter::Hash;

use super::args::CompareArgs;
use super::ceiling::Ceiling;
use super::engines::EngineKind;
use super::rounds::{Medians, RunResult, Stats};

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
    /// The machine's parallel ceiling at this thread count, measured in the same rounds
    /// (1 at one thread).
    pub ceiling: f64,
    /// `speedup_vs_sequential / ceiling`: the share of what this machine could give at
    /// this thread count.
    pub of_ceiling: f64,
    /// The state root after the last block.
    pub root: String,
    pub executions_per_tx: f64,
    pub validations_per_tx: f64,
    /// Grouping only.
    pub batches_per_block: Option<f64>,
    /// The engine's counters over the timed blocks.
    pub stats: Stats,
}

/// The ceiling at `threads`: 1 at one thread, by definition.
fn ceiling_at(ceilings: &[Ceiling], threads: usize) -> f64 {
    if threads <= 1 {
        return 1.0;
    }
    ceilings
        .iter()
        .find(|ceiling| ceiling.threads == threads)
        .map_or(0.0, |ceiling| ceiling.speedup)
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

/// The measurements of one account count, from the median runs and ceilings.
pub fn measure(args: &CompareArgs, accounts: usize, medians: &Medians) -> Vec<Measurement> {
    let runs = &medians.runs;
    let sequential = runs
        .iter()
        .find(|run| run.kind == EngineKind::Sequential)
        .map_or(0.0, RunResult::tx_per_s);
    let grouping_at = |threads: usize| {
        runs.iter()
            .find(|run| run.kind == EngineKind::Grouping && run.threads == threads)
            .map(RunResult::tx_per_s)
    };
    runs.iter()
        .map(|run| {
            let rate = run.tx_per_s();
            let per_tx = |count: u64| ratio(count as f64, run.stats.engine.transactions as f64);
            let speedup = ratio(rate, sequential);
            let ceiling = ceiling_at(&medians.ceilings, run.threads);
            Measurement {
                workload: args.workload.to_string(),
                accounts,
                block_size: args.block_size,
                blocks: args.blocks,
                warmup_blocks: args.warmup,
                rounds: args.repeat,
                seed: args.seed,
                failure_rate: args.failure_rate,
                engine: run.kind.as_str(),
                threads: run.threads,
                transactions: run.transactions,
                execute_s: run.executing.as_secs_f64(),
                commit_s: run.committing.as_secs_f64(),
                tx_per_s: rate,
                speedup_vs_sequential: speedup,
                speedup_vs_grouping: grouping_at(run.threads).map(|grouping| ratio(rate, grouping)),
                ceiling,
                of_ceiling: ratio(speedup, ceiling),
                root: run.roots.last().map(Hash::to_string).unwrap_or_default(),
                executions_per_tx: per_tx(run.stats.engine.executions),
                validations_per_tx: per_tx(
                    run.stats
                        .engine
                        .block_stm
                        .as_ref()
                        .map_or(0, |counters| counters.validations),
                ),
                batches_per_block: run
                    .stats
                    .batches
                    .map(|batches| batches as f64 / args.blocks as f64),
                stats: run.stats.clone(),
            }
        })
        .collect()
}

/// Prints the table of one account count, the ceilings under it, then the notes.
pub fn print_table(
    out: &mut impl Write,
    args: &CompareArgs,
    accounts: usize,
    measurements: &[Measurement],
    ceilings: &[Ceiling],
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
        "{:<11} {:>7} {:>10} {:>9} {:>10} {:>7} {:>9} {:>10} {:>8} {:>8} {:>13}",
        "engine",
        "threads",
        "execute s",
        "commit s",
        "tx/s",
        "x seq",
        "% ceiling",
        "x grouping",
        "exec/tx",
        "val/tx",
        "batches/block"
    )?;
    for m in measurements {
        let dash = || "-".to_owned();
        let of_ceiling = if m.engine == EngineKind::Sequential.as_str() || m.ceiling <= 0.0 {
            dash()
        } else {
            format!("{:.0}%", m.of_ceiling * 100.0)
        };
        let grouping = m
            .speedup_vs_grouping
            .map_or_else(dash, |ratio| format!("{ratio:.2}"));
        let (executions, validations) = if m.engine == EngineKind::BlockStm.as_str() {
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
            "{:<11} {:>7} {:>10.3} {:>9.3} {:>10.0} {:>7.2} {:>9} {:>10} {:>8} {:>8} {:>13}",
            m.engine,
            m.threads,
            m.execute_s,
            m.commit_s,
            m.tx_per_s,
            m.speedup_vs_sequential,
            of_ceiling,
            grouping,
            executions,
            validations,
            batches
        )?;
    }
    print_ceilings(out, measurements, ceilings)?;
    print_notes(out, args, measurements)
}

/// One line per thread count: the machine's ceiling there.
fn print_ceilings(
    out: &mut impl Write,
    measurements: &[Measurement],
    ceilings: &[Ceiling],
) -> anyhow::Result<()> {
    let mut threads: Vec<usize> = measurements.iter().map(|m| m.threads).collect();
    threads.sort_unstable();
    threads.dedup();
    for threads in threads {
        match ceilings.iter().find(|ceiling| ceiling.threads == threads) {
            Some(ceiling) => writeln!(
                out,
                "ceiling at {threads} threads: {:.2}× (one copy alone {:.3} s, {threads} copies at once {:.3} s)",
                ceiling.speedup,
                ceiling.alone.as_secs_f64(),
                ceiling.together.as_secs_f64()
            )?,
            None if threads == 1 => {
                writeln!(out, "ceiling at 1 thread: 1.00× (by definition)")?;
            }
            None => {}
        }
    }
    Ok(())
}

/// Block-STM's sequential blocks and delta counters, fallbacks, and the agreed root.
fn print_notes(
    out: &mut impl Write,
    args: &CompareArgs,
    measurements: &[Measurement],
) -> anyhow::Result<()> {
    for m in measurements {
        if m.engine == EngineKind::BlockStm.as_str()
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
        let Some(engine) = &m.stats.engine.block_stm else {
            continue;
        };
        if engine.delta_writes + engine.predicate_reads + engine.exact_reexecutions > 0 {
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
        if engine.frontier_txns > 0 {
            writeln!(
                out,
                "block-stm at {} threads: {} transactions in {} frontier runs (final on \
                 their first execution, no read set)",
                m.threads, engine.frontier_txns, engine.frontier_runs
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

/// Prints every measurement as one JSON array.
pub fn print_json(out: &mut impl Write, measurements: &[Measurement]) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, measurements)?;
    writeln!(out)?;
    Ok(())
}
