//! Block-STM with deltas and predicates against the sequential oracle, on the blocks that
//! make balances hot: many transactions crediting a few accounts, credits running into
//! `u64::MAX` (credit overflow must fail exactly the oracle's transactions, with the
//! oracle's rule order), hot receivers spending in the same block (debit predicates, some
//! failing with insufficient funds that quote the exact balance), and the miner as the hot
//! receiver (the reward under the deltas). Every case runs at 2–4 threads with deltas on
//! (hot balances of receive-only accounts settled at commit, then every hot balance
//! settled at commit) and off; the whole result must be equal — outcomes, writes,
//! totals, root, or the same block error.

use executor::engine::blockstm::{BlockStmConfig, BlockStmExecutor, SinkPolicy};
use executor::engine::BlockStmCounters;
use executor::model::Block;
use executor::{
    execute_sequential, BlockError, BlockOutput, Execution, ExecutionStats, OverflowKind, Payload,
    TxFailure, TxResult, Workload, WorkloadConfig, WorkloadKind,
};
use integration_tests::parallel_forced;
use integration_tests::random_case::{
    build_hot_case, hot_accounts, hot_shape_strategy, outsiders, HotShape, HotWorkload,
};
use proptest::prelude::*;
use storage_adapter::{Asset, BlockStore, MemoryStore, StateKey, StateValue};

/// The engine under test: the contention guard off and no size threshold, so every
/// block of two or more transactions takes the parallel path.
fn engine(threads: usize, deltas: bool, sinks: SinkPolicy) -> BlockStmExecutor {
    BlockStmExecutor::new(BlockStmConfig {
        deltas,
        sinks,
        // Deltas are what is under test: frontier runs execute exactly, and on these
        // small blocks the commit role would run every transaction in one of them.
        // `blockstm_parity` covers frontier runs with hot balances.
        frontier_run: 0,
        ..parallel_forced(threads).block_stm
    })
}

/// Block-STM's own counters of a run (present on every path it takes).
fn counters(stats: &ExecutionStats) -> BlockStmCounters {
    stats.block_stm.expect("Block-STM reports its counters")
}

/// `default` cases per property, times `DELTA_PARITY_SCALE` for a longer hunt
/// (`DELTA_PARITY_SCALE=50 cargo test --release -p integration-tests --test delta_parity`).
fn cases(default: u32) -> u32 {
    let scale = std::env::var("DELTA_PARITY_SCALE")
        .ok()
        .and_then(|scale| scale.parse::<u32>().ok())
        .unwrap_or(1);
    default.saturating_mul(scale.max(1))
}

/// Where two block outputs differ, for a failure message: the first results that differ
/// (with their transactions), the totals, and the writes that differ.
fn explain(block: &Block, expected: &BlockOutput, got: &BlockOutput) -> String {
    let mut lines = Vec::new();
    for (index, (want, have)) in expected.results.iter().zip(&got.results).enumerate() {
        if want != have {
            lines.push(format!(
                "tx {index} {:?}: oracle {want:?}, block-stm {have:?}",
                block.transactions()[index]
            ));
            if lines.len() == 5 {
                break;
            }
        }
    }
    if (expected.total_fees, expected.burned) != (got.total_fees, got.burned) {
        lines.push(format!(
            "totals (fees, burned): oracle {:?}, block-stm {:?}",
            (expected.total_fees, expected.burned),
            (got.total_fees, got.burned)
        ));
    }
    let want: std::collections::BTreeMap<_, _> = expected.writes().iter().cloned().collect();
    let have: std::collections::BTreeMap<_, _> = got.writes().iter().cloned().collect();
    for key in want
        .keys()
        .chain(have.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        if want.get(key) != have.get(key) {
            lines.push(format!(
                "write {key:?}: oracle {:?}, block-stm {:?}",
                want.get(key),
                have.get(key)
            ));
        }
    }
    lines.join("\n")
}

