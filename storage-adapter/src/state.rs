//! State keys and values, and their canonical byte encodings.
//!
//! The encodings serve two masters: RocksDB, whose byte order within a column family must
//! be the order of [`StateKey`], and the state root, which must hash the same bytes on
//! every node. Both use the functions here, so they cannot drift apart.

use std::fmt;
use std::sync::Arc;

use smallvec::SmallVec;

use crate::types::{Asset, ContractId, Hash, PublicKey, StorageKey};

/// Most participants a multisig configuration may list.
pub const MAX_MULTISIG_PARTICIPANTS: usize = 255;

/// Largest value one contract storage key may hold, in bytes.
pub const MAX_STORAGE_VALUE_LEN: usize = 4096;

/// Largest contract module (bytecode), in bytes.
pub const MAX_MODULE_LEN: usize = 64 * 1024;

/// One location of state: an account's or a contract's.
///
/// The derived order (nonces, balances, multisig, contract modules, contract balances,
/// contract storage; within each kind by account or contract, then asset or storage key
/// bytes) is the order in which a block's writes are committed and hashed.
///
/// Every variant is at most two 32-byte values: the key is copied and hashed on
/// Block-STM's hot path, so it stays 65 bytes and allocation-free.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum StateKey {
    /// The account's nonce; absent means the account is not registered (nonce 0).
    Nonce(PublicKey),
    /// The account's balance in one asset; absent means 0.
    Balance(PublicKey, Asset),
    /// The account's multisig configuration; absent means none.
    Multisig(PublicKey),
    /// The contract's module (bytecode); absent means no contract at that address.
    Module(ContractId),
    /// The contract's own balance in one asset; absent means 0.
    ContractBalance(ContractId, Asset),
    /// One key of the contract's storage; absent means the key holds no value.
    Storage(ContractId, StorageKey),
}

impl StateKey {
    /// The account this key belongs to, or `None` for a contract's key.
    pub fn account(&self) -> Option<&PublicKey> {
        match self {
            StateKey::Nonce(account)
            | StateKey::Balance(account, _)
            | StateKey::Multisig(account) => Some(account),
            StateKey::Module(_) | StateKey::ContractBalance(..) | StateKey::Storage(..) => None,
        }
    }

    /// The contract this key belongs to, or `None` for an account's key.
    pub fn contract(&self) -> Option<&ContractId> {
        match self {
            StateKey::Module(contract)
            | StateKey::ContractBalance(contract, _)
            | StateKey::Storage(contract, _) => Some(contract),
            StateKey::Nonce(_) | StateKey::Balance(..) | StateKey::Multisig(_) => None,
        }
    }

    /// The key's bytes within its column family: the account or contract, then the asset
    /// or storage key where there is one.
    pub fn column_key(&self) -> ColumnKey {
        let (first, second) = match self {
            StateKey::Nonce(account) | StateKey::Multisig(account) => (account.as_bytes(), None),
            StateKey::Balance(account, asset) => (account.as_bytes(), Some(asset.as_bytes())),
            StateKey::Module(contract) => (contract.as_bytes(), None),
            StateKey::ContractBalance(contract, asset) => {
                (contract.as_bytes(), Some(asset.as_bytes()))
            }
            StateKey::Storage(contract, key) => (contract.as_bytes(), Some(key.as_bytes())),
        };
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(first);
        let len = match second {
            Some(second) => {
                bytes[32..].copy_from_slice(second);
                64
            }
            None => 32,
        };
        ColumnKey { bytes, len }
    }

