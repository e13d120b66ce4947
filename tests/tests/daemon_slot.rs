//! The daemon executor slot and the node: blocks from many tasks are applied in order,
//! shadow mode keeps the oracle's output and trips the circuit breaker, the threshold
//! routes small blocks to the oracle, and the Prometheus endpoint answers on loopback.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use executor::engine::blockstm::BlockStmExecutor;
use executor::node::{metrics, Node};
use executor::slot::{
    BreakerState, EngineKind, ExecutionPath, ExecutorConfig, ExecutorSlot, Mismatch, Network,
};
use executor::{
    execute_sequential, Block, BlockError, BlockExecutor, Execution, TxFailure, TxResult, Workload,
    WorkloadConfig, WorkloadKind,
};
use integration_tests::parallel_forced;
use storage_adapter::{BlockStore, Hash, MemoryStore, RocksStore, StateView};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A workload and the blocks it generates, with the state roots a sequential replay of
/// them reaches on a fresh store (index `i` is the root after block `i + 1`).
struct Chain {
    genesis: storage_adapter::BlockCommit,
    blocks: Vec<Block>,
    roots: Vec<Hash>,
}

fn chain(kind: WorkloadKind, accounts: usize, block_size: usize, blocks: u64) -> Chain {
    let mut workload =
        Workload::new(WorkloadConfig::new(kind, accounts, block_size, 11)).expect("valid workload");
    let genesis = workload.genesis().expect("valid genesis");
    let blocks: Vec<Block> = (1..=blocks).map(|t| workload.next_block(t)).collect();
    let replay = MemoryStore::new();
    replay.commit(&genesis).expect("genesis on an empty store");
    let roots = blocks
        .iter()
        .map(|block| {
            let output = {
                let snapshot = replay.snapshot().expect("snapshot");
                execute_sequential(block, &snapshot).expect("generated blocks are valid")
            };
            replay.commit(&output.commit).expect("replay commit");
            output.state_root()
        })
        .collect();
    Chain {
        genesis,
        blocks,
        roots,
    }
}

fn config(toml: &str) -> ExecutorConfig {
    ExecutorConfig::from_toml_str(toml).expect("test configuration is valid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_blocks_from_many_tasks_are_applied_in_order_on_rocksdb() {
    let chain = chain(WorkloadKind::P2p, 100, 200, 50);
    let dir = tempfile::tempdir().expect("temp dir");
    let node = Arc::new(
        Node::open(
            dir.path(),
            &config("kind = \"block-stm\"\nthreads = 2\nnetwork = \"devnet\""),
        )
        .expect("open node"),
    );
    node.apply_genesis(&chain.genesis).expect("genesis");

    // Submitted all at once, newest first, so nearly every task has to wait for its
    // parent: the order of arrival is the opposite of the chain's.
    let mut tasks = Vec::new();
    for block in chain.blocks.iter().rev().cloned() {
        let node = Arc::clone(&node);
        tasks.push(tokio::spawn(async move { node.apply_block(block).await }));
    }
    let mut applied = Vec::new();
    for task in tasks {
        applied.push(task.await.expect("task").expect("block applies"));
    }
    applied.sort_by_key(|block| block.topoheight);
    for (block, root) in applied.iter().zip(&chain.roots) {
        assert_eq!(
            &block.state_root, root,
            "block {} was not applied on its parent's state",
            block.topoheight
        );
        assert_eq!(block.path, ExecutionPath::Engine);
    }
    let tip = node.chain_state();
    assert_eq!(tip.topoheight, Some(50));
    assert_eq!(Some(&tip.state_root), chain.roots.last());
    let stats = node.stats();
    assert_eq!(stats.blocks, 50);
    assert_eq!(stats.transactions, 50 * 200);
    assert_eq!(stats.slot.engine_blocks, 50);
    assert!(stats.incarnations_per_transaction() >= 1.0);

    // A block already applied is refused, and changes nothing.
    let error = node
        .apply_block(chain.blocks[10].clone())
        .await
        .expect_err("already applied");
    assert!(
        matches!(
            error,
            executor::node::NodeError::AlreadyApplied { got: 11, next: 51 }
        ),
        "{error}"
    );
    assert_eq!(node.chain_state(), tip);
}

#[tokio::test]
async fn a_block_too_far_ahead_is_refused_at_once() {
    let chain = chain(WorkloadKind::P2p, 10, 5, 1);
    let node = Node::new(
        MemoryStore::new(),
        ExecutorSlot::new(&ExecutorConfig::default()).expect("slot"),
    )
    .expect("node")
    .with_max_blocks_ahead(3);
    node.apply_genesis(&chain.genesis).expect("genesis");
    let far = Block::new(10, *chain.blocks[0].miner(), 0, Vec::new());
    let error = node.apply_block(far).await.expect_err("too far ahead");
    assert!(
        matches!(
            error,
            executor::node::NodeError::TooFarAhead {
                got: 10,
                next: 1,
                max_ahead: 3
            }
        ),
        "{error}"
    );
}

/// A deliberately wrong engine: the oracle's output with the first transaction's result
/// replaced, on the blocks whose topoheight is in `wrong_at`; counts its calls.
#[derive(Debug)]
struct WrongEngine {
    wrong_at: Vec<u64>,
    calls: AtomicUsize,
}

impl BlockExecutor for WrongEngine {
    fn name(&self) -> &'static str {
        "wrong"
    }

    fn execute_block(&self, block: &Block, view: &dyn StateView) -> Result<Execution, BlockError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut output = execute_sequential(block, view)?;
        if self.wrong_at.contains(&block.topoheight()) {
            output.results[0] = match &output.results[0] {
                TxResult::Success => TxResult::Failed(TxFailure::AlreadyExecuted),
                TxResult::Failed(_) => TxResult::Success,
            };
        }
        Ok(Execution {
            output,
            stats: executor::ExecutionStats::sequential(block.transactions().len()),
        })
    }
}

