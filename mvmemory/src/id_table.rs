//! A lock-free table from a key's hash to its id: how the key index finds the id of a key
//! it has seen, and how two workers that see a new key at once agree on one id for it,
//! without taking a lock.
//!
//! It replaces a sharded concurrent map (a `DashMap`) and the direct-mapped cache that
//! sat in front of it. That map took a shard lock for every insertion and every lookup
//! that missed the cache, and the lock's cache line moved to whichever core asked last:
//! at 2 threads, the lock's compare-and-swap was a fifth of all the time spent interning
//! keys (`perf annotate`, p2p blocks of 10,000 transfers).
//!
//! The table is open addressing with linear probing over a fixed array of words. A word
//! is either empty (0) or a key's fingerprint (32 bits of its hash) beside its id plus
//! one. A word is written once, from empty, by compare-and-swap, and never changes or
//! empties again. Two consequences carry the whole design:
//! - a probe that meets an empty word knows the key is not in the table (at that
//!   moment: a later insertion is simply ordered after the probe);
//! - two threads inserting the same key walk the same words in the same order, and both
//!   stop at the first word either of them finds empty: one's swap wins, the other's
//!   fails and finds the winner's id there. Neither can pass that word without seeing it
//!   taken, so they cannot place the key in two words.
//!
//! A key whose whole probe window ([`PROBE_WINDOW`] words) is taken by other keys does
//! not fit. The caller keeps it elsewhere (the key index, in an overflow map); since
//! words never empty again, such a key never fits later either, so no key is ever in
//! both places and a lookup that finds the window full knows to look there.
//!
//! The table stores no keys: the caller's `is_key(id)` says whether an id whose
//! fingerprint matches is the key's. The caller also allocates an id (and stores the key
//! where `is_key` will find it) before trying to place it; when two threads race to
//! insert one key, the loser's id is left unused, so the caller must tolerate ids that
//! nothing refers to.
//!
//! # Memory ordering
//!
//! A word is published by a Release compare-and-swap and read by Acquire loads (a failed
//! swap reads with Acquire too). A thread that reads an id therefore also sees everything
//! its inserter did before the swap, the key stored where `is_key` looks included; that
//! is the only ordering the table provides, and the only one its users rely on. The loom
//! model `id_table_one_id_per_key` checks it, with the planted bug
//! `id_table_blind_store` (a load, then a plain store) as the mistake it must catch.

use crate::sync::{AtomicU64, Ordering};

/// How many consecutive words a key may occupy: its home word and the ones after it.
/// Sixteen words are two cache lines, and at the load the index aims for (at most half
/// the words taken) a probe seldom goes past the first.
pub const PROBE_WINDOW: usize = 16;

/// The most words a table has (16 MiB): a memory made for an absurd block size must not
/// take absurd memory up front; keys beyond what fits go to the caller's overflow.
const MAX_WORDS: usize = 1 << 21;

/// Where a lookup found a key.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lookup {
    /// The key's id.
    Found(u32),
    /// The key is not in the table, and was not placed elsewhere: its window has room.
    Absent,
    /// The key's window is full of other keys: if the key exists, it was placed
    /// elsewhere.
    WindowFull,
}

/// A fixed-size lock-free table from key hashes to `u32` ids (see the module docs).
///
/// The caller keeps the keys, here in a vector indexed by id:
///
/// ```
/// use std::cell::RefCell;
/// use mvmemory::id_table::{IdTable, Lookup};
///
/// let table = IdTable::with_capacity(16);
/// let keys: RefCell<Vec<&str>> = RefCell::new(Vec::new());
/// let keys = &keys;
/// // Any hash will do; keys that share one only cost a comparison more.
/// let hash = |key: &str| key.len() as u64;
/// let is = |key: &'static str| move |id: u32| keys.borrow()[id as usize] == key;
/// let intern = |key: &'static str| {
///     table.intern(hash(key), is(key), || {
///         keys.borrow_mut().push(key);
///         (keys.borrow().len() - 1) as u32
///     })
/// };
///
/// let alice = intern("alice").expect("room in the window");
/// assert_eq!(intern("alice"), Ok(alice));
/// let bobby = intern("bobby").expect("room in the window"); // same hash, another key
/// assert_ne!(alice, bobby);
/// assert_eq!(table.find(hash("bobby"), is("bobby")), Lookup::Found(bobby));
/// assert_eq!(table.find(hash("carol"), is("carol")), Lookup::Absent);
/// ```
pub struct IdTable {
    /// A power of two in length.
    words: Box<[AtomicU64]>,
}

impl std::fmt::Debug for IdTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdTable")
            .field("words", &self.words.len())
            .finish()
    }
}

