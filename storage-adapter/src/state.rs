//! State keys and values, and their canonical byte encodings.
//!
//! The encodings serve two masters: RocksDB, whose byte order within a column family must
//! be the order of [`StateKey`], and the state root, which must hash the same bytes on
//! every node. Both use the functions here, so they cannot drift apart.

use std::sync::Arc;

use crate::types::{Asset, PublicKey};

/// Most participants a multisig configuration may list.
pub const MAX_MULTISIG_PARTICIPANTS: usize = 255;

/// One location of account state.
///
/// The derived order (nonces, then balances, then multisig, each by account and asset
/// bytes) is the order in which a block's writes are committed and hashed.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum StateKey {
    /// The account's nonce; absent means the account is not registered (nonce 0).
    Nonce(PublicKey),
    /// The account's balance in one asset; absent means 0.
    Balance(PublicKey, Asset),
    /// The account's multisig configuration; absent means none.
    Multisig(PublicKey),
}

impl StateKey {
    /// The account this key belongs to.
    pub fn account(&self) -> &PublicKey {
        match self {
            StateKey::Nonce(account)
            | StateKey::Balance(account, _)
            | StateKey::Multisig(account) => account,
        }
    }

    /// The key's bytes within its column family (account, then asset for balances).
    pub fn column_key(&self) -> ColumnKey {
        let mut bytes = [0u8; 64];
        let len = match self {
            StateKey::Nonce(account) | StateKey::Multisig(account) => {
                bytes[..32].copy_from_slice(account.as_bytes());
                32
            }
            StateKey::Balance(account, asset) => {
                bytes[..32].copy_from_slice(account.as_bytes());
                bytes[32..].copy_from_slice(asset.as_bytes());
                64
            }
        };
        ColumnKey { bytes, len }
    }

    /// A tag byte that tells the key kinds apart in the state root.
    pub(crate) fn tag(&self) -> u8 {
        match self {
            StateKey::Nonce(_) => 0,
            StateKey::Balance(..) => 1,
            StateKey::Multisig(_) => 2,
        }
    }
}

/// A key's bytes within its column family, kept on the stack (reads allocate nothing).
#[derive(Clone, Copy, Debug)]
pub struct ColumnKey {
    bytes: [u8; 64],
    len: usize,
}

impl AsRef<[u8]> for ColumnKey {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// A multisig configuration: `threshold` of `participants` must sign.
#[derive(Clone, PartialEq, Eq, Debug, Hash)]
pub struct MultisigConfig {
    /// Signatures required; at least 1 and at most `participants.len()`.
    pub threshold: u8,
    /// The distinct participants, at most [`MAX_MULTISIG_PARTICIPANTS`].
    pub participants: Vec<PublicKey>,
}

/// The value stored at a [`StateKey`]. Its variant always matches the key's.
#[derive(Clone, PartialEq, Eq, Debug, Hash)]
pub enum StateValue {
    /// At a [`StateKey::Nonce`].
    Nonce(u64),
    /// At a [`StateKey::Balance`].
    Balance(u64),
    /// At a [`StateKey::Multisig`]; `None` removes the configuration. Shared behind an
    /// `Arc` so that the parallel engine copies a pointer, not the participant list.
    Multisig(Option<Arc<MultisigConfig>>),
}

/// Balances are counters: Block-STM may change them by commutative deltas.
impl mvmemory::Counter for StateValue {
    fn count(&self) -> Option<u64> {
        match self {
            StateValue::Balance(balance) => Some(*balance),
            StateValue::Nonce(_) | StateValue::Multisig(_) => None,
        }
    }

    fn from_count(count: u64) -> Self {
        StateValue::Balance(count)
    }
}

impl StateValue {
    /// Whether this value may be stored at `key`.
    pub fn fits(&self, key: &StateKey) -> bool {
        matches!(
            (key, self),
            (StateKey::Nonce(_), StateValue::Nonce(_))
                | (StateKey::Balance(..), StateValue::Balance(_))
                | (StateKey::Multisig(_), StateValue::Multisig(_))
        )
    }

    /// Whether writing this value deletes the key from storage.
    pub fn is_deletion(&self) -> bool {
        matches!(self, StateValue::Multisig(None))
    }

