//! Recording what a block reads, and the slot's capture of a capsule.
//!
//! [`RecordingView`] wraps any [`StateView`] and remembers every answer it gave, from
//! any number of threads (Block-STM reads storage from all its workers). The slot never
//! records on its hot path: only after a mismatch or a fallback does [`CapsuleSink`] read
//! the block's state again through a recorder, from the same snapshot the runs used
//! (the slot still holds it), so shadow mode costs nothing extra until it finds
//! something. What it records is the union of:
//!
//! - the block's *footprint*: every key a transaction touches that the transaction
//!   itself names, whatever values speculation saw (source nonce, multisig and balances of the assets
//!   it names, each destination's balance and nonce, the miner's; a deploy's new
//!   contract's module; a call's contract module, and the source's and the contract's
//!   balance of each deposited asset), so replays at other thread counts find every
//!   value they ask for;
//! - a sequential run of the block (the oracle's reads, exactly). This is what records
//!   the keys a contract call reaches only by running (its storage, the contract's other
//!   balances, the accounts it pays): they depend on the call's input and on state, so
//!   no footprint can list them. A speculative run of a call that saw stale state may
//!   take another path and read keys no recorded run read; a replay reports those as
//!   unrecorded reads rather than inventing values;
//! - a second run of the candidate engine (a test double or a daemon's own engine may
//!   read keys the VM would not), whose result is only logged: the capsule keeps the
//!   outputs of the runs the slot actually compared.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use storage_adapter::{Asset, ChainState, Hash, StateKey, StateValue, StateView, StorageError};

use super::{
    first_difference, Capsule, CapsuleReason, CapsuleWriter, RecordedOutcome, RecordedState,
    WriteOutcome,
};
use crate::engine::sequential::SequentialExecutor;
use crate::engine::{BlockExecutor, Execution};
use crate::model::{Block, Payload};
use crate::outcome::BlockError;
use crate::slot::Mismatch;

#[derive(Debug, Default)]
struct Recorded {
    values: BTreeMap<StateKey, Option<StateValue>>,
    executed: BTreeMap<Hash, bool>,
    chain: Option<ChainState>,
}

/// A [`StateView`] that records every answer of the view it wraps; see the module docs.
pub struct RecordingView<'a> {
    inner: &'a dyn StateView,
    recorded: Mutex<Recorded>,
}

impl std::fmt::Debug for RecordingView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let recorded = self.lock();
        f.debug_struct("RecordingView")
            .field("values", &recorded.values.len())
            .field("executed", &recorded.executed.len())
            .finish_non_exhaustive()
    }
}

