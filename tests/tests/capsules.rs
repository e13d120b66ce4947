//! Mismatch capsules end to end: a planted mismatch in shadow mode writes a capsule whose
//! replay, without any database, shows the same first difference; a fallback writes one
//! too; the capsule directory never exceeds its caps; capsules round-trip and corrupt
//! ones are typed errors; and a block file exported from a node replays to the same root.

use std::path::Path;
use std::sync::Arc;

use executor::capsule::replay::{factory_engines, replay, ReplayEngine};
use executor::capsule::{
    replay_chain, BlocksReader, BlocksWriter, Capsule, CapsuleError, CapsuleReason, CapsuleWriter,
};
use executor::node::Node;
use executor::slot::{ExecutionPath, ExecutorConfig, ExecutorSlot, Mismatch};
use executor::{
    execute_sequential, Block, BlockError, BlockExecutor, Execution, ExecutionStats, TxFailure,
    TxResult, Workload, WorkloadConfig, WorkloadKind,
};
use storage_adapter::{
    BlockCommit, BlockStore, MemoryStore, PublicKey, RocksStore, StateKey, StateValue, StateView,
};

/// What the test double gets wrong.
#[derive(Clone, Copy, Debug)]
enum Plant {
    /// The first transaction's result.
    Result,
    /// One more unit in the first balance it writes.
    Write,
    /// Nothing, but it reports a fallback to sequential.
    Fallback,
}

/// A deliberately wrong engine: the oracle's output with `plant` applied. It also reads
/// an account no transaction names, so the capsule must have recorded its own run.
#[derive(Debug)]
struct PlantedEngine {
    plant: Plant,
}

/// The account only the planted engine reads.
fn stranger() -> PublicKey {
    PublicKey::from_index(999_999)
}

impl BlockExecutor for PlantedEngine {
    fn name(&self) -> &'static str {
        "planted"
    }

    fn execute_block(&self, block: &Block, view: &dyn StateView) -> Result<Execution, BlockError> {
        view.get(&StateKey::Nonce(stranger()))?;
        let mut output = execute_sequential(block, view)?;
        let mut stats = ExecutionStats::sequential(block.transactions().len());
        match self.plant {
            Plant::Result => {
                output.results[0] = match &output.results[0] {
                    TxResult::Success => TxResult::Failed(TxFailure::AlreadyExecuted),
                    TxResult::Failed(_) => TxResult::Success,
                };
            }
            Plant::Write => {
                let commit = &output.commit;
                let mut writes = commit.writes().to_vec();
                if let Some((_, StateValue::Balance(balance))) = writes
                    .iter_mut()
                    .find(|(_, value)| matches!(value, StateValue::Balance(_)))
                {
                    *balance += 1;
                }
                output.commit = BlockCommit::new(
                    commit.parent(),
                    commit.topoheight(),
                    writes,
                    commit.executed().to_vec(),
                    commit.burned_supply(),
                )?;
            }
            Plant::Fallback => stats.fallbacks = 1,
        }
        Ok(Execution { output, stats })
    }
}

/// A seeded workload's genesis and `count` blocks.
fn chain(block_size: usize, count: u64) -> (BlockCommit, Vec<Block>, Workload) {
    let mut workload = Workload::new(WorkloadConfig::new(WorkloadKind::P2p, 40, block_size, 5))
        .expect("valid workload");
    let genesis = workload.genesis().expect("genesis");
    let blocks = (1..=count).map(|t| workload.next_block(t)).collect();
    (genesis, blocks, workload)
}

/// A devnet configuration (threshold 4) writing capsules to `dir`.
fn config(toml: &str, dir: &Path) -> ExecutorConfig {
    let mut config =
        ExecutorConfig::from_toml_str(&format!("network = \"devnet\"\nthreads = 2\n{toml}"))
            .expect("valid configuration");
    config.capsules.dir = Some(dir.to_path_buf());
    config.validate().expect("still valid");
    config
}

