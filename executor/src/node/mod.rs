//! The daemon's block path in small: a [`Node`] owns a store (RocksDB in production) and
//! applies blocks one at a time, in topoheight order, through the
//! [executor slot](crate::slot), committing each atomically.
//!
//! Blocks may arrive from many tasks at once (a daemon's network handlers): a block
//! waits until its parent is applied (up to [`Node::max_blocks_ahead`] blocks ahead of
//! the tip), a block for a topoheight already applied is refused, and only one block
//! executes at a time, so the engine always runs on the state its block was built on.
//!
//! Tracing: one `block` span per block (topoheight, transactions, path, figures) with an
//! `execute` and a `commit` span inside; `RUST_LOG` picks the level. The library prints
//! nothing; [`Node::stats`] and [`metrics`] report, and the [admin API](admin) shows
//! the status, the health and the recent blocks ([`history`]) and changes the
//! configuration at run time.

pub mod admin;
pub mod health;
pub mod histograms;
pub mod history;
pub mod metrics;
pub mod status;

#[cfg(feature = "rocksdb")]
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

#[cfg(feature = "rocksdb")]
use storage_adapter::RocksStore;
use storage_adapter::{BlockCommit, BlockStore, ChainState, Hash, StorageError};
use tokio::sync::{watch, Mutex as AsyncMutex};
use tracing::Instrument;

use crate::engine::{Execution, ExecutionStats};
use crate::model::Block;
#[cfg(feature = "rocksdb")]
use crate::slot::ExecutorConfig;
use crate::slot::{
    AsyncExecuteError, AsyncExecutor, BreakerState, ConfigError, ExecutionPath, ExecutorSlot,
    ShadowReport, SlotExecution, SlotStats,
};
use health::{Health, HealthPolicy, HealthReason};
use histograms::BlockHistograms;
use history::{BlockHistory, BlockRecord};
use status::{BreakerStatus, NodeStatus};

/// How far ahead of the tip a block may arrive and wait for its turn, by default.
pub const DEFAULT_MAX_BLOCKS_AHEAD: u64 = 1024;

/// Why a block was not applied. Nothing of it is committed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The block's topoheight is already applied.
    #[error("block {got} is already applied: the chain's next topoheight is {next}")]
    AlreadyApplied {
        /// The block's topoheight.
        got: u64,
        /// The chain's next topoheight.
        next: u64,
    },
    /// The block is too far ahead of the tip to wait for its parents.
    #[error(
        "block {got} is more than {max_ahead} blocks ahead of the chain's next topoheight {next}"
    )]
    TooFarAhead {
        /// The block's topoheight.
        got: u64,
        /// The chain's next topoheight.
        next: u64,
        /// [`Node::max_blocks_ahead`].
        max_ahead: u64,
    },
    /// Execution rejected the block or failed.
    #[error("executing block {topoheight}: {source}")]
    Execute {
        /// The block's topoheight.
        topoheight: u64,
        /// Why.
        #[source]
        source: AsyncExecuteError,
    },
    /// The store refused or failed the commit; it wrote nothing.
    #[error("committing block {topoheight}: {source}")]
    Commit {
        /// The block's topoheight.
        topoheight: u64,
        /// Why.
        #[source]
        source: StorageError,
    },
    /// The commit's blocking task panicked or was cancelled with the runtime.
    #[error("the commit task of block {topoheight} did not finish: {reason}")]
    CommitTask {
        /// The block's topoheight.
        topoheight: u64,
        /// What tokio said.
        reason: String,
    },
    /// Genesis was applied to a store that already has a chain.
    #[error("the store already holds a chain (topoheight {topoheight})")]
    AlreadyInitialised {
        /// The stored topoheight.
        topoheight: u64,
    },
    /// The store failed outside a block (opening it, reading its tip).
    #[error("store: {0}")]
    Storage(#[from] StorageError),
    /// The executor configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// One applied block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedBlock {
    /// Its topoheight.
    pub topoheight: u64,
    /// The state root after it.
    pub state_root: Hash,
    /// Its transactions.
    pub transactions: u64,
    /// Those that succeeded.
    pub successful: u64,
    /// Which way the slot executed it.
    pub path: ExecutionPath,
    /// The configured engine it ran under ([`SlotExecution::engine`]).
    pub engine: &'static str,
    /// The counters of the engine whose output was committed.
    pub stats: ExecutionStats,
    /// In shadow mode, what the comparison saw.
    pub shadow: Option<ShadowReport>,
    /// Time in the engine (both engines, in shadow mode).
    pub engine_time: Duration,
    /// Time committing.
    pub commit_time: Duration,
}

