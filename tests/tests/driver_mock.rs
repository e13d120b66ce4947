//! The generic Block-STM machinery (MVMemory + scheduler + driver) against a sequential
//! baseline, with mock transactions whose keys are only known at run time: each one reads a
//! key, picks its next key *from the value it read*, and writes keys chosen the same way,
//! so its read and write sets change between incarnations. A second mock (`DeltaBlock`,
//! below) moves balances with deltas and predicate reads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use executor::engine::blockstm::driver::{
    run_parallel, CommitSink, DriverError, DriverStats, ExecuteError, ParallelTask,
    SpeculativePredicate, SpeculativeRead, SpeculativeReads, Write,
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
    /// Consecutive transactions a worker claims at once.
    claim_size: usize,
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

    fn claim_size(&self) -> usize {
        self.claim_size
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

/// Claim sizes: mostly the paper's one, often a few, now and then more than the block.
fn claim_size_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![Just(1usize), 2usize..=8, Just(64usize)]
}

fn block_strategy() -> impl Strategy<Value = MockBlock> {
    (
        1u64..24,
        proptest::collection::vec(any::<u64>(), 1..300),
        proptest::collection::vec(0u64..50, 0..24),
        claim_size_strategy(),
    )
        .prop_map(|(num_keys, seeds, initial, claim_size)| MockBlock {
            txns: seeds.into_iter().map(|seed| MockTxn { seed }).collect(),
            storage: initial
                .into_iter()
                .enumerate()
                .map(|(k, v)| (k as u64, v))
                .collect(),
            num_keys,
            panic_at: None,
            executions: AtomicUsize::new(0),
            claim_size,
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
        claim_size: 1,
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
        claim_size: 1,
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
        claim_size: 1,
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
        claim_size: 1,
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

// Deltas and predicates at the driver level: balances changed by full-value
// read-modify-writes, by deltas (credits of either sign), by transfers whose debit is
// checked with a predicate read, and by credits guarded by a predicate on another key;
// some balances lie near `u64::MAX` (or near 0) so that deltas leave `u64` at commit and
// their transactions run again exactly. Every run must equal the sequential baseline,
// which does exact, checked arithmetic throughout.

/// One balance operation; a transaction is one operation. A failed operation writes
/// nothing.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// Reads a balance.
    Read { key: u64 },
    /// Reads a balance and writes it back plus `add`; fails on overflow.
    Rmw { key: u64, add: u64 },
    /// Adds `amount` (either sign) to a balance without reading it: a delta when deltas
    /// are allowed, a checked read-modify-write otherwise (fails outside `u64`).
    Credit { key: u64, amount: i128 },
    /// Moves `amount` from `from` to `to` (distinct keys); fails if `from` holds less or
    /// `to` would overflow. With deltas the debit is the predicate "from ≥ amount" (read
    /// exactly when it fails) and both sides are deltas.
    Transfer { from: u64, to: u64, amount: u64 },
    /// Credits `amount` to `to` if `key` (another key) holds at least `min`, and fails
    /// otherwise: a predicate that guards a write elsewhere, so that only its validation
    /// (not the range check of a debit at commit) keeps it honest.
    IfAtLeast {
        key: u64,
        min: u64,
        to: u64,
        amount: u64,
    },
}

/// What an operation reports: the balance it read exactly (`Read` and `Rmw` only, so
/// that the output does not depend on whether deltas were allowed), and whether it
/// succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct OpOutput {
    read: Option<u64>,
    ok: bool,
}

/// Where an operation reads balances: the block's memory, or the baseline's state.
trait Ledger {
    type Error;
    /// Whether the operation may write deltas and read predicates.
    fn deltas_allowed(&self) -> bool;
    fn read(&mut self, key: u64) -> Result<u64, Self::Error>;
    /// Whether the balance is at least `threshold` (only asked when deltas are allowed).
    fn at_least(&mut self, key: u64, threshold: u64) -> Result<bool, Self::Error>;
}

type OpWrites = Vec<(u64, Write<u64>)>;

/// The operation, written once for the parallel run and the baseline.
fn run_op<L: Ledger>(op: Op, ledger: &mut L) -> Result<(OpOutput, OpWrites), L::Error> {
    let fail = |read| Ok((OpOutput { read, ok: false }, Vec::new()));
    let done = |read, writes| Ok((OpOutput { read, ok: true }, writes));
    match op {
        Op::Read { key } => {
            let value = ledger.read(key)?;
            done(Some(value), Vec::new())
        }
        Op::Rmw { key, add } => {
            let value = ledger.read(key)?;
            match value.checked_add(add) {
                Some(sum) => done(Some(value), vec![(key, Write::Value(sum))]),
                None => fail(Some(value)),
            }
        }
        Op::Credit { key, amount } => {
            if ledger.deltas_allowed() {
                return done(None, vec![(key, Write::Delta(amount))]);
            }
            match u64::try_from(i128::from(ledger.read(key)?) + amount) {
                Ok(sum) => done(None, vec![(key, Write::Value(sum))]),
                Err(_) => fail(None),
            }
        }
        Op::Transfer { from, to, amount } => {
            let deltas = ledger.deltas_allowed();
            let debit = if deltas && ledger.at_least(from, amount)? {
                Write::Delta(-i128::from(amount))
            } else {
                // An exact run, or a failed predicate: the exact read says by how much
                // (and a success after all).
                match ledger.read(from)?.checked_sub(amount) {
                    Some(rest) => Write::Value(rest),
                    None => return fail(None),
                }
            };
            let credit = if deltas {
                Write::Delta(i128::from(amount))
            } else {
                match ledger.read(to)?.checked_add(amount) {
                    Some(sum) => Write::Value(sum),
                    None => return fail(None),
                }
            };
            done(None, vec![(from, debit), (to, credit)])
        }
        Op::IfAtLeast {
            key,
            min,
            to,
            amount,
        } => {
            let holds = if ledger.deltas_allowed() && ledger.at_least(key, min)? {
                true
            } else {
                ledger.read(key)? >= min
            };
            if !holds {
                return fail(None);
            }
            if ledger.deltas_allowed() {
                return done(None, vec![(to, Write::Delta(i128::from(amount)))]);
            }
            match ledger.read(to)?.checked_add(amount) {
                Some(sum) => done(None, vec![(to, Write::Value(sum))]),
                None => fail(None),
            }
        }
    }
}

#[derive(Clone, Debug)]
struct DeltaBlock {
    ops: Vec<Op>,
    storage: HashMap<u64, u64>,
    /// Microseconds each execution of transaction `i` spins (`spin_micros[i]`, 0 if
    /// absent), so that workers overlap.
    spin_micros: Vec<u64>,
    /// Consecutive transactions a worker claims at once.
    claim_size: usize,
    /// Keys settled at commit instead of versioned ([`ParallelTask::sinks`]).
    sinks: Vec<u64>,
}

impl DeltaBlock {
    fn base(&self, key: u64) -> u64 {
        self.storage.get(&key).copied().unwrap_or(0)
    }
}

/// The parallel side of [`Ledger`].
struct SpeculativeLedger<'b, 'r, 'm> {
    block: &'b DeltaBlock,
    reads: &'r mut SpeculativeReads<'m, DeltaBlock>,
}

