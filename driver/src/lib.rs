//! The generic Block-STM driver: worker threads, the task loop, and the rolling commit.
//!
//! This is where [`MVMemory`] and the [`Scheduler`] meet. It is a crate of its own, below
//! the executor, so that the loom models compile it (with `--cfg loom`) without the
//! executor's storage stack. It knows nothing about TOS: a
//! [`ParallelTask`] says how to execute one transaction against a [`SpeculativeReads`]
//! view and how to read the state beneath the block; a [`CommitSink`] receives each
//! transaction's output once, in block order, as soon as it is final. The TOS engine and
//! the generic property tests (mock transactions whose keys are only known at run time)
//! both drive this same code.

mod sync;

use std::hash::Hash;

use crossbeam_utils::CachePadded;

pub use mvmemory::{Counter, Write};
use mvmemory::{DeltaCommit, MVMemory, PredicateRead, ReadDescriptor, ReadResult, Version};
use scheduler::{ExecutionClaim, Scheduler, Task};
pub use scheduler::{Incarnation, TxnIndex};
use sync::{fence, lock, AtomicBool, AtomicUsize, Mutex, Ordering};

/// One transaction's speculative view of the block's memory; records its read set.
pub struct SpeculativeReads<'a, T: ParallelTask + ?Sized> {
    memory: &'a MVMemory<T::Key, T::Value>,
    task: &'a T,
    txn_idx: TxnIndex,
    reads: Vec<ReadDescriptor>,
    deltas_allowed: bool,
    delta_reads: u64,
    predicate_reads: u64,
    /// A read of a [sink](ParallelTask::sinks) found a lower transaction unsettled: the
    /// dependency it returned means "wait for the commit frontier".
    awaiting_settle: bool,
}

impl<T: ParallelTask + ?Sized> std::fmt::Debug for SpeculativeReads<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpeculativeReads")
            .field("txn_idx", &self.txn_idx)
            .field("reads", &self.reads.len())
            .field("deltas_allowed", &self.deltas_allowed)
            .finish_non_exhaustive()
    }
}

/// What a speculative read found.
#[derive(Debug, PartialEq, Eq)]
pub enum SpeculativeRead<V> {
    /// A lower transaction wrote this value, or lower transactions' deltas add up to it.
    Value(V),
    /// No lower transaction wrote the key: read the state beneath the block.
    NotFound,
    /// A lower transaction that wrote the key was aborted: stop and wait for it.
    Dependency(TxnIndex),
}

/// What a speculative predicate read ([`SpeculativeReads::at_least`]) found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpeculativePredicate {
    /// The counter is at least the threshold (recorded as that predicate).
    Holds,
    /// It is not (also recorded, as the predicate's negation; read the exact value too
    /// to say by how much).
    Fails,
    /// A lower transaction on the way down was aborted: stop and wait for it.
    Dependency(TxnIndex),
}

