//! Read sets: what a transaction's read recorded, so that validation can ask whether it
//! still resolves as it did. Read sets are copied and walked on every execution and
//! validation, so each entry is packed small; this module holds that packing.

use crate::{KeyId, Version};
#[cfg(doc)]
use crate::{MVMemory, Validation};

/// Where a recorded read was answered from, and so what its validation checks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReadOrigin {
    /// A version in this memory.
    MultiVersion(Version),
    /// Nothing below the reader had written the key, so the caller read storage.
    Storage,
    /// Deltas below the reader added up to this value; valid while they still do.
    Total(u64),
    /// The counter was at least `threshold` (it was `seen`); valid while it still is.
    AtLeast {
        /// The predicate's bound.
        threshold: u64,
        /// The value when read. Statistics only: validation decides on `threshold`
        /// alone, and compares `seen` only to count the predicate reads that held
        /// although the value moved ([`Validation::predicate_saves`]).
        seen: u64,
    },
    /// The counter was below `threshold` (a predicate read that failed); valid while it
    /// still is.
    Below {
        /// The predicate's bound.
        threshold: u64,
    },
    /// The deltas added up to no `u64` (or sat on a value that is no counter): a
    /// speculative state. Valid while that still holds, so that the reader is not
    /// re-executed, again and again, on the same state. Such a read never commits: the
    /// lowest delta that breaks the range fails its own commit first (see
    /// [`MVMemory::commit_deltas`]), and its writer's re-execution changes the chain.
    OutOfRange,
}

/// One entry of a read set: a key and where its value came from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ReadDescriptor {
    /// The key read.
    pub key: KeyId,
    origin: PackedOrigin,
}

impl ReadDescriptor {
    pub(crate) fn new(key: KeyId, origin: ReadOrigin) -> Self {
        Self {
            key,
            origin: PackedOrigin::from(origin),
        }
    }

    /// Where its value came from.
    pub fn origin(&self) -> ReadOrigin {
        ReadOrigin::from(self.origin)
    }
}

/// A `u64` as two `u32`s: 4-byte aligned, so that a read descriptor takes 24 bytes, not
/// 32 (read sets are copied and walked on every execution and validation).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Packed([u32; 2]);

impl From<u64> for Packed {
    fn from(value: u64) -> Self {
        // Truncations on purpose: the two halves.
        Self([(value >> 32) as u32, value as u32])
    }
}

impl From<Packed> for u64 {
    fn from(Packed([high, low]): Packed) -> Self {
        (u64::from(high) << 32) | u64::from(low)
    }
}

/// [`ReadOrigin`] as a read set stores it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PackedOrigin {
    MultiVersion(Version),
    Storage,
    Total(Packed),
    AtLeast { threshold: Packed, seen: Packed },
    Below { threshold: Packed },
    OutOfRange,
}

impl From<ReadOrigin> for PackedOrigin {
    fn from(origin: ReadOrigin) -> Self {
        match origin {
            ReadOrigin::MultiVersion(version) => Self::MultiVersion(version),
            ReadOrigin::Storage => Self::Storage,
            ReadOrigin::Total(total) => Self::Total(total.into()),
            ReadOrigin::AtLeast { threshold, seen } => Self::AtLeast {
                threshold: threshold.into(),
                seen: seen.into(),
            },
            ReadOrigin::Below { threshold } => Self::Below {
                threshold: threshold.into(),
            },
            ReadOrigin::OutOfRange => Self::OutOfRange,
        }
    }
}

impl From<PackedOrigin> for ReadOrigin {
    fn from(origin: PackedOrigin) -> Self {
        match origin {
            PackedOrigin::MultiVersion(version) => Self::MultiVersion(version),
            PackedOrigin::Storage => Self::Storage,
            PackedOrigin::Total(total) => Self::Total(total.into()),
            PackedOrigin::AtLeast { threshold, seen } => Self::AtLeast {
                threshold: threshold.into(),
                seen: seen.into(),
            },
            PackedOrigin::Below { threshold } => Self::Below {
                threshold: threshold.into(),
            },
            PackedOrigin::OutOfRange => Self::OutOfRange,
        }
    }
}
