//! Injected faults during parallel execution: storage that fails reads at random (seeded)
//! makes the block fail with a typed storage error (or, when the run that decides the
//! block meets no fault, gives the oracle's block), commits nothing, hangs and leaks no
//! thread, and the next block runs normally; a transaction whose execution panics makes
//! the engine fall back or report the panic, never hang.
//!
//! Both checks count the process's threads (`/proc/self/task`), so they run one after
//! the other in the binary's only test: another test's thread, started by the harness
//! in the middle of a count, would look like a leak.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use executor::slot::{AsyncExecuteError, AsyncExecutor, ExecutorConfig, ExecutorSlot};
use executor::{
    execute_sequential, Block, BlockError, BlockExecutor, EngineKind, Workload, WorkloadConfig,
    WorkloadKind,
};
use integration_tests::{parallel_forced, thread_count, HookedStore, StorageRead};
use storage_adapter::{BlockStore, MemoryStore, StateKey, StorageError};

/// How long any one block may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(60);

/// What a faulty store's snapshots do to reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// Nothing: reads go through.
    None,
    /// Read number `n` fails when a hash of `(seed, n)` falls under `per_mille` out of
    /// 1000. Which thread makes read `n` varies between runs; which reads fail, by count,
    /// does not.
    Random { seed: u64, per_mille: u64 },
    /// Every read of this account's TOS balance panics.
    PanicOn(u64),
}

/// The faults of a store, set by the test and read by its hook.
#[derive(Debug)]
struct Faults {
    fault: Mutex<Fault>,
    /// Reads so far (reset by the test before each run).
    reads: AtomicU64,
    /// Whether a fault was injected since the fault was last set.
    injected: AtomicBool,
}

impl Faults {
    fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap_or_else(PoisonError::into_inner) = fault;
        self.injected.store(false, Ordering::SeqCst);
    }

    /// The hook: applies the current fault to read number `n`.
    fn check(&self, read: StorageRead<'_>) -> Result<(), StorageError> {
        let n = self.reads.fetch_add(1, Ordering::SeqCst);
        // Copied out, so that a panic below does not poison the lock.
        let fault = *self.fault.lock().unwrap_or_else(PoisonError::into_inner);
        match fault {
            Fault::None => Ok(()),
            Fault::Random { seed, per_mille } => {
                let draw = u64::from_le_bytes(
                    blake3::hash(&[seed.to_le_bytes(), n.to_le_bytes()].concat()).as_bytes()[..8]
                        .try_into()
                        .expect("8 bytes"),
                );
                if draw % 1000 < per_mille {
                    self.injected.store(true, Ordering::SeqCst);
                    Err(StorageError::Other(format!("injected: read {n}")))
                } else {
                    Ok(())
                }
            }
            Fault::PanicOn(index) => {
                let poisoned = StateKey::Balance(
                    storage_adapter::PublicKey::from_index(index),
                    storage_adapter::Asset::TOS,
                );
                if read == StorageRead::Value(&poisoned) {
                    self.injected.store(true, Ordering::SeqCst);
                    panic!("injected panic reading {poisoned:?}");
                }
                Ok(())
            }
        }
    }
}

/// Waits (up to 10 s) for the process to be back to `baseline` threads.
fn settle_threads(baseline: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let count = thread_count();
        if count <= baseline || Instant::now() > deadline {
            return count;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A workload's genesis on a faulty store (and its faults), and its next blocks.
fn setup(
    kind: WorkloadKind,
    accounts: usize,
    block_size: usize,
) -> (HookedStore, Arc<Faults>, Workload) {
    let workload =
        Workload::new(WorkloadConfig::new(kind, accounts, block_size, 21)).expect("valid workload");
    let faults = Arc::new(Faults {
        fault: Mutex::new(Fault::None),
        reads: AtomicU64::new(0),
        injected: AtomicBool::new(false),
    });
    let hook = Arc::clone(&faults);
    let store = HookedStore::new(MemoryStore::new(), move |read| hook.check(read));
    store
        .inner
        .commit(&workload.genesis().expect("genesis"))
        .expect("commit genesis");
    (store, faults, workload)
}

/// Runs `engine` on `block` over a snapshot of `store` on a thread of its own, failing the
/// test if it takes longer than [`HANG`]. A panic in the engine is returned as `Err`.
fn run_guarded(
    engine: &Arc<dyn BlockExecutor>,
    store: &Arc<HookedStore>,
    block: &Arc<Block>,
) -> std::thread::Result<Result<executor::Execution, BlockError>> {
    let (sender, receiver) = mpsc::channel();
    let (engine, store, block) = (Arc::clone(engine), Arc::clone(store), Arc::clone(block));
    let worker = std::thread::spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let snapshot = store.snapshot()?;
            engine.execute_block(&block, &snapshot)
        }));
        let _ = sender.send(result);
    });
    let result = receiver
        .recv_timeout(HANG)
        .expect("the engine hung on a faulty block");
    worker
        .join()
        .expect("the guard thread itself does not panic");
    result
}

