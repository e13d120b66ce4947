//! The generic Block-STM machinery (MVMemory + scheduler + driver) against a sequential
//! baseline, with mock transactions whose keys are only known at run time: each one reads a
//! key, picks its next key *from the value it read*, and writes keys chosen the same way,
//! so its read and write sets change between incarnations.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use executor::engine::blockstm::driver::{
    run_parallel, CommitSink, DriverError, ExecuteError, ParallelTask, SpeculativeRead,
    SpeculativeReads, Write,
};
use proptest::prelude::*;

/// Full-value writes, as the driver takes them.
fn values<K>(writes: Vec<(K, u64)>) -> Vec<(K, Write<u64>)> {
    writes
        .into_iter()
        .map(|(key, value)| (key, Write::Value(value)))
        .collect()
}

/// A mock transaction: a seed drives which keys it touches, given what it reads.
#[derive(Clone, Debug)]
struct MockTxn {
    seed: u64,
}

/// What a mock transaction produced: the values it read, and its writes.
type MockResult = (Vec<u64>, Vec<(u64, u64)>);

/// The mock program, written once against a read function so the parallel run and the
/// sequential baseline execute exactly the same logic.
fn run_mock<E>(
    txn: &MockTxn,
    num_keys: u64,
    mut read: impl FnMut(u64) -> Result<u64, E>,
) -> Result<MockResult, E> {
    let first_key = txn.seed % num_keys;
    let a = read(first_key)?;
    // The second key depends on the value read: unknown before execution.
    let second_key = a.wrapping_add(txn.seed / 7) % num_keys;
    let b = read(second_key)?;
    let mut writes = Vec::new();
    match (a ^ b ^ txn.seed) % 4 {
        0 => {}
        1 => writes.push((second_key, a.wrapping_add(b).wrapping_add(1))),
        2 => {
            writes.push((first_key, b.wrapping_mul(3).wrapping_add(txn.seed) % 1000));
            let third = (b.wrapping_add(txn.seed)) % num_keys;
            if third != first_key {
                writes.push((third, a % 1000 + 1));
            }
        }
        _ => {
            let third = (a.wrapping_mul(31).wrapping_add(b)) % num_keys;
            let c = read(third)?;
            writes.push((third, c.wrapping_add(txn.seed % 10) % 1000));
        }
    }
    Ok((vec![a, b], writes))
}

#[derive(Debug)]
struct MockBlock {
    txns: Vec<MockTxn>,
    storage: HashMap<u64, u64>,
    num_keys: u64,
    /// Panic when executing this transaction (to test that a panic ends the run cleanly).
    panic_at: Option<u32>,
    executions: AtomicUsize,
}

impl ParallelTask for MockBlock {
    type Key = u64;
    type Value = u64;
    type Output = Vec<u64>;
    type Error = String;
    type Writes = Vec<(u64, Write<u64>)>;

    fn execute(
        &self,
        txn_idx: u32,
        reads: &mut SpeculativeReads<'_, Self>,
    ) -> Result<(Vec<u64>, Vec<(u64, Write<u64>)>), ExecuteError<String>> {
        self.executions.fetch_add(1, Ordering::Relaxed);
        if self.panic_at == Some(txn_idx) {
            panic!("mock transaction {txn_idx} panics");
        }
        let txn = &self.txns[txn_idx as usize];
        let (output, writes) = run_mock(txn, self.num_keys, |key| {
            match reads.read(&key).map_err(ExecuteError::Fatal)? {
                SpeculativeRead::Value(v) => Ok(v),
                SpeculativeRead::NotFound => Ok(self.storage.get(&key).copied().unwrap_or(0)),
                SpeculativeRead::Dependency(blocking) => Err(ExecuteError::Dependency(blocking)),
            }
        })?;
        Ok((output, values(writes)))
    }

    fn counter_base(&self, key: &u64) -> Result<u64, String> {
        Ok(self.storage.get(key).copied().unwrap_or(0))
    }
}

/// Checks that outputs arrive once each, in block order.
#[derive(Default)]
struct OrderSink {
    committed: Vec<u32>,
}

impl CommitSink<Vec<u64>, String> for OrderSink {
    fn commit(&mut self, txn_idx: u32, _output: &Vec<u64>) -> Result<(), String> {
        self.committed.push(txn_idx);
        Ok(())
    }
}

impl CommitSink<u64, String> for OrderSink {
    fn commit(&mut self, txn_idx: u32, _output: &u64) -> Result<(), String> {
        self.committed.push(txn_idx);
        Ok(())
    }
}

fn sequential(block: &MockBlock) -> (Vec<Vec<u64>>, HashMap<u64, u64>) {
    let mut state = HashMap::new();
    let mut outputs = Vec::new();
    for txn in &block.txns {
        let (output, writes) = run_mock::<()>(txn, block.num_keys, |key| {
            Ok(state
                .get(&key)
                .or_else(|| block.storage.get(&key))
                .copied()
                .unwrap_or(0))
        })
        .expect("the baseline never fails");
        state.extend(writes);
        outputs.push(output);
    }
    (outputs, state)
}

