use super::*;

fn mem(n: usize) -> MVMemory<u32, u64> {
    MVMemory::new(n)
}

fn read_desc(memory: &MVMemory<u32, u64>, key: u32, txn: TxnIndex) -> ReadDescriptor {
    let mut reads = Vec::new();
    memory.read_recorded(&key, txn, &mut reads);
    assert_eq!(reads.len(), 1, "not a dependency");
    reads[0]
}

#[test]
fn read_sees_highest_lower_writer() {
    let m = mem(5);
    m.record(Version::new(1, 0), vec![], [(7, 10)]);
    m.record(Version::new(3, 2), vec![], [(7, 30)]);
    assert_eq!(m.read(&7, 0), ReadResult::NotFound);
    assert_eq!(
        m.read(&7, 1),
        ReadResult::NotFound,
        "a transaction never reads itself"
    );
    assert_eq!(
        m.read(&7, 2),
        ReadResult::Value {
            version: Version::new(1, 0),
            value: 10
        }
    );
    assert_eq!(
        m.read(&7, 3),
        ReadResult::Value {
            version: Version::new(1, 0),
            value: 10
        }
    );
    assert_eq!(
        m.read(&7, 4),
        ReadResult::Value {
            version: Version::new(3, 2),
            value: 30
        }
    );
    assert_eq!(m.read(&8, 4), ReadResult::NotFound);
}

#[test]
fn estimate_gives_dependency_until_rewritten() {
    let m = mem(3);
    m.record(Version::new(0, 0), vec![], [(1, 5)]);
    m.convert_writes_to_estimates(0);
    assert_eq!(m.read(&1, 2), ReadResult::Dependency { blocking_txn: 0 });
    m.record(Version::new(0, 1), vec![], [(1, 6)]);
    assert_eq!(
        m.read(&1, 2),
        ReadResult::Value {
            version: Version::new(0, 1),
            value: 6
        }
    );
}

#[test]
fn record_reports_new_locations_and_removes_stale_entries() {
    let m = mem(3);
    let first = m.record(Version::new(0, 0), vec![], [(1, 5), (2, 5)]);
    assert!(first.wrote_new_location);
    let same = m.record(Version::new(0, 1), vec![], [(2, 6)]);
    assert!(
        !same.wrote_new_location,
        "a subset of the previous write set is not new"
    );
    assert_eq!(
        m.read(&1, 1),
        ReadResult::NotFound,
        "key 1 is no longer written by txn 0"
    );
    let grown = m.record(Version::new(0, 2), vec![], [(2, 7), (3, 7)]);
    assert!(grown.wrote_new_location);
}

#[test]
fn validation_checks_versions_not_values() {
    let m = mem(3);
    m.record(Version::new(0, 0), vec![], [(1, 5)]);
    let reads = vec![read_desc(&m, 1, 2), read_desc(&m, 9, 2)];
    m.record(Version::new(2, 0), reads, []);
    assert!(m.validate_read_set(2));
    // Same value, new incarnation: the read is stale all the same.
    m.record(Version::new(0, 1), vec![], [(1, 5)]);
    assert!(!m.validate_read_set(2));
}

#[test]
fn validation_fails_on_estimate_and_on_new_writer_of_storage_read() {
    let m = mem(3);
    m.record(Version::new(0, 0), vec![], [(1, 5)]);
    m.record(Version::new(2, 0), vec![read_desc(&m, 1, 2)], []);
    m.convert_writes_to_estimates(0);
    assert!(!m.validate_read_set(2), "an ESTIMATE fails validation");

    let m = mem(3);
    m.record(Version::new(2, 0), vec![read_desc(&m, 4, 2)], []);
    assert!(m.validate_read_set(2));
    m.record(Version::new(1, 0), vec![], [(4, 1)]);
    assert!(
        !m.validate_read_set(2),
        "a storage read fails once a lower txn writes the key"
    );
    // Writes above the reader never matter.
    let m = mem(4);
    m.record(Version::new(1, 0), vec![read_desc(&m, 4, 1)], []);
    m.record(Version::new(3, 0), vec![], [(4, 1)]);
    assert!(m.validate_read_set(1));
}

