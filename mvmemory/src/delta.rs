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

use crate::index::Versions;
use crate::{Entry, Incarnation, TxnIndex, Version};

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
