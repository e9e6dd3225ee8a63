//! The replica runner's per-shard inboxes: what a replica shard must apply,
//! in stream order, with a sequence number per item so the runner knows
//! how far each shard has applied (what a link may acknowledge).
//!
//! Data flow: the runner pushes [`ApplyItem`]s ([`ReplicaInboxes::push`],
//! then rings the shard's doorbell); the shard drains its queue once per
//! loop iteration ([`ReplicaInboxes::drain`]) and publishes the last
//! sequence it applied ([`ReplicaInboxes::mark_applied`]).
//! Limit: the runner waits while a shard has more than
//! [`INBOX_HIGH_WATER`] items unapplied, so a slow shard slows the links
//! (TCP back-pressure to the primary) instead of growing memory.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::keyspace::Keyspace;

/// Items a shard may hold unapplied before the runner waits.
pub const INBOX_HIGH_WATER: u64 = 4096;
/// Items a shard applies per loop iteration, so its clients are served.
pub const DRAIN_PER_ITERATION: usize = 1024;

/// One thing a replica shard applies.
pub enum ApplyItem {
    /// The commands of one record (RESP, no `SELECT`), in database `db`.
    Record { db: usize, commands: Vec<u8> },
    /// A full sync of upstream stream `stream` (of `streams`) arrived: drop
    /// this shard's keys of that stream's slots, then take `staged`.
    ReplaceSlots {
        stream: usize,
        streams: usize,
        staged: Box<Keyspace>,
    },
    /// `FLUSHDB` (`db`) or `FLUSHALL` (None) on stream `stream`: only the
    /// keys of that stream's slots go, or a slower stream would wipe
    /// newer keys of another.
    FlushSlots {
        stream: usize,
        streams: usize,
        db: Option<usize>,
    },
    /// `SWAPDB a b` on stream `stream`: swaps that stream's keys only.
    SwapSlots {
        stream: usize,
        streams: usize,
        a: usize,
        b: usize,
    },
}

/// One shard's queue: items with their sequence numbers.
type Queue = Mutex<VecDeque<(u64, ApplyItem)>>;

/// Every replica shard's queue.
pub struct ReplicaInboxes {
    queues: Box<[Queue]>,
    pushed: Box<[AtomicU64]>,
    applied: Box<[AtomicU64]>,
}

impl ReplicaInboxes {
    pub fn new(shards: usize) -> Self {
        ReplicaInboxes {
            queues: (0..shards).map(|_| Mutex::new(VecDeque::new())).collect(),
            pushed: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            applied: (0..shards).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Queues `item` for `shard`; returns its sequence number (1, 2, ...).
    pub fn push(&self, shard: usize, item: ApplyItem) -> u64 {
        let mut queue = self.queues[shard].lock().unwrap_or_else(|p| p.into_inner());
        let seq = self.pushed[shard].fetch_add(1, Ordering::AcqRel) + 1;
        queue.push_back((seq, item));
        seq
    }

    /// Up to `max` items of `shard`, oldest first.
    pub fn drain(&self, shard: usize, max: usize) -> Vec<(u64, ApplyItem)> {
        let Some(queue) = self.queues.get(shard) else {
            return Vec::new();
        };
        let mut queue = queue.lock().unwrap_or_else(|p| p.into_inner());
        let take = queue.len().min(max);
        queue.drain(..take).collect()
    }

    pub fn has_items(&self, shard: usize) -> bool {
        self.pushed(shard) > self.applied(shard)
    }

    pub fn mark_applied(&self, shard: usize, seq: u64) {
        self.applied[shard].fetch_max(seq, Ordering::AcqRel);
    }

    pub fn applied(&self, shard: usize) -> u64 {
        self.applied
            .get(shard)
            .map_or(0, |a| a.load(Ordering::Acquire))
    }

    pub fn pushed(&self, shard: usize) -> u64 {
        self.pushed
            .get(shard)
            .map_or(0, |a| a.load(Ordering::Acquire))
    }

    /// Items pushed to `shard` and not applied yet.
    pub fn backlog(&self, shard: usize) -> u64 {
        self.pushed(shard).saturating_sub(self.applied(shard))
    }
}
