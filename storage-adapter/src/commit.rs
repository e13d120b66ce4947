//! A block's effects as a store applies them, and the state root that seals them.

use crate::state::{
    StateKey, StateValue, MAX_MODULE_LEN, MAX_MULTISIG_PARTICIPANTS, MAX_STORAGE_VALUE_LEN,
};
use crate::types::Hash;
use crate::view::{ChainState, StorageError};

/// Everything one block changes, ready to be applied atomically.
///
/// Built only through [`BlockCommit::new`], which checks the writes are sorted and
/// computes the state root, so a store never sees an unsealed or unordered commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockCommit {
    parent: ChainState,
    topoheight: u64,
    writes: Vec<(StateKey, StateValue)>,
    executed: Vec<Hash>,
    burned_supply: u64,
    state_root: Hash,
}

impl BlockCommit {
    /// Seals a block's effects on top of `previous`.
    ///
    /// `writes` must be sorted by key with no key twice, and each value must fit its key;
    /// `executed` lists the hashes of the block's successful transactions (any order; they
    /// are sorted here). Errors when the block does not follow `previous` or the writes are
    /// malformed.
    pub fn new(
        previous: &ChainState,
        topoheight: u64,
        writes: Vec<(StateKey, StateValue)>,
        mut executed: Vec<Hash>,
        burned_supply: u64,
    ) -> Result<Self, StorageError> {
        if previous.topoheight == Some(u64::MAX) {
            // `next_topoheight` saturates: without this a second block would reuse MAX.
            return Err(StorageError::InvalidCommit(
                "no topoheight follows u64::MAX".into(),
            ));
        }
        if topoheight != previous.next_topoheight() {
            return Err(StorageError::InvalidCommit(format!(
                "topoheight {topoheight} does not follow {:?}",
                previous.topoheight
            )));
        }
        if let Some(pair) = writes.windows(2).find(|pair| pair[0].0 >= pair[1].0) {
            return Err(StorageError::InvalidCommit(format!(
                "writes not strictly sorted at {:?}",
                pair[1].0
            )));
        }
        if let Some((key, _)) = writes.iter().find(|(key, value)| !value.fits(key)) {
            return Err(StorageError::InvalidCommit(format!(
                "value does not fit key {key:?}"
            )));
        }
        // A longer list cannot be encoded (the count is one byte): RocksDB and the root
        // would see it cut while the memory store kept it whole.
        if let Some((key, _)) = writes.iter().find(|(_, value)| {
            matches!(value, StateValue::Multisig(Some(config))
                if config.participants.len() > MAX_MULTISIG_PARTICIPANTS)
        }) {
            return Err(StorageError::InvalidCommit(format!(
                "multisig configuration at {key:?} has more than {MAX_MULTISIG_PARTICIPANTS} participants"
            )));
        }
        // The same bounds a read enforces: a store must be able to read back what it wrote.
        if let Some((key, _)) = writes.iter().find(|(_, value)| match value {
            StateValue::Module(code) => {
                code.bytecode().is_empty() || code.bytecode().len() > MAX_MODULE_LEN
            }
            StateValue::Storage(Some(value)) => value.len() > MAX_STORAGE_VALUE_LEN,
            _ => false,
        }) {
            return Err(StorageError::InvalidCommit(format!(
                "contract value at {key:?} is empty or longer than its maximum"
            )));
        }
        executed.sort_unstable();
        if executed.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(StorageError::InvalidCommit(
                "a transaction hash is marked twice".into(),
            ));
        }
        let state_root = state_root(
            &previous.state_root,
            topoheight,
            burned_supply,
            &writes,
            &executed,
        );
        Ok(Self {
            parent: *previous,
            topoheight,
            writes,
            executed,
            burned_supply,
            state_root,
        })
    }

    /// The chain state this commit was built on; a store applies it only on top of it.
    pub fn parent(&self) -> &ChainState {
        &self.parent
    }

    /// The block's topoheight.
    pub fn topoheight(&self) -> u64 {
        self.topoheight
    }

    /// The final writes, sorted by key.
    pub fn writes(&self) -> &[(StateKey, StateValue)] {
        &self.writes
    }

    /// The hashes of the block's successful transactions, sorted.
    pub fn executed(&self) -> &[Hash] {
        &self.executed
    }

    /// The burned supply after this block.
    pub fn burned_supply(&self) -> u64 {
        self.burned_supply
    }

    /// The state root after this block.
    pub fn state_root(&self) -> Hash {
        self.state_root
    }

    /// The chain metadata once this commit is applied.
    pub fn chain_state(&self) -> ChainState {
        ChainState {
            topoheight: Some(self.topoheight),
            state_root: self.state_root,
            burned_supply: self.burned_supply,
        }
    }
}

