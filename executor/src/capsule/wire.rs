//! The serde shapes of capsules and block files, and their conversions to and from the
//! model's types.
//!
//! The model's types (`storage_adapter`'s keys and values, the executor's blocks and
//! outputs) carry no serde derives on purpose: the state model stays free of an encoding,
//! and the 32-byte identifiers would serialize as arrays of 32 numbers. These mirrors
//! spell every 32-byte value as 64 lowercase hex digits and every enum as an externally
//! tagged `snake_case` object, so a capsule reads well with `jq`. Reading one back goes
//! through the model's own constructors (`Transaction::new`, `BlockCommit::new`), so the
//! hashes and state roots are recomputed and checked, never trusted.
//!
//! Variable-length bytes (contract modules, storage values, call inputs) are lowercase
//! hex strings too ([`HexBytes`]). State values are held to the bounds the store itself
//! enforces ([`MAX_MODULE_LEN`], [`MAX_STORAGE_VALUE_LEN`]): a recorded value beyond them
//! could never have been read from a store, so it is corruption. Transaction payloads are
//! not bounded here: a block may carry a malformed transaction (an over-long input, a
//! module that does not verify) that validation rejects, and a capsule of that rejection
//! must record the block as it was.

use std::sync::Arc;

use contract_vm::abi::SyscallFault;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use storage_adapter::{
    Asset, BlockCommit, ChainState, ContractId, Hash, ModuleCode, MultisigConfig, PublicKey,
    StateKey, StateValue, StorageKey, StorageValue, MAX_MODULE_LEN, MAX_STORAGE_VALUE_LEN,
};

use super::CapsuleError;
use crate::model::{Block, Deposit, Payload, Transaction, Transfer};
use crate::outcome::{BlockOutput, CallFailure, FaultReason, OverflowKind, TxFailure, TxResult};
use crate::slot::Mismatch;

/// 32 bytes, written as 64 lowercase hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Hex32(pub(crate) [u8; 32]);

impl Serialize for Hex32 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Hex32 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&text, &mut bytes).map_err(|error| {
            serde::de::Error::custom(format!(
                "`{text}` is not 32 bytes in hex (64 hex digits): {error}"
            ))
        })?;
        Ok(Self(bytes))
    }
}

impl From<&PublicKey> for Hex32 {
    fn from(key: &PublicKey) -> Self {
        Self(key.0)
    }
}

impl From<&Asset> for Hex32 {
    fn from(asset: &Asset) -> Self {
        Self(asset.0)
    }
}

impl From<&Hash> for Hex32 {
    fn from(hash: &Hash) -> Self {
        Self(hash.0)
    }
}

impl From<&ContractId> for Hex32 {
    fn from(contract: &ContractId) -> Self {
        Self(contract.0)
    }
}

impl From<&StorageKey> for Hex32 {
    fn from(key: &StorageKey) -> Self {
        Self(key.0)
    }
}

impl Hex32 {
    pub(crate) fn account(self) -> PublicKey {
        PublicKey(self.0)
    }

    pub(crate) fn contract(self) -> ContractId {
        ContractId(self.0)
    }

    pub(crate) fn storage_key(self) -> StorageKey {
        StorageKey(self.0)
    }

    pub(crate) fn asset(self) -> Asset {
        Asset(self.0)
    }

    pub(crate) fn hash(self) -> Hash {
        Hash(self.0)
    }
}

/// Any number of bytes, written as lowercase hex (two digits a byte; empty is `""`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HexBytes(pub(crate) Vec<u8>);

impl Serialize for HexBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        hex::decode(&text).map(Self).map_err(|error| {
            // The text may be a 128 KiB module: quote only its start.
            let start: String = text.chars().take(16).collect();
            serde::de::Error::custom(format!(
                "`{start}…` ({} bytes of text) is not bytes in hex: {error}",
                text.len()
            ))
        })
    }
}

impl From<&[u8]> for HexBytes {
    fn from(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }
}