#[tokio::test]
async fn shadow_mode_keeps_the_oracle_output_and_the_breaker_opens_then_closes() {
    let chain = chain(WorkloadKind::P2p, 50, 40, 8);
    let engine = Arc::new(WrongEngine {
        wrong_at: vec![2],
        calls: AtomicUsize::new(0),
    });
    let slot = ExecutorSlot::with_engine(
        &config("kind = \"block-stm\"\nshadow = true\n[circuit_breaker]\ncooldown_blocks = 3"),
        Arc::clone(&engine) as Arc<dyn BlockExecutor>,
    )
    .expect("slot");
    let node = Node::new(MemoryStore::new(), slot).expect("node");
    node.apply_genesis(&chain.genesis).expect("genesis");

    let mut paths = Vec::new();
    for (block, root) in chain.blocks.iter().zip(&chain.roots) {
        let applied = node.apply_block(block.clone()).await.expect("applies");
        assert_eq!(
            &applied.state_root, root,
            "the oracle's output is committed"
        );
        if applied.topoheight == 2 {
            let report = applied.shadow.as_ref().expect("shadow report");
            assert!(
                matches!(
                    report.mismatch,
                    Some(Mismatch::Transaction { index: 0, .. })
                ),
                "{:?}",
                report.mismatch
            );
            assert!(matches!(
                node.executor().slot().breaker_state(),
                BreakerState::Open {
                    remaining_blocks: 3
                }
            ));
        } else if let Some(report) = &applied.shadow {
            assert_eq!(report.mismatch, None, "block {}", applied.topoheight);
        }
        paths.push(applied.path);
    }
    use ExecutionPath::{BreakerOpen, Shadow};
    assert_eq!(
        paths,
        [
            Shadow,
            Shadow,
            BreakerOpen,
            BreakerOpen,
            BreakerOpen,
            Shadow,
            Shadow,
            Shadow
        ],
        "block 2 trips the breaker for three blocks, then the engine is tried again"
    );
    assert_eq!(
        engine.calls.load(Ordering::SeqCst),
        5,
        "the engine does not run while the breaker is open"
    );
    let stats = node.stats();
    assert_eq!(stats.slot.shadow_compared, 5);
    assert_eq!(stats.slot.shadow_mismatches, 1);
    assert_eq!(stats.slot.breaker_trips, 1);
    assert_eq!(stats.slot.breaker_skipped, 3);
    assert!(!stats.slot.breaker_open);
    let metrics = node.render_metrics();
    assert!(
        metrics
            .lines()
            .any(|line| line == "tos_executor_shadow_mismatches_total 1"),
        "{metrics}"
    );
}

#[test]
fn shadow_mode_with_the_real_engine_finds_no_mismatch() {
    let chain = chain(WorkloadKind::HotReceiver, 30, 300, 4);
    let slot = ExecutorSlot::new(&config(
        "kind = \"block-stm\"\nthreads = 4\nshadow = true\ncontention_cutoff = \"off\"",
    ))
    .expect("slot");
    let store = MemoryStore::new();
    store.commit(&chain.genesis).expect("genesis");
    for (block, root) in chain.blocks.iter().zip(&chain.roots) {
        let executed = {
            let snapshot = store.snapshot().expect("snapshot");
            slot.execute(block, &snapshot).expect("executes")
        };
        assert_eq!(executed.path, ExecutionPath::Shadow);
        let report = executed.shadow.expect("shadow report");
        assert_eq!(report.mismatch, None);
        assert!(report.candidate_stats.expect("candidate ran").executions >= 300);
        assert_eq!(&executed.execution.output.state_root(), root);
        store
            .commit(&executed.execution.output.commit)
            .expect("commit");
    }
    assert_eq!(slot.stats().shadow_compared, 4);
    assert_eq!(slot.stats().shadow_mismatches, 0);
}

