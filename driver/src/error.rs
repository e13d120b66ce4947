//! How a run can fail.

use crate::{Incarnation, TxnIndex};

/// How the driver failed.
#[derive(Debug, thiserror::Error)]
pub enum DriverError<E> {
    /// The commit sink returned an error for `txn_idx`: final, since outputs reach the
    /// sink in block order and only once they are final. Nothing reached the sink after.
    #[error("the commit sink failed at transaction {txn_idx}: {error}")]
    Sink {
        /// The transaction whose commit failed.
        txn_idx: TxnIndex,
        /// What the sink returned.
        error: E,
    },
    /// An incarnation of `txn_idx` returned [`ExecuteError::Failed`](crate::ExecuteError::Failed)
    /// (or its [`counter_base`](crate::ParallelTask::counter_base) failed). Not final: a
    /// speculative incarnation may read keys, or values, that sequential execution in
    /// block order never reads, so the error may not be the block's.
    #[error("an execution of transaction {txn_idx} failed: {error}")]
    Execution {
        /// The transaction whose incarnation failed.
        txn_idx: TxnIndex,
        /// What it returned.
        error: E,
    },
    /// A task or the sink panicked; the panic's message, if it was a string.
    #[error("a worker panicked: {0}")]
    Panicked(String),
    /// An engine invariant did not hold: a bug in the driver, never an input error.
    #[error("engine invariant broken: {0}")]
    Invariant(#[from] Invariant),
    /// The block has more transactions than a [`TxnIndex`] can number.
    #[error("a block of {num_txns} transactions exceeds the transaction index type")]
    TooManyTransactions {
        /// The number asked for.
        num_txns: usize,
    },
}

/// An engine invariant that did not hold. Each is a bug; they are typed so that a report
/// names exactly which one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Invariant {
    /// The workers all returned before every transaction committed.
    #[error("workers stopped with {committed} of {num_txns} transactions committed")]
    WorkersStopped {
        /// Transactions committed.
        committed: usize,
        /// The block's size.
        num_txns: usize,
    },
    /// A committed transaction had no output from the incarnation that committed.
    #[error("committed transaction {txn_idx} has no output of incarnation {incarnation}")]
    MissingOutput {
        /// The transaction.
        txn_idx: TxnIndex,
        /// The incarnation that committed.
        incarnation: Incarnation,
    },
    /// A transaction reached commit above a lower transaction's unfinished entry.
    #[error("transaction {txn_idx} commits above transaction {lower}'s unfinished entry")]
    CommitAboveUnfinished {
        /// The committing transaction.
        txn_idx: TxnIndex,
        /// The lower transaction whose entry was not final.
        lower: TxnIndex,
    },
    /// A task reported a blocker that is not below the transaction it executed: it
    /// cannot have read that transaction's ESTIMATE.
    #[error(
        "transaction {txn_idx} reported itself blocked by transaction {blocking_txn}, not below it"
    )]
    BlockerNotBelow {
        /// The transaction executed.
        txn_idx: TxnIndex,
        /// The blocker it named.
        blocking_txn: TxnIndex,
    },
    /// The memory's final snapshot could not be taken.
    #[error("final snapshot: {0}")]
    Snapshot(String),
}
