//! What `GET /status` (and `blockstm status`) shows: the configuration in effect and any
//! waiting for the next block, the circuit breaker, the chain, the totals since start,
//! averages over the recent blocks, and the health.

use serde::{Deserialize, Serialize};

use super::health::Health;
use super::history::RecentAverages;
use crate::slot::{BreakerState, CircuitBreaker, ExecutorConfig, Network};

/// The node's status; see the module docs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The configured engine's name, in the configuration in effect.
    pub engine: String,
    /// Worker threads of a parallel engine (the configured count, or the machine's).
    pub threads: usize,
    /// The chain followed.
    pub network: Network,
    /// Whether shadow mode is on.
    pub shadow: bool,
    /// Blocks with fewer transactions run on the oracle.
    pub min_parallel_txns: usize,
    /// The circuit breaker.
    pub breaker: BreakerStatus,
    /// The chain's topoheight (`None` before genesis).
    pub topoheight: Option<u64>,
    /// Seconds since the node started.
    pub uptime_seconds: f64,
    /// Blocks applied since the node started.
    pub blocks: u64,
    /// Their transactions.
    pub transactions: u64,
    /// Those that succeeded.
    pub successful_transactions: u64,
    /// Averages over the latest blocks.
    pub recent: RecentAverages,
    /// Whether the node is healthy, and why not.
    pub health: Health,
    /// The whole configuration in effect.
    pub config: ExecutorConfig,
    /// A configuration accepted but waiting for the next block to start.
    pub pending_config: Option<ExecutorConfig>,
}

/// The circuit breaker, as the status shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerStatus {
    /// Whether it keeps the parallel engine off.
    pub open: bool,
    /// Blocks left before the engine is tried again (0 when closed).
    pub remaining_blocks: u64,
    /// Blocks a trip keeps it open.
    pub cooldown_blocks: u64,
    /// Times it opened since the node started.
    pub trips: u64,
}

impl From<&CircuitBreaker> for BreakerStatus {
    fn from(breaker: &CircuitBreaker) -> Self {
        let remaining_blocks = match breaker.state() {
            BreakerState::Closed => 0,
            BreakerState::Open { remaining_blocks } => remaining_blocks,
        };
        Self {
            open: breaker.state() != BreakerState::Closed,
            remaining_blocks,
            cooldown_blocks: breaker.cooldown_blocks(),
            trips: breaker.trips(),
        }
    }
}
