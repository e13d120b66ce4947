//! The identifiers of TOS state: accounts, assets, hashes, contracts and contract
//! storage keys.
//!
//! All of them are 32-byte values. They are distinct types so that an asset can never be
//! passed where an account is expected; their `Ord` is the byte order, which is also the
//! order RocksDB keeps them in.

use std::cmp::Ordering;
use std::fmt;

macro_rules! bytes32 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub [u8; 32]);

        impl Ord for $name {
            fn cmp(&self, other: &Self) -> Ordering {
                byte_order(&self.0, &other.0)
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }

        impl $name {
            /// The all-zero value.
            pub const ZERO: Self = Self([0; 32]);

            /// Wraps 32 raw bytes.
            pub const fn new(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// Reads a value from exactly 32 bytes; `None` for any other length.
            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                <[u8; 32]>::try_from(bytes).ok().map(Self)
            }
        }

        impl From<[u8; 32]> for $name {
            fn from(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Eight hex digits identify a value in logs without drowning them.
                write!(f, "{}({}…)", stringify!($name), hex::encode(&self.0[..4]))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }
    };
}

/// The byte (lexicographic) order of two 32-byte values, compared as four big-endian
/// words.
///
/// This is exactly the order a derived `Ord` gives, but the derived one calls `memcmp`
/// for every comparison; inlined word compares take about a third of the instructions, and
/// the epilogue every engine runs after its workers compares keys hundreds of thousands of
/// times a block (sorting the writes and the executed hashes, merging, binary searches).
#[inline]
fn byte_order(a: &[u8; 32], b: &[u8; 32]) -> Ordering {
    fn words(bytes: &[u8; 32]) -> [u64; 4] {
        std::array::from_fn(|at| {
            let mut word = [0; 8];
            word.copy_from_slice(&bytes[8 * at..8 * at + 8]);
            u64::from_be_bytes(word)
        })
    }
    words(a).cmp(&words(b))
}

bytes32!(
    /// An account's public key.
    PublicKey
);
bytes32!(
    /// An asset identifier (the hash of the asset's registration).
    Asset
);
bytes32!(
    /// A blake3 hash: transaction hashes and state roots.
    Hash
);
bytes32!(
    /// A deployed contract's address, derived from its deployer and the deploy's nonce.
    ContractId
);
bytes32!(
    /// A key in one contract's storage. Always 32 bytes: a contract that wants longer
    /// keys hashes them, so the state key stays small and fixed-size.
    StorageKey
);

impl PublicKey {
    /// A deterministic test or workload account derived from an index.
    pub fn from_index(index: u64) -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"tos-blockstm/account");
        hasher.update(&index.to_le_bytes());
        Self(*hasher.finalize().as_bytes())
    }
}

impl Asset {
    /// The native TOS asset: fees, block rewards and the burned supply are counted in it.
    pub const TOS: Asset = Asset([0; 32]);

    /// A deterministic test or workload asset derived from an index (index 0 is not TOS).
    pub fn from_index(index: u64) -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"tos-blockstm/asset");
        hasher.update(&index.to_le_bytes());
        Self(*hasher.finalize().as_bytes())
    }
}

impl Hash {
    /// The blake3 hash of `bytes`.
    pub fn digest(bytes: &[u8]) -> Self {
        Self(*blake3::hash(bytes).as_bytes())
    }
}

impl From<blake3::Hash> for Hash {
    fn from(hash: blake3::Hash) -> Self {
        Self(*hash.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Values that share any prefix, the same value included, order as their bytes do.
        #[test]
        fn ord_is_the_byte_order(a in any::<[u8; 32]>(), at in 0usize..33, byte in any::<u8>()) {
            let mut b = a;
            if let Some(slot) = b.get_mut(at) {
                *slot = byte;
            }
            prop_assert_eq!(Hash(a).cmp(&Hash(b)), a.cmp(&b));
            prop_assert_eq!(PublicKey(b).partial_cmp(&PublicKey(a)), Some(b.cmp(&a)));
        }
    }

    #[test]
    fn from_slice_rejects_wrong_lengths() {
        assert_eq!(PublicKey::from_slice(&[1; 32]), Some(PublicKey([1; 32])));
        assert_eq!(PublicKey::from_slice(&[1; 31]), None);
        assert_eq!(Asset::from_slice(&[1; 33]), None);
    }

    #[test]
    fn derived_values_are_distinct_and_stable() {
        assert_ne!(PublicKey::from_index(0), PublicKey::from_index(1));
        assert_eq!(PublicKey::from_index(7), PublicKey::from_index(7));
        assert_ne!(Asset::from_index(0), Asset::TOS);
    }

    #[test]
    fn display_is_full_hex() {
        assert_eq!(Hash::ZERO.to_string(), "0".repeat(64));
    }
}
