//! The key index: from a key to its versions, without a global lock.
//!
//! Normally a `DashMap` (sharded read-write locks): threads touching keys in different
//! shards never wait on each other, and a read holds its shard's read lock only while it
//! walks one small map. Under `cfg(loom)` a single loom mutex stands in, because loom can
//! only see the locks it provides; the models check the logic above the index, not
//! DashMap itself.

use std::hash::Hash;

use smallvec::SmallVec;

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
}

impl<E> Default for Versions<E> {
    fn default() -> Self {
        Self {
            entries: SmallVec::new(),
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

    /// The entry of the highest writer.
    pub(crate) fn last(&self) -> Option<(TxnIndex, &E)> {
        self.entries.last().map(|(writer, entry)| (*writer, entry))
    }

    /// Sets the entry of `txn_idx`.
    pub(crate) fn insert(&mut self, txn_idx: TxnIndex, entry: E) {
        match self.position(txn_idx) {
            Ok(at) => self.entries[at].1 = entry,
            Err(at) => self.entries.insert(at, (txn_idx, entry)),
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

/// DashMap shards (a power of two).
#[cfg(not(loom))]
const SHARDS: usize = 64;

#[cfg(not(loom))]
pub(crate) struct KeyIndex<K, E> {
    map: dashmap::DashMap<K, Versions<E>, rustc_hash::FxBuildHasher>,
}

#[cfg(not(loom))]
impl<K: Eq + Hash + Clone, E> KeyIndex<K, E> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            // Many more shards than threads: two workers rarely touch the same shard's
            // lock word at once, so lock cache lines seldom move between cores.
            map: dashmap::DashMap::with_capacity_and_hasher_and_shard_amount(
                capacity,
                rustc_hash::FxBuildHasher,
                SHARDS,
            ),
        }
    }

    /// Runs `f` on the versions of `key`, if the key was ever written.
    pub(crate) fn with<R>(&self, key: &K, f: impl FnOnce(&Versions<E>) -> R) -> Option<R> {
        self.map.get(key).map(|versions| f(&versions))
    }

    /// Runs `f` on the versions of `key`, creating an empty set when missing.
    pub(crate) fn with_mut_or_default<R>(
        &self,
        key: &K,
        f: impl FnOnce(&mut Versions<E>) -> R,
    ) -> R {
        // One lookup, hit or miss: the key is a small value, and cloning it is cheaper
        // than hashing and probing twice.
        f(&mut self.map.entry(key.clone()).or_default())
    }

    /// Runs `f` on the versions of `key`, if the key was ever written.
    pub(crate) fn with_mut<R>(&self, key: &K, f: impl FnOnce(&mut Versions<E>) -> R) -> Option<R> {
        self.map.get_mut(key).map(|mut versions| f(&mut versions))
    }

    /// Visits every key and its versions; for the single-threaded end of a block.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&K, &Versions<E>)) {
        for entry in self.map.iter() {
            f(entry.key(), entry.value());
        }
    }
}

#[cfg(loom)]
pub(crate) struct KeyIndex<K, E> {
    map: crate::sync::Mutex<std::collections::HashMap<K, Versions<E>>>,
}

#[cfg(loom)]
impl<K: Eq + Hash + Clone, E> KeyIndex<K, E> {
    pub(crate) fn with_capacity(_capacity: usize) -> Self {
        Self {
            map: crate::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    pub(crate) fn with<R>(&self, key: &K, f: impl FnOnce(&Versions<E>) -> R) -> Option<R> {
        crate::sync::lock(&self.map).get(key).map(f)
    }

    pub(crate) fn with_mut_or_default<R>(
        &self,
        key: &K,
        f: impl FnOnce(&mut Versions<E>) -> R,
    ) -> R {
        f(crate::sync::lock(&self.map).entry(key.clone()).or_default())
    }

    pub(crate) fn with_mut<R>(&self, key: &K, f: impl FnOnce(&mut Versions<E>) -> R) -> Option<R> {
        crate::sync::lock(&self.map).get_mut(key).map(f)
    }

    pub(crate) fn for_each(&self, mut f: impl FnMut(&K, &Versions<E>)) {
        for (key, versions) in crate::sync::lock(&self.map).iter() {
            f(key, versions);
        }
    }
}
