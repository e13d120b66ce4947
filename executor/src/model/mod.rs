//! The TOS data model that the engines execute: transactions and blocks.
//!
//! These types are plain data with their *structural* rules (what a well-formed
//! transaction looks like). Whether a transaction succeeds against state is the VM's
//! business ([`crate::vm`]); whether a block may be applied at all is
//! [`crate::block::validate_block`]'s.

mod block;
mod transaction;

pub use block::{Block, MAX_BLOCK_TRANSACTIONS};
pub use transaction::{
    Deposit, MalformedTransaction, Payload, Transaction, Transfer, MAX_DEPOSITS, MAX_GAS,
    MAX_INPUT_LEN, MAX_TRANSFERS_PER_TX,
};
