//! Grouping's workers: how the batches of one block run, inline on the calling thread or
//! shared with worker threads, and how their writes and results come back in block order.
//!
//! - worker threads are spawned once per block (`std::thread::scope`) and wait between
//!   batches ([`Signal`]); the calling thread coordinates and works too;
//! - within a batch, workers claim chunks of transactions from one atomic word that also
//!   names the batch, so a late worker can never claim from a batch that is over;
//! - the writes of earlier batches live in one map that workers read without a lock per
//!   read (one read guard per worker and batch); the calling thread merges each batch's
//!   writes into it between batches and folds the results in block order (this merge is
//!   the serial part the design cannot avoid: the block's writes end up in one map);
//! - a run of batches too small to share runs inline on the calling thread, exactly the
//!   oracle's loop;
//! - a panic anywhere ends the attempt with [`GroupingError::Engine`], never the process,
//!   and the workers always stop, so the scope can join them.
//!
//! Why not a pool crate: the threads live exactly as long as the block (scoped, so they
//! borrow the block, the view and the overlay, and none outlives a cancelled or failed
//! block), and the hand-off between batches must cost microseconds, since a block can have
//! hundreds of parallel batches. `std::thread::scope` gives the first; rayon (not a
//! dependency) would give a pool that outlives the block and a join per batch that costs
//! more than the spin hand-off here, for no gain in what is left: a claim word and a
//! barrier.

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};

use rustc_hash::FxHashMap;
use storage_adapter::{StateKey, StateValue, StateView};

use super::signal::Signal;
use super::GroupingError;
use crate::block::{Prologue, Totals};
use crate::engine::frame::TxSummary;
use crate::engine::overlay::OverlayView;
use crate::engine::GroupingCounters;
use crate::model::Transaction;
use crate::outcome::{BlockError, TxResult};
use crate::vm::execute_transaction_on;
use blockstm_driver::panic_message;
use contract_vm::VmKind;

/// The most transactions a block may have to run grouped: indices must fit the claim
/// word (blocks hold at most 65535).
pub(super) const MAX_TRANSACTIONS: usize = 1 << INDEX_BITS;

/// What the batches of a block left: the block's writes, and its results and totals in
/// block order.
pub(super) struct Batched {
    pub(super) writes: FxHashMap<StateKey, StateValue>,
    pub(super) results: Vec<TxResult>,
    pub(super) totals: Totals,
    pub(super) counters: GroupingCounters,
}

/// Runs `ranges` (the block's batches, in order) over `transactions`, with `workers`
/// threads beside the calling one; batches shorter than `inline_below` run inline.
pub(super) fn run_batches<S: StateView + ?Sized>(
    transactions: &[Transaction],
    view: &S,
    prologue: &Prologue,
    ranges: &[Range<usize>],
    workers: usize,
    inline_below: usize,
    vm: VmKind,
) -> Result<Batched, GroupingError> {
    let shared = Shared {
        threads: workers + 1,
        vm,
        transactions,
        storage: view,
        prologue,
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
    let mut counters = GroupingCounters::default();

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
        shared.coordinate(ranges, inline_below, spawned > 0, &mut fold, &mut counters)
    })?;

    let writes = shared
        .overlay
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    Ok(Batched {
        writes,
        results: fold.results,
        totals: fold.totals,
        counters,
    })
}

/// A transaction's execution: its summary, or the block error its reads ran into.
type Executed = Result<TxSummary, BlockError>;

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
    fn push(&mut self, summary: TxSummary) -> Result<(), BlockError> {
        summary.fold_into(&mut self.totals)?;
        self.results.push(summary.result);
        Ok(())
    }
}

/// Bits of a transaction index in the claim word (blocks hold at most 65535).
const INDEX_BITS: u32 = 20;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;

/// The claim word: `epoch` (the batch's number among the parallel batches) in the top
/// bits, then the next unclaimed index, then the batch's end.
pub(super) fn pack(epoch: u64, next: usize, end: usize) -> u64 {
    (epoch << (2 * INDEX_BITS)) | ((next as u64) << INDEX_BITS) | end as u64
}

pub(super) fn unpack(word: u64) -> (u64, usize, usize) {
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
    /// The VM contract calls run on.
    vm: VmKind,
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
        counters: &mut GroupingCounters,
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
                counters.batches += (next - first) as u64;
                let run = range.start..ranges[next - 1].end;
                let mut guard = self.overlay.write().unwrap_or_else(PoisonError::into_inner);
                let overlay: &mut FxHashMap<StateKey, StateValue> = &mut guard;
                let transactions = self.transactions.get(run.clone()).ok_or_else(|| {
                    GroupingError::Engine(format!("batches {run:?} beyond the block"))
                })?;
                catch_unwind(AssertUnwindSafe(|| {
                    for tx in transactions {
                        let outcome = execute_transaction_on(
                            tx,
                            &mut OverlayView {
                                writes: overlay,
                                prologue: self.prologue,
                                storage: self.storage,
                            },
                            self.vm,
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

            counters.batches += 1;
            counters.parallel_batches += 1;
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
                let mut view = OverlayView {
                    writes: overlay,
                    prologue: self.prologue,
                    storage: self.storage,
                };
                let executed = execute_transaction_on(tx, &mut view, self.vm)
                    .map(|outcome| {
                        // An overlay view defers nothing, so there are no deltas.
                        let (summary, writes, _) = TxSummary::split(outcome);
                        output.writes.extend(writes);
                        summary
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
