//! What execution produces: per-transaction outcomes, block outputs, and the errors that
//! reject a block.
//!
//! Every engine returns these same types, so "engine X is correct" is literally
//! `engine_x(block, view) == execute_sequential(block, view)`.

pub use contract_vm::FaultReason;
use smallvec::SmallVec;
use storage_adapter::{
    Asset, BlockCommit, ContractId, Hash, PublicKey, StateKey, StateValue, StorageError,
};

use crate::model::MalformedTransaction;

/// The largest TOS supply there can ever be, in atomic units (18.4 M TOS, 8 decimals).
/// The burned supply can never exceed it; a block that would push it beyond is rejected.
pub const MAX_SUPPLY: u64 = 18_400_000 * 100_000_000;

/// A transaction's writes: each key at most once, inline for the common case of a
/// transfer (source balance, destination balance, nonce) so executing allocates nothing.
pub type WriteSet = SmallVec<[(StateKey, StateValue); 4]>;

/// Balance changes a transaction leaves as commutative deltas instead of values (only
/// under a view that [defers](crate::vm::VmView::defers) them: Block-STM's, for balances
/// that many transactions of the block touch). Each key at most once, and never a key of
/// the [`WriteSet`].
pub type DeltaSet = SmallVec<[(StateKey, i128); 2]>;

/// Which checked addition overflowed in a failed transaction.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OverflowKind {
    /// The sum of what the source spends in `asset` (transfers + burn, + fee for TOS)
    /// does not fit a `u64`.
    Spending {
        /// The asset whose spending sum overflowed.
        asset: Asset,
    },
    /// Crediting `destination` would push its `asset` balance beyond `u64::MAX`.
    Credit {
        /// The account that could not be credited.
        destination: PublicKey,
        /// The asset.
        asset: Asset,
    },
    /// The source's nonce is `u64::MAX` and cannot be incremented.
    Nonce,
    /// A contract call's deposit would overflow the contract's balance.
    ContractCredit {
        /// The contract called.
        contract: ContractId,
        /// The asset deposited.
        asset: Asset,
    },
}

/// How a contract call that ran failed. The call is still charged: see
/// [`TxResult::is_charged`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error)]
pub enum CallFailure {
    /// The contract exited with a non-zero code; the gas it used is paid.
    #[error("reverted with code {code}")]
    Revert {
        /// The contract's exit code.
        code: u64,
    },
    /// The call ran out of gas; all of `max_gas` is paid.
    #[error("out of gas")]
    OutOfGas,
    /// The call broke a rule of the VM; all of `max_gas` is paid.
    #[error("fault: {0}")]
    Fault(FaultReason),
}

/// Why a transaction failed. A failed transaction has no effect on state, pays no fee,
/// burns nothing, and is not marked executed; it is still reported in the block output.
///
/// Two failures of contract calls are the exception, because the call was charged before
/// it could fail ([`TxResult::is_charged`]): [`TxFailure::NoContract`] and
/// [`TxFailure::Call`] move the nonce on, pay the fee (and the gas), and are marked
/// executed; everything else the call did is discarded.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum TxFailure {
    /// The hash is already marked executed in storage (by an earlier block).
    #[error("transaction already executed")]
    AlreadyExecuted,
    /// The transaction's nonce is not the source's current nonce.
    #[error("invalid nonce: expected {expected}, got {got}")]
    InvalidNonce {
        /// The source's nonce in state (0 when unregistered).
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// The source spends more of `asset` than it holds.
    #[error("insufficient funds in asset {asset:?}: needed {needed}, available {available}")]
    InsufficientFunds {
        /// The asset.
        asset: Asset,
        /// What the transaction spends in it (fee included for TOS).
        needed: u64,
        /// The source's balance.
        available: u64,
    },
    /// A checked addition overflowed; see [`OverflowKind`].
    #[error("overflow: {0:?}")]
    Overflow(OverflowKind),
    /// A deploy whose address already holds a contract; no effects.
    #[error("contract {contract:?} already exists")]
    ContractExists {
        /// The deploy's address.
        contract: ContractId,
    },
    /// A call to an address holding no contract: charged its fee (no gas), deposits stay
    /// with the source.
    #[error("no contract at {contract:?}")]
    NoContract {
        /// The address called.
        contract: ContractId,
    },
    /// The contract ran and failed: charged its fee and gas, its effects discarded.
    #[error("contract call failed: {0}")]
    Call(CallFailure),
}

/// A transaction's result as reported in [`BlockOutput::results`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum TxResult {
    /// Applied: its writes are part of the block's state.
    Success,
    /// Not applied, for this reason.
    Failed(TxFailure),
}

impl TxResult {
    /// Whether the transaction was applied.
    pub fn is_success(&self) -> bool {
        matches!(self, TxResult::Success)
    }

