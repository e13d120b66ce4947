//! The daemon's executor slot: the one place a node executes blocks, whatever the engine.
//!
//! [`ExecutorSlot`] routes each block by its configuration ([`ExecutorConfig`]):
//!
//! - below the parallel threshold (or with `kind = "sequential"`): the sequential oracle;
//! - while the [circuit breaker](breaker) is open: the oracle;
//! - in shadow mode: the oracle *and* the configured engine, compared
//!   ([`shadow::compare`]); a mismatch is logged with the first differing transaction or
//!   key, counted, and trips the breaker; the oracle's output is kept;
//! - otherwise: the configured engine; a fallback to sequential trips the breaker.
//!
//! With `[capsules]` configured, a mismatch or a fallback also writes a
//! [capsule](crate::capsule) that replays the block without the database.
//!
//! This is the daemon integration guide's rollout: an opt-in engine, a threshold, a mode
//! that runs both before any node trusts the parallel result, and a way back when it
//! misbehaves. [`AsyncExecutor`] is the same slot for a tokio daemon.
//!
//! ```
//! use executor::slot::{ExecutorConfig, ExecutorSlot};
//!
//! let config = ExecutorConfig::from_toml_str("network = \"devnet\"\nthreads = 2")?;
//! let slot = ExecutorSlot::new(&config)?;
//! assert_eq!(slot.min_parallel_txns(), 4);
//! # Ok::<(), executor::slot::ConfigError>(())
//! ```

mod asynchronous;
pub mod breaker;
mod config;
pub mod shadow;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use storage_adapter::StateView;

/// The engine the slot runs at or above the threshold ([`ExecutorConfig::kind`]).
pub use crate::engine::{EngineKind, UnknownEngineKind};
pub use asynchronous::{AsyncExecuteError, AsyncExecutor};
pub use breaker::{BreakerState, CircuitBreaker, TripReason};
pub use config::{
    CircuitBreakerConfig, CircuitBreakerOverrides, ConfigError, ConfigOverrides, ContentionCutoff,
    ExecutorConfig, Network, UnknownNetwork, ENV_PREFIX, MAX_THREADS,
};
pub use shadow::Mismatch;

use crate::capsule::{CapsuleSink, CapsuleWriter};
use crate::engine::blockstm::BlockStmConfig;
use crate::engine::sequential::SequentialExecutor;
use crate::engine::{BlockExecutor, EngineConfig, Execution, ExecutionStats};
use crate::model::Block;
use crate::outcome::BlockError;

/// Which way the slot executed a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutionPath {
    /// The oracle, because the block is under the threshold or the kind is sequential.
    BelowThreshold,
    /// The oracle, because the circuit breaker is open.
    BreakerOpen,
    /// The configured engine alone.
    Engine,
    /// The oracle and the configured engine, compared; the oracle's output kept.
    Shadow,
}

impl ExecutionPath {
    /// A stable label for logs and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            ExecutionPath::BelowThreshold => "below_threshold",
            ExecutionPath::BreakerOpen => "breaker_open",
            ExecutionPath::Engine => "engine",
            ExecutionPath::Shadow => "shadow",
        }
    }
}

/// One block through the slot: the execution kept, and how it was obtained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotExecution {
    /// The output kept (in shadow mode, the oracle's) and the counters of the engine that
    /// produced it.
    pub execution: Execution,
    /// Which way the block went.
    pub path: ExecutionPath,
    /// In shadow mode: the candidate engine's counters, and the first difference if any.
    pub shadow: Option<ShadowReport>,
}

/// What shadow mode saw on one block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShadowReport {
    /// The candidate's counters (absent when it rejected the block).
    pub candidate_stats: Option<ExecutionStats>,
    /// The first difference from the oracle, if any.
    pub mismatch: Option<Mismatch>,
}

/// The slot's counters since it was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SlotStats {
    /// Blocks executed (successfully or not).
    pub blocks: u64,
    /// Blocks run on the oracle because they were under the threshold.
    pub below_threshold: u64,
    /// Blocks run on the oracle because the breaker was open.
    pub breaker_skipped: u64,
    /// Blocks run on the configured engine alone.
    pub engine_blocks: u64,
    /// Blocks compared in shadow mode.
    pub shadow_compared: u64,
    /// Shadow comparisons that found a difference.
    pub shadow_mismatches: u64,
    /// Blocks on which the configured engine fell back to sequential.
    pub fallbacks: u64,
    /// Times the breaker opened.
    pub breaker_trips: u64,
    /// Whether the breaker is open now.
    pub breaker_open: bool,
}