impl Ledger for SpeculativeLedger<'_, '_, '_> {
    type Error = ExecuteError<String>;

    fn deltas_allowed(&self) -> bool {
        self.reads.deltas_allowed()
    }

    fn read(&mut self, key: u64) -> Result<u64, Self::Error> {
        match self.reads.read(&key).map_err(ExecuteError::Fatal)? {
            SpeculativeRead::Value(value) => Ok(value),
            SpeculativeRead::NotFound => Ok(self.block.base(key)),
            SpeculativeRead::Dependency(blocking) => Err(ExecuteError::Dependency(blocking)),
        }
    }

    fn at_least(&mut self, key: u64, threshold: u64) -> Result<bool, Self::Error> {
        match self
            .reads
            .at_least(&key, threshold)
            .map_err(ExecuteError::Fatal)?
        {
            SpeculativePredicate::Holds => Ok(true),
            SpeculativePredicate::Fails => Ok(false),
            SpeculativePredicate::Dependency(blocking) => Err(ExecuteError::Dependency(blocking)),
        }
    }
}

impl ParallelTask for DeltaBlock {
    type Key = u64;
    type Value = u64;
    type Output = OpOutput;
    type Error = String;
    type Writes = OpWrites;

    fn execute(
        &self,
        txn_idx: u32,
        reads: &mut SpeculativeReads<'_, Self>,
    ) -> Result<(OpOutput, OpWrites), ExecuteError<String>> {
        let spin = self.spin_micros.get(txn_idx as usize).copied().unwrap_or(0);
        if spin > 0 {
            let until = std::time::Instant::now() + std::time::Duration::from_micros(spin);
            while std::time::Instant::now() < until {
                std::hint::spin_loop();
            }
        }
        run_op(
            self.ops[txn_idx as usize],
            &mut SpeculativeLedger { block: self, reads },
        )
    }

