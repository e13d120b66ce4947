//! Mismatch capsules: the evidence of one shadow mismatch or Block-STM fallback, in one
//! self-contained file that replays anywhere, without the node's database.
//!
//! When shadow mode finds the configured engine's output differs from the oracle's, or
//! the engine falls back to sequential execution, the [slot](crate::slot) records a
//! [`Capsule`]: the block, every state value the runs read (through a
//! [`RecordingView`]), both outputs and the first difference. A [`CapsuleWriter`] keeps
//! the configured directory under its count and size caps. A developer replays the file
//! with [`replay::replay`] (`blockstm replay FILE`) on every engine and thread count and
//! sees where they differ.
//!
//! - [`config`]: the `[capsules]` table of the executor configuration;
//! - [`format`]: the versioned JSON document ([`Capsule::to_bytes`], [`Capsule::from_bytes`]);
//! - [`recorder`]: the recording view and the slot's capture of a capsule;
//! - [`state`]: the recorded state, itself a [`StateView`](storage_adapter::StateView);
//! - [`writer`]: the bounded directory;
//! - [`replay`]: re-running a capsule;
//! - [`blocks`]: the block file of `blockstm run --export-blocks` and
//!   `blockstm replay --blocks`, and [`chain`]: running one on every engine.
//!
//! ```
//! use executor::capsule::{Capsule, CapsuleReason, RecordedOutcome, RecordingView};
//! use executor::{execute_sequential, genesis_commit, Block};
//! use storage_adapter::{Asset, BlockStore, MemoryStore, PublicKey};
//!
//! let store = MemoryStore::new();
//! let miner = PublicKey::from_index(0);
//! store.commit(&genesis_commit(&[(miner, Asset::TOS, 10)])?)?;
//! let block = Block::new(1, miner, 5, Vec::new());
//! let snapshot = store.snapshot()?;
//! let recorder = RecordingView::new(&snapshot);
//! let output = execute_sequential(&block, &recorder)?;
//! let capsule = Capsule {
//!     reason: CapsuleReason::Fallback,
//!     created_unix_ms: 0,
//!     engine: "block-stm".into(),
//!     threads: Some(2),
//!     block,
//!     state: recorder.into_state()?,
//!     oracle: RecordedOutcome::Accepted(output.clone()),
//!     candidate: RecordedOutcome::Accepted(output),
//!     candidate_stats: None,
//!     first_difference: None,
//! };
//! let bytes = capsule.to_bytes()?;
//! assert_eq!(Capsule::from_bytes(&bytes)?, capsule);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod blocks;
pub mod chain;
pub mod config;
pub mod format;
pub mod recorder;
pub mod replay;
pub mod state;
mod wire;
pub mod writer;

use std::path::Path;

pub use blocks::{BlocksReader, BlocksWriter, ExportedBlock};
pub use chain::{replay_chain, ChainDivergence, ChainReport, ChainRun};
pub use config::CapsuleConfig;
pub use recorder::{CapsuleSink, RecordingView};
pub use replay::{ReplayEngine, ReplayReport, ReplayRun};
pub use state::RecordedState;
pub use writer::{CapsuleWriter, WriteOutcome};

use crate::model::Block;
use crate::outcome::{BlockError, BlockOutput};
use crate::slot::Mismatch;

/// Why a capsule (or a block file) could not be read, written or used. Corrupt bytes are
/// always one of these, never a panic.
#[derive(Debug, thiserror::Error)]
pub enum CapsuleError {
    /// The file system failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// What the file system said.
        source: std::io::Error,
    },
    /// The bytes are not the JSON this format expects (truncated, not JSON, a field of
    /// the wrong type); the message says where.
    #[error("cannot decode: {0}")]
    Decode(String),
    /// The document is JSON but not a capsule (or block file) at all.
    #[error("not a {expected} (its format tag is {found:?})")]
    WrongFormat {
        /// The format tag expected.
        expected: &'static str,
        /// The tag found, if any.
        found: Option<String>,
    },
    /// A version this build cannot read.
    #[error(
        "format version {found} is not supported (this build reads versions {oldest} to \
         {supported})"
    )]
    UnsupportedVersion {
        /// The file's version.
        found: u64,
        /// The oldest version this build reads.
        oldest: u32,
        /// The version this build writes, and the newest it reads.
        supported: u32,
    },
    /// The document decodes but its content is inconsistent: a transaction whose hash is
    /// not the hash of its fields, a value that does not fit its key, an output whose
    /// state root is not the root of its writes.
    #[error("inconsistent content: {0}")]
    Invalid(String),
    /// Serialising failed (never expected for these types).
    #[error("encoding: {0}")]
    Encode(String),
}