#[derive(Debug, Default)]
struct Counters {
    blocks: AtomicU64,
    below_threshold: AtomicU64,
    breaker_skipped: AtomicU64,
    engine_blocks: AtomicU64,
    shadow_compared: AtomicU64,
    shadow_mismatches: AtomicU64,
    fallbacks: AtomicU64,
}

/// The executor slot; see the module docs.
pub struct ExecutorSlot {
    engine: Arc<dyn BlockExecutor>,
    kind: EngineKind,
    min_parallel_txns: usize,
    shadow: bool,
    breaker: Mutex<CircuitBreaker>,
    counters: Counters,
    /// Records a capsule after a mismatch or a fallback, when configured.
    capsules: Option<CapsuleSink>,
}

impl std::fmt::Debug for ExecutorSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutorSlot")
            .field("engine", &self.engine.name())
            .field("kind", &self.kind)
            .field("min_parallel_txns", &self.min_parallel_txns)
            .field("shadow", &self.shadow)
            .field("stats", &self.stats())
            .finish()
    }
}

impl ExecutorSlot {
    /// The slot `config` describes, with the engine of its `kind`; refuses a
    /// configuration that does not [validate](ExecutorConfig::validate).
    pub fn new(config: &ExecutorConfig) -> Result<Self, ConfigError> {
        let threads = config.threads();
        let engines = EngineConfig {
            block_stm: BlockStmConfig {
                threads,
                // The slot applies the threshold itself; the engine keeps only its
                // own floor (a block of one transaction has nothing to overlap).
                min_parallel_txns: 2,
                contention_cutoff: config.contention_cutoff.0,
                ..BlockStmConfig::default()
            },
            ..EngineConfig::new(threads)
        };
        Self::with_engine(config, crate::engine::build(config.kind, &engines))
    }

