//! Unit tests of the capsule format, recorder and replay.

use std::sync::Arc;

use proptest::prelude::*;
use storage_adapter::{
    Asset, BlockStore, Hash, MemoryStore, MultisigConfig, PublicKey, StateKey, StateValue,
};

use super::replay::{factory_engines, replay};
use super::*;
use crate::model::{Payload, Transaction, Transfer};
use crate::outcome::{OverflowKind, TxFailure, TxResult};
use crate::{execute_sequential, genesis_commit};

fn account(index: u64) -> PublicKey {
    PublicKey::from_index(index)
}

/// A store at topoheight 0 and a block 1 with transfers (one failing), a burn of another
/// asset and a multisig set-up.
fn store_and_block() -> (MemoryStore, Block) {
    let gold = Asset::from_index(1);
    let store = MemoryStore::new();
    let genesis = genesis_commit(&[
        (account(0), Asset::TOS, 1_000),
        (account(1), Asset::TOS, 1_000),
        (account(1), gold, 50),
        (account(2), Asset::TOS, 5),
    ])
    .expect("genesis");
    store.commit(&genesis).expect("commit genesis");
    let transactions = vec![
        Transaction::new(
            account(0),
            0,
            3,
            Payload::Transfers(vec![Transfer::new(Asset::TOS, account(3), 10)]),
        ),
        Transaction::new(
            account(1),
            0,
            1,
            Payload::Burn {
                asset: gold,
                amount: 7,
            },
        ),
        Transaction::new(
            account(1),
            1,
            1,
            Payload::Multisig {
                threshold: 1,
                participants: vec![account(4), account(5)],
            },
        ),
        // Fails: insufficient funds.
        Transaction::new(
            account(2),
            0,
            1,
            Payload::Transfers(vec![Transfer::new(Asset::TOS, account(0), 100)]),
        ),
    ];
    (store, Block::new(1, account(9), 50, transactions))
}

fn recorded_capsule() -> Capsule {
    let (store, block) = store_and_block();
    let snapshot = store.snapshot().expect("snapshot");
    let recorder = RecordingView::new(&snapshot);
    recorder.record_footprint(&block).expect("footprint");
    let oracle = execute_sequential(&block, &recorder).expect("valid block");
    let mut candidate = oracle.clone();
    candidate.results[0] = TxResult::Failed(TxFailure::InvalidNonce {
        expected: 1,
        got: 0,
    });
    let oracle = RecordedOutcome::Accepted(oracle);
    let candidate = RecordedOutcome::Accepted(candidate);
    Capsule {
        reason: CapsuleReason::ShadowMismatch,
        created_unix_ms: 1_700_000_000_000,
        engine: "block-stm".into(),
        threads: Some(4),
        block,
        state: recorder.into_state().expect("state"),
        first_difference: first_difference(&oracle, &candidate),
        oracle,
        candidate,
        candidate_stats: Some(serde_json::json!({"executions": 5})),
    }
}

#[test]
fn a_capsule_round_trips() {
    let capsule = recorded_capsule();
    assert!(capsule.first_difference.is_some());
    let bytes = capsule.to_bytes().expect("encode");
    assert_eq!(Capsule::from_bytes(&bytes).expect("decode"), capsule);

    let rejected = Capsule {
        candidate: RecordedOutcome::Rejected("storage: cancelled".into()),
        first_difference: Some(Mismatch::Outcome {
            expected: "a".into(),
            got: "b".into(),
        }),
        candidate_stats: None,
        threads: None,
        ..capsule
    };
    let bytes = rejected.to_bytes().expect("encode");
    assert_eq!(Capsule::from_bytes(&bytes).expect("decode"), rejected);
}

#[test]
fn every_kind_of_difference_round_trips() {
    let key = StateKey::Multisig(account(1));
    let config = StateValue::Multisig(Some(Arc::new(MultisigConfig {
        threshold: 2,
        participants: vec![account(2), account(3)],
    })));
    let differences = [
        Mismatch::Outcome {
            expected: "x".into(),
            got: "y".into(),
        },
        Mismatch::ResultCount {
            expected: 3,
            got: 2,
        },
        Mismatch::Transaction {
            index: 7,
            expected: TxResult::Failed(TxFailure::Overflow(OverflowKind::Credit {
                destination: account(1),
                asset: Asset::TOS,
            })),
            got: TxResult::Failed(TxFailure::Overflow(OverflowKind::Nonce)),
        },
        Mismatch::Transaction {
            index: 0,
            expected: TxResult::Failed(TxFailure::AlreadyExecuted),
            got: TxResult::Failed(TxFailure::Overflow(OverflowKind::Spending {
                asset: Asset::from_index(3),
            })),
        },
        Mismatch::Write {
            key,
            expected: Some(config),
            got: Some(StateValue::Multisig(None)),
        },
        Mismatch::Write {
            key: StateKey::Balance(account(1), Asset::TOS),
            expected: None,
            got: Some(StateValue::Balance(4)),
        },
        Mismatch::Totals {
            field: "burned",
            expected: 1,
            got: 2,
        },
        Mismatch::StateRoot {
            expected: Hash::digest(b"a"),
            got: Hash::digest(b"b"),
        },
    ];
    for difference in differences {
        let capsule = Capsule {
            first_difference: Some(difference.clone()),
            ..recorded_capsule()
        };
        let decoded = Capsule::from_bytes(&capsule.to_bytes().expect("encode")).expect("decode");
        assert_eq!(decoded.first_difference, Some(difference));
    }
}

