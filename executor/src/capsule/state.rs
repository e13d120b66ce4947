//! The state a capsule carries: the chain state its block ran on and every value the
//! runs read, which is itself a [`StateView`], so a capsule replays with no database.
//!
//! A key the capsule did not record is a storage error, never a silent "absent": an
//! engine that reads beyond what the recorded runs read must not be given a made-up
//! value. [`replay`](super::replay) counts such reads and reports the run as incomplete.

use std::collections::BTreeMap;

use storage_adapter::{ChainState, Hash, StateKey, StateValue, StateView, StorageError};

/// The text that starts the error of a read the capsule cannot answer.
pub const NOT_RECORDED: &str = "not recorded in the capsule";

/// The state a capsule's block ran on; see the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordedState {
    /// The chain state the block ran on.
    pub chain: ChainState,
    /// Every key read, with its value (`None`: absent).
    pub values: BTreeMap<StateKey, Option<StateValue>>,
    /// Every executed-mark lookup, with its answer.
    pub executed: BTreeMap<Hash, bool>,
}

impl RecordedState {
    /// An empty recording on `chain`.
    pub fn new(chain: ChainState) -> Self {
        Self {
            chain,
            ..Self::default()
        }
    }
}

impl StateView for RecordedState {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StorageError> {
        self.values
            .get(key)
            .cloned()
            .ok_or_else(|| StorageError::Other(format!("{NOT_RECORDED}: key {key:?}")))
    }

    fn is_executed(&self, tx_hash: &Hash) -> Result<bool, StorageError> {
        self.executed.get(tx_hash).copied().ok_or_else(|| {
            StorageError::Other(format!("{NOT_RECORDED}: executed mark of {tx_hash}"))
        })
    }

    fn chain_state(&self) -> Result<ChainState, StorageError> {
        Ok(self.chain)
    }
}
