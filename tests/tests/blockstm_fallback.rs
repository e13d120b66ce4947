//! The engine's safety net: a panic inside a worker, or an error from storage, never hangs
//! the block. A panic falls back to sequential execution (same output, counted); a storage
//! error is the block's typed error, as in the oracle.

use std::sync::atomic::{AtomicBool, Ordering};

use executor::engine::blockstm::{fallback_count, BlockStmConfig, BlockStmExecutor};
use executor::{
    execute_sequential, genesis_commit, BlockError, Workload, WorkloadConfig, WorkloadKind,
};
use storage_adapter::{
    BlockStore, ChainState, Hash, MemorySnapshot, MemoryStore, StateKey, StateValue, StateView,
    StorageError,
};

/// Wraps a snapshot; misbehaves once, on the first nonce read. Nothing before the
/// transactions reads a nonce (validation and the prologue do not), so that read happens
/// inside the parallel run — on whichever worker — and the sequential fallback afterwards
/// reads normally.
struct Hostile {
    inner: MemorySnapshot,
    panic_on_workers: bool,
    fail_on_workers: bool,
    tripped: AtomicBool,
}

impl StateView for Hostile {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StorageError> {
        if matches!(key, StateKey::Nonce(_)) && !self.tripped.swap(true, Ordering::SeqCst) {
            if self.panic_on_workers {
                panic!("injected panic in a worker's storage read");
            }
            if self.fail_on_workers {
                return Err(StorageError::Injected("worker read".into()));
            }
        }
        self.inner.get(key)
    }

    fn is_executed(&self, tx_hash: &Hash) -> Result<bool, StorageError> {
        self.inner.is_executed(tx_hash)
    }

    fn chain_state(&self) -> Result<ChainState, StorageError> {
        self.inner.chain_state()
    }
}

fn setup() -> (MemoryStore, executor::Block) {
    let mut workload =
        Workload::new(WorkloadConfig::new(WorkloadKind::P2p, 200, 2_000, 3)).expect("workload");
    let store = MemoryStore::new();
    store
        .commit(&genesis_commit(&workload.genesis_allocations()).expect("genesis"))
        .expect("commit genesis");
    let block = workload.next_block(1);
    (store, block)
}

#[test]
fn a_panicking_worker_falls_back_to_sequential() {
    let (store, block) = setup();
    let snapshot = store.snapshot().expect("snapshot");
    let expected = execute_sequential(&block, &snapshot).expect("oracle");
    let hostile = Hostile {
        inner: snapshot,
        panic_on_workers: true,
        fail_on_workers: false,
        tripped: AtomicBool::new(false),
    };
    let before = fallback_count();
    let engine = BlockStmExecutor::new(BlockStmConfig {
        threads: 4,
        min_parallel_txns: 0,
        contention_cutoff: None,
    });
    let execution = engine
        .execute(&block, &hostile)
        .expect("the fallback succeeds");
    assert!(
        hostile.tripped.load(Ordering::Relaxed),
        "a worker did read (and panic)"
    );
    assert_eq!(execution.stats.fallbacks, 1);
    assert!(fallback_count() > before);
    assert_eq!(execution.output, expected);
}

#[test]
fn a_failing_storage_read_is_the_blocks_typed_error() {
    let (store, block) = setup();
    let hostile = Hostile {
        inner: store.snapshot().expect("snapshot"),
        panic_on_workers: false,
        fail_on_workers: true,
        tripped: AtomicBool::new(false),
    };
    let engine = BlockStmExecutor::new(BlockStmConfig {
        threads: 4,
        min_parallel_txns: 0,
        contention_cutoff: None,
    });
    match engine.execute(&block, &hostile) {
        Err(BlockError::Storage(StorageError::Injected(_))) => {}
        other => panic!(
            "expected the injected storage error, got {:?}",
            other.map(|e| e.stats)
        ),
    }
    assert!(hostile.tripped.load(Ordering::Relaxed));
    // The engine is still usable: the next block on healthy storage runs normally.
    let snapshot = store.snapshot().expect("snapshot");
    let execution = engine.execute(&block, &snapshot).expect("healthy run");
    assert_eq!(
        execution.output,
        execute_sequential(&block, &snapshot).expect("oracle")
    );
}