/// Runs `block` on Block-STM at `threads`, deltas on and off, and checks each result
/// against the oracle's. Returns the executions (deltas on with the default sinks, on
/// with every hot balance a sink, off).
fn check_block(
    store: &MemoryStore,
    block: &Block,
    threads: usize,
) -> Result<Vec<Result<Execution, BlockError>>, TestCaseError> {
    let snapshot = store.snapshot().expect("memory snapshot");
    let expected = execute_sequential(block, &snapshot);
    let mut runs = Vec::new();
    // Deltas on twice, with both ways of keeping hot balances: receive-only ones settled
    // at commit (the default), and every one settled, so that debits and exact reads of
    // a hot balance wait for the commit frontier.
    for (deltas, sinks) in [
        (true, SinkPolicy::ReceiveOnly),
        (true, SinkPolicy::AllHot),
        (false, SinkPolicy::Off),
    ] {
        let got = engine(threads, deltas, sinks).execute(block, &snapshot);
        match (&got, &expected) {
            (Ok(execution), Ok(expected)) => {
                prop_assert!(
                    execution.output == *expected,
                    "deltas {deltas}, {threads} threads: outputs differ\n{}",
                    explain(block, expected, &execution.output)
                );
            }
            (got, expected) => prop_assert_eq!(
                got.as_ref().map(|execution| &execution.output),
                expected.as_ref(),
                "deltas {}, {} threads",
                deltas,
                threads
            ),
        }
        if let Ok(execution) = &got {
            let stats = &execution.stats;
            prop_assert_eq!(stats.fallbacks, 0, "no fallback on a healthy run");
            prop_assert_eq!(stats.sequential_blocks, 0, "the parallel path ran");
            if !deltas {
                let stats = counters(stats);
                prop_assert_eq!(
                    (
                        stats.delta_writes,
                        stats.delta_reads,
                        stats.predicate_reads,
                        stats.exact_reexecutions
                    ),
                    (0, 0, 0, 0),
                    "deltas off leaves nothing to deltas"
                );
            }
        }
        runs.push(got);
    }
    Ok(runs)
}

/// Builds the case of `shape` and checks it (see [`check_block`]).
fn check_shape(shape: &HotShape) -> Result<(), TestCaseError> {
    let (store, block) = build_hot_case(shape);
    check_block(&store, &block, shape.threads).map(|_| ())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(1000)))]

    /// (a) Many transactions crediting 1–3 hot receivers.
    #[test]
    fn many_credits_to_few_accounts(shape in hot_shape_strategy(HotWorkload::ManyCredits)) {
        check_shape(&shape)?;
    }

    /// (b) Credits running into `u64::MAX`: overflowing credits, later ones that fit,
    /// one hot key credited twice, a hot and a non-hot key, nonces at `u64::MAX`.
    #[test]
    fn credits_near_u64_max(shape in hot_shape_strategy(HotWorkload::NearMax)) {
        check_shape(&shape)?;
    }

    /// (c) Hot receivers spending in the same block (debit predicates).
    #[test]
    fn hot_receivers_spend(shape in hot_shape_strategy(HotWorkload::Spenders)) {
        check_shape(&shape)?;
    }

    /// (d) The miner as the hot receiver.
    #[test]
    fn the_miner_is_the_hot_receiver(shape in hot_shape_strategy(HotWorkload::HotMiner)) {
        check_shape(&shape)?;
    }

    /// All of the above in one block.
    #[test]
    fn everything_at_once(shape in hot_shape_strategy(HotWorkload::Mixed)) {
        check_shape(&shape)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(200)))]

    /// The workload generator's hot receiver (account 0), starting near `u64::MAX`, with
    /// deliberate failures: its credits overflow from some point of the block on.
    #[test]
    fn workload_hot_receiver_near_u64_max(
        seed in any::<u64>(),
        accounts in 3usize..200,
        block_size in 2usize..600,
        headroom in prop_oneof![Just(0u64), 0u64..300_000],
        threads in 2usize..=4,
    ) {
        let (store, block) = workload_case(seed, accounts, block_size, headroom);
        check_block(&store, &block, threads)?;
    }
}

