//! A transaction's speculative view of the block: reads through the multi-version
//! memory, recorded as the incarnation's read set, and what a read can find.

use mvmemory::{Counter, MVMemory, PredicateRead, ReadDescriptor, ReadResult, Version};
use rustc_hash::FxHashMap;

use crate::task::ParallelTask;
use crate::TxnIndex;

/// What a [frontier run](crate::Plan::frontier_run) has written so far: each key's last
/// value in the run and the version that wrote it. Its transactions read here first.
pub(crate) type Overlay<K, V> = FxHashMap<K, (Version, V)>;

/// How a view reads: speculatively, recording a read set, or at the commit frontier.
enum Mode<'a, K, V> {
    /// Below a transaction that may run ahead of lower ones: reads are recorded for
    /// validation, and may meet unfinished writers.
    Speculative,
    /// Inside a frontier run that began at `start`: everything below `start` is final,
    /// and the run's own earlier writes are in `overlay`, so reads are final and recorded
    /// nowhere.
    Frontier {
        start: TxnIndex,
        overlay: &'a Overlay<K, V>,
    },
}

/// What an execution must wait for before it can read on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Blocker {
    /// An ESTIMATE left by this lower transaction's aborted incarnation: wait until it
    /// has executed again.
    Txn(TxnIndex),
    /// A [sink](crate::Plan::sinks) that a lower transaction has not settled yet: wait
    /// until every lower transaction has committed.
    CommitFrontier,
}

/// What a speculative read found.
#[derive(Debug, PartialEq, Eq)]
pub enum SpeculativeRead<V> {
    /// A lower transaction wrote this value, or lower transactions' deltas add up to it.
    Value(V),
    /// No lower transaction wrote the key: read the state beneath the block.
    NotFound,
    /// The read cannot go on: stop, returning [`ExecuteError::Blocked`](crate::ExecuteError::Blocked).
    Blocked(Blocker),
}

/// What a speculative predicate read ([`SpeculativeReads::at_least`]) found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpeculativePredicate {
    /// The counter is at least the threshold (recorded as that predicate).
    Holds,
    /// It is not (also recorded, as the predicate's negation; read the exact value too
    /// to say by how much).
    Fails,
    /// The read cannot go on: stop, returning [`ExecuteError::Blocked`](crate::ExecuteError::Blocked).
    Blocked(Blocker),
}

/// One transaction's speculative view of the block's memory; records its read set.
pub struct SpeculativeReads<'a, T: ParallelTask + ?Sized> {
    memory: &'a MVMemory<T::Key, T::Value>,
    task: &'a T,
    txn_idx: TxnIndex,
    mode: Mode<'a, T::Key, T::Value>,
    reads: Vec<ReadDescriptor>,
    deltas_allowed: bool,
    delta_reads: u64,
    predicate_reads: u64,
}

/// What an execution's view leaves behind for the driver: the read set and counters.
pub(crate) struct RecordedReads {
    pub(crate) reads: Vec<ReadDescriptor>,
    pub(crate) delta_reads: u64,
    pub(crate) predicate_reads: u64,
}

impl<T: ParallelTask + ?Sized> std::fmt::Debug for SpeculativeReads<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpeculativeReads")
            .field("txn_idx", &self.txn_idx)
            .field("reads", &self.reads.len())
            .field("deltas_allowed", &self.deltas_allowed)
            .field("at_frontier", &matches!(self.mode, Mode::Frontier { .. }))
            .finish_non_exhaustive()
    }
}

impl<'a, T: ParallelTask + ?Sized> SpeculativeReads<'a, T> {
    /// A view for one execution of `txn_idx`, recording into `reads` (emptied first, so
    /// that a worker can reuse one buffer across executions).
    pub(crate) fn new(
        memory: &'a MVMemory<T::Key, T::Value>,
        task: &'a T,
        txn_idx: TxnIndex,
        mut reads: Vec<ReadDescriptor>,
        deltas_allowed: bool,
    ) -> Self {
        reads.clear();
        Self {
            memory,
            task,
            txn_idx,
            mode: Mode::Speculative,
            reads,
            deltas_allowed,
            delta_reads: 0,
            predicate_reads: 0,
        }
    }

    /// A view for `txn_idx` inside a frontier run that began at `start`: it reads the
    /// run's `overlay`, then the memory below `start`, all final; it records nothing, and
    /// allows no deltas (exact values cost nothing where nothing conflicts).
    pub(crate) fn at_frontier(
        memory: &'a MVMemory<T::Key, T::Value>,
        task: &'a T,
        txn_idx: TxnIndex,
        start: TxnIndex,
        overlay: &'a Overlay<T::Key, T::Value>,
    ) -> Self {
        Self {
            memory,
            task,
            txn_idx,
            mode: Mode::Frontier { start, overlay },
            reads: Vec::new(),
            deltas_allowed: false,
            delta_reads: 0,
            predicate_reads: 0,
        }
    }

