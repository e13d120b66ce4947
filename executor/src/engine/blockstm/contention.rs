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
//!
//! The same sample picks the block's *hot* balances: those credited so often that two
//! transactions in flight at once would often both credit them. Block-STM changes those
//! by deltas ([`mvmemory::Write::Delta`]), so credits there do not conflict, and the
//! estimate leaves them out. Other balances stay exact reads and writes: on a balance
//! that one or two transactions touch, a delta saves nothing and costs a resolution at
//! commit.

use rustc_hash::{FxHashMap, FxHashSet};
use storage_adapter::{ContractId, PublicKey, StateKey};

use crate::model::{Payload, Transaction};

/// Transactions sampled from the start of the block.
const SAMPLE: usize = 256;

/// The window is the number of transactions in flight at once: about two per worker (one
/// executing, one executed and awaiting validation), capped because a wider window than
/// this says little more about aborts.
const MAX_WINDOW: usize = 16;

/// The claim sizes tried, largest first. Past 16, a claim saves little more of the
/// shared-counter traffic and holds back transactions that another worker could start.
const CLAIM_SIZES: [usize; 4] = [16, 8, 4, 2];

/// The most transactions all workers' claims may span together: two workers' runs of
/// 16, the largest measured to help (`papers/results.md`).
const MAX_CLAIMED_IN_FLIGHT: usize = 32;

/// Claims are used only up to this many workers. Measured on 16 cores
/// (`papers/results.md`), claims of any size made blocks slower at 8 and 16 threads:
/// a worker starts its claimed transactions before validating, so validations drift to
/// the single committer, which then validates serially what idle workers could have
/// validated in parallel. On two workers that costs little and the locality wins.
const MAX_CLAIMING_THREADS: usize = 2;

/// The most conflicts (percent of the sample) a claim size may bring: each one is a
/// likely re-execution, and a claim saves only a fraction of an execution's cost.
const MAX_CLAIM_CONFLICT_PERCENT: u8 = 5;

/// What the sample says about a block.
#[derive(Debug)]
pub(crate) struct BlockShape {
    /// The percentage (0–100) of the first [`SAMPLE`] transactions that touch an account
    /// one of the `2 × threads` transactions just before them also touches, credits to a
    /// hot balance aside.
    pub(crate) conflict_percent: u8,
    /// The balances to change by deltas (empty without deltas).
    pub(crate) hot: FxHashSet<StateKey>,
    /// Those of them whose account sends none of the sampled transactions: balances the
    /// block only credits, which nobody reads while it runs, so Block-STM settles them at
    /// commit ([`blockstm_driver::ParallelTask::sinks`]).
    pub(crate) receive_only: Vec<StateKey>,
    /// How many consecutive transactions a worker claims at once
    /// ([`blockstm_driver::ParallelTask::claim_size`]): the largest of [`CLAIM_SIZES`]
    /// for which few sampled transactions conflict within `size × threads` of each
    /// other, since that is about how far apart the workers' claims run, and
    /// `size × threads` stays within [`MAX_CLAIMED_IN_FLIGHT`]; 1 otherwise, and always
    /// 1 above [`MAX_CLAIMING_THREADS`] workers.
    pub(crate) claim_size: usize,
}

/// No conflicts, no hot balances, one transaction per claim: a block too small to say more.
impl Default for BlockShape {
    fn default() -> Self {
        Self {
            conflict_percent: 0,
            hot: FxHashSet::default(),
            receive_only: Vec::new(),
            claim_size: 1,
        }
    }
}

/// Looks at the first [`SAMPLE`] transactions of a block to be run on `threads` threads;
/// `deltas` says whether hot balances may be changed by deltas.
pub(crate) fn analyze(transactions: &[Transaction], threads: usize, deltas: bool) -> BlockShape {
    let sample = &transactions[..transactions.len().min(SAMPLE)];
    if sample.len() < 2 {
        return BlockShape::default();
    }
    let window = threads.saturating_mul(2).clamp(1, MAX_WINDOW);
    let hot = if deltas {
        hot_balances(sample, window)
    } else {
        FxHashSet::default()
    };
    let conflict_percent = conflict_percent_within(sample, window, &hot);
    // A contract call's keys are unknown here, so the sample cannot say how often
    // neighbouring calls conflict, and a claim that runs several calls to one pool or
    // counter on one worker while the next claim runs more on the other aborts whole
    // claims (measured on `amm`: 0.69× sequential with claims, 1.25× without; `token`,
    // whose calls seldom conflict, gained nothing from claims). Such blocks claim one
    // transaction at a time.
    let calls_contracts = sample.iter().any(Transaction::calls_contract);
    let claim_size = CLAIM_SIZES
        .into_iter()
        .filter(|size| {
            !calls_contracts
                && threads <= MAX_CLAIMING_THREADS
                && size * threads <= MAX_CLAIMED_IN_FLIGHT
        })
        .find(|size| {
            let window = size.saturating_mul(threads).min(sample.len() - 1);
            conflict_percent_within(sample, window, &hot) <= MAX_CLAIM_CONFLICT_PERCENT
        })
        .unwrap_or(1);
    let senders: FxHashSet<&PublicKey> = sample.iter().map(Transaction::source).collect();
    let mut receive_only: Vec<StateKey> = hot
        .iter()
        .filter(|key| match key {
            StateKey::Balance(account, _) => !senders.contains(account),
            _ => false,
        })
        .copied()
        .collect();
    // Hash-set order differs between runs; the memory's sink order should not.
    receive_only.sort_unstable();
    BlockShape {
        conflict_percent,
        hot,
        receive_only,
        claim_size,
    }
}

