//! The Block-STM engine for TOS blocks.
//!
//! Transactions run optimistically on worker threads against a multi-version memory
//! ([`driver`]), and the block's preset order decides every conflict, so the output is
//! exactly the sequential oracle's. The TOS-specific parts live here: the view a
//! transaction reads through (memory, then the prologue's base layer, then the storage
//! snapshot), and the commit step that folds fees and burns in block order.
//!
//! Two TOS-specific refinements take hot spots off the conflict path. Balances that many
//! of the block's transactions credit (picked from a sample, see `contention`) change by
//! deltas, and debits from them are checked as predicates, so that credits to one
//! exchange or merchant no longer conflict; the VM keeps its rules exact (see
//! [`crate::vm`]), and the driver checks every delta's total at commit. Nonce hints make a
//! sender's transaction wait for the sender's previous one before it starts. On two
//! workers, each claims runs of consecutive transactions, sized from the same sample, so
//! that neighbouring transactions stay on one core.
//!
//! ```
//! use executor::engine::blockstm::{BlockStmConfig, BlockStmExecutor};
//! use executor::engine::BlockExecutor;
//!
//! let engine = BlockStmExecutor::new(BlockStmConfig { threads: 4, ..BlockStmConfig::default() });
//! assert_eq!(engine.name(), "block-stm");
//! ```

pub use blockstm_driver as driver;

mod contention;

use contention::BlockShape;

use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::{FxHashMap, FxHashSet};
use storage_adapter::{Hash, PublicKey, StateKey, StateValue, StateView, StorageError};

use super::sequential::execute_sequential;
use super::{BlockExecutor, Execution, ExecutionStats};
use crate::block::{finish_block_from_writes, stored_balance, validate_block, Prologue, Totals};
use crate::model::Block;
use crate::outcome::{BlockError, BlockOutput, TxOutcome, TxResult};
use crate::vm::{execute_transaction, VmError, VmView};
use blockstm_driver::{
    run_parallel, CommitSink, DriverError, DriverStats, ExecuteError, ParallelTask,
    SpeculativePredicate, SpeculativeRead, SpeculativeReads, Write,
};

/// Fallbacks to sequential execution since the process started, for metrics.
static FALLBACKS: AtomicU64 = AtomicU64::new(0);

/// How many times any Block-STM engine in this process fell back to sequential execution.
pub fn fallback_count() -> u64 {
    FALLBACKS.load(Ordering::Relaxed)
}

/// Settings of the Block-STM engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockStmConfig {
    /// Worker threads, the calling thread included. 1 runs the sequential path.
    pub threads: usize,
    /// Blocks with fewer transactions run the sequential path: below some size, starting
    /// threads costs more than it saves.
    pub min_parallel_txns: usize,
    /// Blocks too contended to gain from speculation run the sequential path: when at
    /// least this percentage of the first 256 transactions touch an account that one of
    /// the `2 × threads` transactions just before them touches (two accounts paying each
    /// other, one sender's nonce chain). `None` always runs the parallel path. The output
    /// is the same either way; only the time differs.
    pub contention_cutoff: Option<u8>,
}

impl BlockStmConfig {
    /// The default [`BlockStmConfig::contention_cutoff`]: measured on 2 cores (see
    /// `papers/results.md`), Block-STM loses to sequential execution well before half of
    /// the transactions conflict with their neighbours.
    pub const DEFAULT_CONTENTION_CUTOFF: u8 = 50;
}

impl Default for BlockStmConfig {
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            min_parallel_txns: 16,
            contention_cutoff: Some(Self::DEFAULT_CONTENTION_CUTOFF),
        }
    }
}

/// Which hot balances Block-STM settles at commit instead of versioning
/// ([`BlockStmExecutor::with_sinks`]).
///
/// A hot balance changed by deltas still gets one entry per credit in its version list,
/// under one lock that every worker takes twice per crediting transaction. A balance
/// that nobody reads while the block runs does not need versions at all: its credits can
/// wait in their writers' write sets and be added, in block order, as they commit. A
/// read of such a balance, though, must wait until every lower transaction has
/// committed, so the choice only pays for balances the block seldom reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SinkPolicy {
    /// Every hot balance is versioned (deltas in its version list).
    Off,
    /// Hot balances of accounts that send none of the block's sampled transactions
    /// (deposit addresses, merchants, a miner that does not spend) are settled at
    /// commit. The default.
    #[default]
    ReceiveOnly,
    /// Every hot balance is settled at commit, even one its account spends from: a read
    /// there then waits for every lower transaction to commit. For measurements and
    /// tests.
    AllHot,
}

