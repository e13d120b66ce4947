//! Cancelling an in-flight block: dropping the future of `Node::apply_block` (or of
//! `AsyncExecutor::execute_block`) while the engine runs commits nothing, stops the
//! engine's threads early, and leaves the node ready for the same block again.
//!
//! One test function in its own binary, so that the thread counts it takes from
//! `/proc/self/task` see no other test's threads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use executor::node::Node;
use executor::slot::{AsyncExecutor, ExecutorConfig, ExecutorSlot};
use executor::{execute_sequential, Workload, WorkloadConfig, WorkloadKind};
use integration_tests::{thread_count, HookedStore};
use storage_adapter::{BlockStore, MemoryStore};

/// A memory store whose snapshots take a while per read and count their reads in
/// `reads`, so that a block stays in flight long enough to be cancelled, and the test can
/// see when the engine has started and when it has stopped.
fn slow_store(reads: &Arc<AtomicU64>) -> HookedStore {
    let reads = Arc::clone(reads);
    HookedStore::new(MemoryStore::new(), move |_| {
        reads.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_micros(300));
        Ok(())
    })
}

/// Waits (up to 10 s) until the process is back to `baseline` threads; returns the count.
async fn settle_threads(baseline: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let count = thread_count();
        if count <= baseline || Instant::now() > deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (up to 10 s) until the store has served `reads` reads.
async fn wait_for_reads(counter: &AtomicU64, reads: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while counter.load(Ordering::SeqCst) < reads {
        assert!(
            Instant::now() < deadline,
            "the engine never started reading"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

// A current-thread runtime: the only threads besides the test's own are the engine's.
#[tokio::test]
async fn dropping_an_in_flight_block_commits_nothing_and_leaks_no_thread() {
    let mut workload = Workload::new(WorkloadConfig::new(WorkloadKind::P2p, 500, 2_000, 5))
        .expect("valid workload");
    let genesis = workload.genesis().expect("genesis");
    let block = workload.next_block(1);
    let reads = Arc::new(AtomicU64::new(0));
    let store = slow_store(&reads);
    let config = ExecutorConfig::from_toml_str("kind = \"block-stm\"\nthreads = 4")
        .expect("valid configuration");
    let node = Arc::new(Node::new(store, ExecutorSlot::new(&config).expect("slot")).expect("node"));
    node.apply_genesis(&genesis).expect("genesis");
    let genesis_tip = node.chain_state();
    let expected_root = {
        let snapshot = node.store().inner.snapshot().expect("snapshot");
        execute_sequential(&block, &snapshot)
            .expect("valid block")
            .state_root()
    };
    let baseline = thread_count();

    // 1. Through the node: cancel while the engine is reading.
    let in_flight = tokio::spawn({
        let (node, block) = (Arc::clone(&node), block.clone());
        async move { node.apply_block(block).await }
    });
    wait_for_reads(&reads, 200).await;
    assert!(
        thread_count() > baseline,
        "the engine runs on threads of its own"
    );
    in_flight.abort();
    assert!(in_flight.await.expect_err("aborted").is_cancelled());
    tokio::time::timeout(Duration::from_secs(10), node.executor().wait_idle())
        .await
        .expect("the cancelled execution stops");
    assert_eq!(node.executor().running(), 0);
    let threads = settle_threads(baseline).await;
    assert_eq!(
        threads, baseline,
        "threads left behind by the cancelled block"
    );
    let reads_when_cancelled = reads.load(Ordering::SeqCst);
    assert_eq!(node.chain_state(), genesis_tip, "the tip did not move");
    assert_eq!(
        node.store().inner.chain_state().expect("chain state"),
        genesis_tip,
        "nothing was committed"
    );
    assert_eq!(node.stats().blocks, 0);

    // 2. The same block, not cancelled: applies, and shows how far from done the
    // cancelled run was stopped.
    let applied = node.apply_block(block.clone()).await.expect("applies");
    assert_eq!(applied.state_root, expected_root);
    let full_run_reads = reads.load(Ordering::SeqCst) - reads_when_cancelled;
    assert!(
        reads_when_cancelled < full_run_reads / 2,
        "the cancelled run went on reading: {reads_when_cancelled} reads, a full run takes {full_run_reads}"
    );

    // 3. The async facade alone: a dropped `execute_block` future. (A fresh baseline:
    // the commit above ran on tokio's blocking pool, whose idle thread may linger.)
    let baseline = thread_count();
    let executor = AsyncExecutor::new(ExecutorSlot::new(&config).expect("slot"));
    let store = Arc::new(slow_store(&reads));
    store.commit(&genesis).expect("genesis");
    let block = Arc::new(block);
    let before = reads.load(Ordering::SeqCst);
    tokio::select! {
        result = executor.execute_block(Arc::clone(&block), Arc::clone(&store)) => {
            panic!("the block finished before it could be cancelled: {result:?}")
        }
        () = wait_for_reads(&reads, before + 200) => {}
    }
    tokio::time::timeout(Duration::from_secs(10), executor.wait_idle())
        .await
        .expect("the dropped execution stops");
    let threads = settle_threads(baseline).await;
    assert!(
        threads <= baseline,
        "{threads} threads, {baseline} before the block"
    );
    assert_eq!(
        store.inner.chain_state().expect("chain state"),
        genesis_tip,
        "an execution commits nothing by itself"
    );
    let executed = executor
        .execute_block(block, Arc::clone(&store))
        .await
        .expect("executes when left to finish");
    assert_eq!(executed.execution.output.state_root(), expected_root);
}
