//! The capsule file format, version 2: one JSON document.
//!
//! JSON rather than a binary encoding because a capsule is read by people as much as by
//! `blockstm replay`: an operator or developer can open it with `jq` and see the block,
//! the first difference and the two outputs without this crate. Capsules are rare (one
//! per mismatch or fallback, and the breaker stops the engine after one) and the writer
//! caps the directory, so size matters less than legibility. Every 32-byte value
//! (account, asset, hash, root) is 64 lowercase hex digits; integers are JSON numbers
//! (u64: read them with a parser that keeps 64-bit integers exact, as `jq` 1.7 does).
//! Variable-length bytes (module bytecode, storage values, call inputs) are lowercase hex.
//!
//! Version 2 added contracts: the `module`, `contract_balance` and `storage` keys and
//! values, the `deploy_contract` and `invoke_contract` payloads, and the contract
//! failures. Everything else is as in version 1, so a version-1 capsule (which never holds
//! a contract) is still read, by the same decoder, from [`OLDEST_FORMAT_VERSION`] on.
//!
//! ```text
//! {
//!   "format": "tos-blockstm-capsule",      always this tag
//!   "version": 2,                           FORMAT_VERSION (1 is still read)
//!   "reason": "shadow-mismatch" | "fallback",
//!   "created_unix_ms": 1700000000000,
//!   "engine": "block-stm", "threads": 2 | null,
//!   "block": {"topoheight", "miner", "reward", "transactions": [
//!       {"source", "nonce", "fee", "hash",
//!        "payload": {"transfers": [{"asset", "destination", "amount"}]}
//!                 | {"burn": {"asset", "amount"}}
//!                 | {"multisig": {"threshold", "participants": [...]}}
//!                 | {"deploy_contract": {"module": HEX}}
//!                 | {"invoke_contract": {"contract", "deposits": [{"asset", "amount"}],
//!                                        "max_gas", "input": HEX}}}]},
//!   "state": {
//!     "chain": {"topoheight", "state_root", "burned_supply"},
//!     "values": [[KEY, VALUE | null], ...],   every key read, null = absent
//!     "executed": [[TX_HASH, true | false], ...]
//!   },
//!   "oracle" / "candidate": {"accepted": OUTPUT} | {"rejected": "error text"},
//!   "candidate_stats": {...} | null,
//!   "first_difference": MISMATCH | null,
//!   "first_difference_text": "transaction 3: ..." | null
//! }
//! KEY    = {"nonce": ACCOUNT} | {"balance": [ACCOUNT, ASSET]} | {"multisig": ACCOUNT}
//!        | {"module": CONTRACT} | {"contract_balance": [CONTRACT, ASSET]}
//!        | {"storage": [CONTRACT, STORAGE_KEY]}
//! VALUE  = {"nonce": N} | {"balance": N} | {"multisig": null | {"threshold", "participants"}}
//!        | {"module": HEX} | {"storage": null | HEX}     null deletes; "" is an empty value
//! OUTPUT = {"results": ["success" | {"failed": FAILURE}], "total_fees", "burned",
//!           "parent": CHAIN, "topoheight", "writes": [[KEY, VALUE]], "executed": [HASH],
//!           "burned_supply", "state_root"}
//! FAILURE = "already_executed" | {"invalid_nonce": {"expected", "got"}}
//!         | {"insufficient_funds": {"asset", "needed", "available"}}
//!         | {"overflow": "nonce" | {"spending": {"asset"}}
//!                      | {"credit": {"destination", "asset"}}
//!                      | {"contract_credit": {"contract", "asset"}}}
//!         | {"contract_exists": {"contract"}} | {"no_contract": {"contract"}}
//!         | {"call": {"revert": {"code"}} | "out_of_gas" | {"fault": FAULT}}
//! FAULT  = "memory_access" | "divide_by_zero" | "divide_overflow" | "call_depth_exceeded"
//!        | "unsupported_instruction" | "execution_overrun" | "input_too_long" | "other"
//!        | {"syscall": "bad_pointer" | "value_too_long" | "return_data_too_long"
//!                    | "log_too_long" | "too_many_logs" | "hash_input_too_long"}
//! ```
//!
//! Reading checks the tag and the version first (a newer file says so, rather than
//! failing on a field), then that every transaction hash and every output's state root
//! is recomputed equal, and that every state value is within the store's bounds (a
//! module of 1 to `MAX_MODULE_LEN` bytes, a storage value of at most
//! `MAX_STORAGE_VALUE_LEN`), so a corrupt file is a typed [`CapsuleError`], never a panic
//! and never a silently different capsule.

use serde::{Deserialize, Serialize};

use super::wire::{BlockDto, ChainDto, Hex32, KeyDto, MismatchDto, OutputDto, ValueDto};
use super::{Capsule, CapsuleError, CapsuleReason, RecordedOutcome, RecordedState};
use storage_adapter::StateKey;

/// The format tag of a capsule.
pub const FORMAT_TAG: &str = "tos-blockstm-capsule";

/// The version this build writes, and the newest it reads.
pub const FORMAT_VERSION: u32 = 2;

/// The oldest version this build reads: version 1 is version 2 without contracts.
pub const OLDEST_FORMAT_VERSION: u32 = 1;