/// A [`WorkloadKind::HotReceiver`] block on the workload's genesis balances, but with the
/// hot receiver's TOS balance `u64::MAX - headroom` (and the miner the hot receiver for
/// odd seeds).
fn workload_case(
    seed: u64,
    accounts: usize,
    block_size: usize,
    headroom: u64,
) -> (MemoryStore, Block) {
    let mut workload = Workload::new(WorkloadConfig {
        failure_rate: 0.1,
        ..WorkloadConfig::new(WorkloadKind::HotReceiver, accounts, block_size, seed)
    })
    .expect("valid workload");
    let receiver = workload.accounts()[0];
    let state = workload
        .genesis_allocations()
        .into_iter()
        .map(|(account, asset, amount)| {
            let amount = if account == receiver {
                u64::MAX - headroom
            } else {
                amount
            };
            (
                StateKey::Balance(account, asset),
                StateValue::Balance(amount),
            )
        });
    let store = MemoryStore::with_state(state);
    let block = workload.next_block(1);
    let block = if seed % 2 == 1 {
        Block::new(1, receiver, 0, block.transactions().to_vec())
    } else {
        block
    };
    (store, block)
}

/// What the generated cases exercise, summed over cases.
#[derive(Debug, Default)]
struct Coverage {
    stats: BlockStmCounters,
    /// The counters of the runs that settle every hot balance at commit.
    all_hot: BlockStmCounters,
    credit_overflows: usize,
    /// Credit overflows of transactions whose sender's nonce is `u64::MAX` (the credit
    /// overflow is reported before the nonce overflow).
    credit_overflows_before_nonce: usize,
    nonce_overflows: usize,
    insufficient_funds: usize,
    /// Insufficient funds of a hot receiver (a debit predicate that failed).
    hot_insufficient_funds: usize,
    /// Credit overflows at a non-hot key of a transaction that credits a hot key before
    /// it (the deferred credit fits: the exact run must report the non-hot key).
    non_hot_overflows_after_hot_credit: usize,
    /// Successful credits to a key after a credit overflow at that key in the block.
    credits_after_overflow: usize,
    /// Successful credits to the block's miner.
    credits_to_miner: usize,
    block_errors: usize,
}

impl Coverage {
    fn add(&mut self, block: &Block, hot: usize, output: &BlockOutput) {
        let hot = hot_accounts(hot);
        let outsiders = outsiders();
        let mut overflowed = std::collections::HashSet::new();
        for (tx, result) in block.transactions().iter().zip(&output.results) {
            match result {
                TxResult::Failed(TxFailure::Overflow(OverflowKind::Credit {
                    destination,
                    asset,
                })) => {
                    self.credit_overflows += 1;
                    if tx.nonce() == u64::MAX {
                        self.credit_overflows_before_nonce += 1;
                    }
                    overflowed.insert((*destination, *asset));
                    if let Payload::Transfers(transfers) = tx.payload() {
                        let at = transfers
                            .iter()
                            .position(|t| (t.destination, t.asset) == (*destination, *asset));
                        if outsiders.contains(destination)
                            && transfers[..at.unwrap_or(0)]
                                .iter()
                                .any(|t| hot.contains(&t.destination))
                        {
                            self.non_hot_overflows_after_hot_credit += 1;
                        }
                    }
                }
                TxResult::Failed(TxFailure::Overflow(OverflowKind::Nonce)) => {
                    self.nonce_overflows += 1;
                }
                TxResult::Failed(TxFailure::InsufficientFunds { .. }) => {
                    self.insufficient_funds += 1;
                    if hot.contains(tx.source()) {
                        self.hot_insufficient_funds += 1;
                    }
                }
                TxResult::Success => {
                    if let Payload::Transfers(transfers) = tx.payload() {
                        self.credits_after_overflow += transfers
                            .iter()
                            .filter(|t| overflowed.contains(&(t.destination, t.asset)))
                            .count();
                        self.credits_to_miner += transfers
                            .iter()
                            .filter(|t| t.destination == *block.miner())
                            .count();
                    }
                }
                TxResult::Failed(_) => {}
            }
        }
    }
}

