//! loom models of the scheduler and MVMemory. Run with `RUSTFLAGS="--cfg loom"`.
