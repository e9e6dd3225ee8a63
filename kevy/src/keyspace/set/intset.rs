//! Redis's intset: a small set of integers as one sorted vector, stored at
//! the narrowest width (16, 32 or 64 bits) that holds every member.
//!
//! Lookups are binary searches; insertion and removal shift the tail, which
//! is cheap at the sizes an intset is allowed to reach
//! (`set-max-intset-entries`). Adding a member that does not fit the
//! current width widens the whole vector once; it never narrows again, as
//! in Redis. Members come out in ascending order, which is the order Redis
//! replies in for this encoding.

#[derive(Clone, Debug)]
pub enum IntSet {
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet::I16(Vec::new())
    }
}

impl PartialEq for IntSet {
    /// Same members, whatever the width.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// Binary search for `value` in a vector of a width it may not fit.
fn search<T: Copy + Ord + TryFrom<i64>>(items: &[T], value: i64) -> Result<usize, usize> {
    match T::try_from(value) {
        Ok(v) => items.binary_search(&v),
        // Too wide for this vector: below every member or above them all.
        Err(_) if value < 0 => Err(0),
        Err(_) => Err(items.len()),
    }
}

/// The same members in a wider vector.
fn widen<T: Copy, U: From<T>>(items: &[T]) -> Vec<U> {
    let mut wide = Vec::with_capacity(items.len() + 1);
    wide.extend(items.iter().map(|&v| U::from(v)));
    wide
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

impl IntSet {
    pub fn len(&self) -> usize {
        match self {
            IntSet::I16(v) => v.len(),
            IntSet::I32(v) => v.len(),
            IntSet::I64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The member at a position in `0..len()` (ascending order).
    pub fn get(&self, index: usize) -> i64 {
        match self {
            IntSet::I16(v) => i64::from(v[index]),
            IntSet::I32(v) => i64::from(v[index]),
            IntSet::I64(v) => v[index],
        }
    }

    fn position(&self, value: i64) -> Result<usize, usize> {
        match self {
            IntSet::I16(v) => search(v, value),
            IntSet::I32(v) => search(v, value),
            IntSet::I64(v) => search(v, value),
        }
    }

    pub fn contains(&self, value: i64) -> bool {
        self.position(value).is_ok()
    }

    fn width(&self) -> u8 {
        match self {
            IntSet::I16(_) => 0,
            IntSet::I32(_) => 1,
            IntSet::I64(_) => 2,
        }
    }

    /// Adds `value`; false when it was already a member.
    pub fn insert(&mut self, value: i64) -> bool {
        let Err(at) = self.position(value) else {
            return false;
        };
        if width_of(value) > self.width() {
            *self = match (&*self, width_of(value)) {
                (IntSet::I16(v), 1) => IntSet::I32(widen(v)),
                (IntSet::I16(v), _) => IntSet::I64(widen(v)),
                (IntSet::I32(v), _) => IntSet::I64(widen(v)),
                (IntSet::I64(_), _) => unreachable!("64 bits hold every value"),
            };
        }
        // Every narrowing below fits: the width was just made wide enough.
        match self {
            IntSet::I16(v) => v.insert(at, value as i16),
            IntSet::I32(v) => v.insert(at, value as i32),
            IntSet::I64(v) => v.insert(at, value),
        }
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
        match self {
            IntSet::I16(v) => i64::from(v.remove(index)),
            IntSet::I32(v) => i64::from(v.remove(index)),
            IntSet::I64(v) => v.remove(index),
        }
    }

    /// Members in ascending order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = i64> + Clone + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Bytes the members take, for memory reports.
    pub fn bytes(&self) -> usize {
        self.len() * (2 << self.width())
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
        assert!(matches!(set, IntSet::I16(_)));
        assert!(set.insert(70_000));
        assert!(matches!(set, IntSet::I32(_)));
        assert!(set.insert(i64::MIN));
        assert!(matches!(set, IntSet::I64(_)));
        assert!(set.remove(i64::MIN));
        assert!(matches!(set, IntSet::I64(_)));
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