/// Why a block took the sequential path without trying the parallel one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SequentialReason {
    OneThread,
    SmallBlock,
    Contended { conflict_percent: u8 },
}

/// The Block-STM [`BlockExecutor`].
#[derive(Clone, Debug)]
pub struct BlockStmExecutor {
    config: BlockStmConfig,
    nonce_hints: bool,
    deltas: bool,
    claims: bool,
    sinks: SinkPolicy,
    parallel_on_one_thread: bool,
}

impl Default for BlockStmExecutor {
    fn default() -> Self {
        Self::new(BlockStmConfig::default())
    }
}

impl BlockStmExecutor {
    /// An engine with these settings (nonce hints and deltas on).
    pub fn new(config: BlockStmConfig) -> Self {
        Self {
            config,
            nonce_hints: true,
            deltas: true,
            claims: true,
            sinks: SinkPolicy::default(),
            parallel_on_one_thread: false,
        }
    }

    /// Turns the nonce hints on or off (on by default). With hints, a transaction whose
    /// sender has an earlier transaction in the block waits, before it starts, until that
    /// one has executed: it needs the nonce that one writes, so running it sooner would
    /// almost surely be wasted. Hints change only the order of work, never the output;
    /// turning them off is for measuring what they save.
    pub fn with_nonce_hints(mut self, nonce_hints: bool) -> Self {
        self.nonce_hints = nonce_hints;
        self
    }

    /// Turns deltas and predicates on or off (on by default). With them, balances that
    /// many of the block's transactions credit change by commutative deltas, and debits
    /// from them are checked as "balance ≥ spend" predicates, so that credits to one hot
    /// account do not conflict. They change only how much is re-executed, never the
    /// output; turning them off is for measuring what they save.
    pub fn with_deltas(mut self, deltas: bool) -> Self {
        self.deltas = deltas;
        self
    }

    /// Turns execution claims on or off (on by default). With claims, a worker takes a
    /// run of consecutive transactions at a time, sized from a sample of the block so
    /// that the runs seldom conflict with each other: neighbouring transactions, and the
    /// memory entries one writes and the next reads, then stay on one core, and the
    /// scheduler's shared counters are touched once per run. Off, a worker claims one
    /// transaction at a time, as in the Block-STM paper. Claims change only the order of
    /// work, never the output; turning them off is for measuring what they save.
    pub fn with_claims(mut self, claims: bool) -> Self {
        self.claims = claims;
        self
    }

    /// Chooses which hot balances are settled at commit instead of versioned
    /// ([`SinkPolicy::ReceiveOnly`] by default; nothing is settled without deltas). Like
    /// the other switches, it changes only how the work is done, never the output.
    pub fn with_sinks(mut self, sinks: SinkPolicy) -> Self {
        self.sinks = sinks;
        self
    }

    /// Runs the parallel path even on one thread (off by default: one thread runs the
    /// sequential path, which is faster there). The one worker then does all of
    /// Block-STM's bookkeeping (the versioned memory, read sets, validation, the rolling
    /// commit) with nothing to share it with, so its time over the sequential oracle's is
    /// what that bookkeeping costs, and the most any number of threads can gain is the
    /// thread count divided by it. For measurements, like the paper's one-thread point;
    /// the output is the same either way.
    ///
    /// ```
    /// use executor::engine::blockstm::{BlockStmConfig, BlockStmExecutor};
    ///
    /// let config = BlockStmConfig { threads: 1, ..BlockStmConfig::default() };
    /// let one_worker = BlockStmExecutor::new(config).with_parallel_on_one_thread(true);
    /// # let _ = one_worker;
    /// ```
    pub fn with_parallel_on_one_thread(mut self, parallel: bool) -> Self {
        self.parallel_on_one_thread = parallel;
        self
    }

