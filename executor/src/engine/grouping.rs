//! The batch grouping engine: the TOS daemon's pessimistic parallel path, kept as the
//! baseline Block-STM is measured against.
//!
//! The accounts of a transaction are its source and its transfer destinations. Batches
//! are formed greedily in block order ([`batches`]): a new batch starts at the first
//! transaction that touches an account already in the current batch. The batches run one
//! after another; the transactions of a batch run in parallel, each against a view made of
//! the writes of the earlier batches, then the block prologue, then storage.
//!
//! That is exactly the oracle's result: every key a transaction reads or writes (the
//! source's nonce, balances and multisig, the destinations' balances) belongs to one of its
//! accounts, and no other transaction of its batch touches those accounts, so what it sees
//! is what it would see in block order. The miner's TOS balance is no exception: the
//! prologue writes it under every transaction and the fee credit comes after all of them
//! (in [`finish_block_on`]); a transaction paying or paid by the miner simply has the miner
//! among its accounts. Fees and burns are folded in block order with [`Totals`], so a
//! block error is the oracle's too.
//!
//! How it runs, for speed (it is a baseline: a weak one would prove nothing):
//!
//! - worker threads are spawned once per block (`std::thread::scope`) and wait between
//!   batches (a spin of a few tens of microseconds, then yields, then a condition
//!   variable); the calling thread coordinates and works too;
//! - within a batch, workers claim chunks of transactions from one atomic word that also
//!   names the batch, so a late worker can never claim from a batch that is over;
//! - the writes of earlier batches live in one map that workers read without a lock per
//!   read (one read guard per worker and batch); the calling thread merges each batch's
//!   writes into it between batches and folds the results in block order (this merge is
//!   the serial part the design cannot avoid: the block's writes end up in one map);
//! - batches smaller than four times the thread count run inline on the calling thread
//!   (a run of them as one sequential loop, exactly the oracle's), and a block with no
//!   batch that large starts no thread at all;
//! - a VM panic ends the attempt, never the block: the engine falls back to the sequential
//!   oracle, loudly (`tracing::warn` and [`fallback_count`]).
//!
//! ```
//! use executor::engine::grouping::{GroupingConfig, GroupingExecutor};
//! use executor::engine::BlockExecutor;
//!
//! let engine = GroupingExecutor::new(GroupingConfig { threads: 4 });
//! assert_eq!(engine.name(), "grouping");
//! ```

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;
use storage_adapter::{Hash, PublicKey, StateKey, StateValue, StateView, StorageError};

use super::sequential::execute_sequential;
use super::{BlockExecutor, Execution, ExecutionStats};
use crate::block::{finish_block_on, validate_block, Prologue, Totals};
use crate::model::{Block, Transaction};
use crate::outcome::{BlockError, BlockOutput, TxResult};
use crate::vm::{execute_transaction, VmView};

/// Fallbacks to sequential execution since the process started, for metrics.
static FALLBACKS: AtomicU64 = AtomicU64::new(0);

/// How many times any grouping engine in this process fell back to sequential execution.
pub fn fallback_count() -> u64 {
    FALLBACKS.load(Ordering::Relaxed)
}

/// Batches with fewer transactions than this many per thread run inline on the calling
/// thread: handing them to the workers costs more than it saves. (Measured on p2p blocks
/// at 2 threads: with 2 per thread, the batches of 30 to 1000 accounts ran 5 to 15%
/// slower on two threads than on one; with 4, within noise of it.)
const INLINE_PER_THREAD: usize = 4;

/// Settings of the grouping engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupingConfig {
    /// Threads that execute a batch, the calling thread included. 1 runs every batch on
    /// the calling thread.
    pub threads: usize,
}

impl Default for GroupingConfig {
    /// As many threads as the machine runs in parallel.
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

/// What the grouping engine did beyond [`ExecutionStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupingStats {
    /// Batches the block was split into (0 for an empty block, and for a block that fell
    /// back to sequential execution).
    pub batches: u64,
    /// Of those, the batches large enough to be handed to the worker threads; the others
    /// ran inline on the calling thread.
    pub parallel_batches: u64,
}