/// The parallel engines, their parallel paths forced.
fn engines() -> Vec<Arc<dyn BlockExecutor>> {
    integration_tests::engines(&parallel_forced(4))
        .into_iter()
        .filter(|engine| engine.name() != EngineKind::Sequential.as_str())
        .collect()
}

#[test]
fn injected_faults_never_hang_never_leak_and_never_commit() {
    random_read_failures_fail_the_block_cleanly_and_the_next_block_runs();
    a_panicking_transaction_falls_back_or_is_reported_never_hangs();
}

fn random_read_failures_fail_the_block_cleanly_and_the_next_block_runs() {
    let baseline = thread_count();
    let (store, faults, mut workload) = setup(WorkloadKind::P2p, 300, 400);
    let store = Arc::new(store);
    let mut failed_blocks = 0;
    for topoheight in 1..=30u64 {
        let block = Arc::new(workload.next_block(topoheight));
        let tip = store.inner.chain_state().expect("chain state");
        let expected = {
            let snapshot = store.inner.snapshot().expect("snapshot");
            execute_sequential(&block, &snapshot).expect("healthy oracle")
        };
        for engine in engines() {
            // Seeded: 0.1% to 3% of reads fail, from read 0 of the block on.
            faults.set(Fault::Random {
                seed: topoheight,
                per_mille: 1 + topoheight % 30,
            });
            faults.reads.store(0, Ordering::SeqCst);
            let result =
                run_guarded(&engine, &store, &block).expect("no panic from a storage error");
            match result {
                // The run met a fault and so did the block order (Block-STM hands a block
                // whose incarnation met one to the sequential path, which decides): the
                // block fails with the storage error.
                Err(BlockError::Storage(StorageError::Other(_))) => {
                    assert!(faults.injected.load(Ordering::SeqCst));
                    failed_blocks += 1;
                }
                // Every read the deciding run made went through: the oracle's block.
                Ok(execution) => assert_eq!(execution.output, expected, "{}", engine.name()),
                Err(other) => panic!("{}: unexpected error {other}", engine.name()),
            }
            // An execution commits nothing by itself: the store is where it was.
            assert_eq!(store.inner.chain_state().expect("chain state"), tip);
        }
        // Storage heals: the same block runs normally on each engine, and is committed.
        faults.set(Fault::None);
        for engine in engines() {
            let execution = run_guarded(&engine, &store, &block)
                .expect("no panic")
                .expect("healthy storage runs the block");
            assert_eq!(execution.output, expected, "{}", engine.name());
        }
        store.inner.commit(&expected.commit).expect("commit");
    }
    assert!(
        failed_blocks >= 30,
        "only {failed_blocks} of 60 runs failed on an injected fault: the test is not testing faults"
    );
    let threads = settle_threads(baseline);
    assert!(
        threads <= baseline,
        "threads leaked: {threads}, {baseline} before"
    );
}

fn a_panicking_transaction_falls_back_or_is_reported_never_hangs() {
    let baseline = thread_count();
    // Hot receiver: every transaction credits account 0, so every one reads its balance.
    let (store, faults, mut workload) = setup(WorkloadKind::HotReceiver, 50, 300);
    let store = Arc::new(store);
    let block = Arc::new(workload.next_block(1));
    let expected = {
        let snapshot = store.inner.snapshot().expect("snapshot");
        execute_sequential(&block, &snapshot).expect("healthy oracle")
    };

    // A panic every time the receiver's balance is read: the parallel path panics, the
    // sequential fallback panics too, and the panic reaches the caller (reported).
    faults.set(Fault::PanicOn(0));
    for engine in engines() {
        let result = run_guarded(&engine, &store, &block);
        let panic = result.expect_err("a panic on every path is reported to the caller");
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains("injected panic"), "{message}");
        assert!(faults.injected.load(Ordering::SeqCst));
    }

    // Through the daemon's async facade the panic is a typed error, and the executor is
    // idle afterwards.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = ExecutorConfig::from_toml_str(
        "kind = \"block-stm\"\nthreads = 4\ncontention_cutoff = \"off\"",
    )
    .expect("valid configuration");
    let executor = AsyncExecutor::new(ExecutorSlot::new(&config).expect("slot"));
    runtime.block_on(async {
        let result = tokio::time::timeout(
            HANG,
            executor.execute_block(Arc::clone(&block), Arc::clone(&store)),
        )
        .await
        .expect("the async execution does not hang");
        assert!(
            matches!(&result, Err(AsyncExecuteError::Panicked(message)) if message.contains("injected panic")),
            "{result:?}"
        );
        tokio::time::timeout(HANG, executor.wait_idle())
            .await
            .expect("the executor goes idle");
    });

    // Healthy again: the same executor runs the block.
    faults.set(Fault::None);
    let executed = runtime
        .block_on(executor.execute_block(Arc::clone(&block), Arc::clone(&store)))
        .expect("healthy run");
    assert_eq!(executed.execution.output, expected);
    drop(runtime);
    let threads = settle_threads(baseline);
    assert!(
        threads <= baseline,
        "threads leaked: {threads}, {baseline} before"
    );
}
