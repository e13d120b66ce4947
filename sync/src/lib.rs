//! The atomics, locks and switches that the loom models reach into: `std` normally,
//! `loom` under `cfg(loom)`, so that the models in `loom-tests` explore the real
//! scheduler, memory and driver rather than copies of them. Each of those crates imports
//! this one as its `sync` module.
//!
//! It also holds the **planted bugs**: deliberate mistakes that the loom models must
//! catch. A model that passes on the real code proves little unless it would fail on the
//! bug it guards against, so each guarded protocol keeps its broken variant beside the
//! correct one, behind [`planted!`]:
//!
//! ```
//! # let validated_recently = true;
//! let needs_validation = if blockstm_sync::planted!("commit_without_validation") {
//!     false // the bug: trust no validation at all
//! } else {
//!     !validated_recently
//! };
//! # assert!(!needs_validation);
//! ```
//!
//! Outside `cfg(loom)` the macro is the constant `false`, so the compiler drops the bug
//! and the check alike. Under `cfg(loom)` it asks [`is_planted`], which compares the name
//! with the `LOOM_PLANTED_BUG` environment variable: one loom build runs the models on
//! the real code and, run again with the variable set, on each bug (`scripts/loom.sh`),
//! instead of one build per bug.

#[cfg(loom)]
pub use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub use loom::sync::{Arc, Mutex, MutexGuard};
#[cfg(not(loom))]
pub use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub use std::sync::{Arc, Mutex, MutexGuard};

/// Locks `mutex`, ignoring poisoning. The crates that use it never run caller code or
/// panic while holding a lock, except the driver around a task or sink that panics; that
/// halts the whole run, and nothing read from a poisoned lock afterwards is trusted as a
/// result.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Tries to lock `mutex` without waiting (ignoring poisoning, as [`lock`] does).
pub fn try_lock<T>(mutex: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match mutex.try_lock() {
        Ok(guard) => Some(guard),
        Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

/// Takes the value out of a mutex that no one else can reach any more.
pub fn into_inner<T>(mutex: Mutex<T>) -> T {
    mutex
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Waits a little when a worker found nothing to do: spin first (the next task is usually
/// microseconds away), then yield the core to a worker that has work. Under loom, a yield
/// that lets the model schedule another thread.
pub fn idle(rounds: u32) {
    #[cfg(loom)]
    {
        let _ = rounds;
        loom::thread::yield_now();
    }
    #[cfg(not(loom))]
    if rounds < 256 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

use std::sync::OnceLock;

/// The environment variable that names the planted bug of a loom run.
pub const PLANTED_BUG_VAR: &str = "LOOM_PLANTED_BUG";

/// Whether the planted bug `name` is switched on: always `false` outside `cfg(loom)`;
/// under it, whether [`PLANTED_BUG_VAR`] names this bug.
#[macro_export]
macro_rules! planted {
    ($name:literal) => {
        cfg!(loom) && $crate::is_planted($name)
    };
}

/// Whether [`PLANTED_BUG_VAR`] names the bug `name` (read once per process).
pub fn is_planted(name: &str) -> bool {
    planted_bug() == Some(name)
}

/// The planted bug named by [`PLANTED_BUG_VAR`], if any (read once per process).
pub fn planted_bug() -> Option<&'static str> {
    static PLANTED: OnceLock<Option<String>> = OnceLock::new();
    PLANTED
        .get_or_init(|| {
            std::env::var(PLANTED_BUG_VAR)
                .ok()
                .filter(|name| !name.is_empty())
        })
        .as_deref()
}

#[cfg(test)]
mod tests {
    #[test]
    fn outside_loom_no_bug_is_ever_planted() {
        // Whatever the environment says: the switch is compiled out.
        assert!(!planted!("commit_without_validation"));
    }
}
