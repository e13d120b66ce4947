//! Transactions: what they carry, their canonical encoding and hash, and their
//! structural rules.
//!
//! A transaction's hash identifies it everywhere (duplicate detection, the executed
//! marks, the state root), so it is computed once, in [`Transaction::new`], over a
//! canonical byte encoding, and the fields are private: nothing can change a transaction
//! after its hash was taken.

use std::sync::Arc;

use storage_adapter::{Asset, ContractId, Hash, ModuleCode, PublicKey, MAX_MULTISIG_PARTICIPANTS};

/// Most transfers one transaction may carry.
pub const MAX_TRANSFERS_PER_TX: usize = 255;

/// Most deposits one contract call may carry.
pub const MAX_DEPOSITS: usize = 8;

/// The largest `max_gas` one contract call may reserve (1 gas = 1 atomic TOS unit).
pub const MAX_GAS: u64 = 10_000_000;

/// Largest contract call input, in bytes.
pub const MAX_INPUT_LEN: usize = contract_vm::abi::MAX_INPUT_LEN;

/// Domain separation for transaction hashes, so they can never collide with another
/// blake3 hash of this workspace (state roots, derived keys).
const HASH_DOMAIN: &[u8] = b"tos-blockstm/tx/v1";

/// One payment inside a [`Payload::Transfers`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Transfer {
    /// The asset moved.
    pub asset: Asset,
    /// Who receives it; must differ from the transaction's source.
    pub destination: PublicKey,
    /// How much; must be non-zero.
    pub amount: u64,
}

impl Transfer {
    /// A transfer of `amount` of `asset` to `destination`.
    pub fn new(asset: Asset, destination: PublicKey, amount: u64) -> Self {
        Self {
            asset,
            destination,
            amount,
        }
    }
}

/// An amount of one asset moved from a contract call's source to the contract before the
/// call runs (and moved back if the call fails).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Deposit {
    /// The asset deposited.
    pub asset: Asset,
    /// How much; must be non-zero.
    pub amount: u64,
}

/// What a transaction does besides paying its fee and consuming its nonce.
///
/// The contract payloads follow the rules of [`crate::contract`]: a deploy stores a
/// module and burns [`crate::contract::deploy_burn`]; a call reserves `max_gas`, moves
/// its deposits, runs the contract and pays for the gas it used, **even when it fails**.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Payload {
    /// Pay each destination; 1 to [`MAX_TRANSFERS_PER_TX`] transfers, none to the source,
    /// none of zero amount. Several transfers may share a destination and asset: they add.
    Transfers(Vec<Transfer>),
    /// Destroy `amount` (non-zero) of the source's `asset`. Burned TOS counts towards the
    /// chain's burned supply; a burn of any other asset just destroys that balance.
    Burn {
        /// The asset destroyed.
        asset: Asset,
        /// How much; must be non-zero.
        amount: u64,
    },
    /// Set the source's multisig configuration: `threshold` signatures of `participants`.
    /// `threshold == 0` with no participants removes the configuration.
    Multisig {
        /// Signatures required: 1..=participants, or 0 together with no participants.
        threshold: u8,
        /// Distinct accounts, at most [`MAX_MULTISIG_PARTICIPANTS`], never the source.
        participants: Vec<PublicKey>,
    },
    /// Deploy a contract at [`Transaction::deployed_contract`] (derived from the source
    /// and this nonce). The module must load and pass the VM's verifier, or the block is
    /// rejected.
    DeployContract {
        /// The contract's sBPF bytecode.
        module: Arc<ModuleCode>,
    },
    /// Call `contract` with `input`, after moving `deposits` to it and reserving
    /// `max_gas` TOS from the source.
    InvokeContract {
        /// The contract called.
        contract: ContractId,
        /// Moved from the source to the contract before the call; at most
        /// [`MAX_DEPOSITS`], none of amount zero.
        deposits: Vec<Deposit>,
        /// The most gas the call may use: 1 to [`MAX_GAS`].
        max_gas: u64,
        /// What the contract reads with `tos_get_input_data`; at most [`MAX_INPUT_LEN`]
        /// bytes.
        input: Vec<u8>,
    },
}