#[test]
fn snapshot_gives_highest_writer_and_rejects_leftover_estimates() {
    let m = mem(3);
    m.record(Version::new(0, 0), vec![], [(1, 5), (2, 5)]);
    m.record(Version::new(2, 0), vec![], [(1, 9)]);
    let mut snap = m.snapshot().expect("no estimates");
    snap.sort();
    assert_eq!(snap, vec![(1, 9), (2, 5)]);
    m.convert_writes_to_estimates(2);
    assert_eq!(m.snapshot(), Err(UnfinishedAtEnd::Estimate { txn_idx: 2 }));
}

#[test]
fn record_hands_back_the_read_buffer_empty_and_keeps_the_reads() {
    let m = mem(2);
    let mut reads = Vec::with_capacity(8);
    m.read_recorded(&1, 1, &mut reads);
    assert_eq!(reads[0].origin(), ReadOrigin::Storage);
    let outcome = m.record(Version::new(1, 0), reads, []);
    assert!(outcome.spare_read_buffer.is_empty());
    assert!(
        outcome.spare_read_buffer.capacity() >= 8,
        "the caller's allocation comes back"
    );
    // The read set was kept: a lower write to key 1 now invalidates it.
    assert!(m.validate_read_set(1));
    m.record(Version::new(0, 0), Vec::new(), [(1, 3)]);
    assert!(!m.validate_read_set(1));
}

#[test]
#[should_panic(expected = "invariant")]
fn out_of_block_index_is_an_invariant_failure() {
    mem(1).convert_writes_to_estimates(5);
}

#[test]
fn recorded_reads_skip_dependencies_and_keep_origins() {
    let m = mem(3);
    m.record(Version::new(0, 0), vec![], [(1, 5)]);
    let mut reads = Vec::new();
    assert_eq!(
        m.read_recorded(&1, 2, &mut reads),
        ReadResult::Value {
            version: Version::new(0, 0),
            value: 5
        }
    );
    assert_eq!(m.read_recorded(&2, 2, &mut reads), ReadResult::NotFound);
    assert_eq!(
        reads.iter().map(|read| read.origin()).collect::<Vec<_>>(),
        vec![
            ReadOrigin::MultiVersion(Version::new(0, 0)),
            ReadOrigin::Storage
        ]
    );
    m.convert_writes_to_estimates(0);
    assert_eq!(
        m.read_recorded(&1, 2, &mut reads),
        ReadResult::Dependency { blocking_txn: 0 }
    );
    assert_eq!(reads.len(), 2, "a dependency is not a read");
}

#[test]
fn writes_of_keys_read_earlier_and_of_new_keys_land_on_the_right_key() {
    let m = mem(3);
    // Transaction 1 reads keys 1..=10 (more than the write scan looks at), then writes
    // key 10 (found by interning, past the scan), key 2 (found among its reads) and key
    // 11 (never read).
    let mut reads = Vec::new();
    for key in 1..=10 {
        m.read_recorded(&key, 1, &mut reads);
    }
    m.record(Version::new(1, 0), reads, [(10, 100), (2, 20), (11, 110)]);
    let mut snap = m.snapshot().expect("no estimates");
    snap.sort();
    assert_eq!(snap, vec![(2, 20), (10, 100), (11, 110)]);
    assert_eq!(
        m.read(&3, 2),
        ReadResult::NotFound,
        "read-only keys stay empty"
    );
    assert!(m.validate_read_set(1));
}

fn delta(d: i128) -> Write<u64> {
    Write::Delta(d)
}

fn value(v: u64) -> Write<u64> {
    Write::Value(v)
}

