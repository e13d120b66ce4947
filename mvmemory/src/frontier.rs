//! Writes that are final when they arrive: a frontier run's.
//!
//! A transaction executed at the commit frontier (every lower one committed) read only
//! final values, so its writes are final too: they need no read set beside them, no
//! ESTIMATE on abort and no per-transaction write set, only a place where higher
//! transactions and the final snapshot find them. A run of such transactions keeps its
//! writes in an overlay of its own while it executes, and then [`MVMemory::publish`]es
//! each key's last value once, under its last writer, so a key written by many
//! transactions of the run costs one entry, not one per write.

use std::hash::Hash;

use crate::sync::{lock, Ordering};
use crate::version::Entry;
use crate::{Counter, MVMemory, TxnIndex, Version};

impl<K, V> MVMemory<K, V>
where
    K: Eq + Hash + Clone,
    V: Counter,
{
    /// Forgets what an earlier incarnation of `txn_idx` recorded (its entries, read set,
    /// deltas and sink writes), before the transaction runs again at the frontier and
    /// publishes final writes instead. Readers that relied on those entries are
    /// validated again anyway: the run that publishes takes a new write epoch.
    pub fn discard(&self, txn_idx: TxnIndex) {
        let mut sets = lock(self.sets(txn_idx));
        for id in sets.written.drain(..) {
            self.index().with_slot(id, |slot| {
                lock(&slot.versions).remove(txn_idx);
            });
        }
        sets.deltas.clear();
        sets.reads.clear();
        sets.sink_writes.clear();
    }

    /// Records final writes: for each key, its value after the run and the version that
    /// wrote it last. A sink takes the value at once (its writer is final, and the run
    /// settles in block order through [`MVMemory::settle_through`]); any other key gets
    /// a value entry, which is never turned into an ESTIMATE.
    ///
    /// Keys must be distinct, and every writer must be final (committed, or about to be
    /// with nothing below it left to commit).
    pub fn publish(&self, writes: impl IntoIterator<Item = (K, Version, V)>) {
        for (key, version, value) in writes {
            let id = self.index().intern(&key);
            let to_sink = self.index().with_slot(id, |slot| {
                let mut versions = lock(&slot.versions);
                match versions.sink {
                    Some(sink) => Some((sink, value)),
                    None => {
                        let incarnation = version.incarnation;
                        versions.insert(version.txn_idx, Entry::Value { incarnation, value });
                        None
                    }
                }
            });
            if let Some((sink, value)) = to_sink {
                let mut state = lock(&self.sink(sink).state);
                state.value = Some(value);
                state.last_writer = Some(version.txn_idx);
            }
        }
    }

    /// Moves the settled frontier to `end` after a frontier run below it committed (its
    /// sink writes were applied by [`MVMemory::publish`]); the run's counterpart of
    /// [`MVMemory::settle`].
    pub fn settle_through(&self, end: TxnIndex) {
        // SeqCst pairs with the load in `read_sink`, as in `settle`.
        self.settled_below.store(end as usize, Ordering::SeqCst);
    }
}