/// A [`StateKey`]: `{"nonce": ACCOUNT}`, `{"balance": [ACCOUNT, ASSET]}`,
/// `{"multisig": ACCOUNT}`, `{"module": CONTRACT}`, `{"contract_balance": [CONTRACT,
/// ASSET]}`, `{"storage": [CONTRACT, STORAGE_KEY]}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum KeyDto {
    Nonce(Hex32),
    Balance(Hex32, Hex32),
    Multisig(Hex32),
    /// Format version 2 on.
    Module(Hex32),
    /// Format version 2 on.
    ContractBalance(Hex32, Hex32),
    /// Format version 2 on.
    Storage(Hex32, Hex32),
}

impl From<&StateKey> for KeyDto {
    fn from(key: &StateKey) -> Self {
        match key {
            StateKey::Nonce(account) => KeyDto::Nonce(account.into()),
            StateKey::Balance(account, asset) => KeyDto::Balance(account.into(), asset.into()),
            StateKey::Multisig(account) => KeyDto::Multisig(account.into()),
            StateKey::Module(contract) => KeyDto::Module(contract.into()),
            StateKey::ContractBalance(contract, asset) => {
                KeyDto::ContractBalance(contract.into(), asset.into())
            }
            StateKey::Storage(contract, key) => KeyDto::Storage(contract.into(), key.into()),
        }
    }
}

impl From<&KeyDto> for StateKey {
    fn from(key: &KeyDto) -> Self {
        match *key {
            KeyDto::Nonce(account) => StateKey::Nonce(account.account()),
            KeyDto::Balance(account, asset) => StateKey::Balance(account.account(), asset.asset()),
            KeyDto::Multisig(account) => StateKey::Multisig(account.account()),
            KeyDto::Module(contract) => StateKey::Module(contract.contract()),
            KeyDto::ContractBalance(contract, asset) => {
                StateKey::ContractBalance(contract.contract(), asset.asset())
            }
            KeyDto::Storage(contract, key) => {
                StateKey::Storage(contract.contract(), key.storage_key())
            }
        }
    }
}

/// A multisig configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MultisigDto {
    threshold: u8,
    participants: Vec<Hex32>,
}

/// A [`StateValue`]: `{"nonce": 3}`, `{"balance": 10}`, `{"multisig": null | {...}}`,
/// `{"module": BYTECODE_HEX}`, `{"storage": null | VALUE_HEX}` (`null` is a deletion,
/// `""` an empty value: they differ, as they do in the state root).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ValueDto {
    Nonce(u64),
    Balance(u64),
    Multisig(Option<MultisigDto>),
    /// Format version 2 on.
    Module(HexBytes),
    /// Format version 2 on.
    Storage(Option<HexBytes>),
}

impl From<&StateValue> for ValueDto {
    fn from(value: &StateValue) -> Self {
        match value {
            StateValue::Nonce(nonce) => ValueDto::Nonce(*nonce),
            StateValue::Balance(balance) => ValueDto::Balance(*balance),
            StateValue::Multisig(config) => {
                ValueDto::Multisig(config.as_ref().map(|config| MultisigDto {
                    threshold: config.threshold,
                    participants: config.participants.iter().map(Hex32::from).collect(),
                }))
            }
            StateValue::Module(code) => ValueDto::Module(code.bytecode().into()),
            StateValue::Storage(value) => {
                ValueDto::Storage(value.as_ref().map(|value| value.as_bytes().into()))
            }
        }
    }
}

impl ValueDto {
    /// The value, checked to fit `key` (a nonce at a nonce key, and so on).
    pub(crate) fn to_value(&self, key: &StateKey) -> Result<StateValue, CapsuleError> {
        let value = match self {
            ValueDto::Nonce(nonce) => StateValue::Nonce(*nonce),
            ValueDto::Balance(balance) => StateValue::Balance(*balance),
            ValueDto::Multisig(config) => StateValue::Multisig(config.as_ref().map(|config| {
                Arc::new(MultisigConfig {
                    threshold: config.threshold,
                    participants: config.participants.iter().map(|p| p.account()).collect(),
                })
            })),
            // The store's own bounds (see `StateValue::decode`): no store holds anything
            // else, so a recorded value beyond them is corruption.
            ValueDto::Module(bytecode) => {
                if bytecode.0.is_empty() || bytecode.0.len() > MAX_MODULE_LEN {
                    return Err(CapsuleError::Invalid(format!(
                        "a contract module of {} bytes at {key:?} (1 to {MAX_MODULE_LEN} \
                         allowed)",
                        bytecode.0.len()
                    )));
                }
                StateValue::Module(Arc::new(ModuleCode::new(&bytecode.0)))
            }
            ValueDto::Storage(stored) => {
                if let Some(stored) = stored {
                    if stored.0.len() > MAX_STORAGE_VALUE_LEN {
                        return Err(CapsuleError::Invalid(format!(
                            "a storage value of {} bytes at {key:?} (at most \
                             {MAX_STORAGE_VALUE_LEN} allowed)",
                            stored.0.len()
                        )));
                    }
                }
                StateValue::Storage(
                    stored
                        .as_ref()
                        .map(|stored| Arc::new(StorageValue::from_slice(&stored.0))),
                )
            }
        };
        if value.fits(key) {
            Ok(value)
        } else {
            Err(CapsuleError::Invalid(format!(
                "the value {value:?} does not fit the key {key:?}"
            )))
        }
    }
}

