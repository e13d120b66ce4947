//! Sinks: counters settled at commit instead of versioned.
//!
//! Deltas (see the `delta` module) stop credits to one hot balance from conflicting, but
//! each credit is still an entry in that key's version list: every crediting transaction
//! takes the key's lock, whose cache line then moves to its core, inserts into a list that
//! grows by one entry per transaction, and the commit step takes the lock again to
//! resolve the entry. On a block where every transaction pays one exchange, that one lock
//! is touched twice per transaction by every worker: a serial point at any thread count.
//!
//! A balance that the block only credits (a deposit address, a merchant, the miner) needs
//! none of it, because nobody reads it while the block runs. A *sink* keeps no versions.
//! A transaction's writes there (deltas or full values) stay in its own write set; the
//! commit step applies them, in block order, to the sink's one running value; and a read
//! of a sink waits until every lower transaction has committed and then sees that value,
//! which is final, so the read needs no validation. Reading a sink therefore serialises
//! the reader behind the commit frontier: which keys are sinks is the caller's choice
//! (see `MVMemory::with_sinks`), and only keys that are seldom read should be.
//!
//! Exactness is the same as for deltas: the commit step checks that each total fits a
//! `u64` before anything is applied, and reports the first that does not, so that its
//! writer runs again on exact values.

use crate::index::KeyId;
use crate::sync::Mutex;
use crate::{TxnIndex, Write};

/// A sink's base value beneath the block is not known yet (the caller provides it).
pub(crate) struct NeedsBase;

/// One sink: its key's id and its running value.
pub(crate) struct Sink<V> {
    pub(crate) id: KeyId,
    pub(crate) state: Mutex<SinkState<V>>,
}

impl<V> Sink<V> {
    pub(crate) fn new(id: KeyId) -> Self {
        Self {
            id,
            state: Mutex::new(SinkState {
                value: None,
                last_writer: None,
            }),
        }
    }
}

/// A sink's value after the committed transactions so far.
pub(crate) struct SinkState<V> {
    /// The value the last committed write left; `None` while no transaction of the block
    /// has written the key (its value is then the one beneath the block).
    pub(crate) value: Option<V>,
    /// The last committed transaction that wrote the key.
    pub(crate) last_writer: Option<TxnIndex>,
}

/// A write to a sink, kept in the writer's own write set until it commits.
pub(crate) struct SinkWrite<V> {
    /// The sink's position among the memory's sinks.
    pub(crate) sink: u32,
    /// What the transaction wrote.
    pub(crate) write: Write<V>,
    /// The commit frontier when the write was recorded (for statistics): a lower
    /// transaction that wrote the key at or above it committed later, so an exact
    /// read-modify-write here would have been invalidated.
    pub(crate) frontier_at_write: TxnIndex,
    /// The sink's value after this write, computed by the commit check and applied
    /// once the transaction has committed.
    pub(crate) settled: Option<V>,
}
