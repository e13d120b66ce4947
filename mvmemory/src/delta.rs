//! Commutative deltas: writes that add to a counter instead of replacing it.
//!
//! When many transactions credit one account, each plain read-modify-write of its balance
//! invalidates the next transaction's read, and a parallel block runs no faster than a
//! sequential one. A credit does not need to know the balance, only to add to it, so a
//! transaction may write a *delta* there instead and read nothing: deltas from different
//! transactions commute, and credits to one key stop conflicting.
//!
//! A read of a key whose nearest lower entry is a delta walks down the key's versions,
//! summing deltas, until it reaches a full value, a delta already *resolved* at commit
//! (which carries the key's value after it), or the bottom of the block, where the
//! key's base value (beneath the block) is needed. Sums are `i128`: a block's deltas
//! cannot leave that range (at most 2^16 transactions, each adding a few `u64`s), so the
//! only range question is the final one, whether the total fits a `u64`, which the commit
//! step answers in block order.
//!
//! This module holds both halves of the idea: the data (what a delta is, how a chain of
//! them resolves) and the operations on [`MVMemory`] that give a chain its base and
//! resolve a committing transaction's deltas.

use std::hash::Hash;

use crate::index::Versions;
use crate::sync::lock;
use crate::version::Entry;
use crate::{DeltaCommit, Incarnation, MVMemory, TxnIndex, Version};

/// A value that deltas can add to: a counter, such as a balance.
///
/// Values that are not counters (a nonce, a configuration) report `None`; a delta onto
/// one of them cannot be resolved, and the memory reports it as such rather than guess.
pub trait Counter: Clone {
    /// The count this value holds, if it is a counter.
    fn count(&self) -> Option<u64>;

    /// The counter value holding `count`.
    fn from_count(count: u64) -> Self;
}

impl Counter for u64 {
    fn count(&self) -> Option<u64> {
        Some(*self)
    }

    fn from_count(count: u64) -> Self {
        count
    }
}

/// What a transaction writes at a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write<V> {
    /// A full value, replacing whatever was there.
    Value(V),
    /// An addition to the counter at the key (negative: a subtraction). Whether the
    /// resulting total fits is decided when the writer commits
    /// ([`crate::MVMemory::commit_deltas`]).
    Delta(i128),
}

/// A delta entry.
///
/// `incarnation`, `delta` and `resolved` decide what readers see; `below_at_write` decides
/// nothing and only feeds the count of saves ([`DeltaCommit::Resolved`]). It sits here
/// rather than beside the writer's own sets because the stamp must be taken under the
/// key's lock in the same step that inserts the delta, and because this entry is already
/// boxed: here it costs nothing to keys without deltas, whereas in the writer's sets it
/// would grow every transaction's bookkeeping for a figure.
#[derive(Clone, Debug)]
pub(crate) struct DeltaEntry {
    /// The writing incarnation.
    pub(crate) incarnation: Incarnation,
    /// What it adds.
    pub(crate) delta: i128,
    /// The key's nearest lower entry when the delta was recorded. Statistics only: no
    /// read, validation or commit decision looks at it.
    pub(crate) below_at_write: Option<Version>,
    /// The key's value after this delta, set when the writer commits (and then final: a
    /// committed transaction never runs again). Reads from above stop here.
    pub(crate) resolved: Option<u64>,
}

/// The stamp of a key's nearest lower entry, kept with a delta so that the commit step
/// can tell whether a lower transaction wrote the key after the delta was recorded (a
/// read there would then have been invalidated: an abort the delta avoided).
pub(crate) fn stamp<V>(below: Option<(TxnIndex, &Entry<V>)>) -> Option<Version> {
    below.map(|(writer, entry)| match entry {
        Entry::Value { incarnation, .. } => Version::new(writer, *incarnation),
        Entry::Delta(entry) => Version::new(writer, entry.incarnation),
        Entry::Estimate => Version::new(writer, Incarnation::MAX),
    })
}

/// What the entries below a transaction add up to at one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolution {
    /// The key's value, which may lie outside `u64` in a speculative state.
    Total {
        /// The value.
        total: i128,
        /// Whether a delta (resolved or not) lies on the way down.
        through_delta: bool,
    },
    /// An ESTIMATE of this transaction lies on the way down.
    Dependency(TxnIndex),
    /// The walk reached the bottom and the key's base value is not known yet.
    NeedsBase,
    /// A full value on the way down is not a counter.
    NotACounter,
}