fn capsules_in(dir: &Path) -> Vec<std::path::PathBuf> {
    CapsuleWriter::new(dir, usize::MAX, u64::MAX)
        .list()
        .expect("list the capsule directory")
        .into_iter()
        .map(|entry| entry.path)
        .collect()
}

/// The factory's engines plus the planted one.
fn engines_with(plant: Plant) -> Vec<ReplayEngine> {
    let mut engines = factory_engines(&[1, 2, 4]);
    engines.push(ReplayEngine {
        threads: 1,
        engine: Arc::new(PlantedEngine { plant }),
    });
    engines
}

#[tokio::test]
async fn a_planted_mismatch_writes_a_capsule_that_replays_to_the_same_difference_without_a_database(
) {
    for plant in [Plant::Result, Plant::Write] {
        let capsule_dir = tempfile::tempdir().expect("temp dir");
        let data_dir = tempfile::tempdir().expect("temp dir");
        let (genesis, blocks, _) = chain(30, 3);
        let slot = ExecutorSlot::with_engine(
            &config("shadow = true", capsule_dir.path()),
            Arc::new(PlantedEngine { plant }),
        )
        .expect("slot");
        let node =
            Node::new(RocksStore::open(data_dir.path()).expect("rocksdb"), slot).expect("node");
        node.apply_genesis(&genesis).expect("genesis");
        let applied = node
            .apply_block(blocks[0].clone())
            .await
            .expect("block 1 applies");
        assert_eq!(applied.path, ExecutionPath::Shadow);
        let logged = applied
            .shadow
            .and_then(|report| report.mismatch)
            .expect("the planted engine differs");
        match plant {
            Plant::Result => assert!(matches!(logged, Mismatch::Transaction { index: 0, .. })),
            _ => assert!(matches!(logged, Mismatch::Write { .. }), "{logged}"),
        }
        assert_eq!(
            node.stats().slot.capsules_written,
            1,
            "the counter follows the file"
        );
        // No database from here on: the node and its RocksDB directory are gone.
        drop(node);
        drop(data_dir);

        let written = capsules_in(capsule_dir.path());
        assert_eq!(written.len(), 1, "{written:?}");
        let capsule = Capsule::read(&written[0]).expect("the capsule reads back");
        assert_eq!(capsule.reason, CapsuleReason::ShadowMismatch);
        assert_eq!(capsule.engine, "planted");
        assert_eq!(capsule.block, blocks[0]);
        assert_eq!(capsule.first_difference.as_ref(), Some(&logged));
        assert!(
            capsule
                .state
                .values
                .contains_key(&StateKey::Nonce(stranger())),
            "the candidate's own reads are recorded"
        );

        let report = replay(&capsule, &engines_with(plant));
        assert!(report.recorded_consistent);
        assert!(report.diverged());
        assert!(report.reproduced());
        let (planted, real) = report.runs.split_last().expect("runs");
        assert_eq!(planted.first_difference.as_ref(), Some(&logged));
        assert_eq!(planted.unrecorded_reads, 0);
        for run in real {
            assert!(run.agrees(), "{run:?}");
        }
        let json = report.to_json();
        assert_eq!(json["reproduced"], true);
        assert_eq!(
            json["runs"][real.len()]["first_difference"],
            logged.to_string()
        );
    }
}

#[test]
fn a_fallback_writes_a_capsule_whose_outputs_agree() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (genesis, blocks, _) = chain(20, 1);
    let store = MemoryStore::new();
    store.commit(&genesis).expect("genesis");
    let slot = ExecutorSlot::with_engine(
        &config("", dir.path()),
        Arc::new(PlantedEngine {
            plant: Plant::Fallback,
        }),
    )
    .expect("slot");
    let executed = slot
        .execute(&blocks[0], &store.snapshot().expect("snapshot"))
        .expect("executes");
    assert_eq!(executed.path, ExecutionPath::Engine);
    assert!(slot.stats().breaker_open, "a fallback opens the breaker");
    let written = capsules_in(dir.path());
    assert_eq!(written.len(), 1);
    assert_eq!(slot.stats().capsules_written, 1);
    let capsule = Capsule::read(&written[0]).expect("reads back");
    assert_eq!(capsule.reason, CapsuleReason::Fallback);
    assert_eq!(capsule.first_difference, None);
    assert_eq!(capsule.oracle, capsule.candidate);
    let report = replay(&capsule, &engines_with(Plant::Fallback));
    assert!(!report.diverged(), "{:#}", report.to_json());
    assert_eq!(report.runs.last().map(|run| run.fallbacks), Some(1));
}