#[test]
fn deltas_sum_down_to_a_value_or_the_base() {
    let m = mem(6);
    m.record_writes(Version::new(1, 0), vec![], [(7, delta(5))]);
    m.record_writes(Version::new(3, 0), vec![], [(7, delta(-2))]);
    // Nothing known below the deltas yet: the caller must give the base first.
    assert_eq!(m.read(&7, 4), ReadResult::NeedsBase);
    let mut reads = Vec::new();
    assert_eq!(m.read_recorded(&7, 4, &mut reads), ReadResult::NeedsBase);
    assert!(
        reads.is_empty(),
        "a read that needs the base is not recorded"
    );
    m.provide_base(&7, 100);
    m.provide_base(&7, 999); // the first base given stays
    assert_eq!(m.read(&7, 4), ReadResult::Summed { value: 103 });
    assert_eq!(m.read(&7, 2), ReadResult::Summed { value: 105 });
    assert_eq!(
        m.read(&7, 1),
        ReadResult::NotFound,
        "the base is the caller's to read"
    );
    // A full value in between cuts the chain.
    m.record(Version::new(2, 0), vec![], [(7, 40)]);
    assert_eq!(m.read(&7, 4), ReadResult::Summed { value: 38 });
    assert_eq!(
        m.read(&7, 3),
        ReadResult::Value {
            version: Version::new(2, 0),
            value: 40
        }
    );
    // An ESTIMATE on the way down is a dependency.
    m.convert_writes_to_estimates(2);
    assert_eq!(m.read(&7, 4), ReadResult::Dependency { blocking_txn: 2 });
}

#[test]
fn a_summed_read_validates_by_its_total() {
    let m = mem(5);
    m.provide_base(&1, 10);
    m.record_writes(Version::new(0, 0), vec![], [(1, delta(3))]);
    let mut reads = Vec::new();
    assert_eq!(
        m.read_recorded(&1, 4, &mut reads),
        ReadResult::Summed { value: 13 }
    );
    assert_eq!(reads[0].origin(), ReadOrigin::Total(13));
    m.record(Version::new(4, 0), reads, []);
    assert!(m.validate_read_set(4));
    // Another delta below changes the total: invalid.
    m.record_writes(Version::new(2, 0), vec![], [(1, delta(1))]);
    assert!(!m.validate_read_set(4));
    // Re-executed with the same total (a +1 and a -1): valid again, by value.
    m.record_writes(Version::new(3, 0), vec![], [(1, delta(-1))]);
    assert!(m.validate_read_set(4));
}

#[test]
fn credits_below_a_debit_predicate_do_not_invalidate_it() {
    let m = mem(5);
    m.provide_base(&1, 10);
    let mut reads = Vec::new();
    assert_eq!(m.read_at_least(&1, 3, 8, &mut reads), PredicateRead::Holds);
    assert_eq!(m.read_at_least(&1, 3, 11, &mut reads), PredicateRead::Fails);
    assert_eq!(reads[1].origin(), ReadOrigin::Below { threshold: 11 });
    // A failed predicate is validated too: it holds until a lower credit makes it pass.
    let failed = reads.pop().expect("the failed predicate");
    m.record(Version::new(4, 0), vec![failed], []);
    m.record_writes(Version::new(3, 0), reads, [(1, delta(-8))]);
    assert_eq!(
        m.validate(3),
        Validation {
            valid: true,
            predicate_saves: 0
        }
    );
    assert!(m.validate_read_set(4), "10 - 8 is still below 11");
    // A credit below: the balance changed, the predicate still holds.
    m.record_writes(Version::new(1, 0), vec![], [(1, delta(50))]);
    assert!(!m.validate_read_set(4), "52 is no longer below 11");
    assert_eq!(
        m.validate(3),
        Validation {
            valid: true,
            predicate_saves: 1
        }
    );
    // A debit below that leaves too little: invalid.
    m.record_writes(Version::new(2, 0), vec![], [(1, delta(-55))]);
    assert!(!m.validate_read_set(3));
    // Predicates see full values too.
    m.record(Version::new(2, 0), vec![], [(1, 8)]);
    assert!(m.validate_read_set(3));
    m.convert_writes_to_estimates(2);
    assert!(!m.validate_read_set(3), "an ESTIMATE fails a predicate");
    assert_eq!(
        m.read_at_least(&1, 3, 1, &mut Vec::new()),
        PredicateRead::Dependency { blocking_txn: 2 }
    );
}

