//! Re-running a capsule on engines and thread counts, and where each differs from the
//! recorded oracle.
//!
//! Every run reads the capsule's [`RecordedState`] only (no database) and is compared
//! with the oracle's *recorded* output by the same comparison shadow mode uses, so a run
//! that reproduces the mismatch shows the very first difference the node logged. A run
//! that asks for a value the capsule does not hold is reported as incomplete (its
//! `unrecorded_reads`), never fed a made-up value. [`factory_engines`] builds every
//! engine of the [factory](crate::engine::build) at each thread count, with Block-STM's
//! contention cutoff off and its threshold at 2, so it speculates on every block rather
//! than stepping aside to the sequential path; a test or a daemon adds its own engines.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use storage_adapter::{ChainState, Hash, StateKey, StateValue, StateView, StorageError};

use super::state::NOT_RECORDED;
use super::wire::MismatchDto;
use super::{first_difference, Capsule, CapsuleReason, RecordedOutcome, RecordedState};
use crate::engine::{self, BlockExecutor, EngineConfig, EngineKind};
use crate::slot::Mismatch;

/// The thread counts `blockstm replay` tries by default.
pub const DEFAULT_THREADS: [usize; 4] = [1, 2, 4, 8];

/// One engine to replay on, at a thread count.
#[derive(Clone)]
pub struct ReplayEngine {
    /// The thread count it was built with (1 for the oracle).
    pub threads: usize,
    /// The engine.
    pub engine: Arc<dyn BlockExecutor>,
}

impl std::fmt::Debug for ReplayEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayEngine")
            .field("engine", &self.engine.name())
            .field("threads", &self.threads)
            .finish()
    }
}

/// Every engine of the factory: the oracle once, then batch grouping and Block-STM at
/// each of `threads` (see the module docs for Block-STM's settings).
pub fn factory_engines(threads: &[usize]) -> Vec<ReplayEngine> {
    let mut engines = Vec::new();
    for kind in EngineKind::ALL {
        let counts: &[usize] = if kind == EngineKind::Sequential {
            &[1]
        } else {
            threads
        };
        for &threads in counts {
            let config = EngineConfig::parallel_forced(threads);
            engines.push(ReplayEngine {
                threads,
                engine: engine::build(kind, &config),
            });
        }
    }
    engines
}

/// One engine's replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayRun {
    /// The engine's name.
    pub engine: String,
    /// Its thread count.
    pub threads: usize,
    /// What it produced (a panic is a rejection whose text says so).
    pub outcome: RecordedOutcome,
    /// Its first difference from the recorded oracle; `None`: it agrees.
    pub first_difference: Option<Mismatch>,
    /// Reads the capsule could not answer (the run is then incomplete).
    pub unrecorded_reads: u64,
    /// Its fallbacks to sequential execution.
    pub fallbacks: u64,
}

impl ReplayRun {
    /// Whether the run reached the recorded oracle's result on recorded values only.
    pub fn agrees(&self) -> bool {
        self.first_difference.is_none() && self.unrecorded_reads == 0
    }
}

/// A capsule's replay: what was recorded and what each run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayReport {
    /// Why the capsule was recorded.
    pub reason: CapsuleReason,
    /// The engine that was being compared.
    pub engine: String,
    /// Its thread count, when recorded.
    pub threads: Option<usize>,
    /// The block's topoheight.
    pub topoheight: u64,
    /// Its transactions.
    pub transactions: usize,
    /// The state values the capsule holds.
    pub state_values: usize,
    /// The first difference recorded in the capsule.
    pub recorded: Option<Mismatch>,
    /// Whether the recorded difference is the difference between the two recorded
    /// outputs (false only for a capsule edited by hand or written by a buggy node).
    pub recorded_consistent: bool,
    /// The runs, in the order of the engines given.
    pub runs: Vec<ReplayRun>,
}

impl ReplayReport {
    /// Whether any run differs from the recorded oracle or read beyond the capsule.
    pub fn diverged(&self) -> bool {
        self.runs.iter().any(|run| !run.agrees())
    }

    /// Whether a run showed exactly the recorded first difference.
    pub fn reproduced(&self) -> bool {
        self.recorded.is_some()
            && self
                .runs
                .iter()
                .any(|run| run.first_difference == self.recorded)
    }