    /// The engine's settings.
    pub fn config(&self) -> &BlockStmConfig {
        &self.config
    }

    /// How to run `block`: the sequential path (and why), or the parallel one with the
    /// block's hot balances and claim size.
    fn plan(&self, block: &Block) -> Result<BlockShape, SequentialReason> {
        let transactions = block.transactions();
        if self.config.threads == 0 || (self.config.threads == 1 && !self.parallel_on_one_thread) {
            return Err(SequentialReason::OneThread);
        }
        if transactions.len() < self.config.min_parallel_txns.max(2) {
            return Err(SequentialReason::SmallBlock);
        }
        let shape = contention::analyze(transactions, self.config.threads, self.deltas);
        match self.config.contention_cutoff {
            Some(cutoff) if shape.conflict_percent >= cutoff => Err(SequentialReason::Contended {
                conflict_percent: shape.conflict_percent,
            }),
            _ => {
                let receive_only = match self.sinks {
                    SinkPolicy::Off => Vec::new(),
                    SinkPolicy::ReceiveOnly => shape.receive_only,
                    SinkPolicy::AllHot => {
                        let mut all: Vec<StateKey> = shape.hot.iter().copied().collect();
                        all.sort_unstable();
                        all
                    }
                };
                Ok(BlockShape {
                    claim_size: if self.claims { shape.claim_size } else { 1 },
                    receive_only,
                    ..shape
                })
            }
        }
    }

    /// Executes `block` on `view`; see [`BlockExecutor::execute_block`].
    pub fn execute<S: StateView + ?Sized>(
        &self,
        block: &Block,
        view: &S,
    ) -> Result<Execution, BlockError> {
        let transactions = block.transactions().len();
        let span = tracing::debug_span!("block_stm", topoheight = block.topoheight(), transactions);
        let _entered = span.enter();
        let shape = match self.plan(block) {
            Ok(shape) => shape,
            Err(reason) => {
                tracing::debug!(?reason, "running the block on the sequential path");
                return run_sequentially(block, view, |stats| stats.sequential_blocks = 1);
            }
        };
        tracing::debug!(
            hot_balances = shape.hot.len(),
            settled_at_commit = shape.receive_only.len(),
            claim_size = shape.claim_size,
            "running the block in parallel"
        );
        match execute_parallel(block, view, self.config.threads, self.nonce_hints, shape) {
            Ok((output, driver)) => {
                let stats = ExecutionStats {
                    transactions: transactions as u64,
                    ..ExecutionStats::from(&driver)
                };
                tracing::debug!(?driver, "block executed");
                Ok(Execution { output, stats })
            }
            Err(ParallelError::Block(error)) => Err(error),
            Err(ParallelError::Speculative { txn_idx, error }) => {
                // Not an engine failure (no fallback counted, the breaker stays closed):
                // the block's own error, if it has one, is the oracle's to find.
                tracing::warn!(
                    txn_idx,
                    %error,
                    "a Block-STM incarnation failed; executing the block sequentially to decide"
                );
                run_sequentially(block, view, |stats| stats.sequential_blocks = 1)
            }
            Err(ParallelError::Engine(reason)) => {
                FALLBACKS.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%reason, "Block-STM failed; executing the block sequentially instead");
                run_sequentially(block, view, |stats| stats.fallbacks = 1)
            }
        }
    }
}

/// The oracle's run of `block`, with its counters marked by `mark` (why Block-STM took
/// the sequential path).
fn run_sequentially<S: StateView + ?Sized>(
    block: &Block,
    view: &S,
    mark: impl FnOnce(&mut ExecutionStats),
) -> Result<Execution, BlockError> {
    let output = execute_sequential(block, view)?;
    let mut stats = ExecutionStats::sequential(block.transactions().len());
    mark(&mut stats);
    Ok(Execution { output, stats })
}

impl BlockExecutor for BlockStmExecutor {
    fn name(&self) -> &'static str {
        "block-stm"
    }

    fn execute_block(&self, block: &Block, view: &dyn StateView) -> Result<Execution, BlockError> {
        self.execute(block, view)
    }
}

