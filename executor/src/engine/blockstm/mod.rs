//! The Block-STM engine for TOS blocks.
//!
//! Transactions run optimistically on worker threads against a multi-version memory
//! ([`driver`]), and the block's preset order decides every conflict, so the output is
//! exactly the sequential oracle's. The TOS-specific parts live here: the task the driver
//! runs (one TOS transaction, and the state beneath the block), the view a transaction
//! reads through (`view`: memory, then the prologue's base layer, then the storage
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
//! Every switch is a plain field of [`BlockStmConfig`]; [`BlockStmExecutor::new`] is the
//! one way to build the engine (and [`crate::engine::build`] the one way to build any).
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
#[cfg(test)]
mod tests;
mod view;

use contention::BlockShape;
use view::{TosView, ViewError};

use rustc_hash::{FxHashMap, FxHashSet};
use storage_adapter::{PublicKey, StateKey, StateValue, StateView, StorageError};

use super::frame::{fall_back, preamble, run_sequentially, TxSummary};
use super::{BlockExecutor, BlockStmCounters, Execution, ExecutionStats};
use crate::block::{finish_block_from_writes, stored_balance, Prologue, Totals};
use crate::model::Block;
use crate::outcome::{BlockError, BlockOutput, TxOutcome};
use crate::vm::{execute_transaction_on, VmError};
use blockstm_driver::{
    run_parallel, CommitSink, DriverError, DriverStats, ExecuteError, ExecutionWrites,
    ParallelTask, Plan, SpeculativeReads, TxnIndex, Write,
};
use contract_vm::VmKind;

/// Settings of the Block-STM engine. Every switch changes how the work is done, never the
/// output; the ones off the defaults are for measuring what each saves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockStmConfig {
    /// Worker threads, the calling thread included. 1 runs the sequential path (unless
    /// [`BlockStmConfig::parallel_on_one_thread`]).
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
    /// Nonce hints (on by default): a transaction whose sender has an earlier transaction
    /// in the block waits, before it starts, until that one has executed: it needs the
    /// nonce that one writes, so running it sooner would almost surely be wasted.
    pub nonce_hints: bool,
    /// Deltas and predicates (on by default): balances that many of the block's
    /// transactions credit change by commutative deltas, and debits from them are checked
    /// as "balance ≥ spend" predicates, so that credits to one hot account do not
    /// conflict.
    pub deltas: bool,
    /// Execution claims (on by default): a worker takes a run of consecutive
    /// transactions at a time, sized from a sample of the block so that the runs seldom
    /// conflict with each other: neighbouring transactions, and the memory entries one
    /// writes and the next reads, then stay on one core, and the scheduler's shared
    /// counters are touched once per run. Off, a worker claims one transaction at a time,
    /// as in the Block-STM paper.
    pub claims: bool,
    /// Which hot balances are settled at commit instead of versioned
    /// ([`SinkPolicy::ReceiveOnly`] by default; nothing is settled without deltas).
    pub sinks: SinkPolicy,
    /// Runs the parallel path even on one thread (off by default: one thread runs the
    /// sequential path, which is faster there). The one worker then does all of
    /// Block-STM's bookkeeping (the versioned memory, read sets, validation, the rolling
    /// commit) with nothing to share it with, so its time over the sequential oracle's is
    /// what that bookkeeping costs, and the most any number of threads can gain is the
    /// thread count divided by it. For measurements, like the paper's one-thread point.
    ///
    /// ```
    /// use executor::engine::blockstm::{BlockStmConfig, BlockStmExecutor};
    ///
    /// let one_worker = BlockStmExecutor::new(BlockStmConfig {
    ///     threads: 1,
    ///     parallel_on_one_thread: true,
    ///     ..BlockStmConfig::default()
    /// });
    /// # let _ = one_worker;
    /// ```
    pub parallel_on_one_thread: bool,
    /// Frontier runs (on by default; 0 turns them off): when the next transaction to
    /// commit has not started, every lower one has committed, so the worker holding the
    /// commit role executes it, and up to this many in all, on final state, with no read
    /// sets or validation, and commits them at once (see the driver's `Plan`). One
    /// worker runs the whole block this way. With more workers, a longer run lets the
    /// others speculate further above it, which costs re-executions on a contended
    /// block.
    pub frontier_run: usize,
}

impl BlockStmConfig {
    /// The default [`BlockStmConfig::contention_cutoff`]: measured on 2 cores (see
    /// `papers/results.md`), Block-STM loses to sequential execution well before half of
    /// the transactions conflict with their neighbours.
    pub const DEFAULT_CONTENTION_CUTOFF: u8 = 50;

    /// The default [`BlockStmConfig::frontier_run`]. Measured on 2 cores (stop 26 of
    /// issue 21, `papers/results.md`): runs of 8 against 64 at 2 threads gave p2p-100
    /// 0.86× sequential against 0.66×, hot-receiver 0.87× against 0.68×, nonce-chains
    /// 0.86× against 0.73×, and p2p-10,000 and `token` within the runs' noise: a long
    /// run lets the other worker speculate far above it on a contended block, which it
    /// then re-executes. One worker still runs the whole block as one run.
    pub const DEFAULT_FRONTIER_RUN: usize = 8;
}

