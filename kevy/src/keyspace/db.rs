//! One logical database of one shard.
//!
//! Entries live in a slot vector; a hashbrown `HashTable` of slot indices
//! finds them by key. Slots never move while occupied, which gives `SCAN` a
//! stable integer cursor (the slot index: every key present for the whole
//! scan is returned) and `RANDOMKEY` an O(1) pick. Keys with a TTL are also
//! listed in `volatile` (their slot remembers its position there) so the
//! expiry sweep samples only keys that can expire, as Redis samples its
//! `expires` dictionary.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use super::slots::Slots;
use super::{Key, Value};
use crate::random::SplitMix64;

const NOT_VOLATILE: u32 = u32::MAX;

/// A key, its value and metadata.
#[derive(Debug)]
pub struct Entry {
    pub key: Key,
    pub value: Value,
    /// Absolute expiry time in Unix milliseconds, [`NO_EXPIRY`] for none
    /// (8 bytes where an `Option<u64>` takes 16, in every entry).
    expire: u64,
    /// Last access, in seconds of the server clock (`OBJECT IDLETIME`).
    pub last_access: u32,
    volatile_pos: u32,
}

/// `Entry::expire` of a key without a TTL. A requested expiry time of 0
/// is stored as 1: both are long past, so the key is just as expired.
const NO_EXPIRY: u64 = 0;

impl Entry {
    /// Absolute expiry time in Unix milliseconds, if the key has one.
    pub fn expire_at(&self) -> Option<u64> {
        (self.expire != NO_EXPIRY).then_some(self.expire)
    }
}

/// A `SCAN` position: the next slot index to visit.
pub type ScanCursor = u64;

#[derive(Default)]
pub struct Db {
    table: HashTable<u32>,
    slots: Slots,
    free: Vec<u32>,
    volatile: Vec<u32>,
    hasher: DefaultHashBuilder,
    /// Keys deleted because they expired (lazily or by the sweep).
    expired: u64,
    /// While writes are recorded (append-only log, replicas): the keys
    /// deleted because they expired, until the shard records them.
    expired_log: Option<Vec<Key>>,
    expiry: ExpiryMode,
}

/// What an expired key looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpiryMode {
    /// Absent; deleted when met and by the sweep (a primary).
    #[default]
    Delete,
    /// Absent to reads but kept, never deleted here (a replica: its
    /// primary says when a key goes, with a `DEL`).
    Hide,
    /// Live: replaying recorded writes, which say when keys went away.
    Ignore,
}

fn expired(entry: &Entry, now_ms: u64) -> bool {
    entry.expire != NO_EXPIRY && entry.expire <= now_ms
}

impl Db {
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Keys deleted so far because they expired.
    pub fn expired_count(&self) -> u64 {
        self.expired
    }

    /// Keys with an expiry time.
    pub fn volatile_len(&self) -> usize {
        self.volatile.len()
    }

    fn find_slot(&self, key: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(key);
        let slots = &self.slots;
        self.table
            .find(
                hash,
                |&i| matches!(&slots[i as usize], Some(e) if &*e.key == key),
            )
            .copied()
    }

    /// The live entry for `key`, deleting it first if it has expired.
    pub fn get(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        let slot = self.find_slot(key)?;
        let is_expired = self.expiry != ExpiryMode::Ignore
            && matches!(&self.slots[slot as usize], Some(e) if expired(e, now_ms));
        if is_expired {
            if self.expiry == ExpiryMode::Hide {
                return None;
            }
            if let Some(entry) = self.remove(key) {
                self.note_expired(entry.key);
            }
            return None;
        }
        self.slots[slot as usize].as_mut()
    }