/// Block-STM, counting the blocks it is handed.
#[derive(Debug)]
struct CountingEngine {
    inner: BlockStmExecutor,
    calls: AtomicUsize,
}

impl BlockExecutor for CountingEngine {
    fn name(&self) -> &'static str {
        "counting"
    }

    fn execute_block(&self, block: &Block, view: &dyn StateView) -> Result<Execution, BlockError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.execute_block(block, view)
    }
}

#[test]
fn blocks_under_the_threshold_run_sequentially_and_at_it_on_the_engine() {
    for (toml, threshold) in [
        ("network = \"mainnet\"", 20),
        ("network = \"testnet\"", 10),
        ("network = \"devnet\"", 4),
        ("network = \"devnet\"\nmin_parallel_txns = 7", 7),
    ] {
        let config = config(&format!("kind = \"block-stm\"\nthreads = 2\n{toml}"));
        let engine = Arc::new(CountingEngine {
            inner: BlockStmExecutor::new(parallel_forced(2).block_stm),
            calls: AtomicUsize::new(0),
        });
        let slot =
            ExecutorSlot::with_engine(&config, Arc::clone(&engine) as Arc<dyn BlockExecutor>)
                .expect("slot");
        assert_eq!(slot.min_parallel_txns(), threshold, "{toml}");
        for (size, expected) in [
            (threshold - 1, ExecutionPath::BelowThreshold),
            (threshold, ExecutionPath::Engine),
            (threshold + 1, ExecutionPath::Engine),
        ] {
            let chain = chain(WorkloadKind::P2p, 64, size, 1);
            let store = MemoryStore::new();
            store.commit(&chain.genesis).expect("genesis");
            let snapshot = store.snapshot().expect("snapshot");
            let calls = engine.calls.load(Ordering::SeqCst);
            let executed = slot.execute(&chain.blocks[0], &snapshot).expect("executes");
            assert_eq!(executed.path, expected, "{toml}: a block of {size}");
            assert_eq!(
                engine.calls.load(Ordering::SeqCst) - calls,
                usize::from(expected == ExecutionPath::Engine),
                "{toml}: a block of {size}"
            );
            assert_eq!(executed.execution.output.state_root(), chain.roots[0]);
        }
    }
}

#[test]
fn the_sequential_kind_never_runs_a_parallel_engine() {
    let config = config("kind = \"sequential\"\nnetwork = \"devnet\"");
    let slot = ExecutorSlot::new(&config).expect("slot");
    assert_eq!(slot.engine_name(), "sequential");
    let chain = chain(WorkloadKind::P2p, 64, 100, 1);
    let store = MemoryStore::new();
    store.commit(&chain.genesis).expect("genesis");
    let snapshot = store.snapshot().expect("snapshot");
    let executed = slot.execute(&chain.blocks[0], &snapshot).expect("executes");
    assert_eq!(executed.path, ExecutionPath::BelowThreshold);
    assert_eq!(executed.execution.output.state_root(), chain.roots[0]);
    assert_eq!(config.kind, EngineKind::Sequential);
    assert_eq!(config.network, Network::Devnet);
}

/// `GET /metrics` over a plain TCP stream; returns the status line, headers and body.
async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the metrics server");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("send request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("read response");
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prometheus_endpoint_answers_on_loopback() {
    let chain = chain(WorkloadKind::P2p, 100, 100, 3);
    let dir = tempfile::tempdir().expect("temp dir");
    let node: Arc<Node<RocksStore>> = Arc::new(
        Node::open(dir.path(), &config("threads = 2\nnetwork = \"devnet\"")).expect("node"),
    );
    node.apply_genesis(&chain.genesis).expect("genesis");
    for block in &chain.blocks {
        node.apply_block(block.clone()).await.expect("applies");
    }

    let listener = tokio::net::TcpListener::bind(metrics::parse_addr("0").expect("port 0"))
        .await
        .expect("bind an ephemeral loopback port");
    let addr = listener.local_addr().expect("local address");
    assert!(addr.ip().is_loopback());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(metrics::serve(listener, Arc::clone(&node), async move {
        let _ = stopped.await;
    }));

    let response = scrape(addr).await;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .expect("an HTTP response with a body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    for name in metrics::METRIC_NAMES {
        assert!(
            body.lines()
                .any(|line| line.starts_with(&format!("# TYPE {name} "))),
            "{name} missing from:\n{body}"
        );
    }
    for expected in [
        "tos_node_topoheight 3",
        "tos_node_blocks_total 3",
        "tos_node_transactions_total 300",
        "tos_executor_blocks_total{path=\"engine\"} 3",
        "tos_executor_parallel_transactions_total 300",
    ] {
        assert!(
            body.lines().any(|line| line == expected),
            "`{expected}` missing from:\n{body}"
        );
    }

    stop.send(()).expect("server still running");
    server
        .await
        .expect("server task")
        .expect("server shuts down cleanly");
}
