//! The chunks of one list, in order: none, one held inline, or a deque.
//!
//! Why not always a `VecDeque`: most lists are short and fit one chunk,
//! and a deque would put that single 32-byte chunk header in a heap block
//! of its own. Holding it inline saves that block (measured: 24 bytes of
//! every small list's 300); a list that outgrows one chunk moves to a
//! deque, and moves back when it shrinks to one chunk again.

use std::collections::VecDeque;
use std::ops::{Index, IndexMut};

use super::chunk::Chunk;

#[derive(Clone, Default)]
pub(super) struct ChunkDeque(Repr);

#[derive(Clone, Default)]
enum Repr {
    #[default]
    Empty,
    One(Chunk),
    Many(VecDeque<Chunk>),
}

impl ChunkDeque {
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Empty => 0,
            Repr::One(_) => 1,
            Repr::Many(chunks) => chunks.len(),
        }
    }

    pub fn front(&self) -> Option<&Chunk> {
        match &self.0 {
            Repr::Empty => None,
            Repr::One(chunk) => Some(chunk),
            Repr::Many(chunks) => chunks.front(),
        }
    }

    pub fn back(&self) -> Option<&Chunk> {
        match &self.0 {
            Repr::Empty => None,
            Repr::One(chunk) => Some(chunk),
            Repr::Many(chunks) => chunks.back(),
        }
    }

    pub fn front_mut(&mut self) -> Option<&mut Chunk> {
        match &mut self.0 {
            Repr::Empty => None,
            Repr::One(chunk) => Some(chunk),
            Repr::Many(chunks) => chunks.front_mut(),
        }
    }

    pub fn back_mut(&mut self) -> Option<&mut Chunk> {
        match &mut self.0 {
            Repr::Empty => None,
            Repr::One(chunk) => Some(chunk),
            Repr::Many(chunks) => chunks.back_mut(),
        }
    }

    /// The chunks as a deque, converting from the inline forms.
    fn many(&mut self) -> &mut VecDeque<Chunk> {
        if !matches!(self.0, Repr::Many(_)) {
            let mut chunks = VecDeque::with_capacity(2);
            if let Repr::One(chunk) = std::mem::take(&mut self.0) {
                chunks.push_back(chunk);
            }
            self.0 = Repr::Many(chunks);
        }
        match &mut self.0 {
            Repr::Many(chunks) => chunks,
            _ => unreachable!("made a deque just above"),
        }
    }

    /// Back to the inline forms once at most one chunk is left.
    fn settle(&mut self) {
        if let Repr::Many(chunks) = &mut self.0 {
            if chunks.len() <= 1 {
                self.0 = match chunks.pop_front() {
                    Some(chunk) => Repr::One(chunk),
                    None => Repr::Empty,
                };
            }
        }
    }

    pub fn push_back(&mut self, chunk: Chunk) {
        match self.0 {
            Repr::Empty => self.0 = Repr::One(chunk),
            _ => self.many().push_back(chunk),
        }
    }

    pub fn push_front(&mut self, chunk: Chunk) {
        match self.0 {
            Repr::Empty => self.0 = Repr::One(chunk),
            _ => self.many().push_front(chunk),
        }
    }

    pub fn pop_front(&mut self) -> Option<Chunk> {
        let popped = match std::mem::take(&mut self.0) {
            Repr::Empty => None,
            Repr::One(chunk) => Some(chunk),
            Repr::Many(mut chunks) => {
                let popped = chunks.pop_front();
                self.0 = Repr::Many(chunks);
                popped
            }
        };
        self.settle();
        popped
    }

    pub fn pop_back(&mut self) -> Option<Chunk> {
        let popped = match std::mem::take(&mut self.0) {
            Repr::Empty => None,
            Repr::One(chunk) => Some(chunk),
            Repr::Many(mut chunks) => {
                let popped = chunks.pop_back();
                self.0 = Repr::Many(chunks);
                popped
            }
        };
        self.settle();
        popped
    }

    /// Inserts `chunk` at position `at` (at most `len`).
    pub fn insert(&mut self, at: usize, chunk: Chunk) {
        match self.0 {
            Repr::Empty => self.0 = Repr::One(chunk),
            _ => self.many().insert(at, chunk),
        }
    }

    pub fn remove(&mut self, at: usize) -> Option<Chunk> {
        if at >= self.len() {
            return None;
        }
        if let Repr::Many(chunks) = &mut self.0 {
            let removed = chunks.remove(at);
            self.settle();
            return removed;
        }
        self.pop_front()
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&Chunk) -> bool) {
        match &mut self.0 {
            Repr::Empty => {}
            Repr::One(chunk) => {
                if !keep(chunk) {
                    self.0 = Repr::Empty;
                }
            }
            Repr::Many(chunks) => {
                chunks.retain(|c| keep(c));
                self.settle();
            }
        }
    }

    /// The chunks in order (double-ended, exact size).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Chunk> + ExactSizeIterator {
        (0..self.len()).map(move |at| &self[at])
    }
}

impl Index<usize> for ChunkDeque {
    type Output = Chunk;

    fn index(&self, at: usize) -> &Chunk {
        match &self.0 {
            Repr::One(chunk) if at == 0 => chunk,
            Repr::Many(chunks) => &chunks[at],
            _ => panic!("chunk index {at} out of range (callers index below len)"),
        }
    }
}

impl IndexMut<usize> for ChunkDeque {
    fn index_mut(&mut self, at: usize) -> &mut Chunk {
        match &mut self.0 {
            Repr::One(chunk) if at == 0 => chunk,
            Repr::Many(chunks) => &mut chunks[at],
            _ => panic!("chunk index {at} out of range (callers index below len)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(deque: &ChunkDeque) -> Vec<usize> {
        deque.iter().map(Chunk::count).collect()
    }

    fn chunk(entries: usize) -> Chunk {
        let mut chunk = Chunk::default();
        for _ in 0..entries {
            chunk.push_back(b"x");
        }
        chunk
    }

    #[test]
    fn moves_between_inline_and_deque_both_ways() {
        let mut deque = ChunkDeque::default();
        assert_eq!(deque.len(), 0);
        deque.push_back(chunk(1));
        assert!(matches!(deque.0, Repr::One(_)));
        deque.push_front(chunk(2));
        deque.insert(1, chunk(3));
        assert_eq!(counts(&deque), [2, 3, 1]);
        assert!(matches!(deque.0, Repr::Many(_)));
        assert_eq!(deque.remove(1).map(|c| c.count()), Some(3));
        assert_eq!(deque.pop_back().map(|c| c.count()), Some(1));
        assert!(matches!(deque.0, Repr::One(_)));
        assert_eq!(counts(&deque), [2]);
        deque.push_back(chunk(4));
        deque.retain(|c| c.count() == 4);
        assert!(matches!(deque.0, Repr::One(_)));
        assert_eq!(
            deque.iter().rev().map(Chunk::count).collect::<Vec<_>>(),
            [4]
        );
        assert_eq!(deque.pop_front().map(|c| c.count()), Some(4));
        assert!(matches!(deque.0, Repr::Empty));
        assert!(deque.pop_front().is_none());
        assert!(deque.remove(0).is_none());
    }
}
