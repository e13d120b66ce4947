//! How grouping's threads wait for each other between batches: a spin, then a yield, then
//! a condition variable.
//!
//! The gap between two parallel batches is a few tens of microseconds; a thread that
//! slept on a condition variable right away would pay a system call and a wake-up of
//! about that much at every batch, and one that only spun would burn a core through a
//! long run of inline batches. So waiters spin about as long as a gap, then yield, then
//! sleep, and wakers skip the system call when nobody sleeps.

use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A condition variable for sleepers that have already spun; wakers skip the system call
/// when nobody sleeps.
#[derive(Default)]
pub(super) struct Signal {
    lock: Mutex<()>,
    cond: Condvar,
    sleepers: AtomicUsize,
}

impl Signal {
    fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `ready` says so: spins for a few tens of microseconds (about the gap
    /// between two parallel batches), then yields the core for a while, then sleeps (a
    /// waker makes `ready` true, then calls [`Signal::notify`]).
    pub(super) fn wait_until<T>(&self, mut ready: impl FnMut() -> Option<T>) -> T {
        let started = Instant::now();
        let mut elapsed = Duration::ZERO;
        for round in 0u32.. {
            if let Some(value) = ready() {
                return value;
            }
            if round % 16 == 0 {
                elapsed = started.elapsed();
                if elapsed >= SLEEP_AFTER {
                    break;
                }
            }
            if elapsed < SPIN_FOR {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        let mut guard = self.lock();
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let value = loop {
            // Pairs with the fence in `notify`: either the waker sees this sleeper, or
            // this check sees what the waker published.
            fence(Ordering::SeqCst);
            if let Some(value) = ready() {
                break value;
            }
            guard = self
                .cond
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        };
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        value
    }

    /// Wakes every sleeper, after the caller published what they wait for. Taking the
    /// lock orders the wake after a sleeper's last check.
    pub(super) fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) == 0 {
            return;
        }
        drop(self.lock());
        self.cond.notify_all();
    }
}

/// How long a waiter spins before it starts yielding its core.
const SPIN_FOR: Duration = Duration::from_micros(50);
/// How long a waiter spins and yields before it sleeps (a long run of inline batches).
const SLEEP_AFTER: Duration = Duration::from_millis(2);