/// One `[KEY, VALUE]` pair of a write list.
pub(crate) type WriteDto = (KeyDto, ValueDto);

pub(crate) fn writes_to_dto(writes: &[(StateKey, StateValue)]) -> Vec<WriteDto> {
    writes
        .iter()
        .map(|(key, value)| (key.into(), value.into()))
        .collect()
}

pub(crate) fn writes_from_dto(
    writes: &[WriteDto],
) -> Result<Vec<(StateKey, StateValue)>, CapsuleError> {
    writes
        .iter()
        .map(|(key, value)| {
            let key = StateKey::from(key);
            Ok((key, value.to_value(&key)?))
        })
        .collect()
}

/// A [`ChainState`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChainDto {
    topoheight: Option<u64>,
    state_root: Hex32,
    burned_supply: u64,
}

impl From<&ChainState> for ChainDto {
    fn from(chain: &ChainState) -> Self {
        Self {
            topoheight: chain.topoheight,
            state_root: (&chain.state_root).into(),
            burned_supply: chain.burned_supply,
        }
    }
}

impl From<&ChainDto> for ChainState {
    fn from(chain: &ChainDto) -> Self {
        ChainState {
            topoheight: chain.topoheight,
            state_root: chain.state_root.hash(),
            burned_supply: chain.burned_supply,
        }
    }
}

/// One [`Transfer`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransferDto {
    asset: Hex32,
    destination: Hex32,
    amount: u64,
}

/// One [`Deposit`] of a contract call.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DepositDto {
    asset: Hex32,
    amount: u64,
}

/// A [`Payload`]: `{"transfers": [...]}`, `{"burn": {...}}`, `{"multisig": {...}}`,
/// `{"deploy_contract": {"module": HEX}}`, `{"invoke_contract": {"contract", "deposits":
/// [{"asset", "amount"}], "max_gas", "input": HEX}}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PayloadDto {
    Transfers(Vec<TransferDto>),
    Burn {
        asset: Hex32,
        amount: u64,
    },
    Multisig {
        threshold: u8,
        participants: Vec<Hex32>,
    },
    /// Format version 2 on. The module is not bounded or verified here: see the module
    /// docs.
    DeployContract {
        module: HexBytes,
    },
    /// Format version 2 on.
    InvokeContract {
        contract: Hex32,
        deposits: Vec<DepositDto>,
        max_gas: u64,
        input: HexBytes,
    },
}

/// A [`Transaction`]; `hash` is checked against the fields on reading.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransactionDto {
    source: Hex32,
    nonce: u64,
    fee: u64,
    payload: PayloadDto,
    hash: Hex32,
}

