//! Storage that misbehaves on purpose, for the tests of what the engines do then: a view
//! that runs a hook before every read ([`ReadHook`]), and a store whose snapshots all run
//! one ([`HookedStore`]). The hook may delay a read, count it, fail it or panic; every
//! test double of faulty or slow storage is one of these with its own hook.

use storage_adapter::{
    BlockCommit, BlockStore, ChainState, Hash, MemorySnapshot, MemoryStore, StateKey, StateValue,
    StateView, StorageError,
};

/// A read a hook is told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageRead<'a> {
    /// The value at a key ([`StateView::get`]).
    Value(&'a StateKey),
    /// A transaction's executed mark ([`StateView::is_executed`]).
    Executed(&'a Hash),
}

/// A view that runs `hook` before every read of `inner`: the hook's error is returned
/// instead of the value, and its panic is the read's. The chain state goes straight
/// through.
pub struct ReadHook<V, F> {
    /// The view read.
    pub inner: V,
    /// Called before each read.
    pub hook: F,
}

impl<V, F> ReadHook<V, F>
where
    F: Fn(StorageRead<'_>) -> Result<(), StorageError> + Sync,
{
    /// `inner` with `hook` before each read.
    pub fn new(inner: V, hook: F) -> Self {
        Self { inner, hook }
    }
}

impl<V, F> std::fmt::Debug for ReadHook<V, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadHook").finish_non_exhaustive()
    }
}

impl<V, F> StateView for ReadHook<V, F>
where
    V: StateView,
    F: Fn(StorageRead<'_>) -> Result<(), StorageError> + Sync,
{
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StorageError> {
        (self.hook)(StorageRead::Value(key))?;
        self.inner.get(key)
    }

    fn is_executed(&self, tx_hash: &Hash) -> Result<bool, StorageError> {
        (self.hook)(StorageRead::Executed(tx_hash))?;
        self.inner.is_executed(tx_hash)
    }

    fn chain_state(&self) -> Result<ChainState, StorageError> {
        self.inner.chain_state()
    }
}

/// What a [`HookedStore`] runs before each read of its snapshots.
pub type StoreHook = dyn Fn(StorageRead<'_>) -> Result<(), StorageError> + Send + Sync;

/// A memory store whose every snapshot is a [`ReadHook`] with the store's hook; commits
/// go straight through.
pub struct HookedStore {
    /// The store underneath (read and committed directly by the test, without the hook).
    pub inner: MemoryStore,
    hook: Box<StoreHook>,
}

impl HookedStore {
    /// `inner` with `hook` before each read of its snapshots.
    pub fn new(
        inner: MemoryStore,
        hook: impl Fn(StorageRead<'_>) -> Result<(), StorageError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            inner,
            hook: Box::new(hook),
        }
    }
}

impl std::fmt::Debug for HookedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookedStore").finish_non_exhaustive()
    }
}

impl BlockStore for HookedStore {
    type Snapshot<'a> = ReadHook<MemorySnapshot, &'a StoreHook>;

    fn snapshot(&self) -> Result<Self::Snapshot<'_>, StorageError> {
        Ok(ReadHook::new(self.inner.snapshot()?, &*self.hook))
    }

    fn commit(&self, commit: &BlockCommit) -> Result<(), StorageError> {
        self.inner.commit(commit)
    }
}