impl<'a> RecordingView<'a> {
    /// A recorder over `inner`.
    pub fn new(inner: &'a dyn StateView) -> Self {
        Self {
            inner,
            recorded: Mutex::new(Recorded::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        // Each update is one insert: the maps are whole after any panic.
        self.recorded.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads (and so records) every key the TOS VM can touch while executing `block`,
    /// and its chain state; see the module docs.
    pub fn record_footprint(&self, block: &Block) -> Result<(), StorageError> {
        self.chain_state()?;
        let miner = *block.miner();
        self.get(&StateKey::Nonce(miner))?;
        self.get(&StateKey::Balance(miner, Asset::TOS))?;
        for tx in block.transactions() {
            let source = *tx.source();
            self.is_executed(tx.hash())?;
            self.get(&StateKey::Nonce(source))?;
            self.get(&StateKey::Multisig(source))?;
            self.get(&StateKey::Balance(source, Asset::TOS))?;
            match tx.payload() {
                Payload::Transfers(transfers) => {
                    for transfer in transfers {
                        self.get(&StateKey::Balance(source, transfer.asset))?;
                        self.get(&StateKey::Balance(transfer.destination, transfer.asset))?;
                        self.get(&StateKey::Nonce(transfer.destination))?;
                    }
                }
                Payload::Burn { asset, .. } => {
                    self.get(&StateKey::Balance(source, *asset))?;
                }
                Payload::Multisig { .. } => {}
                Payload::DeployContract { .. } => {
                    // Whether the address is taken decides `ContractExists`.
                    self.get(&StateKey::Module(tx.deployed_contract()))?;
                }
                Payload::InvokeContract {
                    contract, deposits, ..
                } => {
                    // The module decides `NoContract`; the deposits move between these
                    // balances before the call runs (and back if it fails).
                    self.get(&StateKey::Module(*contract))?;
                    for deposit in deposits {
                        self.get(&StateKey::Balance(source, deposit.asset))?;
                        self.get(&StateKey::ContractBalance(*contract, deposit.asset))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Everything recorded, with the chain state (read now if no run asked for it).
    pub fn into_state(self) -> Result<RecordedState, StorageError> {
        let inner = self.inner;
        let recorded = self
            .recorded
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let chain = match recorded.chain {
            Some(chain) => chain,
            None => inner.chain_state()?,
        };
        Ok(RecordedState {
            chain,
            values: recorded.values,
            executed: recorded.executed,
        })
    }
}

impl StateView for RecordingView<'_> {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StorageError> {
        let value = self.inner.get(key)?;
        self.lock().values.insert(*key, value.clone());
        Ok(value)
    }

    fn is_executed(&self, tx_hash: &Hash) -> Result<bool, StorageError> {
        let executed = self.inner.is_executed(tx_hash)?;
        self.lock().executed.insert(*tx_hash, executed);
        Ok(executed)
    }

    fn chain_state(&self) -> Result<ChainState, StorageError> {
        let chain = self.inner.chain_state()?;
        self.lock().chain = Some(chain);
        Ok(chain)
    }
}

/// The slot's capsule recorder: records and writes a capsule after a shadow mismatch or
/// a fallback. Never fails the block: a capsule that cannot be recorded or written is
/// logged (`tracing` warning) and the block goes on.
#[derive(Debug)]
pub struct CapsuleSink {
    writer: CapsuleWriter,
}

impl CapsuleSink {
    /// A sink writing through `writer`.
    pub fn new(writer: CapsuleWriter) -> Self {
        Self { writer }
    }

    /// The writer (its directory and caps).
    pub fn writer(&self) -> &CapsuleWriter {
        &self.writer
    }

    /// After a shadow comparison of `block` on `view`: records and writes a capsule when
    /// the two differed (`mismatch`) or the candidate fell back; returns its path.
    /// `engine` ran on `threads` worker threads (the configuration the block started
    /// under: it may change between blocks).
    #[allow(clippy::too_many_arguments)]
    pub fn after_shadow(
        &self,
        block: &Block,
        view: &dyn StateView,
        engine: &dyn BlockExecutor,
        threads: usize,
        oracle: Result<&Execution, &BlockError>,
        candidate: Result<&Execution, &BlockError>,
        mismatch: Option<&Mismatch>,
    ) -> Option<PathBuf> {
        let fell_back = candidate.is_ok_and(|execution| execution.stats.fallbacks > 0);
        let reason = match (mismatch, fell_back) {
            (Some(_), _) => CapsuleReason::ShadowMismatch,
            (None, true) => CapsuleReason::Fallback,
            (None, false) => return None,
        };
        let recorder = RecordingView::new(view);
        let recorded = recorder.record_footprint(block).and_then(|()| {
            let oracle = SequentialExecutor::new().execute_block(block, &recorder);
            if let Some(mismatch) = mismatch {
                let again = engine.execute_block(block, &recorder);
                let reproduced = crate::slot::shadow::compare(
                    oracle.as_ref().map(|e| &e.output),
                    again.as_ref().map(|e| &e.output),
                );
                tracing::info!(
                    topoheight = block.topoheight(),
                    reproduced = reproduced.as_ref() == Some(mismatch),
                    "capsule: ran the engine again on the recorded state"
                );
            }
            recorder.into_state()
        });
        let state = state_or_warn(block, recorded)?;
        self.write(Capsule {
            reason,
            created_unix_ms: now_unix_ms(),
            engine: engine.name().to_owned(),
            threads: Some(threads),
            block: block.clone(),
            state,
            oracle: RecordedOutcome::of(oracle.map(|e| &e.output)),
            candidate: RecordedOutcome::of(candidate.map(|e| &e.output)),
            candidate_stats: candidate.ok().and_then(stats_json),
            first_difference: mismatch.cloned(),
        })
    }

    /// After the configured engine fell back to sequential on `block` (its output is the
    /// one kept): records the oracle's run beside it (and the engine's second run, for
    /// its reads) and writes a capsule. `engine` ran on `threads` worker threads.
    pub fn after_fallback(
        &self,
        block: &Block,
        view: &dyn StateView,
        engine: &dyn BlockExecutor,
        threads: usize,
        execution: &Execution,
    ) -> Option<PathBuf> {
        let recorder = RecordingView::new(view);
        let recorded = recorder.record_footprint(block).and_then(|()| {
            let oracle = SequentialExecutor::new().execute_block(block, &recorder);
            let again = engine.execute_block(block, &recorder);
            tracing::info!(
                topoheight = block.topoheight(),
                fell_back_again = again.is_ok_and(|e| e.stats.fallbacks > 0),
                "capsule: ran the engine again on the recorded state"
            );
            recorder.into_state().map(|state| (state, oracle))
        });
        let (state, oracle) = state_or_warn(block, recorded)?;
        let oracle = RecordedOutcome::of(oracle.as_ref().map(|e| &e.output));
        let candidate = RecordedOutcome::Accepted(execution.output.clone());
        let difference = first_difference(&oracle, &candidate);
        if let Some(difference) = &difference {
            tracing::error!(
                topoheight = block.topoheight(),
                %difference,
                "the engine fell back and its output differs from the oracle's"
            );
        }
        self.write(Capsule {
            reason: CapsuleReason::Fallback,
            created_unix_ms: now_unix_ms(),
            engine: engine.name().to_owned(),
            threads: Some(threads),
            block: block.clone(),
            state,
            oracle,
            candidate,
            candidate_stats: stats_json(execution),
            first_difference: difference,
        })
    }

    fn write(&self, capsule: Capsule) -> Option<PathBuf> {
        let topoheight = capsule.block.topoheight();
        match self.writer.write(&capsule) {
            Ok(WriteOutcome::Written { path, bytes, .. }) => {
                tracing::warn!(
                    topoheight,
                    reason = %capsule.reason,
                    bytes,
                    path = %path.display(),
                    "capsule written: replay it with `blockstm replay {}`",
                    path.display()
                );
                Some(path)
            }
            Ok(WriteOutcome::TooLarge { bytes, max_bytes }) => {
                tracing::warn!(
                    topoheight,
                    reason = %capsule.reason,
                    bytes,
                    max_bytes,
                    "capsule not written: larger than `capsules.max_bytes`"
                );
                None
            }
            Err(error) => {
                tracing::warn!(topoheight, %error, "capsule not written");
                None
            }
        }
    }
}

/// The recorded state, or `None` after logging why the capsule is not written.
fn state_or_warn<T>(block: &Block, recorded: Result<T, StorageError>) -> Option<T> {
    recorded
        .map_err(|error| {
            tracing::warn!(
                topoheight = block.topoheight(),
                %error,
                "capsule not written: reading the block's state failed"
            );
        })
        .ok()
}

fn stats_json(execution: &Execution) -> Option<serde_json::Value> {
    serde_json::to_value(&execution.stats).ok()
}

fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}
