//! Who wrote what: transaction indices, incarnations, the version pair that tags every
//! write, and the entries a key's version list holds. Every other module speaks in these
//! terms, so they sit apart from any one operation.

use crate::delta::DeltaEntry;

/// A transaction's position in the block.
pub type TxnIndex = u32;
/// How many times a transaction has been (re-)started; 0 for the first execution.
pub type Incarnation = u32;

/// Which execution of which transaction wrote a value.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Version {
    /// The writing transaction.
    pub txn_idx: TxnIndex,
    /// Its incarnation at the time of the write.
    pub incarnation: Incarnation,
}

impl Version {
    /// A version.
    pub const fn new(txn_idx: TxnIndex, incarnation: Incarnation) -> Self {
        Self {
            txn_idx,
            incarnation,
        }
    }
}

/// One entry in a key's version list.
#[derive(Clone, Debug)]
pub(crate) enum Entry<V> {
    /// A value written by the given incarnation.
    Value { incarnation: Incarnation, value: V },
    /// An addition to the counter below. Boxed: few keys take deltas, and every entry
    /// (most keys keep two inline) would otherwise grow to the size of this one.
    Delta(Box<DeltaEntry>),
    /// The writer was aborted: its next incarnation will likely write here again.
    Estimate,
}
