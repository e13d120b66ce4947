//! The bundled contracts, written in sBPF assembler in `contracts/` at the repository
//! root, and the encoders of their inputs.
//!
//! Every contract takes its input as one method byte followed by fixed-size fields
//! (accounts and assets as 32 raw bytes, amounts and ids as little-endian `u64`); an
//! input of the wrong length for its method, or an unknown method, reverts with
//! [`codes::BAD_INPUT`]. Each source file documents its storage layout and methods; the
//! encoders here build exactly those inputs.
//!
//! | contract | methods |
//! |---|---|
//! | [`TOKEN`] | `init`, `mint(to, amount)` (owner only), `transfer(to, amount)`, `balance_of(holder)` |
//! | [`AMM`] | `init(asset_a, asset_b)`, `swap(direction, min_out)`, `reserves` |
//! | [`TICKET`] | `mint` (the next id), `owner_of(id)` |
//! | [`VOTE`] | `vote(option)`, `count(option)`, `unvote` |

use crate::ids::{Asset, PublicKey, StorageKey};

/// The fungible token's source.
pub const TOKEN: &str = include_str!("../../contracts/token.s");
/// The constant-product AMM pool's source.
pub const AMM: &str = include_str!("../../contracts/amm.s");
/// The ticket mint's source.
pub const TICKET: &str = include_str!("../../contracts/ticket.s");
/// The vote counter's source.
pub const VOTE: &str = include_str!("../../contracts/vote.s");

/// Every bundled contract, by name.
pub const ALL: [(&str, &str); 4] = [
    ("token", TOKEN),
    ("amm", AMM),
    ("ticket", TICKET),
    ("vote", VOTE),
];

/// The revert codes the bundled contracts share.
pub mod codes {
    /// Unknown method, or an input of the wrong length for its method.
    pub const BAD_INPUT: u64 = 1;
    /// The caller may not do this (token `mint` by anyone but the owner).
    pub const UNAUTHORIZED: u64 = 2;
    /// Checked arithmetic overflowed (or a count underflowed).
    pub const OVERFLOW: u64 = 3;
    /// Not enough: a token balance, a deposit, or an empty pool.
    pub const INSUFFICIENT: u64 = 4;
    /// A swap would pay less than its minimum output.
    pub const SLIPPAGE: u64 = 5;
    /// `init` on an initialized contract.
    pub const ALREADY_INITIALIZED: u64 = 6;
    /// The thing asked for does not exist (an uninitialized pool, a ticket, a vote).
    pub const NOT_FOUND: u64 = 7;
    /// The host refused a transfer out of the contract.
    pub const TRANSFER_FAILED: u64 = 8;
    /// The caller has voted already.
    pub const ALREADY_VOTED: u64 = 9;
}

fn with_fields(method: u8, fields: &[&[u8]]) -> Vec<u8> {
    let mut input = vec![method];
    for field in fields {
        input.extend_from_slice(field);
    }
    input
}

/// Token inputs and keys.
pub mod token {
    use super::*;

    /// `init`: the caller becomes the owner.
    pub fn init() -> Vec<u8> {
        vec![0]
    }

    /// `mint(to, amount)`.
    pub fn mint(to: &PublicKey, amount: u64) -> Vec<u8> {
        with_fields(1, &[to.as_bytes(), &amount.to_le_bytes()])
    }

    /// `transfer(to, amount)` from the caller.
    pub fn transfer(to: &PublicKey, amount: u64) -> Vec<u8> {
        with_fields(2, &[to.as_bytes(), &amount.to_le_bytes()])
    }

    /// `balance_of(holder)`: return data is the balance.
    pub fn balance_of(holder: &PublicKey) -> Vec<u8> {
        with_fields(3, &[holder.as_bytes()])
    }

    /// The storage key of `holder`'s balance.
    pub fn balance_key(holder: &PublicKey) -> StorageKey {
        StorageKey(holder.0)
    }

    /// The storage key of the owner.
    pub const OWNER_KEY: StorageKey = StorageKey([0; 32]);

