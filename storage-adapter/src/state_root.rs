//! The state root that seals each block: its preimage layout, and its blake3 hash on one
//! thread or two.
//!
//! Every engine builds the root in the serial epilogue after its workers are done, so
//! its cost bounds every parallel engine's speedup: at two threads or more the preimage
//! is encoded in two parts and hashed in two subtrees at once. The root is the same for
//! any thread count.

use blake3::hazmat::{left_subtree_len, merge_subtrees_root, HasherExt, Mode};

use crate::state::{StateKey, StateValue};
use crate::types::Hash;

/// The state root after a block: blake3 over the previous root, the topoheight, the
/// burned supply, every write (key tag, key bytes, value bytes, each length-prefixed) in
/// key order, then the executed transaction hashes in byte order.
///
/// Chaining the previous root means two stores agree on a root only if they agree on the
/// whole history of writes, not just on the last block.
pub fn state_root(
    previous: &Hash,
    topoheight: u64,
    burned_supply: u64,
    sorted_writes: &[(StateKey, StateValue)],
    sorted_executed: &[Hash],
) -> Hash {
    state_root_on(
        1,
        previous,
        topoheight,
        burned_supply,
        sorted_writes,
        sorted_executed,
    )
}

/// Below this many writes and hashes the preimage is encoded and hashed on one thread:
/// starting threads costs more than half the work saves.
const MIN_ENTRIES_IN_TWO: usize = 1_024;

/// [`state_root`] on two threads when `threads` is 2 or more and the block has enough
/// writes: the caller encodes the first half of the writes while a helper encodes the
/// rest and the hashes, then the two parts are hashed as two subtrees at once.
pub(crate) fn state_root_on(
    threads: usize,
    previous: &Hash,
    topoheight: u64,
    burned_supply: u64,
    sorted_writes: &[(StateKey, StateValue)],
    sorted_executed: &[Hash],
) -> Hash {
    let header = |capacity: usize| {
        let mut bytes = Vec::with_capacity(capacity);
        encode_header(
            previous,
            topoheight,
            burned_supply,
            sorted_writes.len(),
            &mut bytes,
        );
        bytes
    };
    if threads < 2 || sorted_writes.len().saturating_add(sorted_executed.len()) < MIN_ENTRIES_IN_TWO
    {
        let mut bytes = header(encoded_len(sorted_writes.len(), sorted_executed.len()));
        encode_writes(sorted_writes, &mut bytes);
        encode_executed(sorted_executed, &mut bytes);
        return digest(&[&bytes]);
    }
    let (low, high) = sorted_writes.split_at(sorted_writes.len() / 2);
    // Each part's buffer is sized for its own share, allocated once.
    let mut head = header(encoded_len(low.len(), 0));
    let encode_tail = || {
        let mut tail = Vec::with_capacity(encoded_len(high.len(), sorted_executed.len()));
        encode_writes(high, &mut tail);
        encode_executed(sorted_executed, &mut tail);
        tail
    };
    let tail = std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .spawn_scoped(scope, encode_tail)
            .ok();
        encode_writes(low, &mut head);
        // No helper (the system refused a thread), or one that did not finish: the
        // caller encodes the tail too (encoding cannot panic, so the second case is only
        // a guard).
        helper
            .and_then(|helper| helper.join().ok())
            .unwrap_or_else(encode_tail)
    });
    digest_in_two(&[&head, &tail])
}

/// About how many bytes the preimage of `writes` writes and `executed` hashes takes, so
/// that its buffer is allocated once.
fn encoded_len(writes: usize, executed: usize) -> usize {
    128usize
        .saturating_add(writes.saturating_mul(1 + 64 + 4 + 16))
        .saturating_add(executed.saturating_mul(32))
}

fn encode_header(
    previous: &Hash,
    topoheight: u64,
    burned_supply: u64,
    write_count: usize,
    bytes: &mut Vec<u8>,
) {
    bytes.extend_from_slice(b"tos-blockstm/state-root/v1");
    bytes.extend_from_slice(previous.as_bytes());
    bytes.extend_from_slice(&topoheight.to_be_bytes());
    bytes.extend_from_slice(&burned_supply.to_be_bytes());
    bytes.extend_from_slice(&(write_count as u64).to_be_bytes());
}

