//! Walking a stream's live entries between two IDs, forward or backward.
//!
//! A walk starts at the node Redis's iterator would seek (the last node
//! starting at or before the walk's first ID, else the first or last
//! node), then looks at each slot in order as Redis does: tombstones and
//! entries outside the near end are skipped, and the first live entry past
//! the far end ends the walk. In sorted nodes a binary search skips the
//! slots before the near end.

use std::collections::btree_map;

use super::node::{Entry, Node, Pairs};
use super::{StreamEntries, StreamId};
use crate::keyspace::shared::Shared;

/// One live entry seen during a walk.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    pub id: StreamId,
    node: &'a Node,
    entry: &'a Entry,
    /// Where it is: its node's key and its slot there.
    pub(super) node_key: StreamId,
    pub(super) slot: usize,
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
    nodes: btree_map::Range<'a, StreamId, Shared<Node>>,
    /// The node being walked and the slots left to look at.
    current: Option<(StreamId, &'a Node, std::ops::Range<usize>)>,
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
        // Like Redis: the last node starting at or before `end`, or the
        // last node when none does.
        let to = self
            .nodes
            .range(..=end)
            .next_back()
            .or_else(|| self.nodes.last_key_value())
            .map_or(StreamId::MIN, |(key, _)| *key);
        Range {
            nodes: self.nodes.range(..=to),
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
            if let Some((key, node, slots)) = &mut self.current {
                let (key, node) = (*key, *node);
                for at in slots.by_ref() {
                    let entry = &node.slots[at];
                    if entry.deleted || entry.id < self.start {
                        continue;
                    }
                    if entry.id > self.end {
                        return self.finish();
                    }
                    return Some(EntryRef {
                        id: entry.id,
                        node,
                        entry,
                        node_key: key,
                        slot: at,
                    });
                }
            }
            let (key, node) = self.nodes.next()?;
            let from = node.first_slot_from(self.start);
            self.current = Some((*key, node, from..node.slots.len()));
        }
    }

    fn backward(&mut self) -> Option<EntryRef<'a>> {
        loop {
            if let Some((key, node, slots)) = &mut self.current {
                let (key, node) = (*key, *node);
                while let Some(at) = slots.next_back() {
                    let entry = &node.slots[at];
                    if entry.deleted || entry.id > self.end {
                        continue;
                    }
                    if entry.id < self.start {
                        return self.finish();
                    }
                    return Some(EntryRef {
                        id: entry.id,
                        node,
                        entry,
                        node_key: key,
                        slot: at,
                    });
                }
            }
            let (key, node) = self.nodes.next_back()?;
            let to = node.slots_until(self.end);
            self.current = Some((*key, node, 0..to));
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
