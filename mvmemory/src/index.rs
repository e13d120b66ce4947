//! The key index: interns each key of a block once, so that everything after the first
//! read of a key works on a small integer id instead of hashing and comparing the key.
//!
//! A block's transactions touch each key several times: the first read, the write when
//! the incarnation is recorded, every validation of every reader, the ESTIMATE of an
//! aborted writer, and the final snapshot. With the versions kept in a hash map keyed by
//! the key, each of those is a hash, a probe and a key comparison under a shard lock;
//! here only the first read of a key in an incarnation looks the key up, and it gets back
//! a [`KeyId`] that the read set and write set keep. The versions themselves live in an
//! append-only vector of slots (`boxcar`: lock-free push and get, stable addresses), each
//! slot with its own lock, so two transactions contend only when they touch the same key.
//!
//! Normally ids are found in a lock-free table of key hashes (see `id_table`): finding a
//! key, even a new one, takes no lock, and two threads that meet a new key at once agree
//! on its id with one compare-and-swap. The few keys that do not fit there (their probe
//! window full of other keys) go to an overflow `DashMap`. Under `cfg(loom)` a single
//! loom mutex stands in for both the map and the slot vector, because loom can only see
//! the locks it provides; the models check the logic above the index, and the id table's
//! protocol on its own (`id_table_one_id_per_key`), not DashMap or boxcar.

use std::hash::Hash;

use smallvec::SmallVec;

use crate::sync::Mutex;
use crate::TxnIndex;

/// The versions of one key, sorted by writing transaction.
///
/// A sorted small vector rather than a `BTreeMap`: most keys of a block have one or two
/// writers, which then live inline in the index with no allocation of their own, and
/// writers arrive in roughly increasing order, so even a hot key's insertions land at or
/// near the end of the vector.
#[derive(Debug)]
pub(crate) struct Versions<E> {
    entries: SmallVec<[(TxnIndex, E); 2]>,
    /// The key's value beneath the block, as a counter, once a delta chain needed it
    /// (state beneath the block never changes during it, so it is cached for good).
    pub(crate) base: Option<u64>,
    /// For a key settled at commit, its position among the memory's sinks (see the
    /// `sink` module); such a key never holds entries.
    pub(crate) sink: Option<u32>,
}

/// The capacity a version list takes when it first outgrows its inline entries.
const SPILL_CAPACITY: usize = 16;

impl<E> Default for Versions<E> {
    fn default() -> Self {
        Self {
            entries: SmallVec::new(),
            base: None,
            sink: None,
        }
    }
}

impl<E> Versions<E> {
    /// Where `txn_idx` is, or would be inserted.
    fn position(&self, txn_idx: TxnIndex) -> Result<usize, usize> {
        // Fast path: the newest writer is usually the one asked about or inserted.
        match self.entries.last() {
            Some((last, _)) if *last < txn_idx => Err(self.entries.len()),
            Some((last, _)) if *last == txn_idx => Ok(self.entries.len() - 1),
            _ => self
                .entries
                .binary_search_by_key(&txn_idx, |(writer, _)| *writer),
        }
    }

    /// The highest entry written by a transaction below `txn_idx`.
    pub(crate) fn below(&self, txn_idx: TxnIndex) -> Option<(TxnIndex, &E)> {
        let end = match self.position(txn_idx) {
            Ok(at) | Err(at) => at,
        };
        end.checked_sub(1)
            .and_then(|at| self.entries.get(at))
            .map(|(writer, entry)| (*writer, entry))
    }

