//! The node's recent blocks, one record each, in a ring of bounded size: what the admin
//! API's `GET /blocks` returns and `GET /status` averages, so that "why is it slow" has
//! an answer per block without a metrics database.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::AppliedBlock;
use crate::slot::ExecutionPath;

/// How many blocks a node remembers by default.
pub const DEFAULT_HISTORY_CAPACITY: usize = 1000;

/// How many of the latest blocks the status's averages cover.
pub const RECENT_BLOCKS: usize = 100;

/// One applied block, as the admin API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockRecord {
    /// Its topoheight.
    pub topoheight: u64,
    /// When it was applied, in milliseconds since the Unix epoch.
    pub applied_at_unix_ms: u64,
    /// Its transactions.
    pub transactions: u64,
    /// Those that succeeded.
    pub successful: u64,
    /// Which way the slot executed it.
    pub path: ExecutionPath,
    /// The configured engine it ran under (see [`SlotExecution::engine`](crate::slot::SlotExecution::engine)).
    pub engine: String,
    /// Seconds executing (both engines in shadow mode).
    pub execute_seconds: f64,
    /// Seconds committing.
    pub commit_seconds: f64,
    /// Executions (incarnations) per transaction of the engine described here: the
    /// parallel engine when it ran (the candidate in shadow mode), else the oracle (1.0).
    pub executions_per_txn: f64,
    /// Block-STM's read-set validations per transaction (0 for the other engines).
    pub validations_per_txn: f64,
    /// Block-STM incarnations aborted by a failed validation.
    pub aborts: u64,
    /// Block-STM's achieved parallelism: its workers' busy time over the block's wall
    /// time in the driver; absent when Block-STM did not run the block in parallel.
    pub achieved_parallelism: Option<f64>,
    /// The parallel engine chose its sequential path (a small or contended block).
    pub engine_sequential: bool,
    /// The parallel engine fell back to sequential after its parallel path failed.
    pub fallback: bool,
    /// Shadow mode found the engine's output different from the oracle's.
    pub shadow_mismatch: bool,
}

impl BlockRecord {
    /// The record of `applied`. Its counters are those of the parallel engine when it
    /// ran (the candidate in shadow mode), else those of the oracle.
    pub fn from_applied(applied: &AppliedBlock) -> Self {
        let described = match (&applied.path, &applied.shadow) {
            (ExecutionPath::Shadow, Some(report)) => {
                report.candidate_stats.as_ref().unwrap_or(&applied.stats)
            }
            _ => &applied.stats,
        };
        let per_txn = |count: u64| {
            if described.transactions == 0 {
                0.0
            } else {
                count as f64 / described.transactions as f64
            }
        };
        let block_stm = described.block_stm.unwrap_or_default();
        Self {
            topoheight: applied.topoheight,
            applied_at_unix_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| {
                    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
                }),
            transactions: applied.transactions,
            successful: applied.successful,
            path: applied.path,
            engine: applied.engine.to_owned(),
            execute_seconds: applied.engine_time.as_secs_f64(),
            commit_seconds: applied.commit_time.as_secs_f64(),
            executions_per_txn: per_txn(described.executions),
            validations_per_txn: per_txn(block_stm.validations),
            aborts: block_stm.aborts,
            achieved_parallelism: block_stm.achieved_parallelism(),
            engine_sequential: described.sequential_blocks > 0,
            fallback: described.fallbacks > 0,
            shadow_mismatch: applied
                .shadow
                .as_ref()
                .is_some_and(|report| report.mismatch.is_some()),
        }
    }
}

/// Averages over the latest blocks ([`RECENT_BLOCKS`] at most).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RecentAverages {
    /// How many blocks the averages cover.
    pub blocks: u64,
    /// Transactions per block.
    pub transactions_per_block: f64,
    /// Transactions per second of execution and commit time.
    pub transactions_per_second: f64,
    /// Seconds executing per block.
    pub execute_seconds: f64,
    /// Seconds committing per block.
    pub commit_seconds: f64,
    /// Executions per transaction, over all their transactions.
    pub executions_per_txn: f64,
    /// Validations per transaction, over all their transactions.
    pub validations_per_txn: f64,
    /// Aborts per block.
    pub aborts_per_block: f64,
    /// Block-STM's achieved parallelism, the mean over the blocks it ran in parallel
    /// (absent when it ran none).
    pub achieved_parallelism: Option<f64>,
}

/// The latest blocks, oldest first, at most `capacity` of them; see the module docs.
#[derive(Clone, Debug)]
pub struct BlockHistory {
    capacity: usize,
    records: VecDeque<BlockRecord>,
}

impl Default for BlockHistory {
    fn default() -> Self {
        Self::new(DEFAULT_HISTORY_CAPACITY)
    }
}