impl<T: ParallelTask + ?Sized> SpeculativeReads<'_, T> {
    /// The transaction this view belongs to.
    pub fn txn_idx(&self) -> TxnIndex {
        self.txn_idx
    }

    /// Whether this execution may write deltas and read predicates. `false` when an
    /// earlier incarnation's delta did not fit at commit: this one must read and write
    /// exact values, so that it fails (or not) exactly as sequential execution would.
    pub fn deltas_allowed(&self) -> bool {
        self.deltas_allowed
    }

    /// Reads `key` as of just below this transaction, recording the read. A read
    /// through deltas that reach the bottom of the block asks the task for the key's
    /// base ([`ParallelTask::counter_base`]), whose error it returns.
    pub fn read(&mut self, key: &T::Key) -> Result<SpeculativeRead<T::Value>, T::Error> {
        loop {
            let read = match self
                .memory
                .read_recorded(key, self.txn_idx, &mut self.reads)
            {
                ReadResult::Value { value, .. } => SpeculativeRead::Value(value),
                ReadResult::Summed { value } => {
                    self.delta_reads += 1;
                    SpeculativeRead::Value(value)
                }
                ReadResult::NotFound => SpeculativeRead::NotFound,
                ReadResult::Dependency { blocking_txn } => {
                    SpeculativeRead::Dependency(blocking_txn)
                }
                ReadResult::NeedsBase => {
                    self.provide_base(key)?;
                    continue;
                }
                ReadResult::Settled { value } => SpeculativeRead::Value(value),
                ReadResult::Unsettled => SpeculativeRead::Dependency(self.await_settle()),
            };
            return Ok(read);
        }
    }

    /// Whether the counter at `key`, as of just below this transaction, is at least
    /// `threshold`; when it is, the read is recorded as that predicate, which a lower
    /// transaction's change to the counter does not invalidate unless it takes the
    /// counter below `threshold`. Asks the task for the key's base when needed.
    pub fn at_least(
        &mut self,
        key: &T::Key,
        threshold: u64,
    ) -> Result<SpeculativePredicate, T::Error> {
        loop {
            let predicate =
                match self
                    .memory
                    .read_at_least(key, self.txn_idx, threshold, &mut self.reads)
                {
                    PredicateRead::Holds => {
                        self.predicate_reads += 1;
                        SpeculativePredicate::Holds
                    }
                    PredicateRead::Fails => SpeculativePredicate::Fails,
                    PredicateRead::Dependency { blocking_txn } => {
                        SpeculativePredicate::Dependency(blocking_txn)
                    }
                    PredicateRead::NeedsBase => {
                        self.provide_base(key)?;
                        continue;
                    }
                    PredicateRead::Unsettled => {
                        SpeculativePredicate::Dependency(self.await_settle())
                    }
                };
            return Ok(predicate);
        }
    }

    /// A sink read that must wait until every lower transaction has committed: the
    /// dependency to report. The task sees an ordinary dependency on the transaction just
    /// below (it only has to stop); the driver knows better and waits for the commit
    /// frontier instead.
    fn await_settle(&mut self) -> TxnIndex {
        self.awaiting_settle = true;
        self.txn_idx.saturating_sub(1)
    }

    fn provide_base(&self, key: &T::Key) -> Result<(), T::Error> {
        let base = self.task.counter_base(key)?;
        self.memory.provide_base(key, base);
        Ok(())
    }
}

/// Why an execution did not produce an output.
#[derive(Debug)]
pub enum ExecuteError<E> {
    /// It read an ESTIMATE of this lower transaction: wait for its re-execution.
    Dependency(TxnIndex),
    /// An error that ends this run of the block (a storage failure, corrupt state). The
    /// run reports it as [`DriverError::Execution`]: the incarnation may have read a state
    /// that the block order never produces, so the caller decides what it means.
    Fatal(E),
}

/// A block's transactions, as the driver sees them.
pub trait ParallelTask: Sync {
    /// A location of state.
    type Key: Eq + Hash + Clone + Send + Sync + 'static;
    /// What a location holds. Counters among the values can take deltas
    /// ([`Write::Delta`]).
    type Value: Counter + Send + Sync + 'static;
    /// A transaction's output besides its writes (its result, fees, …).
    type Output: Send;
    /// An error that ends the block.
    type Error: Send;
    /// The writes of one execution (full values or deltas), keys distinct.
    type Writes: IntoIterator<Item = (Self::Key, Write<Self::Value>)>;

    /// Executes transaction `txn_idx`, reading through `reads` (and, where it finds
    /// nothing, the state beneath the block). Must never panic on any values it reads:
    /// a speculative view can be inconsistent.
    fn execute(
        &self,
        txn_idx: TxnIndex,
        reads: &mut SpeculativeReads<'_, Self>,
    ) -> ExecuteResult<Self>;

