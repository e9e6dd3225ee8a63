//! The stream value type: entries ordered by ID, grouped in nodes as Redis
//! groups them, plus consumer groups with their pending entries lists.
//!
//! Shape. Entries live in nodes kept in a `BTreeMap` keyed by each node's
//! first ID; a node holds a run of consecutive entries in a `Vec`, deleted
//! ones as tombstones until the node goes, as Redis keeps them. This is
//! Redis's own layout (a radix tree of listpacks), chosen over one
//! `BTreeMap<StreamId, fields>` because node boundaries are observable:
//! `XADD`/`XTRIM` with `~` remove whole nodes only, `XINFO STREAM` reports
//! node counts, and a node closes after `stream-node-max-entries` entries or
//! `stream-node-max-bytes` listpack bytes. Modelling the nodes makes those
//! results exact, and costs little: lookups are a B-tree search for the
//! node then a binary search inside it, appends go to the last node, and
//! entries sharing the node's field names store only their values.
//!
//! Flow. Commands (`cmd/stream`) parse arguments, then call
//! [`StreamEntries`] to add, delete, trim and read entries, and work on
//! [`ConsumerGroup`]s for the group commands. The two halves are separate
//! fields of [`StreamValue`] so a command can read entries while it updates
//! a group. Time comes in as arguments (`now_ms`), never from a clock.

mod group;
mod id;
mod listpack;
mod node;
mod range;
mod rax;
mod trim;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use group::{Consumer, ConsumerGroup, PendingEntry, ENTRIES_READ_UNKNOWN};
pub use id::{parse_id, IdSyntax, ParsedId, StreamId};
pub use node::Pairs;
pub use range::{EntryRef, Range};
pub use trim::{Trim, TrimStrategy};

use node::Node;

use super::shared::Shared;

/// Redis's `STREAM_LISTPACK_MAX_SIZE`: no node grows past 1 GiB.
const LISTPACK_MAX_SIZE: u64 = 1 << 30;

/// A stream value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamValue {
    pub entries: StreamEntries,
    /// Consumer groups by name, in byte order (as Redis lists them).
    pub groups: BTreeMap<Box<[u8]>, ConsumerGroup>,
}

impl StreamValue {
    /// The encoding `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        "stream"
    }
}

/// The entries of a stream and the counters Redis keeps about them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamEntries {
    /// Nodes by the ID of their first entry. Shared twice over, so a
    /// snapshot's copy of the stream is a count increment, and a write
    /// while a frozen view holds it copies the map of node handles and
    /// then the one node written (at most `stream-node-max-entries`).
    nodes: Shared<BTreeMap<StreamId, Shared<Node>>>,
    /// Live entries.
    length: u64,
    /// The largest ID ever added (or set by XSETID).
    pub last_id: StreamId,
    /// The largest ID deleted by XDEL (or set by XSETID).
    pub max_deleted_entry_id: StreamId,
    /// Entries added over the stream's life (or set by XSETID); a C
    /// `long long` in Redis, so it wraps rather than failing.
    pub entries_added: i64,
}

/// Where nodes close, from `stream-node-max-bytes` and
/// `stream-node-max-entries` (0 means no limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeLimits {
    pub max_bytes: u64,
    pub max_entries: u64,
}

impl NodeLimits {
    /// The limits the configuration sets.
    pub fn from_config(config: &crate::config::Config) -> Self {
        let number = |name| {
            config
                .get(name)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        NodeLimits {
            max_bytes: number("stream-node-max-bytes"),
            max_entries: number("stream-node-max-entries"),
        }
    }
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            max_bytes: 4096,
            max_entries: 100,
        }
    }
}

/// The ID an XADD asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdRequest {
    /// `*`: the clock, or the last ID's successor when the clock is behind.
    Auto,
    /// `ms-*`: that time, with the next free sequence.
    Ms(u64),
    /// `ms-seq`.
    Exact(StreamId),
}

/// Why an XADD failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddError {
    /// The ID is not greater than the stream's last ID.
    NotGreater,
    /// The fields exceed what a node can hold, or `ms-*` found no free
    /// sequence (Redis reports both as "Elements are too large").
    TooLarge,
}

