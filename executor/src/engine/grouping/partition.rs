//! Which transactions may run together: batch grouping's partition of a block into
//! batches of transactions that share no account.
//!
//! The accounts of a transaction are its source and its transfer destinations
//! ([`Transaction::accounts`]); every key it reads or writes belongs to one of them, so
//! transactions with disjoint accounts cannot see each other's writes. (A deploy's one
//! other key, its new contract's module, is read only by calls to it.)
//!
//! A contract call is the exception: the storage, contract balances and accounts it
//! touches are decided by its code and the state it reads, so nothing about them is known
//! before it runs. Grouping can only assume it conflicts with everything, as the daemon's
//! plan does with its global contract lock: a call is a batch of its own, and the
//! transactions around it cannot run beside it. Doing better needs key lists up front
//! (declared by the sender, or found by a trial run), which the TOS format does not have.

use std::ops::Range;

use rustc_hash::FxHashMap;
use storage_adapter::PublicKey;

use crate::model::Transaction;

/// Splits `transactions` into batches, greedily in block order: a batch ends just before
/// the first transaction that touches (as source or transfer destination) an account that
/// an earlier transaction of the batch touches, and every contract call is a batch of
/// its own. The ranges cover `0..transactions.len()` in order; no two transactions of one
/// batch share an account.
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
        if tx.calls_contract() {
            if start < index {
                ranges.push(start..index);
            }
            ranges.push(index..index + 1);
            start = index + 1;
            continue;
        }
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
