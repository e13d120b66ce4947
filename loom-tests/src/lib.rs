//! Shared harness of the loom models: a tiny block of mock transactions run by the real
//! driver, scheduler and MVMemory (compiled with `--cfg loom`), and its sequential
//! baseline.
//!
//! Everything here is test scaffolding; the code under test is in the `scheduler`,
//! `mvmemory` and `blockstm-driver` crates. Run the models with
//! `RUSTFLAGS="--cfg loom" cargo test -p loom-tests --release` (see `scripts/loom.sh`).

#[cfg(loom)]
pub mod harness;
