//! A block's effects as a store applies them, and the state root that seals them.

use crate::state::{
    StateKey, StateValue, MAX_MODULE_LEN, MAX_MULTISIG_PARTICIPANTS, MAX_STORAGE_VALUE_LEN,
};
use crate::state_root::state_root_on;
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
        executed: Vec<Hash>,
        burned_supply: u64,
    ) -> Result<Self, StorageError> {
        Self::new_on(1, previous, topoheight, writes, executed, burned_supply)
    }

    /// [`BlockCommit::new`] with the state root hashed on two threads when `threads` is 2
    /// or more and the block is large enough to gain from it. The commit, state root
    /// included, is the same for any thread count.
    pub fn new_on(
        threads: usize,
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
        // Linear when the caller already sorted them, as the executor's epilogue does.
        executed.sort_unstable();
        if executed.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(StorageError::InvalidCommit(
                "a transaction hash is marked twice".into(),
            ));
        }
        let state_root = state_root_on(
            threads,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_root::tests::writes;
    use crate::types::{Asset, PublicKey};

    #[test]
    fn commit_is_the_same_on_any_thread_count() {
        // Large enough that two threads hash the root in two halves.
        let writes: Vec<_> = (0..2_000u64)
            .map(|index| {
                let account = PublicKey::from_index(index);
                (
                    StateKey::Balance(account, Asset::TOS),
                    StateValue::Balance(index),
                )
            })
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .collect();
        let executed: Vec<Hash> = (0..2_000u64)
            .map(|index| Hash::digest(&index.to_le_bytes()))
            .collect();
        let chain = ChainState::default();
        let one = BlockCommit::new(&chain, 0, writes.clone(), executed.clone(), 3)
            .expect("well-formed commit");
        for threads in [0, 2, usize::MAX] {
            let other =
                BlockCommit::new_on(threads, &chain, 0, writes.clone(), executed.clone(), 3)
                    .expect("well-formed commit");
            assert_eq!(other, one, "{threads} threads");
        }
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
