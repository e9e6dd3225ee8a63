//! One chunk of a list: a run of elements packed back to back in a single
//! buffer, like one listpack node of a Redis quicklist.
//!
//! An entry is `len | bytes | len reversed`, the length in LEB128 at both
//! ends, so the chunk can be walked from either end without an offset
//! table (what listpack's `backlen` does). Live entries are
//! `buf[start..]`: the bytes before `start` are headroom, so pushing at the
//! front is amortised O(1) instead of a memmove of the whole chunk.
//! Offsets handed out are absolute positions in `buf`, valid until the
//! chunk is changed.
//!
//! The buffer is a [`CowBytes`]: a chunk past a few hundred bytes shares
//! it with its clones, so a snapshot's frozen view and the live list hold
//! the same chunks, and a write while the view holds one copies that
//! chunk only (at most the chunk size limit, 8 KB by default). Every
//! change ends with `settle`, which puts the buffer in the form its new
//! size calls for.

use std::ops::Range;

use crate::keyspace::cow_bytes::CowBytes;

/// Bytes `n` takes in LEB128.
fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Bytes an element of `len` bytes takes in a chunk.
pub(super) fn entry_size(len: usize) -> usize {
    len + 2 * varint_len(len)
}

/// Writes `data` as an entry into `out`, which is exactly
/// `entry_size(data.len())` bytes long.
fn encode_entry(out: &mut [u8], data: &[u8]) {
    let header = varint_len(data.len());
    let mut n = data.len();
    for i in 0..header {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        let byte = if i + 1 < header { low | 0x80 } else { low };
        out[i] = byte;
        // The trailer holds the same bytes in reverse order, so a reader
        // walking backwards meets them least significant first.
        out[out.len() - 1 - i] = byte;
    }
    out[header..header + data.len()].copy_from_slice(data);
}