    fn counter_base(&self, key: &u64) -> Result<u64, String> {
        Ok(self.base(*key))
    }

    fn claim_size(&self) -> usize {
        self.claim_size
    }

    fn sinks(&self) -> Vec<u64> {
        self.sinks.clone()
    }
}

impl CommitSink<OpOutput, String> for OrderSink {
    fn commit(&mut self, txn_idx: u32, _output: &OpOutput) -> Result<(), String> {
        self.committed.push(txn_idx);
        Ok(())
    }
}

/// The baseline's side of [`Ledger`]: exact reads of the state so far.
struct ExactLedger<'a> {
    block: &'a DeltaBlock,
    state: &'a HashMap<u64, u64>,
}

impl Ledger for ExactLedger<'_> {
    type Error = std::convert::Infallible;

    fn deltas_allowed(&self) -> bool {
        false
    }

    fn read(&mut self, key: u64) -> Result<u64, Self::Error> {
        Ok(self
            .state
            .get(&key)
            .copied()
            .unwrap_or_else(|| self.block.base(key)))
    }

    fn at_least(&mut self, key: u64, threshold: u64) -> Result<bool, Self::Error> {
        Ok(self.read(key)? >= threshold)
    }
}

/// The sequential baseline: outputs and final writes, all arithmetic exact and checked.
fn delta_sequential(block: &DeltaBlock) -> (Vec<OpOutput>, HashMap<u64, u64>) {
    let mut state = HashMap::new();
    let mut outputs = Vec::new();
    for &op in &block.ops {
        let (output, writes) = match run_op(
            op,
            &mut ExactLedger {
                block,
                state: &state,
            },
        ) {
            Ok(result) => result,
            Err(never) => match never {},
        };
        for (key, write) in writes {
            match write {
                Write::Value(value) => state.insert(key, value),
                Write::Delta(_) => panic!("the baseline writes no deltas"),
            };
        }
        outputs.push(output);
    }
    (outputs, state)
}

/// Runs `block` on `threads` workers and checks it against the baseline.
fn run_delta_block(block: &DeltaBlock, threads: usize) -> Result<DriverStats, TestCaseError> {
    let (expected_outputs, expected_writes) = delta_sequential(block);
    let (run, sink) = run_parallel(block, block.ops.len(), threads, OrderSink::default())
        .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    prop_assert_eq!(run.outputs, expected_outputs);
    let writes: HashMap<u64, u64> = run.writes.into_iter().collect();
    prop_assert_eq!(writes, expected_writes);
    prop_assert_eq!(
        sink.committed,
        (0..block.ops.len() as u32).collect::<Vec<_>>()
    );
    Ok(run.stats)
}

/// A balance: small (debits and negative credits fail), near `u64::MAX` (credits
/// overflow), or absent (0).
fn balance_strategy() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![
        2 => (0u64..300).prop_map(Some),
        2 => (0u64..300).prop_map(|below| Some(u64::MAX - below)),
        1 => Just(None),
    ]
}

fn op_strategy(num_keys: u64) -> impl Strategy<Value = Op> {
    let key = 0..num_keys;
    prop_oneof![
        1 => key.clone().prop_map(|key| Op::Read { key }),
        2 => (key.clone(), 0u64..200).prop_map(|(key, add)| Op::Rmw { key, add }),
        4 => (key.clone(), -200i128..200).prop_map(|(key, amount)| Op::Credit { key, amount }),
        4 => (key.clone(), 1..num_keys, 0u64..200).prop_map(move |(from, step, amount)| {
            Op::Transfer {
                from,
                to: (from + step) % num_keys,
                amount,
            }
        }),
        2 => (key, 1..num_keys, 0u64..400, 0u64..200).prop_map(
            move |(key, step, min, amount)| Op::IfAtLeast {
                key,
                min,
                to: (key + step) % num_keys,
                amount,
            }
        ),
    ]
}