    /// The start of the key's place in the order: its kind, then the first 15 bytes of
    /// its account or contract, as one big-endian number. It agrees with the key order
    /// wherever it differs (`a.order_prefix() < b.order_prefix()` implies `a < b`);
    /// keys with equal prefixes must be compared in full. Sorting a block's writes by it
    /// first compares numbers instead of 65-byte keys wherever two keys belong to
    /// different accounts or contracts.
    #[inline]
    pub fn order_prefix(&self) -> u128 {
        let owner = match self {
            StateKey::Nonce(account)
            | StateKey::Balance(account, _)
            | StateKey::Multisig(account) => account.as_bytes(),
            StateKey::Module(contract)
            | StateKey::ContractBalance(contract, _)
            | StateKey::Storage(contract, _) => contract.as_bytes(),
        };
        let mut prefix = [0u8; 16];
        prefix[0] = self.tag();
        prefix[1..].copy_from_slice(&owner[..15]);
        u128::from_be_bytes(prefix)
    }

    /// A tag byte that tells the key kinds apart in the state root.
    pub(crate) fn tag(&self) -> u8 {
        match self {
            StateKey::Nonce(_) => 0,
            StateKey::Balance(..) => 1,
            StateKey::Multisig(_) => 2,
            StateKey::Module(_) => 3,
            StateKey::ContractBalance(..) => 4,
            StateKey::Storage(..) => 5,
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

/// A value in a contract's storage: at most [`MAX_STORAGE_VALUE_LEN`] bytes. Values up to
/// 32 bytes (a balance, a counter, an account) live inline, so copying one allocates
/// nothing. An empty value is a value, not an absence.
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

/// A contract's bytecode as stored, with its blake3 hash taken once: the executor's
/// module cache is keyed by it, so a module is loaded and verified once, not per read.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ModuleCode {
    bytecode: Box<[u8]>,
    hash: Hash,
}

impl ModuleCode {
    /// Wraps `bytecode` and hashes it. Whether it loads is the VM's business, not the
    /// store's; the store only bounds its length (see [`StateValue::decode`]).
    pub fn new(bytecode: &[u8]) -> Self {
        Self {
            bytecode: bytecode.into(),
            hash: Hash::digest(bytecode),
        }
    }

    /// The bytecode.
    pub fn bytecode(&self) -> &[u8] {
        &self.bytecode
    }

    /// blake3 of the bytecode.
    pub fn hash(&self) -> &Hash {
        &self.hash
    }
}

impl fmt::Debug for ModuleCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModuleCode")
            .field("len", &self.bytecode.len())
            .field("hash", &self.hash)
            .finish()
    }
}

/// The value stored at a [`StateKey`]. Its variant always matches the key's.
///
/// Large values sit behind an `Arc`, so the enum stays 16 bytes and the parallel engine
/// copies a pointer, not a participant list, a module or a stored value.
#[derive(Clone, PartialEq, Eq, Debug, Hash)]
pub enum StateValue {
    /// At a [`StateKey::Nonce`].
    Nonce(u64),
    /// At a [`StateKey::Balance`] or a [`StateKey::ContractBalance`].
    Balance(u64),
    /// At a [`StateKey::Multisig`]; `None` removes the configuration.
    Multisig(Option<Arc<MultisigConfig>>),
    /// At a [`StateKey::Module`]. A module is never removed.
    Module(Arc<ModuleCode>),
    /// At a [`StateKey::Storage`]; `None` deletes the key.
    Storage(Option<Arc<StorageValue>>),
}

/// Balances, an account's or a contract's, are counters: Block-STM may change them by
/// commutative deltas. Nothing else is (a storage value is opaque bytes to the store).
impl mvmemory::Counter for StateValue {
    fn count(&self) -> Option<u64> {
        match self {
            StateValue::Balance(balance) => Some(*balance),
            StateValue::Nonce(_)
            | StateValue::Multisig(_)
            | StateValue::Module(_)
            | StateValue::Storage(_) => None,
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
                | (StateKey::Module(_), StateValue::Module(_))
                | (StateKey::ContractBalance(..), StateValue::Balance(_))
                | (StateKey::Storage(..), StateValue::Storage(_))
        )
    }

    /// Whether writing this value deletes the key from storage.
    pub fn is_deletion(&self) -> bool {
        matches!(self, StateValue::Multisig(None) | StateValue::Storage(None))
    }