fn encode_writes(sorted_writes: &[(StateKey, StateValue)], bytes: &mut Vec<u8>) {
    let mut value_bytes = Vec::with_capacity(64);
    for (key, value) in sorted_writes {
        bytes.push(key.tag());
        bytes.extend_from_slice(key.column_key().as_ref());
        value_bytes.clear();
        value.encode_into(&mut value_bytes);
        bytes.extend_from_slice(&(value_bytes.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&value_bytes);
    }
}

fn encode_executed(sorted_executed: &[Hash], bytes: &mut Vec<u8>) {
    bytes.extend_from_slice(&(sorted_executed.len() as u64).to_be_bytes());
    for hash in sorted_executed {
        bytes.extend_from_slice(hash.as_bytes());
    }
}

/// Below this many bytes a preimage is hashed on one thread even when it was encoded on
/// two: starting a thread costs more than hashing half of it saves.
const MIN_BYTES_TO_HASH_IN_TWO: usize = 64 * 1024;

/// The blake3 hash of the concatenation of `parts`, on one thread.
///
/// The preimage is hashed from a few large buffers: blake3 hashes a long input many
/// chunks at a time, while thousands of tiny `update` calls would each pay its per-call
/// cost.
fn digest(parts: &[&[u8]]) -> Hash {
    let mut hasher = blake3::Hasher::new();
    for part in parts {
        hasher.update(part);
    }
    Hash::from(hasher.finalize())
}

/// The blake3 hash of the concatenation of `parts`, its root's two subtrees hashed on
/// two threads when it is long enough (on one otherwise).
///
/// blake3 is a Merkle tree over 1 KiB chunks: the root's left subtree covers the largest
/// power-of-two number of chunks that leaves the right one non-empty, so each subtree can
/// be hashed alone (the right one told its offset, which enters every chunk's hash) and
/// the two chaining values merged into the root. The result is `blake3::hash` of the
/// concatenation exactly; the tests compare the two around every chunk and subtree
/// boundary and for every way of cutting the input into parts.
fn digest_in_two(parts: &[&[u8]]) -> Hash {
    let len = parts.iter().map(|part| part.len()).sum::<usize>();
    if len < MIN_BYTES_TO_HASH_IN_TWO.max(blake3::CHUNK_LEN + 1) {
        return digest(parts);
    }
    // Below the length, so it fits a `usize`.
    let left_len = left_subtree_len(len as u64) as usize;
    let hash_right = || {
        let mut hasher = blake3::Hasher::new();
        hasher.set_input_offset(left_len as u64);
        feed(&mut hasher, parts, left_len, len);
        hasher.finalize_non_root()
    };
    let (left_cv, right_cv) = std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .spawn_scoped(scope, hash_right)
            .ok();
        let mut hasher = blake3::Hasher::new();
        feed(&mut hasher, parts, 0, left_len);
        let left_cv = hasher.finalize_non_root();
        // As in `state_root_on`: the caller hashes that subtree when the helper did not.
        let right_cv = helper
            .and_then(|helper| helper.join().ok())
            .unwrap_or_else(hash_right);
        (left_cv, right_cv)
    });
    Hash::from(merge_subtrees_root(&left_cv, &right_cv, Mode::Hash))
}

/// Feeds `hasher` the bytes `start..end` of the concatenation of `parts`.
fn feed(hasher: &mut blake3::Hasher, parts: &[&[u8]], start: usize, end: usize) {
    let mut offset = 0;
    for part in parts {
        let from = start.max(offset);
        let to = end.min(offset + part.len());
        if from < to {
            hasher.update(&part[from - offset..to - offset]);
        }
        offset += part.len();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::types::{Asset, PublicKey};

    /// Two writes of one account, sorted (the commit's tests use them too).
    pub(crate) fn writes() -> Vec<(StateKey, StateValue)> {
        vec![
            (StateKey::Nonce(PublicKey([1; 32])), StateValue::Nonce(0)),
            (
                StateKey::Balance(PublicKey([1; 32]), Asset::TOS),
                StateValue::Balance(5),
            ),
        ]
    }

    #[test]
    fn root_depends_on_every_input() {
        let base = state_root(&Hash::ZERO, 1, 0, &writes(), &[]);
        assert_eq!(base, state_root(&Hash::ZERO, 1, 0, &writes(), &[]));
        assert_ne!(base, state_root(&Hash([1; 32]), 1, 0, &writes(), &[]));
        assert_ne!(base, state_root(&Hash::ZERO, 2, 0, &writes(), &[]));
        assert_ne!(base, state_root(&Hash::ZERO, 1, 1, &writes(), &[]));
        assert_ne!(base, state_root(&Hash::ZERO, 1, 0, &writes()[..1], &[]));
        assert_ne!(
            base,
            state_root(&Hash::ZERO, 1, 0, &writes(), &[Hash::ZERO])
        );
    }

    /// Long and short blocks get the same root on any thread count.
    #[test]
    fn root_is_the_same_on_any_thread_count() {
        for count in [0, 1, 600, MIN_ENTRIES_IN_TWO, 3_000] {
            let mut writes: Vec<_> = (0..count as u64)
                .map(|index| {
                    let account = PublicKey::from_index(index);
                    (
                        StateKey::Balance(account, Asset::TOS),
                        StateValue::Balance(index),
                    )
                })
                .collect();
            writes.sort_by_key(|(key, _)| *key);
            let mut executed: Vec<Hash> = (0..count as u64 / 2)
                .map(|index| Hash::digest(&index.to_le_bytes()))
                .collect();
            executed.sort();
            let one = state_root(&Hash([7; 32]), 3, 11, &writes, &executed);
            for threads in [0, 2, 3, usize::MAX] {
                let other = state_root_on(threads, &Hash([7; 32]), 3, 11, &writes, &executed);
                assert_eq!(other, one, "{count} writes, {threads} threads");
            }
        }
    }

    #[test]
    fn hashing_in_two_gives_blake3s_hash() {
        let bytes: Vec<u8> = (0..(1usize << 18) + 3)
            .map(|at| (at * 31 % 251) as u8)
            .collect();
        let mut lengths = vec![0, 1, blake3::CHUNK_LEN, MIN_BYTES_TO_HASH_IN_TWO];
        for chunks in [1usize, 2, 3, 4, 5, 8, 16, 63, 64, 65, 128, 256] {
            let at = chunks * blake3::CHUNK_LEN;
            lengths.extend([at - 1, at, at + 1]);
        }
        lengths.push(bytes.len());
        for len in lengths {
            let bytes = &bytes[..len];
            let expected = Hash::from(blake3::hash(bytes));
            // Cut anywhere: at the ends, inside the first chunk, at the split, past it.
            for cut in [0, 1, len / 3, len / 2, len.saturating_sub(1), len] {
                let (head, tail) = bytes.split_at(cut.min(len));
                assert_eq!(digest_in_two(&[head, tail]), expected, "{len} cut at {cut}");
                assert_eq!(digest(&[head, tail]), expected, "{len} cut at {cut}");
            }
            assert_eq!(digest_in_two(&[]), Hash::from(blake3::hash(&[])));
        }
    }
}
