//! The scheduling of `blockstm compare`: which runs make a round, the rounds in rotated
//! order, one engine run on a fresh RocksDB store, the check that every run agrees on
//! every block's state root, and the median run.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use executor::engine::ExecutionStats;
use executor::Block;
use storage_adapter::{BlockCommit, BlockStore, Hash, RocksStore};

use super::args::CompareArgs;
use super::ceiling::{self, Ceiling};
use super::engines::{Engine, EngineKind};

/// One run of a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    /// An engine at a thread count, on RocksDB.
    Engine(EngineKind, usize),
    /// The machine's parallel ceiling at a thread count.
    Ceiling(usize),
}

/// A round, in the order of its first run: sequential once, then for each thread count
/// grouping, Block-STM and (above one thread) the machine's ceiling.
pub fn plan(threads: &[usize]) -> Vec<Job> {
    let mut plan = vec![Job::Engine(EngineKind::Sequential, 1)];
    for &threads in threads {
        plan.push(Job::Engine(EngineKind::Grouping, threads));
        plan.push(Job::Engine(EngineKind::BlockStm, threads));
        if threads > 1 {
            plan.push(Job::Ceiling(threads));
        }
    }
    plan
}

/// [`ExecutionStats`] plus grouping's batches, over the timed blocks.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Stats {
    /// The engine's own counters, summed (flattened into the JSON object).
    #[serde(flatten)]
    pub engine: ExecutionStats,
    /// Grouping only.
    pub batches: Option<u64>,
}

impl Stats {
    fn add(&mut self, stats: &ExecutionStats, batches: Option<u64>) {
        self.engine.accumulate(stats);
        if let Some(batches) = batches {
            *self.batches.get_or_insert(0) += batches;
        }
    }
}

/// What one engine run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub kind: EngineKind,
    pub threads: usize,
    /// The root after each block, warm-up included.
    pub roots: Vec<Hash>,
    pub transactions: u64,
    pub executing: Duration,
    pub committing: Duration,
    pub stats: Stats,
}

impl RunResult {
    fn label(&self) -> String {
        let threads = if self.threads == 1 {
            "thread"
        } else {
            "threads"
        };
        format!("{} ({} {threads})", self.kind.as_str(), self.threads)
    }

    pub fn tx_per_s(&self) -> f64 {
        let seconds = self.executing.as_secs_f64();
        if seconds > 0.0 {
            self.transactions as f64 / seconds
        } else {
            0.0
        }
    }
}

/// The median of every job over the rounds.
#[derive(Debug)]
pub struct Medians {
    /// Each engine's median run, in plan order.
    pub runs: Vec<RunResult>,
    /// The median ceiling at each thread count above one, in plan order.
    pub ceilings: Vec<Ceiling>,
}

/// Where the rounds of one account count run.
#[derive(Debug)]
pub struct Setting<'a> {
    pub args: &'a CompareArgs,
    pub accounts: usize,
    /// The scratch directory of this account count's stores.
    pub dir: &'a Path,
    /// Whether each store is removed as soon as its run is done.
    pub remove_after: bool,
    pub genesis: &'a BlockCommit,
    /// Warm-up blocks first, then the timed ones.
    pub blocks: &'a [Block],
}

/// Runs `plan` `--repeat` times, each round starting one job further down the plan, after
/// a throwaway warm-up run; fails at the first run whose roots disagree with the first
/// run's.
pub fn run_rounds(setting: &Setting<'_>, plan: &[Job]) -> anyhow::Result<Medians> {
    let Setting {
        args,
        accounts,
        dir: base,
        remove_after,
        genesis,
        blocks,
    } = *setting;
    let progress = std::io::stderr().is_terminal();
    // A throwaway run over the first block(s) warms the process (allocator, RocksDB,
    // page cache) so that the first timed run is not a cold one.
    let warm = blocks.len().min(args.warmup.max(1) as usize);
    let dir = base.join("warm-up");
    run_engine(
        EngineKind::Sequential,
        Engine::new(EngineKind::Sequential, 1, args),
        1,
        &dir,
        genesis,
        &blocks[..warm],
        u64::MAX,
    )?;
    std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;

    // Every run of every round, by plan position.
    let mut runs: Vec<Vec<RunResult>> = plan.iter().map(|_| Vec::new()).collect();
    let mut ceilings: Vec<Vec<Ceiling>> = plan.iter().map(|_| Vec::new()).collect();
    let mut reference: Option<RunResult> = None;
    for round in 1..=args.repeat {
        // Each round starts one job further down the plan, so that no engine always runs
        // first (cold) or right after another one's leftovers, and the ceiling sees the
        // same load as the engines around it.
        for position in 0..plan.len() {
            let slot = (position + round - 1) % plan.len();
            let (kind, threads) = match plan[slot] {
                Job::Engine(kind, threads) => (kind, threads),
                Job::Ceiling(threads) => {
                    if progress {
                        eprintln!(
                            "{accounts} accounts, round {round}/{}: the machine's ceiling at {threads} threads",
                            args.repeat
                        );
                    }
                    let ceiling = ceiling::measure(threads, args, genesis, blocks, args.warmup)?;
                    ceilings[slot].push(ceiling);
                    continue;
                }
            };
            if progress {
                eprintln!(
                    "{accounts} accounts, round {round}/{}: {} at {threads} thread(s)",
                    args.repeat,
                    kind.as_str()
                );
            }
            let dir = base.join(format!("{}-{threads}-{round}", kind.as_str()));
            let run = run_engine(
                kind,
                Engine::new(kind, threads, args),
                threads,
                &dir,
                genesis,
                blocks,
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
            runs[slot].push(run);
        }
    }
    Ok(Medians {
        runs: runs.into_iter().filter_map(median).collect(),
        ceilings: ceilings.into_iter().filter_map(ceiling::median).collect(),
    })
}

/// The run with the median execution time (the upper one of an even count).
fn median(mut runs: Vec<RunResult>) -> Option<RunResult> {
    runs.sort_by_key(|run| run.executing);
    let middle = runs.len() / 2;
    runs.into_iter().nth(middle)
}

/// Applies `blocks` to a fresh store at `dir` holding `genesis`, timing the blocks after
/// the first `warmup`.
fn run_engine(
    kind: EngineKind,
    engine: Engine,
    threads: usize,
    dir: &Path,
    genesis: &BlockCommit,
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
    let name = format!("{} at {threads} thread(s)", kind.as_str());
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
        let (execution, batches) = engine
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
            result.stats.add(&execution.stats, batches);
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
    fn a_round_measures_the_ceiling_above_one_thread() {
        assert_eq!(
            plan(&[1, 2, 4]),
            vec![
                Job::Engine(EngineKind::Sequential, 1),
                Job::Engine(EngineKind::Grouping, 1),
                Job::Engine(EngineKind::BlockStm, 1),
                Job::Engine(EngineKind::Grouping, 2),
                Job::Engine(EngineKind::BlockStm, 2),
                Job::Ceiling(2),
                Job::Engine(EngineKind::Grouping, 4),
                Job::Engine(EngineKind::BlockStm, 4),
                Job::Ceiling(4),
            ]
        );
    }
}