    /// Whether the transaction changed state: every success, and a contract call that
    /// failed after it was charged (its nonce moved on and it paid). These are the
    /// transactions marked executed.
    pub fn is_charged(&self) -> bool {
        matches!(
            self,
            TxResult::Success | TxResult::Failed(TxFailure::NoContract { .. } | TxFailure::Call(_))
        )
    }
}

/// One transaction's execution against some view of state.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TxOutcome {
    /// Success, or why it failed.
    pub result: TxResult,
    /// Final values of the keys it writes, each key once; empty when failed.
    pub writes: WriteSet,
    /// Balance changes left as deltas (see [`DeltaSet`]); empty when failed, and always
    /// empty under a view that defers nothing (the sequential oracle's, grouping's).
    pub deltas: DeltaSet,
    /// TOS fee earned by the miner; 0 when failed.
    pub fee: u64,
    /// TOS burned (burns of other assets are not counted); 0 when failed.
    pub burned: u64,
}

impl TxOutcome {
    /// The outcome of a transaction that failed: no writes, no fee, nothing burned.
    pub fn failed(failure: TxFailure) -> Self {
        Self {
            result: TxResult::Failed(failure),
            writes: WriteSet::new(),
            deltas: DeltaSet::new(),
            fee: 0,
            burned: 0,
        }
    }
}

/// Why a block is rejected as a whole. Nothing of a rejected block is committed.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum BlockError {
    /// The block's topoheight is not the chain's next one.
    #[error("wrong topoheight: expected {expected}, got {got}")]
    WrongTopoheight {
        /// The chain's next topoheight.
        expected: u64,
        /// The block's.
        got: u64,
    },
    /// More than [`crate::model::MAX_BLOCK_TRANSACTIONS`] transactions.
    #[error(
        "{count} transactions, more than the maximum {}",
        crate::model::MAX_BLOCK_TRANSACTIONS
    )]
    TooManyTransactions {
        /// How many the block carries.
        count: usize,
    },
    /// Two transactions of the block share a hash.
    #[error("transaction {index} repeats transaction {first} (hash {hash})")]
    DuplicateTransaction {
        /// The later occurrence.
        index: usize,
        /// The earlier occurrence.
        first: usize,
        /// The shared hash.
        hash: Hash,
    },
    /// A transaction breaks a structural rule.
    #[error("transaction {index} is malformed: {reason}")]
    MalformedTransaction {
        /// Its position in the block.
        index: usize,
        /// The broken rule.
        reason: MalformedTransaction,
    },
    /// Crediting the block reward overflows the miner's TOS balance.
    #[error("block reward overflows the miner's balance")]
    RewardOverflow,
    /// The block's total fees overflow a `u64`.
    #[error("total fees overflow")]
    FeeOverflow,
    /// The block's total TOS burned overflows a `u64`.
    #[error("total burned overflows")]
    BurnOverflow,
    /// Crediting the total fees overflows the miner's TOS balance.
    #[error("crediting the fees overflows the miner's balance")]
    MinerCreditOverflow,
    /// The burned supply would exceed [`MAX_SUPPLY`] (or a `u64`).
    #[error("burned supply {previous} + {burned} exceeds the maximum supply {MAX_SUPPLY}")]
    BurnedSupplyExceeded {
        /// The burned supply before the block.
        previous: u64,
        /// The TOS burned by the block.
        burned: u64,
    },
    /// A genesis allocation list whose sum for one balance overflows a `u64`.
    #[error("genesis allocations for {account:?} in {asset:?} overflow")]
    AllocationOverflow {
        /// The account.
        account: PublicKey,
        /// The asset.
        asset: Asset,
    },
    /// Storage failed to answer or rejected the commit.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// A stored value whose variant does not fit its key (corrupt or inconsistent state).
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// An engine handed [`crate::block::finish_block`] inconsistent inputs (for example a
    /// result count that differs from the block's transaction count). A bug, never
    /// something input can cause; engines may fall back to sequential on it.
    #[error("engine invariant violated: {0}")]
    InvariantViolation(String),
}

/// A block's result: the same for every engine, by definition of correctness.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BlockOutput {
    /// One result per transaction, in block order.
    pub results: Vec<TxResult>,
    /// Fees of the successful transactions, credited to the miner.
    pub total_fees: u64,
    /// TOS burned by the block, added to the burned supply.
    pub burned: u64,
    /// The sealed writes and state root, ready for [`storage_adapter::BlockStore::commit`].
    pub commit: BlockCommit,
}

impl BlockOutput {
    /// The state root after the block.
    pub fn state_root(&self) -> Hash {
        self.commit.state_root()
    }

    /// The block's final writes, sorted by key.
    pub fn writes(&self) -> &[(StateKey, StateValue)] {
        self.commit.writes()
    }

    /// How many transactions succeeded.
    pub fn successful(&self) -> usize {
        self.results
            .iter()
            .filter(|result| result.is_success())
            .count()
    }
}
