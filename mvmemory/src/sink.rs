//! Sinks: counters settled at commit instead of versioned.
//!
//! Deltas (see the `delta` module) stop credits to one hot balance from conflicting, but
//! each credit is still an entry in that key's version list: every crediting transaction
//! takes the key's lock, whose cache line then moves to its core, inserts into a list that
//! grows by one entry per transaction, and the commit step takes the lock again to
//! resolve the entry. On a block where every transaction pays one exchange, that one lock
//! is touched twice per transaction by every worker: a serial point at any thread count.
//!
//! A balance that the block only credits (a deposit address, a merchant, the miner) needs
//! none of it, because nobody reads it while the block runs. A *sink* keeps no versions.
//! A transaction's writes there (deltas or full values) stay in its own write set; the
//! commit step applies them, in block order, to the sink's one running value; and a read
//! of a sink waits until every lower transaction has committed and then sees that value,
//! which is final, so the read needs no validation. Reading a sink therefore serialises
//! the reader behind the commit frontier: which keys are sinks is the caller's choice
//! (see `MVMemory::with_sinks`), and only keys that are seldom read should be.
//!
//! Exactness is the same as for deltas: the commit step checks that each total fits a
//! `u64` before anything is applied, and reports the first that does not, so that its
//! writer runs again on exact values.
//!
//! This module holds the sinks' data and every operation on [`MVMemory`] that touches
//! them: marking keys as sinks, reading them once settled, checking sink writes at
//! commit and applying them in block order.

use std::hash::Hash;

use crate::index::KeyId;
use crate::sync::{lock, Mutex, Ordering};
use crate::{Counter, DeltaCommit, MVMemory, PredicateRead, ReadResult, TxnIndex, Write};

/// A sink's base value beneath the block is not known yet (the caller provides it).
pub(crate) struct NeedsBase;

/// One sink: its key's id and its running value.
pub(crate) struct Sink<V> {
    pub(crate) id: KeyId,
    pub(crate) state: Mutex<SinkState<V>>,
}

impl<V> Sink<V> {
    pub(crate) fn new(id: KeyId) -> Self {
        Self {
            id,
            state: Mutex::new(SinkState {
                value: None,
                last_writer: None,
            }),
        }
    }
}

/// A sink's value after the committed transactions so far.
pub(crate) struct SinkState<V> {
    /// The value the last committed write left; `None` while no transaction of the block
    /// has written the key (its value is then the one beneath the block).
    pub(crate) value: Option<V>,
    /// The last committed transaction that wrote the key.
    pub(crate) last_writer: Option<TxnIndex>,
}

/// A write to a sink, kept in the writer's own write set until it commits.
pub(crate) struct SinkWrite<V> {
    /// The sink's position among the memory's sinks.
    pub(crate) sink: u32,
    /// What the transaction wrote.
    pub(crate) write: Write<V>,
    /// The commit frontier when the write was recorded. Statistics only (it feeds the
    /// count of saves, [`DeltaCommit::Resolved`], and decides nothing): a lower
    /// transaction that wrote the key at or above it committed later, so an exact
    /// read-modify-write here would have been invalidated. It rides in the write because
    /// a sink keeps no entry per writer to hold it.
    pub(crate) frontier_at_write: TxnIndex,
    /// The sink's value after this write, computed by the commit check and applied
    /// once the transaction has committed.
    pub(crate) settled: Option<V>,
}

impl<K, V> MVMemory<K, V>
where
    K: Eq + Hash + Clone,
    V: Counter,
{
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
        // Only the keys are noted here: the index that marks them is built on first use
        // (a block run as one frontier run never builds it).
        let mut seen = std::collections::HashSet::new();
        let keys: Box<[K]> = sinks
            .into_iter()
            .filter(|key| seen.insert(key.clone()))
            .collect();
        Self::with_sink_keys(num_txns, keys)
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
    pub(crate) fn read_sink(&self, sink: u32, txn_idx: TxnIndex) -> ReadResult<V> {
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

    pub(crate) fn sink(&self, sink: u32) -> &Sink<V> {
        self.sinks
            .get(sink as usize)
            .expect("invariant: sink positions come from this memory")
    }

    /// A predicate read of a sink: final (so not recorded), or not yet possible.
    pub(crate) fn sink_at_least(
        &self,
        sink: u32,
        txn_idx: TxnIndex,
        threshold: u64,
    ) -> PredicateRead {
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
                .index()
                .with_slot(sink.id, |slot| lock(&slot.versions).base)
                .map(Some)
                .ok_or(NeedsBase),
        }
    }

    pub(crate) fn sink_key(&self, sink: &Sink<V>) -> K {
        self.index().with_slot(sink.id, |slot| slot.key.clone())
    }

    /// The sink's value after `write` by `txn_idx`, kept in the write; whether the write
    /// was a save (a lower write to the sink committed after it was recorded).
    pub(crate) fn sink_total(
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
}
