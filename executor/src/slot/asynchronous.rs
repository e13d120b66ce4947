//! The slot for a tokio daemon: an async `execute_block` that runs the engine on a thread
//! of its own, never on the runtime's workers, and that is safe to cancel.
//!
//! Execution only reads (a snapshot) and returns an output; committing is the caller's
//! step. So a dropped future can never leave anything half-committed. What it must not
//! leave is a thread still burning cores on a block nobody wants: dropping the future
//! raises a flag that the engine's storage view checks on every read, the engine stops
//! with [`StorageError::Cancelled`] at its next read, and its threads end.
//! [`AsyncExecutor::wait_idle`] waits for that.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use storage_adapter::{
    BlockStore, ChainState, Hash, StateKey, StateValue, StateView, StorageError,
};
use tokio::sync::{oneshot, watch};

use super::{ExecutorSlot, SlotExecution};
use crate::model::Block;
use crate::outcome::BlockError;
use blockstm_driver::panic_message;

/// Why an async execution gave no output.
#[derive(Debug, thiserror::Error)]
pub enum AsyncExecuteError {
    /// The block was rejected, exactly as the synchronous slot would reject it.
    #[error(transparent)]
    Block(#[from] BlockError),
    /// The operating system refused a thread.
    #[error("could not start an execution thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// The execution thread panicked outside the engine's own panic handling.
    #[error("the execution thread panicked: {0}")]
    Panicked(String),
}

/// An [`ExecutorSlot`] behind an async API; cheap to clone (clones share the slot).
///
/// ```
/// use std::sync::Arc;
/// use executor::slot::{AsyncExecutor, ExecutorConfig, ExecutorSlot};
/// use executor::{genesis_commit, Block};
/// use storage_adapter::{Asset, BlockStore, MemoryStore, PublicKey};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let store = Arc::new(MemoryStore::new());
/// let miner = PublicKey::from_index(0);
/// store.commit(&genesis_commit(&[(miner, Asset::TOS, 1_000)])?)?;
/// let executor = AsyncExecutor::new(ExecutorSlot::new(&ExecutorConfig::default())?);
/// let block = Arc::new(Block::new(1, miner, 50, Vec::new()));
/// let executed = executor.execute_block(block, Arc::clone(&store)).await?;
/// store.commit(&executed.execution.output.commit)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct AsyncExecutor {
    slot: Arc<ExecutorSlot>,
    /// How many execution threads are running.
    running: Arc<watch::Sender<usize>>,
}

impl AsyncExecutor {
    /// Wraps `slot`.
    pub fn new(slot: ExecutorSlot) -> Self {
        Self {
            slot: Arc::new(slot),
            running: Arc::new(watch::Sender::new(0)),
        }
    }

    /// The slot (its configuration and counters).
    pub fn slot(&self) -> &ExecutorSlot {
        &self.slot
    }

    /// Executes `block` against a snapshot of `store` taken on the execution thread.
    /// Nothing is committed. Dropping the future cancels the execution (see the module
    /// docs); the thread ends at the engine's next storage read.
    pub async fn execute_block<S>(
        &self,
        block: Arc<Block>,
        store: Arc<S>,
    ) -> Result<SlotExecution, AsyncExecuteError>
    where
        S: BlockStore + 'static,
    {
        let cancelled = Arc::new(AtomicBool::new(false));
        let (sender, receiver) = oneshot::channel();
        let slot = Arc::clone(&self.slot);
        let running = RunningThread::start(Arc::clone(&self.running));
        let span = tracing::Span::current();
        let flag = Arc::clone(&cancelled);
        std::thread::Builder::new()
            .name("tos-executor".into())
            .spawn(move || {
                let _running = running;
                // Dropped before `_running` (locals drop in reverse): once `wait_idle`
                // sees this thread gone, it holds no handle on the store any more, so
                // the caller may close the database.
                let store = store;
                let _entered = span.enter();
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    let snapshot = store.snapshot()?;
                    let view = CancellableView {
                        inner: &snapshot,
                        cancelled: &flag,
                    };
                    slot.execute(&block, &view)
                }));
                // The receiver is gone when the caller was cancelled: nothing to do.
                let _ = sender.send(result);
            })
            .map_err(AsyncExecuteError::Spawn)?;
        let _cancel_on_drop = CancelOnDrop(cancelled);
        match receiver.await {
            Ok(Ok(result)) => result.map_err(AsyncExecuteError::Block),
            Ok(Err(panic)) => Err(AsyncExecuteError::Panicked(panic_message(panic.as_ref()))),
            Err(_) => Err(AsyncExecuteError::Panicked(
                "the execution thread ended without a result".to_owned(),
            )),
        }
    }

    /// How many execution threads are running now (cancelled ones included, until they
    /// reach their next storage read).
    pub fn running(&self) -> usize {
        *self.running.borrow()
    }

    /// Waits until no execution thread is running.
    pub async fn wait_idle(&self) {
        let mut running = self.running.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = running.wait_for(|count| *count == 0).await;
    }
}

/// Counts a running execution thread for as long as it lives.
struct RunningThread(Arc<watch::Sender<usize>>);

impl RunningThread {
    fn start(running: Arc<watch::Sender<usize>>) -> Self {
        running.send_modify(|count| *count += 1);
        Self(running)
    }
}

impl Drop for RunningThread {
    fn drop(&mut self) {
        self.0.send_modify(|count| *count -= 1);
    }
}

/// Raises the cancellation flag when the awaiting future goes away (after the result
/// arrived it is harmless: the thread has finished reading).
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A view that refuses every read once its caller has gone.
struct CancellableView<'a, V> {
    inner: &'a V,
    cancelled: &'a AtomicBool,
}

impl<V: StateView> CancellableView<'_, V> {
    fn check(&self) -> Result<(), StorageError> {
        // Relaxed: the flag carries no data, and a read that misses it by a few
        // nanoseconds only costs one more read.
        if self.cancelled.load(Ordering::Relaxed) {
            Err(StorageError::Cancelled)
        } else {
            Ok(())
        }
    }
}

impl<V: StateView> StateView for CancellableView<'_, V> {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StorageError> {
        self.check()?;
        self.inner.get(key)
    }

    fn is_executed(&self, tx_hash: &Hash) -> Result<bool, StorageError> {
        self.check()?;
        self.inner.is_executed(tx_hash)
    }

    fn chain_state(&self) -> Result<ChainState, StorageError> {
        self.check()?;
        self.inner.chain_state()
    }
}