    /// The entries written by transactions below `txn_idx`, highest first.
    pub(crate) fn iter_below(
        &self,
        txn_idx: TxnIndex,
    ) -> impl Iterator<Item = (TxnIndex, &E)> + '_ {
        let end = match self.position(txn_idx) {
            Ok(at) | Err(at) => at,
        };
        self.entries[..end]
            .iter()
            .rev()
            .map(|(writer, entry)| (*writer, entry))
    }

    /// The entry of the highest writer.
    pub(crate) fn last(&self) -> Option<(TxnIndex, &E)> {
        self.entries.last().map(|(writer, entry)| (*writer, entry))
    }

    /// Sets the entry of `txn_idx`.
    pub(crate) fn insert(&mut self, txn_idx: TxnIndex, entry: E) {
        match self.position(txn_idx) {
            Ok(at) => self.entries[at].1 = entry,
            Err(at) => {
                if !self.entries.spilled() && self.entries.len() == self.entries.inline_size() {
                    // A key with a third writer usually has many more (a sender's nonce and
                    // balance, once per transaction it sends): one allocation for the next
                    // several, rather than growing 2 → 4 → 8 → 16 one copy at a time.
                    self.entries.reserve(SPILL_CAPACITY - self.entries.len());
                }
                self.entries.insert(at, (txn_idx, entry));
            }
        }
    }

    /// The entry of `txn_idx`, if it wrote this key.
    pub(crate) fn get_mut(&mut self, txn_idx: TxnIndex) -> Option<&mut E> {
        match self.position(txn_idx) {
            Ok(at) => Some(&mut self.entries[at].1),
            Err(_) => None,
        }
    }

    /// Removes the entry of `txn_idx`, if any.
    pub(crate) fn remove(&mut self, txn_idx: TxnIndex) {
        if let Ok(at) = self.position(txn_idx) {
            self.entries.remove(at);
        }
    }
}

/// A key's id in one block's memory: where its slot is, as a stripe of the slot vector
/// (the top four bits) and a position in that stripe.
///
/// Ids are handed out by [`crate::MVMemory::read_recorded`] and only mean something to
/// the memory that gave them out.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct KeyId(u32);

/// How many bits of a [`KeyId`] name its stripe.
const STRIPE_BITS: u32 = 4;

/// The bits of a [`KeyId`] below its stripe: the position in the stripe.
const POSITION_BITS: u32 = u32::BITS - STRIPE_BITS;

impl KeyId {
    /// The id of the slot at `position` of the first stripe (where the keys interned
    /// before the workers start, the sinks', take their ids in order).
    pub(crate) fn from_position(position: usize) -> Self {
        Self::in_stripe(0, position)
    }

    /// The id of the slot at `position` of `stripe`.
    fn in_stripe(stripe: usize, position: usize) -> Self {
        // A block has at most 65,535 transactions of a few hundred keys each, far below
        // 2^28 distinct keys (at some 200 bytes a slot, 2^28 would take 50 GiB).
        let position = u32::try_from(position)
            .ok()
            .filter(|position| position >> POSITION_BITS == 0)
            .expect("invariant: fewer than 2^28 keys in a stripe");
        let stripe = u32::try_from(stripe)
            .ok()
            .filter(|stripe| *stripe < 1 << STRIPE_BITS)
            .expect("invariant: a stripe number below the stripe count");
        Self(stripe << POSITION_BITS | position)
    }

    #[cfg_attr(loom, allow(dead_code))]
    fn stripe(self) -> usize {
        (self.0 >> POSITION_BITS) as usize
    }

    fn position(self) -> usize {
        (self.0 & ((1 << POSITION_BITS) - 1)) as usize
    }
}

/// One interned key and its versions.
pub(crate) struct Slot<K, E> {
    pub(crate) key: K,
    pub(crate) versions: Mutex<Versions<E>>,
}

impl<K, E> Slot<K, E> {
    fn new(key: K) -> Self {
        Self {
            key,
            versions: Mutex::new(Versions::default()),
        }
    }
}

#[cfg(not(loom))]
pub(crate) struct KeyIndex<K, E> {
    /// Key hash to id, lock-free (see `id_table`): where nearly every key is found.
    table: crate::id_table::IdTable,
    /// The keys that did not fit in `table` (their probe window was full of other keys):
    /// none in a block whose keys are about as many as the index was made for.
    overflow: dashmap::DashMap<K, KeyId, rustc_hash::FxBuildHasher>,
    /// The slots, in stripes: each thread pushes to its own stripe (see `own_stripe`),
    /// so that the push's atomic counters stay in that thread's core.
    slots: Box<[boxcar::Vec<Slot<K, E>>]>,
}

/// How many stripes the slot vector has.
#[cfg(not(loom))]
const STRIPES: usize = 1 << STRIPE_BITS;