/// What a node has done since it started.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct NodeStats {
    /// The chain's topoheight (`None` before genesis).
    pub topoheight: Option<u64>,
    /// Blocks applied.
    pub blocks: u64,
    /// Their transactions.
    pub transactions: u64,
    /// Those that succeeded.
    pub successful_transactions: u64,
    /// Total time in the engine, in seconds.
    pub engine_seconds: f64,
    /// Total time committing, in seconds.
    pub commit_seconds: f64,
    /// The slot's counters: paths taken, shadow comparisons and mismatches, fallbacks,
    /// breaker trips.
    pub slot: SlotStats,
    /// The configured parallel engine's counters, summed over the blocks it ran (alone or
    /// as the shadow candidate): incarnations are `parallel.executions`.
    pub parallel: ExecutionStats,
}

impl NodeStats {
    /// The parallel engine's incarnations per transaction (1.0 means no re-execution;
    /// 0 when it has run no block).
    pub fn incarnations_per_transaction(&self) -> f64 {
        if self.parallel.transactions == 0 {
            0.0
        } else {
            self.parallel.executions as f64 / self.parallel.transactions as f64
        }
    }
}

/// Applies blocks to a store through the executor slot; see the module docs.
///
/// ```
/// use executor::node::Node;
/// use executor::slot::{ExecutorConfig, ExecutorSlot};
/// use executor::{genesis_commit, Block};
/// use storage_adapter::{Asset, MemoryStore, PublicKey};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let node = Node::new(MemoryStore::new(), ExecutorSlot::new(&ExecutorConfig::default())?)?;
/// let miner = PublicKey::from_index(0);
/// node.apply_genesis(&genesis_commit(&[(miner, Asset::TOS, 1_000)])?)?;
/// let applied = node.apply_block(Block::new(1, miner, 50, Vec::new())).await?;
/// assert_eq!(node.stats().topoheight, Some(1));
/// assert_eq!(applied.state_root, node.chain_state().state_root);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Node<S: BlockStore + 'static = DefaultStore> {
    store: Arc<S>,
    executor: AsyncExecutor,
    /// The chain tip; blocks waiting for their turn watch it.
    tip: watch::Sender<ChainState>,
    /// Held from execution to commit, so one block at a time runs.
    apply: Arc<AsyncMutex<()>>,
    stats: Mutex<NodeStats>,
    /// The recent blocks and what health needs: updated once per block.
    activity: Mutex<Activity>,
    histograms: BlockHistograms,
    health_policy: HealthPolicy,
    started: Instant,
    max_blocks_ahead: u64,
}

/// What the node remembers of its recent blocks.
#[derive(Debug)]
struct Activity {
    history: BlockHistory,
    /// When the last block was applied (or the node started).
    last_block_at: Instant,
    /// The last block that failed, and why, unless a block was applied since.
    last_failure: Option<(u64, String)>,
}

/// The store a [`Node`] keeps by default: RocksDB, or memory in a build without it.
#[cfg(feature = "rocksdb")]
type DefaultStore = RocksStore;
#[cfg(not(feature = "rocksdb"))]
type DefaultStore = storage_adapter::MemoryStore;

#[cfg(feature = "rocksdb")]
impl Node<RocksStore> {
    /// Opens (or creates) the RocksDB store at `path` and a slot configured by `config`.
    pub fn open(path: &Path, config: &ExecutorConfig) -> Result<Self, NodeError> {
        let store = RocksStore::open(path)?;
        Self::new(store, ExecutorSlot::new(config)?)
    }
}