/// Runs `cases` fixed shapes of `workload` at 2 threads, deltas on, checking parity,
/// and sums what they exercise.
fn coverage(workload: HotWorkload, cases: u64) -> Coverage {
    let mut coverage = Coverage::default();
    for seed in 0..cases {
        let shape = HotShape {
            seed,
            workload,
            hot: 1 + (seed % 3) as usize,
            senders: 20,
            block_size: 200,
            threads: 2,
        };
        let (store, block) = build_hot_case(&shape);
        let runs = check_block(&store, &block, shape.threads)
            .unwrap_or_else(|error| panic!("{shape:?}: {error}"));
        match &runs[0] {
            Ok(execution) => {
                coverage.stats.accumulate(&counters(&execution.stats));
                coverage.add(&block, shape.hot, &execution.output);
            }
            Err(_) => coverage.block_errors += 1,
        }
        if let Ok(execution) = &runs[1] {
            coverage.all_hot.accumulate(&counters(&execution.stats));
        }
    }
    coverage
}

#[test]
fn the_cases_exercise_deltas_predicates_and_exact_reexecution() {
    // Which transaction runs when depends on the interleaving, and so, a little, do the
    // counters: retry a few times before calling a counter never reached.
    let mut last = None;
    for attempt in 0..5 {
        let many = coverage(HotWorkload::ManyCredits, 8);
        let near = coverage(HotWorkload::NearMax, 12);
        let spend = coverage(HotWorkload::Spenders, 8);
        let miner = coverage(HotWorkload::HotMiner, 8);
        let reached = many.stats.delta_writes > 0
            && many.stats.delta_saves + many.stats.delta_reads > 0
            && near.stats.delta_writes > 0
            && near.stats.exact_reexecutions > 0
            && spend.stats.delta_writes > 0
            && spend.stats.predicate_reads > 0
            && miner.stats.delta_writes > 0
            // Settled at commit: credits, and overflows run again exactly.
            && many.all_hot.delta_writes > 0
            && near.all_hot.exact_reexecutions > 0;
        // What the oracle's results hold does not depend on the interleaving.
        assert!(near.credit_overflows > 20, "{near:?}");
        assert!(near.credit_overflows_before_nonce > 0, "{near:?}");
        assert!(near.nonce_overflows > 0, "{near:?}");
        assert!(near.credits_after_overflow > 0, "{near:?}");
        assert!(near.non_hot_overflows_after_hot_credit > 0, "{near:?}");
        assert!(spend.insufficient_funds > 20, "{spend:?}");
        assert!(spend.hot_insufficient_funds > 0, "{spend:?}");
        assert!(miner.credits_to_miner > 200, "{miner:?}");
        assert!(miner.credit_overflows > 0, "{miner:?}");
        for coverage in [&many, &near, &spend, &miner] {
            assert!(coverage.block_errors <= 2, "{coverage:?}");
        }
        if reached {
            return;
        }
        eprintln!("attempt {attempt}: a counter stayed at 0");
        last = Some((many, near, spend, miner));
    }
    panic!("some delta path was never taken: {last:#?}");
}