    /// A slot that runs `engine` where `config` says the configured engine runs (its
    /// `kind` is only used to tell whether the engine is the oracle itself). For an engine
    /// of the daemon's own, or a test double.
    pub fn with_engine(
        config: &ExecutorConfig,
        engine: Arc<dyn BlockExecutor>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            engine,
            kind: config.kind,
            min_parallel_txns: config.min_parallel_txns(),
            shadow: config.shadow,
            breaker: Mutex::new(CircuitBreaker::new(config.circuit_breaker.cooldown_blocks)),
            counters: Counters::default(),
            capsules: CapsuleWriter::from_config(&config.capsules)
                .map(|writer| CapsuleSink::new(writer, config.threads())),
        })
    }

    /// The threshold: blocks with fewer transactions run on the oracle.
    pub fn min_parallel_txns(&self) -> usize {
        self.min_parallel_txns
    }

    /// The configured engine's name.
    pub fn engine_name(&self) -> &'static str {
        self.engine.name()
    }

    /// Whether shadow mode is on.
    pub fn shadow(&self) -> bool {
        self.shadow
    }

    /// The capsule recorder, when `[capsules]` names a directory.
    pub fn capsules(&self) -> Option<&CapsuleSink> {
        self.capsules.as_ref()
    }

    /// The counters so far.
    pub fn stats(&self) -> SlotStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let breaker = self.lock_breaker();
        SlotStats {
            blocks: load(&self.counters.blocks),
            below_threshold: load(&self.counters.below_threshold),
            breaker_skipped: load(&self.counters.breaker_skipped),
            engine_blocks: load(&self.counters.engine_blocks),
            shadow_compared: load(&self.counters.shadow_compared),
            shadow_mismatches: load(&self.counters.shadow_mismatches),
            fallbacks: load(&self.counters.fallbacks),
            breaker_trips: breaker.trips(),
            breaker_open: breaker.state() != BreakerState::Closed,
        }
    }

    /// The breaker's current state.
    pub fn breaker_state(&self) -> BreakerState {
        self.lock_breaker().state()
    }

    fn lock_breaker(&self) -> std::sync::MutexGuard<'_, CircuitBreaker> {
        // The breaker's state is valid after any panic (each method leaves it whole).
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Executes `block` on `view` the way the configuration says; see the module docs.
    pub fn execute(
        &self,
        block: &Block,
        view: &dyn StateView,
    ) -> Result<SlotExecution, BlockError> {
        self.counters.blocks.fetch_add(1, Ordering::Relaxed);
        let transactions = block.transactions().len();
        if self.kind == EngineKind::Sequential || transactions < self.min_parallel_txns {
            self.counters
                .below_threshold
                .fetch_add(1, Ordering::Relaxed);
            return self.oracle(block, view, ExecutionPath::BelowThreshold);
        }
        if !self.lock_breaker().admit() {
            self.counters
                .breaker_skipped
                .fetch_add(1, Ordering::Relaxed);
            return self.oracle(block, view, ExecutionPath::BreakerOpen);
        }
        if self.shadow {
            return self.shadow_execute(block, view);
        }
        self.counters.engine_blocks.fetch_add(1, Ordering::Relaxed);
        let execution = self.engine.execute_block(block, view)?;
        self.note_fallback(&execution.stats);
        if let (Some(capsules), true) = (&self.capsules, execution.stats.fallbacks > 0) {
            capsules.after_fallback(block, view, &*self.engine, &execution);
        }
        Ok(SlotExecution {
            execution,
            path: ExecutionPath::Engine,
            shadow: None,
        })
    }

    fn oracle(
        &self,
        block: &Block,
        view: &dyn StateView,
        path: ExecutionPath,
    ) -> Result<SlotExecution, BlockError> {
        Ok(SlotExecution {
            execution: SequentialExecutor::new().execute_block(block, view)?,
            path,
            shadow: None,
        })
    }

    fn shadow_execute(
        &self,
        block: &Block,
        view: &dyn StateView,
    ) -> Result<SlotExecution, BlockError> {
        // One after the other, not side by side: both would compete for the same cores,
        // and the oracle's time is then the node's real cost of the block.
        let oracle = SequentialExecutor::new().execute_block(block, view);
        let candidate = self.engine.execute_block(block, view);
        if let Ok(execution) = &candidate {
            self.note_fallback(&execution.stats);
        }
        let candidate_output = candidate.as_ref().map(|execution| &execution.output);
        let oracle_output = oracle.as_ref().map(|execution| &execution.output);
        let mismatch = if shadow::is_environmental(oracle_output)
            || shadow::is_environmental(candidate_output)
        {
            // Storage failed under one of the runs: that says nothing about the engine.
            None
        } else {
            self.counters
                .shadow_compared
                .fetch_add(1, Ordering::Relaxed);
            shadow::compare(oracle_output, candidate_output)
        };
        if let Some(mismatch) = &mismatch {
            self.counters
                .shadow_mismatches
                .fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                topoheight = block.topoheight(),
                engine = self.engine.name(),
                %mismatch,
                "shadow mismatch: the engine's output differs from the oracle's; keeping the oracle's"
            );
            self.lock_breaker().trip(TripReason::ShadowMismatch);
        }
        if let Some(capsules) = &self.capsules {
            capsules.after_shadow(
                block,
                view,
                &*self.engine,
                oracle.as_ref(),
                candidate.as_ref(),
                mismatch.as_ref(),
            );
        }
        Ok(SlotExecution {
            execution: oracle?,
            path: ExecutionPath::Shadow,
            shadow: Some(ShadowReport {
                candidate_stats: candidate.ok().map(|execution| execution.stats),
                mismatch,
            }),
        })
    }

    fn note_fallback(&self, stats: &ExecutionStats) {
        if stats.fallbacks > 0 {
            self.counters.fallbacks.fetch_add(1, Ordering::Relaxed);
            self.lock_breaker().trip(TripReason::Fallback);
        }
    }
}

impl BlockExecutor for ExecutorSlot {
    fn name(&self) -> &'static str {
        "slot"
    }

    fn execute_block(&self, block: &Block, view: &dyn StateView) -> Result<Execution, BlockError> {
        self.execute(block, view).map(|slot| slot.execution)
    }
}
