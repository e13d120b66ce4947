//! Blocks: a topoheight, a miner, a reward and an ordered list of transactions.
//!
//! The block order is the serial order that every engine must reproduce; the rules that
//! decide whether a block may be applied at all live in [`crate::block::validate_block`].

use storage_adapter::PublicKey;

use super::transaction::Transaction;

/// Most transactions one block may carry.
pub const MAX_BLOCK_TRANSACTIONS: usize = 65_535;

/// A block as the executor receives it (already verified: signatures, proofs, PoW).
///
/// The fields are private and read through getters, like [`Transaction`]'s, so that a
/// block handed to an engine is the block that was validated.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Block {
    topoheight: u64,
    miner: PublicKey,
    reward: u64,
    transactions: Vec<Transaction>,
}

impl Block {
    /// A block at `topoheight`, mined by `miner`, paying it `reward` TOS.
    ///
    /// Performs no validation, so that invalid blocks can be built and rejected by
    /// [`crate::block::validate_block`].
    pub fn new(
        topoheight: u64,
        miner: PublicKey,
        reward: u64,
        transactions: Vec<Transaction>,
    ) -> Self {
        Self {
            topoheight,
            miner,
            reward,
            transactions,
        }
    }

    /// The block's topoheight; it must be the chain's next one.
    pub fn topoheight(&self) -> u64 {
        self.topoheight
    }

    /// Who receives the reward and the fees.
    pub fn miner(&self) -> &PublicKey {
        &self.miner
    }

    /// The block reward in TOS, credited to the miner before any transaction.
    pub fn reward(&self) -> u64 {
        self.reward
    }

    /// The transactions, in the order that defines the block's result.
    pub fn transactions(&self) -> &[Transaction] {
        &self.transactions
    }
}