/// Why a transaction is not well formed, whatever the state it runs against.
///
/// A block holding such a transaction is rejected as a whole
/// ([`crate::outcome::BlockError::MalformedTransaction`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum MalformedTransaction {
    /// A transfer payload with no transfer.
    #[error("transfer list is empty")]
    EmptyTransfers,
    /// More than [`MAX_TRANSFERS_PER_TX`] transfers.
    #[error("{count} transfers, more than the maximum {MAX_TRANSFERS_PER_TX}")]
    TooManyTransfers {
        /// How many transfers the transaction carries.
        count: usize,
    },
    /// A transfer whose destination is the source itself.
    #[error("transfer {transfer} pays the source itself")]
    TransferToSelf {
        /// Index of the offending transfer.
        transfer: usize,
    },
    /// A transfer of amount zero.
    #[error("transfer {transfer} has amount zero")]
    ZeroAmountTransfer {
        /// Index of the offending transfer.
        transfer: usize,
    },
    /// A burn of amount zero.
    #[error("burn of amount zero")]
    ZeroAmountBurn,
    /// A multisig threshold above the number of participants.
    #[error("multisig threshold {threshold} above its {participants} participants")]
    ThresholdAboveParticipants {
        /// The requested threshold.
        threshold: u8,
        /// How many participants were listed.
        participants: usize,
    },
    /// A multisig threshold of zero with participants (zero only removes, with none).
    #[error("multisig threshold 0 with {participants} participants")]
    ZeroThreshold {
        /// How many participants were listed.
        participants: usize,
    },
    /// More than [`MAX_MULTISIG_PARTICIPANTS`] participants.
    #[error("{count} multisig participants, more than the maximum {MAX_MULTISIG_PARTICIPANTS}")]
    TooManyParticipants {
        /// How many participants were listed.
        count: usize,
    },
    /// The same participant listed twice.
    #[error("multisig participant {participant:?} listed twice")]
    DuplicateParticipant {
        /// The repeated participant.
        participant: PublicKey,
    },
    /// The source listed among its own participants.
    #[error("the source is among its own multisig participants")]
    SourceIsParticipant,
    /// A deploy whose module does not load or does not pass the VM's verifier.
    #[error("contract module does not load or verify")]
    InvalidModule,
    /// A contract call with more than [`MAX_DEPOSITS`] deposits.
    #[error("{count} deposits, more than the maximum {MAX_DEPOSITS}")]
    TooManyDeposits {
        /// How many deposits the call carries.
        count: usize,
    },
    /// A deposit of amount zero.
    #[error("deposit {deposit} has amount zero")]
    ZeroAmountDeposit {
        /// Index of the offending deposit.
        deposit: usize,
    },
    /// A contract call whose `max_gas` is 0 or above [`MAX_GAS`].
    #[error("max_gas {max_gas} outside 1..={MAX_GAS}")]
    InvalidMaxGas {
        /// The requested gas.
        max_gas: u64,
    },
    /// A contract call whose input is longer than [`MAX_INPUT_LEN`].
    #[error("input of {len} bytes, more than the maximum {MAX_INPUT_LEN}")]
    InputTooLong {
        /// The input's length.
        len: usize,
    },
}

/// A TOS transaction, already signature-checked by the daemon's verify stage.
///
/// ```
/// use executor::model::{Payload, Transaction, Transfer};
/// use storage_adapter::{Asset, PublicKey};
///
/// let alice = PublicKey::from_index(0);
/// let bob = PublicKey::from_index(1);
/// let tx = Transaction::new(alice, 0, 5, Payload::Transfers(vec![Transfer::new(Asset::TOS, bob, 10)]));
/// assert!(tx.validate().is_ok());
/// assert_eq!(tx.hash(), Transaction::new(alice, 0, 5, tx.payload().clone()).hash());
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Transaction {
    source: PublicKey,
    nonce: u64,
    fee: u64,
    payload: Payload,
    /// blake3 of the canonical encoding; fields are private so it cannot go stale.
    hash: Hash,
}

impl Transaction {
    /// A transaction from `source` with `nonce`, paying `fee` TOS, doing `payload`.
    ///
    /// Computes the hash; performs no validation (see [`Transaction::validate`]), so that
    /// malformed transactions can be built and rejected by block validation.
    pub fn new(source: PublicKey, nonce: u64, fee: u64, payload: Payload) -> Self {
        let mut hasher = blake3::Hasher::new();
        encode_fields(&source, nonce, fee, &payload, &mut |bytes| {
            hasher.update(bytes);
        });
        let hash = Hash::from(hasher.finalize());
        Self {
            source,
            nonce,
            fee,
            payload,
            hash,
        }
    }

