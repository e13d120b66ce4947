//! Block-STM frees each block's memory: the same 2000-transaction block executed 200 times
//! on the same snapshot leaves the heap where the first execution left it. The engine
//! hands its multi-version memory to a short-lived thread to drop, so each round waits
//! (briefly) for the live heap to come back down.
//!
//! Live bytes are counted by a global allocator wrapper, which is exact where RSS is not
//! (the system allocator keeps freed pages). This binary holds only this test, so no other
//! test allocates while it counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use executor::engine::blockstm::BlockStmExecutor;
use executor::{execute_sequential, Workload, WorkloadConfig, WorkloadKind};
use integration_tests::parallel_forced;
use storage_adapter::{BlockStore, MemoryStore};

/// The system allocator, counting the bytes currently allocated.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract holds exactly as it does for `System`; the counter is a side
// effect that touches no allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout (see the impl's comment).
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(pointer, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's arguments.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            LIVE_BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

/// Waits (up to 10 s) for the live heap to fall to `limit`; returns where it ended.
fn settle(limit: isize) -> isize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = live();
        if now <= limit || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn two_hundred_blocks_leave_the_heap_where_the_first_left_it() {
    let mut workload = Workload::new(WorkloadConfig::new(WorkloadKind::P2p, 1000, 2000, 9))
        .expect("valid workload");
    let store = MemoryStore::new();
    store
        .commit(&workload.genesis().expect("genesis"))
        .expect("commit genesis");
    let block = workload.next_block(1);
    let snapshot = store.snapshot().expect("snapshot");
    let expected = execute_sequential(&block, &snapshot).expect("oracle");
    let engine = BlockStmExecutor::new(parallel_forced(2).block_stm);

    // The first execution warms what lives for the whole process (thread-locals, lazily
    // built statics, the tracing registry); what the heap holds after it is the baseline.
    let execution = engine.execute(&block, &snapshot).expect("executes");
    assert_eq!(execution.output, expected);
    drop(execution);
    std::thread::sleep(Duration::from_millis(100));
    let baseline = live();

    // A block's memory is far larger than the slack: its version lists, read sets and
    // outputs for 2000 transactions. The slack covers allocator-independent noise such as
    // a thread's stack bookkeeping while the dropping thread exits.
    let slack = 64 * 1024;
    let mut peak = 0;
    for round in 0..200 {
        let execution = engine.execute(&block, &snapshot).expect("executes");
        peak = peak.max(live() - baseline);
        assert_eq!(execution.output, expected, "round {round}");
        drop(execution);
        let after = settle(baseline + slack);
        assert!(
            after <= baseline + slack,
            "round {round}: {} bytes still live after the block, the first left {baseline}",
            after - baseline
        );
    }
    assert!(
        peak > 4 * slack,
        "a block's memory ({peak} bytes at its end) must dwarf the slack for this test to mean anything"
    );
}
