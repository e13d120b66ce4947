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
//! The configuration can change while the node runs ([`ExecutorSlot::reconfigure`],
//! [`reconfigure`]): a new configuration is validated and its engine built at once, but
//! it waits until the next block starts, so a block always runs from start to end under
//! one configuration.
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
pub mod reconfigure;
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
    ExecutorConfig, Network, UnknownNetwork, VmSetting, ENV_PREFIX, MAX_THREADS,
};
pub use reconfigure::{ConfigSource, ReconfigureError};
pub use shadow::Mismatch;

use crate::capsule::{CapsuleSink, CapsuleWriter};
use crate::engine::blockstm::BlockStmConfig;
use crate::engine::sequential::SequentialExecutor;
use crate::engine::{BlockExecutor, EngineConfig, Execution, ExecutionStats};
use crate::model::Block;
use crate::outcome::BlockError;

/// Which way the slot executed a block (serialized as [`ExecutionPath::as_str`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
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
    /// The configured engine's name in the configuration the block ran under (the
    /// candidate in shadow mode; the engine that would have run on the oracle's paths).
    pub engine: &'static str,
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
    /// Mismatch and fallback capsules written to the capsule directory.
    pub capsules_written: u64,
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
    capsules_written: AtomicU64,
}

/// A configuration in effect (or waiting for the next block): the configuration, and
/// what the slot derives from it.
struct Route {
    config: ExecutorConfig,
    engine: Arc<dyn BlockExecutor>,
    min_parallel_txns: usize,
}

impl Route {
    fn new(config: ExecutorConfig, engine: Arc<dyn BlockExecutor>) -> Self {
        Self {
            min_parallel_txns: config.min_parallel_txns(),
            config,
            engine,
        }
    }
}

/// The executor slot; see the module docs.
pub struct ExecutorSlot {
    /// The configuration in effect; each block takes it once, at its start.
    route: Mutex<Arc<Route>>,
    /// A configuration accepted but not yet in effect (it takes effect when the next
    /// block starts).
    pending: Mutex<Option<Arc<Route>>>,
    /// The engine given to [`ExecutorSlot::with_engine`] and its kind: a new
    /// configuration of that kind keeps it.
    custom: Option<(EngineKind, Arc<dyn BlockExecutor>)>,
    breaker: Mutex<CircuitBreaker>,
    counters: Counters,
    /// Records a capsule after a mismatch or a fallback, when configured.
    capsules: Option<CapsuleSink>,
}

impl std::fmt::Debug for ExecutorSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let route = self.route();
        f.debug_struct("ExecutorSlot")
            .field("engine", &route.engine.name())
            .field("config", &route.config)
            .field("stats", &self.stats())
            .finish()
    }
}

/// The engine `config` asks for, as the library builds it.
fn build_engine(config: &ExecutorConfig) -> Arc<dyn BlockExecutor> {
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
        vm: config.vm.0,
        ..EngineConfig::new(threads)
    };
    crate::engine::build(config.kind, &engines)
}