fn block_strategy() -> impl Strategy<Value = MockBlock> {
    (
        1u64..24,
        proptest::collection::vec(any::<u64>(), 1..300),
        proptest::collection::vec(0u64..50, 0..24),
    )
        .prop_map(|(num_keys, seeds, initial)| MockBlock {
            txns: seeds.into_iter().map(|seed| MockTxn { seed }).collect(),
            storage: initial
                .into_iter()
                .enumerate()
                .map(|(k, v)| (k as u64, v))
                .collect(),
            num_keys,
            panic_at: None,
            executions: AtomicUsize::new(0),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn parallel_run_equals_sequential_baseline(block in block_strategy(), threads in 1usize..=8) {
        let (expected_outputs, expected_writes) = sequential(&block);
        let (run, sink) = run_parallel(&block, block.txns.len(), threads, OrderSink::default())
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(run.outputs, expected_outputs);
        let writes: HashMap<u64, u64> = run.writes.into_iter().collect();
        prop_assert_eq!(writes, expected_writes);
        let in_order: Vec<u32> = (0..block.txns.len() as u32).collect();
        prop_assert_eq!(sink.committed, in_order);
        prop_assert!(run.stats.executions >= block.txns.len() as u64);
    }
}

#[test]
fn heavy_contention_on_one_key_is_exact_and_repeatable() {
    // Every transaction reads and writes key 0: a chain of true dependencies.
    let block = MockBlock {
        txns: (0..2000).map(|i| MockTxn { seed: i * 4 + 1 }).collect(),
        storage: HashMap::new(),
        num_keys: 1,
        panic_at: None,
        executions: AtomicUsize::new(0),
    };
    let expected = sequential(&block);
    for _ in 0..5 {
        let (run, sink) =
            run_parallel(&block, block.txns.len(), 8, OrderSink::default()).expect("no error");
        assert_eq!(run.outputs, expected.0);
        assert_eq!(
            run.writes.into_iter().collect::<HashMap<_, _>>(),
            expected.1
        );
        assert_eq!(sink.committed.len(), 2000);
    }
}

#[test]
fn a_panicking_transaction_ends_the_run_without_hanging() {
    let block = MockBlock {
        txns: (0..500).map(|seed| MockTxn { seed }).collect(),
        storage: HashMap::new(),
        num_keys: 8,
        panic_at: Some(250),
        executions: AtomicUsize::new(0),
    };
    let result = run_parallel(&block, block.txns.len(), 4, OrderSink::default());
    match result {
        Err(DriverError::Panicked(message)) => {
            assert!(message.contains("mock transaction 250 panics"))
        }
        other => panic!(
            "expected a panic report, got {:?}",
            other.map(|(run, _)| run.stats)
        ),
    }
}

#[test]
fn a_fatal_error_in_the_sink_ends_the_run() {
    struct FailingSink;
    impl CommitSink<Vec<u64>, String> for FailingSink {
        fn commit(&mut self, txn_idx: u32, _output: &Vec<u64>) -> Result<(), String> {
            if txn_idx == 100 {
                Err("overflow at 100".into())
            } else {
                Ok(())
            }
        }
    }
    let block = MockBlock {
        txns: (0..400).map(|seed| MockTxn { seed }).collect(),
        storage: HashMap::new(),
        num_keys: 16,
        panic_at: None,
        executions: AtomicUsize::new(0),
    };
    match run_parallel(&block, block.txns.len(), 4, FailingSink) {
        Err(DriverError::Fatal(message)) => assert_eq!(message, "overflow at 100"),
        other => panic!(
            "expected the sink's error, got {:?}",
            other.map(|(run, _)| run.stats)
        ),
    }
}

#[test]
fn empty_block_runs() {
    let block = MockBlock {
        txns: Vec::new(),
        storage: HashMap::new(),
        num_keys: 1,
        panic_at: None,
        executions: AtomicUsize::new(0),
    };
    let (run, sink) = run_parallel(&block, 0, 4, OrderSink::default()).expect("empty block");
    assert!(run.outputs.is_empty() && run.writes.is_empty() && sink.committed.is_empty());
    assert_eq!(block.executions.load(Ordering::Relaxed), 0);
}

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
        let seen = match reads.read(&key).map_err(ExecuteError::Fatal)? {
            SpeculativeRead::Value(value) => value,
            SpeculativeRead::NotFound => 0,
            SpeculativeRead::Dependency(blocking) => {
                return Err(ExecuteError::Dependency(blocking))
            }
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

    fn predecessor(&self, txn_idx: u32) -> Option<u32> {
        (self.hints && txn_idx >= self.chains).then(|| txn_idx - self.chains)
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
            run_parallel(&block, TXNS as usize, 4, OrderSink::default()).expect("runs");
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
        let (run, _) = run_parallel(&block, TXNS as usize, 4, OrderSink::default()).expect("runs");
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