impl IdTable {
    /// A table with room for about `keys` keys at half load (any `keys` is accepted: the
    /// size is clamped between one window and 2^21 words).
    pub fn with_capacity(keys: usize) -> Self {
        let words = keys
            .saturating_mul(2)
            .clamp(PROBE_WINDOW, MAX_WORDS)
            .next_power_of_two();
        Self {
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// How many words the table has.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether the table has no words (never: a table has at least one window).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The words a key of `hash` may occupy, in probing order.
    fn window(&self, hash: u64) -> impl Iterator<Item = &AtomicU64> {
        let mask = self.words.len() - 1;
        // The high half of an Fx hash is its well-mixed half; the low half is the
        // fingerprint (see `pack`).
        let home = (hash >> 32) as usize;
        (0..PROBE_WINDOW).map(move |step| &self.words[home.wrapping_add(step) & mask])
    }

    /// The id of the key of `hash` for which `is_key` holds.
    pub fn find(&self, hash: u64, mut is_key: impl FnMut(u32) -> bool) -> Lookup {
        let fingerprint = fingerprint(hash);
        for word in self.window(hash) {
            match unpack(word.load(Ordering::Acquire)) {
                None => return Lookup::Absent,
                Some((seen, id)) if seen == fingerprint && is_key(id) => return Lookup::Found(id),
                Some(_) => {}
            }
        }
        Lookup::WindowFull
    }

    /// The id of the key of `hash` for which `is_key` holds, placing it with a new id
    /// from `new_id` if no thread has yet. `new_id` is called at most once, and only when
    /// the key's window has an empty word; its id may go unused, if another thread
    /// placed the same key first.
    ///
    /// # Errors
    /// When the key's window is full of other keys (or the new id is `u32::MAX`, which
    /// cannot be packed): the key does not fit, and the error carries the id `new_id`
    /// gave, if it was called, for the caller to place the key elsewhere.
    pub fn intern(
        &self,
        hash: u64,
        mut is_key: impl FnMut(u32) -> bool,
        new_id: impl FnOnce() -> u32,
    ) -> Result<u32, Option<u32>> {
        let fingerprint = fingerprint(hash);
        let mut new_id = Some(new_id);
        let mut allocated: Option<u32> = None;
        for word in self.window(hash) {
            let mut current = word.load(Ordering::Acquire);
            if current == 0 {
                let id = match (allocated, new_id.take()) {
                    (Some(id), _) => id,
                    (None, Some(new_id)) => *allocated.insert(new_id()),
                    (None, None) => {
                        unreachable!("invariant: an id is allocated before new_id is taken")
                    }
                };
                let Some(packed) = pack(fingerprint, id) else {
                    return Err(Some(id));
                };
                match publish(word, packed) {
                    Ok(()) => return Ok(id),
                    // Another thread took the word meanwhile: perhaps with this key.
                    Err(winner) => current = winner,
                }
            }
            if let Some((seen, id)) = unpack(current) {
                if seen == fingerprint && is_key(id) {
                    return Ok(id);
                }
            }
        }
        Err(allocated)
    }
}

/// Puts `packed` into the empty `word`, or says what another thread put there first.
fn publish(word: &AtomicU64, packed: u64) -> Result<(), u64> {
    // Planted bug (loom models): check, then store, so that two threads that both saw
    // the word empty both "win" it, each with its own id for the same key.
    if blockstm_sync::planted!("id_table_blind_store") {
        word.store(packed, Ordering::Release);
        return Ok(());
    }
    // Release publishes what the inserter did before (the key stored for `is_key`);
    // Acquire on failure lets the loser read the winner's key in the same way.
    word.compare_exchange(0, packed, Ordering::Release, Ordering::Acquire)
        .map(|_| ())
}

/// The 32 bits of a hash that a word keeps to tell keys apart without `is_key`.
fn fingerprint(hash: u64) -> u32 {
    hash as u32
}

/// A taken word: the fingerprint, then the id plus one (so that no taken word is 0).
fn pack(fingerprint: u32, id: u32) -> Option<u64> {
    let tag = id.checked_add(1)?;
    Some((u64::from(fingerprint) << 32) | u64::from(tag))
}

/// A word's fingerprint and id, or `None` for an empty word.
fn unpack(word: u64) -> Option<(u32, u32)> {
    let tag = word as u32;
    (word != 0).then(|| ((word >> 32) as u32, tag.wrapping_sub(1)))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use std::sync::Mutex;

    /// Keys and their ids, for `is_key` and `new_id`: what the key index keeps in its
    /// slots.
    #[derive(Default)]
    struct Keys(Mutex<Vec<u64>>);

    impl Keys {
        fn is(&self, id: u32, key: u64) -> bool {
            self.0.lock().expect("keys lock")[id as usize] == key
        }

        fn push(&self, key: u64) -> u32 {
            let mut keys = self.0.lock().expect("keys lock");
            keys.push(key);
            u32::try_from(keys.len() - 1).expect("few keys in a test")
        }

        fn intern(&self, table: &IdTable, hash: u64, key: u64) -> Result<u32, Option<u32>> {
            table.intern(hash, |id| self.is(id, key), || self.push(key))
        }
    }

    #[test]
    fn a_key_keeps_its_id_and_absent_keys_are_absent() {
        let table = IdTable::with_capacity(8);
        let keys = Keys::default();
        let a = keys.intern(&table, 7, 70).expect("room");
        let b = keys.intern(&table, 9 << 32, 90).expect("room");
        assert_ne!(a, b);
        assert_eq!(keys.intern(&table, 7, 70), Ok(a));
        assert_eq!(table.find(7, |id| keys.is(id, 70)), Lookup::Found(a));
        assert_eq!(table.find(9 << 32, |id| keys.is(id, 90)), Lookup::Found(b));
        assert_eq!(table.find(11, |id| keys.is(id, 110)), Lookup::Absent);
        // Same hash, another key: the fingerprint matches, `is_key` tells them apart.
        let c = keys.intern(&table, 7, 71).expect("room");
        assert_ne!(c, a);
        assert_eq!(table.find(7, |id| keys.is(id, 71)), Lookup::Found(c));
    }

    /// Every key hashes to the same window: the first `PROBE_WINDOW` fit, the rest are
    /// refused without an id being allocated for them (the window had no empty word),
    /// and lookups of refused keys say so.
    #[test]
    fn a_full_window_refuses_new_keys_and_says_so() {
        let table = IdTable::with_capacity(0);
        assert_eq!(table.len(), PROBE_WINDOW);
        let keys = Keys::default();
        let placed: Vec<u32> = (0..PROBE_WINDOW as u64)
            .map(|key| keys.intern(&table, 5, key).expect("room in the window"))
            .collect();
        assert_eq!(keys.intern(&table, 5, 1_000), Err(None));
        assert_eq!(keys.0.lock().expect("keys lock").len(), PROBE_WINDOW);
        assert_eq!(table.find(5, |id| keys.is(id, 1_000)), Lookup::WindowFull);
        // Keys already in still resolve, whatever their position in the window.
        for (key, id) in (0..).zip(&placed) {
            assert_eq!(table.find(5, |id| keys.is(id, key)), Lookup::Found(*id));
            assert_eq!(keys.intern(&table, 5, key), Ok(*id));
        }
    }

    #[test]
    fn an_id_that_cannot_be_packed_is_refused() {
        let table = IdTable::with_capacity(4);
        assert_eq!(table.intern(3, |_| false, || u32::MAX), Err(Some(u32::MAX)));
        assert_eq!(table.find(3, |_| true), Lookup::Absent);
    }

    #[test]
    fn any_capacity_gives_a_bounded_table() {
        for keys in [0, 1, 17, 1 << 30, usize::MAX] {
            let table = IdTable::with_capacity(keys);
            assert!(table.len().is_power_of_two());
            assert!((PROBE_WINDOW..=MAX_WORDS).contains(&table.len()));
            assert!(!table.is_empty());
        }
    }

    /// What one `intern` call gave for a key.
    type Interned = Result<u32, Option<u32>>;

    /// Threads inserting overlapping keys at once, through windows that collide, agree
    /// on one id per key (losers' ids are left unused), whichever thread got there first,
    /// and no key is both placed and refused (a refused key's lookup finds its window full,
    /// a placed key's finds its id).
    #[test]
    fn racing_threads_agree_on_one_id_per_key() {
        for round in 0..20u64 {
            let table = IdTable::with_capacity(64);
            let next = AtomicU32::new(0);
            let owners: Mutex<Vec<(u32, u64)>> = Mutex::default();
            let is_key = |id: u32, key: u64| {
                owners
                    .lock()
                    .expect("owners lock")
                    .iter()
                    .any(|&(owner, owned)| owner == id && owned == key)
            };
            let results: Vec<Vec<(u64, Interned)>> = std::thread::scope(|scope| {
                let workers: Vec<_> = (0..4u64)
                    .map(|thread| {
                        let (table, next, owners) = (&table, &next, &owners);
                        scope.spawn(move || {
                            (0..200u64)
                                .map(|i| {
                                    let key = (i * 7 + thread + round) % 90;
                                    // Few distinct homes: windows overlap and some fill.
                                    let hash = (key % 5) << 32 | key;
                                    let result = table.intern(
                                        hash,
                                        |id| is_key(id, key),
                                        || {
                                            let id = next.fetch_add(1, Ordering::Relaxed);
                                            owners.lock().expect("owners lock").push((id, key));
                                            id
                                        },
                                    );
                                    (key, result)
                                })
                                .collect()
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|worker| worker.join().expect("interning thread"))
                    .collect()
            });
            let mut ids = std::collections::HashMap::new();
            for (key, result) in results.into_iter().flatten() {
                let hash = (key % 5) << 32 | key;
                match result {
                    Ok(id) => {
                        assert_eq!(*ids.entry(key).or_insert(id), id, "key {key}");
                        assert_eq!(table.find(hash, |id| is_key(id, key)), Lookup::Found(id));
                    }
                    Err(_) => {
                        assert_eq!(table.find(hash, |id| is_key(id, key)), Lookup::WindowFull)
                    }
                }
            }
        }
    }
}