/// The percentage (0–100) of `sample` that touches an account one of the `window`
/// transactions just before it also touches, credits to `hot` balances aside.
///
/// A contract call's keys are unknown, with one exception the estimate uses: two calls
/// to one contract with the *same input* from different senders almost surely touch the
/// same keys (the input is all that tells them apart besides the caller: a mint taking
/// the next id from one counter, a vote for one option), so they count as a conflict.
/// Calls whose inputs differ (token transfers to different holders) count as
/// independent; the ones that do conflict cost re-executions, never correctness.
fn conflict_percent_within(sample: &[Transaction], window: usize, hot: &FxHashSet<StateKey>) -> u8 {
    if sample.len() < 2 {
        return 0;
    }
    // The last sampled transaction that touched each account.
    let mut last: FxHashMap<&PublicKey, usize> =
        FxHashMap::with_capacity_and_hasher(sample.len() * 2, Default::default());
    // The last sampled call of each contract with each input.
    let mut last_call: FxHashMap<(&ContractId, &[u8]), usize> = FxHashMap::default();
    let mut conflicts = 0usize;
    for (index, tx) in sample.iter().enumerate() {
        let mut conflict = match tx.payload() {
            Payload::InvokeContract {
                contract, input, ..
            } => last_call
                .insert((contract, input.as_slice()), index)
                .is_some_and(|previous| index - previous <= window),
            _ => false,
        };
        let mut touch = |account| {
            if let Some(previous) = last.insert(account, index) {
                // `previous == index`: the transaction names the account twice.
                conflict |= previous != index && index - previous <= window;
            }
        };
        touch(tx.source());
        for (destination, asset) in credits(tx) {
            if !hot.contains(&StateKey::Balance(*destination, asset)) {
                touch(destination);
            }
        }
        conflicts += usize::from(conflict);
    }
    // At most 100: the first transaction never conflicts.
    u8::try_from(conflicts * 100 / (sample.len() - 1)).unwrap_or(100)
}

/// The balances credited in at least one of every `2 × window` sampled transactions
/// (and at least twice): at that rate, two transactions in flight at once often credit
/// the same one.
fn hot_balances(sample: &[Transaction], window: usize) -> FxHashSet<StateKey> {
    let mut counts: FxHashMap<StateKey, usize> = FxHashMap::default();
    for tx in sample {
        for (destination, asset) in credits(tx) {
            *counts
                .entry(StateKey::Balance(*destination, asset))
                .or_default() += 1;
        }
    }
    counts
        .into_iter()
        .filter(|(_, count)| *count >= 2 && count * 2 * window >= sample.len())
        .map(|(key, _)| key)
        .collect()
}

/// The accounts and assets a transaction credits.
fn credits(tx: &Transaction) -> impl Iterator<Item = (&PublicKey, storage_adapter::Asset)> {
    let transfers = match tx.payload() {
        Payload::Transfers(transfers) => transfers.as_slice(),
        // A contract call's credits are decided by its code: unknown here.
        Payload::Burn { .. }
        | Payload::Multisig { .. }
        | Payload::DeployContract { .. }
        | Payload::InvokeContract { .. } => &[],
    };
    transfers
        .iter()
        .filter(|transfer| transfer.amount != 0)
        .map(|transfer| (&transfer.destination, transfer.asset))
}

