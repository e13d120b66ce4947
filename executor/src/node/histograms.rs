//! Per-block distributions for `/metrics`: execute and commit time, block size and
//! Block-STM's achieved parallelism, as Prometheus histograms (`_bucket{le=..}`, `_sum`,
//! `_count`).
//!
//! Unlike the counters, which [`metrics::render`](super::metrics::render) builds from a
//! [`NodeStats`](super::NodeStats) snapshot at each scrape, a histogram needs every
//! observation: the node observes each applied block here (a few atomic adds), and a
//! scrape collects them.

use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{Histogram, HistogramOpts};

use super::history::BlockRecord;

/// Every histogram name this module exports (each with `_bucket`, `_sum`, `_count`).
pub const HISTOGRAM_NAMES: &[&str] = &[
    "tos_node_block_execute_seconds",
    "tos_node_block_commit_seconds",
    "tos_node_block_transactions",
    "tos_executor_achieved_parallelism",
];

/// Buckets of the time histograms, in seconds: 0.5 ms to 10 s, about ×2–2.5 apart.
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Buckets of the block size histogram, in transactions: the parallel thresholds (4, 10,
/// 20) up to the workloads' 10,000 and the largest block (65,535).
const TRANSACTION_BUCKETS: &[f64] = &[
    0.0, 1.0, 4.0, 10.0, 20.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 25000.0,
    65535.0,
];

/// Buckets of the achieved parallelism (busy cores): quarter steps up to 4, then to 64.
const PARALLELISM_BUCKETS: &[f64] = &[
    0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 6.0, 8.0, 16.0, 32.0, 64.0,
];

/// The node's per-block histograms; see the module docs.
#[derive(Debug)]
pub struct BlockHistograms {
    execute: Option<Histogram>,
    commit: Option<Histogram>,
    transactions: Option<Histogram>,
    parallelism: Option<Histogram>,
}

impl Default for BlockHistograms {
    fn default() -> Self {
        Self::new()
    }
}

impl BlockHistograms {
    /// Empty histograms.
    pub fn new() -> Self {
        Self {
            execute: histogram(
                HISTOGRAM_NAMES[0],
                "Seconds executing a block (both engines in shadow mode).",
                SECONDS_BUCKETS,
            ),
            commit: histogram(
                HISTOGRAM_NAMES[1],
                "Seconds committing a block.",
                SECONDS_BUCKETS,
            ),
            transactions: histogram(
                HISTOGRAM_NAMES[2],
                "Transactions per applied block.",
                TRANSACTION_BUCKETS,
            ),
            parallelism: histogram(
                HISTOGRAM_NAMES[3],
                "Block-STM's achieved parallelism per block run in parallel: workers' busy time over the block's wall time.",
                PARALLELISM_BUCKETS,
            ),
        }
    }

    /// Observes one applied block.
    pub fn observe(&self, record: &BlockRecord) {
        let observe = |histogram: &Option<Histogram>, value: f64| {
            if let Some(histogram) = histogram {
                histogram.observe(value);
            }
        };
        observe(&self.execute, record.execute_seconds);
        observe(&self.commit, record.commit_seconds);
        observe(&self.transactions, record.transactions as f64);
        if let Some(parallelism) = record.achieved_parallelism {
            observe(&self.parallelism, parallelism);
        }
    }

    /// The histograms as metric families, for the text encoder.
    pub fn collect(&self) -> Vec<MetricFamily> {
        [
            &self.execute,
            &self.commit,
            &self.transactions,
            &self.parallelism,
        ]
        .into_iter()
        .flatten()
        .flat_map(Collector::collect)
        .collect()
    }
}

/// A histogram, or `None` (logged) if the crate refuses the options: they are constants
/// of this module, so that would be a bug here, and it must not fail a block.
fn histogram(name: &str, help: &str, buckets: &[f64]) -> Option<Histogram> {
    match Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec())) {
        Ok(histogram) => Some(histogram),
        Err(error) => {
            tracing::warn!(name, %error, "a histogram could not be built");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_histogram_is_built_and_collected() {
        let histograms = BlockHistograms::new();
        let families = histograms.collect();
        let names: Vec<&str> = families.iter().map(|family| family.name()).collect();
        assert_eq!(names, HISTOGRAM_NAMES);
    }
}