#[test]
fn commit_resolves_deltas_in_order_and_catches_overflow() {
    let m = mem(4);
    m.record_writes(Version::new(0, 0), vec![], [(1, delta(5)), (2, value(1))]);
    m.record_writes(
        Version::new(1, 0),
        vec![],
        [(1, delta(i128::from(u64::MAX)))],
    );
    m.record_writes(Version::new(2, 0), vec![], [(1, delta(-3))]);
    assert_eq!(m.commit_deltas(0), DeltaCommit::NeedsBase { key: 1 });
    m.provide_base(&1, 0);
    assert_eq!(
        m.commit_deltas(0),
        DeltaCommit::Resolved {
            deltas: 1,
            saves: 0
        }
    );
    // 5 + u64::MAX does not fit: the transaction must run again without deltas.
    assert_eq!(m.commit_deltas(1), DeltaCommit::OutOfRange { key: 1 });
    m.record(Version::new(1, 1), vec![], [(3, 3)]);
    // Transaction 2's delta was recorded above 1's, which has since been replaced.
    assert_eq!(
        m.commit_deltas(1),
        DeltaCommit::Resolved {
            deltas: 0,
            saves: 0
        }
    );
    assert_eq!(
        m.commit_deltas(2),
        DeltaCommit::Resolved {
            deltas: 1,
            saves: 1
        }
    );
    // Resolved deltas end the walk: no base needed above them any more.
    assert_eq!(m.read(&1, 3), ReadResult::Summed { value: 2 });
    let mut snap = m.snapshot().expect("all resolved");
    snap.sort();
    assert_eq!(snap, vec![(1, 2), (2, 1), (3, 3)]);
}

#[test]
fn an_unresolved_delta_at_the_end_is_reported() {
    let m = mem(2);
    m.record_writes(Version::new(1, 0), vec![], [(1, delta(5))]);
    assert_eq!(
        m.snapshot(),
        Err(UnfinishedAtEnd::UnresolvedDelta { txn_idx: 1 })
    );
}

#[test]
fn speculative_totals_outside_u64_validate_only_while_out_of_range() {
    let m = mem(3);
    m.provide_base(&1, 1);
    m.record_writes(Version::new(0, 0), vec![], [(1, delta(-5))]);
    let mut reads = Vec::new();
    assert_eq!(
        m.read_recorded(&1, 2, &mut reads),
        ReadResult::Summed { value: 0 }
    );
    assert_eq!(reads[0].origin(), ReadOrigin::OutOfRange);
    m.record(Version::new(2, 0), reads, []);
    // Still out of range: re-executing would read the same, so the read stands...
    m.record_writes(Version::new(1, 0), vec![], [(1, delta(-1))]);
    assert!(m.validate_read_set(2));
    // ...until the chain comes back in range, as it must before the reader commits:
    // transaction 0's delta cannot commit (it takes the balance below 0).
    assert_eq!(m.commit_deltas(0), DeltaCommit::OutOfRange { key: 1 });
    m.record(Version::new(0, 1), vec![], [(9, 0)]);
    m.record(Version::new(1, 1), vec![], [(9, 1)]);
    assert!(!m.validate_read_set(2));
}

use proptest::prelude::*;