    /// Ends the view, handing back what it recorded.
    pub(crate) fn finish(self) -> RecordedReads {
        RecordedReads {
            reads: self.reads,
            delta_reads: self.delta_reads,
            predicate_reads: self.predicate_reads,
        }
    }

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
    // Inlined into the task's read: at the frontier, a read is one overlay probe, and the
    // calls around it cost a transfer as much as the probe (measured with callgrind, one
    // worker on 100 accounts).
    #[inline]
    pub fn read(&mut self, key: &T::Key) -> Result<SpeculativeRead<T::Value>, T::Error> {
        if let Mode::Frontier { start, overlay } = self.mode {
            return self.read_final(key, start, overlay);
        }
        self.read_speculative(key)
    }

    /// [`SpeculativeReads::read`] outside a frontier run: through the memory, recorded.
    fn read_speculative(&mut self, key: &T::Key) -> Result<SpeculativeRead<T::Value>, T::Error> {
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
                    SpeculativeRead::Blocked(Blocker::Txn(blocking_txn))
                }
                ReadResult::NeedsBase => {
                    self.provide_base(key)?;
                    continue;
                }
                ReadResult::Settled { value } => SpeculativeRead::Value(value),
                ReadResult::Unsettled => SpeculativeRead::Blocked(Blocker::CommitFrontier),
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
        if let Mode::Frontier { start, overlay } = self.mode {
            return Ok(match self.read_final(key, start, overlay)? {
                SpeculativeRead::Value(value) => predicate(value.count(), threshold),
                SpeculativeRead::NotFound => {
                    predicate(Some(self.task.counter_base(key)?), threshold)
                }
                SpeculativeRead::Blocked(blocker) => SpeculativePredicate::Blocked(blocker),
            });
        }
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
                        SpeculativePredicate::Blocked(Blocker::Txn(blocking_txn))
                    }
                    PredicateRead::NeedsBase => {
                        self.provide_base(key)?;
                        continue;
                    }
                    PredicateRead::Unsettled => {
                        SpeculativePredicate::Blocked(Blocker::CommitFrontier)
                    }
                };
            return Ok(predicate);
        }
    }

    /// A read inside a frontier run: the run's own writes, then the final memory below
    /// the run ([`read_below_run`]).
    #[inline(always)]
    fn read_final(
        &self,
        key: &T::Key,
        start: TxnIndex,
        overlay: &Overlay<T::Key, T::Value>,
    ) -> Result<SpeculativeRead<T::Value>, T::Error> {
        if let Some((_, value)) = overlay.get(key) {
            return Ok(SpeculativeRead::Value(value.clone()));
        }
        read_below_run(self.memory, self.task, key, start)
    }

    fn provide_base(&self, key: &T::Key) -> Result<(), T::Error> {
        let base = self.task.counter_base(key)?;
        self.memory.provide_base(key, base);
        Ok(())
    }
}

/// What a frontier run that began at `start` reads at `key` below itself: final values
/// only, recorded nowhere. Nothing below the run is unfinished, so the blockers cannot
/// occur; were one reported all the same, the run hands its transaction back to the
/// ordinary path rather than trust it.
#[inline]
pub(crate) fn read_below_run<T: ParallelTask + ?Sized>(
    memory: &MVMemory<T::Key, T::Value>,
    task: &T,
    key: &T::Key,
    start: TxnIndex,
) -> Result<SpeculativeRead<T::Value>, T::Error> {
    if start == 0 {
        // Nothing lies below the block's first transaction: on one worker, the run that
        // takes the whole block never reads the memory.
        return Ok(SpeculativeRead::NotFound);
    }
    read_memory_below_run(memory, task, key, start)
}

/// [`read_below_run`] for a run above the block's first transaction.
fn read_memory_below_run<T: ParallelTask + ?Sized>(
    memory: &MVMemory<T::Key, T::Value>,
    task: &T,
    key: &T::Key,
    start: TxnIndex,
) -> Result<SpeculativeRead<T::Value>, T::Error> {
    loop {
        return Ok(match memory.read(key, start) {
            ReadResult::Value { value, .. }
            | ReadResult::Summed { value }
            | ReadResult::Settled { value } => SpeculativeRead::Value(value),
            ReadResult::NotFound => SpeculativeRead::NotFound,
            ReadResult::NeedsBase => {
                memory.provide_base(key, task.counter_base(key)?);
                continue;
            }
            ReadResult::Dependency { blocking_txn } => {
                SpeculativeRead::Blocked(Blocker::Txn(blocking_txn))
            }
            ReadResult::Unsettled => SpeculativeRead::Blocked(Blocker::CommitFrontier),
        });
    }
}

/// The predicate "at least `threshold`" over an exact count (`None`: not a counter, which
/// holds no amount).
fn predicate(count: Option<u64>, threshold: u64) -> SpeculativePredicate {
    if count.is_some_and(|count| count >= threshold) {
        SpeculativePredicate::Holds
    } else {
        SpeculativePredicate::Fails
    }
}
