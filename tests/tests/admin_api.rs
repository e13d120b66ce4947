//! The node's admin API end to end, on an ephemeral loopback port: `/status` and
//! `/blocks` agree with the node's statistics, `/health` follows the circuit breaker, a
//! failed block and a stalled node, `PUT /config` applies at the next block and never
//! inside one, a bad `PUT` changes nothing and names the field, `SIGHUP` reloads the
//! file, and the per-block histograms in `/metrics` are consistent.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use executor::node::admin::{ApiError, ConfigChange, ConfigView};
use executor::node::health::{Health, HealthPolicy, HealthReason};
use executor::node::histograms::HISTOGRAM_NAMES;
use executor::node::history::BlockRecord;
use executor::node::metrics;
use executor::node::status::NodeStatus;
use executor::node::Node;
use executor::slot::{ConfigSource, EngineKind, ExecutionPath, ExecutorConfig, ExecutorSlot};
use executor::{
    execute_sequential, Block, BlockError, BlockExecutor, Execution, ExecutionStats, Workload,
    WorkloadConfig, WorkloadKind,
};
use storage_adapter::{BlockCommit, BlockStore, Hash, MemoryStore, StateView};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Generated blocks and the roots a sequential replay reaches (index `i`: after block
/// `i + 1`).
struct Chain {
    genesis: BlockCommit,
    blocks: Vec<Block>,
    roots: Vec<Hash>,
}

fn chain(accounts: usize, block_size: usize, blocks: u64) -> Chain {
    let mut workload = Workload::new(WorkloadConfig::new(
        WorkloadKind::P2p,
        accounts,
        block_size,
        7,
    ))
    .expect("valid workload");
    let genesis = workload.genesis().expect("valid genesis");
    let blocks: Vec<Block> = (1..=blocks).map(|t| workload.next_block(t)).collect();
    let replay = MemoryStore::new();
    replay.commit(&genesis).expect("genesis");
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

/// A node on a memory store with `slot`, genesis applied.
fn node(chain: &Chain, slot: ExecutorSlot) -> Arc<Node<MemoryStore>> {
    let node = Node::new(MemoryStore::new(), slot).expect("node");
    node.apply_genesis(&chain.genesis).expect("genesis");
    Arc::new(node)
}

/// The metrics and admin server on an ephemeral loopback port; stops when dropped.
struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn serve(node: &Arc<Node<MemoryStore>>) -> Server {
    let listener = tokio::net::TcpListener::bind(metrics::parse_addr("0").expect("port 0"))
        .await
        .expect("bind an ephemeral loopback port");
    let addr = listener.local_addr().expect("local address");
    assert!(addr.ip().is_loopback());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(metrics::serve(listener, Arc::clone(node), async move {
        let _ = stopped.await;
    }));
    Server {
        addr,
        stop: Some(stop),
    }
}

/// One HTTP/1.1 exchange over a plain TCP stream: the status code and the body.
async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the admin server");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("read response");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .expect("an HTTP response with a body");
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status code");
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "answers carry a length: {head}"
    );
    (code, body.to_owned())
}

/// `GET path`, expecting `code`, its JSON body parsed as `T`.
async fn get_json<T: serde::de::DeserializeOwned>(addr: SocketAddr, path: &str, code: u16) -> T {
    let (got, body) = http(addr, "GET", path, "").await;
    assert_eq!(got, code, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|error| panic!("GET {path}: {error}: {body}"))
}

