//! The block-level rules every engine shares: validation, the prologue (reward), fee and
//! burn totals, and the epilogue that seals a block into a [`BlockCommit`].
//!
//! Engines differ only in how they run the transactions in between. Keeping these steps
//! in one place is what lets the parallel engine agree with the sequential oracle on
//! everything outside the transactions themselves.

use rustc_hash::FxHashMap;
use storage_adapter::{
    Asset, BlockCommit, ChainState, Hash, PublicKey, StateKey, StateValue, StateView,
};

use crate::model::{Block, MAX_BLOCK_TRANSACTIONS};
use crate::outcome::{BlockError, BlockOutput, TxOutcome, TxResult, MAX_SUPPLY};

/// Checks that `block` may be applied on top of `chain`, whatever the state.
///
/// Rules, checked in this order:
/// 1. the topoheight is `chain.next_topoheight()` ([`BlockError::WrongTopoheight`]);
/// 2. at most [`MAX_BLOCK_TRANSACTIONS`] transactions ([`BlockError::TooManyTransactions`]);
/// 3. in block order, each transaction is well formed
///    ([`BlockError::MalformedTransaction`], see [`crate::model::Transaction::validate`])
///    and its hash differs from every earlier one's ([`BlockError::DuplicateTransaction`]),
///    so the error names the first offending transaction.
///
/// An empty block is valid; a zero fee is valid.
pub fn validate_block(block: &Block, chain: &ChainState) -> Result<(), BlockError> {
    let expected = chain.next_topoheight();
    if block.topoheight() != expected {
        return Err(BlockError::WrongTopoheight {
            expected,
            got: block.topoheight(),
        });
    }
    let transactions = block.transactions();
    if transactions.len() > MAX_BLOCK_TRANSACTIONS {
        return Err(BlockError::TooManyTransactions {
            count: transactions.len(),
        });
    }
    let mut seen = FxHashMap::with_capacity_and_hasher(transactions.len(), Default::default());
    for (index, tx) in transactions.iter().enumerate() {
        tx.validate()
            .map_err(|reason| BlockError::MalformedTransaction { index, reason })?;
        if let Some(&first) = seen.get(tx.hash()) {
            return Err(BlockError::DuplicateTransaction {
                index,
                first,
                hash: *tx.hash(),
            });
        }
        seen.insert(*tx.hash(), index);
    }
    Ok(())
}

/// The block prologue, as a base layer under the transactions: the miner's TOS balance
/// after the reward.
///
/// The reward is applied exactly once, here, never inside a transaction: engines consult
/// [`Prologue::get`] after their own writes and before storage, so a transaction reading
/// the miner's balance sees storage + reward however often it is re-executed. The miner
/// always receives this write (even with a zero reward), so a block's miner always ends
/// up with a balance and hence registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prologue {
    key: StateKey,
    value: StateValue,
}

impl Prologue {
    /// Reads the miner's TOS balance from `view` and adds the reward (checked:
    /// [`BlockError::RewardOverflow`]).
    pub fn new<S: StateView + ?Sized>(block: &Block, view: &S) -> Result<Prologue, BlockError> {
        let key = StateKey::Balance(*block.miner(), Asset::TOS);
        let balance = stored_balance(view, &key)?;
        let rewarded = balance
            .checked_add(block.reward())
            .ok_or(BlockError::RewardOverflow)?;
        Ok(Prologue {
            key,
            value: StateValue::Balance(rewarded),
        })
    }

    /// The base-layer value of `key` if the prologue wrote it (only the miner's TOS
    /// balance).
    pub fn get(&self, key: &StateKey) -> Option<&StateValue> {
        (*key == self.key).then_some(&self.value)
    }

    /// The key the prologue writes: the miner's TOS balance.
    pub fn key(&self) -> &StateKey {
        &self.key
    }

    /// The value the prologue writes at [`Prologue::key`].
    pub fn value(&self) -> &StateValue {
        &self.value
    }
}

/// Fee and burn totals folded in block order with checked arithmetic.
///
/// Totals are not shared state keys (that would make every transaction conflict with
/// every other); each outcome carries its own fee and burn, folded here as outcomes are
/// committed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Fees of the successful transactions so far.
    pub fees: u64,
    /// TOS burned by the successful transactions so far.
    pub burned: u64,
}