/// Why the parallel path gave no output.
enum ParallelError {
    /// The block itself is in error (storage failure, counter overflow): every engine
    /// reports the same.
    Block(BlockError),
    /// The engine failed (a panic, a broken invariant): fall back to sequential.
    Engine(String),
    /// An incarnation failed (a storage error, corrupt state), perhaps only because it
    /// ran speculatively: a key that the block order never reads, or a value it never
    /// sees. The sequential path decides whether the block fails, and with which error.
    Speculative { txn_idx: u32, error: BlockError },
}

fn execute_parallel<S: StateView + ?Sized>(
    block: &Block,
    view: &S,
    threads: usize,
    nonce_hints: bool,
    shape: BlockShape,
) -> Result<(BlockOutput, DriverStats), ParallelError> {
    let chain = view
        .chain_state()
        .map_err(|e| ParallelError::Block(e.into()))?;
    validate_block(block, &chain).map_err(ParallelError::Block)?;
    let prologue = Prologue::new(block, view).map_err(ParallelError::Block)?;
    let task = TosTask {
        block,
        storage: view,
        prologue: &prologue,
        predecessors: if nonce_hints {
            same_sender_predecessors(block)
        } else {
            Vec::new()
        },
        hot: shape.hot,
        sinks: shape.receive_only,
        claim_size: shape.claim_size,
    };
    let (run, totals) = run_parallel(
        &task,
        block.transactions().len(),
        threads,
        TotalsSink::default(),
    )
    .map_err(|error| match error {
        DriverError::Fatal(error) => ParallelError::Block(error),
        // The caller gave up: stop rather than run the block again.
        DriverError::Execution {
            error: error @ BlockError::Storage(StorageError::Cancelled),
            ..
        } => ParallelError::Block(error),
        DriverError::Execution { txn_idx, error } => ParallelError::Speculative { txn_idx, error },
        DriverError::Panicked(message) => ParallelError::Engine(format!("panic: {message}")),
        DriverError::Invariant(message) => ParallelError::Engine(format!("invariant: {message}")),
        DriverError::TooManyTransactions { num_txns } => {
            ParallelError::Engine(format!("a block of {num_txns} transactions"))
        }
    })?;
    let results = run
        .outputs
        .into_iter()
        .map(|outcome| outcome.result)
        .collect();
    let output = finish_block_from_writes(
        threads, block, view, &prologue, run.writes, results, totals.0,
    )
    .map_err(|error| match error {
        // The engine handed the epilogue something inconsistent: our bug, not the
        // block's, so the sequential path gets to decide.
        BlockError::InvariantViolation(message) => ParallelError::Engine(message),
        error => ParallelError::Block(error),
    })?;
    Ok((output, run.stats))
}

/// The TOS transactions of one block, as the driver runs them.
struct TosTask<'a, S: ?Sized> {
    block: &'a Block,
    storage: &'a S,
    prologue: &'a Prologue,
    /// For each transaction, the same sender's previous transaction in the block, if any
    /// (empty when nonce hints are off).
    predecessors: Vec<Option<u32>>,
    /// The balances changed by deltas (empty when deltas are off).
    hot: FxHashSet<StateKey>,
    /// Those of them settled at commit.
    sinks: Vec<StateKey>,
    /// How many consecutive transactions a worker claims at once.
    claim_size: usize,
}

/// One execution's writes as the driver records them: values, then deltas, taken
/// straight from the VM's two lists (not copied into a third).
type TosWrites = std::iter::Chain<
    std::iter::Map<
        smallvec::IntoIter<[(StateKey, StateValue); 4]>,
        fn((StateKey, StateValue)) -> (StateKey, Write<StateValue>),
    >,
    std::iter::Map<
        smallvec::IntoIter<[(StateKey, i128); 2]>,
        fn((StateKey, i128)) -> (StateKey, Write<StateValue>),
    >,
>;

fn value_write((key, value): (StateKey, StateValue)) -> (StateKey, Write<StateValue>) {
    (key, Write::Value(value))
}

fn delta_write((key, delta): (StateKey, i128)) -> (StateKey, Write<StateValue>) {
    (key, Write::Delta(delta))
}

