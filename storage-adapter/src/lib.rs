//! The state of a TOS node and the stores that keep it.
//!
//! This crate is the bottom of the workspace: it knows accounts, assets, nonces, balances,
//! multisig configurations and contracts' modules, balances and storage, but nothing about
//! transactions, execution engines or the contract VM.
//!
//! - [`StateKey`] / [`StateValue`]: one location of state and what it holds.
//! - [`StateView`]: the read side, a consistent snapshot read from many threads.
//! - [`BlockStore`]: the write side, applying a [`BlockCommit`] atomically.
//! - [`MemoryStore`] (tests, benches) and [`RocksStore`] (the node's default).
//! - [`state_root`]: the hash that lets two nodes check they agree on state.

mod commit;
mod memory;
#[cfg(feature = "rocksdb")]
mod rocks;
mod state;
mod state_root;
mod store;
mod types;
mod view;

pub use commit::BlockCommit;
pub use memory::{MemorySnapshot, MemoryStore};
#[cfg(feature = "rocksdb")]
pub use rocks::{RocksOptions, RocksSnapshot, RocksStore};
pub use state::{
    ColumnKey, ModuleCode, MultisigConfig, StateKey, StateValue, StorageValue, MAX_MODULE_LEN,
    MAX_MULTISIG_PARTICIPANTS, MAX_STORAGE_VALUE_LEN,
};
pub use state_root::state_root;
pub use store::BlockStore;
pub use types::{Asset, ContractId, Hash, PublicKey, StorageKey};
pub use view::{ChainState, StateView, StorageError};