impl Totals {
    /// Adds one outcome ([`BlockError::FeeOverflow`] / [`BlockError::BurnOverflow`] when a
    /// sum leaves `u64`). A failed outcome carries zeros and changes nothing.
    pub fn add(&mut self, outcome: &TxOutcome) -> Result<(), BlockError> {
        self.add_amounts(outcome.fee, outcome.burned)
    }

    /// Adds one transaction's fee and burned amount, with the same errors as
    /// [`Totals::add`].
    pub fn add_amounts(&mut self, fee: u64, burned: u64) -> Result<(), BlockError> {
        self.fees = self.fees.checked_add(fee).ok_or(BlockError::FeeOverflow)?;
        self.burned = self
            .burned
            .checked_add(burned)
            .ok_or(BlockError::BurnOverflow)?;
        Ok(())
    }
}

/// The epilogue + sealing.
///
/// `writes` holds the final value of every key written by the block's transactions (NOT
/// including the prologue; this function adds the prologue's miner write when no
/// transaction overwrote it). Credits fees to the miner (checked:
/// [`BlockError::MinerCreditOverflow`]), adds TOS burned to the burned supply (checked,
/// at most [`MAX_SUPPLY`]: [`BlockError::BurnedSupplyExceeded`]), registers with
/// `Nonce(0)` every account that has a balance written in this block and no nonce either
/// in `writes` or in `view`, marks successful transactions executed, sorts writes by key,
/// and builds the [`BlockCommit`] (state root) on `view.chain_state()`.
///
/// `results` must hold one result per transaction of `block`
/// ([`BlockError::InvariantViolation`] otherwise).
pub fn finish_block<S: StateView + ?Sized>(
    block: &Block,
    view: &S,
    prologue: &Prologue,
    writes: FxHashMap<StateKey, StateValue>,
    results: Vec<TxResult>,
    totals: Totals,
) -> Result<BlockOutput, BlockError> {
    finish_block_on(1, block, view, prologue, writes, results, totals)
}

/// [`finish_block`] with the storage reads of new-account registration spread over
/// `threads` threads: one read per credited account that sent nothing, which on RocksDB
/// is a large part of a block's sequential tail. The result is the same for any thread
/// count (errors included: the first one in key order wins).
pub fn finish_block_on<S: StateView + ?Sized>(
    threads: usize,
    block: &Block,
    view: &S,
    prologue: &Prologue,
    writes: FxHashMap<StateKey, StateValue>,
    results: Vec<TxResult>,
    totals: Totals,
) -> Result<BlockOutput, BlockError> {
    let writes = writes.into_iter().collect();
    finish_block_from_writes(threads, block, view, prologue, writes, results, totals)
}

/// [`finish_block_on`] for writes already collected in a vector (any order, each key once),
/// as a parallel engine's memory hands them over: no map is built just to be sorted.
pub fn finish_block_from_writes<S: StateView + ?Sized>(
    threads: usize,
    block: &Block,
    view: &S,
    prologue: &Prologue,
    mut writes: Vec<(StateKey, StateValue)>,
    results: Vec<TxResult>,
    totals: Totals,
) -> Result<BlockOutput, BlockError> {
    if results.len() != block.transactions().len() {
        return Err(BlockError::InvariantViolation(format!(
            "{} results for {} transactions",
            results.len(),
            block.transactions().len()
        )));
    }
    if let Some((key, _)) = writes.iter().find(|(key, value)| !value.fits(key)) {
        return Err(BlockError::InvariantViolation(format!(
            "write of the wrong kind at {key:?}"
        )));
    }
    let mut executed: Vec<Hash> = block
        .transactions()
        .iter()
        .zip(&results)
        .filter(|(_, result)| result.is_charged())
        .map(|(tx, _)| *tx.hash())
        .collect();
    sort_effects(threads, &mut writes, &mut executed);
    if let Some(pair) = writes.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(BlockError::InvariantViolation(format!(
            "key {:?} written twice",
            pair[0].0
        )));
    }

    // Fees go to the miner, on top of whatever the transactions left (which already
    // includes the reward, through the base layer).
    let at = match writes.binary_search_by_key(&prologue.key, |(key, _)| *key) {
        Ok(at) => at,
        Err(at) => {
            writes.insert(at, (prologue.key, prologue.value.clone()));
            at
        }
    };
    let StateValue::Balance(balance) = &mut writes[at].1 else {
        return Err(BlockError::InvariantViolation(
            "the miner's balance is not a balance".into(),
        ));
    };
    *balance = balance
        .checked_add(totals.fees)
        .ok_or(BlockError::MinerCreditOverflow)?;

    let chain = view.chain_state()?;
    let burned_supply = chain
        .burned_supply
        .checked_add(totals.burned)
        .filter(|supply| *supply <= MAX_SUPPLY)
        .ok_or(BlockError::BurnedSupplyExceeded {
            previous: chain.burned_supply,
            burned: totals.burned,
        })?;

    register_new_accounts(threads, view, &mut writes)?;

    let commit = BlockCommit::new_on(
        threads,
        &chain,
        block.topoheight(),
        writes,
        executed,
        burned_supply,
    )?;
    Ok(BlockOutput {
        results,
        total_fees: totals.fees,
        burned: totals.burned,
        commit,
    })
}

