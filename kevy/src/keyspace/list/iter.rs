//! A double-ended iterator over a run of list elements.
//!
//! Two cursors, each a chunk position and a byte offset in that chunk, walk
//! towards each other; `remaining` says when they have met, so neither
//! needs to compare against the other. Chunks are never empty, so moving a
//! cursor to the next chunk always lands on an entry.

use super::deque::ChunkDeque;

pub struct Iter<'a> {
    chunks: &'a ChunkDeque,
    /// Chunk and offset of the next element from the front.
    front: (usize, usize),
    /// Chunk and end offset of the next element from the back.
    back: (usize, usize),
    remaining: usize,
}

impl<'a> Iter<'a> {
    pub(super) fn new(
        chunks: &'a ChunkDeque,
        front: (usize, usize),
        back: (usize, usize),
        remaining: usize,
    ) -> Self {
        Iter {
            chunks,
            front,
            back,
            remaining,
        }
    }

    pub(super) fn empty(chunks: &'a ChunkDeque) -> Self {
        Iter::new(chunks, (0, 0), (0, 0), 0)
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let (mut at, mut off) = self.front;
        if off >= self.chunks[at].end_offset() {
            at += 1;
            off = self.chunks[at].first_offset();
        }
        let (data, next) = self.chunks[at].read(off);
        self.front = (at, next);
        Some(data)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let (mut at, mut end) = self.back;
        if end <= self.chunks[at].first_offset() {
            at -= 1;
            end = self.chunks[at].end_offset();
        }
        let (data, start) = self.chunks[at].read_back(end);
        self.back = (at, start);
        Some(data)
    }
}

impl ExactSizeIterator for Iter<'_> {}
