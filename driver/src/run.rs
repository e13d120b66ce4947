//! One block's run: the state its workers share ([`BlockRun`]), how the run starts on
//! OS threads ([`run_parallel`]) and what it returns ([`ParallelRun`]).
//!
//! The worker loop lives in `worker`, the rolling commit in `commit`, the wait for
//! settled sinks in `settle`; this module holds what ties them together.

use crossbeam_utils::CachePadded;
use mvmemory::MVMemory;
use scheduler::Scheduler;

use crate::commit::SinkSlot;
use crate::error::{DriverError, Invariant};
use crate::plan::Plan;
use crate::stats::DriverStats;
use crate::sync::{self, lock, AtomicBool, AtomicUsize, Mutex};
use crate::task::{CommitSink, ParallelTask};
use crate::view::Overlay;
use crate::{Incarnation, TxnIndex};

/// What a successful parallel run produces.
#[derive(Debug)]
pub struct ParallelRun<K, V, O> {
    /// Every transaction's final output, in block order.
    pub outputs: Vec<O>,
    /// The final value of every key written by the block (unsorted).
    pub writes: Vec<(K, V)>,
    /// What it took.
    pub stats: DriverStats,
}

/// What a whole run returns: the run's result and the commit sink, or the error that ended it.
pub type RunResult<T, S> = Result<
    (
        ParallelRun<
            <T as ParallelTask>::Key,
            <T as ParallelTask>::Value,
            <T as ParallelTask>::Output,
        >,
        S,
    ),
    DriverError<<T as ParallelTask>::Error>,
>;

/// Runs a block of `num_txns` transactions of `task`, scheduled by `plan`, on `threads`
/// threads (the calling thread is one of them), handing final outputs to `sink` in
/// block order.
///
/// Every `threads` is accepted: it is clamped to `1..=num_txns` (a worker beyond the
/// block's size would find nothing to do), and if the system refuses to start a thread,
/// the run goes on with the workers it has. A block of more transactions than a
/// [`TxnIndex`] can number is refused with [`DriverError::TooManyTransactions`]. Once
/// the sink has returned an error (or panicked), nothing more reaches it.
#[cfg(not(loom))]
pub fn run_parallel<T, S>(
    task: &T,
    num_txns: usize,
    plan: Plan<T::Key>,
    threads: usize,
    sink: S,
) -> RunResult<T, S>
where
    T: ParallelTask,
    S: CommitSink<T::Output, T::Error>,
{
    if TxnIndex::try_from(num_txns).is_err() {
        return Err(DriverError::TooManyTransactions { num_txns });
    }
    let run = BlockRun::new(task, num_txns, plan, sink);
    let threads = threads.clamp(1, num_txns.max(1));
    if threads > 1 {
        run.memory.build_now();
    }
    let started = std::time::Instant::now();
    let mut stats = std::thread::scope(|scope| {
        // Stop at the first thread the system refuses: fewer workers only make the run
        // slower, and the calling thread always works.
        let helpers: Vec<_> = (1..threads)
            .map_while(|_| {
                std::thread::Builder::new()
                    .spawn_scoped(scope, || run.work())
                    .ok()
            })
            .collect();
        let mut stats = run.work();
        for helper in helpers {
            // `work` catches panics itself, so a join error cannot happen; if it somehow
            // did, the halted scheduler and the recorded error already say what went wrong.
            if let Ok(helper_stats) = helper.join() {
                stats.accumulate(&helper_stats);
            }
        }
        stats
    });
    stats.wall_nanos = crate::stats::nanos(started.elapsed());
    run.finish(stats)
}

/// A transaction's latest output, tagged with the incarnation that produced it.
pub(crate) type OutputSlot<O> = Mutex<Option<(Incarnation, O)>>;

/// The state shared by a block's workers: memory, scheduler, outputs and commit sink.
///
/// [`run_parallel`] is the way to use it; it is public so that the loom models can run
/// [`BlockRun::work`] on loom threads of their own.
pub struct BlockRun<'t, T: ParallelTask, S> {
    pub(crate) task: &'t T,
    pub(crate) plan: Plan<T::Key>,
    pub(crate) memory: MVMemory<T::Key, T::Value>,
    pub(crate) scheduler: Scheduler,
    /// Each transaction's latest output, tagged with the incarnation that produced it.
    pub(crate) outputs: Box<[OutputSlot<T::Output>]>,
    /// Transactions that must execute without deltas (one of theirs did not fit).
    pub(crate) exact: Box<[AtomicBool]>,
    /// Locked only by the worker holding the commit role, so never contended. Padded
    /// because the committer writes it (the lock, the sink's totals) on every commit: it
    /// must not share a cache line with the fields every worker reads on every task.
    pub(crate) sink: CachePadded<Mutex<SinkSlot<S>>>,
    pub(crate) error: Mutex<Option<DriverError<T::Error>>>,
    /// Transactions suspended until the memory's settled frontier reaches them.
    pub(crate) settle_waiters: Mutex<Vec<TxnIndex>>,
    /// The lowest of `settle_waiters` (`usize::MAX` when none), so that the committer
    /// looks at the list only when it has someone to wake.
    pub(crate) lowest_settle_waiter: AtomicUsize,
    /// The frontier run that ended the block, if one did: kept out of the memory and the
    /// output slots (nothing above it reads them) and merged into the result by `finish`.
    pub(crate) last_run: LastRunSlot<T>,
}