/// Below this many writes and hashes together, a block's writes and hashes are sorted on
/// one thread: starting a thread costs more than it saves. From this many writes alone,
/// the writes are split between two threads; below it, one thread sorts them while the
/// other sorts the hashes.
const MIN_WRITES_TO_SORT_IN_TWO: usize = 4_096;

/// Sorts a block's final writes by key and the hashes of its executed transactions in
/// byte order, on two threads when `threads` allows it and there are enough of them
/// (see `MIN_WRITES_TO_SORT_IN_TWO`).
///
/// The sorts are the largest step of the epilogue that every engine runs after its
/// workers are done (13.9 M of the 30.7 M instructions of a p2p block of 10,000 transfers,
/// callgrind, before stop 28), so they bound every parallel engine's speedup. See
/// `sort_by_key_order` for how writes are sorted. With two threads the writes are first
/// split in place around a pivot prefix (`partition_by_prefix`): every key below it
/// orders before every key above it, so the two parts are sorted apart, the helper taking
/// the larger one while the caller sorts the smaller one and then the hashes (the commit
/// needs them sorted; sorted here they cost it a linear check), and nothing is merged.
/// The order is the same for any thread count: keys that share a prefix, a duplicate
/// included, land in the same part.
fn sort_effects(threads: usize, writes: &mut [(StateKey, StateValue)], executed: &mut [Hash]) {
    if threads < 2 || writes.len().saturating_add(executed.len()) < MIN_WRITES_TO_SORT_IN_TWO {
        sort_by_key_order(writes);
        sort_hashes(executed);
        return;
    }
    if writes.len() < MIN_WRITES_TO_SORT_IN_TWO {
        // Few writes and many hashes (a block of transfers among few accounts): the
        // helper sorts the hashes while the caller sorts the writes.
        let sorted_apart = std::thread::scope(|scope| {
            let helper = std::thread::Builder::new()
                .spawn_scoped(scope, || sort_hashes(executed))
                .ok();
            sort_by_key_order(writes);
            helper.is_some_and(|helper| helper.join().is_ok())
        });
        if !sorted_apart {
            sort_hashes(executed);
        }
        return;
    }
    // The caller also partitions the writes and sorts the hashes, which take about two
    // fifths of what sorting the writes does in a block of transfers (callgrind): it
    // sorts about five sixteenths of the writes.
    let split = partition_by_prefix(writes, prefix_quantile(writes, 5, 16));
    let (low, high) = writes.split_at_mut(split);
    let sorted_apart = std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .spawn_scoped(scope, || sort_by_key_order(high))
            .ok();
        sort_by_key_order(low);
        sort_hashes(executed);
        // No helper (the system refused a thread), or one that did not finish: the
        // caller's thread sorts that part too (sorting keys cannot panic, so the second
        // case is only a guard).
        helper.is_some_and(|helper| helper.join().is_ok())
    });
    if !sorted_apart {
        sort_by_key_order(high);
    }
}

