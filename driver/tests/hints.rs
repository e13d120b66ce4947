//! Scheduling hints: a transaction hinted to follow a lower one starts only after that one
//! executed, and hints change how much work is done, never the output.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use blockstm_driver::{
    run_parallel, ExecuteError, ParallelTask, Plan, SpeculativeRead, SpeculativeReads, Write,
};
use support::*;

/// A block whose transactions form chains (like one sender's nonces): transaction `i`
/// reads and increments key `i % chains`, and hints the previous transaction of its chain
/// as its predecessor. Records when each transaction's first execution starts and when
/// each transaction first finishes executing.
struct HintedChains {
    num_txns: u32,
    chains: u32,
    hints: bool,
    /// Per transaction: the tick its first execution started (0: never).
    first_start: Vec<AtomicUsize>,
    /// Per transaction: the tick its first execution returned (0: never).
    first_end: Vec<AtomicUsize>,
    clock: AtomicUsize,
}

impl HintedChains {
    /// Each transaction hinted to follow the previous one of its chain, when hints are on.
    fn plan(&self) -> Plan<u32> {
        Plan {
            predecessors: (0..self.num_txns)
                .map(|txn_idx| {
                    (self.hints && txn_idx >= self.chains).then(|| txn_idx - self.chains)
                })
                .collect(),
            ..Plan::default()
        }
    }

    fn new(num_txns: u32, chains: u32, hints: bool) -> Self {
        let ticks = || (0..num_txns).map(|_| AtomicUsize::new(0)).collect();
        Self {
            num_txns,
            chains,
            hints,
            first_start: ticks(),
            first_end: ticks(),
            clock: AtomicUsize::new(1),
        }
    }
}

impl ParallelTask for HintedChains {
    type Key = u32;
    type Value = u64;
    type Output = u64;
    type Error = String;
    type Writes = Vec<(u32, Write<u64>)>;

    fn execute(
        &self,
        txn_idx: u32,
        reads: &mut SpeculativeReads<'_, Self>,
    ) -> Result<(u64, Vec<(u32, Write<u64>)>), ExecuteError<String>> {
        let tick = self.clock.fetch_add(1, Ordering::SeqCst);
        let _ = self.first_start[txn_idx as usize].compare_exchange(
            0,
            tick,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
        let key = txn_idx % self.chains;
        let seen = match reads.read(&key).map_err(ExecuteError::Failed)? {
            SpeculativeRead::Value(value) => value,
            SpeculativeRead::NotFound => 0,
            SpeculativeRead::Blocked(blocker) => return Err(ExecuteError::Blocked(blocker)),
        };
        // Long enough (a few microseconds) for other workers to claim the next
        // transactions of the chain meanwhile.
        let until = std::time::Instant::now() + std::time::Duration::from_micros(20);
        while std::time::Instant::now() < until {
            std::hint::spin_loop();
        }
        let tick = self.clock.fetch_add(1, Ordering::SeqCst);
        let _ = self.first_end[txn_idx as usize].compare_exchange(
            0,
            tick,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
        Ok((seen, vec![(key, Write::Value(seen + 1))]))
    }

    fn counter_base(&self, _key: &u32) -> Result<u64, String> {
        Ok(0)
    }
}

/// How many transactions of `block` first started before their chain predecessor had
/// finished its first execution.
fn early_starts(block: &HintedChains) -> usize {
    let chains = block.chains as usize;
    (chains..block.num_txns as usize)
        .filter(|&txn_idx| {
            let predecessor_done = block.first_end[txn_idx - chains].load(Ordering::SeqCst);
            let started = block.first_start[txn_idx].load(Ordering::SeqCst);
            predecessor_done == 0 || started < predecessor_done
        })
        .count()
}

#[test]
fn a_hinted_transaction_starts_only_after_its_predecessor_executed() {
    const TXNS: u32 = 400;
    const CHAINS: u32 = 2;
    let mut hint_waits = 0;
    for _ in 0..10 {
        let block = HintedChains::new(TXNS, CHAINS, true);
        let (run, sink) =
            run_parallel(&block, TXNS as usize, block.plan(), 4, OrderSink::default())
                .expect("runs");
        assert_eq!(sink.committed, (0..TXNS).collect::<Vec<_>>());
        // The block-order result: transaction i saw i / CHAINS increments of its key.
        for (txn_idx, seen) in run.outputs.iter().enumerate() {
            assert_eq!(
                *seen,
                txn_idx as u64 / u64::from(CHAINS),
                "transaction {txn_idx}"
            );
        }
        assert_eq!(early_starts(&block), 0, "{:?}", run.stats);
        // Nothing ever runs on a stale value of its chain, so nothing is aborted.
        assert_eq!(run.stats.aborts, 0, "{:?}", run.stats);
        hint_waits += run.stats.hint_waits;
    }
    // Over 4000 transactions some worker claimed one while its predecessor still ran
    // (unless the machine never ran two workers at once).
    assert!(hint_waits > 0, "no transaction ever had to wait");
    // Without hints the result is the same (hints are only advice), but transactions do
    // start before their predecessors are done: the hints above are what prevented it.
    let mut started_early = false;
    for _ in 0..10 {
        let block = HintedChains::new(TXNS, CHAINS, false);
        let (run, _) = run_parallel(&block, TXNS as usize, block.plan(), 4, OrderSink::default())
            .expect("runs");
        for (txn_idx, seen) in run.outputs.iter().enumerate() {
            assert_eq!(
                *seen,
                txn_idx as u64 / u64::from(CHAINS),
                "transaction {txn_idx}"
            );
        }
        assert_eq!(run.stats.hint_waits, 0);
        started_early |= early_starts(&block) > 0;
    }
    assert!(
        started_early,
        "without hints, no transaction ever started early"
    );
}
