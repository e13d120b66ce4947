//! The read side: what a transaction sees at a key (the highest write below it, a sum of
//! deltas, a dependency on an aborted writer), recorded into its read set for
//! validation, and predicate reads that record only whether a counter is high enough.

use std::hash::Hash;

use crate::delta::{resolve, Resolution};
use crate::sync::lock;
use crate::version::Entry;
use crate::{
    Counter, KeyId, MVMemory, PredicateRead, ReadDescriptor, ReadOrigin, ReadResult, TxnIndex,
    Version,
};

impl<K, V> MVMemory<K, V>
where
    K: Eq + Hash + Clone,
    V: Counter,
{
    /// What transaction `txn_idx` reads at `key`: the highest write below it. The read is
    /// not recorded anywhere; a transaction's own reads go through
    /// [`MVMemory::read_recorded`].
    pub fn read(&self, key: &K, txn_idx: TxnIndex) -> ReadResult<V> {
        match self.index.get().and_then(|index| index.find(key)) {
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
        let id = self.index().intern(key);
        let (result, origin) = self.read_id(id, txn_idx);
        if let Some(origin) = origin {
            reads.push(ReadDescriptor::new(id, origin));
        }
        result
    }

    /// The read and, unless it is a dependency or needs a base, how to validate it.
    fn read_id(&self, id: KeyId, txn_idx: TxnIndex) -> (ReadResult<V>, Option<ReadOrigin>) {
        let read = self.index().with_slot(id, |slot| {
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
        let id = self.index().intern(key);
        let resolution = self.index().with_slot(id, |slot| {
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
}