impl GroupingStats {
    /// Adds another block's counters (for totals over a run).
    pub fn accumulate(&mut self, other: &GroupingStats) {
        self.batches += other.batches;
        self.parallel_batches += other.parallel_batches;
    }
}

/// The batch grouping [`BlockExecutor`].
#[derive(Clone, Debug, Default)]
pub struct GroupingExecutor {
    config: GroupingConfig,
}

impl GroupingExecutor {
    /// An engine with these settings.
    pub fn new(config: GroupingConfig) -> Self {
        Self { config }
    }

    /// The engine's settings.
    pub fn config(&self) -> &GroupingConfig {
        &self.config
    }

    /// Executes `block` on `view`; see [`BlockExecutor::execute_block`].
    pub fn execute<S: StateView + ?Sized>(
        &self,
        block: &Block,
        view: &S,
    ) -> Result<Execution, BlockError> {
        self.execute_with_stats(block, view)
            .map(|(execution, _)| execution)
    }

    /// [`GroupingExecutor::execute`], also reporting the batches.
    pub fn execute_with_stats<S: StateView + ?Sized>(
        &self,
        block: &Block,
        view: &S,
    ) -> Result<(Execution, GroupingStats), BlockError> {
        let transactions = block.transactions().len();
        let span = tracing::debug_span!("grouping", topoheight = block.topoheight(), transactions);
        let _entered = span.enter();
        let threads = self.config.threads.max(1);
        match execute_grouped(block, view, threads) {
            Ok((output, grouping)) => {
                tracing::debug!(
                    batches = grouping.batches,
                    parallel_batches = grouping.parallel_batches,
                    "block executed"
                );
                let stats = ExecutionStats::sequential(transactions);
                Ok((Execution { output, stats }, grouping))
            }
            Err(GroupingError::Block(error)) => Err(error),
            Err(GroupingError::Engine(reason)) => {
                FALLBACKS.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%reason, "batch grouping failed; executing the block sequentially instead");
                let output = execute_sequential(block, view)?;
                let stats = ExecutionStats {
                    fallbacks: 1,
                    ..ExecutionStats::sequential(transactions)
                };
                Ok((Execution { output, stats }, GroupingStats::default()))
            }
        }
    }
}

impl BlockExecutor for GroupingExecutor {
    fn name(&self) -> &'static str {
        "grouping"
    }

    fn execute_block(&self, block: &Block, view: &dyn StateView) -> Result<Execution, BlockError> {
        self.execute(block, view)
    }
}

/// Splits `transactions` into batches, greedily in block order: a batch ends just before
/// the first transaction that touches (as source or transfer destination) an account that
/// an earlier transaction of the batch touches. The ranges cover `0..transactions.len()`
/// in order; no two transactions of one batch share an account.
pub fn batches(transactions: &[Transaction]) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    // The last transaction that touched each account: it is in the current batch exactly
    // when it is at or after the batch's start, so the map is never cleared.
    let mut last: FxHashMap<PublicKey, usize> = FxHashMap::with_capacity_and_hasher(
        transactions.len().saturating_mul(2),
        Default::default(),
    );
    let mut start = 0;
    for (index, tx) in transactions.iter().enumerate() {
        let mut conflict = false;
        let mut touch = |account: &PublicKey| {
            if let Some(previous) = last.insert(*account, index) {
                // `previous == index`: the transaction names the account twice.
                conflict |= previous >= start && previous != index;
            }
        };
        tx.accounts().for_each(&mut touch);
        if conflict {
            ranges.push(start..index);
            start = index;
        }
    }
    if start < transactions.len() {
        ranges.push(start..transactions.len());
    }
    ranges
}

/// Why the grouped path gave no output.
enum GroupingError {
    /// The block itself is in error: every engine reports the same.
    Block(BlockError),
    /// The engine failed (a panic, a broken invariant): fall back to sequential.
    Engine(String),
}