async fn put_config(addr: SocketAddr, patch: &str) -> (u16, String) {
    http(addr, "PUT", "/config", patch).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_blocks_agree_with_the_node_statistics() {
    let chain = chain(1000, 200, 6);
    let node = node(
        &chain,
        ExecutorSlot::new(&config("network = \"devnet\"\nthreads = 2")).expect("slot"),
    );
    for (block, root) in chain.blocks.iter().zip(&chain.roots) {
        let applied = node.apply_block(block.clone()).await.expect("applies");
        assert_eq!(applied.state_root, *root);
    }
    let server = serve(&node).await;
    let stats = node.stats();

    let status: NodeStatus = get_json(server.addr, "/status", 200).await;
    assert_eq!(status.engine, "block-stm");
    assert_eq!(status.threads, 2);
    assert_eq!(status.network.as_str(), "devnet");
    assert!(!status.shadow);
    assert_eq!(status.min_parallel_txns, 4);
    assert!(!status.breaker.open);
    assert_eq!(status.breaker.cooldown_blocks, 100);
    assert_eq!(status.topoheight, Some(6));
    assert_eq!(status.blocks, stats.blocks);
    assert_eq!(status.transactions, stats.transactions);
    assert_eq!(
        status.successful_transactions,
        stats.successful_transactions
    );
    assert_eq!(status.recent.blocks, 6);
    assert_eq!(status.recent.transactions_per_block, 200.0);
    assert!(status.health.healthy, "{:?}", status.health);
    assert_eq!(status.pending_config, None);
    assert_eq!(status.config, node.executor().slot().config());

    let all: Vec<BlockRecord> = get_json(server.addr, "/blocks", 200).await;
    assert_eq!(
        all.iter().map(|r| r.topoheight).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    let last: Vec<BlockRecord> = get_json(server.addr, "/blocks?last=4", 200).await;
    assert_eq!(last, all[2..].to_vec());
    assert_eq!(
        all.iter().map(|r| r.transactions).sum::<u64>(),
        stats.transactions
    );
    assert_eq!(
        all.iter().map(|r| r.successful).sum::<u64>(),
        stats.successful_transactions
    );
    let executions: f64 = all
        .iter()
        .map(|r| r.executions_per_txn * r.transactions as f64)
        .sum();
    assert!(
        (executions - stats.parallel.executions as f64).abs() < 1e-6,
        "{executions} vs {}",
        stats.parallel.executions
    );
    let block_stm = stats.parallel.block_stm.expect("Block-STM's counters");
    assert_eq!(all.iter().map(|r| r.aborts).sum::<u64>(), block_stm.aborts);
    let validations: f64 = all
        .iter()
        .map(|r| r.validations_per_txn * r.transactions as f64)
        .sum();
    assert!((validations - block_stm.validations as f64).abs() < 1e-6);
    let seconds: f64 = all.iter().map(|r| r.execute_seconds).sum();
    assert!((seconds - stats.engine_seconds).abs() < 1e-9);
    for record in &all {
        assert_eq!(record.path, ExecutionPath::Engine);
        assert_eq!(record.engine, "block-stm");
        if record.engine_sequential {
            assert_eq!(record.achieved_parallelism, None);
        } else {
            let parallelism = record
                .achieved_parallelism
                .expect("a parallel run measures its parallelism");
            assert!(
                parallelism > 0.0 && parallelism <= 2.0 + 1e-9,
                "busy time over wall time at 2 threads: {parallelism}"
            );
        }
    }
    assert!(
        all.iter().any(|r| r.achieved_parallelism.is_some()),
        "1000 accounts, 200 transactions: uncontended, so run in parallel"
    );

    let (code, body) = http(server.addr, "GET", "/blocks?last=some", "").await;
    assert_eq!(code, 400);
    let error: ApiError = serde_json::from_str(&body).expect("an API error");
    assert_eq!(error.field.as_deref(), Some("last"));
}

/// The oracle, reporting a fallback on the blocks in `fallback_at` (so the slot trips
/// its breaker), and counting its calls.
#[derive(Debug)]
struct FallingBack {
    fallback_at: Vec<u64>,
    calls: AtomicUsize,
}

impl BlockExecutor for FallingBack {
    fn name(&self) -> &'static str {
        "falling-back"
    }

    fn execute_block(&self, block: &Block, view: &dyn StateView) -> Result<Execution, BlockError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let output = execute_sequential(block, view)?;
        let stats = ExecutionStats {
            fallbacks: u64::from(self.fallback_at.contains(&block.topoheight())),
            ..ExecutionStats::sequential(block.transactions().len())
        };
        Ok(Execution { output, stats })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_turns_503_when_the_breaker_opens_and_200_after_the_cooldown() {
    let chain = chain(100, 20, 4);
    let engine = Arc::new(FallingBack {
        fallback_at: vec![1],
        calls: AtomicUsize::new(0),
    });
    let slot = ExecutorSlot::with_engine(
        &config("network = \"devnet\"\n[circuit_breaker]\ncooldown_blocks = 2"),
        Arc::clone(&engine) as Arc<dyn BlockExecutor>,
    )
    .expect("slot");
    let node = node(&chain, slot);
    let server = serve(&node).await;

    let health: Health = get_json(server.addr, "/health", 200).await;
    assert!(health.healthy && health.reasons.is_empty());

    let mut blocks = chain.blocks.iter().cloned();
    let mut apply = || node.apply_block(blocks.next().expect("a block left"));
    apply().await.expect("block 1");
    let health: Health = get_json(server.addr, "/health", 503).await;
    assert_eq!(
        health.reasons,
        [HealthReason::BreakerOpen {
            remaining_blocks: 2
        }]
    );
    let status: NodeStatus = get_json(server.addr, "/status", 200).await;
    assert!(status.breaker.open);
    assert_eq!(status.breaker.remaining_blocks, 2);
    assert_eq!(status.breaker.trips, 1);
    assert_eq!(status.health.reasons, health.reasons);

    let applied = apply().await.expect("block 2");
    assert_eq!(applied.path, ExecutionPath::BreakerOpen);
    let health: Health = get_json(server.addr, "/health", 503).await;
    assert_eq!(
        health.reasons,
        [HealthReason::BreakerOpen {
            remaining_blocks: 1
        }]
    );
    let applied = apply().await.expect("block 3: the cooldown's last");
    assert_eq!(applied.path, ExecutionPath::BreakerOpen);
    let health: Health = get_json(server.addr, "/health", 200).await;
    assert!(health.healthy, "{health:?}");
    let applied = apply().await.expect("block 4");
    assert_eq!(applied.path, ExecutionPath::Engine);
    assert_eq!(engine.calls.load(Ordering::SeqCst), 2);
    let health: Health = get_json(server.addr, "/health", 200).await;
    assert!(health.healthy, "{health:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_a_failed_block_and_a_stalled_node() {
    let chain = chain(100, 20, 1);
    let slot = ExecutorSlot::new(&config("network = \"devnet\"\nthreads = 2")).expect("slot");
    let node = Node::new(MemoryStore::new(), slot)
        .expect("node")
        .with_health_policy(HealthPolicy {
            max_block_age: Some(Duration::from_secs(2)),
        });
    node.apply_genesis(&chain.genesis).expect("genesis");
    let node = Arc::new(node);
    let server = serve(&node).await;

    // A block carrying one transaction twice is in error.
    let good = &chain.blocks[0];
    let first = good.transactions()[0].clone();
    let bad = Block::new(1, *good.miner(), 0, vec![first.clone(), first]);
    node.apply_block(bad)
        .await
        .expect_err("a duplicate transaction");
    let health: Health = get_json(server.addr, "/health", 503).await;
    assert!(
        matches!(
            health.reasons.as_slice(),
            [HealthReason::LastBlockFailed { topoheight: 1, .. }]
        ),
        "{health:?}"
    );

    node.apply_block(chain.blocks[0].clone())
        .await
        .expect("the good block 1");
    let health: Health = get_json(server.addr, "/health", 200).await;
    assert!(health.healthy, "{health:?}");

    tokio::time::sleep(Duration::from_millis(2200)).await;
    let health: Health = get_json(server.addr, "/health", 503).await;
    assert!(
        matches!(
            health.reasons.as_slice(),
            [HealthReason::NoRecentBlock { max_seconds, .. }] if *max_seconds == 2.0
        ),
        "{health:?}"
    );
}

/// The oracle, holding the first block it executes until the test releases it.
#[derive(Debug)]
struct Held {
    entered: Mutex<mpsc::Sender<u64>>,
    release: Mutex<mpsc::Receiver<()>>,
    held: AtomicUsize,
}

impl BlockExecutor for Held {
    fn name(&self) -> &'static str {
        "held"
    }

    fn execute_block(&self, block: &Block, view: &dyn StateView) -> Result<Execution, BlockError> {
        if self.held.fetch_add(1, Ordering::SeqCst) == 0 {
            let _ = self
                .entered
                .lock()
                .expect("entered")
                .send(block.topoheight());
            let _ = self
                .release
                .lock()
                .expect("release")
                .recv_timeout(Duration::from_secs(30));
        }
        Ok(Execution {
            output: execute_sequential(block, view)?,
            stats: ExecutionStats::sequential(block.transactions().len()),
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_change_applies_at_the_next_block_and_never_mid_block() {
    let chain = chain(1000, 50, 3);
    let (entered_sender, entered) = mpsc::channel();
    let (release, release_receiver) = mpsc::channel();
    let engine = Arc::new(Held {
        entered: Mutex::new(entered_sender),
        release: Mutex::new(release_receiver),
        held: AtomicUsize::new(0),
    });
    let slot = ExecutorSlot::with_engine(
        &config("network = \"devnet\"\nthreads = 2"),
        Arc::clone(&engine) as Arc<dyn BlockExecutor>,
    )
    .expect("slot");
    let node = node(&chain, slot);
    let server = serve(&node).await;

    // Block 1 starts under the first configuration and is held inside the engine.
    let in_flight = tokio::spawn({
        let node = Arc::clone(&node);
        let block = chain.blocks[0].clone();
        async move { node.apply_block(block).await }
    });
    let topoheight =
        tokio::task::spawn_blocking(move || entered.recv_timeout(Duration::from_secs(30)))
            .await
            .expect("waiting task")
            .expect("block 1 entered the engine");
    assert_eq!(topoheight, 1);

    // The engine changes while block 1 is in flight.
    let (code, body) = put_config(
        server.addr,
        r#"{"kind": "grouping", "circuit_breaker": {"cooldown_blocks": 5}}"#,
    )
    .await;
    assert_eq!(code, 202, "{body}");
    let change: ConfigChange = serde_json::from_str(&body).expect("a change");
    assert_eq!(change.changed, ["circuit_breaker.cooldown_blocks", "kind"]);
    assert_eq!(change.config.kind, EngineKind::Grouping);
    assert_eq!(change.takes_effect, "next_block");
    let view: ConfigView = get_json(server.addr, "/config", 200).await;
    assert_eq!(view.config.kind, EngineKind::BlockStm, "not mid-block");
    assert_eq!(
        view.pending.as_ref().map(|c| c.kind),
        Some(EngineKind::Grouping)
    );
    let status: NodeStatus = get_json(server.addr, "/status", 200).await;
    assert_eq!(status.engine, "held");
    assert_eq!(status.breaker.cooldown_blocks, 100);
    assert_eq!(status.pending_config, view.pending);

    release.send(()).expect("the engine waits");
    let applied = in_flight.await.expect("task").expect("block 1 applies");
    assert_eq!(
        applied.engine, "held",
        "block 1 finishes on the engine it started on"
    );
    assert_eq!(applied.path, ExecutionPath::Engine);
    assert_eq!(applied.state_root, chain.roots[0]);
    let status: NodeStatus = get_json(server.addr, "/status", 200).await;
    assert_eq!(
        status.engine, "held",
        "the change waits for the next block to start"
    );
    assert!(status.pending_config.is_some());

    // Block 2 starts under the new configuration.
    let applied = node
        .apply_block(chain.blocks[1].clone())
        .await
        .expect("block 2 applies");
    assert_eq!(applied.engine, "grouping");
    assert_eq!(applied.state_root, chain.roots[1]);
    assert!(applied.stats.grouping.is_some(), "batch grouping ran it");
    let status: NodeStatus = get_json(server.addr, "/status", 200).await;
    assert_eq!(status.engine, "grouping");
    assert_eq!(status.config.kind, EngineKind::Grouping);
    assert_eq!(status.breaker.cooldown_blocks, 5);
    assert_eq!(status.pending_config, None);
    let records: Vec<BlockRecord> = get_json(server.addr, "/blocks?last=2", 200).await;
    assert_eq!(
        records
            .iter()
            .map(|r| r.engine.as_str())
            .collect::<Vec<_>>(),
        ["held", "grouping"]
    );

    // And back: the engine given to the slot is kept for its own kind.
    let (code, body) = put_config(server.addr, r#"{"kind": "block-stm"}"#).await;
    assert_eq!(code, 202, "{body}");
    let applied = node
        .apply_block(chain.blocks[2].clone())
        .await
        .expect("block 3 applies");
    assert_eq!(applied.engine, "held");
    assert_eq!(applied.state_root, chain.roots[2]);
    assert_eq!(engine.held.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_put_changes_nothing_and_names_the_field() {
    let chain = chain(100, 20, 1);
    let node = node(
        &chain,
        ExecutorSlot::new(&config("network = \"devnet\"\nthreads = 2")).expect("slot"),
    );
    let server = serve(&node).await;
    let before: ConfigView = get_json(server.addr, "/config", 200).await;
    assert_eq!(before.pending, None);

    let (code, body) = put_config(server.addr, r#"{"threads": 3}"#).await;
    assert_eq!(code, 202, "{body}");
    let staged: ConfigView = get_json(server.addr, "/config", 200).await;
    assert_eq!(staged.pending.as_ref().and_then(|c| c.threads), Some(3));

    for (patch, field) in [
        (r#"{"threads": 0}"#, Some("threads")),
        (r#"{"threads": "four"}"#, Some("threads")),
        (r#"{"kind": "turbo"}"#, Some("kind")),
        (r#"{"threads": 4, "shadow": "yes"}"#, Some("shadow")),
        (r#"{"contention_cutoff": 130}"#, Some("contention_cutoff")),
        (r#"{"min_parallel_txns": 70000}"#, Some("min_parallel_txns")),
        (r#"{"thread": 4}"#, Some("thread")),
        (
            r#"{"circuit_breaker": {"cooldown_blocks": -1}}"#,
            Some("circuit_breaker.cooldown_blocks"),
        ),
        (r#"{"kind": "sequential", "shadow": true}"#, Some("shadow")),
        (r#"{"network": "testnet"}"#, Some("network")),
        (r#"[1, 2]"#, None),
        ("threads=4", None),
    ] {
        let (code, body) = put_config(server.addr, patch).await;
        assert_eq!(code, 400, "{patch}: {body}");
        let error: ApiError = serde_json::from_str(&body).expect("an API error");
        assert_eq!(error.field.as_deref(), field, "{patch}: {}", error.error);
        if let Some(field) = field {
            let leaf = field.rsplit('.').next().unwrap_or(field);
            assert!(error.error.contains(leaf), "{patch}: {}", error.error);
        }
        let after: ConfigView = get_json(server.addr, "/config", 200).await;
        assert_eq!(after, staged, "{patch} changed something");
    }

    // Setting back the configuration in effect withdraws a pending change.
    let (code, body) = put_config(server.addr, r#"{"threads": 2}"#).await;
    assert_eq!(code, 202, "{body}");
    let change: ConfigChange = serde_json::from_str(&body).expect("a change");
    assert!(change.changed.is_empty(), "{change:?}");
    let withdrawn: ConfigView = get_json(server.addr, "/config", 200).await;
    assert_eq!(withdrawn.pending, None);
    let (code, body) = put_config(server.addr, r#"{"threads": 3}"#).await;
    assert_eq!(code, 202, "{body}");

    // The staged change (and only it) takes effect at the next block.
    node.apply_block(chain.blocks[0].clone())
        .await
        .expect("block 1 applies");
    let after: ConfigView = get_json(server.addr, "/config", 200).await;
    assert_eq!(after.config.threads, Some(3));
    assert_eq!(
        after.config,
        ExecutorConfig {
            threads: Some(3),
            ..before.config
        }
    );
    assert_eq!(after.pending, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histograms_in_metrics_are_present_and_consistent() {
    let chain = chain(1000, 100, 5);
    let node = node(
        &chain,
        ExecutorSlot::new(&config("network = \"devnet\"\nthreads = 2")).expect("slot"),
    );
    for block in &chain.blocks {
        node.apply_block(block.clone()).await.expect("applies");
    }
    let server = serve(&node).await;
    let (code, body) = http(server.addr, "GET", "/metrics", "").await;
    assert_eq!(code, 200);
    let stats = node.stats();
    let records = node.recent_blocks(100);
    let parallel_blocks = records
        .iter()
        .filter(|r| r.achieved_parallelism.is_some())
        .count() as u64;

    for name in HISTOGRAM_NAMES {
        assert!(
            body.lines()
                .any(|l| l == format!("# TYPE {name} histogram")),
            "{name} missing from:\n{body}"
        );
        let value = |line: &str| -> f64 {
            line.rsplit(' ')
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("a value in `{line}`"))
        };
        let buckets: Vec<(String, f64)> = body
            .lines()
            .filter_map(|line| {
                let rest = line.strip_prefix(&format!("{name}_bucket{{le=\""))?;
                let (le, _) = rest.split_once('"')?;
                Some((le.to_owned(), value(line)))
            })
            .collect();
        assert!(buckets.len() > 5, "{name}: {buckets:?}");
        assert_eq!(buckets.last().map(|(le, _)| le.as_str()), Some("+Inf"));
        assert!(
            buckets.windows(2).all(|pair| pair[0].1 <= pair[1].1),
            "{name}: buckets are cumulative: {buckets:?}"
        );
        let single = |suffix: &str| {
            let prefix = format!("{name}_{suffix} ");
            body.lines()
                .find(|line| line.starts_with(&prefix))
                .map(value)
                .unwrap_or_else(|| panic!("{prefix} missing"))
        };
        let count = single("count");
        assert_eq!(buckets.last().map(|(_, v)| *v), Some(count), "{name}");
        let sum = single("sum");
        match *name {
            "tos_node_block_execute_seconds" => {
                assert_eq!(count, stats.blocks as f64);
                assert!((sum - stats.engine_seconds).abs() < 1e-6, "{sum}");
            }
            "tos_node_block_commit_seconds" => {
                assert_eq!(count, stats.blocks as f64);
                assert!((sum - stats.commit_seconds).abs() < 1e-6, "{sum}");
            }
            "tos_node_block_transactions" => {
                assert_eq!(count, stats.blocks as f64);
                assert_eq!(sum, stats.transactions as f64);
                // Every block has 100 transactions: none at or under 50, all under 100.
                let at = |le: &str| buckets.iter().find(|(l, _)| l == le).map(|(_, v)| *v);
                assert_eq!(at("50"), Some(0.0));
                assert_eq!(at("100"), Some(count));
            }
            "tos_executor_achieved_parallelism" => {
                assert_eq!(count, parallel_blocks as f64);
                let expected: f64 = records.iter().filter_map(|r| r.achieved_parallelism).sum();
                assert!((sum - expected).abs() < 1e-9, "{sum} vs {expected}");
            }
            other => panic!("a histogram this test does not know: {other}"),
        }
    }
}

/// `SIGHUP` reads the configuration file again and stages it for the next block; a file
/// that does not validate changes nothing.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_configuration_file() {
    use tokio::signal::unix::{signal, SignalKind};

    let chain = chain(100, 20, 1);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("executor.toml");
    std::fs::write(&path, "network = \"devnet\"\nthreads = 2\n").expect("write");
    let source = ConfigSource {
        path: Some(path.clone()),
        overrides: Default::default(),
    };
    let node = node(
        &chain,
        ExecutorSlot::new(&source.load().expect("valid file")).expect("slot"),
    );
    let slot = node.executor().slot();

    // A file that does not validate: refused, nothing changes.
    std::fs::write(&path, "network = \"devnet\"\nthreads = 0\n").expect("write");
    let error = slot.reload(&source).expect_err("threads = 0");
    assert_eq!(error.field(), Some("threads"));
    assert_eq!(slot.pending_config(), None);

    std::fs::write(
        &path,
        "network = \"devnet\"\nthreads = 2\nkind = \"grouping\"\n",
    )
    .expect("write");
    // Our own handler first, so that a signal sent before the reloader listens is
    // caught rather than ending the process.
    let _ours = signal(SignalKind::hangup()).expect("watch SIGHUP");
    let reloader = tokio::spawn(executor::node::admin::reload_on_sighup(
        Arc::clone(&node),
        source,
    ));
    let pid = std::process::id().to_string();
    let mut staged = None;
    for _ in 0..100 {
        std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("kill -HUP");
        tokio::time::sleep(Duration::from_millis(50)).await;
        staged = node.executor().slot().pending_config();
        if staged.is_some() {
            break;
        }
    }
    assert_eq!(staged.map(|c| c.kind), Some(EngineKind::Grouping));
    let applied = node
        .apply_block(chain.blocks[0].clone())
        .await
        .expect("block 1");
    assert_eq!(applied.engine, "grouping");
    assert_eq!(applied.state_root, chain.roots[0]);
    reloader.abort();
}