/// Where the frontier run that ended the block leaves its writes and outputs.
pub(crate) type LastRunSlot<T> = Mutex<
    Option<
        LastRun<<T as ParallelTask>::Key, <T as ParallelTask>::Value, <T as ParallelTask>::Output>,
    >,
>;

/// The writes and outputs of the frontier run that ended the block: transactions
/// `start..`, committed.
pub(crate) struct LastRun<K, V, O> {
    pub(crate) start: TxnIndex,
    pub(crate) writes: Overlay<K, V>,
    /// One per transaction from `start` on, in block order.
    pub(crate) outputs: Vec<(Incarnation, O)>,
}

impl<T: ParallelTask, S> std::fmt::Debug for BlockRun<'_, T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockRun")
            .field("scheduler", &self.scheduler)
            .finish_non_exhaustive()
    }
}

impl<'t, T, S> BlockRun<'t, T, S>
where
    T: ParallelTask,
    S: CommitSink<T::Output, T::Error>,
{
    /// A run of `num_txns` transactions of `task`, scheduled by `plan`, committing into
    /// `sink`.
    ///
    /// # Panics
    /// If `num_txns` does not fit a [`TxnIndex`] ([`run_parallel`] refuses such a block
    /// with an error before it gets here).
    pub fn new(task: &'t T, num_txns: usize, mut plan: Plan<T::Key>, sink: S) -> Self {
        let sinks = std::mem::take(&mut plan.sinks);
        BlockRun {
            task,
            memory: MVMemory::with_sinks(num_txns, sinks),
            scheduler: Scheduler::new(num_txns).with_claim_size(plan.claim_size),
            plan,
            outputs: (0..num_txns).map(|_| Mutex::new(None)).collect(),
            exact: (0..num_txns).map(|_| AtomicBool::new(false)).collect(),
            sink: CachePadded::new(Mutex::new(SinkSlot::new(sink))),
            error: Mutex::new(None),
            settle_waiters: Mutex::new(Vec::new()),
            lowest_settle_waiter: AtomicUsize::new(usize::MAX),
            last_run: Mutex::new(None),
        }
    }

    /// The run's scheduler (models inspect it).
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// Collects the result once every worker has returned from [`BlockRun::work`];
    /// `stats` is the sum of what they returned.
    pub fn finish(self, stats: DriverStats) -> RunResult<T, S> {
        let BlockRun {
            memory,
            scheduler,
            outputs,
            sink,
            error,
            last_run,
            ..
        } = self;
        if let Some(error) = sync::into_inner(error) {
            return Err(error);
        }
        let num_txns = outputs.len();
        if scheduler.committed() != num_txns {
            return Err(Invariant::WorkersStopped {
                committed: scheduler.committed(),
                num_txns,
            }
            .into());
        }
        // Transactions below the last run (all of them, if none ended the block) left
        // their outputs in the slots; the run kept its own.
        let (below_last_run, last_writes, last_outputs) = match sync::into_inner(last_run) {
            Some(LastRun {
                start,
                writes,
                outputs,
            }) => (start as usize, Some(writes), outputs),
            None => (num_txns, None, Vec::new()),
        };
        let mut final_outputs = Vec::with_capacity(num_txns);
        for (slot, txn_idx) in outputs.into_vec().into_iter().take(below_last_run).zip(0..) {
            match sync::into_inner(slot) {
                Some((_, output)) => final_outputs.push(output),
                None => {
                    return Err(Invariant::MissingOutput {
                        txn_idx,
                        incarnation: scheduler.status(txn_idx).1,
                    }
                    .into())
                }
            }
        }
        final_outputs.extend(last_outputs.into_iter().map(|(_, output)| output));
        if let Some(txn_idx) = (final_outputs.len() < num_txns)
            .then(|| TxnIndex::try_from(final_outputs.len()).ok())
            .flatten()
        {
            // The last run kept fewer outputs than it committed transactions.
            return Err(Invariant::MissingOutput {
                txn_idx,
                incarnation: scheduler.status(txn_idx).1,
            }
            .into());
        }
        let mut writes = memory
            .snapshot()
            .map_err(|error| Invariant::Snapshot(error.to_string()))?;
        if let Some(last_writes) = last_writes {
            // The last run's writes are the latest at their keys: they replace what the
            // memory holds there.
            writes.retain(|(key, _)| !last_writes.contains_key(key));
            writes.extend(
                last_writes
                    .into_iter()
                    .map(|(key, (_, value))| (key, value)),
            );
        }
        // Freeing a block's memory (a version list per key) takes a few milliseconds that
        // nobody waits for: hand it to a short-lived thread instead of the block's
        // critical path.
        #[cfg(not(loom))]
        std::thread::spawn(move || drop(memory));
        Ok((
            ParallelRun {
                outputs: final_outputs,
                writes,
                stats,
            },
            sync::into_inner(CachePadded::into_inner(sink)).into_sink(),
        ))
    }

    /// Ends the run with `error` (the first one recorded wins) and halts the scheduler.
    pub(crate) fn fail(&self, error: DriverError<T::Error>) {
        let mut slot = lock(&self.error);
        // Keep the first error: later ones are often consequences of it.
        slot.get_or_insert(error);
        drop(slot);
        self.scheduler.halt();
    }
}
