//! The engine's safety net: a panic inside a worker, or an error from storage, never hangs
//! the block. A panic falls back to sequential execution (same output, counted). An error
//! met by an incarnation (storage, corrupt state) hands the block to the sequential path,
//! which decides as the oracle does: a storage failure that persists is the block's typed
//! error; one the block order never meets is not.

use std::sync::atomic::{AtomicBool, Ordering};

use executor::engine::blockstm::{BlockStmConfig, BlockStmExecutor};
use executor::{execute_sequential, BlockError, Workload, WorkloadConfig, WorkloadKind};
use integration_tests::{parallel_forced, ReadHook, StorageRead};
use storage_adapter::{
    BlockStore, MemorySnapshot, MemoryStore, StateKey, StateValue, StorageError,
};

/// How a [`hostile`] view misbehaves on its first nonce read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Misbehaviour {
    Panic,
    Fail,
}

/// `inner`, misbehaving once, on the first nonce read, and setting `tripped`. Nothing
/// before the transactions reads a nonce (validation and the prologue do not), so that
/// read happens inside the parallel run — on whichever worker — and the sequential
/// fallback afterwards reads normally.
fn hostile<'a>(
    inner: MemorySnapshot,
    misbehaviour: Misbehaviour,
    tripped: &'a AtomicBool,
) -> ReadHook<MemorySnapshot, impl Fn(StorageRead<'_>) -> Result<(), StorageError> + Sync + 'a> {
    ReadHook::new(inner, move |read| {
        if matches!(read, StorageRead::Value(StateKey::Nonce(_)))
            && !tripped.swap(true, Ordering::SeqCst)
        {
            match misbehaviour {
                Misbehaviour::Panic => panic!("injected panic in a worker's storage read"),
                Misbehaviour::Fail => {
                    return Err(StorageError::Other("injected: worker read".into()));
                }
            }
        }
        Ok(())
    })
}

/// Block-STM with its parallel path forced on 4 threads.
fn engine() -> BlockStmExecutor {
    BlockStmExecutor::new(parallel_forced(4).block_stm)
}

fn setup() -> (MemoryStore, executor::Block) {
    let mut workload =
        Workload::new(WorkloadConfig::new(WorkloadKind::P2p, 200, 2_000, 3)).expect("workload");
    let store = MemoryStore::new();
    store
        .commit(&workload.genesis().expect("genesis"))
        .expect("commit genesis");
    let block = workload.next_block(1);
    (store, block)
}

#[test]
fn a_panicking_worker_falls_back_to_sequential() {
    let (store, block) = setup();
    let snapshot = store.snapshot().expect("snapshot");
    let expected = execute_sequential(&block, &snapshot).expect("oracle");
    let tripped = AtomicBool::new(false);
    let hostile = hostile(snapshot, Misbehaviour::Panic, &tripped);
    let execution = engine()
        .execute(&block, &hostile)
        .expect("the fallback succeeds");
    assert!(
        tripped.load(Ordering::Relaxed),
        "a worker did read (and panic)"
    );
    assert_eq!(execution.stats.fallbacks, 1);
    assert_eq!(execution.output, expected);
}

#[test]
fn a_failing_storage_read_is_decided_by_the_sequential_path() {
    let (store, block) = setup();
    let engine = engine();
    let snapshot = store.snapshot().expect("snapshot");
    let expected = execute_sequential(&block, &snapshot).expect("oracle");

    // A read that fails once, on a worker: the block order over this storage meets no
    // failure (the sequential run reads normally), so the block is the oracle's.
    let tripped = AtomicBool::new(false);
    let hostile = hostile(
        store.snapshot().expect("snapshot"),
        Misbehaviour::Fail,
        &tripped,
    );
    let execution = engine
        .execute(&block, &hostile)
        .expect("a transient failure does not reject the block");
    assert!(tripped.load(Ordering::Relaxed), "a worker met the failure");
    assert_eq!(execution.output, expected);
    assert_eq!(execution.stats.sequential_blocks, 1, "decided sequentially");
    assert_eq!(execution.stats.fallbacks, 0, "not an engine failure");

    // Storage that keeps failing: the block's typed storage error.
    let failing = ReadHook::new(store.snapshot().expect("snapshot"), |read| match read {
        StorageRead::Value(StateKey::Nonce(_)) => {
            Err(StorageError::Other("injected: every nonce read".into()))
        }
        _ => Ok(()),
    });
    match engine.execute(&block, &failing) {
        Err(BlockError::Storage(StorageError::Other(_))) => {}
        other => panic!(
            "expected the injected storage error, got {:?}",
            other.map(|e| e.stats)
        ),
    }

    // The engine is still usable: the next block on healthy storage runs normally.
    let execution = engine.execute(&block, &snapshot).expect("healthy run");
    assert_eq!(execution.output, expected);
    assert_eq!(execution.stats.sequential_blocks, 0, "parallel again");
}

/// Corrupt state that only speculation reads: `a`'s balance in asset 1 holds a nonce, and
/// only transaction 1 touches it, which in block order fails on its nonce (transaction 0,
/// from the same sender, used it) before reading it. An incarnation of transaction 1 that
/// runs before transaction 0 has recorded sees nonce 0, reads the corrupt balance and
/// fails. The block is valid (the oracle accepts it), so Block-STM must accept it too.
///
/// To make that speculation happen rather than hope for it, the view holds the first
/// nonce read of `a` for 20 ms, whichever transaction makes it, and the nonce hints (which
/// would make transaction 1 wait for transaction 0, and so avoid the corrupt read) are off
/// in the first half of the runs.
#[test]
fn corrupt_state_that_only_speculation_reads_does_not_reject_the_block() {
    use integration_tests::{account, asset, balance_entry, multisig, nonce_entry, pay, transfers};
    use storage_adapter::{Asset, MemoryStore};

    let (a, b) = (account(0), account(1));
    let mut state = vec![nonce_entry(a, 0), balance_entry(a, Asset::TOS, 100)];
    state.push((
        StateKey::Balance(a, asset(1)),
        StateValue::Nonce(5), // the wrong kind: corrupt
    ));
    let fillers: Vec<_> = (10..18)
        .map(|i| balance_entry(account(i), Asset::TOS, 50))
        .collect();
    state.extend(fillers);
    let store = MemoryStore::with_state(state);
    let mut transactions = vec![
        multisig(a, 0, 0, 0, vec![]),
        transfers(a, 0, 0, &[(asset(1), b, 1)]),
    ];
    transactions.extend((10..18).map(|i| pay(account(i), 0, 1, account(i + 10), 5)));
    let block = executor::Block::new(1, account(9), 1, transactions);
    let expected = execute_sequential(&block, &store.snapshot().expect("snapshot"))
        .expect("the oracle accepts the block");
    let mut decided_sequentially = 0;
    for run in 0..40 {
        let engine = BlockStmExecutor::new(BlockStmConfig {
            nonce_hints: run >= 20,
            // The path under test is speculation: with frontier runs, the commit role
            // would run this small block in order on final state, never reading the
            // corrupt key ahead of the multisig change.
            frontier_run: 0,
            ..parallel_forced(4).block_stm
        });
        // Holds the first nonce read of `a` for a while, whichever transaction makes it.
        let held = AtomicBool::new(false);
        let view = ReadHook::new(store.snapshot().expect("snapshot"), |read| {
            if read == StorageRead::Value(&StateKey::Nonce(a)) && !held.swap(true, Ordering::SeqCst)
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Ok(())
        });
        let execution = engine
            .execute(&block, &view)
            .unwrap_or_else(|error| panic!("run {run}: Block-STM rejected a valid block: {error}"));
        assert_eq!(execution.output, expected, "run {run}");
        assert_eq!(execution.stats.fallbacks, 0, "not an engine failure");
        decided_sequentially += execution.stats.sequential_blocks;
    }
    // The path under test was taken: a speculative incarnation did meet the corrupt key.
    assert!(
        decided_sequentially > 0,
        "no run met the corrupt key: the test did not test the speculative path"
    );
}
