//! The memory of one block and its write side: the per-key versions (in the key index),
//! each transaction's own read and write sets, and the operations that record an
//! incarnation and turn an aborted one's writes into ESTIMATE markers. Reads, validation,
//! deltas, sinks and the final snapshot add to [`MVMemory`] in their own modules.

use std::hash::Hash;

use crossbeam_utils::CachePadded;
use smallvec::SmallVec;

use crate::delta::{stamp, DeltaEntry};
use crate::index::KeyIndex;
use crate::on_first_use::OnFirstUse;
use crate::sink::{Sink, SinkWrite};
use crate::sync::{lock, AtomicUsize, Mutex};
use crate::version::Entry;
use crate::{Counter, KeyId, ReadDescriptor, RecordOutcome, TxnIndex, Version, Write};

/// Per-transaction bookkeeping, each behind its own mutex so transactions never contend.
///
/// Both sets are small vectors of ids: a typical transaction reads and writes a handful
/// of keys, which then live inline here, so recording allocates nothing and a block's
/// memory frees without a deallocation per transaction.
pub(crate) struct TxnSets<V> {
    /// Keys written by the last recorded incarnation.
    pub(crate) written: SmallVec<[KeyId; 4]>,
    /// Those of them written as deltas: all that the commit step must resolve (most
    /// transactions write none, and their commit then touches no key).
    pub(crate) deltas: SmallVec<[KeyId; 2]>,
    /// The last recorded incarnation's read set.
    pub(crate) reads: SmallVec<[ReadDescriptor; 4]>,
    /// The last recorded incarnation's writes to sinks, applied when it settles.
    pub(crate) sink_writes: SmallVec<[SinkWrite<V>; 1]>,
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

/// The key index of a block of `num_txns` transactions, with `sink_keys` (distinct)
/// interned first and marked as sinks, so that sink `i` has key id `i`. Sized for about
/// two new keys per transaction (a transfer's source and destination), so the index
/// seldom grows while workers insert.
fn build_index<K: Eq + Hash + Clone, E>(num_txns: usize, sink_keys: &[K]) -> KeyIndex<K, E> {
    let index = KeyIndex::with_capacity(num_txns.saturating_mul(2));
    for (position, key) in sink_keys.iter().enumerate() {
        let id = index.intern_first(key);
        assert_eq!(
            id,
            KeyId::from_position(position),
            "invariant: sink keys are distinct and interned first, in order"
        );
        let sink = u32::try_from(position).expect("invariant: fewer than 2^32 sinks in a block");
        index.with_slot(id, |slot| lock(&slot.versions).sink = Some(sink));
    }
    index
}

/// Every transaction's read and write sets, empty.
fn build_sets<V>(num_txns: usize) -> Box<[Mutex<TxnSets<V>>]> {
    (0..num_txns)
        .map(|_| Mutex::new(TxnSets::default()))
        .collect()
}

/// How many of a read set's first entries [`MVMemory::record`] checks for a written key
/// before interning it: a transaction usually writes keys it has just read (a balance, a
/// nonce), and comparing against a few slots it touched a moment ago is cheaper than a
/// hash lookup; past that, a long read set would make the scan quadratic.
const WRITE_MATCH_SCAN: usize = 8;

/// The multi-version memory of one block.
pub struct MVMemory<K, V> {
    /// Built on first use (see `on_first_use`), like `txns`, with the sinks' keys first.
    pub(crate) index: OnFirstUse<KeyIndex<K, Entry<V>>>,
    txns: OnFirstUse<Box<[Mutex<TxnSets<V>>]>>,
    num_txns: usize,
    /// The sinks' keys, distinct, in the order of `sinks`: interned first when the index
    /// is built, so that sink `i` has the key id `i`.
    pub(crate) sink_keys: Box<[K]>,
    pub(crate) sinks: Box<[Sink<V>]>,
    /// Every transaction below this one has committed and its sink writes are applied.
    /// Padded: the committer moves it on every commit, and the fields beside it are read
    /// on every access to the memory by every worker.
    pub(crate) settled_below: CachePadded<AtomicUsize>,
}

impl<K, V> std::fmt::Debug for MVMemory<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MVMemory")
            .field("txns", &self.num_txns)
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
        Self::with_sink_keys(num_txns, Box::default())
    }

    /// An empty memory whose sinks have `sink_keys` (distinct), in their order.
    pub(crate) fn with_sink_keys(num_txns: usize, sink_keys: Box<[K]>) -> Self {
        let sinks = (0..sink_keys.len())
            .map(|i| Sink::new(KeyId::from_position(i)))
            .collect();
        Self {
            index: OnFirstUse::new(|| build_index(num_txns, &sink_keys)),
            txns: OnFirstUse::new(|| build_sets(num_txns)),
            num_txns,
            sinks,
            sink_keys,
            settled_below: CachePadded::new(AtomicUsize::new(0)),
        }
    }

    /// The block size this memory was made for.
    pub fn num_txns(&self) -> usize {
        self.num_txns
    }

    /// Builds now what is otherwise built on first use (the key index, the transactions'
    /// sets): for a block that several workers will share, whose first speculative
    /// execution would otherwise build them while the others wait.
    pub fn build_now(&self) {
        self.index();
        self.all_sets();
    }

    /// Every transaction's sets, built now if nothing used them yet.
    fn all_sets(&self) -> &[Mutex<TxnSets<V>>] {
        self.txns.force(|| build_sets(self.num_txns))
    }

    /// The key index, built now if nothing used it yet.
    pub(crate) fn index(&self) -> &KeyIndex<K, Entry<V>> {
        self.index
            .force(|| build_index(self.num_txns, &self.sink_keys))
    }

    pub(crate) fn sets(&self, txn_idx: TxnIndex) -> &Mutex<TxnSets<V>> {
        self.all_sets()
            .get(txn_idx as usize)
            .unwrap_or_else(|| panic!("invariant: transaction {txn_idx} is outside the block"))
    }

    /// The id of a key the transaction is writing: found among the first reads of its
    /// read set when it read the key first (the usual case), interned otherwise.
    fn write_id(&self, key: &K, reads: &[ReadDescriptor]) -> KeyId {
        reads
            .iter()
            .take(WRITE_MATCH_SCAN)
            .map(|read| read.key)
            .find(|id| self.index().with_slot(*id, |slot| slot.key == *key))
            .unwrap_or_else(|| self.index().intern(key))
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
            let sink_write = self.index().with_slot(id, |slot| {
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
            self.index().with_slot(*id, |slot| {
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
        if blockstm_sync::planted!("skip_estimates") {
            return;
        }
        let sets = lock(self.sets(txn_idx));
        for id in sets.written.iter() {
            self.index().with_slot(*id, |slot| {
                if let Some(entry) = lock(&slot.versions).get_mut(txn_idx) {
                    *entry = Entry::Estimate;
                }
            });
        }
    }
}