proptest! {
    /// Transactions write values or deltas at a few keys; committed in block order,
    /// every resolved read and the final snapshot equal a plain sequential fold.
    #[test]
    fn resolved_deltas_match_a_sequential_fold(
        writes in proptest::collection::vec(
            (0u32..3, prop_oneof![
                (1000u64..2000).prop_map(Write::Value),
                (-20i128..20).prop_map(Write::Delta),
            ]),
            1..40,
        ),
        bases in proptest::collection::vec(1000u64..2000, 3),
    ) {
        let n = writes.len();
        let m = mem(n + 1);
        for (key, base) in bases.iter().enumerate() {
            m.provide_base(&(key as u32), *base);
        }
        // Recorded in reverse order, to exercise out-of-order insertion.
        for (txn, (key, write)) in writes.iter().enumerate().rev() {
            m.record_writes(Version::new(txn as u32, 0), vec![], [(*key, write.clone())]);
        }
        let mut state: Vec<i128> = bases.iter().map(|b| i128::from(*b)).collect();
        for (txn, (key, write)) in writes.iter().enumerate() {
            let txn = txn as u32;
            let seen = match m.read(key, txn) {
                ReadResult::Value { value, .. } | ReadResult::Summed { value } => i128::from(value),
                ReadResult::NotFound => i128::from(bases[*key as usize]),
                other => return Err(TestCaseError::fail(format!("{other:?}"))),
            };
            prop_assert_eq!(seen, state[*key as usize]);
            match write {
                Write::Value(v) => state[*key as usize] = i128::from(*v),
                Write::Delta(d) => state[*key as usize] += d,
            }
            let committed = m.commit_deltas(txn);
            prop_assert!(matches!(committed, DeltaCommit::Resolved { .. }), "{:?}", committed);
        }
        let mut snap = m.snapshot().expect("all resolved");
        snap.sort();
        let touched: std::collections::BTreeSet<u32> = writes.iter().map(|(k, _)| *k).collect();
        let expected: Vec<(u32, u64)> = touched
            .into_iter()
            .map(|k| (k, u64::try_from(state[k as usize]).expect("small values")))
            .collect();
        prop_assert_eq!(snap, expected);
    }
}

#[test]
fn read_descriptors_stay_small_and_keep_their_origin() {
    assert_eq!(std::mem::size_of::<ReadDescriptor>(), 24);
    for origin in [
        ReadOrigin::Storage,
        ReadOrigin::MultiVersion(Version::new(3, 7)),
        ReadOrigin::Total(u64::MAX - 1),
        ReadOrigin::AtLeast {
            threshold: 1 << 40,
            seen: u64::MAX,
        },
        ReadOrigin::Below { threshold: 0 },
        ReadOrigin::OutOfRange,
    ] {
        assert_eq!(
            ReadDescriptor::new(KeyId::from_position(1), origin).origin(),
            origin
        );
    }
}

// Sinks: keys settled at commit instead of versioned.

fn sink_memory(n: usize, sinks: &[u32]) -> MVMemory<u32, u64> {
    MVMemory::with_sinks(n, sinks.iter().copied())
}

/// A commit check that resolved `deltas` deltas, `saves` of them saves.
fn resolved(deltas: u32, saves: u32) -> DeltaCommit<u32> {
    DeltaCommit::Resolved { deltas, saves }
}

/// Commits `txn` as the driver does: resolve, then settle.
fn settle(m: &MVMemory<u32, u64>, txn: TxnIndex) -> DeltaCommit<u32> {
    let outcome = m.commit_deltas(txn);
    if matches!(outcome, DeltaCommit::Resolved { .. }) {
        m.settle(txn);
    }
    outcome
}

#[test]
fn a_sink_is_read_only_behind_the_settled_frontier_and_never_recorded() {
    let m = sink_memory(4, &[7, 7]);
    m.provide_base(&7, 100);
    m.record_writes(Version::new(0, 0), vec![], [(7, delta(5))]);
    m.record_writes(Version::new(1, 0), vec![], [(7, delta(-3))]);
    // Transaction 0 reads beneath the block (its caller's storage); the rest must wait.
    assert_eq!(m.read(&7, 0), ReadResult::NotFound);
    let mut reads = Vec::new();
    assert_eq!(m.read_recorded(&7, 2, &mut reads), ReadResult::Unsettled);
    assert_eq!(
        m.read_at_least(&7, 2, 1, &mut reads),
        PredicateRead::Unsettled
    );
    assert!(reads.is_empty());
    assert_eq!(settle(&m, 0), resolved(1, 0));
    assert_eq!(m.settled_below(), 1);
    assert_eq!(m.read(&7, 1), ReadResult::Settled { value: 105 });
    assert_eq!(m.read(&7, 2), ReadResult::Unsettled);
    // Recorded before transaction 0 settled its write there: a save.
    assert_eq!(settle(&m, 1), resolved(1, 1));
    assert_eq!(
        m.read_recorded(&7, 2, &mut reads),
        ReadResult::Settled { value: 102 }
    );
    assert_eq!(
        m.read_at_least(&7, 2, 102, &mut reads),
        PredicateRead::Holds
    );
    assert_eq!(
        m.read_at_least(&7, 2, 103, &mut reads),
        PredicateRead::Fails
    );
    assert!(reads.is_empty(), "final reads need no validation");
    // A sink holds no versions: nothing for a validation or an ESTIMATE to find.
    m.convert_writes_to_estimates(1);
    assert_eq!(m.read(&7, 3), ReadResult::Unsettled);
    assert_eq!(m.snapshot(), Ok(vec![(7, 102)]));
}

