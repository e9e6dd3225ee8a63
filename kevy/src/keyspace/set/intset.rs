//! Redis's intset: a small set of integers as one sorted vector, stored at
//! the narrowest width (16, 32 or 64 bits) that holds every member.
//!
//! Lookups are binary searches; insertion and removal shift the tail, which
//! is cheap at the sizes an intset is allowed to reach
//! (`set-max-intset-entries`). Adding a member that does not fit the
//! current width widens the whole vector once; it never narrows again, as
//! in Redis. Members come out in ascending order, which is the order Redis
//! replies in for this encoding.

use crate::keyspace::cow_bytes::CowBytes;

/// The members, ascending, in one byte vector: a width byte (0 for 16
/// bits, 1 for 32, 2 for 64), then each member little-endian at that
/// width. Empty means no members at 16 bits. One vector (rather than an
/// enum of three typed vectors) keeps a set 24 bytes inside the value.
#[derive(Clone, Debug, Default)]
pub struct IntSet {
    /// Shared with a snapshot's view once large (see `CowBytes`).
    bytes: CowBytes,
}

impl PartialEq for IntSet {
    /// Same members, whatever the width.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// Bytes one member takes at a width class.
fn member_size(width: u8) -> usize {
    2 << width
}

/// The width class a value needs: 0 for 16 bits, 1 for 32, 2 for 64.
fn width_of(value: i64) -> u8 {
    if i16::try_from(value).is_ok() {
        0
    } else if i32::try_from(value).is_ok() {
        1
    } else {
        2
    }
}

/// Decodes one member stored in `bytes` (2, 4 or 8 of them).
fn read_member(bytes: &[u8]) -> i64 {
    match *bytes {
        [a, b] => i64::from(i16::from_le_bytes([a, b])),
        [a, b, c, d] => i64::from(i32::from_le_bytes([a, b, c, d])),
        [a, b, c, d, e, f, g, h] => i64::from_le_bytes([a, b, c, d, e, f, g, h]),
        _ => unreachable!("members are 2, 4 or 8 bytes"),
    }
}

/// Appends `value` at `width` (which holds it) to `out`.
fn push_member(out: &mut Vec<u8>, value: i64, width: u8) {
    out.extend_from_slice(&value.to_le_bytes()[..member_size(width)]);
}

impl IntSet {
    fn width(&self) -> u8 {
        self.bytes.first().copied().unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        match self.bytes.len() {
            0 => 0,
            n => (n - 1) / member_size(self.width()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The member at a position in `0..len()` (ascending order).
    pub fn get(&self, index: usize) -> i64 {
        let size = member_size(self.width());
        let at = 1 + index * size;
        read_member(&self.bytes[at..at + size])
    }

    /// Binary search for `value`; one too wide for the current width is
    /// below every member or above them all.
    fn position(&self, value: i64) -> Result<usize, usize> {
        let len = self.len();
        if width_of(value) > self.width() {
            return Err(if value < 0 { 0 } else { len });
        }
        let (mut low, mut high) = (0, len);
        while low < high {
            let mid = low + (high - low) / 2;
            match self.get(mid).cmp(&value) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(low)
    }

    pub fn contains(&self, value: i64) -> bool {
        self.position(value).is_ok()
    }

    /// Adds `value`; false when it was already a member.
    pub fn insert(&mut self, value: i64) -> bool {
        let Err(at) = self.position(value) else {
            return false;
        };
        let needed = width_of(value);
        if self.bytes.is_empty() || needed > self.width() {
            // Widen (or start) once: every member rewritten at the new width.
            let width = needed.max(self.width());
            let mut wide = Vec::with_capacity(1 + (self.len() + 1) * member_size(width));
            wide.push(width);
            for member in self.iter() {
                push_member(&mut wide, member, width);
            }
            self.bytes = wide.into();
        }
        let size = member_size(self.width());
        // Exact growth, as Redis reallocates an intset per insert.
        self.bytes.reserve_exact(size);
        let offset = 1 + at * size;
        let mut encoded = Vec::with_capacity(size);
        push_member(&mut encoded, value, self.width());
        self.bytes.splice(offset..offset, encoded);
        self.bytes.settle();
        true
    }

    /// Removes `value`; false when it was not a member.
    pub fn remove(&mut self, value: i64) -> bool {
        match self.position(value) {
            Ok(at) => {
                self.remove_at(at);
                true
            }
            Err(_) => false,
        }
    }

    /// Removes and returns the member at a position.
    pub fn remove_at(&mut self, index: usize) -> i64 {
        let value = self.get(index);
        let size = member_size(self.width());
        let at = 1 + index * size;
        self.bytes.drain(at..at + size);
        value
    }

    /// Members in ascending order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = i64> + Clone + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Bytes the members take, for memory reports.
    pub fn bytes(&self) -> usize {
        self.len() * member_size(self.width())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn widens_once_and_keeps_order() {
        let mut set = IntSet::default();
        assert!(set.insert(5));
        assert!(set.insert(-3));
        assert!(!set.insert(5));
        assert_eq!(set.width(), 0);
        assert!(set.insert(70_000));
        assert_eq!(set.width(), 1);
        assert!(set.insert(i64::MIN));
        assert_eq!(set.width(), 2);
        assert!(set.remove(i64::MIN));
        assert_eq!(set.width(), 2);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![-3, 5, 70_000]);
        assert!(!set.contains(4));
        assert!(!set.remove(4));
        assert_eq!(set.bytes(), 24);
    }

    #[test]
    fn values_too_wide_for_the_vector_are_absent() {
        let mut set = IntSet::default();
        set.insert(1);
        assert!(!set.contains(i64::MAX));
        assert!(!set.contains(i64::MIN));
        assert!(!set.remove(1 << 40));
    }

    fn value() -> impl Strategy<Value = i64> {
        prop_oneof![
            -20i64..20,
            any::<i16>().prop_map(i64::from),
            any::<i32>().prop_map(i64::from),
            any::<i64>(),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_sorted_set(ops in prop::collection::vec((any::<bool>(), value()), 0..300)) {
            let mut set = IntSet::default();
            let mut model = BTreeSet::new();
            for (add, v) in ops {
                if add {
                    prop_assert_eq!(set.insert(v), model.insert(v));
                } else {
                    prop_assert_eq!(set.remove(v), model.remove(&v));
                }
                prop_assert_eq!(set.len(), model.len());
            }
            prop_assert!(set.iter().eq(model.iter().copied()));
            for v in &model {
                prop_assert!(set.contains(*v));
            }
        }
    }
}
