//! Walking an [`OrderTree`](super::OrderTree) in rank order, up or down,
//! from any rank: a path of branches down to the current leaf, moved to
//! the neighbouring leaf when one is used up.

use super::{Branch, Node};

/// Walks ids in rank order (or reverse) from a starting rank.
pub(in crate::keyspace::zset) struct Iter<'a> {
    /// Branches above the current leaf and the child taken in each.
    pub(super) path: Vec<(&'a Branch, usize)>,
    pub(super) leaf: &'a [u32],
    pub(super) pos: usize,
    pub(super) remaining: usize,
    pub(super) reverse: bool,
}

impl Iter<'_> {
    /// Moves to the next leaf in the walking direction.
    fn step_leaf(&mut self) {
        loop {
            let Some((branch, index)) = self.path.pop() else {
                self.remaining = 0;
                return;
            };
            let next = if self.reverse {
                index.checked_sub(1)
            } else {
                Some(index + 1).filter(|&n| n < branch.children.len())
            };
            let Some(next) = next else { continue };
            self.path.push((branch, next));
            let mut node = &branch.children[next];
            loop {
                match node {
                    Node::Leaf(items) => {
                        self.leaf = items;
                        self.pos = if self.reverse {
                            items.len().saturating_sub(1)
                        } else {
                            0
                        };
                        return;
                    }
                    Node::Branch(b) => {
                        let child = if self.reverse {
                            b.children.len() - 1
                        } else {
                            0
                        };
                        self.path.push((b, child));
                        node = &b.children[child];
                    }
                }
            }
        }
    }
}

impl Iterator for Iter<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.remaining == 0 {
            return None;
        }
        let Some(&id) = self.leaf.get(self.pos) else {
            self.remaining = 0;
            return None;
        };
        self.remaining -= 1;
        if self.remaining > 0 {
            if self.reverse {
                match self.pos.checked_sub(1) {
                    Some(prev) => self.pos = prev,
                    None => self.step_leaf(),
                }
            } else {
                self.pos += 1;
                if self.pos == self.leaf.len() {
                    self.step_leaf();
                }
            }
        }
        Some(id)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Iter<'_> {}
