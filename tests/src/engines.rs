//! The engines the tests run, built by the executor's one factory, and the checks that
//! run a block on all of them: every engine must give the oracle's output or the oracle's
//! block error, and a rejected block must leave the store as it was.

use std::sync::Arc;

use executor::engine::grouping::GroupingConfig;
use executor::engine::{self, BlockExecutor, EngineConfig, EngineKind};
use executor::outcome::{BlockError, BlockOutput};
use executor::Block;
use storage_adapter::{Asset, BlockStore, Hash, MemoryStore, PublicKey};

use crate::{account, asset, fingerprint};

/// Settings under which every parallel engine takes its parallel path even on a test's
/// small block: both on `threads` threads, Block-STM from two transactions on and with
/// its contention guard off.
pub fn parallel_forced(threads: usize) -> EngineConfig {
    EngineConfig::parallel_forced(threads)
}

/// Every engine ([`EngineKind::ALL`], the oracle first), built with `config`.
pub fn engines(config: &EngineConfig) -> Vec<Arc<dyn BlockExecutor>> {
    EngineKind::ALL
        .iter()
        .map(|&kind| engine::build(kind, config))
        .collect()
}

/// The engines a block must agree on in the tests of block rules and bad input, labelled
/// for messages: the oracle; grouping on 2 threads (so that a batch of 8 already goes to
/// the worker); Block-STM on 4 threads with its parallel path forced; and Block-STM with
/// its defaults on 2 threads (which may choose its sequential path).
pub fn engines_under_test() -> Vec<(String, Arc<dyn BlockExecutor>)> {
    let forced = EngineConfig {
        grouping: GroupingConfig { threads: 2 },
        ..parallel_forced(4)
    };
    let mut list: Vec<(String, Arc<dyn BlockExecutor>)> = engines(&forced)
        .into_iter()
        .map(|engine| (engine.name().to_owned(), engine))
        .collect();
    list.push((
        "block-stm (defaults)".to_owned(),
        engine::build(EngineKind::BlockStm, &EngineConfig::new(2)),
    ));
    list
}

/// Runs `block` on every engine of [`engines_under_test`] against the same snapshot of
/// `store`, which must all agree; returns the agreed result. Commits nothing.
pub fn run_everywhere<S: BlockStore>(store: &S, block: &Block) -> Result<BlockOutput, BlockError> {
    let snapshot = store.snapshot().expect("snapshot");
    let mut agreed: Option<Result<BlockOutput, BlockError>> = None;
    for (name, engine) in engines_under_test() {
        let result = engine
            .execute_block(block, &snapshot)
            .map(|execution| execution.output);
        match &agreed {
            None => agreed = Some(result),
            Some(expected) => assert_eq!(
                &result, expected,
                "{name} disagrees with the oracle on this block"
            ),
        }
    }
    agreed.expect("at least one engine")
}

/// Every engine rejects `block` with `error`, and the store does not move (the chain, and
/// the nonces, multisigs and balances in TOS and test assets 1 and 2 of accounts 0..50,
/// and the executed marks of the block's transactions).
pub fn assert_rejected(store: &MemoryStore, block: &Block, error: BlockError) {
    let observe = || {
        let accounts: Vec<PublicKey> = (0..50).map(account).collect();
        let hashes: Vec<Hash> = block.transactions().iter().map(|tx| *tx.hash()).collect();
        fingerprint(store, &accounts, &[Asset::TOS, asset(1), asset(2)], &hashes)
    };
    let before = observe();
    let result = run_everywhere(store, block);
    assert_eq!(result.as_ref().map(|_| ()), Err(&error));
    // What a node does with a rejected block: nothing. Check nothing leaked anyway.
    assert_eq!(observe(), before, "a rejected block changed the store");
}
