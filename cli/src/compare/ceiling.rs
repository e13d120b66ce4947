//! The machine's own parallel ceiling, measured by `blockstm compare` in the same rounds
//! as the engines.
//!
//! A figure at N threads only means something beside what N threads can do on this
//! machine at that moment: two CPU-bound processes get about 1.95× of one on an idle
//! 2-core machine, but 1.0–1.6× while a build runs beside them. So at each thread count
//! N, N threads each apply the blocks to their own copy of the state (a private in-memory
//! store) with the sequential oracle, sharing nothing, and the ceiling is
//! N × (time of one copy alone) / (time of the N copies at once): the speedup a
//! perfectly parallel job gets here now. Its one copy and its N copies run back to back,
//! inside the round, so they see the load the engines around them see.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use executor::Block;
use storage_adapter::{BlockCommit, BlockStore, MemoryStore};

use super::args::CompareArgs;
use super::engines::{Engine, EngineKind};

/// The ceiling at one thread count, from one measurement or the median of several.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ceiling {
    pub threads: usize,
    /// `threads × alone / together`.
    pub speedup: f64,
    /// One copy of the timed blocks, alone.
    pub alone: Duration,
    /// `threads` copies at once, from the common start to the last one's end.
    pub together: Duration,
}

impl Ceiling {
    fn new(threads: usize, alone: Duration, together: Duration) -> Self {
        let together_s = together.as_secs_f64();
        let speedup = if together_s > 0.0 {
            threads as f64 * alone.as_secs_f64() / together_s
        } else {
            0.0
        };
        Self {
            threads,
            speedup,
            alone,
            together,
        }
    }
}

/// Measures the ceiling at `threads`: one copy of `blocks` alone, then `threads` copies at
/// once, each timed after its first `warmup` blocks.
pub fn measure(
    threads: usize,
    args: &CompareArgs,
    genesis: &BlockCommit,
    blocks: &[Block],
    warmup: u64,
) -> anyhow::Result<Ceiling> {
    let warmup = usize::try_from(warmup).map_or(blocks.len(), |w| w.min(blocks.len()));
    let alone = copies(1, args, genesis, blocks, warmup)?;
    let together = copies(threads, args, genesis, blocks, warmup)?;
    Ok(Ceiling::new(threads, alone, together))
}

/// The measurement with the median speedup (the upper one of an even count).
pub fn median(mut ceilings: Vec<Ceiling>) -> Option<Ceiling> {
    ceilings.sort_by(|a, b| a.speedup.total_cmp(&b.speedup));
    let middle = ceilings.len() / 2;
    ceilings.into_iter().nth(middle)
}

/// The wall time for `count` threads, started together, each to apply `blocks[warmup..]`
/// to its own state.
fn copies(
    count: usize,
    args: &CompareArgs,
    genesis: &BlockCommit,
    blocks: &[Block],
    warmup: usize,
) -> anyhow::Result<Duration> {
    let start = Barrier::new(count + 1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..count)
            .map(|_| scope.spawn(|| copy(&start, args, genesis, blocks, warmup)))
            .collect();
        start.wait();
        // Each copy times itself from the barrier: this thread may be scheduled only after
        // the copies have finished, so its own clock would miss their work.
        let mut span: Option<(Instant, Instant)> = None;
        let mut failure = None;
        for worker in workers {
            match worker.join() {
                Ok(Ok((began, ended))) => {
                    span = Some(span.map_or((began, ended), |(first, last)| {
                        (first.min(began), last.max(ended))
                    }));
                }
                Ok(Err(error)) => {
                    failure.get_or_insert(error);
                }
                Err(_) => {
                    failure.get_or_insert(anyhow!("a thread measuring the ceiling panicked"));
                }
            }
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(span.map_or(Duration::ZERO, |(first, last)| last.duration_since(first))),
        }
    })
}

/// One copy: a private store with genesis and the warm-up blocks (untimed), then, once
/// every copy is ready, the timed blocks; returns when its timed part began and ended.
fn copy(
    start: &Barrier,
    args: &CompareArgs,
    genesis: &BlockCommit,
    blocks: &[Block],
    warmup: usize,
) -> anyhow::Result<(Instant, Instant)> {
    // Whatever happens while preparing, this thread reaches the barrier, so that the
    // others (and the timer) never wait for it forever.
    let prepared = catch_unwind(AssertUnwindSafe(|| {
        let store = MemoryStore::new();
        store.commit(genesis).context("committing genesis")?;
        let engine = Engine::new(EngineKind::Sequential, 1, args);
        apply(&engine, &store, &blocks[..warmup])?;
        Ok::<_, anyhow::Error>((store, engine))
    }));
    start.wait();
    let began = Instant::now();
    let (store, engine) =
        prepared.map_err(|_| anyhow!("a thread measuring the ceiling panicked"))??;
    apply(&engine, &store, &blocks[warmup..])?;
    Ok((began, Instant::now()))
}

/// Executes and commits `blocks` in order.
fn apply(engine: &Engine, store: &MemoryStore, blocks: &[Block]) -> anyhow::Result<()> {
    for block in blocks {
        let topoheight = block.topoheight();
        let snapshot = store.snapshot()?;
        let (execution, _) = engine
            .execute(block, &snapshot)
            .with_context(|| format!("the ceiling's copy: executing block {topoheight}"))?;
        drop(snapshot);
        store
            .commit(&execution.output.commit)
            .with_context(|| format!("the ceiling's copy: committing block {topoheight}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use executor::workload::{Workload, WorkloadConfig, WorkloadKind};

    /// `compare`'s arguments at their defaults.
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: CompareArgs,
    }

    #[test]
    fn copies_of_a_small_chain_give_a_ceiling() {
        let args = Cli::try_parse_from(["compare"])
            .expect("the defaults parse")
            .args;
        let mut workload = Workload::new(WorkloadConfig::new(WorkloadKind::P2p, 20, 50, 7))
            .expect("a valid workload");
        let genesis = workload.genesis().expect("genesis");
        let blocks: Vec<Block> = (1..=3).map(|t| workload.next_block(t)).collect();
        let ceiling = measure(2, &args, &genesis, &blocks, 1).expect("measured");
        assert_eq!(ceiling.threads, 2);
        assert!(ceiling.alone > Duration::ZERO && ceiling.together > Duration::ZERO);
        assert!(
            ceiling.speedup.is_finite() && ceiling.speedup > 0.0,
            "{ceiling:?}"
        );
        // Every block of the copies must apply: a warm-up as long as the chain leaves
        // nothing to time, and that is still a measurement, not an error.
        assert!(measure(2, &args, &genesis, &blocks, 99).is_ok());
    }

    #[test]
    fn the_ceiling_is_threads_times_alone_over_together() {
        let ms = Duration::from_millis;
        let ceiling = Ceiling::new(2, ms(100), ms(104));
        assert!((ceiling.speedup - 2.0 * 100.0 / 104.0).abs() < 1e-9);
        assert_eq!(Ceiling::new(2, ms(100), Duration::ZERO).speedup, 0.0);
        let measured =
            [ms(200), ms(100), ms(150)].map(|together| Ceiling::new(2, ms(100), together));
        let median = median(measured.to_vec()).expect("three measurements");
        assert_eq!(median.together, ms(150));
        assert!(super::median(Vec::new()).is_none());
    }
}
