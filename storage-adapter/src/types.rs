//! The identifiers of TOS state: accounts, assets, hashes, contracts and contract
//! storage keys.
//!
//! All of them are 32-byte values. They are distinct types so that an asset can never be
//! passed where an account is expected; their `Ord` is the byte order, which is also the
//! order RocksDB keeps them in.

use std::fmt;

macro_rules! bytes32 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub [u8; 32]);

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