#[test]
fn a_self_transfer_by_a_hot_receiver_is_rejected_alike() {
    // Transfers to oneself are malformed: the block is rejected before any transaction
    // runs, by every engine, whether the source is hot or not.
    let hot = hot_accounts(1)[0];
    let senders: Vec<_> = (100..120)
        .map(storage_adapter::PublicKey::from_index)
        .collect();
    let mut state = vec![(
        StateKey::Balance(hot, Asset::TOS),
        StateValue::Balance(1_000),
    )];
    let mut transactions = Vec::new();
    for sender in &senders {
        state.push((
            StateKey::Balance(*sender, Asset::TOS),
            StateValue::Balance(1_000),
        ));
        transactions.push(integration_tests::pay(*sender, 0, 1, hot, 10));
    }
    transactions.insert(10, integration_tests::pay(hot, 0, 1, hot, 5));
    let store = MemoryStore::with_state(state);
    let block = Block::new(1, senders[0], 1_000, transactions);
    let runs = check_block(&store, &block, 2).expect("parity");
    assert!(
        matches!(
            runs[0],
            Err(BlockError::MalformedTransaction { index: 10, .. })
        ),
        "{:?}",
        runs[0].as_ref().map(|execution| &execution.output.results)
    );
}

/// The pinned block of [`pinned_overflows_and_predicates`]: a hot receiver `H` starting
/// `970 + 30` below `u64::MAX` (after the reward when it is the miner), 30 credits of 1
/// that make it hot, then, in order, the cases where deltas could change a result.
fn pinned_block(miner_is_hot: bool) -> (MemoryStore, Block, Vec<(usize, TxResult)>) {
    use integration_tests::{account, pay, transfers};
    let hot = account(0);
    let near_max = account(1000);
    let fee = if miner_is_hot { 0 } else { 1 };
    let reward = 1_000;
    let sender = |index: u64| account(100 + index);
    let mut state = vec![
        (
            StateKey::Balance(hot, Asset::TOS),
            StateValue::Balance(u64::MAX - 1_000 - if miner_is_hot { reward } else { 0 }),
        ),
        (
            StateKey::Balance(near_max, Asset::TOS),
            StateValue::Balance(u64::MAX - 10),
        ),
        (StateKey::Nonce(sender(31)), StateValue::Nonce(u64::MAX)),
        (StateKey::Nonce(sender(32)), StateValue::Nonce(u64::MAX)),
    ];
    for index in 0..50 {
        state.push((
            StateKey::Balance(sender(index), Asset::TOS),
            StateValue::Balance(1_000_000),
        ));
    }
    let mut transactions: Vec<_> = (0..30).map(|i| pay(sender(i), 0, fee, hot, 1)).collect();
    let tos = Asset::TOS;
    let pinned = [
        // Deferred credit that overflows, then the nonce would: the credit is reported.
        (
            pay(sender(31), u64::MAX, fee, hot, 5_000),
            TxResult::Failed(TxFailure::Overflow(OverflowKind::Credit {
                destination: hot,
                asset: tos,
            })),
        ),
        // Deferred credit that fits, then the nonce overflows.
        (
            pay(sender(32), u64::MAX, fee, hot, 10),
            TxResult::Failed(TxFailure::Overflow(OverflowKind::Nonce)),
        ),
        // Two credits to the hot key, each fits, together they do not.
        (
            transfers(sender(33), 0, fee, &[(tos, hot, 500), (tos, hot, 500)]),
            TxResult::Failed(TxFailure::Overflow(OverflowKind::Credit {
                destination: hot,
                asset: tos,
            })),
        ),
        // The hot credit fits, the non-hot one after it does not.
        (
            transfers(sender(34), 0, fee, &[(tos, hot, 100), (tos, near_max, 50)]),
            TxResult::Failed(TxFailure::Overflow(OverflowKind::Credit {
                destination: near_max,
                asset: tos,
            })),
        ),
        // Fills the hot balance up to `u64::MAX` exactly.
        (pay(sender(35), 0, fee, hot, 970), TxResult::Success),
        // One more does not fit.
        (
            pay(sender(36), 0, fee, hot, 1),
            TxResult::Failed(TxFailure::Overflow(OverflowKind::Credit {
                destination: hot,
                asset: tos,
            })),
        ),
        // The hot receiver spends (a predicate that holds)...
        (pay(hot, 0, fee, sender(37), 10), TxResult::Success),
        // ... is credited again ...
        (pay(sender(38), 0, fee, hot, 5), TxResult::Success),
        // ... spends more than it has (a predicate that fails: the exact balance) ...
        (
            integration_tests::burn(hot, 1, fee, tos, u64::MAX - 1),
            TxResult::Failed(TxFailure::InsufficientFunds {
                asset: tos,
                needed: u64::MAX - 1 + fee,
                available: u64::MAX - 5 - fee,
            }),
        ),
        // ... is filled up exactly again ...
        (pay(sender(39), 0, fee, hot, 5 + fee), TxResult::Success),
        // ... and overflows once more.
        (
            pay(sender(40), 0, fee, hot, 1),
            TxResult::Failed(TxFailure::Overflow(OverflowKind::Credit {
                destination: hot,
                asset: tos,
            })),
        ),
    ];
    let mut expected = Vec::new();
    for (tx, result) in pinned {
        expected.push((transactions.len(), result));
        transactions.push(tx);
    }
    let miner = if miner_is_hot { hot } else { sender(45) };
    (
        MemoryStore::with_state(state),
        Block::new(1, miner, reward, transactions),
        expected,
    )
}