/// Each transaction's nonce hint: the index of the same sender's previous transaction.
/// Known before execution because every TOS transaction names its sender, and right
/// almost always (a transaction needs the nonce its predecessor writes); when it is not
/// (the predecessor fails), the hint only costs a short wait.
fn same_sender_predecessors(block: &Block) -> Vec<Option<u32>> {
    let transactions = block.transactions();
    let mut last_by_sender: FxHashMap<&PublicKey, u32> =
        FxHashMap::with_capacity_and_hasher(transactions.len(), Default::default());
    transactions
        .iter()
        .zip(0u32..)
        .map(|(tx, index)| last_by_sender.insert(tx.source(), index))
        .collect()
}

impl<S: StateView + ?Sized> ParallelTask for TosTask<'_, S> {
    type Key = StateKey;
    type Value = StateValue;
    /// The outcome without its writes (those go into the memory): small, because outputs
    /// are stored and moved once per execution.
    type Output = TxSummary;
    type Error = BlockError;
    type Writes = TosWrites;

    fn execute(
        &self,
        txn_idx: u32,
        reads: &mut SpeculativeReads<'_, Self>,
    ) -> Result<(TxSummary, TosWrites), ExecuteError<BlockError>> {
        let tx = self
            .block
            .transactions()
            .get(txn_idx as usize)
            .ok_or_else(|| {
                ExecuteError::Fatal(BlockError::InvariantViolation(format!(
                    "no transaction {txn_idx}"
                )))
            })?;
        let hot = if reads.deltas_allowed() {
            Some(&self.hot).filter(|hot| !hot.is_empty())
        } else {
            None
        };
        let mut view = TosView {
            reads,
            prologue: self.prologue,
            storage: self.storage,
            hot,
        };
        match execute_transaction(tx, &mut view) {
            Ok(TxOutcome {
                result,
                writes,
                deltas,
                fee,
                burned,
            }) => Ok((
                TxSummary {
                    result,
                    fee,
                    burned,
                },
                writes
                    .into_iter()
                    .map(value_write as fn(_) -> _)
                    .chain(deltas.into_iter().map(delta_write as fn(_) -> _)),
            )),
            Err(VmError::Read(ViewError::Dependency(blocking))) => {
                Err(ExecuteError::Dependency(blocking))
            }
            Err(VmError::Read(ViewError::Storage(error))) => Err(ExecuteError::Fatal(error.into())),
            Err(VmError::Read(ViewError::Block(error))) => Err(ExecuteError::Fatal(error)),
            Err(VmError::InvalidState(key)) => Err(ExecuteError::Fatal(
                VmError::<StorageError>::InvalidState(key).into(),
            )),
        }
    }

    fn predecessor(&self, txn_idx: u32) -> Option<u32> {
        self.predecessors.get(txn_idx as usize).copied().flatten()
    }

    fn claim_size(&self) -> usize {
        self.claim_size
    }

    fn sinks(&self) -> Vec<StateKey> {
        self.sinks.clone()
    }

    /// A hot balance beneath the block: the prologue's value for the miner's TOS, the
    /// stored one otherwise.
    fn counter_base(&self, key: &StateKey) -> Result<u64, BlockError> {
        match self.prologue.get(key) {
            Some(StateValue::Balance(balance)) => Ok(*balance),
            Some(_) => Err(BlockError::InvariantViolation(
                "the prologue wrote a balance of the wrong kind".into(),
            )),
            None => stored_balance(self.storage, key),
        }
    }
}

/// Why a read through [`TosView`] did not return a value.
enum ViewError {
    Dependency(u32),
    Storage(StorageError),
    /// The base of a delta chain could not be read (storage, or a value of the wrong
    /// kind).
    Block(BlockError),
}

/// A transaction's view: the block's memory below it, then the prologue, then storage.
struct TosView<'r, 'm, 't, S: StateView + ?Sized> {
    reads: &'r mut SpeculativeReads<'m, TosTask<'t, S>>,
    prologue: &'r Prologue,
    storage: &'r S,
    /// The balances to defer, unless this execution must be exact or none are.
    hot: Option<&'r FxHashSet<StateKey>>,
}

