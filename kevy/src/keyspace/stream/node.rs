//! One stream node — Redis's listpack "macro node" — and its entries.
//!
//! A node starts with the entry that created it: that entry's ID keys the
//! node and its field names become the node's *master fields*; later
//! entries with the same names store only their values, as Redis's
//! `SAMEFIELDS` flag does. A deleted entry stays in its slot as a
//! tombstone (its data dropped, its ID kept), as in Redis's listpack: it
//! still fills the node, its bytes still count, and the node's last slot
//! is what Redis looks at when it trims by MINID. Each node tracks the
//! bytes its listpack would take (see `listpack.rs`).
//!
//! Slots are in ascending ID order, except after XSETID moved a stream's
//! last ID back below a node holding only tombstones; such a node is
//! marked unsorted and scanned slot by slot, as Redis scans a listpack.

use super::listpack::{int_size, str_size, LISTPACK_OVERHEAD};
use super::StreamId;

/// One slot: a live entry or a tombstone.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub id: StreamId,
    pub deleted: bool,
    /// Only values are stored; the names are the node's master fields.
    same_fields: bool,
    pairs: usize,
    /// Length-prefixed strings: `field value ...`, or values only.
    packed: Box<[u8]>,
}

/// One node: a run of entries added one after another.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    master_fields: Box<[Box<[u8]>]>,
    /// Every entry added, tombstones included, in the order added.
    pub slots: Vec<Entry>,
    /// Live entries among the slots.
    pub live: usize,
    /// The slots are in ascending ID order.
    pub sorted: bool,
    /// Listpack bytes, except the live and deleted counters.
    fixed_bytes: u64,
}

impl Node {
    /// A node holding the entry `id` with `pairs` (`field value ...`).
    pub fn new(id: StreamId, pairs: &[&[u8]]) -> Node {
        let master_fields: Box<[Box<[u8]>]> =
            pairs.iter().step_by(2).map(|f| (*f).into()).collect();
        let master_bytes = int_size(master_fields.len() as i64)
            + master_fields.iter().map(|f| str_size(f)).sum::<u64>()
            + int_size(0);
        let mut node = Node {
            master_fields,
            slots: Vec::new(),
            live: 0,
            sorted: true,
            fixed_bytes: LISTPACK_OVERHEAD + master_bytes,
        };
        node.push(id, id, pairs);
        node
    }

    /// The bytes Redis's listpack for this node takes.
    pub fn listpack_bytes(&self) -> u64 {
        self.fixed_bytes + int_size(self.live as i64) + int_size(self.tombstones() as i64)
    }

    pub fn tombstones(&self) -> usize {
        self.slots.len() - self.live
    }

    /// The ID in the last slot, live or deleted.
    pub fn last_id(&self) -> StreamId {
        self.slots.last().map_or(StreamId::MIN, |e| e.id)
    }

    /// Appends entry `id`; `master_id` is the node's key.
    pub fn push(&mut self, master_id: StreamId, id: StreamId, pairs: &[&[u8]]) {
        if self.slots.last().is_some_and(|last| last.id >= id) {
            self.sorted = false;
        }
        let count = pairs.len() / 2;
        let same_fields = count == self.master_fields.len()
            && pairs
                .iter()
                .step_by(2)
                .zip(self.master_fields.iter())
                .all(|(field, master)| *field == &master[..]);
        // flags, ms and seq deltas (as Redis's int64 casts see them), the
        // field count unless SAMEFIELDS, the strings, then lp-count.
        let mut bytes = int_size(0)
            + int_size(id.ms.wrapping_sub(master_id.ms) as i64)
            + int_size(id.seq.wrapping_sub(master_id.seq) as i64);
        let mut packed = Vec::new();
        let mut elements = count as u64 + 3;
        if !same_fields {
            bytes += int_size(count as i64);
            elements += count as u64 + 1;
        }
        for (i, item) in pairs.iter().enumerate() {
            if same_fields && i % 2 == 0 {
                continue;
            }
            bytes += str_size(item);
            push_len(&mut packed, item.len());
            packed.extend_from_slice(item);
        }
        bytes += int_size(elements as i64);
        self.fixed_bytes += bytes;
        self.live += 1;
        self.slots.push(Entry {
            id,
            deleted: false,
            same_fields,
            pairs: count,
            packed: packed.into_boxed_slice(),
        });
    }

    /// The first slot a forward walk from `start` must look at.
    pub fn first_slot_from(&self, start: StreamId) -> usize {
        if self.sorted {
            self.slots.partition_point(|e| e.id < start)
        } else {
            0
        }
    }