/// The stripe that the calling thread pushes new slots to.
///
/// A push to a `boxcar` vector takes two atomic read-modify-writes on counters shared by
/// every pusher; with one vector, every new key moved their cache line to the core that
/// met it, and at 2 threads the push was 8% of all the time (`perf`, p2p blocks of
/// 10,000 transfers, the id table already lock-free). Threads are given stripes in
/// turn, so a block's workers have stripes of their own unless there are more than
/// `STRIPES` of them, or a block's fresh helper thread happens to wrap around to the
/// caller's stripe; either only brings back the sharing, never a wrong id.
#[cfg(not(loom))]
fn own_stripe() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    STRIPE.with(|stripe| *stripe)
}

#[cfg(not(loom))]
impl<K: Eq + Hash + Clone, E> KeyIndex<K, E> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            table: crate::id_table::IdTable::with_capacity(capacity),
            overflow: dashmap::DashMap::with_hasher(rustc_hash::FxBuildHasher),
            // Not presized: `boxcar` zeroes every bucket it allocates, and buckets made
            // up front were zeroed on one thread before the workers started (6 M
            // instructions per block of 10,000, measured with callgrind), for keys a
            // block may never touch. Grown by the workers that push, it zeroes only
            // the buckets the block's keys fill.
            slots: (0..STRIPES).map(|_| boxcar::Vec::new()).collect(),
        }
    }

    fn hash(key: &K) -> u64 {
        use std::hash::BuildHasher;
        rustc_hash::FxBuildHasher.hash_one(key)
    }

    /// Whether `id` is the slot of `key` (an id from the table, whose slot is in).
    fn is_slot_of(&self, id: u32, key: &K) -> bool {
        self.with_slot(KeyId(id), |slot| slot.key == *key)
    }

    /// A new slot for `key` in `stripe`; its id means nothing until the table or the
    /// overflow map hands it out (a slot that loses a race to intern its key stays empty
    /// for good).
    fn push_slot_to(&self, stripe: usize, key: &K) -> KeyId {
        KeyId::in_stripe(stripe, self.slots[stripe].push(Slot::new(key.clone())))
    }

    /// The id of `key`, if some transaction has read or written it.
    pub(crate) fn find(&self, key: &K) -> Option<KeyId> {
        use crate::id_table::Lookup;
        match self
            .table
            .find(Self::hash(key), |id| self.is_slot_of(id, key))
        {
            Lookup::Found(id) => Some(KeyId(id)),
            Lookup::Absent => None,
            Lookup::WindowFull => self.overflow.get(key).map(|id| *id),
        }
    }

    /// The id of `key`, giving it a slot on first sight.
    pub(crate) fn intern(&self, key: &K) -> KeyId {
        self.intern_pushing_to(own_stripe(), key)
    }

    /// [`KeyIndex::intern`], a new slot going to the first stripe: for the keys interned
    /// before the workers start (the sinks'), which thereby take the first ids in order.
    pub(crate) fn intern_first(&self, key: &K) -> KeyId {
        self.intern_pushing_to(0, key)
    }

    fn intern_pushing_to(&self, stripe: usize, key: &K) -> KeyId {
        let push_slot = || self.push_slot_to(stripe, key);
        let placed = self.table.intern(
            Self::hash(key),
            |id| self.is_slot_of(id, key),
            // Pushed before it is published in the table, so whoever reads the id
            // finds the slot (the table's Release/Acquire orders the push before).
            || push_slot().0,
        );
        match placed {
            Ok(id) => KeyId(id),
            // The key's window is full of other keys, now and for good: the key lives
            // in the overflow map, under its shard lock, so that threads agree on it.
            Err(pushed) => *self
                .overflow
                .entry(key.clone())
                .or_insert_with(|| pushed.map_or_else(push_slot, KeyId)),
        }
    }

    /// Runs `f` on the slot of `id`.
    pub(crate) fn with_slot<R>(&self, id: KeyId, f: impl FnOnce(&Slot<K, E>) -> R) -> R {
        f(self
            .slots
            .get(id.stripe())
            .and_then(|stripe| stripe.get(id.position()))
            .expect("invariant: key ids come from this index"))
    }

    /// Visits every slot (those that lost a race hold no versions); for the
    /// single-threaded end of a block.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Slot<K, E>)) {
        for (_, slot) in self.slots.iter().flat_map(|stripe| stripe.iter()) {
            f(slot);
        }
    }
}

#[cfg(loom)]
pub(crate) struct KeyIndex<K, E> {
    #[allow(clippy::type_complexity)]
    inner: Mutex<(
        std::collections::HashMap<K, KeyId>,
        Vec<std::sync::Arc<Slot<K, E>>>,
    )>,
}

