//! The set value type, in Redis 7.0's two encodings.
//!
//! A set whose members are all integers (canonical decimal `i64`, as
//! Redis's `string2ll` reads them) starts as an `intset` ([`IntSet`]: one
//! sorted vector, replies in ascending order). It becomes a `hashtable`
//! ([`ScanTable`] of byte strings) when a non-integer member is added or it
//! grows past `set-max-intset-entries`, and never converts back. Which
//! encoding a new set starts in follows `setTypeCreate`: an intset when its
//! first member is an integer. Commands pass the limit as [`SetLimits`].

mod intset;
#[cfg(test)]
mod tests;

use super::hash::table::{self, ScanTable};
use super::shared::Shared;
use crate::resp::num::{parse_i64, push_i64};
pub use intset::IntSet;

/// Redis caps an intset at 2^30 members whatever the configuration says.
const INTSET_HARD_MAX: usize = 1 << 30;

/// When an intset must become a hashtable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetLimits {
    /// `set-max-intset-entries`.
    pub max_intset_entries: usize,
}

impl Default for SetLimits {
    fn default() -> Self {
        SetLimits {
            max_intset_entries: 512,
        }
    }
}

/// A member as stored: intsets hold integers, hashtables bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl<'a> Member<'a> {
    /// The member's bytes, owned.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut scratch = Vec::new();
        self.as_bytes(&mut scratch).to_vec()
    }

    /// The member's bytes; integers are printed into `scratch`.
    pub fn as_bytes<'s>(&self, scratch: &'s mut Vec<u8>) -> &'s [u8]
    where
        'a: 's,
    {
        match *self {
            Member::Int(n) => {
                scratch.clear();
                push_i64(scratch, n);
                scratch
            }
            Member::Bytes(bytes) => bytes,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Repr {
    Ints(IntSet),
    /// Behind a pointer: keeps `Value` small for the many keys that are
    /// not big sets. Shared, so a snapshot's page copy does not copy the
    /// table; the first write while a frozen view holds it copies it whole.
    Table(Shared<ScanTable<Box<[u8]>>>),
}

/// A set value.
#[derive(Clone, Debug, PartialEq)]
pub struct SetValue {
    repr: Repr,
}

impl Default for SetValue {
    /// An empty intset, as Redis's `createIntsetObject`.
    fn default() -> Self {
        SetValue {
            repr: Repr::Ints(IntSet::default()),
        }
    }
}

impl SetValue {
    /// Redis's `setTypeCreate`: the encoding a new set gets for its first
    /// member.
    pub fn for_member(first: &[u8]) -> Self {
        if parse_i64(first).is_some() {
            SetValue::default()
        } else {
            SetValue {
                repr: Repr::Table(Shared::new(ScanTable::with_capacity(1))),
            }
        }
    }

    /// The encoding `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Ints(_) => "intset",
            Repr::Table(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(ints) => ints.len(),
            Repr::Table(table) => table.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(ints) => parse_i64(member).is_some_and(|n| ints.contains(n)),
            Repr::Table(table) => table.find(member).is_some(),
        }
    }

    /// Like [`SetValue::contains`] for a member of another set.
    pub fn contains_member(&self, member: Member<'_>) -> bool {
        match (member, &self.repr) {
            (Member::Int(n), Repr::Ints(ints)) => ints.contains(n),
            (Member::Bytes(bytes), _) => self.contains(bytes),
            (Member::Int(n), Repr::Table(table)) => {
                let mut digits = Vec::with_capacity(20);
                push_i64(&mut digits, n);
                table.find(&digits).is_some()
            }
        }
    }

    /// Becomes a hashtable (no-op when it is one).
    pub fn convert_to_table(&mut self) {
        let Repr::Ints(ints) = &self.repr else {
            return;
        };
        let mut table = ScanTable::with_capacity(ints.len() + 1);
        let mut digits = Vec::with_capacity(20);
        for n in ints.iter() {
            digits.clear();
            push_i64(&mut digits, n);
            table.insert_new(digits.as_slice().into());
        }
        self.repr = Repr::Table(Shared::new(table));
    }

    /// Redis's `setTypeAdd`: adds `member`, converting an intset that gets
    /// a non-integer or too many members. True when it was not a member.
    pub fn add(&mut self, member: &[u8], limits: SetLimits) -> bool {
        if let Repr::Ints(_) = self.repr {
            match parse_i64(member) {
                Some(n) => return self.add_int(n, limits),
                None => self.convert_to_table(),
            }
        }
        match &mut self.repr {
            Repr::Table(table) => table.insert(member.into()),
            Repr::Ints(_) => unreachable!("converted to a table just above"),
        }
    }

    /// [`SetValue::add`] for a member of another set.
    pub fn add_member(&mut self, member: Member<'_>, limits: SetLimits) -> bool {
        match (member, &self.repr) {
            (Member::Int(n), Repr::Ints(_)) => self.add_int(n, limits),
            (member, _) => {
                let mut scratch = Vec::new();
                self.add(member.as_bytes(&mut scratch), limits)
            }
        }
    }

    fn add_int(&mut self, n: i64, limits: SetLimits) -> bool {
        let Repr::Ints(ints) = &mut self.repr else {
            unreachable!("callers check the encoding")
        };
        if !ints.insert(n) {
            return false;
        }
        if ints.len() > limits.max_intset_entries.min(INTSET_HARD_MAX) {
            self.convert_to_table();
        }
        true
    }

    /// Removes `member`; false when it was not one.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(ints) => parse_i64(member).is_some_and(|n| ints.remove(n)),
            Repr::Table(table) => table.remove(member).is_some(),
        }
    }

    /// [`SetValue::remove`] for a member of another set.
    pub fn remove_member(&mut self, member: Member<'_>) -> bool {
        match (member, &mut self.repr) {
            (Member::Int(n), Repr::Ints(ints)) => ints.remove(n),
            (member, _) => {
                let mut scratch = Vec::new();
                self.remove(member.as_bytes(&mut scratch))
            }
        }
    }

    /// The member at a position in `0..len()`.
    pub fn member_at(&self, index: usize) -> Member<'_> {
        match &self.repr {
            Repr::Ints(ints) => Member::Int(ints.get(index)),
            Repr::Table(table) => Member::Bytes(table.at(index)),
        }
    }

    /// Removes the member at a position (positions of others may change).
    pub fn remove_at(&mut self, index: usize) {
        match &mut self.repr {
            Repr::Ints(ints) => {
                ints.remove_at(index);
            }
            Repr::Table(table) => {
                table.remove_at(index);
            }
        }
    }

    /// Members: ascending for an intset, table order for a hashtable.
    pub fn iter(&self) -> SetIter<'_> {
        match &self.repr {
            Repr::Ints(ints) => SetIter::Ints { ints, at: 0 },
            Repr::Table(table) => SetIter::Table(table.iter()),
        }
    }

    /// One `SSCAN` step: visits members from `cursor` until at least
    /// `count` were visited or the scan ends; returns the next cursor (0
    /// at the end). An intset is visited whole in one step, as in Redis.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut visit: impl FnMut(Member<'a>)) -> u64 {
        match &self.repr {
            Repr::Ints(ints) => {
                ints.iter().for_each(|n| visit(Member::Int(n)));
                0
            }
            Repr::Table(table) => {
                let mut visited = 0usize;
                let mut cursor = cursor;
                // Ten buckets per wanted member at most, as Redis bounds it.
                let mut budget = count.saturating_mul(10);
                loop {
                    cursor = table.scan_step(cursor, |m| {
                        visited += 1;
                        visit(Member::Bytes(m));
                    });
                    if cursor == 0 || budget == 0 || visited >= count {
                        return cursor;
                    }
                    budget -= 1;
                }
            }
        }
    }
}

/// Iterator over a set's members.
#[derive(Clone)]
pub enum SetIter<'a> {
    Ints { ints: &'a IntSet, at: usize },
    Table(table::Items<'a, Box<[u8]>>),
}

impl<'a> Iterator for SetIter<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        match self {
            SetIter::Ints { ints, at } => {
                if *at >= ints.len() {
                    return None;
                }
                *at += 1;
                Some(Member::Int(ints.get(*at - 1)))
            }
            SetIter::Table(members) => members.next().map(|m| Member::Bytes(m)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = match self {
            SetIter::Ints { ints, at } => ints.len() - *at,
            SetIter::Table(members) => members.len(),
        };
        (left, Some(left))
    }
}

impl ExactSizeIterator for SetIter<'_> {}