impl From<BlockError> for GroupingError {
    fn from(error: BlockError) -> Self {
        GroupingError::Block(error)
    }
}

impl From<StorageError> for GroupingError {
    fn from(error: StorageError) -> Self {
        GroupingError::Block(error.into())
    }
}

/// What the totals fold and the block output need of an executed transaction, once its
/// writes have gone to the overlay.
struct Summary {
    result: TxResult,
    fee: u64,
    burned: u64,
}

/// A transaction's execution: its summary, or the block error its reads ran into.
type Executed = Result<Summary, BlockError>;

/// One participant's share of a parallel batch: its transactions' writes, flattened, and
/// their summaries by block index.
#[derive(Default)]
struct BatchOutput {
    writes: Vec<(StateKey, StateValue)>,
    executed: Vec<(usize, Executed)>,
}

/// The block's results and totals so far, folded in block order.
struct Fold {
    results: Vec<TxResult>,
    totals: Totals,
}

impl Fold {
    /// Folds the next transaction in block order ([`Totals`] checks the sums).
    fn push(&mut self, summary: Summary) -> Result<(), BlockError> {
        self.totals.add_amounts(summary.fee, summary.burned)?;
        self.results.push(summary.result);
        Ok(())
    }
}

fn execute_grouped<S: StateView + ?Sized>(
    block: &Block,
    view: &S,
    threads: usize,
) -> Result<(BlockOutput, GroupingStats), GroupingError> {
    let chain = view.chain_state()?;
    validate_block(block, &chain)?;
    let prologue = Prologue::new(block, view)?;
    let transactions = block.transactions();
    if transactions.len() >= 1 << INDEX_BITS {
        return Err(GroupingError::Engine(format!(
            "{} transactions do not fit the claim word",
            transactions.len()
        )));
    }
    let ranges = batches(transactions);
    let inline_below = threads.saturating_mul(INLINE_PER_THREAD);
    let workers = if ranges.iter().any(|range| range.len() >= inline_below) {
        threads - 1
    } else {
        0
    };

    let shared = Shared {
        threads: workers + 1,
        transactions,
        storage: view,
        prologue: &prologue,
        // Roughly three keys per transfer, as in the oracle.
        overlay: RwLock::new(FxHashMap::with_capacity_and_hasher(
            transactions.len().saturating_mul(3),
            Default::default(),
        )),
        job: AtomicU64::new(0),
        completed: AtomicUsize::new(0),
        target: AtomicUsize::new(0),
        outputs: Mutex::new(Vec::new()),
        spare: Mutex::new(Vec::new()),
        panic: Mutex::new(None),
        panicked: AtomicBool::new(false),
        shutdown: AtomicBool::new(false),
        start: Signal::default(),
        done: Signal::default(),
    };
    let mut fold = Fold {
        results: Vec::with_capacity(transactions.len()),
        totals: Totals::default(),
    };
    let mut stats = GroupingStats::default();

    std::thread::scope(|scope| {
        let mut spawned = 0;
        for worker in 0..workers {
            let shared = &shared;
            let started = std::thread::Builder::new()
                .name(format!("grouping-{worker}"))
                .spawn_scoped(scope, move || shared.work());
            match started {
                Ok(_) => spawned += 1,
                Err(error) => {
                    // The calling thread does every batch's work if need be.
                    tracing::warn!(%error, "could not start a grouping worker");
                    break;
                }
            }
        }
        // Stops the workers however the coordination ends, panics included, so that the
        // scope can join them.
        let _stop = StopOnDrop(&shared);
        shared.coordinate(&ranges, inline_below, spawned > 0, &mut fold, &mut stats)
    })?;

    let writes = shared
        .overlay
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    let output = finish_block_on(
        threads,
        block,
        view,
        &prologue,
        writes,
        fold.results,
        fold.totals,
    )?;
    Ok((output, stats))
}

/// Bits of a transaction index in the claim word (blocks hold at most 65535).
const INDEX_BITS: u32 = 20;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;

