//! The mock ledger shared by the driver's tests and the loom models: a block of mock
//! transactions (plain reads, read-modify-writes, credits written as deltas, fees that
//! depend on what was read, a miner reward applied once by a prologue), its sequential
//! baseline, and commit sinks that record, fold fees or fail.
//!
//! The same code runs under real threads (`driver/tests/ledger.rs`) and, compiled with
//! `--cfg loom`, under every interleaving the loom models explore (`loom-tests`); its
//! atomics and locks come from `sync`, which switches to loom's under `cfg(loom)`.

// The atomics and locks, `std`'s or loom's (see `blockstm-sync`).
use blockstm_sync as sync;
use std::collections::HashMap;

use blockstm_driver::{
    CommitSink, ExecuteError, ParallelTask, Plan, SpeculativeRead, SpeculativeReads, Write,
};
use sync::{Arc, AtomicU64, Mutex, Ordering};

/// A key of the mock state. Key 0 is the miner's balance in the reward-once model.
pub type Key = u8;

/// One mock transaction: read-modify-write of `writes`, plus plain `reads`, plus credits
/// (`deltas`) that need no read of the balance.
#[derive(Clone, Debug, Default)]
pub struct MockTxn {
    /// Keys read (and not written).
    pub reads: Vec<Key>,
    /// Keys read and then written with `read + credit + (sum of reads % 7)`.
    pub writes: Vec<Key>,
    /// The amount credited to each written key.
    pub credit: u64,
    /// The base fee; the reported fee also depends on what was read, so an aborted
    /// incarnation reports a different fee from the final one.
    pub fee: u64,
    /// Amounts added to keys (neither in `reads` nor in `writes`, keys distinct), written as
    /// [`Write::Delta`]s when the execution may defer them. An execution that must be exact
    /// ([`SpeculativeReads::deltas_allowed`] is false, as in the sequential baseline) reads
    /// each key and adds with checked arithmetic instead; if a sum leaves `u64`, the
    /// transaction fails: it writes nothing at all (and reports `failed`). The values read
    /// for this are not part of the output, which is therefore the same in both modes.
    pub deltas: Vec<(Key, i128)>,
}

/// The writes of one mock execution.
pub type MockWrites = Vec<(Key, Write<u64>)>;

/// What a mock transaction reports besides its writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MockOutput {
    /// Its fee, folded by the sink in block order.
    pub fee: u64,
    /// The sum of everything it read (so wrong reads show in the output).
    pub read_sum: u64,
    /// A credit in `deltas` did not fit (the transaction wrote nothing).
    pub failed: bool,
}

/// A block of mock transactions over a storage map, with a prologue base layer that
/// credits `reward` to key 0 (the miner) once, before any transaction.
#[derive(Debug)]
pub struct MockBlock {
    /// The transactions.
    pub txns: Vec<MockTxn>,
    /// State beneath the block.
    pub storage: HashMap<Key, u64>,
    /// The block reward credited to key 0 by the prologue.
    pub reward: u64,
    /// How many times the reward was applied; must end at exactly 1.
    pub reward_applications: AtomicU64,
    /// Scheduling hints: each transaction's predecessor, if any (none by default).
    pub predecessors: Vec<Option<u32>>,
    /// Consecutive transactions a worker claims at once (1 by default).
    pub claim_size: usize,
    /// Keys settled at commit instead of versioned (none by default).
    pub sinks: Vec<Key>,
    /// The longest frontier run (0, none, by default).
    pub frontier_run: usize,
}

impl MockBlock {
    /// A block without reward.
    pub fn new(txns: Vec<MockTxn>, storage: &[(Key, u64)]) -> Self {
        Self {
            txns,
            storage: storage.iter().copied().collect(),
            reward: 0,
            reward_applications: AtomicU64::new(0),
            predecessors: Vec::new(),
            claim_size: 1,
            sinks: Vec::new(),
            frontier_run: 0,
        }
    }