    /// The storage key of the total supply.
    pub const SUPPLY_KEY: StorageKey = {
        let mut key = [0; 32];
        key[31] = 1;
        StorageKey(key)
    };
}

/// AMM inputs and keys.
pub mod amm {
    use super::*;

    /// Swap direction: asset A in, asset B out.
    pub const A_TO_B: u8 = 0;
    /// Swap direction: asset B in, asset A out.
    pub const B_TO_A: u8 = 1;

    /// `init(asset_a, asset_b)`: the call's deposits are the initial liquidity.
    pub fn init(asset_a: &Asset, asset_b: &Asset) -> Vec<u8> {
        with_fields(0, &[asset_a.as_bytes(), asset_b.as_bytes()])
    }

    /// `swap(direction, min_out)`: the call's deposit of the input asset is swapped.
    pub fn swap(direction: u8, min_out: u64) -> Vec<u8> {
        with_fields(1, &[&[direction], &min_out.to_le_bytes()])
    }

    /// `reserves`: return data is reserve A then reserve B.
    pub fn reserves() -> Vec<u8> {
        vec![2]
    }

    fn tag_key(tag: u8) -> StorageKey {
        let mut key = [0; 32];
        key[0] = tag;
        StorageKey(key)
    }

    /// The storage key of asset A's id (set by `init`).
    pub fn asset_a_key() -> StorageKey {
        tag_key(1)
    }

    /// The storage key of asset B's id (set by `init`).
    pub fn asset_b_key() -> StorageKey {
        tag_key(2)
    }

    /// The storage key of reserve A.
    pub fn reserve_a_key() -> StorageKey {
        tag_key(3)
    }

    /// The storage key of reserve B.
    pub fn reserve_b_key() -> StorageKey {
        tag_key(4)
    }

    /// What a swap of `amount_in` pays out of a pool with these reserves (0.3% fee), or
    /// `None` where the contract reverts for overflow or an empty pool. The reference the
    /// tests hold the contract to.
    pub fn quote(amount_in: u64, reserve_in: u64, reserve_out: u64) -> Option<u64> {
        if amount_in == 0 || reserve_out == 0 {
            return None;
        }
        let with_fee = amount_in.checked_mul(997)?;
        let numerator = with_fee.checked_mul(reserve_out)?;
        let denominator = reserve_in.checked_mul(1000)?.checked_add(with_fee)?;
        Some(numerator / denominator)
    }
}

/// Ticket mint inputs and keys.
pub mod ticket {
    use super::*;

    /// `mint`: return data is the new ticket's id.
    pub fn mint() -> Vec<u8> {
        vec![0]
    }

    /// `owner_of(id)`: return data is the owner.
    pub fn owner_of(id: u64) -> Vec<u8> {
        with_fields(1, &[&id.to_le_bytes()])
    }

    /// The storage key of the counter.
    pub const NEXT_ID_KEY: StorageKey = StorageKey([0; 32]);

    /// The storage key of ticket `id`'s owner.
    pub fn owner_key(id: u64) -> StorageKey {
        let mut key = [0; 32];
        key[0] = 1;
        key[1..9].copy_from_slice(&id.to_le_bytes());
        StorageKey(key)
    }
}

/// Vote counter inputs and keys.
pub mod vote {
    use super::*;

    /// Options are `0..OPTIONS`.
    pub const OPTIONS: u8 = 16;

    /// `vote(option)`.
    pub fn vote(option: u8) -> Vec<u8> {
        vec![0, option]
    }

    /// `count(option)`: return data is the count.
    pub fn count(option: u8) -> Vec<u8> {
        vec![1, option]
    }

    /// `unvote`: takes the caller's vote back.
    pub fn unvote() -> Vec<u8> {
        vec![2]
    }

    /// The storage key of `voter`'s vote.
    pub fn voter_key(voter: &PublicKey) -> StorageKey {
        StorageKey(*blake3::hash(voter.as_bytes()).as_bytes())
    }

    /// The storage key of `option`'s count.
    pub fn count_key(option: u8) -> StorageKey {
        let mut key = [0; 32];
        key[0] = 2;
        key[1] = option;
        StorageKey(key)
    }
}