#[test]
fn a_sink_takes_values_and_deltas_in_block_order() {
    let m = sink_memory(4, &[7]);
    m.provide_base(&7, 1);
    m.record_writes(Version::new(2, 0), vec![], [(7, delta(4))]);
    m.record_writes(Version::new(1, 0), vec![], [(7, Write::Value(50))]);
    m.record_writes(
        Version::new(0, 0),
        vec![],
        [(7, delta(9)), (8, Write::Value(3))],
    );
    // Settled in block order, whatever the order of recording.
    for txn in 0..3 {
        assert!(matches!(settle(&m, txn), DeltaCommit::Resolved { .. }));
    }
    assert_eq!(m.read(&7, 3), ReadResult::Settled { value: 54 });
    // An ordinary key written beside a sink is versioned as usual.
    assert!(matches!(m.read(&8, 3), ReadResult::Value { value: 3, .. }));
    let mut snapshot = m.snapshot().expect("settled");
    snapshot.sort_unstable();
    assert_eq!(snapshot, vec![(7, 54), (8, 3)]);
}

#[test]
fn a_sink_total_out_of_range_is_reported_and_applies_nothing() {
    let m = sink_memory(3, &[7, 9]);
    m.provide_base(&7, u64::MAX - 1);
    m.provide_base(&9, 0);
    m.record_writes(Version::new(0, 0), vec![], [(9, delta(1)), (7, delta(2))]);
    assert_eq!(m.commit_deltas(0), DeltaCommit::OutOfRange { key: 7 });
    // The transaction runs again exactly and writes values instead.
    m.record_writes(
        Version::new(0, 1),
        vec![],
        [(9, Write::Value(0)), (7, Write::Value(u64::MAX - 1))],
    );
    assert_eq!(settle(&m, 0), resolved(0, 0));
    // Below zero is out of range too.
    m.record_writes(Version::new(1, 0), vec![], [(9, delta(-1))]);
    assert_eq!(m.commit_deltas(1), DeltaCommit::OutOfRange { key: 9 });
    m.record_writes(Version::new(1, 1), vec![], []);
    assert!(matches!(settle(&m, 1), DeltaCommit::Resolved { .. }));
    let mut snapshot = m.snapshot().expect("settled");
    snapshot.sort_unstable();
    assert_eq!(snapshot, vec![(7, u64::MAX - 1), (9, 0)]);
}

#[test]
fn a_sink_delta_asks_for_its_base_once_and_counts_saves() {
    let m = sink_memory(3, &[7]);
    m.record_writes(Version::new(1, 0), vec![], [(7, delta(5))]);
    // Recorded while nothing had settled: transaction 0's later commit of a write there
    // is one that a read-modify-write by transaction 1 would have missed.
    m.record_writes(Version::new(0, 0), vec![], [(7, delta(2))]);
    assert_eq!(m.commit_deltas(0), DeltaCommit::NeedsBase { key: 7 });
    m.provide_base(&7, 10);
    assert_eq!(settle(&m, 0), resolved(1, 0));
    assert_eq!(settle(&m, 1), resolved(1, 1));
    // Recorded after everything below settled: nothing to save.
    m.record_writes(Version::new(2, 0), vec![], [(7, delta(1))]);
    assert_eq!(settle(&m, 2), resolved(1, 0));
    assert_eq!(m.snapshot(), Ok(vec![(7, 18)]));
}

