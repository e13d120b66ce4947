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
    assert_eq!(m.snapshot(), Err(EstimateAtEnd { txn_idx: 2 }));
}

#[test]
fn record_hands_back_the_read_buffer_empty_and_keeps_the_reads() {
    let m = mem(2);
    let mut reads = Vec::with_capacity(8);
    m.read_recorded(&1, 1, &mut reads);
    assert_eq!(reads[0].origin, ReadOrigin::Storage);
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
        reads.iter().map(|read| read.origin).collect::<Vec<_>>(),
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
