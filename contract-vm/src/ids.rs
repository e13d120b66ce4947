//! The identifiers a call names: contracts, storage keys and stored values.
//!
//! They sit on Block-STM's hot path (every syscall that touches state becomes a versioned
//! key), so they are small fixed-size values that are cheap to copy, compare and hash.
//! All of them are the workspace's own state types from `storage-adapter`, so the
//! executor maps nothing between the VM and the store.

pub use storage_adapter::{Asset, ContractId, PublicKey, StorageKey, StorageValue};