/// About the `numerator / denominator` quantile of the writes' order prefixes, from an
/// evenly spaced sample of them; `u128::MAX` when the quantile is past the last one.
fn prefix_quantile(
    writes: &[(StateKey, StateValue)],
    numerator: usize,
    denominator: usize,
) -> u128 {
    const SAMPLE: usize = 255;
    // Positions in u128, so that no product overflows whatever the lengths.
    let scale =
        |at: usize, of: usize, by: usize| (at as u128 * of as u128 / by.max(1) as u128) as usize;
    let mut sample: Vec<u128> = (0..SAMPLE)
        .filter_map(|at| writes.get(scale(at, writes.len(), SAMPLE)))
        .map(|(key, _)| key.order_prefix())
        .collect();
    sample.sort_unstable();
    sample
        .get(scale(sample.len(), numerator, denominator))
        .copied()
        .unwrap_or(u128::MAX)
}

/// Moves the writes whose order prefix is below `pivot` before the others, in place, and
/// returns how many there are. A prefix never contradicts the key order, so every key of
/// the first part orders before every key of the second; keys that share a prefix stay
/// in one part.
fn partition_by_prefix(writes: &mut [(StateKey, StateValue)], pivot: u128) -> usize {
    let below = |write: &(StateKey, StateValue)| write.0.order_prefix() < pivot;
    let (mut low, mut high) = (0, writes.len());
    loop {
        while low < high && below(&writes[low]) {
            low += 1;
        }
        while low < high && !below(&writes[high - 1]) {
            high -= 1;
        }
        if low == high {
            return low;
        }
        // `writes[low]` belongs above the pivot and `writes[high - 1]` below it.
        writes.swap(low, high - 1);
        low += 1;
        high -= 1;
    }
}

/// Sorts writes by key: by each key's order prefix first, computed once per write
/// (`sort_by_cached_key` sorts the numbers, then moves each write once), which leaves
/// keys that share a prefix adjacent (one account's or contract's keys of one kind, such
/// as its balances in several assets); each such group is then ordered by the whole key.
/// Comparing the 65-byte keys throughout, every comparison went through a `memcmp`
/// call; a second sort of the whole slice by key, instead of one per group, would undo
/// the gain wherever accounts hold several assets.
fn sort_by_key_order(writes: &mut [(StateKey, StateValue)]) {
    writes.sort_by_cached_key(|(key, _)| key.order_prefix());
    for group in writes.chunk_by_mut(|(a, _), (b, _)| a.order_prefix() == b.order_prefix()) {
        if group.len() > 1 {
            group.sort_unstable_by(compare_keys);
        }
    }
}

/// Sorts hashes in byte order: by their first eight bytes, then each run that shares them
/// (almost never more than one hash, since they are uniformly spread) by the whole hash.
/// The same order as `sort_unstable`, in about half the instructions: the sort compares
/// plain words.
fn sort_hashes(hashes: &mut [Hash]) {
    let head = |hash: &Hash| {
        let [a, b, c, d, e, f, g, h, ..] = hash.0;
        u64::from_be_bytes([a, b, c, d, e, f, g, h])
    };
    hashes.sort_unstable_by_key(head);
    for run in hashes.chunk_by_mut(|a, b| head(a) == head(b)) {
        if run.len() > 1 {
            run.sort_unstable();
        }
    }
}

/// Orders two writes by key, comparing the keys in place (`sort_by_key` would copy both
/// 65-byte keys for every comparison).
fn compare_keys(a: &(StateKey, StateValue), b: &(StateKey, StateValue)) -> std::cmp::Ordering {
    a.0.cmp(&b.0)
}