    /// The counter at `key` beneath the block (absent counts as 0), for delta chains and
    /// predicate reads that reach the bottom of the block. Called at most a few times per
    /// key and block, only for keys the task writes deltas to or reads as predicates; an
    /// error (the key holds something that is no counter, storage failed) ends the run
    /// as [`DriverError::Execution`] of the transaction that needed it.
    fn counter_base(&self, key: &Self::Key) -> Result<u64, Self::Error>;

    /// A scheduling hint: a lower transaction that `txn_idx` almost surely depends on
    /// (in TOS, the same sender's previous transaction, whose nonce it needs). Before
    /// executing `txn_idx`, the driver makes it wait until that transaction has executed,
    /// instead of running it speculatively against a state that is about to change.
    /// Hints only order work: a wrong or missing hint costs time, never correctness.
    /// Ignored unless lower than `txn_idx`.
    fn predecessor(&self, txn_idx: TxnIndex) -> Option<TxnIndex> {
        let _ = txn_idx;
        None
    }

    /// A scheduling setting: how many consecutive transactions a worker claims for
    /// execution at once (see [`scheduler::ExecutionClaim`]). 1, the default, is the
    /// paper's scheduler. Larger claims keep neighbouring transactions, and the memory
    /// entries one writes and the next reads, on one core; on a contended block they
    /// also make more transactions run against values that a lower claim is about to
    /// change. Like hints, it changes how much work is done, never the output.
    fn claim_size(&self) -> usize {
        1
    }

    /// Keys to settle at commit instead of versioning (see [`mvmemory`]'s sinks), asked
    /// once when the run starts. Writes there (deltas or values) are applied in block
    /// order as their writers commit, so a key that every transaction credits costs no
    /// shared entry per credit; a read there waits until every lower transaction has
    /// committed. For keys the block writes often and reads seldom: a balance it only
    /// credits. Like hints, the choice changes how much work is done, never the output.
    fn sinks(&self) -> Vec<Self::Key> {
        Vec::new()
    }
}

/// What [`ParallelTask::execute`] returns: the output and the writes, or why there are none.
pub type ExecuteResult<T> = Result<
    (<T as ParallelTask>::Output, <T as ParallelTask>::Writes),
    ExecuteError<<T as ParallelTask>::Error>,
>;

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

/// A transaction's latest output, tagged with the incarnation that produced it.
type OutputSlot<O> = Mutex<Option<(u32, O)>>;

/// The commit sink, and whether it may still receive outputs.
///
/// Closed for good the moment a commit fails (or panics): the run then halts, but a
/// worker that was already past its `done` check may still take the commit role after
/// the failing committer released it, and it must find nothing to hand over. The flag
/// lives under the sink's own lock, so every later committer sees it, whatever it saw
/// of the halt.
struct SinkSlot<S> {
    sink: S,
    open: bool,
}

impl<S> SinkSlot<S> {
    /// Hands `output` to the sink. The slot is closed while the sink works and opened
    /// again only when it returns `Ok`, so an error or a panic inside it closes it.
    fn commit<O, E>(&mut self, txn_idx: TxnIndex, output: &O) -> Result<(), DriverError<E>>
    where
        S: CommitSink<O, E>,
    {
        self.open = false;
        self.sink
            .commit(txn_idx, output)
            .map_err(DriverError::Fatal)?;
        self.open = true;
        Ok(())
    }
}

/// Receives final outputs in block order.
pub trait CommitSink<O, E>: Send {
    /// Transaction `txn_idx` is final with `output`. An error ends the block.
    fn commit(&mut self, txn_idx: TxnIndex, output: &O) -> Result<(), E>;
}

/// How the driver failed.
#[derive(Debug)]
pub enum DriverError<E> {
    /// The commit sink returned an error: final, since outputs reach the sink in block
    /// order and only once they are final.
    Fatal(E),
    /// An incarnation of `txn_idx` returned [`ExecuteError::Fatal`]. Not final: a
    /// speculative incarnation may read keys, or values, that sequential execution in
    /// block order never reads, so the error may not be the block's.
    Execution {
        /// The transaction whose incarnation failed.
        txn_idx: TxnIndex,
        /// What it returned.
        error: E,
    },
    /// Execution panicked; the message, if it was a string.
    Panicked(String),
    /// An engine invariant did not hold (a bug, never an input error).
    Invariant(String),
    /// The block has more transactions than a [`TxnIndex`] can number.
    TooManyTransactions {
        /// The number asked for.
        num_txns: usize,
    },
}