/// The claim word: `epoch` (the batch's number among the parallel batches) in the top
/// bits, then the next unclaimed index, then the batch's end.
fn pack(epoch: u64, next: usize, end: usize) -> u64 {
    (epoch << (2 * INDEX_BITS)) | ((next as u64) << INDEX_BITS) | end as u64
}

fn unpack(word: u64) -> (u64, usize, usize) {
    (
        word >> (2 * INDEX_BITS),
        ((word >> INDEX_BITS) & INDEX_MASK) as usize,
        (word & INDEX_MASK) as usize,
    )
}

/// What the coordinator and the workers of one block share.
struct Shared<'a, S: ?Sized> {
    /// Threads taking part, the calling thread included.
    threads: usize,
    transactions: &'a [Transaction],
    storage: &'a S,
    prologue: &'a Prologue,
    /// The writes of the batches merged so far. Workers hold a read guard while they
    /// execute a batch; the coordinator writes between batches.
    overlay: RwLock<FxHashMap<StateKey, StateValue>>,
    /// The current parallel batch and its next unclaimed transaction; see [`pack`].
    job: AtomicU64,
    /// Transactions of the current parallel batch whose outputs are in `outputs`.
    completed: AtomicUsize,
    /// The current parallel batch's size.
    target: AtomicUsize,
    /// Each participant's output for the current parallel batch.
    outputs: Mutex<Vec<BatchOutput>>,
    /// Emptied outputs, kept for their allocations.
    spare: Mutex<Vec<BatchOutput>>,
    /// The first panic's message.
    panic: Mutex<Option<String>>,
    panicked: AtomicBool,
    shutdown: AtomicBool,
    /// Wakes workers when a batch is published (or on shutdown).
    start: Signal,
    /// Wakes the coordinator when the current batch is complete.
    done: Signal,
}

/// A condition variable for sleepers that have already spun; wakers skip the system call
/// when nobody sleeps.
#[derive(Default)]
struct Signal {
    lock: Mutex<()>,
    cond: Condvar,
    sleepers: AtomicUsize,
}