impl BlockHistory {
    /// An empty ring that keeps the latest `capacity` blocks (0 keeps none).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            // Grows with use: a large capacity costs nothing until blocks fill it.
            records: VecDeque::with_capacity(capacity.min(64)),
        }
    }

    /// How many blocks it keeps at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many it holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Adds the latest block, dropping the oldest when full.
    pub fn push(&mut self, record: BlockRecord) {
        if self.capacity == 0 {
            return;
        }
        while self.records.len() >= self.capacity {
            self.records.pop_front();
        }
        self.records.push_back(record);
    }

    /// The latest `n` blocks (all it holds when it holds fewer), oldest first.
    pub fn last(&self, n: usize) -> Vec<BlockRecord> {
        let skip = self.records.len().saturating_sub(n);
        self.records.iter().skip(skip).cloned().collect()
    }

    /// Averages over the latest [`RECENT_BLOCKS`] blocks.
    pub fn recent_averages(&self) -> RecentAverages {
        let skip = self.records.len().saturating_sub(RECENT_BLOCKS);
        let recent: Vec<&BlockRecord> = self.records.iter().skip(skip).collect();
        if recent.is_empty() {
            return RecentAverages::default();
        }
        let blocks = recent.len() as f64;
        let sum = |value: fn(&BlockRecord) -> f64| recent.iter().map(|r| value(r)).sum::<f64>();
        let transactions = sum(|r| r.transactions as f64);
        let seconds = sum(|r| r.execute_seconds + r.commit_seconds);
        let ratio = |numerator: f64, denominator: f64| {
            if denominator > 0.0 {
                numerator / denominator
            } else {
                0.0
            }
        };
        let parallel: Vec<f64> = recent
            .iter()
            .filter_map(|r| r.achieved_parallelism)
            .collect();
        RecentAverages {
            blocks: recent.len() as u64,
            transactions_per_block: transactions / blocks,
            transactions_per_second: ratio(transactions, seconds),
            execute_seconds: sum(|r| r.execute_seconds) / blocks,
            commit_seconds: sum(|r| r.commit_seconds) / blocks,
            executions_per_txn: ratio(
                sum(|r| r.executions_per_txn * r.transactions as f64),
                transactions,
            ),
            validations_per_txn: ratio(
                sum(|r| r.validations_per_txn * r.transactions as f64),
                transactions,
            ),
            aborts_per_block: sum(|r| r.aborts as f64) / blocks,
            achieved_parallelism: (!parallel.is_empty())
                .then(|| parallel.iter().sum::<f64>() / parallel.len() as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(topoheight: u64) -> BlockRecord {
        BlockRecord {
            topoheight,
            applied_at_unix_ms: 0,
            transactions: 10,
            successful: 10,
            path: ExecutionPath::Engine,
            engine: "block-stm".to_owned(),
            execute_seconds: 0.5,
            commit_seconds: 0.5,
            executions_per_txn: 1.5,
            validations_per_txn: 2.0,
            aborts: 3,
            achieved_parallelism: topoheight.is_multiple_of(2).then_some(2.0),
            engine_sequential: false,
            fallback: false,
            shadow_mismatch: false,
        }
    }

    #[test]
    fn keeps_the_latest_capacity_blocks_oldest_first() {
        let mut history = BlockHistory::new(3);
        assert!(history.is_empty());
        for topoheight in 1..=5 {
            history.push(record(topoheight));
        }
        assert_eq!(history.len(), 3);
        let heights =
            |records: Vec<BlockRecord>| records.iter().map(|r| r.topoheight).collect::<Vec<_>>();
        assert_eq!(heights(history.last(10)), [3, 4, 5]);
        assert_eq!(heights(history.last(2)), [4, 5]);
        assert_eq!(heights(history.last(0)), Vec::<u64>::new());
    }

    #[test]
    fn zero_capacity_keeps_nothing() {
        let mut history = BlockHistory::new(0);
        history.push(record(1));
        assert!(history.is_empty());
        assert_eq!(history.recent_averages(), RecentAverages::default());
    }

    #[test]
    fn averages_cover_the_recent_blocks() {
        let mut history = BlockHistory::default();
        assert_eq!(history.capacity(), DEFAULT_HISTORY_CAPACITY);
        for topoheight in 1..=(RECENT_BLOCKS as u64 + 10) {
            history.push(record(topoheight));
        }
        let averages = history.recent_averages();
        assert_eq!(averages.blocks, RECENT_BLOCKS as u64);
        assert_eq!(averages.transactions_per_block, 10.0);
        assert_eq!(averages.transactions_per_second, 10.0);
        assert_eq!(averages.execute_seconds, 0.5);
        assert_eq!(averages.executions_per_txn, 1.5);
        assert_eq!(averages.validations_per_txn, 2.0);
        assert_eq!(averages.aborts_per_block, 3.0);
        assert_eq!(averages.achieved_parallelism, Some(2.0));
    }
}
