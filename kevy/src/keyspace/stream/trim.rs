//! Trimming a stream from its oldest end, as Redis's `streamTrim` does.
//!
//! Trimming looks at the first node again and again: a node that can go
//! whole (MAXLEN: the stream stays at least `maxlen` long without it;
//! MINID: its last slot, even a tombstone, is below the ID) is removed;
//! otherwise approximate trimming (`~`) stops, and exact trimming deletes
//! entries from the front of that node, leaving tombstones, and stops. A
//! non-zero `limit` stops before a node whose live entries would take the
//! deleted count over it.

use super::{StreamEntries, StreamId};

/// What to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrimStrategy {
    /// At most this many entries.
    MaxLen(u64),
    /// No entry below this ID.
    MinId(StreamId),
}

/// A trim request (`MAXLEN`/`MINID`, `~`, `LIMIT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trim {
    pub strategy: TrimStrategy,
    /// `~`: remove whole nodes only.
    pub approx: bool,
    /// Most entries to delete; 0 is no limit.
    pub limit: u64,
}

impl StreamEntries {
    /// Trims and returns the number of entries deleted.
    pub fn trim(&mut self, trim: Trim) -> u64 {
        let mut deleted = 0u64;
        loop {
            if let TrimStrategy::MaxLen(maxlen) = trim.strategy {
                if self.length <= maxlen {
                    break;
                }
            }
            let Some(mut first) = self.nodes.first_entry() else {
                break;
            };
            let node = first.get_mut();
            let live = node.live as u64;
            if trim.limit != 0 && deleted.saturating_add(live) > trim.limit {
                break;
            }
            let whole = match trim.strategy {
                TrimStrategy::MaxLen(maxlen) => self.length - live >= maxlen,
                TrimStrategy::MinId(min) => node.last_id() < min,
            };
            if whole {
                first.remove();
                self.length -= live;
                deleted += live;
                continue;
            }
            if trim.approx {
                break;
            }
            // Slot by slot from the front, tombstones included, as Redis
            // walks the listpack.
            for at in 0..node.slots.len() {
                let stop = match trim.strategy {
                    TrimStrategy::MaxLen(maxlen) => self.length <= maxlen,
                    TrimStrategy::MinId(min) => node.slots[at].id >= min,
                };
                if stop {
                    break;
                }
                if !node.slots[at].deleted {
                    node.delete_at(at);
                    self.length -= 1;
                    deleted += 1;
                }
            }
            break;
        }
        deleted
    }
}
