//! Multi-version memory for Block-STM.
//!
//! Block-STM runs a block's transactions optimistically in parallel. Each transaction
//! writes into this memory, tagged with its position in the block and its incarnation
//! (how many times it has been re-executed), and reads the value written by the nearest
//! *lower* transaction — the value sequential execution would have shown it, if that
//! writer is final. An aborted incarnation leaves ESTIMATE markers on what it wrote, so
//! that readers wait for its re-execution instead of reading a value that is about to
//! change. After execution, each transaction's read set is validated: every read must
//! still resolve to the same version.
//!
//! The memory is generic over key and value and knows nothing about TOS.
//!
//! ```
//! use mvmemory::{MVMemory, ReadResult, Version};
//!
//! let memory: MVMemory<&str, u64> = MVMemory::new(3);
//! // Transaction 0 writes `a`; transaction 2 reads it; transaction 0 itself does not see it.
//! memory.record(Version::new(0, 0), Vec::new(), [("a", 5)]);
//! assert!(matches!(memory.read(&"a", 2), ReadResult::Value { value: 5, .. }));
//! assert!(matches!(memory.read(&"a", 0), ReadResult::NotFound));
//!
//! // Transaction 2 reads `a` and keeps the read in its read set; the read stays valid
//! // until transaction 0 or 1 writes `a` again.
//! let mut reads = Vec::new();
//! memory.read_recorded(&"a", 2, &mut reads);
//! memory.record(Version::new(2, 0), reads, [("b", 1)]);
//! assert!(memory.validate_read_set(2));
//! memory.record(Version::new(1, 0), Vec::new(), [("a", 6)]);
//! assert!(!memory.validate_read_set(2));
//! ```
//!
//! # Deltas and predicates
//!
//! Besides full values, a transaction may write a [`Write::Delta`]: an addition to a
//! counter (a balance) that needs no read of it, so that credits to one hot account do
//! not conflict (see the `delta` module). A read through deltas is validated by the value
//! it resolved to, not by who wrote it. A transaction that needs only to know that a
//! counter is at least some amount (a debit) reads it with [`MVMemory::read_at_least`],
//! and its read stays valid while that holds, however the counter changes. Deltas are
//! resolved, and their totals range-checked, by [`MVMemory::commit_deltas`] as their
//! writer commits, in block order.
//!
//! # Sinks
//!
//! A key that the block only writes, never reads while it runs (a balance it only
//! credits), can be made a *sink* ([`MVMemory::with_sinks`]): it keeps no versions;
//! writes there wait in their writer's write set until it commits
//! ([`MVMemory::commit_deltas`] checks them, [`MVMemory::settle`] applies them in block
//! order), and a read of it waits until every lower transaction has settled
//! ([`ReadResult::Unsettled`]), then sees a final value that needs no validation (see the
//! `sink` module).
//!
//! # Keys and ids
//!
//! The first read or write of a key in a block gives it a slot and a [`KeyId`]; read and
//! write sets keep ids, so recording, validation, ESTIMATE marking and the final snapshot
//! never hash or compare keys again (see the `index` module).
//!
//! # Memory ordering
//!
//! Every access to versioned data goes through its slot's lock (a loom mutex in models),
//! and every access to a transaction's read and write
//! sets through that transaction's mutex. Lock release/acquire orders everything a writer
//! did before unlocking before everything a later locker does, so a reader sees either the
//! whole entry a writer inserted (value and incarnation together) or none of it; there is
//! no torn read to reason about. What this crate does *not* order is the time between
//! separate calls: a validation may run concurrently with a lower transaction's record.
//! Deciding when a validation is recent enough to trust is the scheduler's job (see its
//! write epochs), and it relies on exactly one property of this crate: once `record`
//! returns, every later `read` or `validate_read_set` that starts after it — in the
//! happens-before sense, which the scheduler's SeqCst epoch counter provides — sees the
//! recorded writes and none of the removed ones.

mod delta;
mod index;
mod sink;
mod sync;

use std::hash::Hash;

use crossbeam_utils::CachePadded;

use delta::{resolve, stamp, Resolution};
pub use delta::{Counter, Write};
pub use index::KeyId;
use index::KeyIndex;
use sink::{NeedsBase, Sink, SinkWrite};
use smallvec::SmallVec;
use sync::{lock, AtomicUsize, Mutex, Ordering};

