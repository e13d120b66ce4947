//! Validation: whether every read an incarnation recorded would still resolve as it did,
//! which decides whether the incarnation may commit or must run again.

use std::hash::Hash;

use crate::delta::{resolve, Resolution};
use crate::sync::lock;
use crate::version::Entry;
use crate::{Counter, KeyId, MVMemory, ReadOrigin, TxnIndex, Validation, Version};

impl<K, V> MVMemory<K, V>
where
    K: Eq + Hash + Clone,
    V: Counter,
{
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

    /// Whether a read with `origin` by `txn_idx` at `id` still resolves as it did:
    /// `None` if not, `Some(true)` if it holds only as a predicate (the exact value
    /// changed).
    fn check(&self, id: KeyId, txn_idx: TxnIndex, origin: ReadOrigin) -> Option<bool> {
        self.index().with_slot(id, |slot| {
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
}