#[test]
fn pinned_overflows_and_predicates() {
    for miner_is_hot in [false, true] {
        let (store, block, pinned) = pinned_block(miner_is_hot);
        let oracle = execute_sequential(&block, &store.snapshot().expect("snapshot"))
            .expect("the oracle executes the block");
        for (index, result) in &pinned {
            assert_eq!(
                &oracle.results[*index], result,
                "oracle, tx {index}, miner hot: {miner_is_hot}"
            );
        }
        let mut exact_reexecutions = 0;
        let mut predicate_reads = 0;
        for threads in 2..=4 {
            for _ in 0..5 {
                let runs = check_block(&store, &block, threads)
                    .unwrap_or_else(|error| panic!("miner hot: {miner_is_hot}: {error}"));
                let stats = counters(&runs[0].as_ref().expect("executes").stats);
                assert!(stats.delta_writes >= 30, "{stats:?}");
                exact_reexecutions += stats.exact_reexecutions;
                predicate_reads += stats.predicate_reads;
            }
        }
        // The double credit and the credits past `u64::MAX` run with deltas first, and are
        // found not to fit only at commit: each is run again on exact values. The hot
        // receiver's spend that holds is a predicate (the one that fails reads the balance
        // instead).
        assert!(exact_reexecutions >= 2 * 15, "{exact_reexecutions}");
        assert!(predicate_reads >= 15, "{predicate_reads}");
    }
}

/// Spending hot receivers with every hot balance settled at commit: a debit's predicate
/// must wait until every lower transaction has committed. Whether a read finds the
/// frontier already there depends on the interleaving (on a loaded machine one worker may
/// do everything), so this tries shapes until waits have happened, checking parity on
/// every run.
#[test]
fn spending_receivers_settled_at_commit_wait_for_the_frontier() {
    let mut waits = 0;
    for seed in 0..200 {
        let shape = HotShape {
            seed,
            workload: HotWorkload::Spenders,
            hot: 1 + (seed % 3) as usize,
            senders: 20,
            block_size: 200,
            threads: 2 + (seed % 3) as usize,
        };
        let (store, block) = build_hot_case(&shape);
        let snapshot = store.snapshot().expect("memory snapshot");
        let expected = execute_sequential(&block, &snapshot).expect("the oracle executes");
        let execution = engine(shape.threads, true, SinkPolicy::AllHot)
            .execute(&block, &snapshot)
            .expect("block-stm executes");
        assert!(
            execution.output == expected,
            "{shape:?}\n{}",
            explain(&block, &expected, &execution.output)
        );
        let stats = counters(&execution.stats);
        assert_eq!(stats.delta_reads, 0, "a settled balance is never summed");
        waits += stats.settle_waits;
        if seed >= 5 && waits > 0 {
            return;
        }
    }
    panic!("no debit ever waited for the commit frontier");
}
