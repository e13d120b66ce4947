//! What the memory's operations report: a read's result, a predicate read's answer, and
//! the outcomes of recording, validating, committing deltas and taking the final
//! snapshot. Callers (the driver, the executor) match on these, so they are gathered in
//! one place apart from the operations that produce them.

#[cfg(doc)]
use crate::{MVMemory, ReadOrigin};
use crate::{ReadDescriptor, TxnIndex, Version};

/// What a read by transaction `j` finds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadResult<V> {
    /// The highest write below `j`.
    Value {
        /// Who wrote it.
        version: Version,
        /// What was written.
        value: V,
    },
    /// The highest write below `j` is a delta: this is the counter value the deltas
    /// below `j` add up to (clamped to `u64` if a speculative state pushed it outside;
    /// such a read never commits, see [`ReadOrigin::OutOfRange`]).
    Summed {
        /// The resolved value.
        value: V,
    },
    /// The highest writer below `j` (or one on the way down a delta chain) was
    /// aborted; `j` must wait for it to re-execute.
    Dependency {
        /// The aborted writer.
        blocking_txn: TxnIndex,
    },
    /// No transaction below `j` wrote the key: the caller reads storage.
    NotFound,
    /// The deltas below `j` reach the bottom of the block and the key's base value is
    /// not known yet: give it with [`MVMemory::provide_base`] and read again.
    NeedsBase,
    /// The key is a sink and every transaction below `j` has settled: its final value
    /// below `j`. Not recorded: it cannot change.
    Settled {
        /// The value.
        value: V,
    },
    /// The key is a sink and some transaction below `j` has not settled yet: read again
    /// once [`MVMemory::settled_below`] reaches `j`.
    Unsettled,
}

/// What a predicate read ([`MVMemory::read_at_least`]) finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PredicateRead {
    /// The counter is at least the threshold; recorded as that predicate.
    Holds,
    /// It is below the threshold (or not a counter); recorded as that predicate, so that
    /// a lower write that makes it hold invalidates the read. A caller that needs the
    /// exact value (to report it) reads it as well.
    Fails,
    /// An aborted writer lies on the way down; wait for it.
    Dependency {
        /// The aborted writer.
        blocking_txn: TxnIndex,
    },
    /// The key's base value is needed ([`MVMemory::provide_base`]) first.
    NeedsBase,
    /// The key is a sink and a lower transaction has not settled yet (see
    /// [`ReadResult::Unsettled`]).
    Unsettled,
}

/// What [`MVMemory::record`] reports.
#[derive(Debug)]
pub struct RecordOutcome {
    /// The incarnation wrote a key that the previous one did not: transactions above it
    /// may have read around it and must all be validated again.
    pub wrote_new_location: bool,
    /// The read buffer passed to `record`, emptied (its reads were copied into the
    /// memory), for the caller to reuse: a worker's steady state allocates no read sets.
    pub spare_read_buffer: Vec<ReadDescriptor>,
}

/// The block ended with an entry that only a running block may hold: an ESTIMATE, or a
/// delta its writer's commit did not resolve. An engine bug, never an input error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnfinishedAtEnd {
    /// The transaction whose ESTIMATE remained.
    Estimate {
        /// The transaction.
        txn_idx: TxnIndex,
    },
    /// The transaction whose delta was never resolved.
    UnresolvedDelta {
        /// The transaction.
        txn_idx: TxnIndex,
    },
}

impl std::fmt::Display for UnfinishedAtEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnfinishedAtEnd::Estimate { txn_idx } => write!(
                f,
                "transaction {txn_idx} left an ESTIMATE at the end of the block"
            ),
            UnfinishedAtEnd::UnresolvedDelta { txn_idx } => write!(
                f,
                "transaction {txn_idx} left an unresolved delta at the end of the block"
            ),
        }
    }
}

impl std::error::Error for UnfinishedAtEnd {}

/// What [`MVMemory::validate`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Validation {
    /// Every read still resolves as it did.
    pub valid: bool,
    /// Predicate reads that held although the counter had changed since it was read:
    /// each would have failed as an exact read (an abort avoided, if `valid`).
    pub predicate_saves: u32,
}

/// What [`MVMemory::commit_deltas`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeltaCommit<K> {
    /// Every delta of the transaction is resolved.
    Resolved {
        /// How many it wrote.
        deltas: u32,
        /// How many of them a lower transaction wrote under after they were recorded: an
        /// exact read-modify-write there would have been invalidated.
        saves: u32,
    },
    /// A delta's total does not fit a `u64` (or lands on a value that is not a
    /// counter): the transaction must be executed again without deltas, so that it
    /// fails exactly as sequential execution would.
    OutOfRange {
        /// The key.
        key: K,
    },
    /// The base value of this key is needed ([`MVMemory::provide_base`]) first.
    NeedsBase {
        /// The key.
        key: K,
    },
    /// A lower transaction's entry is not final although every lower transaction has
    /// committed: an engine bug.
    Unfinished {
        /// The lower transaction.
        txn_idx: TxnIndex,
    },
}
