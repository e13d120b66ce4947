//! The driver's locks, atomics and idle wait: `std` normally, `loom` under `cfg(loom)`.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, ignoring poisoning: a panic while a lock is held halts the whole run, and
/// nothing read from a poisoned lock afterwards is trusted as a result.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Takes the value out of a mutex that no one else can reach any more.
pub(crate) fn into_inner<T>(mutex: Mutex<T>) -> T {
    mutex
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Waits a little when a worker found nothing to do: spin first (the next task is usually
/// microseconds away), then yield the core to a worker that has work.
pub(crate) fn idle(rounds: u32) {
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
