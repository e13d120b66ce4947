//! Replays the seed corpus of the `blockstm_vs_oracle` fuzz target
//! (`fuzz/corpus/blockstm_vs_oracle/`) as an ordinary test: every file is decoded into a
//! starting state and a block, and Block-STM must give the sequential oracle's result.
//! Block-STM's interleavings vary from run to run, so each case runs a few times.

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
                // Both engines agreed, so every run of a case has the same summary.
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
        block_errors * 3 <= files,
        "{block_errors} of {files} cases are rejected blocks"
    );
    assert!(
        successful >= 5 * files,
        "{successful} successful transactions in {files} cases"
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