/// Counters of one parallel run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DriverStats {
    /// Executions started, re-executions and executions cut short by a dependency included.
    pub executions: u64,
    /// Read-set validations, commit-time ones included.
    pub validations: u64,
    /// Validations done by the committer because no earlier one was recent enough.
    pub commit_validations: u64,
    /// Incarnations aborted after a failed validation.
    pub aborts: u64,
    /// Executions suspended on a dependency.
    pub dependency_waits: u64,
    /// Executions deferred, before they started, until their
    /// [predecessor](ParallelTask::predecessor) had executed.
    pub hint_waits: u64,
    /// Deltas resolved at commit (one per transaction and key).
    pub delta_writes: u64,
    /// Committed deltas whose key a lower transaction wrote after the delta was recorded:
    /// a read-modify-write there would have been invalidated, so each is an abort the
    /// delta avoided.
    pub delta_saves: u64,
    /// Reads resolved through deltas (summing them) rather than from one version.
    pub delta_reads: u64,
    /// Reads recorded as predicates ("at least").
    pub predicate_reads: u64,
    /// Validations of a predicate read that held although the counter had changed: each
    /// would have failed as an exact read.
    pub predicate_saves: u64,
    /// Transactions executed again without deltas because a delta did not fit at commit.
    pub exact_reexecutions: u64,
    /// Executions suspended until every lower transaction had committed, because they
    /// read a [sink](ParallelTask::sinks).
    pub settle_waits: u64,
}

impl DriverStats {
    /// Adds another worker's counters.
    pub fn add(&mut self, other: &DriverStats) {
        self.executions += other.executions;
        self.validations += other.validations;
        self.commit_validations += other.commit_validations;
        self.aborts += other.aborts;
        self.dependency_waits += other.dependency_waits;
        self.hint_waits += other.hint_waits;
        self.delta_writes += other.delta_writes;
        self.delta_saves += other.delta_saves;
        self.delta_reads += other.delta_reads;
        self.predicate_reads += other.predicate_reads;
        self.predicate_saves += other.predicate_saves;
        self.exact_reexecutions += other.exact_reexecutions;
        self.settle_waits += other.settle_waits;
    }
}

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

/// Runs a block of `num_txns` transactions of `task` on `threads` threads (the calling
/// thread is one of them), handing final outputs to `sink` in block order.
///
/// Every `threads` is accepted: it is clamped to `1..=num_txns` (a worker beyond the
/// block's size would find nothing to do), and if the system refuses to start a thread,
/// the run goes on with the workers it has. A block of more transactions than a
/// [`TxnIndex`] can number is refused with [`DriverError::TooManyTransactions`]. Once
/// the sink has returned an error (or panicked), nothing more reaches it.
#[cfg(not(loom))]
pub fn run_parallel<T, S>(task: &T, num_txns: usize, threads: usize, sink: S) -> RunResult<T, S>
where
    T: ParallelTask,
    S: CommitSink<T::Output, T::Error>,
{
    if TxnIndex::try_from(num_txns).is_err() {
        return Err(DriverError::TooManyTransactions { num_txns });
    }
    let run = BlockRun::new(task, num_txns, sink);
    let threads = threads.clamp(1, num_txns.max(1));
    let stats = std::thread::scope(|scope| {
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
                stats.add(&helper_stats);
            }
        }
        stats
    });
    run.finish(stats)
}

