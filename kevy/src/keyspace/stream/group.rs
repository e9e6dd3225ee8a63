//! Consumer groups: the last ID delivered, the logical read counter, the
//! pending entries list (PEL) and the consumers, each with its own PEL.
//!
//! The group's PEL maps every delivered but unacknowledged ID to its owner
//! and delivery record; each consumer keeps the set of IDs it owns, so the
//! two always agree (every function here updates both). Redis 7.0's read
//! counter (`entries-read`) and `lag` are computed as `t_stream.c` does,
//! including its rules for when they are unknown (tombstones ahead).

use std::collections::{BTreeMap, BTreeSet};

use super::{StreamEntries, StreamId};
use crate::keyspace::shared::Shared;

/// Redis's `SCG_INVALID_ENTRIES_READ`: the read counter is unknown.
pub const ENTRIES_READ_UNKNOWN: i64 = -1;

/// One consumer group. The PEL and the consumers are [`Shared`], so a
/// snapshot's copy of a group does not copy them; the first change to
/// one while a frozen view holds it copies that map whole.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerGroup {
    pub last_id: StreamId,
    /// Entries read by the group, or [`ENTRIES_READ_UNKNOWN`].
    pub entries_read: i64,
    pub pel: Shared<BTreeMap<StreamId, PendingEntry>>,
    /// Consumers by name, in byte order.
    pub consumers: Shared<BTreeMap<Box<[u8]>, Consumer>>,
}

/// A delivered entry not yet acknowledged.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingEntry {
    pub consumer: Box<[u8]>,
    /// Unix milliseconds of the last delivery.
    pub delivery_time: i64,
    pub delivery_count: u64,
}

/// One consumer of a group.
#[derive(Clone, Debug, PartialEq)]
pub struct Consumer {
    /// Unix milliseconds of the consumer's last activity.
    pub seen_time: i64,
    /// IDs this consumer owns in the group's PEL.
    pub pel: BTreeSet<StreamId>,
}

impl ConsumerGroup {
    pub fn new(last_id: StreamId, entries_read: i64) -> Self {
        ConsumerGroup {
            last_id,
            entries_read,
            pel: Shared::default(),
            consumers: Shared::default(),
        }
    }

    /// Creates a consumer seen at `now`; false when it exists.
    pub fn create_consumer(&mut self, name: &[u8], now: i64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers.insert(
            name.into(),
            Consumer {
                seen_time: now,
                pel: BTreeSet::new(),
            },
        );
        true
    }

    /// The consumer `name`, created if missing, seen at `now` (Redis's
    /// lookup that refreshes the seen time, then create).
    pub fn touch_consumer(&mut self, name: &[u8], now: i64) {
        match self.consumers.get_mut(name) {
            Some(consumer) => consumer.seen_time = now,
            None => {
                self.create_consumer(name, now);
            }
        }
    }

    /// Deletes a consumer and its pending entries; returns how many it
    /// had, or None when it does not exist.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let consumer = self.consumers.remove(name)?;
        for id in &consumer.pel {
            self.pel.remove(id);
        }
        Some(consumer.pel.len())
    }

    /// Removes a pending entry from the group and its owner.
    pub fn remove_pending(&mut self, id: StreamId) -> bool {
        let Some(pending) = self.pel.remove(&id) else {
            return false;
        };
        if let Some(owner) = self.consumers.get_mut(&pending.consumer) {
            owner.pel.remove(&id);
        }
        true
    }

    /// Makes `consumer` (which exists) the owner of pending entry `id`,
    /// creating the entry with `delivery` when missing.
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], delivery: (i64, u64)) {
        let (time, count) = delivery;
        match self.pel.get_mut(&id) {
            Some(pending) => {
                if &pending.consumer[..] != consumer {
                    if let Some(old) = self.consumers.get_mut(&pending.consumer) {
                        old.pel.remove(&id);
                    }
                    pending.consumer = consumer.into();
                }
                pending.delivery_time = time;
                pending.delivery_count = count;
            }
            None => {
                self.pel.insert(
                    id,
                    PendingEntry {
                        consumer: consumer.into(),
                        delivery_time: time,
                        delivery_count: count,
                    },
                );
            }
        }
        if let Some(owner) = self.consumers.get_mut(consumer) {
            owner.pel.insert(id);
        }
    }

    /// Records that entry `id` of `entries` was delivered to the group:
    /// moves the last delivered ID forward and keeps the read counter
    /// (`streamReplyWithRange`).
    pub fn advance(&mut self, entries: &StreamEntries, id: StreamId) {
        if id <= self.last_id {
            return;
        }
        if self.entries_read != ENTRIES_READ_UNKNOWN && !entries.range_has_tombstones(id, None) {
            self.entries_read = self.entries_read.wrapping_add(1);
        } else if entries.entries_added != 0 {
            self.entries_read = entries.estimate_read_counter(id);
        }
        self.last_id = id;
    }
}

impl StreamEntries {
    /// Might `start..=end` (`end` None: to the end) hold a deleted entry
    /// (`streamRangeHasTombstones`)?
    pub fn range_has_tombstones(&self, start: StreamId, end: Option<StreamId>) -> bool {
        let max_deleted = self.max_deleted_entry_id;
        if self.length == 0 || max_deleted.is_zero() || self.first_id() > max_deleted {
            return false;
        }
        start <= max_deleted && max_deleted <= end.unwrap_or(StreamId::MAX)
    }

    /// The read counter of `id`, its distance from the first entry ever
    /// added, when it can be known (`streamEstimateDistanceFromFirstEverEntry`).
    pub fn estimate_read_counter(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.length == 0 && id <= self.last_id {
            return self.entries_added;
        }
        if id == self.last_id {
            return self.entries_added;
        }
        if id > self.last_id {
            return ENTRIES_READ_UNKNOWN;
        }
        let first = self.first_id();
        if self.max_deleted_entry_id.is_zero() || self.max_deleted_entry_id < first {
            let before_first = (self.entries_added as u64).wrapping_sub(self.length) as i64;
            if id < first {
                return before_first;
            }
            if id == first {
                return before_first.wrapping_add(1);
            }
        }
        ENTRIES_READ_UNKNOWN
    }

    /// Entries the group has yet to read, when known (`lag`).
    pub fn lag(&self, group: &ConsumerGroup) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if group.entries_read != ENTRIES_READ_UNKNOWN
            && !self.range_has_tombstones(group.last_id, None)
        {
            return Some(self.entries_added.wrapping_sub(group.entries_read));
        }
        match self.estimate_read_counter(group.last_id) {
            ENTRIES_READ_UNKNOWN => None,
            read => Some(self.entries_added.wrapping_sub(read)),
        }
    }
}
