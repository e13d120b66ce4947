//! Measures how long a cache line takes to go from one core to another and back: two
//! threads pass a counter between them through one atomic, many times over, and the mean
//! round trip is printed. `cargo run --release -p executor --example core_latency -- [ROUND_TRIPS]`.
//!
//! Block-STM's workers share the scheduler's counters, the version slots and the read
//! sets, so every figure of `blockstm compare` at 2 threads and more depends on this
//! latency. On the project's shared 2-vCPU machines it moves between about 80 ns and
//! about 400 ns as the hypervisor places the two vCPUs (the "fast" and "slow" modes of
//! `papers/results.md`): print it beside a measurement to say which mode it was taken in.

// An example program reports on stdout; that is its whole job.
#![allow(clippy::print_stdout)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

fn main() {
    let round_trips: u64 = match std::env::args().nth(1).map(|arg| arg.parse()) {
        None => 2_000_000,
        Some(Ok(count)) if count > 0 => count,
        Some(_) => {
            eprintln!("usage: core_latency [ROUND_TRIPS > 0]");
            std::process::exit(2);
        }
    };
    // Odd values are the first thread's turn to be answered, even ones the second's.
    let ball = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for trip in 0..round_trips {
                while ball.load(Ordering::Acquire) != 2 * trip + 1 {
                    std::hint::spin_loop();
                }
                ball.store(2 * trip + 2, Ordering::Release);
            }
        });
        for trip in 0..round_trips {
            ball.store(2 * trip + 1, Ordering::Release);
            while ball.load(Ordering::Acquire) != 2 * trip + 2 {
                std::hint::spin_loop();
            }
        }
    });
    let nanos = started.elapsed().as_nanos() as f64 / round_trips as f64;
    println!(
        "cache-line round trip between two threads: {nanos:.1} ns ({round_trips} round trips)"
    );
}