/// A transaction's position in the block.
pub type TxnIndex = u32;
/// How many times a transaction has been (re-)started; 0 for the first execution.
pub type Incarnation = u32;

/// Which execution of which transaction wrote a value.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Version {
    /// The writing transaction.
    pub txn_idx: TxnIndex,
    /// Its incarnation at the time of the write.
    pub incarnation: Incarnation,
}

impl Version {
    /// A version.
    pub const fn new(txn_idx: TxnIndex, incarnation: Incarnation) -> Self {
        Self {
            txn_idx,
            incarnation,
        }
    }
}

/// One entry in a key's version list.
#[derive(Clone, Debug)]
enum Entry<V> {
    /// A value written by the given incarnation.
    Value { incarnation: Incarnation, value: V },
    /// An addition to the counter below. Boxed: few keys take deltas, and every entry
    /// (most keys keep two inline) would otherwise grow to the size of this one.
    Delta(Box<DeltaEntry>),
    /// The writer was aborted: its next incarnation will likely write here again.
    Estimate,
}

/// A delta entry.
#[derive(Clone, Debug)]
struct DeltaEntry {
    /// The writing incarnation.
    incarnation: Incarnation,
    /// What it adds.
    delta: i128,
    /// The key's nearest lower entry when the delta was recorded (for statistics).
    below_at_write: Option<Version>,
    /// The key's value after this delta, set when the writer commits (and then final: a
    /// committed transaction never runs again). Reads from above stop here.
    resolved: Option<u64>,
}

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

/// Where a recorded read was answered from, and so what its validation checks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReadOrigin {
    /// A version in this memory.
    MultiVersion(Version),
    /// Nothing below the reader had written the key, so the caller read storage.
    Storage,
    /// Deltas below the reader added up to this value; valid while they still do.
    Total(u64),
    /// The counter was at least `threshold` (it was `seen`); valid while it still is.
    AtLeast {
        /// The predicate's bound.
        threshold: u64,
        /// The value when read (for statistics only).
        seen: u64,
    },
    /// The counter was below `threshold` (a predicate read that failed); valid while it
    /// still is.
    Below {
        /// The predicate's bound.
        threshold: u64,
    },
    /// The deltas added up to no `u64` (or sat on a value that is no counter): a
    /// speculative state. Valid while that still holds, so that the reader is not
    /// re-executed, again and again, on the same state. Such a read never commits: the
    /// lowest delta that breaks the range fails its own commit first (see
    /// [`MVMemory::commit_deltas`]), and its writer's re-execution changes the chain.
    OutOfRange,
}

/// One entry of a read set: a key and where its value came from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ReadDescriptor {
    /// The key read.
    pub key: KeyId,
    origin: PackedOrigin,
}

impl ReadDescriptor {
    fn new(key: KeyId, origin: ReadOrigin) -> Self {
        Self {
            key,
            origin: PackedOrigin::from(origin),
        }
    }

    /// Where its value came from.
    pub fn origin(&self) -> ReadOrigin {
        ReadOrigin::from(self.origin)
    }
}

/// A `u64` as two `u32`s: 4-byte aligned, so that a read descriptor takes 24 bytes, not
/// 32 (read sets are copied and walked on every execution and validation).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Packed([u32; 2]);

impl From<u64> for Packed {
    fn from(value: u64) -> Self {
        // Truncations on purpose: the two halves.
        Self([(value >> 32) as u32, value as u32])
    }
}

impl From<Packed> for u64 {
    fn from(Packed([high, low]): Packed) -> Self {
        (u64::from(high) << 32) | u64::from(low)
    }
}

/// [`ReadOrigin`] as a read set stores it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PackedOrigin {
    MultiVersion(Version),
    Storage,
    Total(Packed),
    AtLeast { threshold: Packed, seen: Packed },
    Below { threshold: Packed },
    OutOfRange,
}

impl From<ReadOrigin> for PackedOrigin {
    fn from(origin: ReadOrigin) -> Self {
        match origin {
            ReadOrigin::MultiVersion(version) => Self::MultiVersion(version),
            ReadOrigin::Storage => Self::Storage,
            ReadOrigin::Total(total) => Self::Total(total.into()),
            ReadOrigin::AtLeast { threshold, seen } => Self::AtLeast {
                threshold: threshold.into(),
                seen: seen.into(),
            },
            ReadOrigin::Below { threshold } => Self::Below {
                threshold: threshold.into(),
            },
            ReadOrigin::OutOfRange => Self::OutOfRange,
        }
    }
}

