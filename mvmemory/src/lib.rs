//! Multi-version memory for Block-STM.
//!
//! Block-STM runs a block's transactions optimistically in parallel. Each transaction
//! writes into this memory, tagged with its position in the block and its incarnation
//! (how many times it has been re-executed), and reads the value written by the nearest
//! *lower* transaction — the value sequential execution would have shown it, if that
//! writer is final. An aborted incarnation leaves ESTIMATE markers on what it wrote, so
//! that readers wait for its re-execution instead of reading a value that is about to
//! change. After execution, each transaction's read set is validated: every read must
//! still resolve to the same version.
//!
//! The memory is generic over key and value and knows nothing about TOS.
//!
//! ```
//! use mvmemory::{MVMemory, ReadResult, Version};
//!
//! let memory: MVMemory<&str, u64> = MVMemory::new(3);
//! // Transaction 0 writes `a`; transaction 2 reads it; transaction 0 itself does not see it.
//! memory.record(Version::new(0, 0), Vec::new(), [("a", 5)]);
//! assert!(matches!(memory.read(&"a", 2), ReadResult::Value { value: 5, .. }));
//! assert!(matches!(memory.read(&"a", 0), ReadResult::NotFound));
//!
//! // Transaction 2 reads `a` and keeps the read in its read set; the read stays valid
//! // until transaction 0 or 1 writes `a` again.
//! let mut reads = Vec::new();
//! memory.read_recorded(&"a", 2, &mut reads);
//! memory.record(Version::new(2, 0), reads, [("b", 1)]);
//! assert!(memory.validate_read_set(2));
//! memory.record(Version::new(1, 0), Vec::new(), [("a", 6)]);
//! assert!(!memory.validate_read_set(2));
//! ```
//!
//! # Deltas and predicates
//!
//! Besides full values, a transaction may write a [`Write::Delta`]: an addition to a
//! counter (a balance) that needs no read of it, so that credits to one hot account do
//! not conflict (see the `delta` module). A read through deltas is validated by the value
//! it resolved to, not by who wrote it. A transaction that needs only to know that a
//! counter is at least some amount (a debit) reads it with [`MVMemory::read_at_least`],
//! and its read stays valid while that holds, however the counter changes. Deltas are
//! resolved, and their totals range-checked, by [`MVMemory::commit_deltas`] as their
//! writer commits, in block order.
//!
//! # Sinks
//!
//! A key that the block only writes, never reads while it runs (a balance it only
//! credits), can be made a *sink* ([`MVMemory::with_sinks`]): it keeps no versions;
//! writes there wait in their writer's write set until it commits
//! ([`MVMemory::commit_deltas`] checks them, [`MVMemory::settle`] applies them in block
//! order), and a read of it waits until every lower transaction has settled
//! ([`ReadResult::Unsettled`]), then sees a final value that needs no validation (see the
//! `sink` module).
//!
//! # Keys and ids
//!
//! The first read or write of a key in a block gives it a slot and a [`KeyId`]; read and
//! write sets keep ids, so recording, validation, ESTIMATE marking and the final snapshot
//! never hash or compare keys again (see the `index` module).
//!
//! # Memory ordering
//!
//! Every access to versioned data goes through its slot's lock (a loom mutex in models),
//! and every access to a transaction's read and write
//! sets through that transaction's mutex. Lock release/acquire orders everything a writer
//! did before unlocking before everything a later locker does, so a reader sees either the
//! whole entry a writer inserted (value and incarnation together) or none of it; there is
//! no torn read to reason about. What this crate does *not* order is the time between
//! separate calls: a validation may run concurrently with a lower transaction's record.
//! Deciding when a validation is recent enough to trust is the scheduler's job (see its
//! write epochs), and it relies on exactly one property of this crate: once `record`
//! returns, every later `read` or `validate_read_set` that starts after it — in the
//! happens-before sense, which the scheduler's SeqCst epoch counter provides — sees the
//! recorded writes and none of the removed ones.
//!
//! # Layout
//!
//! One module per concept; [`MVMemory`]'s operations are spread over them as `impl`
//! blocks, each beside the data it works on:
//!
//! | Module | Holds |
//! |---|---|
//! | `version` | [`TxnIndex`], [`Incarnation`], [`Version`], and the entries of a key's version list |
//! | `index` | Key ids and the per-key version lists behind their locks |
//! | `id_table` | The lock-free table from key hashes to ids behind the index (public for its loom model) |
//! | `memory` | [`MVMemory`] itself, each transaction's sets, recording and ESTIMATE marking |
//! | `read` | Reads and predicate reads ([`MVMemory::read_recorded`], [`MVMemory::read_at_least`]) |
//! | `captured_reads` | What a read set keeps: [`ReadDescriptor`], [`ReadOrigin`], packed |
//! | `validation` | Re-checking a read set ([`MVMemory::validate`]) |
//! | `delta` | [`Write`], [`Counter`], delta chains, base values and [`MVMemory::commit_deltas`] |
//! | `sink` | Sinks and settling ([`MVMemory::with_sinks`], [`MVMemory::settle`]) |
//! | `frontier` | Final writes of a frontier run ([`MVMemory::publish`], [`MVMemory::discard`]) |
//! | `snapshot` | The block's final writes ([`MVMemory::snapshot`]) |
//! | `outcome` | What the operations report: [`ReadResult`], [`DeltaCommit`], … |
//! | `sync` | `std` or `loom` locks and atomics, so the loom models run this code |

mod captured_reads;
mod delta;
mod frontier;
pub mod id_table;
mod index;
mod memory;
mod on_first_use;
mod outcome;
mod read;
mod sink;
mod snapshot;
mod validation;
mod version;

// The atomics and locks, `std`'s or loom's (see `blockstm-sync`).
use blockstm_sync as sync;
pub use captured_reads::{ReadDescriptor, ReadOrigin};
pub use delta::{Counter, Write};
pub use index::KeyId;
pub use memory::MVMemory;
pub use outcome::{
    DeltaCommit, PredicateRead, ReadResult, RecordOutcome, UnfinishedAtEnd, Validation,
};
pub use version::{Incarnation, TxnIndex, Version};

#[cfg(all(test, not(loom)))]
mod tests;