impl ExecutorSlot {
    /// The slot `config` describes, with the engine of its `kind`; refuses a
    /// configuration that does not [validate](ExecutorConfig::validate).
    pub fn new(config: &ExecutorConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::from_route(
            Route::new(config.clone(), build_engine(config)),
            None,
        ))
    }

    /// A slot that runs `engine` where `config` says the configured engine runs (its
    /// `kind` is only used to tell whether the engine is the oracle itself). For an engine
    /// of the daemon's own, or a test double. A [new configuration](Self::reconfigure)
    /// of the same kind keeps `engine` (its threads are its own business); one of
    /// another kind runs the library's engine of that kind.
    pub fn with_engine(
        config: &ExecutorConfig,
        engine: Arc<dyn BlockExecutor>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::from_route(
            Route::new(config.clone(), Arc::clone(&engine)),
            Some((config.kind, engine)),
        ))
    }

    fn from_route(route: Route, custom: Option<(EngineKind, Arc<dyn BlockExecutor>)>) -> Self {
        Self {
            breaker: Mutex::new(CircuitBreaker::new(
                route.config.circuit_breaker.cooldown_blocks,
            )),
            pending: Mutex::new(None),
            custom,
            counters: Counters::default(),
            // The capsule directory and caps are read once: `PUT /config` and a reload
            // change the engine's settings, not where evidence goes.
            capsules: CapsuleWriter::from_config(&route.config.capsules).map(CapsuleSink::new),
            route: Mutex::new(Arc::new(route)),
        }
    }

    /// The threshold in effect: blocks with fewer transactions run on the oracle.
    pub fn min_parallel_txns(&self) -> usize {
        self.route().min_parallel_txns
    }

    /// The configured engine's name (in the configuration in effect).
    pub fn engine_name(&self) -> &'static str {
        self.route().engine.name()
    }

    /// Whether shadow mode is on (in the configuration in effect).
    pub fn shadow(&self) -> bool {
        self.route().config.shadow
    }

    /// The configuration in effect: the one the last block started under, or the first.
    pub fn config(&self) -> ExecutorConfig {
        self.route().config.clone()
    }

    /// A configuration accepted by [`ExecutorSlot::reconfigure`] that waits for the next
    /// block to start.
    pub fn pending_config(&self) -> Option<ExecutorConfig> {
        lock(&self.pending)
            .as_ref()
            .map(|route| route.config.clone())
    }

    /// The configuration the next block will start under: the pending one, or the one in
    /// effect.
    pub fn next_config(&self) -> ExecutorConfig {
        self.pending_config().unwrap_or_else(|| self.config())
    }

    /// Replaces the configuration from the next block on: validates `config` exactly as
    /// a file is validated, refuses a change of what cannot change while a node runs
    /// (the network), builds its engine now, and leaves it pending until the next block
    /// starts (a block in flight finishes under the configuration it started with).
    /// A second call before that block replaces the first (and one equal to the
    /// configuration in effect withdraws it). Returns the fields that differ from the
    /// configuration in effect; on an error nothing changes.
    pub fn reconfigure(&self, config: ExecutorConfig) -> Result<Vec<String>, ReconfigureError> {
        let mut pending = lock(&self.pending);
        self.stage(&mut pending, config)
    }

    /// Changes some fields of the configuration the next block would start under
    /// ([`ExecutorSlot::next_config`]): `patch` is a JSON object of fields as the file
    /// spells them (`{"threads": 4, "circuit_breaker": {"cooldown_blocks": 10}}`),
    /// merged over that configuration, validated and staged as
    /// [`ExecutorSlot::reconfigure`] does. Returns the staged configuration and the
    /// fields that differ from the one in effect.
    pub fn patch_config(
        &self,
        patch: &serde_json::Value,
    ) -> Result<(ExecutorConfig, Vec<String>), ReconfigureError> {
        // Held from reading the base to staging, so two patches at once both apply.
        let mut pending = lock(&self.pending);
        let base = match pending.as_ref() {
            Some(route) => route.config.clone(),
            None => self.config(),
        };
        let config = reconfigure::patched(&base, patch)?;
        let changed = self.stage(&mut pending, config.clone())?;
        Ok((config, changed))
    }

    /// Reads the configuration again from where it came from at start-up (`SIGHUP`)
    /// and stages it as [`ExecutorSlot::reconfigure`] does; a file that does not load or
    /// validate changes nothing.
    pub fn reload(&self, source: &ConfigSource) -> Result<Vec<String>, ReconfigureError> {
        self.reconfigure(source.load()?)
    }

    fn stage(
        &self,
        pending: &mut Option<Arc<Route>>,
        config: ExecutorConfig,
    ) -> Result<Vec<String>, ReconfigureError> {
        let current = self.config();
        reconfigure::check(&current, &config)?;
        let changed = reconfigure::changed_fields(&current, &config);
        if changed.is_empty() {
            // The configuration in effect: nothing to apply, and any pending change is
            // withdrawn.
            tracing::info!("executor configuration unchanged; any pending change withdrawn");
            *pending = None;
            return Ok(changed);
        }
        let engine = match &self.custom {
            Some((kind, engine)) if *kind == config.kind => Arc::clone(engine),
            _ => build_engine(&config),
        };
        tracing::info!(
            changed = ?changed,
            config = ?config,
            "executor configuration accepted: it takes effect when the next block starts"
        );
        *pending = Some(Arc::new(Route::new(config, engine)));
        Ok(changed)
    }

    /// The route in effect.
    fn route(&self) -> Arc<Route> {
        Arc::clone(&lock(&self.route))
    }

    /// The route a block starting now runs under: a pending configuration takes effect
    /// here, between blocks.
    fn begin_block(&self, topoheight: u64) -> Arc<Route> {
        let Some(next) = lock(&self.pending).take() else {
            return self.route();
        };
        let previous = std::mem::replace(&mut *lock(&self.route), Arc::clone(&next));
        self.lock_breaker()
            .set_cooldown(next.config.circuit_breaker.cooldown_blocks);
        tracing::info!(
            topoheight,
            changed = ?reconfigure::changed_fields(&previous.config, &next.config),
            engine = next.engine.name(),
            "executor configuration changed at the block boundary"
        );
        next
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
            capsules_written: load(&self.counters.capsules_written),
            breaker_trips: breaker.trips(),
            breaker_open: breaker.state() != BreakerState::Closed,
        }
    }

    /// The breaker's current state.
    pub fn breaker_state(&self) -> BreakerState {
        self.lock_breaker().state()
    }

    /// The breaker's trip count and current cooldown besides its state.
    pub fn breaker(&self) -> CircuitBreaker {
        self.lock_breaker().clone()
    }

    fn note_capsule(&self, written: Option<std::path::PathBuf>) {
        if written.is_some() {
            self.counters
                .capsules_written
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    fn lock_breaker(&self) -> std::sync::MutexGuard<'_, CircuitBreaker> {
        // The breaker's state is valid after any panic (each method leaves it whole).
        lock(&self.breaker)
    }

    /// Executes `block` on `view` the way the configuration says; see the module docs.
    pub fn execute(
        &self,
        block: &Block,
        view: &dyn StateView,
    ) -> Result<SlotExecution, BlockError> {
        self.counters.blocks.fetch_add(1, Ordering::Relaxed);
        // Taken once: whatever is reconfigured meanwhile waits for the next block.
        let route = self.begin_block(block.topoheight());
        let engine = route.engine.name();
        let transactions = block.transactions().len();
        if route.config.kind == EngineKind::Sequential || transactions < route.min_parallel_txns {
            self.counters
                .below_threshold
                .fetch_add(1, Ordering::Relaxed);
            return self.oracle(block, view, engine, ExecutionPath::BelowThreshold);
        }
        if !self.lock_breaker().admit() {
            self.counters
                .breaker_skipped
                .fetch_add(1, Ordering::Relaxed);
            return self.oracle(block, view, engine, ExecutionPath::BreakerOpen);
        }
        if route.config.shadow {
            return self.shadow_execute(block, view, &route);
        }
        self.counters.engine_blocks.fetch_add(1, Ordering::Relaxed);
        let execution = route.engine.execute_block(block, view)?;
        self.note_fallback(&execution.stats);
        if let (Some(capsules), true) = (&self.capsules, execution.stats.fallbacks > 0) {
            let written = capsules.after_fallback(
                block,
                view,
                &*route.engine,
                route.config.threads(),
                &execution,
            );
            self.note_capsule(written);
        }
        Ok(SlotExecution {
            engine,
            execution,
            path: ExecutionPath::Engine,
            shadow: None,
        })
    }

    fn oracle(
        &self,
        block: &Block,
        view: &dyn StateView,
        engine: &'static str,
        path: ExecutionPath,
    ) -> Result<SlotExecution, BlockError> {
        Ok(SlotExecution {
            engine,
            execution: SequentialExecutor::new().execute_block(block, view)?,
            path,
            shadow: None,
        })
    }

    fn shadow_execute(
        &self,
        block: &Block,
        view: &dyn StateView,
        route: &Route,
    ) -> Result<SlotExecution, BlockError> {
        // One after the other, not side by side: both would compete for the same cores,
        // and the oracle's time is then the node's real cost of the block.
        let oracle = SequentialExecutor::new().execute_block(block, view);
        let candidate = route.engine.execute_block(block, view);
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
                engine = route.engine.name(),
                %mismatch,
                "shadow mismatch: the engine's output differs from the oracle's; keeping the oracle's"
            );
            self.lock_breaker().trip(TripReason::ShadowMismatch);
        }
        if let Some(capsules) = &self.capsules {
            let written = capsules.after_shadow(
                block,
                view,
                &*route.engine,
                route.config.threads(),
                oracle.as_ref(),
                candidate.as_ref(),
                mismatch.as_ref(),
            );
            self.note_capsule(written);
        }
        Ok(SlotExecution {
            engine: route.engine.name(),
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every value behind these locks is whole after a panic elsewhere: each update is
    // one assignment or one method that leaves it whole.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
