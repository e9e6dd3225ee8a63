//! The form of a large sorted set (Redis's `skiplist` encoding).
//!
//! Each member and its score live once, in a slot of a slot vector. A
//! hashbrown table of slot numbers finds a member's slot (O(1) `ZSCORE`,
//! the existence test of `ZADD`); an [`OrderTree`] of slot numbers keeps
//! them ordered by (score, member) with subtree counts, for O(log n)
//! ranks, rank lookups and score or member bounds. Occupied slots never
//! move, so a slot number is a stable `ZSCAN` cursor: every member present
//! for a whole scan is returned, as Redis promises for its hash-table
//! cursor. New members take the lowest free slot and free slots at the end
//! are dropped, so a set that shrinks gives memory back without moving
//! anything.

use std::collections::BTreeSet;
use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use super::order_tree::{KeySource, OrderTree};

#[derive(Clone, Debug)]
struct Slot {
    member: Box<[u8]>,
    score: f64,
}

/// The slot vector, as the order tree reads keys from it.
#[derive(Clone, Debug, Default)]
struct Slots(Vec<Option<Slot>>);

impl KeySource for Slots {
    fn key(&self, id: u32) -> (f64, &[u8]) {
        let slot = self.0[id as usize]
            .as_ref()
            .expect("the order tree and the index hold occupied slots only");
        (slot.score, &slot.member)
    }
}

#[derive(Clone, Debug, Default)]
pub(super) struct Large {
    slots: Slots,
    /// Free slot numbers below the end of the slot vector.
    free: BTreeSet<u32>,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    order: OrderTree,
}

impl Large {
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// From (member, score) pairs in order, members distinct.
    pub fn from_sorted(entries: impl IntoIterator<Item = (Box<[u8]>, f64)>) -> Self {
        let mut large = Large::default();
        let mut ids = Vec::new();
        for (member, score) in entries {
            let id = large.store(member, score);
            ids.push(id);
        }
        large.order = OrderTree::from_sorted(ids);
        large
    }

    /// Puts a member in a slot and the index; not yet in the order.
    fn store(&mut self, member: Box<[u8]>, score: f64) -> u32 {
        let hash = self.hasher.hash_one(&*member);
        let slot = Some(Slot { member, score });
        let id = match self.free.pop_first() {
            Some(id) => {
                self.slots.0[id as usize] = slot;
                id
            }
            None => {
                self.slots.0.push(slot);
                u32::try_from(self.slots.0.len() - 1)
                    .expect("a sorted set holds fewer than 2^32 members")
            }
        };
        let Large {
            slots,
            index,
            hasher,
            ..
        } = self;
        index.insert_unique(hash, id, |&i| hasher.hash_one(slots.key(i).1));
        id
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(member);
        self.index
            .find(hash, |&i| self.slots.key(i).1 == member)
            .copied()
    }