    /// The end of the slots a backward walk down from `end` must look at.
    pub fn slots_until(&self, end: StreamId) -> usize {
        if self.sorted {
            self.slots.partition_point(|e| e.id <= end)
        } else {
            self.slots.len()
        }
    }

    /// Turns the live entry in slot `at` into a tombstone.
    pub fn delete_at(&mut self, at: usize) {
        let slot = &mut self.slots[at];
        if !slot.deleted {
            slot.deleted = true;
            slot.packed = Box::default();
            self.live -= 1;
        }
    }

    /// Field-value pairs of one of this node's entries.
    pub fn pairs<'a>(&'a self, entry: &'a Entry) -> Pairs<'a> {
        Pairs {
            names: entry.same_fields.then(|| self.master_fields.iter()),
            packed: &entry.packed,
            left: if entry.deleted { 0 } else { entry.pairs },
        }
    }
}

impl Entry {
    /// Number of field-value pairs.
    pub fn pair_count(&self) -> usize {
        self.pairs
    }
}

/// Iterator over an entry's `(field, value)` pairs.
pub struct Pairs<'a> {
    names: Option<std::slice::Iter<'a, Box<[u8]>>>,
    packed: &'a [u8],
    left: usize,
}

impl<'a> Pairs<'a> {
    fn next_string(&mut self) -> &'a [u8] {
        let (len, rest) = read_len(self.packed);
        let (string, rest) = rest.split_at(len);
        self.packed = rest;
        string
    }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let field = match &mut self.names {
            Some(names) => names.next().map_or(&[][..], |n| &n[..]),
            None => self.next_string(),
        };
        Some((field, self.next_string()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Pairs<'_> {}

/// Appends `len` as a LEB128 varint.
fn push_len(out: &mut Vec<u8>, mut len: usize) {
    while len >= 0x80 {
        out.push((len as u8) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
}

/// Reads a LEB128 length written by [`push_len`].
fn read_len(data: &[u8]) -> (usize, &[u8]) {
    let mut len = 0usize;
    let mut shift = 0;
    for (i, &byte) in data.iter().enumerate() {
        len |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return (len, &data[i + 1..]);
        }
        shift += 7;
    }
    unreachable!("packed entries hold complete lengths written by push_len")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(node: &Node, at: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        node.pairs(&node.slots[at])
            .map(|(f, v)| (f.to_vec(), v.to_vec()))
            .collect()
    }

    #[test]
    fn entries_keep_their_pairs() {
        let id = StreamId::new(5, 0);
        let mut node = Node::new(id, &[b"a", b"1", b"b", b"2"]);
        node.push(id, StreamId::new(5, 1), &[b"a", b"x", b"b", b"y"]);
        node.push(id, StreamId::new(6, 0), &[b"c", &[b'z'; 300]]);
        node.push(id, StreamId::new(7, 0), &[]);
        assert_eq!(collect(&node, 0)[1], (b"b".to_vec(), b"2".to_vec()));
        assert_eq!(collect(&node, 1)[0], (b"a".to_vec(), b"x".to_vec()));
        assert_eq!(collect(&node, 2), vec![(b"c".to_vec(), vec![b'z'; 300])]);
        assert!(collect(&node, 3).is_empty());
        let bytes = node.listpack_bytes();
        node.delete_at(1);
        node.delete_at(1);
        assert!(collect(&node, 1).is_empty());
        assert_eq!((node.live, node.tombstones(), node.slots.len()), (3, 1, 4));
        // Counters 4/0 become 3/1: both one-byte integers.
        assert_eq!(node.listpack_bytes(), bytes);
        assert_eq!(node.last_id(), StreamId::new(7, 0));
        assert!(node.sorted);
        node.push(id, StreamId::new(6, 5), &[b"a", b"1"]);
        assert!(!node.sorted);
    }

    #[test]
    fn listpack_bytes_follow_redis_layout() {
        // XADD s 1-1 a 1: header 6, count 2, deleted 2, fields 2, "a" 3,
        // terminator 2; entry: flags 2, deltas 2 + 2, value 2, lp-count 2;
        // end 1.
        let id = StreamId::new(1, 1);
        let mut node = Node::new(id, &[b"a", b"1"]);
        assert_eq!(node.listpack_bytes(), 6 + 2 * 4 + 3 + 2 * 5 + 1);
        // Different fields: flags, deltas, count, field, value, lp-count.
        node.push(id, StreamId::new(1, 2), &[b"bb", b"xyz"]);
        assert_eq!(node.listpack_bytes(), 28 + 2 + 2 + 2 + 2 + 4 + 5 + 2);
    }
}
