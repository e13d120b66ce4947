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

mod index;
mod sync;

use std::hash::Hash;

pub use index::KeyId;
use index::KeyIndex;
use smallvec::SmallVec;
use sync::{lock, Mutex};

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
    /// The writer was aborted: its next incarnation will likely write here again.
    Estimate,
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
    /// The highest writer below `j` was aborted; `j` must wait for it to re-execute.
    Dependency {
        /// The aborted writer.
        blocking_txn: TxnIndex,
    },
    /// No transaction below `j` wrote the key: the caller reads storage.
    NotFound,
}

/// Where a recorded read was answered from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReadOrigin {
    /// A version in this memory.
    MultiVersion(Version),
    /// Nothing below the reader had written the key, so the caller read storage.
    Storage,
}

/// One entry of a read set: a key and where its value came from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ReadDescriptor {
    /// The key read.
    pub key: KeyId,
    /// Where its value came from.
    pub origin: ReadOrigin,
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

/// The block ended with an ESTIMATE still in memory: an engine bug, never an input error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EstimateAtEnd {
    /// The transaction whose ESTIMATE remained.
    pub txn_idx: TxnIndex,
}

impl std::fmt::Display for EstimateAtEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "transaction {} left an ESTIMATE at the end of the block",
            self.txn_idx
        )
    }
}

impl std::error::Error for EstimateAtEnd {}

/// Per-transaction bookkeeping, each behind its own mutex so transactions never contend.
///
/// Both sets are small vectors of ids: a typical transaction reads and writes a handful
/// of keys, which then live inline here, so recording allocates nothing and a block's
/// memory frees without a deallocation per transaction.
#[derive(Default)]
struct TxnSets {
    /// Keys written by the last recorded incarnation.
    written: SmallVec<[KeyId; 4]>,
    /// The last recorded incarnation's read set.
    reads: SmallVec<[ReadDescriptor; 4]>,
}

/// How many of a read set's first entries [`MVMemory::record`] checks for a written key
/// before interning it: a transaction usually writes keys it has just read (a balance, a
/// nonce), and comparing against a few slots it touched a moment ago is cheaper than a
/// hash lookup; past that, a long read set would make the scan quadratic.
const WRITE_MATCH_SCAN: usize = 8;

/// The multi-version memory of one block.
pub struct MVMemory<K, V> {
    index: KeyIndex<K, Entry<V>>,
    txns: Box<[Mutex<TxnSets>]>,
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
    V: Clone,
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
        }
    }

    /// The block size this memory was made for.
    pub fn num_txns(&self) -> usize {
        self.txns.len()
    }

    fn sets(&self, txn_idx: TxnIndex) -> &Mutex<TxnSets> {
        self.txns
            .get(txn_idx as usize)
            .unwrap_or_else(|| panic!("invariant: transaction {txn_idx} is outside the block"))
    }

    /// What transaction `txn_idx` reads at `key`: the highest write below it. The read is
    /// not recorded anywhere; a transaction's own reads go through
    /// [`MVMemory::read_recorded`].
    pub fn read(&self, key: &K, txn_idx: TxnIndex) -> ReadResult<V> {
        match self.index.find(key) {
            Some(id) => self.read_id(id, txn_idx),
            None => ReadResult::NotFound,
        }
    }

    /// What transaction `txn_idx` reads at `key`, appending the read to `reads` (its read
    /// set in the making) unless it is a dependency, which ends the incarnation instead.
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
        let result = self.read_id(id, txn_idx);
        let origin = match &result {
            ReadResult::Value { version, .. } => ReadOrigin::MultiVersion(*version),
            ReadResult::NotFound => ReadOrigin::Storage,
            ReadResult::Dependency { .. } => return result,
        };
        reads.push(ReadDescriptor { key: id, origin });
        result
    }

    fn read_id(&self, id: KeyId, txn_idx: TxnIndex) -> ReadResult<V> {
        self.index
            .with_slot(id, |slot| match lock(&slot.versions).below(txn_idx) {
                Some((writer, Entry::Value { incarnation, value })) => ReadResult::Value {
                    version: Version::new(writer, *incarnation),
                    value: value.clone(),
                },
                Some((writer, Entry::Estimate)) => ReadResult::Dependency {
                    blocking_txn: writer,
                },
                None => ReadResult::NotFound,
            })
    }

    /// Where a read by `txn_idx` at `id` would come from now, without cloning the value.
    fn origin_now(&self, id: KeyId, txn_idx: TxnIndex) -> Option<ReadOrigin> {
        self.index
            .with_slot(id, |slot| match lock(&slot.versions).below(txn_idx) {
                Some((writer, Entry::Value { incarnation, .. })) => {
                    Some(ReadOrigin::MultiVersion(Version::new(writer, *incarnation)))
                }
                Some((_, Entry::Estimate)) => None,
                None => Some(ReadOrigin::Storage),
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

    /// Records a finished incarnation: its writes become visible to higher transactions,
    /// entries it no longer writes (left by its previous incarnation) disappear, and its
    /// read set replaces the previous one.
    ///
    /// Writes must have distinct keys.
    pub fn record(
        &self,
        version: Version,
        reads: Vec<ReadDescriptor>,
        writes: impl IntoIterator<Item = (K, V)>,
    ) -> RecordOutcome {
        let mut sets = lock(self.sets(version.txn_idx));
        let previous = std::mem::take(&mut sets.written);
        let mut wrote_new_location = false;
        for (key, value) in writes {
            let id = self.write_id(&key, &reads);
            let entry = Entry::Value {
                incarnation: version.incarnation,
                value,
            };
            self.index.with_slot(id, |slot| {
                lock(&slot.versions).insert(version.txn_idx, entry);
            });
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
        #[cfg(loom_planted_bug = "skip_estimates")]
        if txn_idx < TxnIndex::MAX {
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
    /// resolve to the same version (or still to storage). An ESTIMATE fails validation.
    pub fn validate_read_set(&self, txn_idx: TxnIndex) -> bool {
        let sets = lock(self.sets(txn_idx));
        sets.reads
            .iter()
            .all(|read| self.origin_now(read.key, txn_idx) == Some(read.origin))
    }

    /// The final value of every key written in the block (unsorted). Call once every
    /// transaction has committed; an ESTIMATE left behind is an engine bug.
    pub fn snapshot(&self) -> Result<Vec<(K, V)>, EstimateAtEnd> {
        let mut out = Vec::new();
        let mut error = None;
        self.index
            .for_each(|slot| match lock(&slot.versions).last() {
                Some((_, Entry::Value { value, .. })) => {
                    out.push((slot.key.clone(), value.clone()));
                }
                Some((txn_idx, Entry::Estimate)) => error = Some(EstimateAtEnd { txn_idx }),
                None => {}
            });
        match error {
            Some(error) => Err(error),
            None => Ok(out),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
