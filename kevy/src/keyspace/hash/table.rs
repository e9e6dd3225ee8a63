//! The hashed form shared by big hashes and big sets: a chained hash table
//! whose items live densely in one vector, with Redis's `dictScan` cursor.
//!
//! Items sit in `nodes` without holes (a removal moves the last node into
//! the gap), so iteration is a slice walk and a random pick is one uniform
//! index, fairer and cheaper than Redis's sampling of sparse buckets.
//! `buckets` (a power of two of them) hold the head of each chain; every
//! node remembers its 32-bit hash and its successor. A node lives in bucket
//! `hash & mask` and nowhere else, which is what makes the reverse-binary
//! cursor of `SSCAN`/`HSCAN` work as in Redis: every item present for a
//! whole scan is returned even when the table grows or shrinks between
//! calls (some may come twice). The table grows at one item per bucket and
//! shrinks below one per eight, rebuilding the chains at once.

use std::hash::BuildHasher;

use hashbrown::DefaultHashBuilder;

/// What the table stores: anything with a byte-string key.
pub trait Keyed {
    fn key(&self) -> &[u8];
}

impl Keyed for Box<[u8]> {
    fn key(&self) -> &[u8] {
        self
    }
}

/// End of a chain.
const NIL: u32 = u32::MAX;
/// Buckets of the smallest non-empty table.
const MIN_BUCKETS: usize = 4;
/// Shrink when fewer than one item per this many buckets.
const SHRINK_RATIO: usize = 8;

#[derive(Clone, Debug)]
pub struct Node<T> {
    item: T,
    hash: u32,
    next: u32,
}

#[derive(Clone)]
pub struct ScanTable<T> {
    nodes: Vec<Node<T>>,
    /// Chain heads; empty or a power of two long.
    buckets: Vec<u32>,
    hasher: DefaultHashBuilder,
}

impl<T: Keyed> ScanTable<T> {
    pub fn with_capacity(capacity: usize) -> Self {
        let mut table = ScanTable {
            nodes: Vec::with_capacity(capacity),
            buckets: Vec::new(),
            hasher: DefaultHashBuilder::default(),
        };
        table.rebuild(capacity.max(1));
        table
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    fn hash(&self, key: &[u8]) -> u32 {
        let full = self.hasher.hash_one(key);
        (full ^ (full >> 32)) as u32
    }

    fn bucket_of(&self, hash: u32) -> usize {
        hash as usize & (self.buckets.len() - 1)
    }

    /// The position of the item with `key`.
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        if self.buckets.is_empty() {
            return None;
        }
        let hash = self.hash(key);
        let mut at = self.buckets[self.bucket_of(hash)];
        while at != NIL {
            let node = &self.nodes[at as usize];
            if node.hash == hash && node.item.key() == key {
                return Some(at as usize);
            }
            at = node.next;
        }
        None
    }

    pub fn get(&self, key: &[u8]) -> Option<&T> {
        self.find(key).map(|i| &self.nodes[i].item)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut T> {
        self.find(key).map(|i| &mut self.nodes[i].item)
    }

    /// The item at a position in `0..len()` (positions change on removal).
    pub fn at(&self, index: usize) -> &T {
        &self.nodes[index].item
    }

    pub fn iter(&self) -> Items<'_, T> {
        Items(self.nodes.iter())
    }

    /// Adds an item whose key is known to be absent.
    pub fn insert_new(&mut self, item: T) {
        debug_assert!(self.find(item.key()).is_none());
        let at = u32::try_from(self.nodes.len())
            .ok()
            .filter(|&at| at != NIL)
            .expect("a collection holds fewer than 2^32 - 1 items: memory runs out first");
        if self.nodes.len() >= self.buckets.len() {
            self.rebuild(self.nodes.len() + 1);
        }
        let hash = self.hash(item.key());
        let bucket = self.bucket_of(hash);
        self.nodes.push(Node {
            item,
            hash,
            next: self.buckets[bucket],
        });
        self.buckets[bucket] = at;
    }

    /// Adds the item unless its key is present; true when added.
    pub fn insert(&mut self, item: T) -> bool {
        if self.find(item.key()).is_some() {
            return false;
        }
        self.insert_new(item);
        true
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<T> {
        let at = self.find(key)?;
        Some(self.remove_at(at))
    }

    /// Removes the item at a position; the last item takes its place.
    pub fn remove_at(&mut self, index: usize) -> T {
        self.unlink(index);
        let last = self.nodes.len() - 1;
        if index != last {
            // The last node moves to `index`: repoint whatever pointed at it.
            let moved_hash = self.nodes[last].hash;
            let bucket = self.bucket_of(moved_hash);
            let moved_to = index as u32;
            if self.buckets[bucket] == last as u32 {
                self.buckets[bucket] = moved_to;
            } else {
                let mut at = self.buckets[bucket];
                while self.nodes[at as usize].next != last as u32 {
                    at = self.nodes[at as usize].next;
                }
                self.nodes[at as usize].next = moved_to;
            }
        }
        let item = self.nodes.swap_remove(index).item;
        if self.buckets.len() > MIN_BUCKETS && self.nodes.len() * SHRINK_RATIO < self.buckets.len()
        {
            self.rebuild(self.nodes.len());
            self.nodes.shrink_to(self.nodes.len() * 2);
        }
        item
    }

    /// Takes the node at `index` out of its chain (it stays in `nodes`).
    fn unlink(&mut self, index: usize) {
        let bucket = self.bucket_of(self.nodes[index].hash);
        let next = self.nodes[index].next;
        if self.buckets[bucket] == index as u32 {
            self.buckets[bucket] = next;
            return;
        }
        let mut at = self.buckets[bucket];
        while self.nodes[at as usize].next != index as u32 {
            at = self.nodes[at as usize].next;
        }
        self.nodes[at as usize].next = next;
    }

    /// Re-chains every node into the smallest power of two of buckets that
    /// holds `room` items at one per bucket.
    fn rebuild(&mut self, room: usize) {
        let count = room.max(MIN_BUCKETS).next_power_of_two();
        self.buckets.clear();
        self.buckets.resize(count, NIL);
        self.buckets.shrink_to_fit();
        let mask = count - 1;
        for (i, node) in self.nodes.iter_mut().enumerate() {
            let bucket = node.hash as usize & mask;
            node.next = self.buckets[bucket];
            self.buckets[bucket] = i as u32;
        }
    }

    /// Redis's `dictScan` on one table: visits the items of the bucket the
    /// cursor names and returns the next cursor (0 when the scan is over).
    /// The cursor counts up in reversed bit order, so buckets already
    /// visited stay visited when the table is resized in between.
    pub fn scan_step<'a>(&'a self, cursor: u64, mut visit: impl FnMut(&'a T)) -> u64 {
        if self.buckets.is_empty() {
            return 0;
        }
        let mask = (self.buckets.len() - 1) as u64;
        let mut at = self.buckets[(cursor & mask) as usize];
        while at != NIL {
            let node = &self.nodes[at as usize];
            visit(&node.item);
            at = node.next;
        }
        let mut next = cursor | !mask;
        next = next.reverse_bits().wrapping_add(1).reverse_bits();
        next
    }
}

/// The items in position order.
pub struct Items<'a, T>(std::slice::Iter<'a, Node<T>>);