impl Default for BlockStmConfig {
    /// As many threads as the machine runs in parallel, every refinement on.
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            min_parallel_txns: 16,
            contention_cutoff: Some(Self::DEFAULT_CONTENTION_CUTOFF),
            nonce_hints: true,
            deltas: true,
            claims: true,
            sinks: SinkPolicy::default(),
            parallel_on_one_thread: false,
            frontier_run: Self::DEFAULT_FRONTIER_RUN,
        }
    }
}

/// Which hot balances Block-STM settles at commit instead of versioning
/// ([`BlockStmConfig::sinks`]).
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
#[derive(Clone, Debug, Default)]
pub struct BlockStmExecutor {
    config: BlockStmConfig,
    vm: VmKind,
}

impl BlockStmExecutor {
    /// An engine with these settings, running contract calls on the interpreter.
    pub fn new(config: BlockStmConfig) -> Self {
        Self {
            config,
            vm: VmKind::Interpreter,
        }
    }

    /// The same engine running contract calls on a VM of `vm` (same results, another
    /// speed).
    pub fn with_vm(self, vm: VmKind) -> Self {
        Self { vm, ..self }
    }

    /// The engine's settings.
    pub fn config(&self) -> &BlockStmConfig {
        &self.config
    }

    /// How to run `block`: the sequential path (and why), or the parallel one with the
    /// block's hot balances and claim size.
    fn plan(&self, block: &Block) -> Result<BlockShape, SequentialReason> {
        let config = &self.config;
        let transactions = block.transactions();
        if config.threads == 0 || (config.threads == 1 && !config.parallel_on_one_thread) {
            return Err(SequentialReason::OneThread);
        }
        if transactions.len() < config.min_parallel_txns.max(2) {
            return Err(SequentialReason::SmallBlock);
        }
        let shape = contention::analyze(transactions, config.threads, config.deltas);
        match config.contention_cutoff {
            Some(cutoff) if shape.conflict_percent >= cutoff => Err(SequentialReason::Contended {
                conflict_percent: shape.conflict_percent,
            }),
            _ => {
                let receive_only = match config.sinks {
                    SinkPolicy::Off => Vec::new(),
                    SinkPolicy::ReceiveOnly => shape.receive_only,
                    SinkPolicy::AllHot => {
                        let mut all: Vec<StateKey> = shape.hot.iter().copied().collect();
                        all.sort_unstable();
                        all
                    }
                };
                Ok(BlockShape {
                    claim_size: if config.claims { shape.claim_size } else { 1 },
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
        // Block-STM's counters are present even on the sequential path, at zero.
        let sequential = ExecutionStats {
            block_stm: Some(BlockStmCounters::default()),
            ..ExecutionStats::sequential(transactions)
        };
        let shape = match self.plan(block) {
            Ok(shape) => shape,
            Err(reason) => {
                tracing::debug!(?reason, "running the block on the sequential path");
                return run_sequentially(
                    block,
                    view,
                    ExecutionStats {
                        sequential_blocks: 1,
                        ..sequential
                    },
                );
            }
        };
        tracing::debug!(
            hot_balances = shape.hot.len(),
            settled_at_commit = shape.receive_only.len(),
            claim_size = shape.claim_size,
            "running the block in parallel"
        );
        let config = &self.config;
        let frontier_run = match (config.frontier_run, config.threads) {
            (0, _) => 0,
            // Alone, the one worker is always at the frontier: one run takes the block.
            (_, 1) => transactions,
            (run, _) => run,
        };
        let schedule = Schedule {
            threads: config.threads,
            // A hint delays a speculative execution; one worker running the block as one
            // frontier run makes none, so its hints would be computed for nothing.
            nonce_hints: config.nonce_hints && !(config.threads == 1 && frontier_run > 0),
            frontier_run,
        };
        match execute_parallel(block, view, schedule, shape, self.vm) {
            Ok((output, driver)) => {
                let stats = ExecutionStats {
                    transactions: transactions as u64,
                    executions: driver.executions,
                    block_stm: Some(driver),
                    ..ExecutionStats::default()
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
                run_sequentially(
                    block,
                    view,
                    ExecutionStats {
                        sequential_blocks: 1,
                        ..sequential
                    },
                )
            }
            Err(ParallelError::Engine(reason)) => {
                fall_back(self.name(), &reason, block, view, sequential)
            }
        }
    }
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
    Speculative {
        txn_idx: TxnIndex,
        error: BlockError,
    },
}

/// How the parallel path schedules a block, besides its shape.
struct Schedule {
    threads: usize,
    nonce_hints: bool,
    frontier_run: usize,
}

fn execute_parallel<S: StateView + ?Sized>(
    block: &Block,
    view: &S,
    schedule: Schedule,
    shape: BlockShape,
    vm: VmKind,
) -> Result<(BlockOutput, DriverStats), ParallelError> {
    let Schedule {
        threads,
        nonce_hints,
        frontier_run,
    } = schedule;
    let prologue = preamble(block, view).map_err(ParallelError::Block)?;
    let task = TosTask {
        block,
        storage: view,
        prologue: &prologue,
        hot: shape.hot,
        vm,
    };
    // How the block is scheduled, apart from what its transactions do: each transaction
    // after the same sender's previous one, the claim size and the sinks of its shape.
    let plan = Plan {
        predecessors: if nonce_hints {
            same_sender_predecessors(block)
        } else {
            Vec::new()
        },
        claim_size: shape.claim_size,
        sinks: shape.receive_only,
        frontier_run,
    };
    let (run, totals) = run_parallel(
        &task,
        block.transactions().len(),
        plan,
        threads,
        TotalsSink::default(),
    )
    .map_err(|error| match error {
        DriverError::Sink { error, .. } => ParallelError::Block(error),
        // The caller gave up: stop rather than run the block again.
        DriverError::Execution {
            error: error @ BlockError::Storage(StorageError::Cancelled),
            ..
        } => ParallelError::Block(error),
        DriverError::Execution { txn_idx, error } => ParallelError::Speculative { txn_idx, error },
        DriverError::Panicked(message) => ParallelError::Engine(format!("panic: {message}")),
        DriverError::Invariant(invariant) => {
            ParallelError::Engine(format!("invariant: {invariant}"))
        }
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
    /// The balances changed by deltas (empty when deltas are off).
    hot: FxHashSet<StateKey>,
    /// The VM contract calls run on.
    vm: VmKind,
}

/// One execution's writes as the driver records them: the VM's outcome itself, once its
/// summary is taken out ([`TxSummary::take_from`]), so that its values and deltas stay
/// where the VM put them and are not copied into other lists. Without deltas (every
/// execution at the commit frontier, where none is allowed) a frontier run takes the
/// values as they are ([`ExecutionWrites::into_values`]); otherwise the driver walks
/// values, then deltas.
struct TosWrites(TxOutcome);

impl IntoIterator for TosWrites {
    type Item = (StateKey, Write<StateValue>);
    type IntoIter = std::iter::Chain<
        std::iter::Map<
            smallvec::IntoIter<[(StateKey, StateValue); 4]>,
            fn((StateKey, StateValue)) -> (StateKey, Write<StateValue>),
        >,
        std::iter::Map<
            smallvec::IntoIter<[(StateKey, i128); 2]>,
            fn((StateKey, i128)) -> (StateKey, Write<StateValue>),
        >,
    >;

    fn into_iter(self) -> Self::IntoIter {
        let TxOutcome { writes, deltas, .. } = self.0;
        writes
            .into_iter()
            .map(value_write as fn(_) -> _)
            .chain(deltas.into_iter().map(delta_write as fn(_) -> _))
    }
}

impl ExecutionWrites<StateKey, StateValue> for TosWrites {
    fn into_values(self) -> Result<impl Iterator<Item = (StateKey, StateValue)>, Self> {
        if self.0.deltas.is_empty() {
            Ok(self.0.writes.into_iter())
        } else {
            Err(self)
        }
    }
}

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
fn same_sender_predecessors(block: &Block) -> Vec<Option<TxnIndex>> {
    let transactions = block.transactions();
    let mut last_by_sender: FxHashMap<&PublicKey, TxnIndex> =
        FxHashMap::with_capacity_and_hasher(transactions.len(), Default::default());
    transactions
        .iter()
        .zip(0..)
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
        txn_idx: TxnIndex,
        reads: &mut SpeculativeReads<'_, Self>,
    ) -> Result<(TxSummary, TosWrites), ExecuteError<BlockError>> {
        let tx = self
            .block
            .transactions()
            .get(txn_idx as usize)
            .ok_or_else(|| {
                ExecuteError::Failed(BlockError::InvariantViolation(format!(
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
        match execute_transaction_on(tx, &mut view, self.vm) {
            Ok(mut outcome) => Ok((TxSummary::take_from(&mut outcome), TosWrites(outcome))),
            Err(VmError::Read(ViewError::Blocked(blocker))) => Err(ExecuteError::Blocked(blocker)),
            Err(VmError::Read(ViewError::Storage(error))) => {
                Err(ExecuteError::Failed(error.into()))
            }
            Err(VmError::Read(ViewError::Block(error))) => Err(ExecuteError::Failed(error)),
            Err(VmError::InvalidState(key)) => Err(ExecuteError::Failed(
                VmError::<StorageError>::InvalidState(key).into(),
            )),
        }
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

/// Folds fees and burns in block order as transactions commit; an overflow ends the block
/// with the same error the oracle gives.
#[derive(Default)]
struct TotalsSink(Totals);

impl CommitSink<TxSummary, BlockError> for TotalsSink {
    fn commit(&mut self, _txn_idx: TxnIndex, summary: &TxSummary) -> Result<(), BlockError> {
        summary.fold_into(&mut self.0)
    }
}
