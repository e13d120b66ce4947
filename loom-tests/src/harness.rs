//! The loom runner: a block of the shared mock ledger (`driver-mocks`) on loom threads.

use std::collections::HashMap;

use blockstm_driver::{BlockRun, CommitSink, DriverError, DriverStats};
pub use driver_mocks::{FailingSink, Key, MockBlock, MockOutput, MockTxn, RecordingSink};
use loom::sync::Arc;

/// The result of one explored execution.
pub type Outcome = Result<
    (
        blockstm_driver::ParallelRun<Key, u64, MockOutput>,
        RecordingSink,
    ),
    DriverError<String>,
>;

/// Runs `block` on `workers` loom threads (the model's main thread is one of them).
pub fn run_block(block: &'static MockBlock, workers: usize) -> Outcome {
    run_block_into(block, workers, RecordingSink::default())
}

/// [`run_block`] with a sink of the caller's.
pub fn run_block_into<S>(
    block: &'static MockBlock,
    workers: usize,
    sink: S,
) -> Result<(blockstm_driver::ParallelRun<Key, u64, MockOutput>, S), DriverError<String>>
where
    S: CommitSink<MockOutput, String> + 'static,
{
    let run = Arc::new(BlockRun::new(block, block.txns.len(), block.plan(), sink));
    // A worker returns once it sees `done`; at that moment every transaction must already
    // be committed (or the run halted on an error).
    let work = |run: &BlockRun<'static, MockBlock, S>| {
        let stats = run.work();
        let scheduler = run.scheduler();
        assert!(
            scheduler.is_halted() || scheduler.committed() == scheduler.num_txns(),
            "done rose with {} of {} transactions committed",
            scheduler.committed(),
            scheduler.num_txns()
        );
        stats
    };
    let helpers: Vec<_> = (1..workers)
        .map(|_| {
            let run = Arc::clone(&run);
            loom::thread::spawn(move || work(&run))
        })
        .collect();
    let mut stats = work(&run);
    for helper in helpers {
        stats.accumulate(
            &helper
                .join()
                .expect("a worker never panics in these models"),
        );
    }
    let run = Arc::try_unwrap(run).unwrap_or_else(|_| panic!("every worker has returned"));
    run.finish(stats)
}

/// Leaks a block for the duration of the process: loom threads need `'static` data, and
/// each model iteration builds its own small block.
pub fn leak(mut block: MockBlock) -> &'static MockBlock {
    block.apply_prologue();
    Box::leak(Box::new(block))
}

/// Asserts the parallel outcome equals the sequential baseline in every respect.
pub fn assert_matches_baseline(block: &MockBlock, outcome: Outcome) -> DriverStats {
    let (expected_outputs, expected_writes, expected_fees) = block.sequential();
    let (run, sink) = match outcome {
        Ok(ok) => ok,
        Err(error) => panic!("the run failed: {error:?}"),
    };
    let in_order: Vec<u32> = (0..block.txns.len() as u32).collect();
    assert_eq!(
        sink.committed, in_order,
        "each transaction committed once, in block order"
    );
    assert_eq!(
        sink.outputs, expected_outputs,
        "committed outputs are the final incarnations'"
    );
    assert_eq!(run.outputs, expected_outputs);
    assert_eq!(
        Some(sink.fees),
        expected_fees,
        "fees folded from final incarnations only"
    );
    let writes: HashMap<Key, u64> = run.writes.into_iter().collect();
    assert_eq!(writes, expected_writes);
    run.stats
}