/// Registers (nonce 0) every account with a balance written in this block and no nonce,
/// neither written here nor stored. `writes` is sorted by key and stays sorted.
fn register_new_accounts<S: StateView + ?Sized>(
    threads: usize,
    view: &S,
    writes: &mut Vec<(StateKey, StateValue)>,
) -> Result<(), BlockError> {
    // Nonce keys and balance keys each come in account order, so one walk over both finds
    // the accounts with a balance written and no nonce written (a binary search per balance
    // cost a few hundred thousand key comparisons a block).
    let mut nonces_written = writes
        .iter()
        .filter_map(|(key, _)| match key {
            StateKey::Nonce(account) => Some(account),
            _ => None,
        })
        .peekable();
    let mut candidates: Vec<PublicKey> = Vec::new();
    for (key, _) in writes.iter() {
        let StateKey::Balance(account, _) = key else {
            continue;
        };
        // One account's balances are adjacent.
        if candidates.last() == Some(account) {
            continue;
        }
        while nonces_written.next_if(|nonce| *nonce < account).is_some() {}
        if nonces_written.peek() != Some(&account) {
            candidates.push(*account);
        }
    }
    let unregistered = |accounts: &[PublicKey]| -> Result<Vec<PublicKey>, BlockError> {
        let mut found = Vec::new();
        for account in accounts {
            let key = StateKey::Nonce(*account);
            match view.get(&key)? {
                None => found.push(*account),
                Some(StateValue::Nonce(_)) => {}
                Some(_) => return Err(invalid_state(&key)),
            }
        }
        Ok(found)
    };
    // Below a few hundred reads, starting threads costs more than it saves.
    let chunk = candidates.len().div_ceil(threads.max(1)).max(256);
    let found: Vec<Result<Vec<PublicKey>, BlockError>> = if candidates.len() <= chunk {
        vec![unregistered(&candidates)]
    } else {
        std::thread::scope(|scope| {
            let workers: Vec<_> = candidates
                .chunks(chunk)
                .map(|accounts| scope.spawn(move || unregistered(accounts)))
                .collect();
            workers
                .into_iter()
                .map(|worker| {
                    worker.join().unwrap_or_else(|_| {
                        Err(BlockError::InvariantViolation(
                            "a registration worker panicked".into(),
                        ))
                    })
                })
                .collect()
        })
    };
    let before = writes.len();
    for accounts in found {
        writes.extend(
            accounts?
                .into_iter()
                .map(|account| (StateKey::Nonce(account), StateValue::Nonce(0))),
        );
    }
    if writes.len() > before {
        // Two sorted runs: the stable sort merges them in linear time.
        writes.sort_by(compare_keys);
    }
    Ok(())
}

/// Builds the state of a new chain at topoheight 0: each allocation's balance (duplicate
/// allocations of one account and asset summed, checked:
/// [`BlockError::AllocationOverflow`]) and `Nonce(0)` for every allocated account.
pub fn genesis_commit(allocations: &[(PublicKey, Asset, u64)]) -> Result<BlockCommit, BlockError> {
    genesis_commit_with(allocations, Vec::new())
}

/// [`genesis_commit`] plus `state`: any other values the new chain starts with (deployed
/// contracts, their storage and balances). A key of `state` that an allocation also
/// writes, or that `state` lists twice, is [`BlockError::InvalidState`]; a value that
/// does not fit its key is refused by the commit ([`BlockError::Storage`]).
pub fn genesis_commit_with(
    allocations: &[(PublicKey, Asset, u64)],
    state: Vec<(StateKey, StateValue)>,
) -> Result<BlockCommit, BlockError> {
    let mut writes: FxHashMap<StateKey, StateValue> = FxHashMap::default();
    for &(account, asset, amount) in allocations {
        let entry = writes
            .entry(StateKey::Balance(account, asset))
            .or_insert(StateValue::Balance(0));
        if let StateValue::Balance(balance) = entry {
            *balance = balance
                .checked_add(amount)
                .ok_or(BlockError::AllocationOverflow { account, asset })?;
        }
        writes.insert(StateKey::Nonce(account), StateValue::Nonce(0));
    }
    for (key, value) in state {
        if writes.insert(key, value).is_some() {
            return Err(BlockError::InvalidState(format!(
                "genesis state writes {key:?} twice"
            )));
        }
    }
    let mut sorted: Vec<(StateKey, StateValue)> = writes.into_iter().collect();
    sorted.sort_unstable_by_key(|(key, _)| *key);
    Ok(BlockCommit::new(
        &ChainState::default(),
        0,
        sorted,
        Vec::new(),
        0,
    )?)
}

/// A balance as stored (absent = 0), rejecting a value of another kind.
pub(crate) fn stored_balance<S: StateView + ?Sized>(
    view: &S,
    key: &StateKey,
) -> Result<u64, BlockError> {
    match view.get(key)? {
        None => Ok(0),
        Some(StateValue::Balance(balance)) => Ok(balance),
        Some(_) => Err(invalid_state(key)),
    }
}