impl Signal {
    fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `ready` says so: spins for a few tens of microseconds (about the gap
    /// between two parallel batches), then yields the core for a while, then sleeps (a
    /// waker makes `ready` true, then calls [`Signal::notify`]).
    fn wait_until<T>(&self, mut ready: impl FnMut() -> Option<T>) -> T {
        let started = Instant::now();
        let mut elapsed = Duration::ZERO;
        for round in 0u32.. {
            if let Some(value) = ready() {
                return value;
            }
            if round % 16 == 0 {
                elapsed = started.elapsed();
                if elapsed >= SLEEP_AFTER {
                    break;
                }
            }
            if elapsed < SPIN_FOR {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        let mut guard = self.lock();
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let value = loop {
            // Pairs with the fence in `notify`: either the waker sees this sleeper, or
            // this check sees what the waker published.
            fence(Ordering::SeqCst);
            if let Some(value) = ready() {
                break value;
            }
            guard = self
                .cond
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        };
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        value
    }

    /// Wakes every sleeper, after the caller published what they wait for. Taking the
    /// lock orders the wake after a sleeper's last check.
    fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) == 0 {
            return;
        }
        drop(self.lock());
        self.cond.notify_all();
    }
}

/// How long a waiter spins before it starts yielding its core.
const SPIN_FOR: Duration = Duration::from_micros(50);
/// How long a waiter spins and yields before it sleeps (a long run of inline batches).
const SLEEP_AFTER: Duration = Duration::from_millis(2);

/// Stops the workers when dropped.
struct StopOnDrop<'s, 'a, S: ?Sized>(&'s Shared<'a, S>);

impl<S: ?Sized> Drop for StopOnDrop<'_, '_, S> {
    fn drop(&mut self) {
        self.0.shutdown.store(true, Ordering::Release);
        self.0.start.notify();
    }
}

impl<S: StateView + ?Sized> Shared<'_, S> {
    /// The calling thread: runs the batches in order, inline or with the workers, merges
    /// their writes and folds their results in block order.
    fn coordinate(
        &self,
        ranges: &[Range<usize>],
        inline_below: usize,
        have_workers: bool,
        fold: &mut Fold,
        stats: &mut GroupingStats,
    ) -> Result<(), GroupingError> {
        let mut epoch = 0;
        // A parallel batch's summaries, by position in the batch.
        let mut slots: Vec<Option<Executed>> = Vec::new();
        let inline = |range: &Range<usize>| !have_workers || range.len() < inline_below;
        let mut next = 0;
        while let Some(range) = ranges.get(next) {
            if inline(range) {
                // A run of small batches goes in one go, in block order: exactly the
                // oracle's loop (the transactions of a batch cannot see each other's
                // writes anyway), with one lock and one unwind guard for the whole run.
                let first = next;
                while ranges.get(next).is_some_and(inline) {
                    next += 1;
                }
                stats.batches += (next - first) as u64;
                let run = range.start..ranges[next - 1].end;
                let mut guard = self.overlay.write().unwrap_or_else(PoisonError::into_inner);
                let overlay: &mut FxHashMap<StateKey, StateValue> = &mut guard;
                let transactions = self.transactions.get(run.clone()).ok_or_else(|| {
                    GroupingError::Engine(format!("batches {run:?} beyond the block"))
                })?;
                catch_unwind(AssertUnwindSafe(|| {
                    for tx in transactions {
                        let outcome = execute_transaction(
                            tx,
                            &mut BatchView {
                                overlay,
                                prologue: self.prologue,
                                storage: self.storage,
                            },
                        )?;
                        fold.totals.add(&outcome)?;
                        overlay.extend(outcome.writes);
                        fold.results.push(outcome.result);
                    }
                    Ok::<(), BlockError>(())
                }))
                .map_err(|payload| {
                    GroupingError::Engine(format!("panic: {}", panic_message(&*payload)))
                })??;
                continue;
            }
            next += 1;

            stats.batches += 1;
            stats.parallel_batches += 1;
            epoch += 1;
            self.completed.store(0, Ordering::Relaxed);
            self.target.store(range.len(), Ordering::Relaxed);
            self.job
                .store(pack(epoch, range.start, range.end), Ordering::Release);
            self.start.notify();
            self.participate(epoch);
            self.done.wait_until(|| {
                (self.completed.load(Ordering::Acquire) >= range.len()).then_some(())
            });
            if self.panicked.load(Ordering::Acquire) {
                let message = self
                    .panic
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
                    .unwrap_or_default();
                return Err(GroupingError::Engine(format!("panic: {message}")));
            }

            let mut outputs =
                std::mem::take(&mut *self.outputs.lock().unwrap_or_else(PoisonError::into_inner));
            slots.clear();
            slots.resize_with(range.len(), || None);
            {
                let mut overlay = self.overlay.write().unwrap_or_else(PoisonError::into_inner);
                for output in &mut outputs {
                    // The transactions of a batch write disjoint keys: any order will do.
                    overlay.extend(output.writes.drain(..));
                    for (index, executed) in output.executed.drain(..) {
                        let slot = index
                            .checked_sub(range.start)
                            .and_then(|offset| slots.get_mut(offset))
                            .ok_or_else(|| {
                                GroupingError::Engine(format!(
                                    "output for transaction {index}, outside batch {range:?}"
                                ))
                            })?;
                        *slot = Some(executed);
                    }
                }
            }
            self.spare
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .append(&mut outputs);
            for (offset, slot) in slots.drain(..).enumerate() {
                match slot {
                    Some(executed) => fold.push(executed?)?,
                    None => {
                        return Err(GroupingError::Engine(format!(
                            "transaction {} has no output",
                            range.start + offset
                        )))
                    }
                }
            }
        }
        Ok(())
    }