fn delta_block_strategy() -> impl Strategy<Value = DeltaBlock> {
    (2u64..6)
        .prop_flat_map(|num_keys| {
            (
                proptest::collection::vec(op_strategy(num_keys), 1..120),
                proptest::collection::vec(balance_strategy(), num_keys as usize),
                claim_size_strategy(),
                // Each key a sink one time in three: read, predicate-checked and
                // written by every kind of operation, as versioned keys are.
                proptest::collection::vec(proptest::bool::weighted(0.35), num_keys as usize),
            )
        })
        .prop_map(|(ops, balances, claim_size, sink_mask)| DeltaBlock {
            ops,
            storage: balances
                .into_iter()
                .enumerate()
                .filter_map(|(key, balance)| Some((key as u64, balance?)))
                .collect(),
            spin_micros: Vec::new(),
            claim_size,
            sinks: (0u64..)
                .zip(sink_mask)
                .filter(|(_, sink)| *sink)
                .map(|(key, _)| key)
                .collect(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn deltas_and_predicates_equal_the_exact_sequential_baseline(
        block in delta_block_strategy(),
        threads in 1usize..=4,
    ) {
        let stats = run_delta_block(&block, threads)?;
        prop_assert!(stats.executions >= block.ops.len() as u64);
    }
}

/// A hot balance (key 0) credited by deltas and debited by predicate-checked transfers,
/// with overflowing credits to a nearly full balance (key 1) among them.
fn hot_block(len: u64) -> DeltaBlock {
    let ops = (0..len)
        .map(|i| match i % 5 {
            0 | 2 => Op::Credit { key: 0, amount: 10 },
            1 => Op::Transfer {
                from: 0,
                to: 2 + i % 3,
                amount: 7,
            },
            3 => Op::Credit { key: 1, amount: 40 },
            _ => Op::Transfer {
                from: 0,
                to: 1,
                amount: 3,
            },
        })
        .collect();
    DeltaBlock {
        ops,
        storage: [(0, 100), (1, u64::MAX - 100)].into_iter().collect(),
        spin_micros: vec![5; len as usize],
        // Runs of three: workers hold claimed transactions while others commit below.
        claim_size: 3,
        sinks: Vec::new(),
    }
}

#[test]
fn an_overflowing_delta_is_reexecuted_exactly_in_every_run() {
    // The second credit takes the balance past `u64::MAX` whatever the interleaving: found
    // at commit, run again exactly, where it fails and writes nothing.
    let block = DeltaBlock {
        ops: vec![
            Op::Credit {
                key: 0,
                amount: 150,
            },
            Op::Read { key: 0 },
            Op::Credit {
                key: 0,
                amount: 150,
            },
            Op::Read { key: 0 },
            Op::Credit {
                key: 0,
                amount: -300,
            },
        ],
        storage: [(0, u64::MAX - 200)].into_iter().collect(),
        spin_micros: Vec::new(),
        claim_size: 1,
        sinks: Vec::new(),
    };
    let (outputs, _) = delta_sequential(&block);
    assert!(
        outputs[0].ok && !outputs[2].ok && outputs[4].ok,
        "{outputs:?}"
    );
    for sinks in [vec![], vec![0]] {
        let block = DeltaBlock {
            sinks,
            ..block.clone()
        };
        for threads in 1..=4 {
            for _ in 0..20 {
                let stats = run_delta_block(&block, threads).expect("equals the baseline");
                assert_eq!(stats.exact_reexecutions, 1, "{stats:?}");
            }
        }
    }
}

#[test]
fn a_predicate_that_stops_holding_is_reexecuted() {
    // Transaction 0 takes a while to debit the balance below the guard's threshold; a
    // worker that runs the guard (transaction 1) meanwhile finds the predicate holding and
    // credits key 2. Once the debit is in, the predicate read must fail validation: the
    // guard runs again and fails, as in the baseline. (The range check of deltas at commit
    // cannot catch this one: the guard debits nothing.)
    let block = DeltaBlock {
        ops: vec![
            Op::Credit {
                key: 0,
                amount: -50,
            },
            Op::IfAtLeast {
                key: 0,
                min: 80,
                to: 2,
                amount: 1,
            },
            Op::Read { key: 2 },
        ],
        storage: [(0, 100)].into_iter().collect(),
        spin_micros: vec![300],
        claim_size: 1,
        sinks: Vec::new(),
    };
    let (outputs, _) = delta_sequential(&block);
    assert!(!outputs[1].ok, "{outputs:?}");
    let mut speculated = false;
    for attempt in 0..200 {
        let stats = run_delta_block(&block, 2 + attempt % 3).expect("equals the baseline");
        // The predicate held in some incarnation, which was then aborted.
        speculated |= stats.predicate_reads > 0 && stats.aborts > 0;
        if speculated && attempt >= 20 {
            break;
        }
    }
    assert!(speculated, "the guard never ran before the debit was in");
}

#[test]
fn delta_and_predicate_paths_are_exercised() {
    // Exact re-executions follow from the block alone (credits to key 1 overflow at commit
    // in every run); delta and predicate saves need a lower transaction to write after a
    // higher one read or wrote, which takes two workers overlapping: try a bounded number
    // of runs until each has shown up.
    let block = hot_block(200);
    let mut total = DriverStats::default();
    for attempt in 0..50 {
        let stats = run_delta_block(&block, 4).expect("equals the baseline");
        assert!(stats.exact_reexecutions > 0, "{stats:?}");
        assert!(
            stats.delta_writes > 0 && stats.predicate_reads > 0,
            "{stats:?}"
        );
        total.add(&stats);
        if attempt >= 2 && total.delta_saves > 0 && total.predicate_saves > 0 {
            break;
        }
    }
    assert!(
        total.delta_saves > 0,
        "no delta ever saved an abort: {total:?}"
    );
    assert!(
        total.predicate_saves > 0,
        "no predicate ever held through a change: {total:?}"
    );
    assert!(total.delta_reads > 0, "{total:?}");
}

/// A read whose sum through uncommitted deltas lies outside `u64` stands (it validates
/// while the sum stays out of range) until the delta below fails its commit: it is not
/// validated, aborted and re-executed on the same state again and again. Here transaction
/// 0 takes 2 ms to execute, and the reader (transaction 2, above transaction 1's `+7` on
/// `u64::MAX - 6`) once was aborted hundreds of times meanwhile (the loom model
/// `driver_delta_overflow_below_a_reader` is the same case).
#[test]
fn a_read_of_an_out_of_range_sum_does_not_spin() {
    let block = DeltaBlock {
        ops: vec![
            Op::Credit { key: 0, amount: 5 },
            Op::Credit { key: 0, amount: 7 },
            Op::Read { key: 0 },
        ],
        storage: [(0, u64::MAX - 6)].into_iter().collect(),
        spin_micros: vec![2_000],
        claim_size: 1,
        sinks: Vec::new(),
    };
    let mut worst = DriverStats::default();
    for _ in 0..10 {
        let stats = run_delta_block(&block, 2).expect("equals the baseline");
        assert_eq!(stats.exact_reexecutions, 1, "{stats:?}");
        if stats.aborts > worst.aborts {
            worst = stats;
        }
    }
    assert!(worst.aborts <= 10, "{worst:?}");
}

/// The hot block with its hot balance (key 0, credited by deltas, debited by
/// predicate-checked transfers) and the overflowing one (key 1) settled at commit: every
/// debit from key 0 reads it, so it waits for the commit frontier, and the overflowing
/// credits are still run again exactly.
#[test]
fn sinks_settle_in_block_order_and_their_readers_wait() {
    let block = DeltaBlock {
        sinks: vec![0, 1],
        ..hot_block(200)
    };
    let mut total = DriverStats::default();
    for attempt in 0..50 {
        let stats = run_delta_block(&block, 2 + attempt % 3).expect("equals the baseline");
        assert!(stats.exact_reexecutions > 0, "{stats:?}");
        assert!(stats.delta_writes > 0, "{stats:?}");
        assert_eq!(stats.delta_reads, 0, "a sink is never summed: {stats:?}");
        total.add(&stats);
        if attempt >= 2 && total.settle_waits > 0 && total.delta_saves > 0 {
            break;
        }
    }
    assert!(total.settle_waits > 0, "no read ever waited: {total:?}");
    assert!(
        total.delta_saves > 0,
        "no sink write ever landed above a later lower one: {total:?}"
    );
}

/// Credits to one sink from every transaction and nothing else: no transaction ever
/// reads it, so none waits, and the total is the baseline's.
#[test]
fn credits_to_a_sink_never_wait() {
    let block = DeltaBlock {
        ops: (0..300)
            .map(|i| Op::Credit {
                key: 0,
                amount: 1 + i128::from(i % 7),
            })
            .collect(),
        storage: [(0, 5)].into_iter().collect(),
        spin_micros: vec![2; 300],
        claim_size: 4,
        sinks: vec![0],
    };
    for threads in 1..=4 {
        let stats = run_delta_block(&block, threads).expect("equals the baseline");
        assert_eq!(stats.settle_waits, 0, "{stats:?}");
        assert_eq!(stats.delta_writes, 300, "{stats:?}");
        assert_eq!(stats.aborts, 0, "{stats:?}");
    }
}
