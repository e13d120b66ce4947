//! Block-STM and batch grouping against the sequential oracle on a starting state and a
//! block decoded from the fuzzer's bytes; see `tests/src/fuzz_case.rs` for the encoding. A
//! mismatch with the oracle's result, or an engine's fallback to sequential execution,
//! panics.

#![no_main]

use libfuzzer_sys::fuzz_target;

// The decoder and the check, shared with the corpus replay test of `integration-tests`
// (included by path so that this build needs neither that crate nor RocksDB).
#[path = "../../tests/src/fuzz_case.rs"]
#[allow(dead_code)]
mod fuzz_case;

fuzz_target!(|data: &[u8]| {
    fuzz_case::run(data);
});
