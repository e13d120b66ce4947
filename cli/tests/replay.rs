//! `blockstm replay` through the binary: a block file exported by `blockstm run` replays
//! to the run's state root on every engine, and a capsule's replay exits non-zero exactly
//! when the engines diverge from its recorded oracle, in the table and in `--json`.

use std::path::Path;
use std::process::{Command, Output};

use executor::capsule::{Capsule, CapsuleReason, RecordedOutcome, RecordingView};
use executor::{execute_sequential, TxFailure, TxResult, Workload, WorkloadConfig, WorkloadKind};
use storage_adapter::{BlockStore, MemoryStore};

fn blockstm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blockstm"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn last_line(output: &Output) -> String {
    stdout(output).lines().last().unwrap_or_default().to_owned()
}

#[test]
fn exported_blocks_replay_to_the_runs_root() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let file = dir.path().join("blocks.jsonl");
    let run = blockstm(&[
        "run",
        "--accounts",
        "50",
        "--block-size",
        "100",
        "--blocks",
        "4",
        "--threads",
        "2",
        "--data-dir",
        data.to_str().expect("utf-8 path"),
        "--export-blocks",
        file.to_str().expect("utf-8 path"),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let root = last_line(&run);
    assert!(root.starts_with("state root: "), "{root}");

    let replay = blockstm(&[
        "replay",
        "--blocks",
        file.to_str().expect("path"),
        "--threads",
        "1,2",
    ]);
    assert!(replay.status.success(), "{}", stdout(&replay));
    assert_eq!(last_line(&replay), root);

    let json = blockstm(&["replay", "--blocks", file.to_str().expect("path"), "--json"]);
    assert!(json.status.success());
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(report["diverged"], false);
    assert_eq!(
        format!(
            "state root: {}",
            report["state_root"].as_str().unwrap_or_default()
        ),
        root
    );
}

/// A capsule of a workload block whose recorded outputs differ in the first result;
/// `wrong_oracle` puts the wrong output in the oracle's place.
fn write_capsule(path: &Path, wrong_oracle: bool) {
    let mut workload =
        Workload::new(WorkloadConfig::new(WorkloadKind::P2p, 30, 20, 3)).expect("valid workload");
    let store = MemoryStore::new();
    store
        .commit(&workload.genesis().expect("genesis"))
        .expect("commit");
    let block = workload.next_block(1);
    let snapshot = store.snapshot().expect("snapshot");
    let recorder = RecordingView::new(&snapshot);
    recorder.record_footprint(&block).expect("footprint");
    let right = execute_sequential(&block, &recorder).expect("valid");
    let mut wrong = right.clone();
    wrong.results[0] = TxResult::Failed(TxFailure::AlreadyExecuted);
    let (oracle, candidate) = if wrong_oracle {
        (wrong, right)
    } else {
        (right, wrong)
    };
    let (oracle, candidate) = (
        RecordedOutcome::Accepted(oracle),
        RecordedOutcome::Accepted(candidate),
    );
    let capsule = Capsule {
        reason: CapsuleReason::ShadowMismatch,
        created_unix_ms: 0,
        engine: "block-stm".into(),
        threads: Some(2),
        block,
        state: recorder.into_state().expect("state"),
        first_difference: executor::capsule::first_difference(&oracle, &candidate),
        oracle,
        candidate,
        candidate_stats: None,
    };
    std::fs::write(path, capsule.to_bytes().expect("encode")).expect("write");
}

#[test]
fn a_capsule_replay_exits_non_zero_only_on_divergence() {
    let dir = tempfile::tempdir().expect("temp dir");
    let agreeing = dir.path().join("agreeing.json");
    write_capsule(&agreeing, false);
    let replay = blockstm(&["replay", agreeing.to_str().expect("path")]);
    assert!(replay.status.success(), "{}", stdout(&replay));
    let text = stdout(&replay);
    assert!(
        text.contains("recorded first difference: transaction 0"),
        "{text}"
    );
    assert!(text.contains("did not reproduce"), "{text}");

    let diverging = dir.path().join("diverging.json");
    write_capsule(&diverging, true);
    let replay = blockstm(&[
        "replay",
        diverging.to_str().expect("path"),
        "--threads",
        "2",
    ]);
    assert!(!replay.status.success());
    let text = stdout(&replay);
    assert!(
        text.contains("DIFFERS (as recorded): transaction 0"),
        "{text}"
    );
    assert!(
        text.contains("the sequential oracle does not reproduce"),
        "{text}"
    );
    let json = blockstm(&["replay", diverging.to_str().expect("path"), "--json"]);
    assert!(!json.status.success());
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(report["diverged"], true);
    assert_eq!(report["runs"].as_array().map(Vec::len), Some(9));

    let corrupt = dir.path().join("corrupt.json");
    std::fs::write(
        &corrupt,
        b"{\"format\": \"tos-blockstm-capsule\", \"version\": 1, \"rea",
    )
    .expect("write");
    let replay = blockstm(&["replay", corrupt.to_str().expect("path")]);
    assert!(!replay.status.success());
    let stderr = String::from_utf8_lossy(&replay.stderr);
    assert!(stderr.contains("cannot decode"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