impl StreamEntries {
    /// Live entries (`XLEN`).
    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Nodes (`radix-tree-keys`).
    pub fn node_count(&self) -> u64 {
        self.nodes.len() as u64
    }

    /// Nodes of Redis's radix tree over the node keys (`radix-tree-nodes`).
    pub fn rax_nodes(&self) -> u64 {
        rax::node_count(self.nodes.keys().copied())
    }

    /// Adds an entry with `pairs` (`field value ...`), as Redis's
    /// `streamAppendItem`, and returns its ID.
    pub fn add(
        &mut self,
        request: IdRequest,
        pairs: &[&[u8]],
        now_ms: u64,
        limits: NodeLimits,
    ) -> Result<StreamId, AddError> {
        let last = self.last_id;
        let id = match request {
            IdRequest::Exact(id) => id,
            IdRequest::Ms(ms) if ms == last.ms => {
                if last.seq == u64::MAX {
                    return Err(AddError::TooLarge);
                }
                StreamId::new(ms, last.seq + 1)
            }
            IdRequest::Ms(ms) => StreamId::new(ms, 0),
            IdRequest::Auto if now_ms > last.ms => StreamId::new(now_ms, 0),
            // Redis's `seq+1` wraps; the check below then refuses it.
            IdRequest::Auto => StreamId::new(last.ms, last.seq.wrapping_add(1)),
        };
        if id <= last {
            return Err(AddError::NotGreater);
        }
        let total_len = pairs
            .iter()
            .fold(0u64, |sum, p| sum.saturating_add(p.len() as u64));
        if total_len > LISTPACK_MAX_SIZE {
            return Err(AddError::TooLarge);
        }
        let max_bytes = match limits.max_bytes {
            0 => LISTPACK_MAX_SIZE,
            n => n.min(LISTPACK_MAX_SIZE),
        };
        match self.nodes.last_entry() {
            Some(mut tail)
                if tail.get().listpack_bytes() + total_len < max_bytes
                    && (limits.max_entries == 0
                        || (tail.get().slots.len() as u64) < limits.max_entries) =>
            {
                let master = *tail.key();
                tail.get_mut().push(master, id, pairs);
            }
            _ => {
                self.nodes.insert(id, Shared::new(Node::new(id, pairs)));
            }
        }
        self.length += 1;
        self.entries_added = self.entries_added.wrapping_add(1);
        self.last_id = id;
        Ok(id)
    }

    /// Deletes one live entry (`streamDeleteItem`); a node whose last live
    /// entry goes is removed whole. Counters other than the length are the
    /// caller's.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((key, slot)) = self.range(id, id).next().map(|e| (e.node_key, e.slot)) else {
            return false;
        };
        let Some(node) = self.nodes.get_mut(&key) else {
            return false;
        };
        if node.live == 1 {
            self.nodes.remove(&key);
        } else {
            node.delete_at(slot);
        }
        self.length -= 1;
        true
    }

    /// `XDEL`: deletes the entries that exist and records the largest ID
    /// deleted; returns how many went.
    pub fn delete_many(&mut self, ids: &[StreamId]) -> u64 {
        let mut deleted = 0;
        for &id in ids {
            if self.delete(id) {
                if id > self.max_deleted_entry_id {
                    self.max_deleted_entry_id = id;
                }
                deleted += 1;
            }
        }
        deleted
    }

    /// Is `id` a live entry?
    pub fn contains(&self, id: StreamId) -> bool {
        self.get(id).is_some()
    }

    /// The live entry `id`.
    pub fn get(&self, id: StreamId) -> Option<EntryRef<'_>> {
        self.range(id, id).next()
    }

    /// The first live ID, or `0-0` when empty (Redis's `first_id`,
    /// `recorded-first-entry-id`).
    pub fn first_id(&self) -> StreamId {
        self.range(StreamId::MIN, StreamId::MAX)
            .next()
            .map_or(StreamId::MIN, |e| e.id)
    }

    /// The last live ID (`streamLastValidID`).
    pub fn last_live_id(&self) -> Option<StreamId> {
        self.range_rev(StreamId::MIN, StreamId::MAX)
            .next()
            .map(|e| e.id)
    }
}