impl From<&Transaction> for TransactionDto {
    fn from(tx: &Transaction) -> Self {
        let payload = match tx.payload() {
            Payload::Transfers(transfers) => PayloadDto::Transfers(
                transfers
                    .iter()
                    .map(|transfer| TransferDto {
                        asset: (&transfer.asset).into(),
                        destination: (&transfer.destination).into(),
                        amount: transfer.amount,
                    })
                    .collect(),
            ),
            Payload::Burn { asset, amount } => PayloadDto::Burn {
                asset: asset.into(),
                amount: *amount,
            },
            Payload::Multisig {
                threshold,
                participants,
            } => PayloadDto::Multisig {
                threshold: *threshold,
                participants: participants.iter().map(Hex32::from).collect(),
            },
            Payload::DeployContract { module } => PayloadDto::DeployContract {
                module: module.bytecode().into(),
            },
            Payload::InvokeContract {
                contract,
                deposits,
                max_gas,
                input,
            } => PayloadDto::InvokeContract {
                contract: contract.into(),
                deposits: deposits
                    .iter()
                    .map(|deposit| DepositDto {
                        asset: (&deposit.asset).into(),
                        amount: deposit.amount,
                    })
                    .collect(),
                max_gas: *max_gas,
                input: input.as_slice().into(),
            },
        };
        Self {
            source: tx.source().into(),
            nonce: tx.nonce(),
            fee: tx.fee(),
            payload,
            hash: tx.hash().into(),
        }
    }
}

impl TransactionDto {
    fn to_transaction(&self, index: usize) -> Result<Transaction, CapsuleError> {
        let payload = match &self.payload {
            PayloadDto::Transfers(transfers) => Payload::Transfers(
                transfers
                    .iter()
                    .map(|t| Transfer::new(t.asset.asset(), t.destination.account(), t.amount))
                    .collect(),
            ),
            PayloadDto::Burn { asset, amount } => Payload::Burn {
                asset: asset.asset(),
                amount: *amount,
            },
            PayloadDto::Multisig {
                threshold,
                participants,
            } => Payload::Multisig {
                threshold: *threshold,
                participants: participants.iter().map(|p| p.account()).collect(),
            },
            PayloadDto::DeployContract { module } => Payload::DeployContract {
                module: Arc::new(ModuleCode::new(&module.0)),
            },
            PayloadDto::InvokeContract {
                contract,
                deposits,
                max_gas,
                input,
            } => Payload::InvokeContract {
                contract: contract.contract(),
                deposits: deposits
                    .iter()
                    .map(|deposit| Deposit {
                        asset: deposit.asset.asset(),
                        amount: deposit.amount,
                    })
                    .collect(),
                max_gas: *max_gas,
                input: input.0.clone(),
            },
        };
        let tx = Transaction::new(self.source.account(), self.nonce, self.fee, payload);
        if *tx.hash() != self.hash.hash() {
            return Err(CapsuleError::Invalid(format!(
                "transaction {index}: the recorded hash {} is not the hash of its fields ({})",
                self.hash.hash(),
                tx.hash()
            )));
        }
        Ok(tx)
    }
}

/// A [`Block`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BlockDto {
    topoheight: u64,
    miner: Hex32,
    reward: u64,
    transactions: Vec<TransactionDto>,
}

impl From<&Block> for BlockDto {
    fn from(block: &Block) -> Self {
        Self {
            topoheight: block.topoheight(),
            miner: block.miner().into(),
            reward: block.reward(),
            transactions: block.transactions().iter().map(Into::into).collect(),
        }
    }
}

impl BlockDto {
    pub(crate) fn to_block(&self) -> Result<Block, CapsuleError> {
        let transactions = self
            .transactions
            .iter()
            .enumerate()
            .map(|(index, tx)| tx.to_transaction(index))
            .collect::<Result<_, _>>()?;
        Ok(Block::new(
            self.topoheight,
            self.miner.account(),
            self.reward,
            transactions,
        ))
    }
}

/// An [`OverflowKind`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OverflowDto {
    Spending {
        asset: Hex32,
    },
    Credit {
        destination: Hex32,
        asset: Hex32,
    },
    Nonce,
    /// Format version 2 on.
    ContractCredit {
        contract: Hex32,
        asset: Hex32,
    },
}

/// A [`SyscallFault`], by name: `"bad_pointer"`, `"value_too_long"`, ...
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SyscallFaultDto {
    BadPointer,
    ValueTooLong,
    ReturnDataTooLong,
    LogTooLong,
    TooManyLogs,
    HashInputTooLong,
}

/// A [`FaultReason`], by name: `"memory_access"`, ..., or `{"syscall": SYSCALL_FAULT}`.
/// An unknown name is a decoding error: a fault this build does not know cannot be
/// replayed faithfully.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FaultDto {
    MemoryAccess,
    DivideByZero,
    DivideOverflow,
    CallDepthExceeded,
    UnsupportedInstruction,
    ExecutionOverrun,
    Syscall(SyscallFaultDto),
    InputTooLong,
    Other,
}