    /// A worker thread: takes part in each published batch until shutdown.
    fn work(&self) {
        let mut seen = 0;
        loop {
            let epoch = self.start.wait_until(|| {
                if self.shutdown.load(Ordering::Acquire) {
                    return Some(None);
                }
                let (epoch, _, _) = unpack(self.job.load(Ordering::Acquire));
                (epoch != seen).then_some(Some(epoch))
            });
            let Some(epoch) = epoch else { return };
            seen = epoch;
            self.participate(epoch);
        }
    }

    /// Claims and executes transactions of parallel batch `epoch` until none is left,
    /// then hands over the output. Always accounts for what it claimed, panic or not, so
    /// the coordinator never waits forever.
    fn participate(&self, epoch: u64) {
        let mut output = None;
        let mut claimed = 0;
        let run = catch_unwind(AssertUnwindSafe(|| {
            self.execute_claims(epoch, &mut output, &mut claimed)
        }));
        if let Err(payload) = run {
            let mut first = self.panic.lock().unwrap_or_else(PoisonError::into_inner);
            first.get_or_insert_with(|| panic_message(&*payload));
            self.panicked.store(true, Ordering::Release);
        }
        if claimed == 0 {
            return;
        }
        if let Some(output) = output {
            self.outputs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(output);
        }
        let completed = self.completed.fetch_add(claimed, Ordering::AcqRel) + claimed;
        if completed >= self.target.load(Ordering::Relaxed) {
            self.done.notify();
        }
    }

    fn execute_claims(&self, epoch: u64, output: &mut Option<BatchOutput>, claimed: &mut usize) {
        let mut guard = None;
        while let Some(range) = self.claim(epoch) {
            *claimed += range.len();
            // Taken after a successful claim: the batch is not complete, so the
            // coordinator is not writing.
            let overlay: &FxHashMap<StateKey, StateValue> = guard
                .get_or_insert_with(|| self.overlay.read().unwrap_or_else(PoisonError::into_inner));
            let output = output.get_or_insert_with(|| {
                self.spare
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pop()
                    .unwrap_or_default()
            });
            for (index, tx) in range
                .clone()
                .zip(self.transactions.get(range).unwrap_or_default())
            {
                let mut view = BatchView {
                    overlay,
                    prologue: self.prologue,
                    storage: self.storage,
                };
                let executed = execute_transaction(tx, &mut view)
                    .map(|outcome| {
                        output.writes.extend(outcome.writes);
                        Summary {
                            result: outcome.result,
                            fee: outcome.fee,
                            burned: outcome.burned,
                        }
                    })
                    .map_err(BlockError::from);
                output.executed.push((index, executed));
            }
        }
    }

    /// The next chunk of parallel batch `epoch`, if that batch is current and not fully
    /// claimed. Chunks shrink as the batch drains (a share of what is left), so the
    /// threads finish together.
    fn claim(&self, epoch: u64) -> Option<Range<usize>> {
        let mut word = self.job.load(Ordering::Acquire);
        loop {
            let (current, next, end) = unpack(word);
            if current != epoch || next >= end {
                return None;
            }
            let left = end - next;
            let chunk = (left / (4 * self.threads)).clamp(1, MAX_CHUNK);
            let claimed_end = next + chunk.min(left);
            match self.job.compare_exchange_weak(
                word,
                pack(epoch, claimed_end, end),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(next..claimed_end),
                Err(actual) => word = actual,
            }
        }
    }
}

/// Largest chunk claimed at once (a chunk is otherwise a quarter of an even share of
/// what is left of the batch).
const MAX_CHUNK: usize = 32;

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// A transaction's view: the earlier batches' writes, then the prologue, then storage.
struct BatchView<'a, S: ?Sized> {
    overlay: &'a FxHashMap<StateKey, StateValue>,
    prologue: &'a Prologue,
    storage: &'a S,
}