/// Decodes the header at `buf[off..]`: (data range, offset of the next entry).
fn read_forward(buf: &[u8], off: usize) -> (Range<usize>, usize) {
    let (mut len, mut shift, mut at) = (0usize, 0u32, off);
    loop {
        let byte = buf[at];
        at += 1;
        len |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let header = at - off;
    (at..at + len, at + len + header)
}

/// Decodes the entry ending at `end`: (data range, offset where it starts).
fn read_backward(buf: &[u8], end: usize) -> (Range<usize>, usize) {
    let (mut len, mut shift, mut at) = (0usize, 0u32, end);
    loop {
        at -= 1;
        let byte = buf[at];
        len |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let trailer = end - at;
    let data_start = at - len;
    (data_start..at, data_start - trailer)
}

/// Chunks with fewer live bytes than this grow exactly at the front.
const EXACT_FRONT_GROWTH_BELOW: usize = 512;

/// A packed run of list elements.
///
/// `start` and `count` are u32 so a chunk header is 32 bytes: headroom only
/// grows in chunks under the size limit (a few KB), and a chunk's count
/// stays under its byte size.
#[derive(Clone, Default)]
pub(super) struct Chunk {
    buf: CowBytes,
    start: u32,
    count: u32,
}

/// A chunk offset or count as stored.
fn narrow(n: usize) -> u32 {
    u32::try_from(n).expect("chunk offsets and counts stay under 4 GiB (chunks are size-limited)")
}

impl Chunk {
    pub fn with_entry(data: &[u8]) -> Self {
        let mut chunk = Chunk::default();
        chunk.push_back(data);
        chunk
    }

    pub fn count(&self) -> usize {
        self.count as usize
    }

    fn start(&self) -> usize {
        self.start as usize
    }

    /// Bytes of live entries (what the chunk-size limit counts).
    pub fn bytes(&self) -> usize {
        self.buf.len() - self.start()
    }

    /// Bytes the chunk's buffer holds room for.
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Whether a frozen view holds this chunk's very buffer.
    #[cfg(test)]
    pub fn held_elsewhere(&self) -> bool {
        self.buf.held_elsewhere()
    }

    /// Offset of the first entry.
    pub fn first_offset(&self) -> usize {
        self.start()
    }

    /// Offset just past the last entry.
    pub fn end_offset(&self) -> usize {
        self.buf.len()
    }

    /// The element at `off` and the offset of the next one.
    pub fn read(&self, off: usize) -> (&[u8], usize) {
        let (data, next) = read_forward(&self.buf, off);
        (&self.buf[data], next)
    }

    /// The element ending at `end` and the offset where it starts.
    pub fn read_back(&self, end: usize) -> (&[u8], usize) {
        let (data, start) = read_backward(&self.buf, end);
        (&self.buf[data], start)
    }

    /// Offset of the `index`-th entry, walking from the nearer end.
    pub fn offset_of(&self, index: usize) -> usize {
        debug_assert!(index < self.count());
        if index <= self.count() / 2 {
            let mut off = self.start();
            for _ in 0..index {
                off = read_forward(&self.buf, off).1;
            }
            off
        } else {
            let mut off = self.buf.len();
            for _ in index..self.count() {
                off = read_backward(&self.buf, off).1;
            }
            off
        }
    }

    pub fn push_back(&mut self, data: &[u8]) {
        let size = entry_size(data.len());
        let at = self.buf.len();
        // Exact growth, as a listpack reallocates per insert: the allocator
        // resizes in place within its size class, and a small list carries
        // no doubling slack.
        self.buf.reserve_exact(size);
        self.buf.resize(at + size, 0);
        encode_entry(&mut self.buf[at..], data);
        self.count += 1;
        self.buf.settle();
    }

    pub fn push_front(&mut self, data: &[u8]) {
        let size = entry_size(data.len());
        let mut start = self.start();
        if start < size {
            // Grow the headroom geometrically (to at least the live size),
            // so a run of front pushes copies each byte O(1) times; a small
            // chunk gets exactly the room it needs, as a listpack does: its
            // copy is a few cache lines, and a small list keeps no slack.
            let live = self.bytes();
            let headroom = if live < EXACT_FRONT_GROWTH_BELOW {
                size
            } else {
                size.max(live)
            };
            let mut grown = Vec::with_capacity(headroom + live);
            grown.resize(headroom, 0);
            grown.extend_from_slice(&self.buf[start..]);
            self.buf = grown.into();
            start = headroom;
        }
        start -= size;
        self.start = narrow(start);
        encode_entry(&mut self.buf[start..start + size], data);
        self.count += 1;
    }

    /// Removes the first `n` entries.
    pub fn drop_front(&mut self, n: usize) {
        debug_assert!(n <= self.count());
        let mut start = self.start();
        for _ in 0..n {
            start = read_forward(&self.buf, start).1;
        }
        self.start = narrow(start);
        self.count -= narrow(n);
        if self.count == 0 {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Removes the last `n` entries.
    pub fn drop_back(&mut self, n: usize) {
        debug_assert!(n <= self.count());
        let mut end = self.buf.len();
        for _ in 0..n {
            end = read_backward(&self.buf, end).1;
        }
        self.buf.truncate(end);
        self.count -= narrow(n);
        if self.count == 0 {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Inserts an entry before the one at `off` (or at the end when `off`
    /// is the end offset).
    pub fn insert_at(&mut self, off: usize, data: &[u8]) {
        let size = entry_size(data.len());
        self.buf.splice(off..off, std::iter::repeat_n(0, size));
        encode_entry(&mut self.buf[off..off + size], data);
        self.count += 1;
        self.buf.settle();
    }

    /// Replaces the entry at `off` with `data`.
    pub fn replace_at(&mut self, off: usize, data: &[u8]) {
        let old_end = read_forward(&self.buf, off).1;
        let size = entry_size(data.len());
        if old_end - off == size {
            encode_entry(&mut self.buf[off..old_end], data);
            return;
        }
        self.buf.splice(off..old_end, std::iter::repeat_n(0, size));
        encode_entry(&mut self.buf[off..off + size], data);
        self.buf.settle();
    }

    /// Moves the entries from the `index`-th on into a new chunk.
    pub fn split_off(&mut self, index: usize) -> Chunk {
        let off = self.offset_of(index);
        let tail = Chunk {
            buf: self.buf[off..].to_vec().into(),
            start: 0,
            count: self.count - narrow(index),
        };
        self.buf.truncate(off);
        self.count = narrow(index);
        self.buf.settle();
        tail
    }

    /// Appends all of `other`'s entries.
    pub fn append(&mut self, other: &Chunk) {
        self.buf.extend_from_slice(&other.buf[other.start()..]);
        self.count += other.count;
        self.buf.settle();
    }

    /// Keeps the entries for which `keep(position, element)` is true,
    /// `position` counting from 0 at the first entry. Returns how many
    /// were removed.
    pub fn retain(&mut self, mut keep: impl FnMut(usize, &[u8]) -> bool) -> usize {
        let mut kept = Vec::with_capacity(self.bytes());
        let (mut off, mut position, mut removed) = (self.start(), 0, 0);
        while off < self.buf.len() {
            let (data, next) = read_forward(&self.buf, off);
            if keep(position, &self.buf[data]) {
                kept.extend_from_slice(&self.buf[off..next]);
            } else {
                removed += 1;
            }
            off = next;
            position += 1;
        }
        if removed > 0 {
            self.buf = kept.into();
            self.start = 0;
            self.count -= narrow(removed);
        }
        removed
    }

    /// Drops the headroom and spare capacity of a chunk that has stopped
    /// growing, so a long list costs about its packed size.
    pub fn compact(&mut self) {
        if self.start > 0 {
            let start = self.start();
            self.buf.drain(..start);
            self.start = 0;
        }
        self.buf.shrink_to_fit();
        self.buf.settle();
    }

    /// The elements, first to last.
    pub fn elements(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut off = self.start();
        std::iter::from_fn(move || {
            (off < self.buf.len()).then(|| {
                let (data, next) = self.read(off);
                off = next;
                data
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_the_same_both_ways() {
        let mut chunk = Chunk::default();
        let big = vec![7u8; 20_000];
        for data in [&b""[..], b"a", &[1u8; 127], &[2u8; 128], &big] {
            chunk.push_back(data);
        }
        chunk.push_front(b"front");
        let forward: Vec<&[u8]> = chunk.elements().collect();
        let mut backward = Vec::new();
        let mut end = chunk.end_offset();
        while end > chunk.first_offset() {
            let (data, start) = chunk.read_back(end);
            backward.push(data);
            end = start;
        }
        backward.reverse();
        assert_eq!(forward, backward);
        assert_eq!(forward[0], b"front");
        assert_eq!(forward[5], &big[..]);
        assert_eq!(
            chunk.bytes(),
            forward.iter().map(|e| entry_size(e.len())).sum()
        );
        assert_eq!(entry_size(127), 129);
        assert_eq!(entry_size(128), 132);
    }

    #[test]
    fn middle_edits_keep_entries_intact() {
        let mut chunk = Chunk::with_entry(b"b");
        chunk.push_front(b"a");
        chunk.push_back(b"d");
        chunk.insert_at(chunk.offset_of(2), b"c");
        chunk.replace_at(chunk.offset_of(0), &[b'x'; 300]);
        chunk.replace_at(chunk.offset_of(0), b"A");
        let tail = chunk.split_off(2);
        assert_eq!(chunk.elements().collect::<Vec<_>>(), [b"A", b"b"]);
        assert_eq!(tail.elements().collect::<Vec<_>>(), [b"c", b"d"]);
        chunk.append(&tail);
        assert_eq!(chunk.retain(|i, e| i != 0 && e != b"d"), 2);
        assert_eq!(chunk.elements().collect::<Vec<_>>(), [b"b", b"c"]);
        chunk.drop_front(1);
        chunk.drop_back(1);
        assert_eq!(chunk.count(), 0);
        assert_eq!(chunk.bytes(), 0);
    }
}