#[test]
fn recorded_differences_use_the_words_of_shadow_mode() {
    let (store, block) = store_and_block();
    let snapshot = store.snapshot().expect("snapshot");
    let output = execute_sequential(&block, &snapshot).expect("valid");
    let error = crate::outcome::BlockError::RewardOverflow;
    let shadow = crate::slot::shadow::compare(Ok(&output), Err(&error));
    let recorded = first_difference(
        &RecordedOutcome::of(Ok(&output)),
        &RecordedOutcome::of(Err(&error)),
    );
    assert_eq!(recorded, shadow);
    assert!(recorded.is_some());
}

#[test]
fn a_recorded_capsule_replays_without_a_database_on_every_engine() {
    let capsule = recorded_capsule();
    let report = replay(&capsule, &factory_engines(&[1, 2, 4]));
    assert_eq!(report.runs.len(), 1 + 2 * 3);
    assert!(report.recorded_consistent);
    for run in &report.runs {
        assert_eq!(run.unrecorded_reads, 0, "{run:?}");
        assert_eq!(run.first_difference, None, "{run:?}");
    }
    assert!(!report.diverged());
    assert!(
        !report.reproduced(),
        "the real engines agree with the oracle"
    );
    let json = report.to_json();
    assert_eq!(json["diverged"], serde_json::json!(false));
    assert_eq!(json["runs"].as_array().map(Vec::len), Some(7));
}

#[test]
fn a_read_beyond_the_capsule_is_reported_not_invented() {
    let mut capsule = recorded_capsule();
    capsule.state.values.remove(&StateKey::Nonce(account(0)));
    let report = replay(&capsule, &factory_engines(&[2]));
    assert!(report.diverged());
    assert!(report.runs.iter().all(|run| run.unrecorded_reads > 0));
}

#[test]
fn corrupt_capsules_are_typed_errors() {
    let bytes = recorded_capsule().to_bytes().expect("encode");
    let text = String::from_utf8(bytes.clone()).expect("JSON is UTF-8");
    type Expected = fn(&CapsuleError) -> bool;
    let cases: Vec<(Vec<u8>, Expected)> = vec![
        (Vec::new(), |e| matches!(e, CapsuleError::Decode(_))),
        (bytes[..bytes.len() / 2].to_vec(), |e| {
            matches!(e, CapsuleError::Decode(_))
        }),
        (b"\xff\xfe garbage".to_vec(), |e| {
            matches!(e, CapsuleError::Decode(_))
        }),
        (
            br#"{"format": "something-else", "version": 1}"#.to_vec(),
            |e| matches!(e, CapsuleError::WrongFormat { .. }),
        ),
        (
            text.replacen("\"version\": 1", "\"version\": 2", 1)
                .into_bytes(),
            |e| matches!(e, CapsuleError::UnsupportedVersion { found: 2, .. }),
        ),
        (
            // A transaction's nonce changed: its hash no longer matches.
            text.replacen("\"nonce\": 0,", "\"nonce\": 5,", 1)
                .into_bytes(),
            |e| matches!(e, CapsuleError::Invalid(_)),
        ),
        (
            // The outputs' burned supply changed: their state roots no longer match.
            text.replacen("\"burned_supply\": 0,", "\"burned_supply\": 1,", 2)
                .into_bytes(),
            |e| matches!(e, CapsuleError::Invalid(_)),
        ),
    ];
    for (index, (corrupt, expected)) in cases.into_iter().enumerate() {
        match Capsule::from_bytes(&corrupt) {
            Err(error) => assert!(expected(&error), "case {index}: {error}"),
            Ok(_) => panic!("case {index}: corrupt bytes decoded"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any byte changed, removed or cut short: an error or a capsule, never a panic.
    #[test]
    fn mutated_capsules_never_panic(
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<bool>(),
    ) {
        let mut bytes = recorded_capsule().to_bytes().expect("encode");
        let at = position.index(bytes.len());
        if cut {
            bytes.truncate(at);
        } else {
            bytes[at] = byte;
        }
        let _ = Capsule::from_bytes(&bytes);
    }
}

#[test]
fn block_files_round_trip_and_check_their_order() {
    let (_, block) = store_and_block();
    let genesis = [(account(0), Asset::TOS, 1_000)];
    let mut writer = BlocksWriter::new(Vec::new(), &genesis).expect("header");
    writer
        .write_block(&block, Some(Hash::digest(b"root")))
        .expect("block 1");
    let error = writer.write_block(&block, None).expect_err("block 1 again");
    assert!(matches!(error, CapsuleError::Invalid(_)), "{error}");
    let bytes = writer.finish().expect("finish");

    let reader = BlocksReader::new(bytes.as_slice()).expect("header");
    assert_eq!(reader.genesis(), genesis);
    let blocks: Vec<_> = reader.collect::<Result<_, _>>().expect("blocks");
    assert_eq!(
        blocks,
        [ExportedBlock {
            block: block.clone(),
            state_root: Some(Hash::digest(b"root"))
        }]
    );

    let mut twice = bytes.clone();
    let second_line = bytes.iter().position(|b| *b == b'\n').map_or(0, |i| i + 1);
    twice.extend_from_slice(&bytes[second_line..]);
    let results: Vec<_> = BlocksReader::new(twice.as_slice())
        .expect("header")
        .collect();
    assert!(matches!(
        results.as_slice(),
        [Ok(_), Err(CapsuleError::Invalid(_))]
    ));

    let error = BlocksReader::new(&b"{\"format\":\"tos-blockstm-capsule\",\"version\":1}\n"[..])
        .expect_err("a capsule is not a block file");
    assert!(matches!(error, CapsuleError::WrongFormat { .. }), "{error}");
}