    /// The report as JSON (`blockstm replay --json`).
    pub fn to_json(&self) -> serde_json::Value {
        let difference = |mismatch: &Option<Mismatch>| {
            (
                mismatch.as_ref().map(ToString::to_string),
                mismatch.as_ref().map(MismatchDto::from),
            )
        };
        let (recorded_text, recorded_detail) = difference(&self.recorded);
        let runs: Vec<serde_json::Value> = self
            .runs
            .iter()
            .map(|run| {
                let (text, detail) = difference(&run.first_difference);
                serde_json::json!({
                    "engine": run.engine,
                    "threads": run.threads,
                    "state_root": run.outcome.state_root().map(|root| root.to_string()),
                    "rejected": match &run.outcome {
                        RecordedOutcome::Rejected(error) => Some(error),
                        RecordedOutcome::Accepted(_) => None,
                    },
                    "first_difference": text,
                    "first_difference_detail": detail,
                    "unrecorded_reads": run.unrecorded_reads,
                    "fallbacks": run.fallbacks,
                    "agrees": run.agrees(),
                })
            })
            .collect();
        serde_json::json!({
            "reason": self.reason,
            "engine": self.engine,
            "threads": self.threads,
            "topoheight": self.topoheight,
            "transactions": self.transactions,
            "state_values": self.state_values,
            "recorded_first_difference": recorded_text,
            "recorded_first_difference_detail": recorded_detail,
            "recorded_consistent": self.recorded_consistent,
            "reproduced": self.reproduced(),
            "diverged": self.diverged(),
            "runs": runs,
        })
    }
}

/// Replays `capsule` on each of `engines`; see the module docs.
pub fn replay(capsule: &Capsule, engines: &[ReplayEngine]) -> ReplayReport {
    let runs = engines
        .iter()
        .map(|engine| replay_one(capsule, engine))
        .collect();
    ReplayReport {
        reason: capsule.reason,
        engine: capsule.engine.clone(),
        threads: capsule.threads,
        topoheight: capsule.block.topoheight(),
        transactions: capsule.block.transactions().len(),
        state_values: capsule.state.values.len(),
        recorded: capsule.first_difference.clone(),
        recorded_consistent: first_difference(&capsule.oracle, &capsule.candidate)
            == capsule.first_difference,
        runs,
    }
}

fn replay_one(capsule: &Capsule, replay: &ReplayEngine) -> ReplayRun {
    let view = Counting {
        state: &capsule.state,
        unrecorded: AtomicU64::new(0),
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        replay.engine.execute_block(&capsule.block, &view)
    }));
    let (outcome, fallbacks) = match result {
        Ok(Ok(execution)) => (
            RecordedOutcome::Accepted(execution.output),
            execution.stats.fallbacks,
        ),
        Ok(Err(error)) => (RecordedOutcome::Rejected(error.to_string()), 0),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            (
                RecordedOutcome::Rejected(format!("the engine panicked: {message}")),
                0,
            )
        }
    };
    ReplayRun {
        engine: replay.engine.name().to_owned(),
        threads: replay.threads,
        first_difference: first_difference(&capsule.oracle, &outcome),
        outcome,
        unrecorded_reads: view.unrecorded.load(Ordering::Relaxed),
        fallbacks,
    }
}

/// The capsule's state, counting the reads it cannot answer.
struct Counting<'a> {
    state: &'a RecordedState,
    unrecorded: AtomicU64,
}

impl Counting<'_> {
    fn count<T>(&self, result: Result<T, StorageError>) -> Result<T, StorageError> {
        if let Err(StorageError::Other(message)) = &result {
            if message.starts_with(NOT_RECORDED) {
                self.unrecorded.fetch_add(1, Ordering::Relaxed);
            }
        }
        result
    }
}

impl StateView for Counting<'_> {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StorageError> {
        self.count(self.state.get(key))
    }

    fn is_executed(&self, tx_hash: &Hash) -> Result<bool, StorageError> {
        self.count(self.state.is_executed(tx_hash))
    }

    fn chain_state(&self) -> Result<ChainState, StorageError> {
        self.state.chain_state()
    }
}
