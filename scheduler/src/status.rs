//! What the scheduler hands out and tracks: tasks, a transaction's status (see the
//! crate docs for its transitions) and the epoch a validation started at.

use crate::{Incarnation, TxnIndex};

/// Work for a worker thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// Execute this incarnation of the transaction.
    Execute {
        /// The transaction.
        txn_idx: TxnIndex,
        /// The incarnation to run.
        incarnation: Incarnation,
    },
    /// Validate the read set of this incarnation of the transaction.
    Validate {
        /// The transaction.
        txn_idx: TxnIndex,
        /// The incarnation whose read set is validated.
        incarnation: Incarnation,
    },
}

/// Where a transaction is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnStatus {
    /// Waiting for a worker to execute the current incarnation.
    ReadyToExecute,
    /// A worker is executing the current incarnation.
    Executing,
    /// The current incarnation finished and its writes are recorded.
    Executed,
    /// The current incarnation was aborted (failed validation, or met a dependency);
    /// the next one has not been made ready yet.
    Aborting,
    /// Final: the transaction's output is committed and will never change.
    Committed,
}

/// The write epoch at which a validation started; see the crate docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ValidationEpoch(pub(crate) u64);

/// One transaction's scheduling state, under its own lock.
#[derive(Debug)]
pub(crate) struct TxnState {
    pub(crate) incarnation: Incarnation,
    pub(crate) status: TxnStatus,
    /// The write epoch right after the current incarnation's writes were recorded.
    pub(crate) record_epoch: u64,
    /// The start epoch of the latest successful validation of the current incarnation.
    pub(crate) validated_epoch: Option<u64>,
    /// Transactions that met this one's ESTIMATE and wait for its next execution.
    pub(crate) dependents: Vec<TxnIndex>,
}
