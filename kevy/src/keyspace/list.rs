//! The list value: a deque of packed chunks, as Redis's quicklist is a
//! linked list of listpacks.
//!
//! Why this shape: a list must push and pop at both ends in O(1) and
//! answer `LINDEX`/`LSET`/`LRANGE` at any position without walking every
//! element. A `VecDeque<Box<[u8]>>` does both but pays a heap allocation
//! and 16 bytes of pointer per element (three to four times Redis's memory
//! for short elements). Here elements are packed into chunks of about
//! `list-max-listpack-size` (8 KB by default) each, so an element costs its
//! bytes plus two length bytes, and a chunk is the unit a future
//! copy-on-write snapshot can share or copy. Chunks sit in a
//! [`ChunkDeque`] (a single chunk inline, more in a `VecDeque`: O(1) at
//! both ends); an index walks chunk counts from the nearer end, then
//! entries inside one chunk, as quicklist does.
//!
//! Invariants (checked by the property tests): no chunk is empty, the
//! chunk counts add up to `len`, and every chunk respects the size limit or
//! holds a single element (an element larger than the limit lives alone).
//!
//! Redis 7.0 reports every list as `quicklist` in `OBJECT ENCODING`, small
//! or large (the `listpack` list encoding came in 7.2), so the encoding does
//! not depend on the chunking.

mod chunk;
mod deque;
mod iter;
#[cfg(test)]
mod tests;

use chunk::{entry_size, Chunk};
use deque::ChunkDeque;
pub use iter::Iter;

/// How full a chunk may get, from `list-max-listpack-size` as Redis reads
/// it: a negative value is a size class (-1 = 4 KB ... -5 = 64 KB), a
/// positive one a number of elements (under an 8 KB safety limit).
///
/// Stored as u32 (8 bytes off every list header): byte limits are
/// at most 64 KB, and an entry limit past `u32::MAX` could never be reached
/// under the 8 KB safety limit anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkLimit {
    max_bytes: u32,
    max_entries: u32,
}

/// Redis's `SIZE_SAFETY_LIMIT` for count-limited nodes.
const SIZE_SAFETY_LIMIT: u32 = 8192;

impl ChunkLimit {
    /// The limit for a `list-max-listpack-size` value.
    pub fn from_fill(fill: i64) -> Self {
        if fill < 0 {
            let class = (-(fill + 1)).min(4) as u32;
            ChunkLimit {
                max_bytes: 4096 << class,
                max_entries: u32::MAX,
            }
        } else {
            ChunkLimit {
                max_bytes: SIZE_SAFETY_LIMIT,
                max_entries: u32::try_from(fill).unwrap_or(u32::MAX),
            }
        }
    }

    /// The limit configured in `list-max-listpack-size` (text, as the
    /// configuration stores it).
    pub fn from_config(text: Option<&str>) -> Self {
        Self::from_fill(text.and_then(|t| t.parse().ok()).unwrap_or(-2))
    }

    #[cfg(test)]
    pub(crate) fn new(max_bytes: usize, max_entries: usize) -> Self {
        ChunkLimit {
            max_bytes: max_bytes as u32,
            max_entries: max_entries.try_into().unwrap_or(u32::MAX),
        }
    }

    fn max_bytes(&self) -> usize {
        self.max_bytes as usize
    }

    fn max_entries(&self) -> usize {
        self.max_entries as usize
    }

    /// May `chunk` take one more entry of `size` bytes? An empty chunk
    /// always may.
    fn allows(&self, chunk: &Chunk, size: usize) -> bool {
        chunk.count() == 0
            || (chunk.count() < self.max_entries() && chunk.bytes() + size <= self.max_bytes())
    }

    fn fits(&self, chunk: &Chunk) -> bool {
        chunk.count() <= 1
            || (chunk.count() <= self.max_entries() && chunk.bytes() <= self.max_bytes())
    }
}

impl Default for ChunkLimit {
    fn default() -> Self {
        Self::from_fill(-2)
    }
}

/// A list of byte strings.
#[derive(Clone, Default)]
pub struct ListValue {
    chunks: ChunkDeque,
    len: usize,
    limit: ChunkLimit,
}