/// The conflict estimate alone, deltas off.
#[cfg(test)]
fn conflict_percent(transactions: &[Transaction], threads: usize) -> u8 {
    analyze(transactions, threads, false).conflict_percent
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
    fn credits_to_a_hot_receiver_do_not_conflict_with_deltas() {
        let block: Vec<_> = (0..200).map(|i| pay(i % 100 + 1, 0)).collect();
        assert_eq!(conflict_percent(&block, 2), 100);
        let shape = analyze(&block, 2, true);
        assert_eq!(
            shape.hot.into_iter().collect::<Vec<_>>(),
            [StateKey::Balance(account(0), Asset::TOS)]
        );
        assert_eq!(shape.conflict_percent, 0);
        // Account 0 sends nothing: its balance is only credited.
        assert_eq!(
            shape.receive_only,
            [StateKey::Balance(account(0), Asset::TOS)]
        );
    }

    #[test]
    fn a_hot_balance_whose_account_also_sends_is_not_receive_only() {
        let block: Vec<_> = (0..200)
            .map(|i| {
                if i % 50 == 7 {
                    pay(0, 9)
                } else {
                    pay(i % 100 + 1, 0)
                }
            })
            .collect();
        let shape = analyze(&block, 2, true);
        assert!(shape
            .hot
            .contains(&StateKey::Balance(account(0), Asset::TOS)));
        assert!(shape.receive_only.is_empty(), "{:?}", shape.receive_only);
    }

    #[test]
    fn balances_credited_now_and_then_stay_exact() {
        // Each of 64 accounts credited 4 times in 256: once in 64, below one in 8.
        let block: Vec<_> = (0..=255u8).map(|i| pay(i, 128 + i % 64)).collect();
        assert!(analyze(&block, 2, true).hot.is_empty());
    }

    #[test]
    fn claims_grow_as_long_as_runs_of_that_length_seldom_conflict() {
        let disjoint: Vec<_> = (0..200).map(|i| pay(i, 255 - (i % 50))).collect();
        // Receivers repeat every 50 transactions: claims of 16 on 2 threads (32 in
        // flight) never meet one twice.
        assert_eq!(analyze(&disjoint, 2, false).claim_size, 16);
        let every_20: Vec<_> = (0..200).map(|i| pay(i, 255 - (i % 20))).collect();
        assert_eq!(analyze(&every_20, 2, false).claim_size, 8);
        let ping_pong: Vec<_> = (0..100).map(|i| pay(i % 2, 1 - i % 2)).collect();
        assert_eq!(analyze(&ping_pong, 2, false).claim_size, 1);
        assert_eq!(analyze(&[], 2, false).claim_size, 1);
        // Claims only on two workers, where they were measured to help.
        let distinct: Vec<_> = (0..120).map(|i| pay(i, 255 - i)).collect();
        assert_eq!(analyze(&distinct, 2, false).claim_size, 16);
        assert_eq!(analyze(&distinct, 3, false).claim_size, 1);
        assert_eq!(analyze(&distinct, 16, false).claim_size, 1);
    }

    #[test]
    fn tiny_blocks_do_not_conflict() {
        assert_eq!(conflict_percent(&[], 2), 0);
        assert_eq!(conflict_percent(&[pay(1, 2)], 2), 0);
    }

    #[test]
    fn blocks_with_contract_calls_claim_one_transaction_at_a_time() {
        // Independent transfers: claims of the largest size.
        let transfers: Vec<Transaction> = (0..100).map(|i| pay(2 * i, 2 * i + 1)).collect();
        assert!(analyze(&transfers, 2, true).claim_size > 1);
        // The same with one contract call among them: its keys are unknown.
        let mut with_call = transfers;
        with_call[50] = Transaction::new(
            account(250),
            0,
            1,
            Payload::InvokeContract {
                contract: storage_adapter::ContractId([1; 32]),
                deposits: Vec::new(),
                max_gas: 1_000,
                input: Vec::new(),
            },
        );
        assert_eq!(analyze(&with_call, 2, true).claim_size, 1);
    }

    fn call(source: u8, input: Vec<u8>) -> Transaction {
        Transaction::new(
            account(source),
            0,
            1,
            Payload::InvokeContract {
                contract: ContractId([1; 32]),
                deposits: Vec::new(),
                max_gas: 1_000,
                input,
            },
        )
    }

    #[test]
    fn calls_with_one_input_to_one_contract_count_as_conflicts() {
        // A mint: every sender calls the same contract with the same input.
        let mints: Vec<Transaction> = (0..100).map(|i| call(i, vec![0])).collect();
        assert_eq!(conflict_percent(&mints, 2), 100);
        // Token transfers: distinct inputs, distinct senders.
        let transfers: Vec<Transaction> = (0..100).map(|i| call(i, vec![2, i])).collect();
        assert_eq!(conflict_percent(&transfers, 2), 0);
    }
}
