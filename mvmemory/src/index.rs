//! The key index: from a key to its versions, without a global lock.
//!
//! Normally a `DashMap` (sharded read-write locks): threads touching keys in different
//! shards never wait on each other, and a read holds its shard's read lock only while it
//! walks one small map. Under `cfg(loom)` a single loom mutex stands in, because loom can
//! only see the locks it provides; the models check the logic above the index, not
//! DashMap itself.

use std::collections::BTreeMap;
use std::hash::Hash;

use crate::TxnIndex;

/// The versions of one key, by writing transaction.
pub(crate) type Versions<E> = BTreeMap<TxnIndex, E>;

#[cfg(not(loom))]
pub(crate) struct KeyIndex<K, E> {
    map: dashmap::DashMap<K, Versions<E>, rustc_hash::FxBuildHasher>,
}

#[cfg(not(loom))]
impl<K: Eq + Hash + Clone, E> KeyIndex<K, E> {
    pub(crate) fn new() -> Self {
        Self {
            map: dashmap::DashMap::with_hasher(rustc_hash::FxBuildHasher),
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
        // `get_mut` first: the common re-execution case finds the key and needs no clone.
        if let Some(mut versions) = self.map.get_mut(key) {
            return f(&mut versions);
        }
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
    pub(crate) fn new() -> Self {
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
