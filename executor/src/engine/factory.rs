//! The one place engines are built from a kind and a configuration: the daemon slot, the
//! benches and the tests' engine lists all go through [`build`], so a new engine or a new
//! setting is one entry here.
//!
//! ```
//! use executor::engine::{self, EngineConfig, EngineKind};
//!
//! let config = EngineConfig::new(2);
//! let names: Vec<_> = EngineKind::ALL
//!     .iter()
//!     .map(|&kind| engine::build(kind, &config).name())
//!     .collect();
//! assert_eq!(names, ["sequential", "grouping", "block-stm"]);
//! ```

use std::sync::Arc;

use contract_vm::VmKind;
use serde::{Deserialize, Serialize};

use super::blockstm::{BlockStmConfig, BlockStmExecutor};
use super::grouping::{GroupingConfig, GroupingExecutor};
use super::sequential::SequentialExecutor;
use super::BlockExecutor;

/// Which engine: the sequential oracle, batch grouping or Block-STM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineKind {
    /// The sequential oracle, which defines correct results.
    Sequential,
    /// Batch grouping: the daemon's pessimistic parallel path.
    Grouping,
    /// Block-STM: optimistic parallel execution.
    #[default]
    BlockStm,
}

impl EngineKind {
    /// Every engine, the oracle first.
    pub const ALL: [EngineKind; 3] = [
        EngineKind::Sequential,
        EngineKind::Grouping,
        EngineKind::BlockStm,
    ];

    /// The name used in configuration files, flags and logs, and by
    /// [`BlockExecutor::name`].
    pub const fn as_str(self) -> &'static str {
        match self {
            EngineKind::Sequential => "sequential",
            EngineKind::Grouping => "grouping",
            EngineKind::BlockStm => "block-stm",
        }
    }
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an [`EngineKind`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown engine `{0}` (expected sequential, grouping or block-stm)")]
pub struct UnknownEngineKind(pub String);

impl std::str::FromStr for EngineKind {
    type Err = UnknownEngineKind;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        EngineKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| UnknownEngineKind(name.to_owned()))
    }
}

/// The settings of every engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineConfig {
    /// Batch grouping's.
    pub grouping: GroupingConfig,
    /// Block-STM's.
    pub block_stm: BlockStmConfig,
    /// The VM every engine runs contract calls on: the interpreter by default, or the
    /// JIT (x86_64). Both give the same results; only the speed differs.
    pub vm: VmKind,
}

impl EngineConfig {
    /// Every parallel engine on `threads` threads, the calling thread included, with its
    /// other settings at their defaults.
    pub fn new(threads: usize) -> Self {
        Self {
            grouping: GroupingConfig { threads },
            block_stm: BlockStmConfig {
                threads,
                ..BlockStmConfig::default()
            },
            vm: VmKind::Interpreter,
        }
    }

    /// Like [`EngineConfig::new`], but every parallel engine takes its parallel path even
    /// on a small block: Block-STM from two transactions on, with its contention guard
    /// off. What replay and the parity tests want: the path under test, not the shortcut.
    pub fn parallel_forced(threads: usize) -> Self {
        let mut config = Self::new(threads);
        config.block_stm.min_parallel_txns = 2;
        config.block_stm.contention_cutoff = None;
        config
    }
}

/// The engine of `kind`, with its settings from `config`.
pub fn build(kind: EngineKind, config: &EngineConfig) -> Arc<dyn BlockExecutor> {
    match kind {
        EngineKind::Sequential => Arc::new(SequentialExecutor::new().with_vm(config.vm)),
        EngineKind::Grouping => Arc::new(GroupingExecutor::new(config.grouping).with_vm(config.vm)),
        EngineKind::BlockStm => {
            Arc::new(BlockStmExecutor::new(config.block_stm).with_vm(config.vm))
        }
    }
}
