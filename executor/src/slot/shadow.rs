//! Shadow comparison: where a candidate engine's result first differs from the oracle's.
//!
//! The report names the first differing transaction, else the first differing key, so an
//! operator can reproduce a mismatch from the log alone.

use std::cmp::Ordering;

use storage_adapter::{Hash, StateKey, StateValue};

use crate::outcome::{BlockError, BlockOutput, TxResult};

/// The first difference between the oracle's result and a candidate's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// One of the two rejected the block and the other did not, or they rejected it
    /// differently.
    Outcome {
        /// The oracle's result, summarised.
        expected: String,
        /// The candidate's.
        got: String,
    },
    /// The two disagree on how many transactions the block has results for.
    ResultCount {
        /// The oracle's count.
        expected: usize,
        /// The candidate's.
        got: usize,
    },
    /// The first transaction whose result differs.
    Transaction {
        /// Its index in the block.
        index: usize,
        /// The oracle's result.
        expected: TxResult,
        /// The candidate's.
        got: TxResult,
    },
    /// The first key (in key order) whose final value differs; `None` means not written.
    Write {
        /// The key.
        key: StateKey,
        /// The oracle's final value.
        expected: Option<StateValue>,
        /// The candidate's.
        got: Option<StateValue>,
    },
    /// The fee or burn totals differ.
    Totals {
        /// `total_fees` or `burned`.
        field: &'static str,
        /// The oracle's.
        expected: u64,
        /// The candidate's.
        got: u64,
    },
    /// Everything above agrees but the state roots do not (executed marks or metadata).
    StateRoot {
        /// The oracle's root.
        expected: Hash,
        /// The candidate's.
        got: Hash,
    },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Outcome { expected, got } => {
                write!(f, "block outcome: oracle {expected}, engine {got}")
            }
            Mismatch::ResultCount { expected, got } => {
                write!(f, "result count: oracle {expected}, engine {got}")
            }
            Mismatch::Transaction {
                index,
                expected,
                got,
            } => write!(
                f,
                "transaction {index}: oracle {expected:?}, engine {got:?}"
            ),
            Mismatch::Write { key, expected, got } => {
                write!(f, "key {key:?}: oracle {expected:?}, engine {got:?}")
            }
            Mismatch::Totals {
                field,
                expected,
                got,
            } => write!(f, "{field}: oracle {expected}, engine {got}"),
            Mismatch::StateRoot { expected, got } => {
                write!(f, "state root: oracle {expected}, engine {got}")
            }
        }
    }
}

/// Compares the candidate's result with the oracle's; `None` when they agree.
pub fn compare(
    oracle: Result<&BlockOutput, &BlockError>,
    candidate: Result<&BlockOutput, &BlockError>,
) -> Option<Mismatch> {
    match (oracle, candidate) {
        (Ok(expected), Ok(got)) => compare_outputs(expected, got),
        (Err(expected), Err(got)) if expected == got => None,
        _ => Some(Mismatch::Outcome {
            expected: summarise(oracle),
            got: summarise(candidate),
        }),
    }
}

fn summarise(result: Result<&BlockOutput, &BlockError>) -> String {
    match result {
        Ok(output) => format!("accepted the block (root {})", output.state_root()),
        Err(error) => format!("rejected the block ({error})"),
    }
}

fn compare_outputs(expected: &BlockOutput, got: &BlockOutput) -> Option<Mismatch> {
    if expected == got {
        return None;
    }
    if let Some((index, (e, g))) = expected
        .results
        .iter()
        .zip(&got.results)
        .enumerate()
        .find(|(_, (e, g))| e != g)
    {
        return Some(Mismatch::Transaction {
            index,
            expected: e.clone(),
            got: g.clone(),
        });
    }
    if expected.results.len() != got.results.len() {
        return Some(Mismatch::ResultCount {
            expected: expected.results.len(),
            got: got.results.len(),
        });
    }
    if let Some(mismatch) = first_differing_write(expected.writes(), got.writes()) {
        return Some(mismatch);
    }
    for (field, e, g) in [
        ("total_fees", expected.total_fees, got.total_fees),
        ("burned", expected.burned, got.burned),
    ] {
        if e != g {
            return Some(Mismatch::Totals {
                field,
                expected: e,
                got: g,
            });
        }
    }
    Some(Mismatch::StateRoot {
        expected: expected.state_root(),
        got: got.state_root(),
    })
}

/// Walks two key-sorted write lists together and reports the first key they disagree on.
fn first_differing_write(
    expected: &[(StateKey, StateValue)],
    got: &[(StateKey, StateValue)],
) -> Option<Mismatch> {
    let (mut e, mut g) = (expected.iter().peekable(), got.iter().peekable());
    loop {
        let mismatch = match (e.peek(), g.peek()) {
            (None, None) => return None,
            (Some((key, value)), None) => (key, Some(value), None),
            (None, Some((key, value))) => (key, None, Some(value)),
            (Some((ek, ev)), Some((gk, gv))) => match ek.cmp(gk) {
                Ordering::Less => (ek, Some(ev), None),
                Ordering::Greater => (gk, None, Some(gv)),
                Ordering::Equal if ev == gv => {
                    e.next();
                    g.next();
                    continue;
                }
                Ordering::Equal => (ek, Some(ev), Some(gv)),
            },
        };
        let (key, expected, got) = mismatch;
        return Some(Mismatch::Write {
            key: *key,
            expected: expected.cloned(),
            got: got.cloned(),
        });
    }
}

/// Whether `result` failed for a reason outside the engines (storage, cancellation):
/// such a block is not evidence either way, so it is never counted as a mismatch.
pub fn is_environmental(result: Result<&BlockOutput, &BlockError>) -> bool {
    matches!(result, Err(BlockError::Storage(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use storage_adapter::PublicKey;

    fn balance(index: u64) -> StateKey {
        StateKey::Balance(PublicKey::from_index(index), storage_adapter::Asset::TOS)
    }

    #[test]
    fn reports_the_first_differing_key() {
        let mut expected = vec![
            (balance(1), StateValue::Balance(5)),
            (balance(2), StateValue::Balance(6)),
        ];
        expected.sort_by_key(|(key, _)| *key);
        let mut got = expected.clone();
        got[1].1 = StateValue::Balance(7);
        let mismatch = first_differing_write(&expected, &got).expect("differs");
        assert!(matches!(mismatch, Mismatch::Write { key, .. } if key == expected[1].0));
        assert_eq!(first_differing_write(&expected, &expected), None);
        let missing = first_differing_write(&expected, &expected[..1]).expect("one missing");
        assert!(matches!(missing, Mismatch::Write { got: None, .. }));
    }
}