fn invalid_state(key: &StateKey) -> BlockError {
    BlockError::InvalidState(format!("value of the wrong kind at {key:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};
    use storage_adapter::{BlockStore, MemoryStore};

    proptest! {
        /// The walk over the sorted writes registers exactly the accounts that have a
        /// balance written and no nonce, neither written nor stored, and keeps the writes
        /// sorted.
        #[test]
        fn new_accounts_are_those_with_a_balance_and_no_nonce(
            balances in proptest::collection::vec((0u8..24, 0u8..3), 0..40),
            nonces_written in proptest::collection::btree_set(0u8..24, 0..12),
            nonces_stored in proptest::collection::btree_set(0u8..24, 0..12),
            threads in 0usize..4,
        ) {
            let account = |index: u8| PublicKey([index; 32]);
            let asset = |index: u8| Asset([index; 32]);
            let mut writes = BTreeMap::new();
            for &(owner, kind) in &balances {
                writes.insert(StateKey::Balance(account(owner), asset(kind)), StateValue::Balance(1));
            }
            for &owner in &nonces_written {
                writes.insert(StateKey::Nonce(account(owner)), StateValue::Nonce(5));
            }
            let store = MemoryStore::with_state(
                nonces_stored.iter().map(|&owner| (StateKey::Nonce(account(owner)), StateValue::Nonce(2))),
            );
            let view = store.snapshot().expect("a memory snapshot");

            let mut expected = writes.clone();
            let owners: BTreeSet<u8> = balances.iter().map(|&(owner, _)| owner).collect();
            for owner in owners {
                if !nonces_written.contains(&owner) && !nonces_stored.contains(&owner) {
                    expected.insert(StateKey::Nonce(account(owner)), StateValue::Nonce(0));
                }
            }
            let mut writes: Vec<_> = writes.into_iter().collect();
            register_new_accounts(threads, &view, &mut writes).expect("nonces in the store");
            prop_assert_eq!(writes, expected.into_iter().collect::<Vec<_>>());
        }
    }

    /// Keys that all share one prefix (one account's balances in many assets) cannot be
    /// split by prefix: they all land in one part and still sort by the whole key.
    #[test]
    fn writes_of_one_account_sort_on_two_threads() {
        let account = PublicKey([7; 32]);
        let writes = |count: u32| -> Vec<(StateKey, StateValue)> {
            (0..count)
                .rev()
                .map(|i| {
                    let mut asset = [0u8; 32];
                    asset[28..].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_be_bytes());
                    (
                        StateKey::Balance(account, Asset(asset)),
                        StateValue::Balance(u64::from(i)),
                    )
                })
                .collect()
        };
        let count = MIN_WRITES_TO_SORT_IN_TWO as u32 + 5;
        let mut expected = writes(count);
        expected.sort_by(compare_keys);
        let mut sorted = writes(count);
        sort_effects(2, &mut sorted, &mut []);
        assert_eq!(sorted, expected);
    }

    proptest! {
        /// The partition puts exactly the writes below the pivot first, whatever the
        /// pivot, and the quantile picks one of the writes' prefixes or `u128::MAX`.
        #[test]
        fn partition_splits_at_the_pivot(
            owners in proptest::collection::vec((0u8..4, 0u8..6), 1..300),
            pivot_owner in 0u8..5,
            numerator in prop_oneof![0usize..9, Just(usize::MAX)],
        ) {
            let mut writes: Vec<(StateKey, StateValue)> = owners
                .iter()
                .enumerate()
                .map(|(at, &(tag, owner))| {
                    let account = PublicKey([owner; 32]);
                    let key = if tag % 2 == 0 {
                        StateKey::Nonce(account)
                    } else {
                        StateKey::Balance(account, Asset([at as u8; 32]))
                    };
                    (key, StateValue::Nonce(0))
                })
                .collect();
            let pivot = StateKey::Balance(PublicKey([pivot_owner; 32]), Asset::TOS).order_prefix();
            let below = writes.iter().filter(|(key, _)| key.order_prefix() < pivot).count();
            prop_assert_eq!(partition_by_prefix(&mut writes, pivot), below);
            prop_assert!(writes[..below].iter().all(|(key, _)| key.order_prefix() < pivot));
            prop_assert!(writes[below..].iter().all(|(key, _)| key.order_prefix() >= pivot));
            let quantile = prefix_quantile(&writes, numerator, 8);
            prop_assert!(
                quantile == u128::MAX
                    || writes.iter().any(|(key, _)| key.order_prefix() == quantile)
            );
        }
    }

    /// Hashes sharing their first eight bytes (and equal ones) sort like `sort_unstable`.
    #[test]
    fn hashes_sort_in_byte_order() {
        let mut hashes: Vec<Hash> = (0..600u64)
            .map(|i| {
                let mut bytes = *Hash::digest(&i.to_le_bytes()).as_bytes();
                // Every third hash shares its head with a few others.
                if i % 3 == 0 {
                    bytes[..8].copy_from_slice(&(i % 5).to_be_bytes());
                }
                Hash(bytes)
            })
            .collect();
        hashes.push(hashes[3]);
        let mut expected = hashes.clone();
        expected.sort_unstable();
        sort_hashes(&mut hashes);
        assert_eq!(hashes, expected);
    }

    /// `count` writes over distinct keys (nonces and balances of `count / 2` accounts),
    /// in a scrambled order.
    fn scrambled_writes(count: usize) -> Vec<(StateKey, StateValue)> {
        let mut writes: Vec<(StateKey, StateValue)> = (0..count)
            .map(|i| {
                let mut account = [0u8; 32];
                account[..8].copy_from_slice(&((i / 2) as u64).to_be_bytes());
                let account = PublicKey(account);
                if i % 2 == 0 {
                    (StateKey::Nonce(account), StateValue::Nonce(i as u64))
                } else {
                    (
                        StateKey::Balance(account, Asset::TOS),
                        StateValue::Balance(i as u64),
                    )
                }
            })
            .collect();
        // A fixed permutation (multiplication by a unit modulo a prime above `count`)
        // is enough to scramble the order.
        let prime = 1_000_003usize;
        writes.sort_by_key(|(key, value)| {
            let (StateValue::Nonce(n) | StateValue::Balance(n)) = value else {
                unreachable!("only nonces and balances here: {key:?}")
            };
            (*n as usize).wrapping_mul(7_919) % prime
        });
        writes
    }

    /// The same order as one plain sort, for every thread count and on both sides of
    /// the sizes where the sort splits in two, with as many hashes as writes or many
    /// more.
    #[test]
    fn writes_sort_the_same_on_any_thread_count() {
        let min = MIN_WRITES_TO_SORT_IN_TWO;
        for (count, hash_count) in [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 3),
            (min / 2 - 1, min / 2),
            (min / 2, min / 2),
            (3, min),
            (min - 1, min - 1),
            (min, min),
            (min - 1, 3 * min),
            (10_001, 10_001),
        ] {
            let mut expected = scrambled_writes(count);
            expected.sort_by(compare_keys);
            let hashes = || -> Vec<Hash> {
                (0..hash_count as u64)
                    .map(|i| Hash::digest(&i.to_le_bytes()))
                    .collect()
            };
            let mut expected_hashes = hashes();
            expected_hashes.sort();
            for threads in [0, 1, 2, 8, usize::MAX] {
                let mut executed = hashes();
                let mut sorted = scrambled_writes(count);
                sort_effects(threads, &mut sorted, &mut executed);
                assert_eq!(sorted, expected, "{count} writes, {threads} threads");
                assert_eq!(
                    executed, expected_hashes,
                    "{count} hashes, {threads} threads"
                );
            }
        }
    }

    /// A key written twice stays adjacent after the sort in two parts, so that the
    /// epilogue's check still finds it.
    #[test]
    fn a_duplicate_key_stays_adjacent_across_parts() {
        let mut writes = scrambled_writes(MIN_WRITES_TO_SORT_IN_TWO * 2);
        let duplicate = writes[3].clone();
        writes.push(duplicate.clone());
        let mut sorted = writes;
        sort_effects(2, &mut sorted, &mut []);
        assert!(sorted
            .windows(2)
            .any(|pair| pair[0].0 == duplicate.0 && pair[1].0 == duplicate.0));
        assert!(sorted.windows(2).all(|pair| pair[0].0 <= pair[1].0));
    }
}
