//! Replays the seed corpus of the `blockstm_vs_oracle` fuzz target
//! (`fuzz/corpus/blockstm_vs_oracle/`) as an ordinary test: every file is decoded into a
//! starting state and a block, and Block-STM and batch grouping must give the sequential
//! oracle's result. Block-STM's interleavings vary from run to run, so each case runs a few
//! times.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use integration_tests::fuzz_case::{check, FuzzCase};

/// Runs per corpus file.
const REPEATS: usize = 4;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/blockstm_vs_oracle");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()))
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
            (path.display().to_string(), bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_seed_corpus_agrees_with_the_oracle() {
    let corpus = corpus();
    assert!(corpus.len() >= 20, "only {} corpus files", corpus.len());

    let mut failures = Vec::new();
    let mut summaries = Vec::new();
    for (name, bytes) in &corpus {
        let case = FuzzCase::decode(bytes);
        for repeat in 0..REPEATS {
            match catch_unwind(AssertUnwindSafe(|| check(&case))) {
                // The engines agreed with the oracle, so every run of a case has the same summary
                // (but for `decided_sequentially`, which follows the interleaving).
                Ok(summary) if repeat == 0 => summaries.push(summary),
                Ok(_) => {}
                Err(_) => {
                    failures.push(name.clone());
                    break;
                }
            }
        }
    }
    assert!(failures.is_empty(), "corpus cases that fail: {failures:#?}");

    // The corpus must exercise something: valid blocks that the parallel path executes
    // and in which transactions succeed, not only rejected blocks.
    let files = corpus.len();
    let with_successes = summaries.iter().filter(|s| s.successful > 0).count();
    let parallel = summaries
        .iter()
        .filter(|s| s.parallel && !s.block_error)
        .count();
    let block_errors = summaries.iter().filter(|s| s.block_error).count();
    let successful: usize = summaries.iter().map(|s| s.successful).sum();
    assert!(
        with_successes * 2 >= files,
        "{with_successes} of {files} cases have a successful transaction"
    );
    assert!(
        parallel * 2 >= files,
        "{parallel} of {files} cases are valid blocks on the parallel path"
    );
    assert!(
        block_errors * 5 <= files * 2,
        "{block_errors} of {files} cases are rejected blocks"
    );
    assert!(
        successful >= 5 * files,
        "{successful} successful transactions in {files} cases"
    );

    // Corrupt state (a value of the wrong kind at a key): some blocks the oracle rejects
    // for it, and some valid blocks that hold it where only speculation might read it.
    let corrupt = summaries.iter().filter(|s| s.corrupt_keys > 0).count();
    let invalid_state = summaries.iter().filter(|s| s.invalid_state).count();
    let corrupt_valid = summaries
        .iter()
        .filter(|s| s.corrupt_keys > 0 && !s.block_error && s.parallel && s.successful > 0)
        .count();
    let decided_sequentially = summaries.iter().filter(|s| s.decided_sequentially).count();
    eprintln!(
        "{files} cases: {with_successes} with successes, {parallel} valid on the parallel path, \
         {block_errors} rejected ({invalid_state} for corrupt state), {corrupt} with corrupt \
         state ({corrupt_valid} valid, {decided_sequentially} decided sequentially in the first run)"
    );
    assert!(
        corrupt >= 10,
        "{corrupt} of {files} cases have corrupt state"
    );
    assert!(
        corrupt * 3 <= files,
        "{corrupt} of {files} cases have corrupt state"
    );
    assert!(
        invalid_state >= 5,
        "{invalid_state} cases are rejected for corrupt state"
    );
    assert!(
        corrupt_valid >= 4,
        "{corrupt_valid} valid blocks on the parallel path hold corrupt state"
    );
}

#[test]
fn any_bytes_decode() {
    // The decoder is total: the empty input, short ones and noise are all cases.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut noise = Vec::new();
    for _ in 0..4096 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        noise.push(state as u8);
    }
    for length in [0, 1, 2, 3, 7, 50, 400, 4096] {
        let case = FuzzCase::decode(&noise[..length]);
        assert!((2..=4).contains(&case.threads));
        assert!(case.block.transactions().len() <= 64);
        check(&case);
    }
    assert_eq!(FuzzCase::decode(&[]), FuzzCase::decode(&[0, 0, 0]));
}
