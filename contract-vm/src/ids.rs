//! The identifiers a call names: contracts, storage keys and stored values.
//!
//! They sit on Block-STM's hot path (every syscall that touches state becomes a versioned
//! key), so they are small fixed-size values that are cheap to copy, compare and hash.
//! Accounts and assets are the workspace's own [`PublicKey`] and [`Asset`], so the
//! executor maps nothing for them.

use std::fmt;

use smallvec::SmallVec;
pub use storage_adapter::{Asset, PublicKey};

/// A deployed contract's address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ContractId(pub [u8; 32]);

/// A key in one contract's storage: always 32 bytes (see [`crate::abi::KEY_LEN`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StorageKey(pub [u8; 32]);

impl fmt::Debug for ContractId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContractId({}…)", hex8(&self.0))
    }
}

impl fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorageKey({}…)", hex8(&self.0))
    }
}

/// The first four bytes in hex: enough to tell values apart in logs.
fn hex8(bytes: &[u8; 32]) -> String {
    bytes[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// A stored value: at most [`crate::abi::MAX_VALUE_LEN`] bytes. Values up to 32 bytes (a
/// balance, a counter, an account) live inline, so reading one allocates nothing.
#[derive(Clone, PartialEq, Eq, Hash, Default, Debug)]
pub struct StorageValue(SmallVec<[u8; 32]>);

impl StorageValue {
    /// Wraps a copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(SmallVec::from_slice(bytes))
    }

    /// The value's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The value's length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the value is empty (which is not the same as absent).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&[u8]> for StorageValue {
    fn from(bytes: &[u8]) -> Self {
        Self::from_slice(bytes)
    }
}

impl From<u64> for StorageValue {
    /// A counter or balance, as the bundled contracts store them: 8 bytes, little endian.
    fn from(value: u64) -> Self {
        Self::from_slice(&value.to_le_bytes())
    }
}