    fn entry(&self, id: u32) -> (&[u8], f64) {
        let (score, member) = self.slots.key(id);
        (member, score)
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|id| self.slots.key(id).0)
    }

    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let id = self.find(member)?;
        self.order.rank(&self.slots, id)
    }

    /// Adds a member known to be absent.
    pub fn insert(&mut self, member: Box<[u8]>, score: f64) {
        let id = self.store(member, score);
        self.order.insert(&self.slots, id);
    }

    /// Sets the score of a present member; false when absent.
    pub fn set_score(&mut self, member: &[u8], score: f64) -> bool {
        let Some(id) = self.find(member) else {
            return false;
        };
        let slot = self.slots.0[id as usize]
            .as_mut()
            .expect("the index holds occupied slots only");
        if slot.score == score {
            return true;
        }
        // The tree finds an item by its current key: out first, then the
        // new score, then back in.
        self.order.remove(&self.slots, id);
        if let Some(slot) = self.slots.0[id as usize].as_mut() {
            slot.score = score;
        }
        self.order.insert(&self.slots, id);
        true
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let id = self.find(member)?;
        self.order.remove(&self.slots, id);
        self.release(id).map(|(_, score)| score)
    }

    /// Frees slot `id` (already out of the order) and its index entry.
    fn release(&mut self, id: u32) -> Option<(Box<[u8]>, f64)> {
        let Large {
            slots,
            index,
            hasher,
            free,
            ..
        } = self;
        let hash = hasher.hash_one(slots.key(id).1);
        if let Ok(found) = index.find_entry(hash, |&i| i == id) {
            found.remove();
        }
        let released = slots.0[id as usize].take().map(|s| (s.member, s.score));
        free.insert(id);
        while let Some(None) = slots.0.last() {
            slots.0.pop();
            free.remove(&(slots.0.len() as u32));
        }
        if slots.0.capacity() > 64 && slots.0.len() < slots.0.capacity() / 4 {
            slots.0.shrink_to(slots.0.len() * 2);
        }
        released
    }

    pub fn at(&self, rank: usize) -> Option<(&[u8], f64)> {
        self.order.at(rank).map(|id| self.entry(id))
    }

    /// Entries from `rank`, upwards or (when `reverse`) downwards.
    pub fn iter_from(&self, rank: usize, reverse: bool) -> impl Iterator<Item = (&[u8], f64)> {
        self.order
            .iter(rank, usize::MAX, reverse)
            .map(|id| self.entry(id))
    }

    /// Leading entries for which `pred` holds (a prefix of the order).
    pub fn partition_point(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.order
            .partition_point(&self.slots, |(score, member)| pred(score, member))
    }

    /// Removes ranks `start..end` (within bounds).
    pub fn remove_ranks(&mut self, start: usize, end: usize) {
        let count = end.saturating_sub(start);
        if count > self.len() / 2 {
            // Cheaper to rebuild the order from what stays.
            let len = self.len();
            let doomed: Vec<u32> = self.order.iter(start, count, false).collect();
            let kept: Vec<u32> = self
                .order
                .iter(0, start, false)
                .chain(self.order.iter(end, len, false))
                .collect();
            self.order = OrderTree::from_sorted(kept);
            for id in doomed {
                self.release(id);
            }
        } else {
            for _ in 0..count {
                if let Some(id) = self.order.remove_at(start) {
                    self.release(id);
                }
            }
        }
    }

    /// Removes and returns the entry at `rank`.
    pub fn remove_at(&mut self, rank: usize) -> Option<(Box<[u8]>, f64)> {
        let id = self.order.remove_at(rank)?;
        self.release(id)
    }

    /// Visits occupied slots from `cursor` until `count` entries were seen
    /// (or ten times as many slots were examined, as Redis bounds its
    /// scans); returns the next cursor, 0 when the scan is complete.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], f64)) -> u64 {
        let slots = &self.slots.0;
        let mut at = usize::try_from(cursor).unwrap_or(usize::MAX);
        let mut seen = 0;
        let mut budget = count.saturating_mul(10).max(1);
        while at < slots.len() && seen < count && budget > 0 {
            if let Some(slot) = &slots[at] {
                visit(&slot.member, slot.score);
                seen += 1;
            }
            budget -= 1;
            at += 1;
        }
        if at >= slots.len() {
            0
        } else {
            at as u64
        }
    }

    #[cfg(test)]
    pub fn check(&self) {
        self.order.check(&self.slots);
        assert_eq!(self.index.len(), self.order.len());
        let occupied = self.slots.0.iter().filter(|s| s.is_some()).count();
        assert_eq!(occupied, self.order.len());
        assert_eq!(occupied + self.free.len(), self.slots.0.len());
        assert!(!matches!(self.slots.0.last(), Some(None)));
        for &id in &self.index {
            assert!(self.order.rank(&self.slots, id).is_some());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(i: u32) -> Box<[u8]> {
        format!("m{i}").into_bytes().into()
    }

    #[test]
    fn scan_returns_members_present_throughout() {
        let mut large = Large::default();
        for i in 0..1000 {
            large.insert(member(i), f64::from(i % 7));
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = large.scan(0, 50, |m, _| {
            seen.insert(m.to_vec());
        });
        // Churn between calls: drop the odd members, add new ones.
        for i in (1..1000).step_by(2) {
            large.remove(&member(i));
        }
        for i in 1000..1200 {
            large.insert(member(i), 1.5);
        }
        while cursor != 0 {
            cursor = large.scan(cursor, 50, |m, _| {
                seen.insert(m.to_vec());
            });
        }
        for i in (0..1000).step_by(2) {
            assert!(seen.contains(&*member(i)), "m{i}");
        }
        large.check();
    }

    #[test]
    fn shrinking_gives_slots_back() {
        let mut large = Large::default();
        for i in 0..1000 {
            large.insert(member(i), f64::from(i));
        }
        large.remove_ranks(10, 1000);
        large.check();
        assert_eq!(large.len(), 10);
        assert_eq!(large.slots.0.len(), 10);
        assert!(large.slots.0.capacity() < 100);
        large.remove(&member(3));
        large.insert(member(5000), 0.5);
        assert_eq!(large.slots.0.len(), 10, "the lowest free slot is reused");
        large.check();
    }
}