#[test]
fn the_capsule_directory_never_exceeds_its_caps() {
    let (genesis, blocks, _) = chain(12, 1);
    // One capsule's size, to set caps that hold two or three of them.
    let probe = tempfile::tempdir().expect("temp dir");
    let sized = {
        let store = MemoryStore::new();
        store.commit(&genesis).expect("genesis");
        let slot = ExecutorSlot::with_engine(
            &config("shadow = true", probe.path()),
            Arc::new(PlantedEngine {
                plant: Plant::Result,
            }),
        )
        .expect("slot");
        slot.execute(&blocks[0], &store.snapshot().expect("snapshot"))
            .expect("executes");
        let written = capsules_in(probe.path());
        std::fs::metadata(&written[0]).expect("size").len()
    };

    // Block sizes vary, so capsule sizes do: the size cap, not just the count cap, bites.
    let mut workload =
        Workload::new(WorkloadConfig::new(WorkloadKind::P2p, 40, 30, 9)).expect("valid workload");
    let genesis = workload.genesis().expect("genesis");
    for (max_files, max_bytes) in [(3, u64::MAX), (50, sized * 5 / 2), (2, sized), (1, 100)] {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("README"), "not a capsule").expect("write");
        let mut config = config(
            "shadow = true\n[circuit_breaker]\ncooldown_blocks = 0",
            dir.path(),
        );
        config.capsules.max_files = max_files;
        config.capsules.max_bytes = max_bytes;
        let slot = ExecutorSlot::with_engine(
            &config,
            Arc::new(PlantedEngine {
                plant: Plant::Result,
            }),
        )
        .expect("slot");
        let store = MemoryStore::new();
        store.commit(&genesis).expect("genesis");
        let mut written = 0;
        for topoheight in 1..=12u64 {
            let size = [4, 12, 30][topoheight as usize % 3];
            let block = {
                let generated = workload.next_block(topoheight);
                let transactions = generated
                    .transactions()
                    .iter()
                    .take(size)
                    .cloned()
                    .collect();
                Block::new(
                    topoheight,
                    *generated.miner(),
                    generated.reward(),
                    transactions,
                )
            };
            let executed = slot
                .execute(&block, &store.snapshot().expect("snapshot"))
                .expect("executes");
            assert!(executed.shadow.and_then(|s| s.mismatch).is_some());
            store
                .commit(&executed.execution.output.commit)
                .expect("commit");
            let capsules = capsules_in(dir.path());
            let total: u64 = capsules
                .iter()
                .map(|path| std::fs::metadata(path).expect("size").len())
                .sum();
            assert!(capsules.len() <= max_files, "{} files", capsules.len());
            assert!(total <= max_bytes, "{total} bytes over {max_bytes}");
            written = written.max(capsules.len());
        }
        assert!(dir.path().join("README").exists(), "other files are kept");
        if max_bytes == 100 {
            assert_eq!(written, 0, "every capsule is over the size cap");
        } else if max_files == 50 {
            assert!(
                (1..12).contains(&written),
                "the size cap removed some: {written}"
            );
        } else {
            assert!(written >= 1);
        }
        // Start the chain again for the next caps. (The workload's nonces follow the
        // whole blocks it generated, so some transactions of the cut ones fail: the
        // blocks stay valid, and the planted difference is there either way.)
        workload = Workload::new(WorkloadConfig::new(WorkloadKind::P2p, 40, 30, 9))
            .expect("valid workload");
    }
}