    /// The value's bytes as stored in RocksDB: nonces and balances big-endian `u64`;
    /// multisig `threshold, count, participants…`; a module its bytecode; a storage value
    /// `0x01` then its bytes (the marker keeps an empty value apart from a deletion in
    /// the state root). Deletions encode as empty.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            StateValue::Nonce(v) | StateValue::Balance(v) => {
                out.extend_from_slice(&v.to_be_bytes())
            }
            StateValue::Module(code) => out.extend_from_slice(code.bytecode()),
            StateValue::Storage(Some(value)) => {
                out.push(STORAGE_PRESENT);
                out.extend_from_slice(value.as_bytes());
            }
            StateValue::Multisig(None) | StateValue::Storage(None) => {}
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
            StateKey::Balance(..) | StateKey::ContractBalance(..) => {
                decode_u64(bytes).map(StateValue::Balance)
            }
            StateKey::Module(_) => {
                if bytes.is_empty() {
                    return Err("empty contract module");
                }
                if bytes.len() > MAX_MODULE_LEN {
                    return Err("contract module longer than the maximum");
                }
                Ok(StateValue::Module(Arc::new(ModuleCode::new(bytes))))
            }
            StateKey::Storage(..) => {
                let [STORAGE_PRESENT, value @ ..] = bytes else {
                    return Err("storage value without its presence marker");
                };
                if value.len() > MAX_STORAGE_VALUE_LEN {
                    return Err("storage value longer than the maximum");
                }
                Ok(StateValue::Storage(Some(Arc::new(
                    StorageValue::from_slice(value),
                ))))
            }
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

