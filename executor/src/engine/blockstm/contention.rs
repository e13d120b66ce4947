//! A cheap look at a block before running it in parallel: how often do its transactions
//! touch an account that a transaction just before them touches?
//!
//! Block-STM pays for speculation with re-executions, and on a block where nearly every
//! transaction depends on the one before it (a few accounts paying each other, one sender's
//! nonce chain) all of that speculation is wasted: the workers take turns aborting each
//! other, and the block runs slower than on one thread. TOS transactions name their
//! accounts (source and transfer destinations) up front, so the engine can estimate the
//! conflict rate from a sample at the start of the block, for a few microseconds, and run
//! such a block on the sequential path instead. The estimate only picks a path: both
//! paths give the same output, so a wrong guess costs time, never correctness.

use rustc_hash::FxHashMap;
use storage_adapter::PublicKey;

use crate::model::Transaction;

/// Transactions sampled from the start of the block.
const SAMPLE: usize = 256;

/// The window is the number of transactions in flight at once: about two per worker (one
/// executing, one executed and awaiting validation), capped because a wider window than
/// this says little more about aborts.
const MAX_WINDOW: usize = 16;

/// The percentage (0–100) of the first [`SAMPLE`] transactions that touch an account one
/// of the `2 × threads` transactions just before them also touches.
pub(crate) fn conflict_percent(transactions: &[Transaction], threads: usize) -> u8 {
    let sample = &transactions[..transactions.len().min(SAMPLE)];
    if sample.len() < 2 {
        return 0;
    }
    let window = threads.saturating_mul(2).clamp(1, MAX_WINDOW);
    // The last sampled transaction that touched each account.
    let mut last: FxHashMap<&PublicKey, usize> =
        FxHashMap::with_capacity_and_hasher(sample.len() * 2, Default::default());
    let mut conflicts = 0usize;
    for (index, tx) in sample.iter().enumerate() {
        let mut conflict = false;
        for account in tx.accounts() {
            if let Some(previous) = last.insert(account, index) {
                // `previous == index`: the transaction names the account twice.
                conflict |= previous != index && index - previous <= window;
            }
        }
        conflicts += usize::from(conflict);
    }
    // At most 100: the first transaction never conflicts.
    u8::try_from(conflicts * 100 / (sample.len() - 1)).unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Payload, Transfer};
    use storage_adapter::Asset;

    fn account(n: u8) -> PublicKey {
        PublicKey::from([n; 32])
    }

    fn pay(source: u8, destination: u8) -> Transaction {
        Transaction::new(
            account(source),
            0,
            1,
            Payload::Transfers(vec![Transfer::new(Asset::TOS, account(destination), 1)]),
        )
    }

    #[test]
    fn two_accounts_paying_each_other_always_conflict() {
        let block: Vec<_> = (0..100).map(|i| pay(i % 2, 1 - i % 2)).collect();
        assert_eq!(conflict_percent(&block, 2), 100);
    }

    #[test]
    fn disjoint_transfers_never_conflict() {
        let block: Vec<_> = (0..100).map(|i| pay(2 * i, 2 * i + 1)).collect();
        assert_eq!(conflict_percent(&block, 2), 0);
    }

    #[test]
    fn only_transactions_inside_the_window_count() {
        // Account 255 is touched every 6th transaction: outside a window of 4 (2 threads),
        // inside a window of 8 (4 threads). No other account is named twice.
        let block: Vec<_> = (0..120)
            .map(|i| {
                if i % 6 == 0 {
                    pay(255, i)
                } else {
                    pay(i, i + 128)
                }
            })
            .collect();
        assert_eq!(conflict_percent(&block, 2), 0);
        assert!(conflict_percent(&block, 4) > 10);
    }

    #[test]
    fn tiny_blocks_do_not_conflict() {
        assert_eq!(conflict_percent(&[], 2), 0);
        assert_eq!(conflict_percent(&[pay(1, 2)], 2), 0);
    }
}