    /// The account that pays the fee, spends, and whose nonce is consumed.
    pub fn source(&self) -> &PublicKey {
        &self.source
    }

    /// The nonce; the transaction succeeds only if it equals the source's stored nonce.
    pub fn nonce(&self) -> u64 {
        self.nonce
    }

    /// The fee in TOS (zero is allowed), paid to the block's miner on success.
    pub fn fee(&self) -> u64 {
        self.fee
    }

    /// What the transaction does.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// The accounts the transaction names: its source, then its transfer destinations in
    /// order (repeats included). Unless it [calls a contract](Self::calls_contract), its
    /// state accesses stay within these accounts' nonces, balances and multisig
    /// configurations (and, for a deploy, its new contract's module), which is what batch
    /// grouping and Block-STM's contention estimate rely on.
    pub fn accounts(&self) -> impl Iterator<Item = &PublicKey> {
        let destinations = match &self.payload {
            Payload::Transfers(transfers) => transfers.as_slice(),
            Payload::Burn { .. }
            | Payload::Multisig { .. }
            | Payload::DeployContract { .. }
            | Payload::InvokeContract { .. } => &[],
        };
        std::iter::once(&self.source).chain(destinations.iter().map(|t| &t.destination))
    }

    /// Whether the transaction calls a contract: then the keys it touches (the contract's
    /// storage and balances, the accounts it pays) are known only when it runs.
    pub fn calls_contract(&self) -> bool {
        matches!(self.payload, Payload::InvokeContract { .. })
    }

    /// The address a deploy stores its contract at: blake3 over a domain tag, the source
    /// and the nonce, so two deploys can never share one (a source's nonce only grows).
    /// Defined for every transaction; meaningful for a deploy.
    pub fn deployed_contract(&self) -> ContractId {
        crate::contract::address(&self.source, self.nonce)
    }

    /// The transaction's identity: blake3 over [`Transaction::encode`].
    pub fn hash(&self) -> &Hash {
        &self.hash
    }