/// The first byte of every stored contract storage value.
const STORAGE_PRESENT: u8 = 1;

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

    /// One key of every kind, in the order the derived `Ord` must give.
    fn one_key_of_each_kind() -> [StateKey; 6] {
        let account = PublicKey([0xff; 32]);
        let contract = ContractId([0; 32]);
        [
            StateKey::Nonce(account),
            StateKey::Balance(account, Asset([0xff; 32])),
            StateKey::Multisig(account),
            StateKey::Module(contract),
            StateKey::ContractBalance(contract, Asset::TOS),
            StateKey::Storage(contract, StorageKey([0; 32])),
        ]
    }

    /// The order prefix never contradicts the key order: across kinds, within a kind,
    /// and for keys that share their first 15 owner bytes (equal prefixes).
    #[test]
    fn order_prefix_agrees_with_the_key_order() {
        let mut keys = one_key_of_each_kind().to_vec();
        for (first, last) in [(0u8, 0u8), (0, 9), (7, 0), (0xff, 3)] {
            let mut bytes = [first; 32];
            bytes[31] = last;
            keys.push(StateKey::Nonce(PublicKey(bytes)));
            keys.push(StateKey::Balance(PublicKey(bytes), Asset([last; 32])));
            keys.push(StateKey::Storage(
                ContractId(bytes),
                StorageKey([first; 32]),
            ));
        }
        for a in &keys {
            for b in &keys {
                if a.order_prefix() < b.order_prefix() {
                    assert!(a < b, "{a:?} before {b:?} by prefix only");
                }
                if a < b {
                    assert!(a.order_prefix() <= b.order_prefix(), "{a:?} < {b:?}");
                }
            }
        }
    }

    #[test]
    fn key_order_is_kind_first_across_all_six_kinds() {
        // The kind decides before any byte: the largest account's keys still sort before
        // the smallest contract's, and `tag` numbers the kinds in the same order.
        let keys = one_key_of_each_kind();
        for pair in keys.windows(2) {
            assert!(pair[0] < pair[1], "{:?} < {:?}", pair[0], pair[1]);
            assert!(pair[0].tag() < pair[1].tag());
        }
        let mut shuffled = keys;
        shuffled.reverse();
        shuffled.sort();
        assert_eq!(shuffled, keys);
        assert_eq!(keys.map(|key| key.tag()), [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn contract_keys_order_by_contract_then_asset_or_storage_key() {
        let a = ContractId([1; 32]);
        let b = ContractId([2; 32]);
        let mut keys = vec![
            StateKey::Storage(b, StorageKey([0; 32])),
            StateKey::ContractBalance(b, Asset::TOS),
            StateKey::Storage(a, StorageKey([9; 32])),
            StateKey::Module(b),
            StateKey::ContractBalance(a, Asset([9; 32])),
            StateKey::Storage(a, StorageKey([0; 32])),
            StateKey::Module(a),
            StateKey::ContractBalance(a, Asset::TOS),
        ];
        keys.sort();
        assert_eq!(
            keys,
            vec![
                StateKey::Module(a),
                StateKey::Module(b),
                StateKey::ContractBalance(a, Asset::TOS),
                StateKey::ContractBalance(a, Asset([9; 32])),
                StateKey::ContractBalance(b, Asset::TOS),
                StateKey::Storage(a, StorageKey([0; 32])),
                StateKey::Storage(a, StorageKey([9; 32])),
                StateKey::Storage(b, StorageKey([0; 32])),
            ]
        );
    }

    #[test]
    fn column_key_byte_order_matches_key_order_for_contract_keys() {
        // Bytes chosen so that the first byte alone does not decide: the second half of
        // the column key must be compared, and the contract must outrank it.
        let first = |x: u8| {
            let mut bytes = [7; 32];
            bytes[31] = x;
            bytes
        };
        let second = |x: u8| {
            let mut bytes = [0; 32];
            bytes[0] = x;
            bytes
        };
        let families: [Vec<StateKey>; 3] = [
            vec![
                StateKey::Module(ContractId(first(0))),
                StateKey::Module(ContractId(first(1))),
                StateKey::Module(ContractId(first(255))),
            ],
            vec![
                StateKey::ContractBalance(ContractId(first(0)), Asset(second(0))),
                StateKey::ContractBalance(ContractId(first(0)), Asset(second(255))),
                StateKey::ContractBalance(ContractId(first(1)), Asset(second(0))),
                StateKey::ContractBalance(ContractId(first(255)), Asset(second(1))),
            ],
            vec![
                StateKey::Storage(ContractId(first(0)), StorageKey(second(0))),
                StateKey::Storage(ContractId(first(0)), StorageKey(second(1))),
                StateKey::Storage(ContractId(first(0)), StorageKey(second(255))),
                StateKey::Storage(ContractId(first(1)), StorageKey(second(0))),
            ],
        ];
        for keys in families {
            for pair in keys.windows(2) {
                assert!(pair[0] < pair[1]);
                assert!(pair[0].column_key().as_ref() < pair[1].column_key().as_ref());
            }
        }
    }

    #[test]
    fn column_keys_lay_out_contract_then_second_part() {
        let contract = ContractId([1; 32]);
        let module = StateKey::Module(contract).column_key();
        assert_eq!(module.as_ref(), &[1; 32][..]);
        let storage = StateKey::Storage(contract, StorageKey([2; 32])).column_key();
        assert_eq!(storage.as_ref(), &[[1u8; 32], [2u8; 32]].concat()[..]);
        let balance = StateKey::ContractBalance(contract, Asset([3; 32])).column_key();
        assert_eq!(balance.as_ref(), &[[1u8; 32], [3u8; 32]].concat()[..]);
    }

    #[test]
    fn account_and_contract_accessors_split_the_kinds() {
        for key in one_key_of_each_kind() {
            let is_contract_key = key.tag() >= 3;
            assert_eq!(key.account().is_none(), is_contract_key, "{key:?}");
            assert_eq!(key.contract().is_some(), is_contract_key, "{key:?}");
        }
        assert_eq!(
            StateKey::Storage(ContractId([4; 32]), StorageKey([5; 32])).contract(),
            Some(&ContractId([4; 32]))
        );
    }

    #[test]
    fn contract_values_round_trip() {
        let contract = ContractId([6; 32]);
        let slot = StateKey::Storage(contract, StorageKey([7; 32]));
        let cases = [
            (
                StateKey::Module(contract),
                StateValue::Module(Arc::new(ModuleCode::new(&[0x95, 0, 0, 0]))),
            ),
            (
                StateKey::Module(contract),
                StateValue::Module(Arc::new(ModuleCode::new(&[0xab; MAX_MODULE_LEN]))),
            ),
            (
                StateKey::ContractBalance(contract, Asset::TOS),
                StateValue::Balance(u64::MAX),
            ),
            (
                slot,
                StateValue::Storage(Some(Arc::new(StorageValue::from(42u64)))),
            ),
            (
                slot,
                StateValue::Storage(Some(Arc::new(StorageValue::from_slice(
                    &[0xcd; MAX_STORAGE_VALUE_LEN],
                )))),
            ),
            // Longer than the inline capacity: stored on the heap, same bytes.
            (
                slot,
                StateValue::Storage(Some(Arc::new(StorageValue::from_slice(&[1; 33])))),
            ),
            (
                slot,
                StateValue::Storage(Some(Arc::new(StorageValue::default()))),
            ),
        ];
        for (key, value) in cases {
            assert!(value.fits(&key));
            assert!(!value.is_deletion());
            let mut bytes = Vec::new();
            value.encode_into(&mut bytes);
            assert_eq!(StateValue::decode(&key, &bytes), Ok(value));
        }
    }

    #[test]
    fn empty_storage_value_and_deletion_encode_apart() {
        let empty = StateValue::Storage(Some(Arc::new(StorageValue::default())));
        let deletion = StateValue::Storage(None);
        let (mut empty_bytes, mut deletion_bytes) = (Vec::new(), Vec::new());
        empty.encode_into(&mut empty_bytes);
        deletion.encode_into(&mut deletion_bytes);
        // These bytes are what the state root hashes: they must differ.
        assert_eq!(empty_bytes, [STORAGE_PRESENT]);
        assert_eq!(deletion_bytes, [0u8; 0]);
        assert!(deletion.is_deletion());
        assert!(!empty.is_deletion());
        let value = StateValue::Storage(Some(Arc::new(StorageValue::from_slice(&[9, 8]))));
        let mut bytes = Vec::new();
        value.encode_into(&mut bytes);
        assert_eq!(bytes, [STORAGE_PRESENT, 9, 8]);
    }

    #[test]
    fn module_code_hashes_its_bytecode() {
        let code = ModuleCode::new(b"bytecode");
        assert_eq!(code.bytecode(), b"bytecode");
        assert_eq!(*code.hash(), Hash::digest(b"bytecode"));
        // Debug prints the length and hash, not up to 64 KiB of bytecode.
        let debug = format!("{:?}", ModuleCode::new(&[0x61; 1000]));
        assert!(debug.contains("len: 1000"), "{debug}");
        assert!(!debug.contains("97, 97"), "{debug}");
    }

    #[test]
    fn storage_value_conversions() {
        let value = StorageValue::from(0x0102_0304_0506_0708u64);
        assert_eq!(value.as_bytes(), [8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(value.len(), 8);
        assert!(!value.is_empty());
        assert_eq!(StorageValue::from(&[1u8, 2][..]).as_bytes(), [1, 2]);
        assert!(StorageValue::default().is_empty());
    }

    #[test]
    fn corrupt_contract_bytes_are_rejected() {
        let contract = ContractId([6; 32]);
        let slot = StateKey::Storage(contract, StorageKey([7; 32]));
        let module = StateKey::Module(contract);
        let balance = StateKey::ContractBalance(contract, Asset::TOS);
        // A stored value always carries its marker: none, or a wrong one, is corrupt.
        assert!(StateValue::decode(&slot, &[]).is_err());
        assert!(StateValue::decode(&slot, &[0]).is_err());
        assert!(StateValue::decode(&slot, &[2, 1, 2]).is_err());
        let over_long = [&[STORAGE_PRESENT][..], &[0; MAX_STORAGE_VALUE_LEN + 1]].concat();
        assert!(StateValue::decode(&slot, &over_long).is_err());
        // A module is never empty and never longer than the maximum.
        assert!(StateValue::decode(&module, &[]).is_err());
        assert!(StateValue::decode(&module, &[1; MAX_MODULE_LEN + 1]).is_err());
        // A contract balance is a big-endian u64, like an account's.
        assert!(StateValue::decode(&balance, &[0; 7]).is_err());
        assert!(StateValue::decode(&balance, &[0; 9]).is_err());
        assert!(StateValue::decode(&balance, &[]).is_err());
    }

    #[test]
    fn contract_values_fit_only_their_key_kind() {
        let contract = ContractId([6; 32]);
        let account = PublicKey([3; 32]);
        let module_key = StateKey::Module(contract);
        let balance_key = StateKey::ContractBalance(contract, Asset::TOS);
        let slot = StateKey::Storage(contract, StorageKey([7; 32]));
        let module = StateValue::Module(Arc::new(ModuleCode::new(&[1])));
        let stored = StateValue::Storage(Some(Arc::new(StorageValue::from(1u64))));
        let deleted = StateValue::Storage(None);

        assert!(module.fits(&module_key));
        assert!(StateValue::Balance(1).fits(&balance_key));
        assert!(stored.fits(&slot));
        assert!(deleted.fits(&slot));

        for key in [
            balance_key,
            slot,
            StateKey::Nonce(account),
            StateKey::Multisig(account),
        ] {
            assert!(!module.fits(&key), "{key:?}");
        }
        for key in [
            module_key,
            balance_key,
            StateKey::Balance(account, Asset::TOS),
        ] {
            assert!(!stored.fits(&key), "{key:?}");
            assert!(!deleted.fits(&key), "{key:?}");
        }
        for value in [
            StateValue::Nonce(1),
            StateValue::Multisig(None),
            module.clone(),
            stored.clone(),
        ] {
            assert!(!value.fits(&balance_key), "{value:?}");
        }
        for value in [
            StateValue::Nonce(1),
            StateValue::Balance(1),
            StateValue::Multisig(None),
        ] {
            assert!(!value.fits(&slot), "{value:?}");
            assert!(!value.fits(&module_key), "{value:?}");
        }
    }

    #[test]
    fn only_balances_are_counters() {
        use mvmemory::Counter;
        assert_eq!(StateValue::Balance(5).count(), Some(5));
        assert_eq!(StateValue::from_count(5), StateValue::Balance(5));
        for value in [
            StateValue::Nonce(5),
            StateValue::Multisig(None),
            StateValue::Module(Arc::new(ModuleCode::new(&[1]))),
            StateValue::Storage(Some(Arc::new(StorageValue::from(5u64)))),
            StateValue::Storage(None),
        ] {
            assert_eq!(value.count(), None, "{value:?}");
        }
    }

    #[test]
    fn key_and_value_stay_small() {
        // Both sit on Block-STM's hot path (copied into every read and write set): the key
        // is two 32-byte halves and a tag, the value a word and a tag.
        assert!(std::mem::size_of::<StateKey>() <= 65);
        assert_eq!(std::mem::size_of::<StateValue>(), 16);
    }

    #[test]
    fn values_fit_only_their_key_kind() {
        let account = PublicKey([3; 32]);
        assert!(StateValue::Nonce(1).fits(&StateKey::Nonce(account)));
        assert!(!StateValue::Nonce(1).fits(&StateKey::Balance(account, Asset::TOS)));
        assert!(!StateValue::Balance(1).fits(&StateKey::Multisig(account)));
    }
}
