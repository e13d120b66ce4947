//! The mock block shared by the driver's tests: transactions whose keys are only known at
//! run time (each one reads a key, picks its next key *from the value it read*, and writes
//! keys chosen the same way, so its read and write sets change between incarnations), a
//! sink that records the commit order, the sequential baseline, and the strategies.

// Each test binary uses its own part of the support.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use blockstm_driver::{
    run_parallel, CommitSink, ExecuteError, ParallelTask, Plan, RunResult, SpeculativeRead,
    SpeculativeReads, Write,
};
use proptest::prelude::*;

/// Full-value writes, as the driver takes them.
pub fn values<K>(writes: Vec<(K, u64)>) -> Vec<(K, Write<u64>)> {
    writes
        .into_iter()
        .map(|(key, value)| (key, Write::Value(value)))
        .collect()
}

/// A mock transaction: a seed drives which keys it touches, given what it reads.
#[derive(Clone, Debug)]
pub struct MockTxn {
    pub seed: u64,
}

/// What a mock transaction produced: the values it read, and its writes.
pub type MockResult = (Vec<u64>, Vec<(u64, u64)>);

/// The mock program, written once against a read function so the parallel run and the
/// sequential baseline execute exactly the same logic.
pub fn run_mock<E>(
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
pub struct MockBlock {
    pub txns: Vec<MockTxn>,
    pub storage: HashMap<u64, u64>,
    pub num_keys: u64,
    /// Panic when executing this transaction (to test that a panic ends the run cleanly).
    pub panic_at: Option<u32>,
    pub executions: AtomicUsize,
    /// Consecutive transactions a worker claims at once.
    pub claim_size: usize,
    /// Scheduling hints: transaction `i` is hinted to follow `i - gap` (none when 0).
    pub predecessor_gap: u32,
    /// The longest frontier run ([`Plan::frontier_run`]; 0: none).
    pub frontier_run: usize,
}

impl MockBlock {
    /// Runs the whole block on `threads` threads with its plan, into `sink`.
    pub fn run_into<S: CommitSink<Vec<u64>, String>>(
        &self,
        threads: usize,
        sink: S,
    ) -> RunResult<Self, S> {
        run_parallel(self, self.txns.len(), self.plan(), threads, sink)
    }

    /// The schedule the block's claim size and hint gap ask for.
    pub fn plan(&self) -> Plan<u64> {
        let gap = self.predecessor_gap;
        Plan {
            predecessors: (0..self.txns.len() as u32)
                .map(|txn_idx| txn_idx.checked_sub(gap).filter(|_| gap > 0))
                .collect(),
            claim_size: self.claim_size,
            sinks: Vec::new(),
            frontier_run: self.frontier_run,
        }
    }

    /// A block of transactions with these seeds over `num_keys` keys, with no panic,
    /// hint or claim beyond the paper's one transaction.
    pub fn new(
        seeds: impl IntoIterator<Item = u64>,
        storage: HashMap<u64, u64>,
        num_keys: u64,
    ) -> Self {
        Self {
            txns: seeds.into_iter().map(|seed| MockTxn { seed }).collect(),
            storage,
            num_keys,
            panic_at: None,
            executions: AtomicUsize::new(0),
            claim_size: 1,
            predecessor_gap: 0,
            frontier_run: 0,
        }
    }
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
            match reads.read(&key).map_err(ExecuteError::Failed)? {
                SpeculativeRead::Value(v) => Ok(v),
                SpeculativeRead::NotFound => Ok(self.storage.get(&key).copied().unwrap_or(0)),
                SpeculativeRead::Blocked(blocker) => Err(ExecuteError::Blocked(blocker)),
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
pub struct OrderSink {
    pub committed: Vec<u32>,
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

pub fn sequential(block: &MockBlock) -> (Vec<Vec<u64>>, HashMap<u64, u64>) {
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
pub fn claim_size_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![Just(1usize), 2usize..=8, Just(64usize)]
}

pub fn block_strategy() -> impl Strategy<Value = MockBlock> {
    (
        1u64..24,
        proptest::collection::vec(any::<u64>(), 1..300),
        proptest::collection::vec(0u64..50, 0..24),
        claim_size_strategy(),
        frontier_run_strategy(),
    )
        .prop_map(
            |(num_keys, seeds, initial, claim_size, frontier_run)| MockBlock {
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
                predecessor_gap: 0,
                frontier_run,
            },
        )
}

/// Frontier run lengths: none (the paper's schedule), short, long, and the whole `usize`
/// range's edges.
pub fn frontier_run_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![Just(0usize), Just(1usize), 2usize..40, Just(usize::MAX),]
}