impl<S: BlockStore + 'static> Node<S> {
    /// A node over `store`, executing through `slot`.
    pub fn new(store: S, slot: ExecutorSlot) -> Result<Self, NodeError> {
        let chain = store.chain_state()?;
        let stats = NodeStats {
            topoheight: chain.topoheight,
            ..NodeStats::default()
        };
        let started = Instant::now();
        Ok(Self {
            store: Arc::new(store),
            executor: AsyncExecutor::new(slot),
            tip: watch::Sender::new(chain),
            apply: Arc::new(AsyncMutex::new(())),
            stats: Mutex::new(stats),
            activity: Mutex::new(Activity {
                history: BlockHistory::default(),
                last_block_at: started,
                last_failure: None,
            }),
            histograms: BlockHistograms::new(),
            health_policy: HealthPolicy::default(),
            started,
            max_blocks_ahead: DEFAULT_MAX_BLOCKS_AHEAD,
        })
    }

    /// Keeps the latest `capacity` blocks for [`Node::recent_blocks`] (default
    /// [`history::DEFAULT_HISTORY_CAPACITY`]).
    pub fn with_history_capacity(self, capacity: usize) -> Self {
        lock(&self.activity).history = BlockHistory::new(capacity);
        self
    }

    /// Sets what [`Node::health`] counts as healthy.
    pub fn with_health_policy(mut self, policy: HealthPolicy) -> Self {
        self.health_policy = policy;
        self
    }

    /// Sets how far ahead of the tip a block may arrive and wait (default
    /// [`DEFAULT_MAX_BLOCKS_AHEAD`]); further ones are refused at once.
    pub fn with_max_blocks_ahead(mut self, max_blocks_ahead: u64) -> Self {
        self.max_blocks_ahead = max_blocks_ahead;
        self
    }

    /// How far ahead of the tip a block may wait for its turn.
    pub fn max_blocks_ahead(&self) -> u64 {
        self.max_blocks_ahead
    }

    /// The store (read it through [`BlockStore::snapshot`]; commit only through the node).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The executor (its slot's configuration and counters, its running threads).
    pub fn executor(&self) -> &AsyncExecutor {
        &self.executor
    }

    /// The chain tip.
    pub fn chain_state(&self) -> ChainState {
        *self.tip.borrow()
    }

    /// The node's statistics so far.
    pub fn stats(&self) -> NodeStats {
        let mut stats = lock(&self.stats).clone();
        stats.slot = self.executor.slot().stats();
        stats
    }

    /// The statistics in the Prometheus text format, with the per-block histograms.
    pub fn render_metrics(&self) -> String {
        metrics::render_with_histograms(&self.stats(), &self.histograms)
    }

    /// The latest `n` applied blocks (as many as the history keeps), oldest first.
    pub fn recent_blocks(&self, n: usize) -> Vec<BlockRecord> {
        lock(&self.activity).history.last(n)
    }

    /// How many blocks the history keeps.
    pub fn history_capacity(&self) -> usize {
        lock(&self.activity).history.capacity()
    }

    /// Whether the node is healthy: it applies blocks (one within
    /// [`HealthPolicy::max_block_age`]), the last one did not fail, and the circuit
    /// breaker is closed.
    pub fn health(&self) -> Health {
        let (age, failure) = {
            let activity = lock(&self.activity);
            (
                activity.last_block_at.elapsed(),
                activity.last_failure.clone(),
            )
        };
        let mut reasons = Vec::new();
        if let BreakerState::Open { remaining_blocks } = self.executor.slot().breaker_state() {
            reasons.push(HealthReason::BreakerOpen { remaining_blocks });
        }
        if let Some((topoheight, error)) = failure {
            reasons.push(HealthReason::LastBlockFailed { topoheight, error });
        }
        if let Some(max) = self.health_policy.max_block_age {
            if age > max {
                reasons.push(HealthReason::NoRecentBlock {
                    seconds_since_last_block: age.as_secs_f64(),
                    max_seconds: max.as_secs_f64(),
                });
            }
        }
        Health::from_reasons(age.as_secs_f64(), reasons)
    }

    /// The node's status: configuration, breaker, chain, totals, recent averages, health.
    pub fn status(&self) -> NodeStatus {
        let slot = self.executor.slot();
        let config = slot.config();
        let stats = self.stats();
        let recent = lock(&self.activity).history.recent_averages();
        NodeStatus {
            engine: slot.engine_name().to_owned(),
            threads: config.threads(),
            network: config.network,
            shadow: config.shadow,
            min_parallel_txns: config.min_parallel_txns(),
            breaker: BreakerStatus::from(&slot.breaker()),
            topoheight: stats.topoheight,
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            blocks: stats.blocks,
            transactions: stats.transactions,
            successful_transactions: stats.successful_transactions,
            recent,
            health: self.health(),
            pending_config: slot.pending_config(),
            config,
        }
    }

    /// Commits `genesis` to an empty store.
    pub fn apply_genesis(&self, genesis: &BlockCommit) -> Result<(), NodeError> {
        let current = self.store.chain_state()?;
        if let Some(topoheight) = current.topoheight {
            return Err(NodeError::AlreadyInitialised { topoheight });
        }
        self.store.commit(genesis)?;
        let chain = genesis.chain_state();
        lock(&self.stats).topoheight = chain.topoheight;
        self.tip.send_replace(chain);
        tracing::info!(root = %genesis.state_root(), "genesis applied");
        Ok(())
    }

    /// Applies `block`: waits for its turn, executes it through the slot, commits it.
    ///
    /// Cancel safety: dropped while waiting or executing, nothing is committed (and the
    /// execution stops, see [`AsyncExecutor`]); dropped while committing, the commit
    /// completes, atomically, on its blocking thread, and the tip follows it.
    pub async fn apply_block(&self, block: Block) -> Result<AppliedBlock, NodeError> {
        let topoheight = block.topoheight();
        let span = tracing::info_span!(
            "block",
            topoheight,
            transactions = block.transactions().len(),
            path = tracing::field::Empty,
            executions = tracing::field::Empty,
            engine_ms = tracing::field::Empty,
            commit_ms = tracing::field::Empty,
        );
        let result = self.apply_in_turn(block).instrument(span).await;
        if let Err(error) = &result {
            self.note_failure(topoheight, error);
        }
        result
    }

    /// Remembers a block that failed in execution or commit (for [`Node::health`]); a
    /// block refused for its topoheight says nothing about the node.
    fn note_failure(&self, topoheight: u64, error: &NodeError) {
        match error {
            NodeError::AlreadyApplied { .. } | NodeError::TooFarAhead { .. } => {}
            error => {
                lock(&self.activity).last_failure = Some((topoheight, error.to_string()));
            }
        }
    }

    async fn apply_in_turn(&self, block: Block) -> Result<AppliedBlock, NodeError> {
        let topoheight = block.topoheight();
        self.wait_for_turn(topoheight).await?;
        let turn = Arc::clone(&self.apply).lock_owned().await;
        // Another block for the same topoheight may have been applied while we queued.
        let next = self.tip.borrow().next_topoheight();
        if topoheight != next {
            return Err(NodeError::AlreadyApplied {
                got: topoheight,
                next,
            });
        }

        let started = Instant::now();
        let transactions = block.transactions().len() as u64;
        let executed = self
            .executor
            .execute_block(Arc::new(block), Arc::clone(&self.store))
            .instrument(tracing::info_span!("execute"))
            .await
            .map_err(|source| NodeError::Execute { topoheight, source })?;
        let engine_time = started.elapsed();

        // Taken apart rather than cloned: the commit (every write of the block) moves to
        // the blocking thread.
        let SlotExecution {
            engine,
            execution: Execution { output, stats },
            path,
            shadow,
        } = executed;
        let state_root = output.state_root();
        let successful = output.successful() as u64;
        let commit = output.commit;
        let store = Arc::clone(&self.store);
        let tip = self.tip.clone();
        let span = tracing::info_span!("commit", writes = commit.writes().len());
        // The commit and the tip update run together on a blocking thread, holding the
        // turn: a caller that gives up mid-commit cannot leave the tip behind the store.
        let commit_time = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let _turn = turn;
            let started = Instant::now();
            store.commit(&commit)?;
            tip.send_replace(commit.chain_state());
            Ok::<_, StorageError>(started.elapsed())
        })
        .await
        .map_err(|error| NodeError::CommitTask {
            topoheight,
            reason: error.to_string(),
        })?
        .map_err(|source| NodeError::Commit { topoheight, source })?;

        let applied = AppliedBlock {
            topoheight,
            state_root,
            transactions,
            successful,
            path,
            engine,
            stats,
            shadow,
            engine_time,
            commit_time,
        };
        self.record(&applied);
        let span = tracing::Span::current();
        span.record("path", applied.path.as_str());
        span.record("executions", applied.stats.executions);
        span.record("engine_ms", engine_time.as_secs_f64() * 1e3);
        span.record("commit_ms", commit_time.as_secs_f64() * 1e3);
        tracing::debug!(root = %applied.state_root, stats = ?applied.stats, "block applied");
        Ok(applied)
    }

    /// Waits until `topoheight` is the chain's next one.
    async fn wait_for_turn(&self, topoheight: u64) -> Result<(), NodeError> {
        let mut tip = self.tip.subscribe();
        loop {
            let next = tip.borrow_and_update().next_topoheight();
            if topoheight < next {
                return Err(NodeError::AlreadyApplied {
                    got: topoheight,
                    next,
                });
            }
            if topoheight == next {
                return Ok(());
            }
            if topoheight - next > self.max_blocks_ahead {
                return Err(NodeError::TooFarAhead {
                    got: topoheight,
                    next,
                    max_ahead: self.max_blocks_ahead,
                });
            }
            // The sender lives in `self`, so the channel never closes while we wait.
            let _ = tip.changed().await;
        }
    }

    fn record(&self, applied: &AppliedBlock) {
        let record = BlockRecord::from_applied(applied);
        self.histograms.observe(&record);
        {
            let mut activity = lock(&self.activity);
            activity.history.push(record);
            activity.last_block_at = Instant::now();
            activity.last_failure = None;
        }
        let mut stats = lock(&self.stats);
        stats.topoheight = Some(applied.topoheight);
        stats.blocks += 1;
        stats.transactions += applied.transactions;
        stats.successful_transactions += applied.successful;
        stats.engine_seconds += applied.engine_time.as_secs_f64();
        stats.commit_seconds += applied.commit_time.as_secs_f64();
        let parallel = match (&applied.path, &applied.shadow) {
            (ExecutionPath::Engine, _) => Some(&applied.stats),
            (ExecutionPath::Shadow, Some(report)) => report.candidate_stats.as_ref(),
            _ => None,
        };
        if let Some(parallel) = parallel {
            stats.parallel.accumulate(parallel);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Statistics stay consistent after a panic elsewhere: each update is a few adds.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
