//! Deltas and predicates at the driver level, against an exact sequential baseline.

mod support;

use std::collections::HashMap;

use blockstm_driver::{
    run_parallel, CommitSink, DriverStats, ExecuteError, ParallelTask, Plan, SpeculativePredicate,
    SpeculativeRead, SpeculativeReads, Write,
};
use proptest::prelude::*;
use support::*;

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
    /// Keys settled at commit instead of versioned ([`Plan::sinks`]).
    sinks: Vec<u64>,
    /// The longest frontier run ([`Plan::frontier_run`]; 0: none).
    frontier_run: usize,
}

impl DeltaBlock {
    /// The schedule the block's claim size and sinks ask for.
    fn plan(&self) -> Plan<u64> {
        Plan {
            predecessors: Vec::new(),
            claim_size: self.claim_size,
            sinks: self.sinks.clone(),
            frontier_run: self.frontier_run,
        }
    }

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
        match self.reads.read(&key).map_err(ExecuteError::Failed)? {
            SpeculativeRead::Value(value) => Ok(value),
            SpeculativeRead::NotFound => Ok(self.block.base(key)),
            SpeculativeRead::Blocked(blocker) => Err(ExecuteError::Blocked(blocker)),
        }
    }

    fn at_least(&mut self, key: u64, threshold: u64) -> Result<bool, Self::Error> {
        match self
            .reads
            .at_least(&key, threshold)
            .map_err(ExecuteError::Failed)?
        {
            SpeculativePredicate::Holds => Ok(true),
            SpeculativePredicate::Fails => Ok(false),
            SpeculativePredicate::Blocked(blocker) => Err(ExecuteError::Blocked(blocker)),
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
    let (run, sink) = run_parallel(
        block,
        block.ops.len(),
        block.plan(),
        threads,
        OrderSink::default(),
    )
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
                frontier_run_strategy(),
            )
        })
        .prop_map(
            |(ops, balances, claim_size, sink_mask, frontier_run)| DeltaBlock {
                ops,
                storage: balances
                    .into_iter()
                    .enumerate()
                    .filter_map(|(key, balance)| Some((key as u64, balance?)))
                    .collect(),
                spin_micros: Vec::new(),
                claim_size,
                frontier_run,
                sinks: (0u64..)
                    .zip(sink_mask)
                    .filter(|(_, sink)| *sink)
                    .map(|(key, _)| key)
                    .collect(),
            },
        )
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
        frontier_run: 0,
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
        frontier_run: 0,
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
        frontier_run: 0,
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
        total.accumulate(&stats);
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
        frontier_run: 0,
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
        total.accumulate(&stats);
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
        frontier_run: 0,
        sinks: vec![0],
    };
    for threads in 1..=4 {
        let stats = run_delta_block(&block, threads).expect("equals the baseline");
        assert_eq!(stats.settle_waits, 0, "{stats:?}");
        assert_eq!(stats.delta_writes, 300, "{stats:?}");
        assert_eq!(stats.aborts, 0, "{stats:?}");
    }
}