#[cfg(loom)]
impl<K: Eq + Hash + Clone, E> KeyIndex<K, E> {
    pub(crate) fn with_capacity(_capacity: usize) -> Self {
        Self {
            inner: Mutex::new((std::collections::HashMap::new(), Vec::new())),
        }
    }

    pub(crate) fn find(&self, key: &K) -> Option<KeyId> {
        crate::sync::lock(&self.inner).0.get(key).copied()
    }

    pub(crate) fn intern(&self, key: &K) -> KeyId {
        let mut inner = crate::sync::lock(&self.inner);
        let (ids, slots) = &mut *inner;
        *ids.entry(key.clone()).or_insert_with(|| {
            slots.push(std::sync::Arc::new(Slot::new(key.clone())));
            KeyId::from_position(slots.len() - 1)
        })
    }

    pub(crate) fn intern_first(&self, key: &K) -> KeyId {
        self.intern(key)
    }

    pub(crate) fn with_slot<R>(&self, id: KeyId, f: impl FnOnce(&Slot<K, E>) -> R) -> R {
        let slot = std::sync::Arc::clone(
            crate::sync::lock(&self.inner)
                .1
                .get(id.position())
                .expect("invariant: key ids come from this index"),
        );
        f(&slot)
    }

    pub(crate) fn for_each(&self, mut f: impl FnMut(&Slot<K, E>)) {
        let slots = crate::sync::lock(&self.inner).1.clone();
        for slot in &slots {
            f(slot);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// A version list that outgrows its inline entries takes room for several more at
    /// once, and stays sorted by writer whatever the order of insertion.
    #[test]
    fn a_spilled_version_list_grows_once_and_stays_sorted() {
        let mut versions: Versions<u32> = Versions::default();
        for writer in [5, 1, 9] {
            versions.insert(writer, writer * 10);
        }
        assert!(versions.entries.capacity() >= SPILL_CAPACITY);
        for writer in [3, 7, 0, 8] {
            versions.insert(writer, writer * 10);
        }
        versions.insert(7, 71);
        let writers: Vec<TxnIndex> = versions.entries.iter().map(|(writer, _)| *writer).collect();
        assert_eq!(writers, [0, 1, 3, 5, 7, 8, 9]);
        assert_eq!(versions.below(8), Some((7, &71)));
    }

    /// An index made for one key: most keys share a probe window, which fills, and the
    /// keys past it go to the overflow map; each lookup still gives every key its own id.
    #[test]
    fn keys_past_a_full_window_keep_distinct_ids() {
        let index: KeyIndex<u32, ()> = KeyIndex::with_capacity(1);
        let ids: Vec<KeyId> = (0..100).map(|key| index.intern(&key)).collect();
        assert!(
            !index.overflow.is_empty(),
            "100 keys in a 16-word table overflow"
        );
        for round in 0..3 {
            for (key, id) in (0..100u32).zip(&ids).rev() {
                assert_eq!(index.intern(&key), *id, "key {key}, round {round}");
                assert_eq!(index.find(&key), Some(*id));
            }
        }
        assert_eq!(index.find(&1_000), None);
        let mut distinct = ids.clone();
        distinct.sort_by_key(|id| id.0);
        distinct.dedup();
        assert_eq!(distinct.len(), ids.len());
    }

    /// Threads interning overlapping keys through a small table (so through the
    /// overflow map too) agree on one id per key, and every id names its own key's slot.
    #[test]
    fn threads_interning_overlapping_keys_agree_on_ids() {
        let index: KeyIndex<u64, ()> = KeyIndex::with_capacity(8);
        let per_thread: Vec<Vec<KeyId>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4u64)
                .map(|thread| {
                    let index = &index;
                    scope.spawn(move || {
                        (0..2_000u64)
                            .map(|i| index.intern(&((i * 7 + thread) % 300)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| worker.join().expect("interning thread"))
                .collect()
        });
        for (thread, ids) in (0..4u64).zip(&per_thread) {
            for (i, id) in (0..2_000u64).zip(ids) {
                let key = (i * 7 + thread) % 300;
                assert_eq!(index.find(&key), Some(*id));
                assert!(index.with_slot(*id, |slot| slot.key == key));
            }
        }
    }
}