#[test]
fn written_capsules_round_trip_and_corrupt_ones_are_typed_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (genesis, blocks, _) = chain(10, 1);
    let store = MemoryStore::new();
    store.commit(&genesis).expect("genesis");
    let slot = ExecutorSlot::with_engine(
        &config("shadow = true", dir.path()),
        Arc::new(PlantedEngine {
            plant: Plant::Write,
        }),
    )
    .expect("slot");
    slot.execute(&blocks[0], &store.snapshot().expect("snapshot"))
        .expect("executes");
    let path = capsules_in(dir.path()).pop().expect("a capsule");
    let bytes = std::fs::read(&path).expect("read");
    let capsule = Capsule::from_bytes(&bytes).expect("decodes");
    assert_eq!(
        Capsule::from_bytes(&capsule.to_bytes().expect("encodes")).expect("decodes"),
        capsule
    );

    let mut errors = 0;
    for position in (0..bytes.len()).step_by(61) {
        for corrupt in [bytes[..position].to_vec(), {
            let mut flipped = bytes.clone();
            flipped[position] ^= 0x55;
            flipped
        }] {
            if let Err(error) = Capsule::from_bytes(&corrupt) {
                assert!(
                    matches!(
                        error,
                        CapsuleError::Decode(_)
                            | CapsuleError::WrongFormat { .. }
                            | CapsuleError::UnsupportedVersion { .. }
                            | CapsuleError::Invalid(_)
                    ),
                    "{error}"
                );
                errors += 1;
            }
        }
    }
    assert!(errors > bytes.len() / 61, "most corruptions are caught");
    let error = Capsule::read(&dir.path().join("missing.json")).expect_err("no such file");
    assert!(matches!(error, CapsuleError::Io { .. }), "{error}");
}

#[tokio::test]
async fn exported_blocks_import_to_the_same_root() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let (genesis, blocks, workload) = chain(60, 6);
    let node = Node::open(
        data_dir.path(),
        &ExecutorConfig::from_toml_str("network = \"devnet\"\nthreads = 2").expect("config"),
    )
    .expect("node");
    node.apply_genesis(&genesis).expect("genesis");
    let mut export =
        BlocksWriter::new(Vec::new(), &workload.genesis_allocations()).expect("header");
    for block in &blocks {
        let applied = node.apply_block(block.clone()).await.expect("applies");
        // The first two without their roots, as a continued run writes them.
        let root = (block.topoheight() > 2).then_some(applied.state_root);
        export.write_block(block, root).expect("block line");
    }
    let final_root = node.chain_state().state_root;
    drop(node);
    let bytes = export.finish().expect("finish");

    let reader = BlocksReader::new(bytes.as_slice()).expect("header");
    let allocations = reader.genesis().to_vec();
    let imported: Vec<_> = reader.collect::<Result<_, _>>().expect("blocks");
    assert_eq!(
        imported.iter().map(|b| b.block.clone()).collect::<Vec<_>>(),
        blocks
    );
    let report =
        replay_chain(&allocations, &imported, &factory_engines(&[1, 2, 4])).expect("valid genesis");
    assert!(!report.diverged(), "{:#}", report.to_json());
    assert_eq!(report.state_root(), Some(final_root));
    assert_eq!(report.recorded_roots, 4);
    assert!(report.runs.iter().all(|run| run.applied == 6));

    // A recorded root that the blocks do not reach is a divergence at that block.
    let mut tampered = imported;
    tampered[3].state_root = Some(storage_adapter::Hash::digest(b"elsewhere"));
    let report = replay_chain(&allocations, &tampered, &factory_engines(&[2])).expect("runs");
    assert!(report.diverged());
    assert!(report
        .runs
        .iter()
        .all(|run| run.divergence.as_ref().map(|d| d.topoheight) == Some(4) && run.applied == 3));
}