#[test]
fn sinks_never_written_leave_nothing_in_the_snapshot() {
    let m = sink_memory(2, &[7]);
    m.record(Version::new(0, 0), vec![], [(3, 1)]);
    assert!(matches!(settle(&m, 0), DeltaCommit::Resolved { .. }));
    // A sink read with nothing settled there reads beneath the block.
    assert_eq!(m.read(&7, 1), ReadResult::NotFound);
    let mut reads = Vec::new();
    assert_eq!(
        m.read_at_least(&7, 1, 1, &mut reads),
        PredicateRead::NeedsBase
    );
    m.provide_base(&7, 1);
    assert_eq!(m.read_at_least(&7, 1, 1, &mut reads), PredicateRead::Holds);
    assert_eq!(m.snapshot(), Ok(vec![(3, 1)]));
}

#[test]
fn a_reexecution_replaces_its_sink_writes() {
    let m = sink_memory(2, &[7]);
    m.provide_base(&7, 0);
    m.record_writes(Version::new(0, 0), vec![], [(7, delta(5))]);
    m.record_writes(Version::new(0, 1), vec![], [(7, delta(6))]);
    assert_eq!(settle(&m, 0), resolved(1, 0));
    m.record_writes(Version::new(1, 0), vec![], [(7, delta(1))]);
    m.record_writes(Version::new(1, 1), vec![], [(3, Write::Value(1))]);
    assert_eq!(settle(&m, 1), resolved(0, 0));
    let mut snapshot = m.snapshot().expect("settled");
    snapshot.sort_unstable();
    assert_eq!(snapshot, vec![(3, 1), (7, 6)]);
}

#[test]
fn published_writes_are_seen_above_their_writer_only() {
    let memory: MVMemory<&str, u64> = MVMemory::new(4);
    memory.publish([("a", Version::new(1, 0), 7), ("b", Version::new(2, 3), 9)]);
    assert_eq!(
        memory.read(&"a", 2),
        ReadResult::Value {
            version: Version::new(1, 0),
            value: 7
        }
    );
    assert_eq!(memory.read(&"a", 1), ReadResult::NotFound);
    assert_eq!(
        memory.read(&"b", 3),
        ReadResult::Value {
            version: Version::new(2, 3),
            value: 9
        }
    );
    let mut written = memory.snapshot().expect("only values");
    written.sort_unstable();
    assert_eq!(written, vec![("a", 7), ("b", 9)]);
}

#[test]
fn a_speculative_reader_of_a_published_key_fails_validation() {
    let memory: MVMemory<&str, u64> = MVMemory::new(3);
    // 2 read "a" from storage before the run below it published its write there.
    let mut reads = Vec::new();
    assert_eq!(
        memory.read_recorded(&"a", 2, &mut reads),
        ReadResult::NotFound
    );
    memory.record(Version::new(2, 0), reads, [("c", 1)]);
    assert!(memory.validate_read_set(2));
    memory.publish([("a", Version::new(0, 0), 5)]);
    assert!(!memory.validate_read_set(2));
}

#[test]
fn a_published_sink_is_final_once_settled_through() {
    let memory: MVMemory<&str, u64> = MVMemory::with_sinks(3, ["fees"]);
    memory.publish([("fees", Version::new(1, 0), 40)]);
    // Not settled yet: readers above wait.
    assert_eq!(memory.read(&"fees", 2), ReadResult::Unsettled);
    memory.settle_through(2);
    assert_eq!(memory.read(&"fees", 2), ReadResult::Settled { value: 40 });
    assert_eq!(memory.snapshot().expect("only values"), vec![("fees", 40)]);
}

#[test]
fn discard_forgets_an_earlier_incarnation() {
    let memory: MVMemory<&str, u64> = MVMemory::new(3);
    memory.record(Version::new(1, 0), Vec::new(), [("a", 1), ("b", 2)]);
    memory.convert_writes_to_estimates(1);
    assert_eq!(
        memory.read(&"a", 2),
        ReadResult::Dependency { blocking_txn: 1 }
    );
    memory.discard(1);
    assert_eq!(memory.read(&"a", 2), ReadResult::NotFound);
    assert_eq!(memory.read(&"b", 2), ReadResult::NotFound);
    // The run then publishes what the transaction writes now.
    memory.publish([("b", Version::new(1, 1), 3)]);
    assert_eq!(memory.snapshot().expect("only values"), vec![("b", 3)]);
}
