//! Which transactions may run together: batch grouping's partition of a block into
//! batches of transactions that share no account.
//!
//! The accounts of a transaction are its source and its transfer destinations
//! ([`Transaction::accounts`]); every key it reads or writes belongs to one of them, so
//! transactions with disjoint accounts cannot see each other's writes.

use std::ops::Range;

use rustc_hash::FxHashMap;
use storage_adapter::PublicKey;

use crate::model::Transaction;

/// Splits `transactions` into batches, greedily in block order: a batch ends just before
/// the first transaction that touches (as source or transfer destination) an account that
/// an earlier transaction of the batch touches. The ranges cover `0..transactions.len()`
/// in order; no two transactions of one batch share an account.
pub fn batches(transactions: &[Transaction]) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    // The last transaction that touched each account: it is in the current batch exactly
    // when it is at or after the batch's start, so the map is never cleared.
    let mut last: FxHashMap<PublicKey, usize> = FxHashMap::with_capacity_and_hasher(
        transactions.len().saturating_mul(2),
        Default::default(),
    );
    let mut start = 0;
    for (index, tx) in transactions.iter().enumerate() {
        let mut conflict = false;
        let mut touch = |account: &PublicKey| {
            if let Some(previous) = last.insert(*account, index) {
                // `previous == index`: the transaction names the account twice.
                conflict |= previous >= start && previous != index;
            }
        };
        tx.accounts().for_each(&mut touch);
        if conflict {
            ranges.push(start..index);
            start = index;
        }
    }
    if start < transactions.len() {
        ranges.push(start..transactions.len());
    }
    ranges
}
