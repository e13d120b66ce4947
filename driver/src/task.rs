//! The contract between the driver and a block's transactions: what a task does
//! ([`ParallelTask`]), why an execution may produce no output ([`ExecuteError`]), and
//! where final outputs go ([`CommitSink`]).
//!
//! A task only executes transactions and reads what lies beneath the block; how the block
//! is scheduled (hints, claims, sinks) is the [`Plan`](crate::Plan)'s business.

use std::hash::Hash;

use mvmemory::{Counter, Write};

use crate::view::{Blocker, SpeculativeReads};
use crate::TxnIndex;

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
    type Writes: ExecutionWrites<Self::Key, Self::Value>;

    /// Executes transaction `txn_idx`, reading through `reads` (and, where it finds
    /// nothing, the state beneath the block). Must never panic on any values it reads:
    /// a speculative view can be inconsistent. A read that reports a [`Blocker`] ends
    /// the execution with [`ExecuteError::Blocked`], passing the blocker on unchanged.
    fn execute(
        &self,
        txn_idx: TxnIndex,
        reads: &mut SpeculativeReads<'_, Self>,
    ) -> ExecuteResult<Self>;

    /// The counter at `key` beneath the block (absent counts as 0), for delta chains and
    /// predicate reads that reach the bottom of the block. Called at most a few times per
    /// key and block, only for keys the task writes deltas to or reads as predicates; an
    /// error (the key holds something that is no counter, storage failed) ends the run
    /// as [`DriverError::Execution`](crate::DriverError::Execution) of the transaction
    /// that needed it.
    fn counter_base(&self, key: &Self::Key) -> Result<u64, Self::Error>;
}

/// The writes of one execution, as [`ParallelTask::execute`] returns them.
///
/// Any iterator of `(key, write)` pairs will do; implementing this trait for it is one
/// line, since its one method has a default. The method exists for frontier runs (see
/// [`Plan::frontier_run`](crate::Plan::frontier_run)): there every write is final, and a
/// set known to hold full values only goes into the run's overlay as it is, instead of
/// being converted into [`Write`]s and buffered until its deltas are checked. A write
/// set that keeps its values and deltas apart (as the TOS engine's does) knows that
/// without looking.
///
/// ```
/// use blockstm_driver::{Write, ExecutionWrites};
///
/// let values: Vec<(u8, Write<u64>)> = vec![(1, Write::Value(5)), (2, Write::Value(6))];
/// let values: Vec<(u8, u64)> = values.into_values().map_err(|_| "a delta").unwrap().collect();
/// assert_eq!(values, [(1, 5), (2, 6)]);
///
/// let mixed: Vec<(u8, Write<u64>)> = vec![(1, Write::Value(5)), (2, Write::Delta(-1))];
/// assert!(mixed.into_values().is_err());
/// ```
pub trait ExecutionWrites<K, V>: IntoIterator<Item = (K, Write<V>)> + Sized {
    /// The writes as `(key, value)` pairs if none is a delta, or the set unchanged
    /// (`Err`). The default always answers `Err`, which is never wrong: the driver then
    /// takes the writes one by one.
    fn into_values(self) -> Result<impl Iterator<Item = (K, V)>, Self> {
        Err::<std::iter::Empty<(K, V)>, Self>(self)
    }
}

/// A vector checks its writes once: without a delta among them, they go in as values.
impl<K, V> ExecutionWrites<K, V> for Vec<(K, Write<V>)> {
    fn into_values(self) -> Result<impl Iterator<Item = (K, V)>, Self> {
        if self
            .iter()
            .any(|(_, write)| matches!(write, Write::Delta(_)))
        {
            return Err(self);
        }
        Ok(self.into_iter().filter_map(|(key, write)| match write {
            Write::Value(value) => Some((key, value)),
            // None is left: checked just above.
            Write::Delta(_) => None,
        }))
    }
}

/// An array takes the default: its writes are folded one by one.
impl<K, V, const N: usize> ExecutionWrites<K, V> for [(K, Write<V>); N] {}

/// Why an execution did not produce an output.
#[derive(Debug)]
pub enum ExecuteError<E> {
    /// A read could not go on (see [`Blocker`]): the driver suspends the transaction
    /// until the blocker is gone and runs it again.
    Blocked(Blocker),
    /// An error that ends this run of the block (a storage failure, corrupt state). The
    /// run reports it as [`DriverError::Execution`](crate::DriverError::Execution): the
    /// incarnation may have read a state that the block order never produces, so the
    /// caller decides what it means.
    Failed(E),
}

/// What [`ParallelTask::execute`] returns: the output and the writes, or why there are none.
pub type ExecuteResult<T> = Result<
    (<T as ParallelTask>::Output, <T as ParallelTask>::Writes),
    ExecuteError<<T as ParallelTask>::Error>,
>;

/// Receives final outputs, once each, in block order.
pub trait CommitSink<O, E>: Send {
    /// Transaction `txn_idx` is final with `output`. An error ends the block; after it
    /// (or a panic here) the sink receives nothing more.
    fn commit(&mut self, txn_idx: TxnIndex, output: &O) -> Result<(), E>;
}