impl<S: StateView + ?Sized> VmView for TosView<'_, '_, '_, S> {
    type Error = ViewError;

    fn defers(&mut self, key: &StateKey) -> bool {
        self.hot.is_some_and(|hot| hot.contains(key))
    }

    fn covers(&mut self, key: &StateKey, amount: u64) -> Result<bool, ViewError> {
        match self.reads.at_least(key, amount).map_err(ViewError::Block)? {
            SpeculativePredicate::Holds => Ok(true),
            SpeculativePredicate::Fails => Ok(false),
            SpeculativePredicate::Dependency(blocking) => Err(ViewError::Dependency(blocking)),
        }
    }

    fn read(&mut self, key: &StateKey) -> Result<Option<StateValue>, ViewError> {
        match self.reads.read(key).map_err(ViewError::Block)? {
            SpeculativeRead::Value(value) => Ok(Some(value)),
            SpeculativeRead::Dependency(blocking) => Err(ViewError::Dependency(blocking)),
            // The prologue and storage never change during the block, so a read that
            // lands on them is validated as "still not in memory", like any storage read.
            SpeculativeRead::NotFound => match self.prologue.get(key) {
                Some(value) => Ok(Some(value.clone())),
                None => self.storage.get(key).map_err(ViewError::Storage),
            },
        }
    }

    fn is_executed(&mut self, tx_hash: &Hash) -> Result<bool, ViewError> {
        // Executed marks come from earlier blocks only (a block cannot hold one hash
        // twice), so they are read from storage and need no validation.
        self.storage
            .is_executed(tx_hash)
            .map_err(ViewError::Storage)
    }
}

/// What the commit step needs of a transaction's outcome.
#[derive(Debug)]
struct TxSummary {
    result: TxResult,
    fee: u64,
    burned: u64,
}

/// Folds fees and burns in block order as transactions commit; an overflow ends the block
/// with the same error the oracle gives.
#[derive(Default)]
struct TotalsSink(Totals);

impl CommitSink<TxSummary, BlockError> for TotalsSink {
    fn commit(&mut self, _txn_idx: u32, summary: &TxSummary) -> Result<(), BlockError> {
        self.0.add_amounts(summary.fee, summary.burned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Payload, Transaction, Transfer};
    use crate::workload::{Workload, WorkloadConfig, WorkloadKind};
    use storage_adapter::{Asset, BlockStore, MemoryStore};

    fn pay(source: u64, nonce: u64) -> Transaction {
        let transfer = Transfer::new(Asset::TOS, PublicKey::from_index(99), 1);
        Transaction::new(
            PublicKey::from_index(source),
            nonce,
            0,
            Payload::Transfers(vec![transfer]),
        )
    }

    #[test]
    fn each_transaction_is_hinted_to_its_senders_previous_one() {
        let block = Block::new(
            1,
            PublicKey::from_index(0),
            0,
            vec![
                pay(1, 0),
                pay(2, 0),
                pay(1, 1),
                pay(3, 0),
                pay(2, 1),
                pay(1, 2),
            ],
        );
        assert_eq!(
            same_sender_predecessors(&block),
            [None, None, Some(0), None, Some(1), Some(2)]
        );
    }

    #[test]
    fn nonce_chains_match_the_oracle_with_hints_and_without() {
        let mut workload =
            Workload::new(WorkloadConfig::new(WorkloadKind::NonceChains, 200, 2000, 5))
                .expect("valid workload");
        let store = MemoryStore::new();
        store
            .commit(&crate::genesis_commit(&workload.genesis_allocations()).expect("genesis"))
            .expect("commit genesis");
        let block = workload.next_block(1);
        let snapshot = store.snapshot().expect("snapshot");
        let expected = execute_sequential(&block, &snapshot).expect("oracle");
        let config = BlockStmConfig {
            threads: 4,
            min_parallel_txns: 2,
            contention_cutoff: None,
        };
        let hinted = BlockStmExecutor::new(config)
            .execute(&block, &snapshot)
            .expect("executes");
        // How often a hint makes a transaction wait depends on the interleaving (the
        // driver's own test forces it); the output never does.
        assert_eq!(hinted.output, expected);
        let unhinted = BlockStmExecutor::new(config)
            .with_nonce_hints(false)
            .execute(&block, &snapshot)
            .expect("executes");
        assert_eq!(unhinted.output, expected);
        assert_eq!(unhinted.stats.hint_waits, 0);
    }
}
