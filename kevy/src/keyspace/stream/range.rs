//! Walking a stream's live entries between two IDs, forward or backward.
//!
//! A walk finds its first node in the node map (the last node starting at
//! or before the walk's first ID), binary-searches inside it, then moves
//! node by node; it never visits tombstones, which are not stored.

use std::collections::btree_map;

use super::node::{Entry, Node, Pairs};
use super::{StreamEntries, StreamId};

/// One live entry seen during a walk.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    pub id: StreamId,
    node: &'a Node,
    entry: &'a Entry,
}

impl<'a> EntryRef<'a> {
    /// The entry's `(field, value)` pairs.
    pub fn pairs(&self) -> Pairs<'a> {
        self.node.pairs(self.entry)
    }

    pub fn pair_count(&self) -> usize {
        self.entry.pair_count()
    }
}

/// Live entries with IDs in `start..=end`, in one direction.
pub struct Range<'a> {
    nodes: btree_map::Range<'a, StreamId, Node>,
    current: Option<(&'a Node, &'a [Entry])>,
    start: StreamId,
    end: StreamId,
    rev: bool,
}

impl StreamEntries {
    /// Entries in `start..=end`, ascending.
    pub fn range(&self, start: StreamId, end: StreamId) -> Range<'_> {
        let from = self
            .nodes
            .range(..=start)
            .next_back()
            .map_or(StreamId::MIN, |(key, _)| *key);
        Range {
            nodes: self.nodes.range(from..),
            current: None,
            start,
            end,
            rev: false,
        }
    }

    /// Entries in `start..=end`, descending.
    pub fn range_rev(&self, start: StreamId, end: StreamId) -> Range<'_> {
        Range {
            nodes: self.nodes.range(..=end),
            current: None,
            start,
            end,
            rev: true,
        }
    }
}

impl<'a> Range<'a> {
    fn finish(&mut self) -> Option<EntryRef<'a>> {
        self.current = None;
        self.nodes = btree_map::Range::default();
        None
    }

    fn forward(&mut self) -> Option<EntryRef<'a>> {
        loop {
            if let Some((node, slice)) = self.current {
                if let Some((entry, rest)) = slice.split_first() {
                    if entry.id > self.end {
                        return self.finish();
                    }
                    self.current = Some((node, rest));
                    return Some(EntryRef {
                        id: entry.id,
                        node,
                        entry,
                    });
                }
            }
            let (_, node) = self.nodes.next()?;
            let from = node.lower_bound(self.start);
            self.current = Some((node, &node.entries[from..]));
        }
    }

    fn backward(&mut self) -> Option<EntryRef<'a>> {
        loop {
            if let Some((node, slice)) = self.current {
                if let Some((entry, rest)) = slice.split_last() {
                    if entry.id < self.start {
                        return self.finish();
                    }
                    self.current = Some((node, rest));
                    return Some(EntryRef {
                        id: entry.id,
                        node,
                        entry,
                    });
                }
            }
            let (_, node) = self.nodes.next_back()?;
            let to = node.entries.partition_point(|e| e.id <= self.end);
            self.current = Some((node, &node.entries[..to]));
        }
    }
}

impl<'a> Iterator for Range<'a> {
    type Item = EntryRef<'a>;

    fn next(&mut self) -> Option<EntryRef<'a>> {
        if self.start > self.end {
            return None;
        }
        if self.rev {
            self.backward()
        } else {
            self.forward()
        }
    }
}