impl From<&FaultReason> for FaultDto {
    fn from(reason: &FaultReason) -> Self {
        // Exhaustive both ways, so a new fault in the VM fails to compile here rather
        // than being written under another fault's name.
        match reason {
            FaultReason::MemoryAccess => FaultDto::MemoryAccess,
            FaultReason::DivideByZero => FaultDto::DivideByZero,
            FaultReason::DivideOverflow => FaultDto::DivideOverflow,
            FaultReason::CallDepthExceeded => FaultDto::CallDepthExceeded,
            FaultReason::UnsupportedInstruction => FaultDto::UnsupportedInstruction,
            FaultReason::ExecutionOverrun => FaultDto::ExecutionOverrun,
            FaultReason::Syscall(fault) => FaultDto::Syscall(match fault {
                SyscallFault::BadPointer => SyscallFaultDto::BadPointer,
                SyscallFault::ValueTooLong => SyscallFaultDto::ValueTooLong,
                SyscallFault::ReturnDataTooLong => SyscallFaultDto::ReturnDataTooLong,
                SyscallFault::LogTooLong => SyscallFaultDto::LogTooLong,
                SyscallFault::TooManyLogs => SyscallFaultDto::TooManyLogs,
                SyscallFault::HashInputTooLong => SyscallFaultDto::HashInputTooLong,
            }),
            FaultReason::InputTooLong => FaultDto::InputTooLong,
            FaultReason::Other => FaultDto::Other,
        }
    }
}

impl From<FaultDto> for FaultReason {
    fn from(reason: FaultDto) -> Self {
        match reason {
            FaultDto::MemoryAccess => FaultReason::MemoryAccess,
            FaultDto::DivideByZero => FaultReason::DivideByZero,
            FaultDto::DivideOverflow => FaultReason::DivideOverflow,
            FaultDto::CallDepthExceeded => FaultReason::CallDepthExceeded,
            FaultDto::UnsupportedInstruction => FaultReason::UnsupportedInstruction,
            FaultDto::ExecutionOverrun => FaultReason::ExecutionOverrun,
            FaultDto::Syscall(fault) => FaultReason::Syscall(match fault {
                SyscallFaultDto::BadPointer => SyscallFault::BadPointer,
                SyscallFaultDto::ValueTooLong => SyscallFault::ValueTooLong,
                SyscallFaultDto::ReturnDataTooLong => SyscallFault::ReturnDataTooLong,
                SyscallFaultDto::LogTooLong => SyscallFault::LogTooLong,
                SyscallFaultDto::TooManyLogs => SyscallFault::TooManyLogs,
                SyscallFaultDto::HashInputTooLong => SyscallFault::HashInputTooLong,
            }),
            FaultDto::InputTooLong => FaultReason::InputTooLong,
            FaultDto::Other => FaultReason::Other,
        }
    }
}

/// A [`CallFailure`]: `{"revert": {"code": N}}`, `"out_of_gas"` or `{"fault": FAULT}`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CallFailureDto {
    Revert { code: u64 },
    OutOfGas,
    Fault(FaultDto),
}

/// A [`TxFailure`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TxFailureDto {
    AlreadyExecuted,
    InvalidNonce {
        expected: u64,
        got: u64,
    },
    InsufficientFunds {
        asset: Hex32,
        needed: u64,
        available: u64,
    },
    Overflow(OverflowDto),
    /// Format version 2 on.
    ContractExists {
        contract: Hex32,
    },
    /// Format version 2 on.
    NoContract {
        contract: Hex32,
    },
    /// Format version 2 on.
    Call(CallFailureDto),
}

/// A [`TxResult`]: `"success"` or `{"failed": ...}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TxResultDto {
    Success,
    Failed(TxFailureDto),
}