impl ListValue {
    pub fn new(limit: ChunkLimit) -> Self {
        ListValue {
            chunks: ChunkDeque::default(),
            len: 0,
            limit,
        }
    }

    /// The encoding `OBJECT ENCODING` reports (always `quicklist` in 7.0).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push_back(&mut self, data: &[u8]) {
        let size = entry_size(data.len());
        match self.chunks.back_mut() {
            Some(last) if self.limit.allows(last, size) => last.push_back(data),
            last => {
                if let Some(sealed) = last {
                    sealed.compact();
                }
                self.chunks.push_back(Chunk::with_entry(data));
            }
        }
        self.len += 1;
    }

    pub fn push_front(&mut self, data: &[u8]) {
        let size = entry_size(data.len());
        match self.chunks.front_mut() {
            Some(first) if self.limit.allows(first, size) => first.push_front(data),
            first => {
                if let Some(sealed) = first {
                    sealed.compact();
                }
                self.chunks.push_front(Chunk::with_entry(data));
            }
        }
        self.len += 1;
    }

    pub fn front(&self) -> Option<&[u8]> {
        let first = self.chunks.front()?;
        Some(first.read(first.first_offset()).0)
    }

    pub fn back(&self) -> Option<&[u8]> {
        let last = self.chunks.back()?;
        Some(last.read_back(last.end_offset()).0)
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let value = self.front()?.to_vec();
        self.drop_front(1);
        Some(value)
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let value = self.back()?.to_vec();
        self.drop_back(1);
        Some(value)
    }

    /// Removes the first `n` elements (all of them when `n >= len`).
    pub fn drop_front(&mut self, n: usize) {
        let mut rest = n.min(self.len);
        self.len -= rest;
        while rest > 0 {
            let first = self.chunks.front_mut().expect("len counts these chunks");
            if first.count() <= rest {
                rest -= first.count();
                self.chunks.pop_front();
            } else {
                first.drop_front(rest);
                rest = 0;
            }
        }
    }

    /// Removes the last `n` elements (all of them when `n >= len`).
    pub fn drop_back(&mut self, n: usize) {
        let mut rest = n.min(self.len);
        self.len -= rest;
        while rest > 0 {
            let last = self.chunks.back_mut().expect("len counts these chunks");
            if last.count() <= rest {
                rest -= last.count();
                self.chunks.pop_back();
            } else {
                last.drop_back(rest);
                rest = 0;
            }
        }
    }

    /// The chunk holding element `index` and the entry's offset in it,
    /// walking from the nearer end of the list.
    fn locate(&self, index: usize) -> (usize, usize) {
        assert!(index < self.len, "callers check index < len");
        if index < self.len / 2 {
            let mut rest = index;
            for (at, chunk) in self.chunks.iter().enumerate() {
                if rest < chunk.count() {
                    return (at, chunk.offset_of(rest));
                }
                rest -= chunk.count();
            }
        } else {
            let mut rest = self.len - 1 - index;
            for (at, chunk) in self.chunks.iter().enumerate().rev() {
                if rest < chunk.count() {
                    return (at, chunk.offset_of(chunk.count() - 1 - rest));
                }
                rest -= chunk.count();
            }
        }
        unreachable!("chunk counts add up to len")
    }

    pub fn get(&self, index: usize) -> Option<&[u8]> {
        if index >= self.len {
            return None;
        }
        let (at, off) = self.locate(index);
        Some(self.chunks[at].read(off).0)
    }

    /// Replaces element `index`; false when out of range.
    pub fn set(&mut self, index: usize, data: &[u8]) -> bool {
        if index >= self.len {
            return false;
        }
        let (at, off) = self.locate(index);
        self.chunks[at].replace_at(off, data);
        self.rebalance(at);
        true
    }

    /// Inserts `data` before element `index` (at the end when `index ==
    /// len`).
    pub fn insert(&mut self, index: usize, data: &[u8]) {
        if index == 0 {
            return self.push_front(data);
        }
        if index >= self.len {
            return self.push_back(data);
        }
        let (at, off) = self.locate(index);
        self.chunks[at].insert_at(off, data);
        self.len += 1;
        self.rebalance(at);
    }

    /// Splits chunk `at` in halves until every part fits the limit.
    fn rebalance(&mut self, at: usize) {
        let chunk = &mut self.chunks[at];
        if self.limit.fits(chunk) {
            return;
        }
        let tail = chunk.split_off(chunk.count() / 2);
        self.chunks.insert(at + 1, tail);
        self.rebalance(at + 1);
        self.rebalance(at);
    }

    /// Keeps only elements `start..=end` (indexes already in range).
    pub fn trim(&mut self, start: usize, end: usize) {
        debug_assert!(start <= end && end < self.len);
        self.drop_back(self.len - 1 - end);
        self.drop_front(start);
    }

    /// Removes elements equal to `value`: at most `limit` of them (0 means
    /// all), the first ones or, with `from_tail`, the last ones. Returns how
    /// many were removed.
    pub fn remove_matching(&mut self, value: &[u8], limit: usize, from_tail: bool) -> usize {
        let mut removed = 0;
        let order: Box<dyn Iterator<Item = usize>> = if from_tail {
            Box::new((0..self.chunks.len()).rev())
        } else {
            Box::new(0..self.chunks.len())
        };
        for at in order {
            if limit != 0 && removed == limit {
                break;
            }
            let chunk = &mut self.chunks[at];
            let budget = if limit == 0 {
                usize::MAX
            } else {
                limit - removed
            };
            let matches = chunk.elements().filter(|e| *e == value).count();
            if matches == 0 {
                continue;
            }
            // Which matches go: all of them when the budget allows, else
            // the first (or last) `budget` of this chunk.
            let skip = if from_tail && matches > budget {
                matches - budget
            } else {
                0
            };
            let mut seen = 0;
            removed += chunk.retain(|_, e| {
                if e != value {
                    return true;
                }
                seen += 1;
                seen <= skip || seen - skip > budget
            });
        }
        if removed > 0 {
            self.len -= removed;
            self.chunks.retain(|c| c.count() > 0);
            self.merge_small_chunks();
        }
        removed
    }

    /// Joins neighbouring chunks that fit together, after removals left
    /// them sparse.
    fn merge_small_chunks(&mut self) {
        let mut at = 1;
        while at < self.chunks.len() {
            let (left, right) = (&self.chunks[at - 1], &self.chunks[at]);
            let joined_fits = left.count() + right.count() <= self.limit.max_entries()
                && left.bytes() + right.bytes() <= self.limit.max_bytes();
            if joined_fits {
                let right = self.chunks.remove(at).expect("at < len");
                self.chunks[at - 1].append(&right);
            } else {
                at += 1;
            }
        }
    }

    /// All elements, first to last (double-ended).
    pub fn iter(&self) -> Iter<'_> {
        self.range(0, self.len)
    }

    /// Elements `start..end` (clamped to the list), double-ended.
    pub fn range(&self, start: usize, end: usize) -> Iter<'_> {
        let end = end.min(self.len);
        if start >= end {
            return Iter::empty(&self.chunks);
        }
        let front = self.locate(start);
        let (at, off) = self.locate(end - 1);
        let back = (at, self.chunks[at].read(off).1);
        Iter::new(&self.chunks, front, back, end - start)
    }

    /// A list holding `elements` in order.
    pub fn from_elements<'e>(
        limit: ChunkLimit,
        elements: impl IntoIterator<Item = &'e [u8]>,
    ) -> Self {
        let mut list = ListValue::new(limit);
        for element in elements {
            list.push_back(element);
        }
        list
    }

    /// How many chunks hold the elements (tests check the size setting).
    #[cfg(test)]
    pub(crate) fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// (chunks whose buffer a frozen view also holds, chunks).
    #[cfg(test)]
    pub(crate) fn chunk_sharing(&self) -> (usize, usize) {
        let held = self.chunks.iter().filter(|c| c.held_elsewhere()).count();
        (held, self.chunks.len())
    }

    #[cfg(test)]
    fn check_invariants(&self) {
        let mut total = 0;
        for chunk in self.chunks.iter() {
            assert!(chunk.count() > 0, "no empty chunks");
            assert!(self.limit.fits(chunk), "chunks fit the limit");
            assert_eq!(chunk.elements().count(), chunk.count());
            total += chunk.count();
        }
        assert_eq!(total, self.len);
    }
}

impl PartialEq for ListValue {
    /// Lists are equal when their elements are, however they are chunked.
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for ListValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}