    /// The prologue: applies the reward to the base layer, once, before execution.
    pub fn apply_prologue(&mut self) {
        if self.reward == 0 {
            return;
        }
        if !blockstm_sync::planted!("reward_in_transaction") {
            let miner = self.storage.entry(0).or_insert(0);
            *miner = miner
                .checked_add(self.reward)
                .expect("model rewards never overflow");
            self.reward_applications.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The schedule the block's hints, claim size and sinks ask for.
    pub fn plan(&self) -> Plan<Key> {
        Plan {
            predecessors: self.predecessors.clone(),
            claim_size: self.claim_size,
            sinks: self.sinks.clone(),
            frontier_run: self.frontier_run,
        }
    }

    fn base(&self, key: Key) -> u64 {
        self.storage.get(&key).copied().unwrap_or(0)
    }

    /// The transaction body, shared by the parallel run and the baseline (which runs it
    /// with `deltas_allowed` false: exact, checked credits).
    fn run<E>(
        &self,
        txn_idx: usize,
        deltas_allowed: bool,
        mut read: impl FnMut(Key) -> Result<u64, E>,
    ) -> Result<(MockOutput, MockWrites), E> {
        let txn = &self.txns[txn_idx];
        // Planted bug: the reward applied by a transaction's execution, which Block-STM may
        // repeat. The correct code applies it in `apply_prologue`, outside any transaction.
        if blockstm_sync::planted!("reward_in_transaction")
            && txn_idx == self.txns.len() - 1
            && self.reward > 0
        {
            self.reward_applications.fetch_add(1, Ordering::SeqCst);
        }
        let mut read_sum = 0u64;
        for &key in &txn.reads {
            read_sum = read_sum.wrapping_add(read(key)?);
        }
        let mut written = Vec::new();
        for &key in &txn.writes {
            let current = read(key)?;
            read_sum = read_sum.wrapping_add(current);
            written.push((key, current));
        }
        let mut writes: MockWrites = written
            .into_iter()
            .map(|(key, current)| {
                (
                    key,
                    Write::Value(current.wrapping_add(txn.credit).wrapping_add(read_sum % 7)),
                )
            })
            .collect();
        let mut failed = false;
        for &(key, delta) in &txn.deltas {
            if deltas_allowed {
                writes.push((key, Write::Delta(delta)));
                continue;
            }
            match u64::try_from(i128::from(read(key)?) + delta) {
                Ok(credited) => writes.push((key, Write::Value(credited))),
                Err(_) => failed = true,
            }
        }
        if failed {
            writes.clear();
        }
        let fee = txn.fee.wrapping_add(read_sum % 3);
        Ok((
            MockOutput {
                fee,
                read_sum,
                failed,
            },
            writes,
        ))
    }

    /// The sequential baseline: outputs, final writes, and the folded fee total (`None`
    /// on overflow).
    pub fn sequential(&self) -> (Vec<MockOutput>, HashMap<Key, u64>, Option<u64>) {
        let mut state: HashMap<Key, u64> = HashMap::new();
        let mut outputs = Vec::new();
        let mut fees = Some(0u64);
        for txn_idx in 0..self.txns.len() {
            let (output, writes) = self
                .run::<()>(txn_idx, false, |key| {
                    Ok(state.get(&key).copied().unwrap_or_else(|| self.base(key)))
                })
                .expect("the baseline never fails");
            fees = fees.and_then(|total| total.checked_add(output.fee));
            for (key, write) in writes {
                let value = match write {
                    Write::Value(value) => value,
                    // An exact run writes no deltas; applied all the same, checked.
                    Write::Delta(delta) => {
                        let current = state.get(&key).copied().unwrap_or_else(|| self.base(key));
                        u64::try_from(i128::from(current) + delta)
                            .unwrap_or_else(|_| panic!("an exact run's delta does not fit"))
                    }
                };
                state.insert(key, value);
            }
            outputs.push(output);
        }
        (outputs, state, fees)
    }
}

impl ParallelTask for MockBlock {
    type Key = Key;
    type Value = u64;
    type Output = MockOutput;
    type Error = String;
    type Writes = Vec<(Key, Write<u64>)>;

    fn execute(
        &self,
        txn_idx: u32,
        reads: &mut SpeculativeReads<'_, Self>,
    ) -> Result<(MockOutput, Vec<(Key, Write<u64>)>), ExecuteError<String>> {
        let deltas_allowed = reads.deltas_allowed();
        self.run(txn_idx as usize, deltas_allowed, |key| {
            match reads.read(&key).map_err(ExecuteError::Failed)? {
                SpeculativeRead::Value(value) => Ok(value),
                SpeculativeRead::NotFound => Ok(self.base(key)),
                SpeculativeRead::Blocked(blocker) => Err(ExecuteError::Blocked(blocker)),
            }
        })
    }

    fn counter_base(&self, key: &Key) -> Result<u64, String> {
        Ok(self.base(*key))
    }
}

/// Records the commit order and folds fees with checked arithmetic, as the TOS engine's
/// sink does.
#[derive(Debug, Default)]
pub struct RecordingSink {
    /// Transactions in the order they were committed.
    pub committed: Vec<u32>,
    /// Outputs as committed.
    pub outputs: Vec<MockOutput>,
    /// The fee total.
    pub fees: u64,
}

impl CommitSink<MockOutput, String> for RecordingSink {
    fn commit(&mut self, txn_idx: u32, output: &MockOutput) -> Result<(), String> {
        self.committed.push(txn_idx);
        self.outputs.push(*output);
        self.fees = self
            .fees
            .checked_add(output.fee)
            .ok_or_else(|| "fee overflow".to_owned())?;
        Ok(())
    }
}

/// A sink that logs every transaction it is handed (the log outlives the run, which
/// drops the sink when it fails) and fails at `fail_at`.
#[derive(Debug)]
pub struct FailingSink {
    /// The transaction whose commit fails.
    pub fail_at: u32,
    /// Every transaction handed to the sink, in order, the failing one included.
    pub log: Arc<Mutex<Vec<u32>>>,
}

impl CommitSink<MockOutput, String> for FailingSink {
    fn commit(&mut self, txn_idx: u32, _output: &MockOutput) -> Result<(), String> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(txn_idx);
        if txn_idx == self.fail_at {
            return Err(format!("sink fails at {txn_idx}"));
        }
        Ok(())
    }
}