    /// The value's bytes as stored in RocksDB (nonces and balances big-endian `u64`,
    /// multisig `threshold, count, participants…`). Deletions encode as empty.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            StateValue::Nonce(v) | StateValue::Balance(v) => {
                out.extend_from_slice(&v.to_be_bytes())
            }
            StateValue::Multisig(None) => {}
            StateValue::Multisig(Some(config)) => {
                out.push(config.threshold);
                // Validation caps participants at 255, so the count fits a byte; a longer
                // list (only reachable by bypassing validation) is cut, never wrapped.
                let count = config.participants.len().min(MAX_MULTISIG_PARTICIPANTS);
                out.push(count as u8);
                for participant in &config.participants[..count] {
                    out.extend_from_slice(participant.as_bytes());
                }
            }
        }
    }

    /// Decodes a stored value for `key`; `Err` names what is wrong with the bytes.
    pub fn decode(key: &StateKey, bytes: &[u8]) -> Result<StateValue, &'static str> {
        match key {
            StateKey::Nonce(_) => decode_u64(bytes).map(StateValue::Nonce),
            StateKey::Balance(..) => decode_u64(bytes).map(StateValue::Balance),
            StateKey::Multisig(_) => {
                let [threshold, count, rest @ ..] = bytes else {
                    return Err("multisig value shorter than its header");
                };
                if rest.len() != usize::from(*count) * 32 {
                    return Err("multisig participant count does not match its length");
                }
                let participants = rest
                    .chunks_exact(32)
                    .filter_map(PublicKey::from_slice)
                    .collect();
                Ok(StateValue::Multisig(Some(Arc::new(MultisigConfig {
                    threshold: *threshold,
                    participants,
                }))))
            }
        }
    }
}

fn decode_u64(bytes: &[u8]) -> Result<u64, &'static str> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| "integer value is not 8 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_is_kind_then_account_then_asset() {
        let a = PublicKey([1; 32]);
        let b = PublicKey([2; 32]);
        let mut keys = vec![
            StateKey::Multisig(a),
            StateKey::Balance(b, Asset::TOS),
            StateKey::Balance(a, Asset([9; 32])),
            StateKey::Nonce(b),
            StateKey::Balance(a, Asset::TOS),
            StateKey::Nonce(a),
        ];
        keys.sort();
        assert_eq!(
            keys,
            vec![
                StateKey::Nonce(a),
                StateKey::Nonce(b),
                StateKey::Balance(a, Asset::TOS),
                StateKey::Balance(a, Asset([9; 32])),
                StateKey::Balance(b, Asset::TOS),
                StateKey::Multisig(a),
            ]
        );
    }

    #[test]
    fn column_key_byte_order_matches_key_order() {
        let keys = [
            StateKey::Balance(PublicKey([1; 32]), Asset([0; 32])),
            StateKey::Balance(PublicKey([1; 32]), Asset([7; 32])),
            StateKey::Balance(PublicKey([2; 32]), Asset([0; 32])),
        ];
        for pair in keys.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(pair[0].column_key().as_ref() < pair[1].column_key().as_ref());
        }
    }

    #[test]
    fn values_round_trip() {
        let account = PublicKey([3; 32]);
        let cases = [
            (StateKey::Nonce(account), StateValue::Nonce(u64::MAX)),
            (
                StateKey::Balance(account, Asset::TOS),
                StateValue::Balance(42),
            ),
            (
                StateKey::Multisig(account),
                StateValue::Multisig(Some(Arc::new(MultisigConfig {
                    threshold: 2,
                    participants: vec![PublicKey([4; 32]), PublicKey([5; 32])],
                }))),
            ),
        ];
        for (key, value) in cases {
            let mut bytes = Vec::new();
            value.encode_into(&mut bytes);
            assert_eq!(StateValue::decode(&key, &bytes), Ok(value));
        }
    }

    #[test]
    fn corrupt_bytes_are_rejected() {
        let account = PublicKey([3; 32]);
        assert!(StateValue::decode(&StateKey::Nonce(account), &[1, 2, 3]).is_err());
        assert!(StateValue::decode(&StateKey::Multisig(account), &[1]).is_err());
        assert!(StateValue::decode(&StateKey::Multisig(account), &[1, 2, 0]).is_err());
    }

    #[test]
    fn values_fit_only_their_key_kind() {
        let account = PublicKey([3; 32]);
        assert!(StateValue::Nonce(1).fits(&StateKey::Nonce(account)));
        assert!(!StateValue::Nonce(1).fits(&StateKey::Balance(account, Asset::TOS)));
        assert!(!StateValue::Balance(1).fits(&StateKey::Multisig(account)));
    }
}