impl CapsuleError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        CapsuleError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// What made the slot record a capsule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapsuleReason {
    /// Shadow mode found the engine's output differs from the oracle's.
    ShadowMismatch,
    /// The engine fell back to sequential execution (a worker panic, an invariant
    /// failure); the two outputs normally agree.
    Fallback,
}

impl CapsuleReason {
    /// A stable label for file names and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            CapsuleReason::ShadowMismatch => "shadow-mismatch",
            CapsuleReason::Fallback => "fallback",
        }
    }
}

impl std::fmt::Display for CapsuleReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One run's result as a capsule keeps it: the output, or the rejection's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordedOutcome {
    /// The engine accepted the block with this output.
    Accepted(BlockOutput),
    /// The engine rejected the block with this error (its `Display` text).
    Rejected(String),
}

impl RecordedOutcome {
    /// The outcome of an engine's run.
    pub fn of(result: Result<&BlockOutput, &BlockError>) -> Self {
        match result {
            Ok(output) => RecordedOutcome::Accepted(output.clone()),
            Err(error) => RecordedOutcome::Rejected(error.to_string()),
        }
    }

    /// The state root, when the block was accepted.
    pub fn state_root(&self) -> Option<storage_adapter::Hash> {
        match self {
            RecordedOutcome::Accepted(output) => Some(output.state_root()),
            RecordedOutcome::Rejected(_) => None,
        }
    }

    /// One line for a person, in the words of [`Mismatch::Outcome`].
    pub fn summary(&self) -> String {
        // The same words as `shadow::compare`'s, so that a difference recomputed from a
        // capsule equals the one the slot logged.
        match self {
            RecordedOutcome::Accepted(output) => {
                format!("accepted the block (root {})", output.state_root())
            }
            RecordedOutcome::Rejected(error) => format!("rejected the block ({error})"),
        }
    }
}

/// The first difference between two recorded outcomes, as shadow mode reports it
/// ([`crate::slot::shadow::compare`]); `None` when they agree.
pub fn first_difference(expected: &RecordedOutcome, got: &RecordedOutcome) -> Option<Mismatch> {
    match (expected, got) {
        (RecordedOutcome::Accepted(expected), RecordedOutcome::Accepted(got)) => {
            crate::slot::shadow::compare(Ok(expected), Ok(got))
        }
        (RecordedOutcome::Rejected(expected), RecordedOutcome::Rejected(got))
            if expected == got =>
        {
            None
        }
        _ => Some(Mismatch::Outcome {
            expected: expected.summary(),
            got: got.summary(),
        }),
    }
}

/// The evidence of one mismatch or fallback; see the module docs. Serialised by
/// [`Capsule::to_bytes`] in the format [`format`] documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capsule {
    /// Why it was recorded.
    pub reason: CapsuleReason,
    /// When, in milliseconds since the Unix epoch.
    pub created_unix_ms: u64,
    /// The candidate engine's name (`block-stm`, `grouping`, or a daemon's own).
    pub engine: String,
    /// The candidate's worker threads, when known.
    pub threads: Option<usize>,
    /// The block.
    pub block: Block,
    /// Every state value the runs read, and the chain state they ran on.
    pub state: RecordedState,
    /// The sequential oracle's result.
    pub oracle: RecordedOutcome,
    /// The candidate engine's result.
    pub candidate: RecordedOutcome,
    /// The candidate's counters as JSON, when it accepted the block (informational).
    pub candidate_stats: Option<serde_json::Value>,
    /// The first difference between the two results, as the slot saw it.
    pub first_difference: Option<Mismatch>,
}

impl Capsule {
    /// Reads and decodes the capsule at `path`.
    pub fn read(path: &Path) -> Result<Self, CapsuleError> {
        let bytes = std::fs::read(path).map_err(|source| CapsuleError::io(path, source))?;
        Self::from_bytes(&bytes)
    }
}

#[cfg(test)]
mod tests;