/// The state shared by a block's workers: memory, scheduler, outputs and commit sink.
///
/// [`run_parallel`] is the way to use it; it is public so that the loom models can run
/// [`BlockRun::work`] on loom threads of their own.
pub struct BlockRun<'t, T: ParallelTask, S> {
    task: &'t T,
    memory: MVMemory<T::Key, T::Value>,
    scheduler: Scheduler,
    /// Each transaction's latest output, tagged with the incarnation that produced it.
    outputs: Box<[OutputSlot<T::Output>]>,
    /// Transactions that must execute without deltas (one of theirs did not fit).
    exact: Box<[AtomicBool]>,
    /// Locked only by the worker holding the commit role, so never contended. Padded
    /// because the committer writes it (the lock, the sink's totals) on every commit: it
    /// must not share a cache line with the fields every worker reads on every task.
    sink: CachePadded<Mutex<SinkSlot<S>>>,
    error: Mutex<Option<DriverError<T::Error>>>,
    /// Transactions suspended until the memory's settled frontier reaches them.
    settle_waiters: Mutex<Vec<TxnIndex>>,
    /// The lowest of `settle_waiters` (`usize::MAX` when none), so that the committer
    /// looks at the list only when it has someone to wake.
    lowest_settle_waiter: AtomicUsize,
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
    /// A run of `num_txns` transactions of `task`, committing into `sink`.
    pub fn new(task: &'t T, num_txns: usize, sink: S) -> Self {
        BlockRun {
            task,
            memory: MVMemory::with_sinks(num_txns, task.sinks()),
            scheduler: Scheduler::new(num_txns).with_claim_size(task.claim_size()),
            outputs: (0..num_txns).map(|_| Mutex::new(None)).collect(),
            exact: (0..num_txns).map(|_| AtomicBool::new(false)).collect(),
            sink: CachePadded::new(Mutex::new(SinkSlot { sink, open: true })),
            error: Mutex::new(None),
            settle_waiters: Mutex::new(Vec::new()),
            lowest_settle_waiter: AtomicUsize::new(usize::MAX),
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
            ..
        } = self;
        if let Some(error) = sync::into_inner(error) {
            return Err(error);
        }
        let num_txns = outputs.len();
        if scheduler.committed() != num_txns {
            return Err(DriverError::Invariant(format!(
                "workers stopped with {} of {num_txns} transactions committed",
                scheduler.committed()
            )));
        }
        let outputs = outputs
            .into_vec()
            .into_iter()
            .enumerate()
            .map(|(txn_idx, slot)| {
                sync::into_inner(slot)
                    .map(|(_, output)| output)
                    .ok_or_else(|| {
                        DriverError::Invariant(format!(
                            "committed transaction {txn_idx} has no output"
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let writes = memory
            .snapshot()
            .map_err(|error| DriverError::Invariant(error.to_string()))?;
        // Freeing a block's memory (a version list per key) takes a few milliseconds that
        // nobody waits for: hand it to a short-lived thread instead of the block's
        // critical path.
        #[cfg(not(loom))]
        std::thread::spawn(move || drop(memory));
        Ok((
            ParallelRun {
                outputs,
                writes,
                stats,
            },
            sync::into_inner(CachePadded::into_inner(sink)).sink,
        ))
    }

    fn fail(&self, error: DriverError<T::Error>) {
        let mut slot = lock(&self.error);
        // Keep the first error: later ones are often consequences of it.
        slot.get_or_insert(error);
        drop(slot);
        self.scheduler.halt();
    }

    /// One worker's loop: runs tasks and commits until the block is done or halted.
    /// A panic in a task halts the run (reported by [`BlockRun::finish`]) instead of
    /// leaving the other workers waiting for a transaction that will never finish.
    pub fn work(&self) -> DriverStats {
        let mut stats = DriverStats::default();
        #[cfg(loom)]
        self.work_loop(&mut stats);
        #[cfg(not(loom))]
        if let Err(payload) =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.work_loop(&mut stats)))
        {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            self.fail(DriverError::Panicked(message));
        }
        stats
    }

    fn work_loop(&self, stats: &mut DriverStats) {
        let mut read_buffer = Vec::new();
        let mut claim = ExecutionClaim::default();
        let mut pending: Option<Task> = None;
        let mut idle_rounds = 0u32;
        while !self.scheduler.done() {
            let task = pending
                .take()
                .or_else(|| self.scheduler.next_task_claiming(&mut claim));
            pending = match task {
                Some(Task::Execute {
                    txn_idx,
                    incarnation,
                }) => self.execute(txn_idx, incarnation, &mut read_buffer, stats),
                Some(Task::Validate {
                    txn_idx,
                    incarnation,
                }) => self.validate(txn_idx, incarnation, stats),
                None => None,
            };
            if pending.is_none() {
                pending = self.commit_ready(stats);
            }
            if task.is_none() && pending.is_none() {
                // Nothing to do until another worker finishes something.
                idle_rounds += 1;
                sync::idle(idle_rounds);
            } else {
                idle_rounds = 0;
            }
        }
    }

    fn execute(
        &self,
        txn_idx: TxnIndex,
        incarnation: u32,
        read_buffer: &mut Vec<ReadDescriptor>,
        stats: &mut DriverStats,
    ) -> Option<Task> {
        // A hinted predecessor that has not executed yet: wait for it like for an
        // ESTIMATE (it resumes this transaction when it finishes), rather than execute
        // now and almost surely be aborted.
        if let Some(predecessor) = self.task.predecessor(txn_idx) {
            if predecessor < txn_idx && self.scheduler.add_dependency(txn_idx, predecessor) {
                stats.hint_waits += 1;
                return None;
            }
        }
        loop {
            stats.executions += 1;
            read_buffer.clear();
            // Taken before the first read, so the reads count as a validation that started
            // here: if every lower transaction's final writes were recorded by now, the
            // committer need not read them all again.
            let read_epoch = self.scheduler.start_validation();
            let mut reads = SpeculativeReads {
                memory: &self.memory,
                task: self.task,
                txn_idx,
                reads: std::mem::take(read_buffer),
                // Set (under the commit role) before the abort that leads here, which
                // the scheduler's status lock orders before this execution.
                deltas_allowed: !self.exact[txn_idx as usize].load(Ordering::Relaxed),
                delta_reads: 0,
                predicate_reads: 0,
                awaiting_settle: false,
            };
            let result = self.task.execute(txn_idx, &mut reads);
            let SpeculativeReads {
                reads: read_set,
                delta_reads,
                predicate_reads,
                awaiting_settle,
                ..
            } = reads;
            stats.delta_reads += delta_reads;
            stats.predicate_reads += predicate_reads;
            match result {
                Err(ExecuteError::Dependency(_)) if awaiting_settle => {
                    *read_buffer = read_set;
                    if self.wait_for_settle(txn_idx) {
                        stats.settle_waits += 1;
                        return None;
                    }
                    // Everything below settled meanwhile: run again straight away.
                }
                Err(ExecuteError::Dependency(blocking_txn)) => {
                    *read_buffer = read_set;
                    if self.scheduler.add_dependency(txn_idx, blocking_txn) {
                        stats.dependency_waits += 1;
                        return None;
                    }
                    // The blocker finished meanwhile: run again straight away.
                }
                Err(ExecuteError::Fatal(error)) => {
                    self.fail(DriverError::Execution { txn_idx, error });
                    return None;
                }
                Ok((output, writes)) => {
                    let version = Version::new(txn_idx, incarnation);
                    let recorded = self.memory.record_writes(version, read_set, writes);
                    *read_buffer = recorded.spare_read_buffer;
                    // Planted bug (loom models): fold the output when it is produced
                    // rather than when it is final, so aborted incarnations leak into it.
                    #[cfg(loom_planted_bug = "fold_at_execution")]
                    if let Err(error) = lock(&self.sink).sink.commit(txn_idx, &output) {
                        self.fail(DriverError::Fatal(error));
                        return None;
                    }
                    *lock(&self.outputs[txn_idx as usize]) = Some((incarnation, output));
                    return self.scheduler.finish_execution_read_at(
                        txn_idx,
                        incarnation,
                        recorded.wrote_new_location,
                        read_epoch,
                    );
                }
            }
        }
    }

    /// Suspends `txn_idx` until every lower transaction has settled, unless they all
    /// have by now (`false`: execute again at once).
    fn wait_for_settle(&self, txn_idx: TxnIndex) -> bool {
        let mut waiters = lock(&self.settle_waiters);
        // Announce, then look at the frontier; `wake_settled` moves the frontier, then
        // looks at the announcement. With a SeqCst fence between the two steps on both
        // sides, one of them sees the other's first step, so a waiter is never left
        // behind a frontier that has passed it. (SeqCst accesses alone would do in the
        // C++ model, but loom models them as acquire/release; it models fences exactly.)
        self.lowest_settle_waiter
            .fetch_min(txn_idx as usize, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        // Planted bug (loom models): suspend without looking at the frontier again, so a
        // waiter that announced itself after the committer last looked is never woken.
        #[cfg(loom_planted_bug = "settle_wait_without_recheck")]
        let settled = false;
        #[cfg(not(loom_planted_bug = "settle_wait_without_recheck"))]
        let settled = self.memory.settled_below() >= txn_idx as usize;
        if settled {
            let lowest = waiters.iter().min().map_or(usize::MAX, |&w| w as usize);
            self.lowest_settle_waiter.store(lowest, Ordering::SeqCst);
            return false;
        }
        self.scheduler.suspend(txn_idx);
        waiters.push(txn_idx);
        true
    }

    /// Resumes the transactions waiting for the settled frontier that it has reached.
    fn wake_settled(&self) {
        if !self.memory.has_sinks() {
            return;
        }
        // The frontier was moved (by `settle`) before this fence; see `wait_for_settle`.
        fence(Ordering::SeqCst);
        if self.lowest_settle_waiter.load(Ordering::SeqCst) > self.memory.settled_below() {
            return;
        }
        let mut waiters = lock(&self.settle_waiters);
        let frontier = self.memory.settled_below();
        waiters.retain(|&waiter| {
            let ready = waiter as usize <= frontier;
            if ready {
                self.scheduler.resume(waiter);
            }
            !ready
        });
        let lowest = waiters.iter().min().map_or(usize::MAX, |&w| w as usize);
        self.lowest_settle_waiter.store(lowest, Ordering::SeqCst);
    }

    fn validate(
        &self,
        txn_idx: TxnIndex,
        incarnation: u32,
        stats: &mut DriverStats,
    ) -> Option<Task> {
        stats.validations += 1;
        let epoch = self.scheduler.start_validation();
        let validation = self.memory.validate(txn_idx);
        stats.predicate_saves += u64::from(validation.predicate_saves);
        let aborted =
            !validation.valid && self.scheduler.try_validation_abort(txn_idx, incarnation);
        if aborted {
            stats.aborts += 1;
            self.memory.convert_writes_to_estimates(txn_idx);
        }
        self.scheduler
            .finish_validation(txn_idx, incarnation, epoch, aborted)
    }

    /// Resolves the deltas of a committing transaction: how many it wrote and how many
    /// of them a later lower write went under, or `None` if one does not fit.
    fn resolve_deltas(
        &self,
        txn_idx: TxnIndex,
    ) -> Result<Option<(u32, u32)>, DriverError<T::Error>> {
        loop {
            match self.memory.commit_deltas(txn_idx) {
                DeltaCommit::Resolved { deltas, saves } => return Ok(Some((deltas, saves))),
                DeltaCommit::OutOfRange { .. } => return Ok(None),
                DeltaCommit::NeedsBase { key } => {
                    let base = self
                        .task
                        .counter_base(&key)
                        .map_err(|error| DriverError::Execution { txn_idx, error })?;
                    self.memory.provide_base(&key, base);
                }
                DeltaCommit::Unfinished { txn_idx: lower } => {
                    return Err(DriverError::Invariant(format!(
                        "transaction {txn_idx} commits above transaction {lower}'s unfinished entry"
                    )))
                }
            }
        }
    }

    /// Commits every transaction that is ready, in order, if no other worker is doing so.
    /// Returns a re-execution task when a commit-time validation aborts a transaction.
    fn commit_ready(&self, stats: &mut DriverStats) -> Option<Task> {
        let mut committer = self.scheduler.try_commit()?;
        // Unused as mutable only in the planted bug's build, which folds elsewhere.
        #[cfg_attr(loom_planted_bug = "fold_at_execution", allow(unused_mut))]
        let mut sink = lock(&self.sink);
        // Planted bug (loom models): commit on after the run halted and the sink failed,
        // as a worker that was past its `done` check did before the sink could close.
        #[cfg(loom_planted_bug = "commit_after_sink_failure")]
        let may_commit = |_: &SinkSlot<S>| true;
        #[cfg(not(loom_planted_bug = "commit_after_sink_failure"))]
        let may_commit = |sink: &SinkSlot<S>| !self.scheduler.is_halted() && sink.open;
        while may_commit(&sink) {
            let Some(candidate) = committer.next_candidate() else {
                break;
            };
            if candidate.needs_validation {
                stats.validations += 1;
                stats.commit_validations += 1;
                // Every lower transaction is committed, so this validation is definitive.
                let validation = self.memory.validate(candidate.txn_idx);
                stats.predicate_saves += u64::from(validation.predicate_saves);
                if !validation.valid {
                    if committer.try_abort(candidate) {
                        stats.aborts += 1;
                        self.memory.convert_writes_to_estimates(candidate.txn_idx);
                        drop(sink);
                        return committer.finish_abort(candidate);
                    }
                    // Another validator aborted it first; it is no longer a candidate.
                    continue;
                }
            }
            // Every lower transaction is committed, so the totals under this one's deltas
            // are final: resolve them, in block order, and check that they fit.
            let resolved = match self.resolve_deltas(candidate.txn_idx) {
                Ok(Some(resolved)) => resolved,
                Ok(None) => {
                    // A delta does not fit: run the transaction again on exact values,
                    // so that it fails the way sequential execution fails it.
                    self.exact[candidate.txn_idx as usize].store(true, Ordering::Relaxed);
                    if committer.try_abort(candidate) {
                        stats.aborts += 1;
                        stats.exact_reexecutions += 1;
                        self.memory.convert_writes_to_estimates(candidate.txn_idx);
                        drop(sink);
                        return committer.finish_abort(candidate);
                    }
                    continue;
                }
                Err(error) => {
                    self.fail(error);
                    return None;
                }
            };
            if !committer.commit(candidate) {
                continue;
            }
            // Final: apply its sink writes, and wake whoever waited for them.
            self.memory.settle(candidate.txn_idx);
            self.wake_settled();
            stats.delta_writes += u64::from(resolved.0);
            stats.delta_saves += u64::from(resolved.1);
            let slot = lock(&self.outputs[candidate.txn_idx as usize]);
            let result = match &*slot {
                Some((incarnation, output)) if *incarnation == candidate.incarnation => {
                    #[cfg(loom_planted_bug = "fold_at_execution")]
                    let _ = output;
                    #[cfg(loom_planted_bug = "fold_at_execution")]
                    let folded = Ok(());
                    #[cfg(not(loom_planted_bug = "fold_at_execution"))]
                    let folded = sink.commit(candidate.txn_idx, output);
                    folded
                }
                _ => Err(DriverError::Invariant(format!(
                    "committed transaction {} has no output of incarnation {}",
                    candidate.txn_idx, candidate.incarnation
                ))),
            };
            drop(slot);
            if let Err(error) = result {
                self.fail(error);
                return None;
            }
        }
        None
    }
}