impl<S: StateView + ?Sized> VmView for BatchView<'_, S> {
    type Error = StorageError;

    fn read(&mut self, key: &StateKey) -> Result<Option<StateValue>, StorageError> {
        if let Some(value) = self.overlay.get(key).or_else(|| self.prologue.get(key)) {
            return Ok(Some(value.clone()));
        }
        self.storage.get(key)
    }

    fn is_executed(&mut self, tx_hash: &Hash) -> Result<bool, StorageError> {
        self.storage.is_executed(tx_hash)
    }
}

#[cfg(test)]
mod tests {
    use storage_adapter::{Asset, BlockStore, MemoryStore};

    use super::*;
    use crate::model::{Payload, Transfer};

    fn account(index: u64) -> PublicKey {
        PublicKey::from_index(index)
    }

    fn pay(source: u64, nonce: u64, destinations: &[u64]) -> Transaction {
        let transfers = destinations
            .iter()
            .map(|&destination| Transfer::new(Asset::TOS, account(destination), 1))
            .collect();
        Transaction::new(account(source), nonce, 1, Payload::Transfers(transfers))
    }

    #[test]
    fn empty_block_has_no_batch() {
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn hot_receiver_gives_one_transaction_per_batch() {
        let txs: Vec<_> = (1..=5).map(|source| pay(source, 0, &[0])).collect();
        assert_eq!(batches(&txs), vec![0..1, 1..2, 2..3, 3..4, 4..5]);
    }

    #[test]
    fn disjoint_transactions_share_one_batch() {
        let txs: Vec<_> = (0..5).map(|i| pay(2 * i, 0, &[2 * i + 1])).collect();
        assert_eq!(batches(&txs), vec![0..5]);
    }

    #[test]
    fn a_chain_splits_where_an_account_repeats() {
        // A → B, B → C: B is in both.
        let txs = vec![pay(0, 0, &[1]), pay(1, 0, &[2])];
        assert_eq!(batches(&txs), vec![0..1, 1..2]);
        // A → B, C → D, D → A: the third touches D (and A) again; then E → F joins it.
        let txs = vec![
            pay(0, 0, &[1]),
            pay(2, 0, &[3]),
            pay(3, 0, &[0]),
            pay(4, 0, &[5]),
        ];
        assert_eq!(batches(&txs), vec![0..2, 2..4]);
    }

    #[test]
    fn same_sender_twice_splits() {
        let txs = vec![pay(0, 0, &[1]), pay(0, 1, &[2])];
        assert_eq!(batches(&txs), vec![0..1, 1..2]);
    }

    #[test]
    fn a_destination_named_twice_in_one_transaction_is_no_conflict() {
        let txs = vec![pay(0, 0, &[1, 1, 2]), pay(3, 0, &[4])];
        assert_eq!(batches(&txs), vec![0..2]);
    }

    #[test]
    fn burns_and_multisig_touch_only_the_source() {
        let burn = Transaction::new(
            account(0),
            0,
            1,
            Payload::Burn {
                asset: Asset::TOS,
                amount: 1,
            },
        );
        let multisig = Transaction::new(
            account(1),
            0,
            1,
            Payload::Multisig {
                threshold: 1,
                // Participants are not accounts of the transaction.
                participants: vec![account(0)],
            },
        );
        let txs = vec![burn, multisig, pay(2, 0, &[3]), pay(1, 1, &[4])];
        assert_eq!(batches(&txs), vec![0..3, 3..4]);
    }

    #[test]
    fn pack_round_trips() {
        for (epoch, next, end) in [(0, 0, 0), (1, 5, 9), (70_000, 65_535, 65_535)] {
            assert_eq!(unpack(pack(epoch, next, end)), (epoch, next, end));
        }
    }

    /// A store where `accounts` each hold `balance` TOS, registered.
    fn store(accounts: u64, balance: u64) -> MemoryStore {
        MemoryStore::with_state((0..accounts).flat_map(|index| {
            [
                (StateKey::Nonce(account(index)), StateValue::Nonce(0)),
                (
                    StateKey::Balance(account(index), Asset::TOS),
                    StateValue::Balance(balance),
                ),
            ]
        }))
    }

    #[test]
    fn equals_the_oracle_at_every_thread_count() {
        let store = store(64, 1_000);
        let snapshot = store.snapshot().expect("memory snapshot");
        // Mixed: disjoint pairs (large batches), a hot receiver run (one per batch), the
        // miner paying and being paid, and repeated senders.
        let mut txs = Vec::new();
        let mut nonces = [0u64; 64];
        let mut add = |source: u64, destinations: &[u64]| {
            let nonce = nonces[source as usize];
            nonces[source as usize] += 1;
            txs.push(pay(source, nonce, destinations));
        };
        for i in 0..20 {
            add(2 * i, &[2 * i + 1]);
        }
        for i in 1..10 {
            add(i, &[0]);
        }
        add(7, &[63]);
        add(63, &[7, 8]);
        for i in 0..30 {
            add(i + 30, &[(i + 1) % 30]);
        }
        let block = Block::new(1, account(7), 500, txs);
        let expected = execute_sequential(&block, &snapshot).expect("a valid block");
        for threads in 1..=8 {
            let engine = GroupingExecutor::new(GroupingConfig { threads });
            let (execution, grouping) = engine
                .execute_with_stats(&block, &snapshot)
                .expect("a valid block");
            assert_eq!(execution.output, expected, "{threads} threads");
            assert_eq!(execution.stats.fallbacks, 0);
            assert_eq!(grouping.batches, batches(block.transactions()).len() as u64);
        }
    }

    #[test]
    fn block_errors_are_the_oracles() {
        // Fee overflow in the middle of a large batch.
        let store = store(40, u64::MAX / 2 + 10);
        let snapshot = store.snapshot().expect("memory snapshot");
        let txs: Vec<_> = (0..20)
            .map(|i| {
                let fee = if i == 11 || i == 15 {
                    u64::MAX / 2 + 1
                } else {
                    1
                };
                Transaction::new(
                    account(2 * i),
                    0,
                    fee,
                    Payload::Transfers(vec![Transfer::new(Asset::TOS, account(2 * i + 1), 1)]),
                )
            })
            .collect();
        let block = Block::new(1, account(0), 0, txs);
        let expected = execute_sequential(&block, &snapshot);
        assert_eq!(expected, Err(BlockError::FeeOverflow));
        for threads in 1..=4 {
            let got = GroupingExecutor::new(GroupingConfig { threads })
                .execute(&block, &snapshot)
                .map(|execution| execution.output);
            assert_eq!(got, expected, "{threads} threads");
        }
    }

    /// A view whose reads panic on the grouping worker threads, and are slow elsewhere
    /// (so that the workers surely take part in a batch).
    struct WorkersPanic(MemoryStore);

    impl StateView for WorkersPanic {
        fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StorageError> {
            let on_worker = std::thread::current()
                .name()
                .is_some_and(|name| name.starts_with("grouping-"));
            if on_worker {
                panic!("injected panic on a worker");
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
            self.0.snapshot()?.get(key)
        }

        fn is_executed(&self, tx_hash: &Hash) -> Result<bool, StorageError> {
            self.0.snapshot()?.is_executed(tx_hash)
        }

        fn chain_state(&self) -> Result<storage_adapter::ChainState, StorageError> {
            self.0.snapshot()?.chain_state()
        }
    }

    #[test]
    fn a_panic_in_a_worker_falls_back_to_sequential() {
        let view = WorkersPanic(store(64, 1_000));
        let txs: Vec<_> = (0..32).map(|i| pay(2 * i, 0, &[2 * i + 1])).collect();
        let block = Block::new(1, account(0), 0, txs);
        let expected = execute_sequential(&block, &view.0.snapshot().expect("snapshot"))
            .expect("a valid block");
        let before = fallback_count();
        let execution = GroupingExecutor::new(GroupingConfig { threads: 2 })
            .execute(&block, &view)
            .expect("the fallback executes the block");
        assert_eq!(execution.output, expected);
        assert_eq!(execution.stats.fallbacks, 1);
        assert!(fallback_count() > before);
    }
}