impl<T> Clone for Items<'_, T> {
    fn clone(&self) -> Self {
        Items(self.0.clone())
    }
}

impl<'a, T> Iterator for Items<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        self.0.next().map(|n| &n.item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<T> ExactSizeIterator for Items<'_, T> {}

impl<T: PartialEq> PartialEq for ScanTable<T> {
    /// Same items in the same order: a change of content always compares
    /// unequal (what the atomic commands' write-back needs), and a copy
    /// compares equal.
    fn eq(&self, other: &Self) -> bool {
        self.nodes.len() == other.nodes.len()
            && self
                .nodes
                .iter()
                .zip(&other.nodes)
                .all(|(a, b)| a.item == b.item)
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for ScanTable<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.nodes.iter().map(|n| &n.item))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn key(n: u32) -> Box<[u8]> {
        n.to_string().into_bytes().into_boxed_slice()
    }

    /// A complete scan, the table changed by `between` after each step.
    fn scan_all(
        table: &mut ScanTable<Box<[u8]>>,
        mut between: impl FnMut(&mut ScanTable<Box<[u8]>>, usize),
    ) -> BTreeSet<Box<[u8]>> {
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = table.scan_step(cursor, |k| {
                seen.insert(k.clone());
            });
            if cursor == 0 {
                return seen;
            }
            between(table, step);
            step += 1;
        }
    }

    #[test]
    fn grows_and_shrinks() {
        let mut table = ScanTable::with_capacity(0);
        for n in 0..1000 {
            assert!(table.insert(key(n)));
        }
        assert!(!table.insert(key(5)));
        assert_eq!(table.len(), 1000);
        assert_eq!(table.buckets.len(), 1024);
        for n in 0..990 {
            assert_eq!(table.remove(&key(n)), Some(key(n)));
        }
        assert_eq!(table.remove(&key(0)), None);
        assert!(table.buckets.len() <= 16);
        let left: BTreeSet<_> = table.iter().cloned().collect();
        assert_eq!(left, (990..1000).map(key).collect());
        assert_eq!(scan_all(&mut table, |_, _| {}), left);
    }

    #[test]
    fn scan_survives_growth_and_shrinking() {
        let mut table = ScanTable::with_capacity(0);
        for n in 0..100 {
            table.insert(key(n));
        }
        let before: BTreeSet<_> = table.iter().cloned().collect();
        let seen = scan_all(&mut table, |t, step| {
            if step < 20 {
                for n in 0..50 {
                    t.insert(key(1000 + step as u32 * 50 + n));
                }
            }
        });
        assert!(seen.is_superset(&before));

        let mut table = ScanTable::with_capacity(0);
        for n in 0..2000 {
            table.insert(key(n));
        }
        let kept: BTreeSet<_> = (0..2000).step_by(97).map(key).collect();
        let seen = scan_all(&mut table, |t, _| {
            let doomed: Vec<_> = t
                .iter()
                .filter(|k| !kept.contains(*k))
                .take(300)
                .cloned()
                .collect();
            for k in doomed {
                t.remove(&k);
            }
        });
        assert!(seen.is_superset(&kept));
    }

    proptest! {
        #[test]
        fn behaves_like_a_set(ops in prop::collection::vec((any::<bool>(), 0u32..300), 0..2000)) {
            let mut table = ScanTable::with_capacity(0);
            let mut model = BTreeSet::new();
            for (add, n) in ops {
                if add {
                    prop_assert_eq!(table.insert(key(n)), model.insert(key(n)));
                } else {
                    prop_assert_eq!(table.remove(&key(n)).is_some(), model.remove(&key(n)));
                }
                prop_assert_eq!(table.len(), model.len());
            }
            let items: BTreeSet<_> = table.iter().cloned().collect();
            prop_assert_eq!(&items, &model);
            for n in 0..300 {
                prop_assert_eq!(table.find(&key(n)).is_some(), model.contains(&key(n)));
            }
            prop_assert_eq!(scan_all(&mut table, |_, _| {}), model);
        }
    }
}
