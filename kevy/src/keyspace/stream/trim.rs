//! Trimming a stream from its oldest end, as Redis's `streamTrim` does.
//!
//! Trimming looks at the first node again and again: a node that can go
//! whole (MAXLEN: the stream stays at least `maxlen` long without it;
//! MINID: its last entry, even a tombstone, is below the ID) is removed;
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
            let live = node.entries.len() as u64;
            if trim.limit != 0 && deleted.saturating_add(live) > trim.limit {
                break;
            }
            let whole = match trim.strategy {
                TrimStrategy::MaxLen(maxlen) => self.length - live >= maxlen,
                TrimStrategy::MinId(min) => node.last_id < min,
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
            let count = match trim.strategy {
                // Not removable whole, so fewer than `live` must go.
                TrimStrategy::MaxLen(maxlen) => (self.length - maxlen) as usize,
                TrimStrategy::MinId(min) => node.lower_bound(min),
            };
            node.delete_first(count);
            self.length -= count as u64;
            deleted += count as u64;
            break;
        }
        deleted
    }
}
