//! The circuit breaker: after the parallel engine disagrees with the oracle or falls back,
//! it is switched off for a cooldown of blocks, then tried again.
//!
//! A disagreement is a bug in the engine, and a fallback means its parallel path failed;
//! either way a node should not keep paying for speculation that it then throws away,
//! but one bad block should not turn the engine off for good either.

/// Whether the parallel engine may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// The parallel engine runs.
    Closed,
    /// The next `remaining_blocks` blocks run sequentially.
    Open {
        /// Blocks left before the engine is tried again.
        remaining_blocks: u64,
    },
}

/// Why the breaker opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TripReason {
    /// Shadow mode saw the engine's output differ from the oracle's.
    ShadowMismatch,
    /// The engine fell back to sequential execution after its parallel path failed.
    Fallback,
}

impl std::fmt::Display for TripReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TripReason::ShadowMismatch => "shadow mismatch",
            TripReason::Fallback => "fallback to sequential",
        })
    }
}

/// A cooldown counted in blocks; see the module docs.
#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    cooldown_blocks: u64,
    state: BreakerState,
    trips: u64,
}

impl CircuitBreaker {
    /// A closed breaker that opens for `cooldown_blocks` blocks at each trip (0: never).
    pub fn new(cooldown_blocks: u64) -> Self {
        Self {
            cooldown_blocks,
            state: BreakerState::Closed,
            trips: 0,
        }
    }

    /// Asks, for the next block, whether the parallel engine may run. An open breaker
    /// counts the block against its cooldown and closes once the cooldown is spent, so
    /// the block after the cooldown tries the engine again.
    pub fn admit(&mut self) -> bool {
        match self.state {
            BreakerState::Closed => true,
            BreakerState::Open { remaining_blocks } => {
                let remaining_blocks = remaining_blocks.saturating_sub(1);
                self.state = if remaining_blocks == 0 {
                    tracing::info!("circuit breaker closing: the parallel engine runs again from the next block");
                    BreakerState::Closed
                } else {
                    BreakerState::Open { remaining_blocks }
                };
                false
            }
        }
    }

    /// Opens the breaker (or restarts its cooldown); does nothing when the cooldown is 0.
    pub fn trip(&mut self, reason: TripReason) {
        if self.cooldown_blocks == 0 {
            return;
        }
        self.trips += 1;
        self.state = BreakerState::Open {
            remaining_blocks: self.cooldown_blocks,
        };
        tracing::warn!(
            %reason,
            cooldown_blocks = self.cooldown_blocks,
            trips = self.trips,
            "circuit breaker open: the next blocks run sequentially"
        );
    }

    /// Changes the cooldown of later trips (a new configuration). An open breaker keeps
    /// its remaining blocks, cut to the new cooldown; a cooldown of 0 closes it, since
    /// it means "never open".
    pub fn set_cooldown(&mut self, cooldown_blocks: u64) {
        self.cooldown_blocks = cooldown_blocks;
        if let BreakerState::Open { remaining_blocks } = self.state {
            self.state = if cooldown_blocks == 0 {
                BreakerState::Closed
            } else {
                BreakerState::Open {
                    remaining_blocks: remaining_blocks.min(cooldown_blocks),
                }
            };
        }
    }

    /// Blocks a trip keeps the breaker open for.
    pub fn cooldown_blocks(&self) -> u64 {
        self.cooldown_blocks
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// How many times the breaker has opened.
    pub fn trips(&self) -> u64 {
        self.trips
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_for_the_cooldown_then_closes() {
        let mut breaker = CircuitBreaker::new(3);
        assert!(breaker.admit());
        breaker.trip(TripReason::Fallback);
        assert_eq!(
            breaker.state(),
            BreakerState::Open {
                remaining_blocks: 3
            }
        );
        assert!(!breaker.admit());
        assert!(!breaker.admit());
        assert!(!breaker.admit());
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert!(breaker.admit(), "the block after the cooldown tries again");
        assert_eq!(breaker.trips(), 1);
    }

    #[test]
    fn a_trip_during_the_cooldown_restarts_it() {
        let mut breaker = CircuitBreaker::new(2);
        breaker.trip(TripReason::ShadowMismatch);
        assert!(!breaker.admit());
        breaker.trip(TripReason::ShadowMismatch);
        assert_eq!(
            breaker.state(),
            BreakerState::Open {
                remaining_blocks: 2
            }
        );
        assert_eq!(breaker.trips(), 2);
    }

    #[test]
    fn a_new_cooldown_cuts_an_open_breaker_and_zero_closes_it() {
        let mut breaker = CircuitBreaker::new(10);
        breaker.trip(TripReason::Fallback);
        breaker.set_cooldown(3);
        assert_eq!(
            breaker.state(),
            BreakerState::Open {
                remaining_blocks: 3
            }
        );
        breaker.set_cooldown(50);
        assert_eq!(
            breaker.state(),
            BreakerState::Open {
                remaining_blocks: 3
            },
            "a longer cooldown does not extend the current one"
        );
        breaker.set_cooldown(0);
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(breaker.cooldown_blocks(), 0);
    }

    #[test]
    fn zero_cooldown_never_opens() {
        let mut breaker = CircuitBreaker::new(0);
        breaker.trip(TripReason::Fallback);
        assert!(breaker.admit());
        assert_eq!(breaker.trips(), 0);
    }
}