/// The state root after a block: blake3 over the previous root, the topoheight, the
/// burned supply, every write (key tag, key bytes, value bytes, each length-prefixed) in
/// key order, then the executed transaction hashes in byte order.
///
/// Chaining the previous root means two stores agree on a root only if they agree on the
/// whole history of writes, not just on the last block.
pub fn state_root(
    previous: &Hash,
    topoheight: u64,
    burned_supply: u64,
    sorted_writes: &[(StateKey, StateValue)],
    sorted_executed: &[Hash],
) -> Hash {
    // The whole preimage is laid out in one buffer and hashed in one call: blake3 hashes a
    // long input many chunks at a time, while thousands of tiny `update` calls would each
    // pay its per-call cost. The bytes are exactly the documented layout either way.
    let mut bytes = Vec::with_capacity(
        128 + sorted_writes.len() * (1 + 64 + 4 + 16) + sorted_executed.len() * 32,
    );
    bytes.extend_from_slice(b"tos-blockstm/state-root/v1");
    bytes.extend_from_slice(previous.as_bytes());
    bytes.extend_from_slice(&topoheight.to_be_bytes());
    bytes.extend_from_slice(&burned_supply.to_be_bytes());
    bytes.extend_from_slice(&(sorted_writes.len() as u64).to_be_bytes());
    let mut value_bytes = Vec::with_capacity(64);
    for (key, value) in sorted_writes {
        bytes.push(key.tag());
        bytes.extend_from_slice(key.column_key().as_ref());
        value_bytes.clear();
        value.encode_into(&mut value_bytes);
        bytes.extend_from_slice(&(value_bytes.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&value_bytes);
    }
    bytes.extend_from_slice(&(sorted_executed.len() as u64).to_be_bytes());
    for hash in sorted_executed {
        bytes.extend_from_slice(hash.as_bytes());
    }
    Hash::digest(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Asset, PublicKey};

    fn writes() -> Vec<(StateKey, StateValue)> {
        vec![
            (StateKey::Nonce(PublicKey([1; 32])), StateValue::Nonce(0)),
            (
                StateKey::Balance(PublicKey([1; 32]), Asset::TOS),
                StateValue::Balance(5),
            ),
        ]
    }

    #[test]
    fn root_depends_on_every_input() {
        let base = state_root(&Hash::ZERO, 1, 0, &writes(), &[]);
        assert_eq!(base, state_root(&Hash::ZERO, 1, 0, &writes(), &[]));
        assert_ne!(base, state_root(&Hash([1; 32]), 1, 0, &writes(), &[]));
        assert_ne!(base, state_root(&Hash::ZERO, 2, 0, &writes(), &[]));
        assert_ne!(base, state_root(&Hash::ZERO, 1, 1, &writes(), &[]));
        assert_ne!(base, state_root(&Hash::ZERO, 1, 0, &writes()[..1], &[]));
        assert_ne!(
            base,
            state_root(&Hash::ZERO, 1, 0, &writes(), &[Hash::ZERO])
        );
    }

    #[test]
    fn commit_rejects_unsorted_or_misfit_writes_and_wrong_topoheight() {
        let chain = ChainState::default();
        let mut unsorted = writes();
        unsorted.reverse();
        assert!(BlockCommit::new(&chain, 0, unsorted, vec![], 0).is_err());
        let misfit = vec![(StateKey::Nonce(PublicKey([1; 32])), StateValue::Balance(1))];
        assert!(BlockCommit::new(&chain, 0, misfit, vec![], 0).is_err());
        assert!(BlockCommit::new(&chain, 1, writes(), vec![], 0).is_err());
        assert!(BlockCommit::new(&chain, 0, writes(), vec![Hash::ZERO, Hash::ZERO], 0).is_err());
        let commit = BlockCommit::new(&chain, 0, writes(), vec![], 7).expect("well-formed commit");
        assert_eq!(commit.chain_state().topoheight, Some(0));
        assert_eq!(commit.burned_supply(), 7);
    }
}