    /// Like [`Db::get`], also recording the access time.
    pub fn get_touch(&mut self, key: &[u8], now_ms: u64, clock: u32) -> Option<&mut Entry> {
        let entry = self.get(key, now_ms)?;
        entry.last_access = clock;
        Some(entry)
    }

    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.get(key, now_ms).is_some()
    }

    /// Sets `key` to `value`: an existing key keeps its slot and, when
    /// `keep_ttl`, its expiry time; otherwise the expiry is cleared.
    pub fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool, clock: u32) {
        if let Some(slot) = self.find_slot(key) {
            let entry = self.slots[slot as usize]
                .as_mut()
                .expect("table indices point at occupied slots");
            entry.value = value;
            entry.last_access = clock;
            if !keep_ttl && entry.expire != NO_EXPIRY {
                self.set_expire_at(slot, None);
            }
            return;
        }
        self.insert_new(key.into(), value, None, clock);
    }

    /// Adds a key known to be absent.
    pub fn insert_new(&mut self, key: Key, value: Value, expire_at: Option<u64>, clock: u32) {
        let hash = self.hasher.hash_one(&*key);
        let entry = Entry {
            key,
            value,
            expire: NO_EXPIRY,
            last_access: clock,
            volatile_pos: NOT_VOLATILE,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(entry);
                slot
            }
            None => {
                self.slots.push(Some(entry));
                // Slot indices are u32, as the table stores them: four
                // billion keys per database is past any memory this runs in.
                u32::try_from(self.slots.len() - 1).expect("under 2^32 slots per database")
            }
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.table.insert_unique(hash, slot, |&i| {
            hasher.hash_one(&*slots[i as usize].as_ref().expect("occupied").key)
        });
        if expire_at.is_some() {
            self.set_expire_at(slot, expire_at);
        }
    }

    /// Removes `key` whether or not it has expired; the entry comes back
    /// whole, expiry time included.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let hash = self.hasher.hash_one(key);
        let slots = &self.slots;
        let found = self.table.find_entry(
            hash,
            |&i| matches!(&slots[i as usize], Some(e) if &*e.key == key),
        );
        let slot = match found {
            Ok(occupied) => occupied.remove().0,
            Err(_) => return None,
        };
        let expire = self.slots[slot as usize]
            .as_ref()
            .map_or(NO_EXPIRY, |e| e.expire);
        self.set_expire_at(slot, None);
        self.free.push(slot);
        let mut entry = self.slots[slot as usize].take();
        if let Some(entry) = entry.as_mut() {
            entry.expire = expire;
        }
        entry
    }

    /// Removes `key` if it is live; false when absent or expired.
    pub fn delete(&mut self, key: &[u8], now_ms: u64) -> bool {
        match self.remove(key) {
            Some(entry) => !expired(&entry, now_ms),
            None => false,
        }
    }

    /// Sets or clears the expiry of a live key. Returns false when absent.
    pub fn set_expire(&mut self, key: &[u8], at: Option<u64>, now_ms: u64) -> bool {
        if self.get(key, now_ms).is_none() {
            return false;
        }
        match self.find_slot(key) {
            Some(slot) => {
                self.set_expire_at(slot, at);
                true
            }
            None => false,
        }
    }

    fn set_expire_at(&mut self, slot: u32, at: Option<u64>) {
        let entry = self.slots[slot as usize]
            .as_mut()
            .expect("callers pass occupied slots");
        entry.expire = at.map_or(NO_EXPIRY, |at| at.max(1));
        match (at.is_some(), entry.volatile_pos) {
            (true, NOT_VOLATILE) => {
                entry.volatile_pos = self.volatile.len() as u32;
                self.volatile.push(slot);
            }
            (false, pos) if pos != NOT_VOLATILE => {
                entry.volatile_pos = NOT_VOLATILE;
                self.volatile.swap_remove(pos as usize);
                if let Some(&moved) = self.volatile.get(pos as usize) {
                    if let Some(e) = self.slots[moved as usize].as_mut() {
                        e.volatile_pos = pos;
                    }
                }
            }
            _ => {}
        }
    }

    /// Visits occupied, live slots from `cursor` until `count` slots were
    /// examined; returns the next cursor (0 when the scan is complete).
    pub fn scan(
        &mut self,
        cursor: ScanCursor,
        count: usize,
        now_ms: u64,
        mut visit: impl FnMut(&Entry),
    ) -> ScanCursor {
        let mut index = cursor as usize;
        let mut examined = 0;
        while index < self.slots.len() && examined < count.max(1) {
            if let Some(entry) = &self.slots[index] {
                examined += 1;
                if !expired(entry, now_ms) {
                    visit(entry);
                }
            }
            index += 1;
        }
        if index >= self.slots.len() {
            0
        } else {
            index as ScanCursor
        }
    }

    /// Every live entry, in slot order.
    pub fn iter_live(&self, now_ms: u64) -> impl Iterator<Item = &Entry> {
        self.slots
            .iter()
            .flatten()
            .filter(move |e| !expired(e, now_ms))
    }

    /// A random live key, deleting expired ones met on the way.
    pub fn random_key(&mut self, rng: &mut SplitMix64, now_ms: u64) -> Option<Key> {
        // Bounded tries against a sparse slot vector; then a linear pass.
        for _ in 0..64 {
            if self.table.is_empty() {
                return None;
            }
            let slot = rng.below(self.slots.len());
            if let Some(entry) = &self.slots[slot] {
                if self.expiry == ExpiryMode::Delete && expired(entry, now_ms) {
                    let key = entry.key.clone();
                    self.remove(&key);
                    self.note_expired(key);
                    continue;
                }
                return Some(entry.key.clone());
            }
        }
        let start = rng.below(self.slots.len().max(1));
        let n = self.slots.len();
        (0..n)
            .map(|i| (start + i) % n)
            .find_map(|i| match &self.slots[i] {
                Some(e) if !expired(e, now_ms) => Some(e.key.clone()),
                _ => None,
            })
    }

    /// One round of active expiry: samples up to `samples` volatile keys and
    /// deletes the expired ones. Returns (sampled, deleted) so the caller can
    /// repeat while many were expired, as Redis does.
    pub fn expire_cycle(
        &mut self,
        rng: &mut SplitMix64,
        now_ms: u64,
        samples: usize,
    ) -> (usize, usize) {
        let mut sampled = 0;
        let mut deleted = 0;
        if self.expiry != ExpiryMode::Delete {
            return (0, 0);
        }
        while sampled < samples && !self.volatile.is_empty() {
            sampled += 1;
            let pick = self.volatile[rng.below(self.volatile.len())];
            let key = match &self.slots[pick as usize] {
                Some(e) if expired(e, now_ms) => e.key.clone(),
                _ => continue,
            };
            self.remove(&key);
            self.note_expired(key);
            deleted += 1;
        }
        (sampled, deleted)
    }

    /// Drops every key; the slot vector is released too.
    pub fn clear(&mut self) {
        *self = Db {
            hasher: self.hasher.clone(),
            expired: self.expired,
            expired_log: self.expired_log.take().map(|_| Vec::new()),
            expiry: self.expiry,
            ..Db::default()
        };
    }

    /// How expired keys are treated from now on.
    pub fn set_expiry_mode(&mut self, mode: ExpiryMode) {
        self.expiry = mode;
    }

    pub fn expiry_mode(&self) -> ExpiryMode {
        self.expiry
    }

    fn note_expired(&mut self, key: Key) {
        self.expired += 1;
        if let Some(log) = &mut self.expired_log {
            log.push(key);
        }
    }

    /// Starts (or stops) listing the keys deleted because they expired.
    pub fn record_expired(&mut self, on: bool) {
        if on != self.expired_log.is_some() {
            self.expired_log = on.then(Vec::new);
        }
    }

    /// The keys deleted because they expired since the last call.
    pub fn take_expired(&mut self) -> Vec<Key> {
        match &mut self.expired_log {
            Some(log) if !log.is_empty() => std::mem::take(log),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::RString;

    fn s(v: &[u8]) -> Value {
        Value::Str(RString::from_client(v))
    }

    #[test]
    fn lazy_expiry_hides_and_deletes() {
        let mut db = Db::default();
        db.set(b"a", s(b"1"), false, 0);
        assert!(db.set_expire(b"a", Some(100), 0));
        assert_eq!(db.volatile_len(), 1);
        assert!(db.get(b"a", 99).is_some());
        assert!(db.get(b"a", 100).is_none());
        assert_eq!(db.len(), 0);
        assert_eq!(db.volatile_len(), 0);
    }

    #[test]
    fn scan_returns_every_stable_key() {
        let mut db = Db::default();
        for i in 0..100u32 {
            db.set(format!("k{i}").as_bytes(), s(b"v"), false, 0);
        }
        for i in 0..50u32 {
            db.remove(format!("k{i}").as_bytes());
        }
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            cursor = db.scan(cursor, 7, 0, |e| seen.push(e.key.clone()));
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 50);
    }

    #[test]
    fn entries_stay_small_and_slots_span_pages() {
        assert_eq!(std::mem::size_of::<Entry>(), 72);
        let mut db = Db::default();
        let n = 3 * super::super::slots::PAGE_SLOTS + 5;
        for i in 0..n {
            db.set(format!("k{i}").as_bytes(), s(b"v"), false, 0);
        }
        assert!((0..n).all(|i| db.get(format!("k{i}").as_bytes(), 0).is_some()));
        assert_eq!(db.iter_live(0).count(), n);
        // An expiry time of 0 is kept (as 1): the key is still volatile
        // and gone at the next millisecond.
        assert!(db.set_expire(b"k0", Some(0), 0));
        assert_eq!(db.volatile_len(), 1);
        assert!(db.get(b"k0", 5).is_none());
        assert!(db.set_expire(b"k1", Some(100), 0));
        assert_eq!(db.get(b"k1", 0).and_then(|e| e.expire_at()), Some(100));
        let removed = db.remove(b"k1").expect("present");
        assert_eq!(removed.expire_at(), Some(100));
    }

    #[test]
    fn expire_cycle_reclaims() {
        let mut db = Db::default();
        let mut rng = SplitMix64::new(7);
        for i in 0..100u32 {
            let key = format!("k{i}");
            db.set(key.as_bytes(), s(b"v"), false, 0);
            db.set_expire(key.as_bytes(), Some(if i % 2 == 0 { 10 } else { 1000 }), 0);
        }
        for _ in 0..100 {
            db.expire_cycle(&mut rng, 20, 20);
        }
        assert_eq!(db.len(), 50);
        assert_eq!(db.volatile_len(), 50);
    }
}