    /// The canonical encoding that the hash is taken over, all integers big-endian:
    ///
    /// ```text
    /// "tos-blockstm/tx/v1"            domain tag, 18 bytes
    /// source                          32 bytes
    /// nonce, fee                      u64 each
    /// payload tag                     u8: 0 transfers, 1 burn, 2 multisig, 3 deploy, 4 invoke
    /// transfers: count u64, then per transfer: asset 32, destination 32, amount u64
    /// burn:      asset 32, amount u64
    /// multisig:  threshold u8, count u64, then each participant 32
    /// deploy:    module length u64, module bytes        (payload tag 3)
    /// invoke:    contract 32, deposit count u64, then per deposit: asset 32, amount u64,
    ///            max_gas u64, input length u64, input bytes   (payload tag 4)
    /// ```
    ///
    /// Every variable-length list is length-prefixed, so distinct transactions never
    /// share an encoding (malformed ones included).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        encode_fields(
            &self.source,
            self.nonce,
            self.fee,
            &self.payload,
            &mut |bytes| {
                out.extend_from_slice(bytes);
            },
        );
        out
    }

    /// Checks the structural rules of [`Payload`]; the first broken rule is reported.
    ///
    /// These depend on the transaction alone, never on state: a transaction that passes
    /// may still fail at execution (nonce, funds, overflow).
    pub fn validate(&self) -> Result<(), MalformedTransaction> {
        match &self.payload {
            Payload::Transfers(transfers) => {
                if transfers.is_empty() {
                    return Err(MalformedTransaction::EmptyTransfers);
                }
                if transfers.len() > MAX_TRANSFERS_PER_TX {
                    return Err(MalformedTransaction::TooManyTransfers {
                        count: transfers.len(),
                    });
                }
                for (transfer_index, transfer) in transfers.iter().enumerate() {
                    if transfer.destination == self.source {
                        return Err(MalformedTransaction::TransferToSelf {
                            transfer: transfer_index,
                        });
                    }
                    if transfer.amount == 0 {
                        return Err(MalformedTransaction::ZeroAmountTransfer {
                            transfer: transfer_index,
                        });
                    }
                }
                Ok(())
            }
            Payload::Burn { amount, .. } => {
                if *amount == 0 {
                    return Err(MalformedTransaction::ZeroAmountBurn);
                }
                Ok(())
            }
            Payload::Multisig {
                threshold,
                participants,
            } => {
                if participants.len() > MAX_MULTISIG_PARTICIPANTS {
                    return Err(MalformedTransaction::TooManyParticipants {
                        count: participants.len(),
                    });
                }
                if usize::from(*threshold) > participants.len() {
                    return Err(MalformedTransaction::ThresholdAboveParticipants {
                        threshold: *threshold,
                        participants: participants.len(),
                    });
                }
                if *threshold == 0 && !participants.is_empty() {
                    return Err(MalformedTransaction::ZeroThreshold {
                        participants: participants.len(),
                    });
                }
                for (index, participant) in participants.iter().enumerate() {
                    if *participant == self.source {
                        return Err(MalformedTransaction::SourceIsParticipant);
                    }
                    // At most 255 participants: the quadratic scan is at most ~32k
                    // comparisons and allocates nothing.
                    if participants[..index].contains(participant) {
                        return Err(MalformedTransaction::DuplicateParticipant {
                            participant: *participant,
                        });
                    }
                }
                Ok(())
            }
            Payload::DeployContract { module } => crate::contract::modules::load(module)
                .map(drop)
                .map_err(|_| MalformedTransaction::InvalidModule),
            Payload::InvokeContract {
                deposits,
                max_gas,
                input,
                ..
            } => {
                if deposits.len() > MAX_DEPOSITS {
                    return Err(MalformedTransaction::TooManyDeposits {
                        count: deposits.len(),
                    });
                }
                if let Some(deposit) = deposits.iter().position(|deposit| deposit.amount == 0) {
                    return Err(MalformedTransaction::ZeroAmountDeposit { deposit });
                }
                if !(1..=MAX_GAS).contains(max_gas) {
                    return Err(MalformedTransaction::InvalidMaxGas { max_gas: *max_gas });
                }
                if input.len() > MAX_INPUT_LEN {
                    return Err(MalformedTransaction::InputTooLong { len: input.len() });
                }
                Ok(())
            }
        }
    }
}