impl From<&TxResult> for TxResultDto {
    fn from(result: &TxResult) -> Self {
        let failure = match result {
            TxResult::Success => return TxResultDto::Success,
            TxResult::Failed(failure) => failure,
        };
        TxResultDto::Failed(match failure {
            TxFailure::AlreadyExecuted => TxFailureDto::AlreadyExecuted,
            TxFailure::InvalidNonce { expected, got } => TxFailureDto::InvalidNonce {
                expected: *expected,
                got: *got,
            },
            TxFailure::InsufficientFunds {
                asset,
                needed,
                available,
            } => TxFailureDto::InsufficientFunds {
                asset: asset.into(),
                needed: *needed,
                available: *available,
            },
            TxFailure::Overflow(kind) => TxFailureDto::Overflow(match kind {
                OverflowKind::Spending { asset } => OverflowDto::Spending {
                    asset: asset.into(),
                },
                OverflowKind::Credit { destination, asset } => OverflowDto::Credit {
                    destination: destination.into(),
                    asset: asset.into(),
                },
                OverflowKind::Nonce => OverflowDto::Nonce,
                OverflowKind::ContractCredit { contract, asset } => OverflowDto::ContractCredit {
                    contract: contract.into(),
                    asset: asset.into(),
                },
            }),
            TxFailure::ContractExists { contract } => TxFailureDto::ContractExists {
                contract: contract.into(),
            },
            TxFailure::NoContract { contract } => TxFailureDto::NoContract {
                contract: contract.into(),
            },
            TxFailure::Call(failure) => TxFailureDto::Call(match failure {
                CallFailure::Revert { code } => CallFailureDto::Revert { code: *code },
                CallFailure::OutOfGas => CallFailureDto::OutOfGas,
                CallFailure::Fault(reason) => CallFailureDto::Fault(reason.into()),
            }),
        })
    }
}

impl From<&TxResultDto> for TxResult {
    fn from(result: &TxResultDto) -> Self {
        let failure = match result {
            TxResultDto::Success => return TxResult::Success,
            TxResultDto::Failed(failure) => failure,
        };
        TxResult::Failed(match failure {
            TxFailureDto::AlreadyExecuted => TxFailure::AlreadyExecuted,
            TxFailureDto::InvalidNonce { expected, got } => TxFailure::InvalidNonce {
                expected: *expected,
                got: *got,
            },
            TxFailureDto::InsufficientFunds {
                asset,
                needed,
                available,
            } => TxFailure::InsufficientFunds {
                asset: asset.asset(),
                needed: *needed,
                available: *available,
            },
            TxFailureDto::Overflow(kind) => TxFailure::Overflow(match kind {
                OverflowDto::Spending { asset } => OverflowKind::Spending {
                    asset: asset.asset(),
                },
                OverflowDto::Credit { destination, asset } => OverflowKind::Credit {
                    destination: destination.account(),
                    asset: asset.asset(),
                },
                OverflowDto::Nonce => OverflowKind::Nonce,
                OverflowDto::ContractCredit { contract, asset } => OverflowKind::ContractCredit {
                    contract: contract.contract(),
                    asset: asset.asset(),
                },
            }),
            TxFailureDto::ContractExists { contract } => TxFailure::ContractExists {
                contract: contract.contract(),
            },
            TxFailureDto::NoContract { contract } => TxFailure::NoContract {
                contract: contract.contract(),
            },
            TxFailureDto::Call(failure) => TxFailure::Call(match *failure {
                CallFailureDto::Revert { code } => CallFailure::Revert { code },
                CallFailureDto::OutOfGas => CallFailure::OutOfGas,
                CallFailureDto::Fault(reason) => CallFailure::Fault(reason.into()),
            }),
        })
    }
}

/// A [`BlockOutput`], with everything its [`BlockCommit`] was sealed from, so reading it
/// back reseals the commit and checks the recorded root.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutputDto {
    results: Vec<TxResultDto>,
    total_fees: u64,
    burned: u64,
    parent: ChainDto,
    topoheight: u64,
    writes: Vec<WriteDto>,
    executed: Vec<Hex32>,
    burned_supply: u64,
    state_root: Hex32,
}

impl From<&BlockOutput> for OutputDto {
    fn from(output: &BlockOutput) -> Self {
        let commit = &output.commit;
        Self {
            results: output.results.iter().map(Into::into).collect(),
            total_fees: output.total_fees,
            burned: output.burned,
            parent: commit.parent().into(),
            topoheight: commit.topoheight(),
            writes: writes_to_dto(commit.writes()),
            executed: commit.executed().iter().map(Hex32::from).collect(),
            burned_supply: commit.burned_supply(),
            state_root: (&commit.state_root()).into(),
        }
    }
}