impl From<PackedOrigin> for ReadOrigin {
    fn from(origin: PackedOrigin) -> Self {
        match origin {
            PackedOrigin::MultiVersion(version) => Self::MultiVersion(version),
            PackedOrigin::Storage => Self::Storage,
            PackedOrigin::Total(total) => Self::Total(total.into()),
            PackedOrigin::AtLeast { threshold, seen } => Self::AtLeast {
                threshold: threshold.into(),
                seen: seen.into(),
            },
            PackedOrigin::Below { threshold } => Self::Below {
                threshold: threshold.into(),
            },
            PackedOrigin::OutOfRange => Self::OutOfRange,
        }
    }
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

/// Per-transaction bookkeeping, each behind its own mutex so transactions never contend.
///
/// Both sets are small vectors of ids: a typical transaction reads and writes a handful
/// of keys, which then live inline here, so recording allocates nothing and a block's
/// memory frees without a deallocation per transaction.
struct TxnSets<V> {
    /// Keys written by the last recorded incarnation.
    written: SmallVec<[KeyId; 4]>,
    /// Those of them written as deltas: all that the commit step must resolve (most
    /// transactions write none, and their commit then touches no key).
    deltas: SmallVec<[KeyId; 2]>,
    /// The last recorded incarnation's read set.
    reads: SmallVec<[ReadDescriptor; 4]>,
    /// The last recorded incarnation's writes to sinks, applied when it settles.
    sink_writes: SmallVec<[SinkWrite<V>; 1]>,
}

impl<V> Default for TxnSets<V> {
    fn default() -> Self {
        Self {
            written: SmallVec::new(),
            deltas: SmallVec::new(),
            reads: SmallVec::new(),
            sink_writes: SmallVec::new(),
        }
    }
}

/// How many of a read set's first entries [`MVMemory::record`] checks for a written key
/// before interning it: a transaction usually writes keys it has just read (a balance, a
/// nonce), and comparing against a few slots it touched a moment ago is cheaper than a
/// hash lookup; past that, a long read set would make the scan quadratic.
const WRITE_MATCH_SCAN: usize = 8;

/// The multi-version memory of one block.
pub struct MVMemory<K, V> {
    index: KeyIndex<K, Entry<V>>,
    txns: Box<[Mutex<TxnSets<V>>]>,
    sinks: Box<[Sink<V>]>,
    /// Every transaction below this one has committed and its sink writes are applied.
    /// Padded: the committer moves it on every commit, and the fields beside it are read
    /// on every access to the memory by every worker.
    settled_below: CachePadded<AtomicUsize>,
}

impl<K, V> std::fmt::Debug for MVMemory<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MVMemory")
            .field("txns", &self.txns.len())
            .finish_non_exhaustive()
    }
}