/// The tag and version alone, read before anything else.
#[derive(Deserialize)]
pub(crate) struct Header {
    pub(crate) format: Option<String>,
    pub(crate) version: Option<u64>,
}

impl Header {
    /// Checks a document's tag against `expected` and its version against
    /// `oldest..=supported`.
    pub(crate) fn check(
        bytes: &[u8],
        expected: &'static str,
        oldest: u32,
        supported: u32,
    ) -> Result<(), CapsuleError> {
        let header: Header = serde_json::from_slice(bytes)
            .map_err(|error| CapsuleError::Decode(error.to_string()))?;
        if header.format.as_deref() != Some(expected) {
            return Err(CapsuleError::WrongFormat {
                expected,
                found: header.format,
            });
        }
        match header.version {
            Some(version) if (u64::from(oldest)..=u64::from(supported)).contains(&version) => {
                Ok(())
            }
            found => Err(CapsuleError::UnsupportedVersion {
                found: found.unwrap_or(0),
                oldest,
                supported,
            }),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateDto {
    chain: ChainDto,
    values: Vec<(KeyDto, Option<ValueDto>)>,
    executed: Vec<(Hex32, bool)>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum OutcomeDto {
    Accepted(OutputDto),
    Rejected(String),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CapsuleDto {
    format: String,
    version: u32,
    reason: CapsuleReason,
    created_unix_ms: u64,
    engine: String,
    threads: Option<usize>,
    block: BlockDto,
    state: StateDto,
    oracle: OutcomeDto,
    candidate: OutcomeDto,
    candidate_stats: Option<serde_json::Value>,
    first_difference: Option<MismatchDto>,
    first_difference_text: Option<String>,
}

impl From<&RecordedOutcome> for OutcomeDto {
    fn from(outcome: &RecordedOutcome) -> Self {
        match outcome {
            RecordedOutcome::Accepted(output) => OutcomeDto::Accepted(output.into()),
            RecordedOutcome::Rejected(error) => OutcomeDto::Rejected(error.clone()),
        }
    }
}

impl OutcomeDto {
    fn to_outcome(&self) -> Result<RecordedOutcome, CapsuleError> {
        Ok(match self {
            OutcomeDto::Accepted(output) => RecordedOutcome::Accepted(output.to_output()?),
            OutcomeDto::Rejected(error) => RecordedOutcome::Rejected(error.clone()),
        })
    }
}

impl Capsule {
    /// The capsule as a version-[`FORMAT_VERSION`] JSON document (see the module docs).
    pub fn to_bytes(&self) -> Result<Vec<u8>, CapsuleError> {
        let dto = CapsuleDto {
            format: FORMAT_TAG.to_owned(),
            version: FORMAT_VERSION,
            reason: self.reason,
            created_unix_ms: self.created_unix_ms,
            engine: self.engine.clone(),
            threads: self.threads,
            block: (&self.block).into(),
            state: StateDto {
                chain: (&self.state.chain).into(),
                values: self
                    .state
                    .values
                    .iter()
                    .map(|(key, value)| (key.into(), value.as_ref().map(Into::into)))
                    .collect(),
                executed: self
                    .state
                    .executed
                    .iter()
                    .map(|(hash, executed)| (hash.into(), *executed))
                    .collect(),
            },
            oracle: (&self.oracle).into(),
            candidate: (&self.candidate).into(),
            candidate_stats: self.candidate_stats.clone(),
            first_difference: self.first_difference.as_ref().map(Into::into),
            first_difference_text: self.first_difference.as_ref().map(ToString::to_string),
        };
        // Pretty-printed: a capsule is read by people (see the module docs).
        serde_json::to_vec_pretty(&dto).map_err(|error| CapsuleError::Encode(error.to_string()))
    }

    /// Decodes a capsule, checking its tag, version and content (see the module docs).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CapsuleError> {
        // Every version from the oldest on decodes with the same shapes: each added only
        // variants (see the module docs).
        Header::check(bytes, FORMAT_TAG, OLDEST_FORMAT_VERSION, FORMAT_VERSION)?;
        let dto: CapsuleDto = serde_json::from_slice(bytes)
            .map_err(|error| CapsuleError::Decode(error.to_string()))?;
        let mut state = RecordedState::new((&dto.state.chain).into());
        for (key, value) in &dto.state.values {
            let key = StateKey::from(key);
            let value = value
                .as_ref()
                .map(|value| value.to_value(&key))
                .transpose()?;
            state.values.insert(key, value);
        }
        for (hash, executed) in &dto.state.executed {
            state.executed.insert(hash.hash(), *executed);
        }
        Ok(Capsule {
            reason: dto.reason,
            created_unix_ms: dto.created_unix_ms,
            engine: dto.engine,
            threads: dto.threads,
            block: dto.block.to_block()?,
            state,
            oracle: dto.oracle.to_outcome()?,
            candidate: dto.candidate.to_outcome()?,
            candidate_stats: dto.candidate_stats,
            first_difference: dto
                .first_difference
                .as_ref()
                .map(MismatchDto::to_mismatch)
                .transpose()?,
        })
    }
}