impl OutputDto {
    pub(crate) fn to_output(&self) -> Result<BlockOutput, CapsuleError> {
        let commit = BlockCommit::new(
            &ChainState::from(&self.parent),
            self.topoheight,
            writes_from_dto(&self.writes)?,
            self.executed.iter().map(|hash| hash.hash()).collect(),
            self.burned_supply,
        )
        .map_err(|error| CapsuleError::Invalid(format!("a recorded output: {error}")))?;
        if commit.state_root() != self.state_root.hash() {
            return Err(CapsuleError::Invalid(format!(
                "a recorded output's state root {} is not the root of its writes ({})",
                self.state_root.hash(),
                commit.state_root()
            )));
        }
        Ok(BlockOutput {
            results: self.results.iter().map(Into::into).collect(),
            total_fees: self.total_fees,
            burned: self.burned,
            commit,
        })
    }
}

/// A [`Mismatch`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MismatchDto {
    Outcome {
        expected: String,
        got: String,
    },
    ResultCount {
        expected: usize,
        got: usize,
    },
    Transaction {
        index: usize,
        expected: TxResultDto,
        got: TxResultDto,
    },
    Write {
        key: KeyDto,
        expected: Option<ValueDto>,
        got: Option<ValueDto>,
    },
    Totals {
        field: String,
        expected: u64,
        got: u64,
    },
    StateRoot {
        expected: Hex32,
        got: Hex32,
    },
}

impl From<&Mismatch> for MismatchDto {
    fn from(mismatch: &Mismatch) -> Self {
        match mismatch {
            Mismatch::Outcome { expected, got } => MismatchDto::Outcome {
                expected: expected.clone(),
                got: got.clone(),
            },
            Mismatch::ResultCount { expected, got } => MismatchDto::ResultCount {
                expected: *expected,
                got: *got,
            },
            Mismatch::Transaction {
                index,
                expected,
                got,
            } => MismatchDto::Transaction {
                index: *index,
                expected: expected.into(),
                got: got.into(),
            },
            Mismatch::Write { key, expected, got } => MismatchDto::Write {
                key: key.into(),
                expected: expected.as_ref().map(Into::into),
                got: got.as_ref().map(Into::into),
            },
            Mismatch::Totals {
                field,
                expected,
                got,
            } => MismatchDto::Totals {
                field: (*field).to_owned(),
                expected: *expected,
                got: *got,
            },
            Mismatch::StateRoot { expected, got } => MismatchDto::StateRoot {
                expected: expected.into(),
                got: got.into(),
            },
        }
    }
}

impl MismatchDto {
    pub(crate) fn to_mismatch(&self) -> Result<Mismatch, CapsuleError> {
        Ok(match self {
            MismatchDto::Outcome { expected, got } => Mismatch::Outcome {
                expected: expected.clone(),
                got: got.clone(),
            },
            MismatchDto::ResultCount { expected, got } => Mismatch::ResultCount {
                expected: *expected,
                got: *got,
            },
            MismatchDto::Transaction {
                index,
                expected,
                got,
            } => Mismatch::Transaction {
                index: *index,
                expected: expected.into(),
                got: got.into(),
            },
            MismatchDto::Write { key, expected, got } => {
                let key = StateKey::from(key);
                Mismatch::Write {
                    key,
                    expected: expected.as_ref().map(|v| v.to_value(&key)).transpose()?,
                    got: got.as_ref().map(|v| v.to_value(&key)).transpose()?,
                }
            }
            MismatchDto::Totals {
                field,
                expected,
                got,
            } => Mismatch::Totals {
                // `Mismatch` names the field with a static string: only these two exist.
                field: match field.as_str() {
                    "total_fees" => "total_fees",
                    "burned" => "burned",
                    other => {
                        return Err(CapsuleError::Invalid(format!(
                            "a totals difference names the unknown field `{other}`"
                        )))
                    }
                },
                expected: *expected,
                got: *got,
            },
            MismatchDto::StateRoot { expected, got } => Mismatch::StateRoot {
                expected: expected.hash(),
                got: got.hash(),
            },
        })
    }
}
