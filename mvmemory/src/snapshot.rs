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
        self.snapshot_part(0, 1)
    }

    /// Part `part` of `parts` of [`MVMemory::snapshot`]: the parts together hold each
    /// key once, so that threads can take one each (sinks are in part 0; a part at or past
    /// `parts` is empty). Same conditions as `snapshot`.
    pub fn snapshot_part(&self, part: usize, parts: usize) -> Result<Vec<(K, V)>, UnfinishedAtEnd> {
        let mut out = Vec::new();
        let mut error = None;
        // A memory whose index was never built holds no versions (a block run as one
        // frontier run from its start keeps its writes out of the memory).
        let index = self.index.get();
        index.into_iter().for_each(|index| {
            index.for_each_in_part(part, parts, |slot| match lock(&slot.versions).last() {
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
        if part == 0 && parts > 0 {
            for sink in self.sinks.iter() {
                if let Some(value) = &lock(&sink.state).value {
                    out.push((self.sink_key(sink), value.clone()));
                }
            }
        }
        match error {
            Some(error) => Err(error),
            None => Ok(out),
        }
    }

    /// How many keys the memory has slots for (0 before its index is built): a measure
    /// of the work a snapshot takes.
    pub fn key_count(&self) -> usize {
        self.index.get().map_or(0, |index| index.len())
    }
}