/// Feeds the canonical encoding (see [`Transaction::encode`]) to `sink`, piece by piece,
/// so that hashing needs no intermediate buffer.
fn encode_fields(
    source: &PublicKey,
    nonce: u64,
    fee: u64,
    payload: &Payload,
    sink: &mut dyn FnMut(&[u8]),
) {
    sink(HASH_DOMAIN);
    sink(source.as_bytes());
    sink(&nonce.to_be_bytes());
    sink(&fee.to_be_bytes());
    match payload {
        Payload::Transfers(transfers) => {
            sink(&[0]);
            sink(&(transfers.len() as u64).to_be_bytes());
            for transfer in transfers {
                sink(transfer.asset.as_bytes());
                sink(transfer.destination.as_bytes());
                sink(&transfer.amount.to_be_bytes());
            }
        }
        Payload::Burn { asset, amount } => {
            sink(&[1]);
            sink(asset.as_bytes());
            sink(&amount.to_be_bytes());
        }
        Payload::Multisig {
            threshold,
            participants,
        } => {
            sink(&[2]);
            sink(&[*threshold]);
            sink(&(participants.len() as u64).to_be_bytes());
            for participant in participants {
                sink(participant.as_bytes());
            }
        }
        Payload::DeployContract { module } => {
            sink(&[3]);
            sink(&(module.bytecode().len() as u64).to_be_bytes());
            sink(module.bytecode());
        }
        Payload::InvokeContract {
            contract,
            deposits,
            max_gas,
            input,
        } => {
            sink(&[4]);
            sink(contract.as_bytes());
            sink(&(deposits.len() as u64).to_be_bytes());
            for deposit in deposits {
                sink(deposit.asset.as_bytes());
                sink(&deposit.amount.to_be_bytes());
            }
            sink(&max_gas.to_be_bytes());
            sink(&(input.len() as u64).to_be_bytes());
            sink(input);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(index: u64) -> PublicKey {
        PublicKey::from_index(index)
    }

    fn transfers(list: Vec<Transfer>) -> Transaction {
        Transaction::new(key(0), 0, 1, Payload::Transfers(list))
    }

    fn multisig(threshold: u8, participants: Vec<PublicKey>) -> Transaction {
        Transaction::new(
            key(0),
            0,
            1,
            Payload::Multisig {
                threshold,
                participants,
            },
        )
    }

    #[test]
    fn hash_is_blake3_of_the_encoding_and_covers_every_field() {
        let base = transfers(vec![Transfer::new(Asset::TOS, key(1), 10)]);
        assert_eq!(*base.hash(), Hash::digest(&base.encode()));
        let variants = [
            Transaction::new(key(2), 0, 1, base.payload().clone()),
            Transaction::new(key(0), 1, 1, base.payload().clone()),
            Transaction::new(key(0), 0, 2, base.payload().clone()),
            transfers(vec![Transfer::new(Asset::TOS, key(1), 11)]),
            transfers(vec![Transfer::new(Asset::from_index(1), key(1), 10)]),
            transfers(vec![Transfer::new(Asset::TOS, key(3), 10)]),
            Transaction::new(
                key(0),
                0,
                1,
                Payload::Burn {
                    asset: Asset::TOS,
                    amount: 10,
                },
            ),
            multisig(0, vec![]),
        ];
        for other in &variants {
            assert_ne!(base.hash(), other.hash(), "{other:?}");
        }
    }

    #[test]
    fn length_prefixes_keep_lists_unambiguous() {
        // Two multisig payloads whose flattened bytes would touch without a count.
        let one = multisig(1, vec![key(1)]);
        let two = multisig(1, vec![key(1), key(2)]);
        assert_ne!(one.hash(), two.hash());
        assert_ne!(one.encode().len(), two.encode().len());
    }

    #[test]
    fn well_formed_payloads_pass() {
        assert_eq!(
            transfers(vec![
                Transfer::new(Asset::TOS, key(1), 1);
                MAX_TRANSFERS_PER_TX
            ])
            .validate(),
            Ok(())
        );
        assert_eq!(
            Transaction::new(
                key(0),
                0,
                0,
                Payload::Burn {
                    asset: Asset::TOS,
                    amount: 1
                }
            )
            .validate(),
            Ok(())
        );
        assert_eq!(multisig(0, vec![]).validate(), Ok(()));
        assert_eq!(multisig(2, vec![key(1), key(2)]).validate(), Ok(()));
        let many: Vec<PublicKey> = (1..=255).map(key).collect();
        assert_eq!(multisig(255, many).validate(), Ok(()));
    }

    #[test]
    fn each_structural_rule_is_enforced() {
        use MalformedTransaction as M;
        let cases = [
            (transfers(vec![]), M::EmptyTransfers),
            (
                transfers(vec![
                    Transfer::new(Asset::TOS, key(1), 1);
                    MAX_TRANSFERS_PER_TX + 1
                ]),
                M::TooManyTransfers { count: 256 },
            ),
            (
                transfers(vec![
                    Transfer::new(Asset::TOS, key(1), 1),
                    Transfer::new(Asset::TOS, key(0), 1),
                ]),
                M::TransferToSelf { transfer: 1 },
            ),
            (
                transfers(vec![Transfer::new(Asset::TOS, key(1), 0)]),
                M::ZeroAmountTransfer { transfer: 0 },
            ),
            (
                Transaction::new(
                    key(0),
                    0,
                    1,
                    Payload::Burn {
                        asset: Asset::TOS,
                        amount: 0,
                    },
                ),
                M::ZeroAmountBurn,
            ),
            (
                multisig(3, vec![key(1), key(2)]),
                M::ThresholdAboveParticipants {
                    threshold: 3,
                    participants: 2,
                },
            ),
            (
                multisig(0, vec![key(1)]),
                M::ZeroThreshold { participants: 1 },
            ),
            (
                multisig(1, (1..=256).map(key).collect()),
                M::TooManyParticipants { count: 256 },
            ),
            (
                multisig(1, vec![key(1), key(2), key(1)]),
                M::DuplicateParticipant {
                    participant: key(1),
                },
            ),
            (multisig(1, vec![key(1), key(0)]), M::SourceIsParticipant),
        ];
        for (tx, expected) in cases {
            assert_eq!(tx.validate(), Err(expected), "{tx:?}");
        }
    }
}
