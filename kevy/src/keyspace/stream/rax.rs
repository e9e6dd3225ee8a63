//! The node count of the radix tree Redis would hold for a stream's node
//! keys, which `XINFO STREAM` reports as `radix-tree-nodes`.
//!
//! Redis keys each stream node by its first ID as 16 big-endian bytes in a
//! rax. Insertion splits compressed nodes and removal re-compresses chains,
//! so for keys of one fixed length the shape depends only on the key set:
//! the root; then, wherever keys share a run of bytes, one compressed node
//! for the run; wherever they diverge, one branching node whose every child
//! starts a new run; and one leaf per key. Counting that shape from the
//! sorted keys gives Redis's number without building the tree.

use super::StreamId;

/// A node key as the rax stores it.
fn rax_key(id: StreamId) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&id.ms.to_be_bytes());
    key[8..].copy_from_slice(&id.seq.to_be_bytes());
    key
}

/// Nodes of the rax holding `ids` (ascending, distinct).
pub fn node_count(ids: impl Iterator<Item = StreamId>) -> u64 {
    let keys: Vec<[u8; 16]> = ids.map(rax_key).collect();
    if keys.is_empty() {
        return 1;
    }
    count_from(&keys, 0)
}

/// Nodes of the subtree at byte `depth` holding `keys` (sorted, non-empty,
/// equal before `depth`).
fn count_from(keys: &[[u8; 16]], depth: usize) -> u64 {
    if depth == 16 {
        return 1;
    }
    let (first, last) = (&keys[0], &keys[keys.len() - 1]);
    let shared = (depth..16).take_while(|&i| first[i] == last[i]).count();
    if shared > 0 {
        // One compressed (or one-byte) node for the shared run.
        return 1 + count_from(keys, depth + shared);
    }
    // A branching node; each distinct byte starts a child.
    let mut total = 1;
    let mut start = 0;
    while start < keys.len() {
        let byte = keys[start][depth];
        let end = start + keys[start..].partition_point(|k| k[depth] == byte);
        total += count_from(&keys[start..end], depth + 1);
        start = end;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(ids: &[(u64, u64)]) -> u64 {
        node_count(ids.iter().map(|&(ms, seq)| StreamId::new(ms, seq)))
    }

    #[test]
    fn matches_redis_counts() {
        // Observed with redis-server 7.0.15 and one entry per node.
        let added = [
            (1, 1),
            (1, 2),
            (2, 0),
            (256, 0),
            (100_000, 5),
            (100_000, 300),
            (u64::MAX, 0),
        ];
        let expected = [2, 4, 8, 11, 14, 18, 21];
        for n in 1..=added.len() {
            assert_eq!(count(&added[..n]), expected[n - 1], "{n} keys");
        }
        let mut left: Vec<(u64, u64)> = added.to_vec();
        let removals = [
            ((1, 2), 19),
            ((256, 0), 17),
            ((1, 1), 13),
            ((100_000, 300), 9),
            ((2, 0), 5),
            ((u64::MAX, 0), 2),
            ((100_000, 5), 1),
        ];
        for (gone, nodes) in removals {
            left.retain(|&k| k != gone);
            assert_eq!(count(&left), nodes, "without {gone:?}");
        }
    }
}
