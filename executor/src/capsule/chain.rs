//! Replaying a block file: its genesis and blocks on every engine, each from a fresh
//! in-memory store, and the first block where a run's state root leaves the reference.
//!
//! The reference root of a block is the one the file records (the exporting node's),
//! else the sequential oracle's, which runs first. Memory rather than RocksDB: the point
//! is that the blocks reach the same roots on any machine and engine, and the roots do
//! not depend on the store.

use storage_adapter::{Asset, BlockStore, Hash, MemoryStore, PublicKey, StateView};

use super::replay::ReplayEngine;
use super::{CapsuleError, ExportedBlock};
use crate::genesis_commit;

/// Where a run first left the reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainDivergence {
    /// The block's topoheight.
    pub topoheight: u64,
    /// The reference root after it.
    pub expected: Option<Hash>,
    /// The run's root after it, or why the run rejected the block.
    pub got: Result<Hash, String>,
}

impl std::fmt::Display for ChainDivergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let expected = self
            .expected
            .map_or_else(|| "none".to_owned(), |root| root.to_string());
        match &self.got {
            Ok(root) => write!(
                f,
                "block {}: root {root}, expected {expected}",
                self.topoheight
            ),
            Err(error) => write!(f, "block {} rejected: {error}", self.topoheight),
        }
    }
}

/// One engine's run over the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainRun {
    /// The engine's name.
    pub engine: String,
    /// Its thread count.
    pub threads: usize,
    /// Blocks applied before the run stopped (all of them unless it diverged).
    pub applied: u64,
    /// The root after the last block applied (genesis's when none was).
    pub state_root: Hash,
    /// The first divergence, if any; the run stops there.
    pub divergence: Option<ChainDivergence>,
}

/// A block file's replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    /// The blocks in the file.
    pub blocks: u64,
    /// The genesis allocations.
    pub allocations: usize,
    /// Blocks whose root the file records.
    pub recorded_roots: u64,
    /// The runs, in the order of the engines given.
    pub runs: Vec<ChainRun>,
}

impl ChainReport {
    /// Whether any run left the reference.
    pub fn diverged(&self) -> bool {
        self.runs.iter().any(|run| run.divergence.is_some())
    }

    /// The final root every run reached, when they all agree.
    pub fn state_root(&self) -> Option<Hash> {
        let first = self.runs.first()?.state_root;
        (!self.diverged() && self.runs.iter().all(|run| run.state_root == first)).then_some(first)
    }

    /// The report as JSON (`blockstm replay --blocks --json`).
    pub fn to_json(&self) -> serde_json::Value {
        let runs: Vec<serde_json::Value> = self
            .runs
            .iter()
            .map(|run| {
                serde_json::json!({
                    "engine": run.engine,
                    "threads": run.threads,
                    "applied": run.applied,
                    "state_root": run.state_root.to_string(),
                    "divergence": run.divergence.as_ref().map(ToString::to_string),
                    "agrees": run.divergence.is_none(),
                })
            })
            .collect();
        serde_json::json!({
            "blocks": self.blocks,
            "allocations": self.allocations,
            "recorded_roots": self.recorded_roots,
            "diverged": self.diverged(),
            "state_root": self.state_root().map(|root| root.to_string()),
            "runs": runs,
        })
    }
}

/// Runs `blocks` from `genesis` on each of `engines`; see the module docs. Fails only
/// when the genesis itself is invalid.
pub fn replay_chain(
    genesis: &[(PublicKey, Asset, u64)],
    blocks: &[ExportedBlock],
    engines: &[ReplayEngine],
) -> Result<ChainReport, CapsuleError> {
    let allocations = genesis.len();
    let genesis = genesis_commit(genesis)
        .map_err(|error| CapsuleError::Invalid(format!("the genesis allocations: {error}")))?;
    // The reference: recorded roots, else the oracle's (computed here, once).
    let oracle = ReplayEngine {
        threads: 1,
        engine: std::sync::Arc::new(crate::SequentialExecutor::new()),
    };
    let unchecked: Vec<Option<Hash>> = blocks.iter().map(|_| None).collect();
    let (_, oracle_roots) = run_chain(&genesis, blocks, &oracle, &unchecked)?;
    let reference: Vec<Option<Hash>> = blocks
        .iter()
        .zip(oracle_roots.iter().map(Some).chain(std::iter::repeat(None)))
        .map(|(block, oracle)| block.state_root.or(oracle.copied()))
        .collect();
    let runs = engines
        .iter()
        .map(|engine| run_chain(&genesis, blocks, engine, &reference).map(|(run, _)| run))
        .collect::<Result<_, _>>()?;
    Ok(ChainReport {
        blocks: blocks.len() as u64,
        allocations,
        recorded_roots: blocks.iter().filter(|b| b.state_root.is_some()).count() as u64,
        runs,
    })
}

/// One engine over the chain; also returns the root after each block it applied.
fn run_chain(
    genesis: &storage_adapter::BlockCommit,
    blocks: &[ExportedBlock],
    replay: &ReplayEngine,
    reference: &[Option<Hash>],
) -> Result<(ChainRun, Vec<Hash>), CapsuleError> {
    let store = MemoryStore::new();
    let storage = |error: storage_adapter::StorageError| {
        CapsuleError::Invalid(format!("the in-memory store: {error}"))
    };
    store.commit(genesis).map_err(storage)?;
    let mut roots = Vec::with_capacity(blocks.len());
    let mut divergence = None;
    for (exported, expected) in blocks.iter().zip(reference) {
        let snapshot = store.snapshot().map_err(storage)?;
        let result = replay
            .engine
            .execute_block(&exported.block, &snapshot)
            .map(|execution| execution.output);
        let got = result
            .as_ref()
            .map(|output| output.state_root())
            .map_err(ToString::to_string);
        let diverges = match (&got, expected) {
            (Err(_), _) => true,
            (Ok(root), Some(expected)) => root != expected,
            (Ok(_), None) => false,
        };
        if diverges {
            divergence = Some(ChainDivergence {
                topoheight: exported.block.topoheight(),
                expected: *expected,
                got,
            });
            break;
        }
        if let Ok(output) = result {
            store.commit(&output.commit).map_err(storage)?;
            roots.push(output.state_root());
        }
    }
    let run = ChainRun {
        engine: replay.engine.name().to_owned(),
        threads: replay.threads,
        applied: roots.len() as u64,
        state_root: store
            .snapshot()
            .map_err(storage)?
            .chain_state()
            .map_err(storage)?
            .state_root,
        divergence,
    };
    Ok((run, roots))
}
