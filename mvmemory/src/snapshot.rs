//! The end of a block: the final value of every key it wrote, and the check that no
//! entry only a running block may hold (an ESTIMATE, an unresolved delta) was left behind.

use std::hash::Hash;

use crate::sync::lock;
use crate::version::Entry;
use crate::{Counter, MVMemory, UnfinishedAtEnd};

impl<K, V> MVMemory<K, V>
where
    K: Eq + Hash + Clone,
    V: Counter,
{
    /// The final value of every key written in the block (unsorted). Call once every
    /// transaction has committed; an ESTIMATE or unresolved delta left behind is an
    /// engine bug.
    pub fn snapshot(&self) -> Result<Vec<(K, V)>, UnfinishedAtEnd> {
        let mut out = Vec::new();
        let mut error = None;
        // A memory whose index was never built holds no versions (a block run as one
        // frontier run from its start keeps its writes out of the memory).
        let index = self.index.get();
        index.into_iter().for_each(|index| {
            index.for_each(|slot| match lock(&slot.versions).last() {
                Some((_, Entry::Value { value, .. })) => {
                    out.push((slot.key.clone(), value.clone()));
                }
                Some((txn_idx, Entry::Delta(entry))) => match entry.resolved {
                    Some(total) => out.push((slot.key.clone(), V::from_count(total))),
                    None => error = Some(UnfinishedAtEnd::UnresolvedDelta { txn_idx }),
                },
                Some((txn_idx, Entry::Estimate)) => {
                    error = Some(UnfinishedAtEnd::Estimate { txn_idx });
                }
                None => {}
            })
        });
        for sink in self.sinks.iter() {
            if let Some(value) = &lock(&sink.state).value {
                out.push((self.sink_key(sink), value.clone()));
            }
        }
        match error {
            Some(error) => Err(error),
            None => Ok(out),
        }
    }
}
