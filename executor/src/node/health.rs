//! Whether the node is healthy, for a load balancer or an orchestrator (`GET /health`):
//! it applies blocks, the last one did not fail, and the circuit breaker is closed.
//!
//! Each reason for being unhealthy is reported, so an operator reads from the answer
//! alone what to look at; the runbook says what to do about each.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long without a block before the node counts as stalled, by default.
pub const DEFAULT_MAX_BLOCK_AGE: Duration = Duration::from_secs(120);

/// What the node counts as healthy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthPolicy {
    /// Longest time since the last applied block (or since the node started, before its
    /// first block) that is still healthy; `None` never counts the node as stalled.
    pub max_block_age: Option<Duration>,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        Self {
            max_block_age: Some(DEFAULT_MAX_BLOCK_AGE),
        }
    }
}

/// The node's health: healthy, or the reasons it is not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// No reason below.
    pub healthy: bool,
    /// Seconds since the last applied block (since the node started, before any).
    pub seconds_since_last_block: f64,
    /// Why it is not healthy (empty when it is).
    pub reasons: Vec<HealthReason>,
}

/// One reason the node is not healthy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum HealthReason {
    /// The circuit breaker keeps the parallel engine off (blocks run on the oracle).
    BreakerOpen {
        /// Blocks left before the engine is tried again.
        remaining_blocks: u64,
    },
    /// The last block the node tried to apply failed (nothing of it was committed).
    LastBlockFailed {
        /// Its topoheight.
        topoheight: u64,
        /// Why.
        error: String,
    },
    /// No block for longer than [`HealthPolicy::max_block_age`].
    NoRecentBlock {
        /// Seconds since the last block (or the start).
        seconds_since_last_block: f64,
        /// The limit.
        max_seconds: f64,
    },
}

impl std::fmt::Display for HealthReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HealthReason::BreakerOpen { remaining_blocks } => write!(
                f,
                "circuit breaker open ({remaining_blocks} blocks before the engine is tried again)"
            ),
            HealthReason::LastBlockFailed { topoheight, error } => {
                write!(f, "block {topoheight} failed: {error}")
            }
            HealthReason::NoRecentBlock {
                seconds_since_last_block,
                max_seconds,
            } => write!(
                f,
                "no block for {seconds_since_last_block:.0} s (limit {max_seconds:.0} s)"
            ),
        }
    }
}

impl Health {
    /// The health given its reasons.
    pub fn from_reasons(seconds_since_last_block: f64, reasons: Vec<HealthReason>) -> Self {
        Self {
            healthy: reasons.is_empty(),
            seconds_since_last_block,
            reasons,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_serialize_with_their_name() {
        let health = Health::from_reasons(
            3.0,
            vec![HealthReason::BreakerOpen {
                remaining_blocks: 2,
            }],
        );
        assert!(!health.healthy);
        let json = serde_json::to_value(&health).expect("serializable");
        assert_eq!(json["reasons"][0]["reason"], "breaker_open");
        assert_eq!(json["reasons"][0]["remaining_blocks"], 2);
        let back: Health = serde_json::from_value(json).expect("round trip");
        assert_eq!(back, health);
        assert!(Health::from_reasons(0.0, Vec::new()).healthy);
    }
}