impl<K, V> MVMemory<K, V>
where
    K: Eq + Hash + Clone,
    V: Counter,
{
    /// An empty memory for a block of `num_txns` transactions.
    pub fn new(num_txns: usize) -> Self {
        let txns = (0..num_txns)
            .map(|_| Mutex::new(TxnSets::default()))
            .collect();
        // Sized for about two new keys per transaction (a transfer's source and
        // destination), so the index seldom grows while workers insert.
        Self {
            index: KeyIndex::with_capacity(num_txns.saturating_mul(2)),
            txns,
            sinks: Box::default(),
            settled_below: CachePadded::new(AtomicUsize::new(0)),
        }
    }

    /// An empty memory for a block of `num_txns` transactions in which `sinks` are
    /// settled at commit rather than versioned (see the crate docs): writes there are
    /// applied as their writers commit, and reads wait for every lower transaction to
    /// settle. A key given twice is one sink.
    ///
    /// ```
    /// use mvmemory::{MVMemory, ReadResult, Version, Write};
    ///
    /// let memory: MVMemory<&str, u64> = MVMemory::with_sinks(3, ["exchange"]);
    /// memory.provide_base(&"exchange", 100);
    /// memory.record_writes(Version::new(0, 0), Vec::new(), [("exchange", Write::Delta(5))]);
    /// // Transaction 1 cannot read the sink before transaction 0 settles…
    /// assert_eq!(memory.read(&"exchange", 1), ReadResult::Unsettled);
    /// assert!(matches!(memory.commit_deltas(0), mvmemory::DeltaCommit::Resolved { deltas: 1, .. }));
    /// memory.settle(0);
    /// // …and then reads the final value, with nothing to validate.
    /// assert_eq!(memory.read(&"exchange", 1), ReadResult::Settled { value: 105 });
    /// ```
    pub fn with_sinks(num_txns: usize, sinks: impl IntoIterator<Item = K>) -> Self {
        let mut memory = Self::new(num_txns);
        let mut marked = Vec::new();
        for key in sinks {
            let id = memory.index.intern(&key);
            let position =
                u32::try_from(marked.len()).expect("invariant: fewer than 2^32 sinks in a block");
            let fresh = memory.index.with_slot(id, |slot| {
                let mut versions = lock(&slot.versions);
                let fresh = versions.sink.is_none();
                versions.sink.get_or_insert(position);
                fresh
            });
            if fresh {
                marked.push(Sink::new(id));
            }
        }
        memory.sinks = marked.into_boxed_slice();
        memory
    }

    /// Whether the memory has any sinks ([`MVMemory::with_sinks`]).
    pub fn has_sinks(&self) -> bool {
        !self.sinks.is_empty()
    }

    /// Every transaction below this index has committed and had its sink writes applied
    /// ([`MVMemory::settle`]): reads of sinks by transactions up to it see final values.
    pub fn settled_below(&self) -> usize {
        self.settled_below.load(Ordering::SeqCst)
    }

    /// A read of sink number `sink` by `txn_idx`: final, or not yet possible. Never
    /// recorded, since a final value cannot change.
    fn read_sink(&self, sink: u32, txn_idx: TxnIndex) -> ReadResult<V> {
        // SeqCst pairs with the store in `settle`: every sink write below the frontier
        // was applied before the frontier moved past it.
        if self.settled_below() < txn_idx as usize {
            return ReadResult::Unsettled;
        }
        match &lock(&self.sink(sink).state).value {
            Some(value) => ReadResult::Settled {
                value: value.clone(),
            },
            None => ReadResult::NotFound,
        }
    }

    fn sink(&self, sink: u32) -> &Sink<V> {
        self.sinks
            .get(sink as usize)
            .expect("invariant: sink positions come from this memory")
    }

    /// The block size this memory was made for.
    pub fn num_txns(&self) -> usize {
        self.txns.len()
    }

    fn sets(&self, txn_idx: TxnIndex) -> &Mutex<TxnSets<V>> {
        self.txns
            .get(txn_idx as usize)
            .unwrap_or_else(|| panic!("invariant: transaction {txn_idx} is outside the block"))
    }

    /// What transaction `txn_idx` reads at `key`: the highest write below it. The read is
    /// not recorded anywhere; a transaction's own reads go through
    /// [`MVMemory::read_recorded`].
    pub fn read(&self, key: &K, txn_idx: TxnIndex) -> ReadResult<V> {
        match self.index.find(key) {
            Some(id) => self.read_id(id, txn_idx).0,
            None => ReadResult::NotFound,
        }
    }

    /// What transaction `txn_idx` reads at `key`, appending the read to `reads` (its read
    /// set in the making) unless it is a dependency or needs a base value, which end or
    /// repeat the read instead.
    pub fn read_recorded(
        &self,
        key: &K,
        txn_idx: TxnIndex,
        reads: &mut Vec<ReadDescriptor>,
    ) -> ReadResult<V> {
        // Interned even when nothing was written yet: the validation of this read must
        // find a lower writer that arrives later, and the key is usually written by this
        // very transaction next.
        let id = self.index.intern(key);
        let (result, origin) = self.read_id(id, txn_idx);
        if let Some(origin) = origin {
            reads.push(ReadDescriptor::new(id, origin));
        }
        result
    }

    /// The read and, unless it is a dependency or needs a base, how to validate it.
    fn read_id(&self, id: KeyId, txn_idx: TxnIndex) -> (ReadResult<V>, Option<ReadOrigin>) {
        let read = self.index.with_slot(id, |slot| {
            let versions = lock(&slot.versions);
            if let Some(sink) = versions.sink {
                return Err(sink);
            }
            Ok(match versions.below(txn_idx) {
                Some((writer, Entry::Value { incarnation, value })) => {
                    let version = Version::new(writer, *incarnation);
                    (
                        ReadResult::Value {
                            version,
                            value: value.clone(),
                        },
                        Some(ReadOrigin::MultiVersion(version)),
                    )
                }
                Some((writer, Entry::Estimate)) => (
                    ReadResult::Dependency {
                        blocking_txn: writer,
                    },
                    None,
                ),
                None => (ReadResult::NotFound, Some(ReadOrigin::Storage)),
                Some((_, Entry::Delta(_))) => match resolve(&versions, txn_idx) {
                    Resolution::Total { total, .. } => {
                        let (count, origin) = match u64::try_from(total) {
                            Ok(count) => (count, ReadOrigin::Total(count)),
                            Err(_) if total < 0 => (0, ReadOrigin::OutOfRange),
                            Err(_) => (u64::MAX, ReadOrigin::OutOfRange),
                        };
                        (
                            ReadResult::Summed {
                                value: V::from_count(count),
                            },
                            Some(origin),
                        )
                    }
                    Resolution::Dependency(blocking_txn) => {
                        (ReadResult::Dependency { blocking_txn }, None)
                    }
                    Resolution::NeedsBase => (ReadResult::NeedsBase, None),
                    // Only a corrupt state puts a delta on top of a value that is not a
                    // counter; the read never commits, and the delta's writer is
                    // re-executed without deltas when it commits (`commit_deltas`).
                    Resolution::NotACounter => (
                        ReadResult::Summed {
                            value: V::from_count(0),
                        },
                        Some(ReadOrigin::OutOfRange),
                    ),
                },
            })
        });
        read.unwrap_or_else(|sink| (self.read_sink(sink, txn_idx), None))
    }

    /// Whether the counter that transaction `txn_idx` sees at `key` is at least
    /// `threshold`. The read is recorded as that predicate, or as its negation: it stays
    /// valid while the answer stays the same, so a lower transaction that changes the
    /// counter without crossing `threshold` does not invalidate it.
    pub fn read_at_least(
        &self,
        key: &K,
        txn_idx: TxnIndex,
        threshold: u64,
        reads: &mut Vec<ReadDescriptor>,
    ) -> PredicateRead {
        let id = self.index.intern(key);
        let resolution = self.index.with_slot(id, |slot| {
            let versions = lock(&slot.versions);
            match versions.sink {
                Some(sink) => Err(sink),
                None => Ok(resolve(&versions, txn_idx)),
            }
        });
        let resolution = match resolution {
            Ok(resolution) => resolution,
            Err(sink) => return self.sink_at_least(sink, txn_idx, threshold),
        };
        match resolution {
            Resolution::Total { total, .. } if total >= i128::from(threshold) => {
                let seen = u64::try_from(total).unwrap_or(u64::MAX);
                reads.push(ReadDescriptor::new(
                    id,
                    ReadOrigin::AtLeast { threshold, seen },
                ));
                PredicateRead::Holds
            }
            Resolution::Total { .. } | Resolution::NotACounter => {
                reads.push(ReadDescriptor::new(id, ReadOrigin::Below { threshold }));
                PredicateRead::Fails
            }
            Resolution::Dependency(blocking_txn) => PredicateRead::Dependency { blocking_txn },
            Resolution::NeedsBase => PredicateRead::NeedsBase,
        }
    }

    /// A predicate read of a sink: final (so not recorded), or not yet possible.
    fn sink_at_least(&self, sink: u32, txn_idx: TxnIndex, threshold: u64) -> PredicateRead {
        if self.settled_below() < txn_idx as usize {
            return PredicateRead::Unsettled;
        }
        let sink = self.sink(sink);
        match self.sink_count(sink, lock(&sink.state).value.as_ref()) {
            Ok(Some(count)) if count >= threshold => PredicateRead::Holds,
            Ok(_) => PredicateRead::Fails,
            Err(NeedsBase) => PredicateRead::NeedsBase,
        }
    }

    /// The count a sink holds with `value` settled there: the value's (`None` if it is
    /// not a counter), or, while no transaction of the block has written the sink, the
    /// base beneath the block, which may not be known yet.
    fn sink_count(&self, sink: &Sink<V>, value: Option<&V>) -> Result<Option<u64>, NeedsBase> {
        match value {
            Some(value) => Ok(value.count()),
            None => self
                .index
                .with_slot(sink.id, |slot| lock(&slot.versions).base)
                .map(Some)
                .ok_or(NeedsBase),
        }
    }

    fn sink_key(&self, sink: &Sink<V>) -> K {
        self.index.with_slot(sink.id, |slot| slot.key.clone())
    }

    /// Gives the memory `key`'s value beneath the block, as a counter, for delta chains
    /// and predicates that reach the bottom of the block. State beneath the block never
    /// changes during it, so the first value given is kept.
    pub fn provide_base(&self, key: &K, base: u64) {
        let id = self.index.intern(key);
        self.index.with_slot(id, |slot| {
            lock(&slot.versions).base.get_or_insert(base);
        });
    }

    /// Whether a read with `origin` by `txn_idx` at `id` still resolves as it did:
    /// `None` if not, `Some(true)` if it holds only as a predicate (the exact value
    /// changed).
    fn check(&self, id: KeyId, txn_idx: TxnIndex, origin: ReadOrigin) -> Option<bool> {
        self.index.with_slot(id, |slot| {
            let versions = lock(&slot.versions);
            let holds = match origin {
                ReadOrigin::MultiVersion(version) => matches!(
                    versions.below(txn_idx),
                    Some((writer, Entry::Value { incarnation, .. }))
                        if Version::new(writer, *incarnation) == version
                ),
                ReadOrigin::Storage => versions.below(txn_idx).is_none(),
                ReadOrigin::Total(count) => matches!(
                    resolve(&versions, txn_idx),
                    Resolution::Total { total, .. } if total == i128::from(count)
                ),
                ReadOrigin::AtLeast { threshold, seen } => {
                    return match resolve(&versions, txn_idx) {
                        Resolution::Total { total, .. } if total >= i128::from(threshold) => {
                            Some(total != i128::from(seen))
                        }
                        _ => None,
                    };
                }
                ReadOrigin::Below { threshold } => match resolve(&versions, txn_idx) {
                    Resolution::Total { total, .. } => total < i128::from(threshold),
                    Resolution::NotACounter => true,
                    Resolution::Dependency(_) | Resolution::NeedsBase => false,
                },
                ReadOrigin::OutOfRange => match resolve(&versions, txn_idx) {
                    Resolution::Total { total, .. } => u64::try_from(total).is_err(),
                    Resolution::NotACounter => true,
                    Resolution::Dependency(_) | Resolution::NeedsBase => false,
                },
            };
            holds.then_some(false)
        })
    }

    /// The id of a key the transaction is writing: found among the first reads of its
    /// read set when it read the key first (the usual case), interned otherwise.
    fn write_id(&self, key: &K, reads: &[ReadDescriptor]) -> KeyId {
        reads
            .iter()
            .take(WRITE_MATCH_SCAN)
            .map(|read| read.key)
            .find(|id| self.index.with_slot(*id, |slot| slot.key == *key))
            .unwrap_or_else(|| self.index.intern(key))
    }

    /// Records a finished incarnation that wrote only full values: its writes become
    /// visible to higher transactions, entries it no longer writes (left by its previous
    /// incarnation) disappear, and its read set replaces the previous one.
    ///
    /// Writes must have distinct keys.
    pub fn record(
        &self,
        version: Version,
        reads: Vec<ReadDescriptor>,
        writes: impl IntoIterator<Item = (K, V)>,
    ) -> RecordOutcome {
        self.record_writes(
            version,
            reads,
            writes
                .into_iter()
                .map(|(key, value)| (key, Write::Value(value))),
        )
    }

    /// [`MVMemory::record`] for writes that may be deltas.
    pub fn record_writes(
        &self,
        version: Version,
        reads: Vec<ReadDescriptor>,
        writes: impl IntoIterator<Item = (K, Write<V>)>,
    ) -> RecordOutcome {
        let mut sets = lock(self.sets(version.txn_idx));
        let previous = std::mem::take(&mut sets.written);
        sets.deltas.clear();
        sets.sink_writes.clear();
        let mut wrote_new_location = false;
        for (key, write) in writes {
            let id = self.write_id(&key, &reads);
            let is_delta = matches!(write, Write::Delta(_));
            // A sink's write comes back out, for the transaction's own write set.
            let sink_write = self.index.with_slot(id, |slot| {
                let mut versions = lock(&slot.versions);
                if let Some(sink) = versions.sink {
                    return Some((sink, write));
                }
                let entry = match write {
                    Write::Value(value) => Entry::Value {
                        incarnation: version.incarnation,
                        value,
                    },
                    Write::Delta(delta) => Entry::Delta(Box::new(DeltaEntry {
                        incarnation: version.incarnation,
                        delta,
                        below_at_write: stamp(versions.below(version.txn_idx)),
                        resolved: None,
                    })),
                };
                versions.insert(version.txn_idx, entry);
                None
            });
            if let Some((sink, write)) = sink_write {
                sets.sink_writes.push(SinkWrite {
                    sink,
                    write,
                    frontier_at_write: TxnIndex::try_from(self.settled_below())
                        .unwrap_or(TxnIndex::MAX),
                    settled: None,
                });
                continue;
            }
            if is_delta {
                sets.deltas.push(id);
            }
            wrote_new_location |= !previous.contains(&id);
            sets.written.push(id);
        }
        // Remove what the previous incarnation wrote and this one did not, after the new
        // writes are in: a reader then never finds a gap where sequential execution would
        // see a value from this transaction.
        for id in previous.iter().filter(|id| !sets.written.contains(id)) {
            self.index.with_slot(*id, |slot| {
                lock(&slot.versions).remove(version.txn_idx);
            });
        }
        let mut reads = reads;
        sets.reads.clear();
        sets.reads.extend(reads.drain(..));
        RecordOutcome {
            wrote_new_location,
            spare_read_buffer: reads,
        }
    }

    /// Marks everything the last incarnation of `txn_idx` wrote as ESTIMATE (it was just
    /// aborted and will most likely write the same keys again).
    pub fn convert_writes_to_estimates(&self, txn_idx: TxnIndex) {
        // Planted bug (loom models): aborted writes stay readable as values.
        if planted::planted!("skip_estimates") {
            return;
        }
        let sets = lock(self.sets(txn_idx));
        for id in sets.written.iter() {
            self.index.with_slot(*id, |slot| {
                if let Some(entry) = lock(&slot.versions).get_mut(txn_idx) {
                    *entry = Entry::Estimate;
                }
            });
        }
    }

    /// Whether every read of the last recorded incarnation of `txn_idx` would still
    /// resolve as it did: to the same version (or still to storage), to the same total
    /// through deltas, or, for a predicate, to a counter that still satisfies it. An
    /// ESTIMATE fails validation.
    pub fn validate_read_set(&self, txn_idx: TxnIndex) -> bool {
        self.validate(txn_idx).valid
    }

    /// [`MVMemory::validate_read_set`], counting the predicate reads that held only as
    /// predicates.
    pub fn validate(&self, txn_idx: TxnIndex) -> Validation {
        let sets = lock(self.sets(txn_idx));
        let mut predicate_saves = 0;
        for read in sets.reads.iter() {
            match self.check(read.key, txn_idx, read.origin()) {
                None => {
                    return Validation {
                        valid: false,
                        predicate_saves,
                    }
                }
                Some(saved) => predicate_saves += u32::from(saved),
            }
        }
        Validation {
            valid: true,
            predicate_saves,
        }
    }

    /// Resolves the deltas of `txn_idx`, which is committing: every transaction below it
    /// has committed, so the value under each of its deltas is final, and so is the
    /// total. Each total is checked to fit a `u64` and kept in the entry, where later
    /// reads stop instead of walking further down.
    ///
    /// On [`DeltaCommit::NeedsBase`], provide the base and call again; deltas resolved
    /// by the first call stay resolved.
    pub fn commit_deltas(&self, txn_idx: TxnIndex) -> DeltaCommit<K> {
        let mut sets = lock(self.sets(txn_idx));
        let mut deltas = 0;
        let mut saves = 0;
        for id in sets.deltas.iter() {
            let step = self.index.with_slot(*id, |slot| {
                let mut versions = lock(&slot.versions);
                let below = resolve(&versions, txn_idx);
                let now_below = stamp(versions.below(txn_idx));
                let Some(Entry::Delta(entry)) = versions.get_mut(txn_idx) else {
                    return Ok(None);
                };
                let DeltaEntry {
                    delta,
                    below_at_write,
                    resolved,
                    ..
                } = &mut **entry;
                if resolved.is_some() {
                    // Resolved by an earlier call that stopped at a missing base.
                    return Ok(Some(false));
                }
                let total = match below {
                    Resolution::Total { total, .. } => total + *delta,
                    Resolution::NotACounter => {
                        return Err(DeltaCommit::OutOfRange {
                            key: slot.key.clone(),
                        })
                    }
                    Resolution::NeedsBase => {
                        return Err(DeltaCommit::NeedsBase {
                            key: slot.key.clone(),
                        })
                    }
                    Resolution::Dependency(txn_idx) => {
                        return Err(DeltaCommit::Unfinished { txn_idx })
                    }
                };
                let Ok(total) = u64::try_from(total) else {
                    return Err(DeltaCommit::OutOfRange {
                        key: slot.key.clone(),
                    });
                };
                *resolved = Some(total);
                Ok(Some(*below_at_write != now_below))
            });
            match step {
                Ok(Some(saved)) => {
                    deltas += 1;
                    saves += u32::from(saved);
                }
                Ok(None) => {}
                Err(outcome) => return outcome,
            }
        }
        // Sink writes: computed here, against the sink's value after every lower
        // transaction, and applied only by `settle`, once the writer has committed.
        for write in sets.sink_writes.iter_mut() {
            match self.sink_total(txn_idx, write) {
                Ok(saved) => {
                    if matches!(write.write, Write::Delta(_)) {
                        deltas += 1;
                        saves += u32::from(saved);
                    }
                }
                Err(outcome) => return outcome,
            }
        }
        DeltaCommit::Resolved { deltas, saves }
    }

    /// The sink's value after `write` by `txn_idx`, kept in the write; whether the write
    /// was a save (a lower write to the sink committed after it was recorded).
    fn sink_total(
        &self,
        txn_idx: TxnIndex,
        write: &mut SinkWrite<V>,
    ) -> Result<bool, DeltaCommit<K>> {
        let sink = self.sink(write.sink);
        let state = lock(&sink.state);
        let saved = state
            .last_writer
            .is_some_and(|writer| writer >= write.frontier_at_write && writer < txn_idx);
        let total = match &write.write {
            Write::Value(value) => value.clone(),
            Write::Delta(delta) => {
                let Ok(below) = self.sink_count(sink, state.value.as_ref()) else {
                    return Err(DeltaCommit::NeedsBase {
                        key: self.sink_key(sink),
                    });
                };
                match below.and_then(|below| u64::try_from(i128::from(below) + *delta).ok()) {
                    Some(total) => V::from_count(total),
                    None => {
                        return Err(DeltaCommit::OutOfRange {
                            key: self.sink_key(sink),
                        })
                    }
                }
            }
        };
        write.settled = Some(total);
        Ok(saved)
    }

    /// Applies the sink writes of `txn_idx`, which has just committed (after
    /// [`MVMemory::commit_deltas`] resolved them), and moves the settled frontier past
    /// it. Call for every committed transaction, in block order.
    pub fn settle(&self, txn_idx: TxnIndex) {
        if self.sinks.is_empty() {
            return;
        }
        let mut sets = lock(self.sets(txn_idx));
        for write in sets.sink_writes.iter_mut() {
            let total = write.settled.take().expect(
                "invariant: commit_deltas resolves every sink write before its writer commits",
            );
            let mut state = lock(&self.sink(write.sink).state);
            state.value = Some(total);
            state.last_writer = Some(txn_idx);
        }
        drop(sets);
        // SeqCst pairs with the load in `read_sink`, and with the driver's waiters.
        self.settled_below
            .store(txn_idx as usize + 1, Ordering::SeqCst);
    }

    /// The final value of every key written in the block (unsorted). Call once every
    /// transaction has committed; an ESTIMATE or unresolved delta left behind is an
    /// engine bug.
    pub fn snapshot(&self) -> Result<Vec<(K, V)>, UnfinishedAtEnd> {
        let mut out = Vec::new();
        let mut error = None;
        self.index
            .for_each(|slot| match lock(&slot.versions).last() {
                Some((_, Entry::Value { value, .. })) => {
                    out.push((slot.key.clone(), value.clone()));
                }
                Some((txn_idx, Entry::Delta(entry))) => match entry.resolved {
                    Some(total) => out.push((slot.key.clone(), V::from_count(total))),
                    None => error = Some(UnfinishedAtEnd::UnresolvedDelta { txn_idx }),
                },
                Some((txn_idx, Entry::Estimate)) => {
                    error = Some(UnfinishedAtEnd::Estimate { txn_idx });
                }
                None => {}
            });
        for sink in self.sinks.iter() {
            if let Some(value) = &lock(&sink.state).value {
                out.push((self.sink_key(sink), value.clone()));
            }
        }
        match error {
            Some(error) => Err(error),
            None => Ok(out),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
