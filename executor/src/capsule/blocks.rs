//! The block file: a chain's genesis and blocks, so the same blocks run anywhere and
//! reach the same state root (`blockstm run --export-blocks FILE`,
//! `blockstm replay --blocks FILE`).
//!
//! JSON Lines, version 2: the first line is a header, each further line one block, in
//! topoheight order from 1. One block per line lets a writer append as the chain grows
//! and a reader hold one line at a time; JSON keeps it legible and tool-friendly, in the
//! same shapes as a capsule's block (see [`super::format`]). Version 2 added the
//! contract payloads, as capsule version 2 did; a version-1 file (which holds none) is
//! still read.
//!
//! ```text
//! {"format":"tos-blockstm-blocks","version":2,"genesis":[[ACCOUNT,ASSET,AMOUNT],...]}
//! {"block":{"topoheight":1,"miner":...,"reward":...,"transactions":[...]},"state_root":HEX|null}
//! {"block":{"topoheight":2,...},"state_root":...}
//! ```
//!
//! `genesis` is the allocation list of [`crate::genesis_commit`] (topoheight 0).
//! `state_root` is the root the exporting node reached after the block, or `null` when
//! it did not apply that block itself (a run continuing a chain regenerates the blocks
//! before its own); an importer checks every root that is given.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use storage_adapter::{Asset, Hash, PublicKey};

use super::format::Header;
use super::wire::{BlockDto, Hex32};
use super::CapsuleError;
use crate::model::Block;

/// The format tag of a block file.
pub const BLOCKS_FORMAT_TAG: &str = "tos-blockstm-blocks";

/// The block file version this build writes, and the newest it reads.
pub const BLOCKS_FORMAT_VERSION: u32 = 2;

/// The oldest block file version this build reads: version 1 is version 2 without
/// contract payloads.
pub const OLDEST_BLOCKS_FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderDto {
    format: String,
    version: u32,
    genesis: Vec<(Hex32, Hex32, u64)>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockLineDto {
    block: BlockDto,
    state_root: Option<Hex32>,
}

/// One block read from a block file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedBlock {
    /// The block.
    pub block: Block,
    /// The root the exporting node reached after it, when it applied it.
    pub state_root: Option<Hash>,
}

/// Writes a block file; see the module docs.
#[derive(Debug)]
pub struct BlocksWriter<W: Write> {
    out: W,
    next_topoheight: u64,
}

fn encode_error(error: impl std::fmt::Display) -> CapsuleError {
    CapsuleError::Encode(error.to_string())
}

fn write_error(error: std::io::Error) -> CapsuleError {
    CapsuleError::Io {
        path: "the block file".to_owned(),
        source: error,
    }
}

impl<W: Write> BlocksWriter<W> {
    /// Starts a block file on `out` with the chain's genesis allocations.
    pub fn new(mut out: W, genesis: &[(PublicKey, Asset, u64)]) -> Result<Self, CapsuleError> {
        let header = HeaderDto {
            format: BLOCKS_FORMAT_TAG.to_owned(),
            version: BLOCKS_FORMAT_VERSION,
            genesis: genesis
                .iter()
                .map(|(account, asset, amount)| (account.into(), asset.into(), *amount))
                .collect(),
        };
        serde_json::to_writer(&mut out, &header).map_err(encode_error)?;
        out.write_all(b"\n").map_err(write_error)?;
        Ok(Self {
            out,
            next_topoheight: 1,
        })
    }

    /// Appends `block`, which must be the chain's next (topoheight 1, then 2, ...), with
    /// the root reached after it when known.
    pub fn write_block(
        &mut self,
        block: &Block,
        state_root: Option<Hash>,
    ) -> Result<(), CapsuleError> {
        if block.topoheight() != self.next_topoheight {
            return Err(CapsuleError::Invalid(format!(
                "block {} written where block {} belongs",
                block.topoheight(),
                self.next_topoheight
            )));
        }
        let line = BlockLineDto {
            block: block.into(),
            state_root: state_root.as_ref().map(Hex32::from),
        };
        serde_json::to_writer(&mut self.out, &line).map_err(encode_error)?;
        self.out.write_all(b"\n").map_err(write_error)?;
        self.next_topoheight += 1;
        Ok(())
    }

    /// Flushes and returns the output.
    pub fn finish(mut self) -> Result<W, CapsuleError> {
        self.out.flush().map_err(write_error)?;
        Ok(self.out)
    }
}

/// Reads a block file; see the module docs. An iterator over its blocks, each checked
/// to follow the one before.
#[derive(Debug)]
pub struct BlocksReader<R: BufRead> {
    input: R,
    genesis: Vec<(PublicKey, Asset, u64)>,
    line: usize,
    next_topoheight: u64,
    failed: bool,
}

impl<R: BufRead> BlocksReader<R> {
    /// Reads the header of the block file on `input`.
    pub fn new(mut input: R) -> Result<Self, CapsuleError> {
        let mut first = String::new();
        input
            .read_line(&mut first)
            .map_err(|source| CapsuleError::Io {
                path: "the block file".to_owned(),
                source,
            })?;
        Header::check(
            first.as_bytes(),
            BLOCKS_FORMAT_TAG,
            OLDEST_BLOCKS_FORMAT_VERSION,
            BLOCKS_FORMAT_VERSION,
        )?;
        let header: HeaderDto = serde_json::from_str(&first)
            .map_err(|error| CapsuleError::Decode(format!("line 1: {error}")))?;
        Ok(Self {
            input,
            genesis: header
                .genesis
                .iter()
                .map(|(account, asset, amount)| (account.account(), asset.asset(), *amount))
                .collect(),
            line: 1,
            next_topoheight: 1,
            failed: false,
        })
    }

    /// The genesis allocations.
    pub fn genesis(&self) -> &[(PublicKey, Asset, u64)] {
        &self.genesis
    }

    fn read_block(&mut self) -> Option<Result<ExportedBlock, CapsuleError>> {
        let mut text = String::new();
        loop {
            text.clear();
            self.line += 1;
            match self.input.read_line(&mut text) {
                Ok(0) => return None,
                Ok(_) if text.trim().is_empty() => continue,
                Ok(_) => break,
                Err(source) => {
                    return Some(Err(CapsuleError::Io {
                        path: format!("the block file, line {}", self.line),
                        source,
                    }))
                }
            }
        }
        let line = self.line;
        let parsed = serde_json::from_str::<BlockLineDto>(&text)
            .map_err(|error| CapsuleError::Decode(format!("line {line}: {error}")))
            .and_then(|dto| {
                let block = dto.block.to_block().map_err(|error| match error {
                    CapsuleError::Invalid(reason) => {
                        CapsuleError::Invalid(format!("line {line}: {reason}"))
                    }
                    other => other,
                })?;
                Ok(ExportedBlock {
                    block,
                    state_root: dto.state_root.map(Hex32::hash),
                })
            })
            .and_then(|exported| {
                if exported.block.topoheight() == self.next_topoheight {
                    self.next_topoheight += 1;
                    Ok(exported)
                } else {
                    Err(CapsuleError::Invalid(format!(
                        "line {line}: block {} where block {} belongs",
                        exported.block.topoheight(),
                        self.next_topoheight
                    )))
                }
            });
        Some(parsed)
    }
}

impl<R: BufRead> Iterator for BlocksReader<R> {
    type Item = Result<ExportedBlock, CapsuleError>;

    fn next(&mut self) -> Option<Self::Item> {
        // After an error the position in the chain is unknown: stop.
        if self.failed {
            return None;
        }
        let item = self.read_block();
        self.failed = matches!(item, Some(Err(_)));
        item
    }
}