/// Resolves the value that transaction `txn_idx` sees at a key with these versions.
///
/// The walk stops at the first full value or resolved delta, so once the transactions
/// below have committed (and their deltas are resolved), it takes one step.
pub(crate) fn resolve<V: Counter>(versions: &Versions<Entry<V>>, txn_idx: TxnIndex) -> Resolution {
    let mut sum: i128 = 0;
    let mut through_delta = false;
    for (writer, entry) in versions.iter_below(txn_idx) {
        match entry {
            Entry::Value { value, .. } => {
                return match value.count() {
                    Some(count) => Resolution::Total {
                        total: i128::from(count) + sum,
                        through_delta,
                    },
                    None => Resolution::NotACounter,
                };
            }
            Entry::Delta(entry) => match entry.resolved {
                Some(after) => {
                    return Resolution::Total {
                        total: i128::from(after) + sum,
                        through_delta: true,
                    }
                }
                None => {
                    sum += entry.delta;
                    through_delta = true;
                }
            },
            Entry::Estimate => return Resolution::Dependency(writer),
        }
    }
    match versions.base {
        Some(base) => Resolution::Total {
            total: i128::from(base) + sum,
            through_delta,
        },
        None => Resolution::NeedsBase,
    }
}

impl<K, V> MVMemory<K, V>
where
    K: Eq + Hash + Clone,
    V: Counter,
{
    /// Gives the memory `key`'s value beneath the block, as a counter, for delta chains
    /// and predicates that reach the bottom of the block. State beneath the block never
    /// changes during it, so the first value given is kept.
    pub fn provide_base(&self, key: &K, base: u64) {
        let id = self.index().intern(key);
        self.index().with_slot(id, |slot| {
            lock(&slot.versions).base.get_or_insert(base);
        });
    }

    /// Resolves the deltas of `txn_idx`, which is committing: every transaction below it
    /// has committed, so the value under each of its deltas is final, and so is the
    /// total. Each total is checked to fit a `u64` and kept in the entry, where later
    /// reads stop instead of walking further down.
    ///
    /// On [`DeltaCommit::NeedsBase`], provide the base and call again; deltas resolved
    /// by the first call stay resolved.
    pub fn commit_deltas(&self, txn_idx: TxnIndex) -> DeltaCommit<K> {
        let mut sets = lock(self.sets(txn_idx));
        let mut deltas = 0;
        let mut saves = 0;
        for id in sets.deltas.iter() {
            let step = self.index().with_slot(*id, |slot| {
                let mut versions = lock(&slot.versions);
                let below = resolve(&versions, txn_idx);
                let now_below = stamp(versions.below(txn_idx));
                let Some(Entry::Delta(entry)) = versions.get_mut(txn_idx) else {
                    return Ok(None);
                };
                let DeltaEntry {
                    delta,
                    below_at_write,
                    resolved,
                    ..
                } = &mut **entry;
                if resolved.is_some() {
                    // Resolved by an earlier call that stopped at a missing base.
                    return Ok(Some(false));
                }
                let total = match below {
                    Resolution::Total { total, .. } => total + *delta,
                    Resolution::NotACounter => {
                        return Err(DeltaCommit::OutOfRange {
                            key: slot.key.clone(),
                        })
                    }
                    Resolution::NeedsBase => {
                        return Err(DeltaCommit::NeedsBase {
                            key: slot.key.clone(),
                        })
                    }
                    Resolution::Dependency(txn_idx) => {
                        return Err(DeltaCommit::Unfinished { txn_idx })
                    }
                };
                let Ok(total) = u64::try_from(total) else {
                    return Err(DeltaCommit::OutOfRange {
                        key: slot.key.clone(),
                    });
                };
                *resolved = Some(total);
                Ok(Some(*below_at_write != now_below))
            });
            match step {
                Ok(Some(saved)) => {
                    deltas += 1;
                    saves += u32::from(saved);
                }
                Ok(None) => {}
                Err(outcome) => return outcome,
            }
        }
        // Sink writes: computed here, against the sink's value after every lower
        // transaction, and applied only by `settle`, once the writer has committed.
        for write in sets.sink_writes.iter_mut() {
            match self.sink_total(txn_idx, write) {
                Ok(saved) => {
                    if matches!(write.write, Write::Delta(_)) {
                        deltas += 1;
                        saves += u32::from(saved);
                    }
                }
                Err(outcome) => return outcome,
            }
        }
        DeltaCommit::Resolved { deltas, saves }
    }
}
