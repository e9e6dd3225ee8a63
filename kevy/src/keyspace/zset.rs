//! The sorted-set value: members with scores, ordered by (score, member),
//! in one of Redis's two encodings.
//!
//! - `listpack` ([`compact`]): small sets are one packed byte buffer, walked by
//!   member; Redis's listpack rules apply (integral scores lose the sign of
//!   zero, lexicographic bounds are found by scanning).
//! - `skiplist` ([`large`]): a slot vector holding each member once, a hash
//!   table from member to slot, and an order-statistic B-tree of slots.
//!   Redis uses a skiplist with spans for the order; a B-tree with subtree
//!   counts gives the same O(log n) rank, select, insert and remove, is
//!   deterministic, keeps ids packed in cache-friendly nodes instead of one
//!   allocation per level per member, and needs no raw pointers.
//!
//! A set starts compact and turns large when an insert would take it past
//! `zset-max-listpack-entries` members or bring a member longer than
//! `zset-max-listpack-value` ([`Limits`]); it never turns back, except that
//! results built whole (`ZUNIONSTORE` and friends) are made compact when
//! they fit, as Redis's `zsetConvertToListpackIfNeeded` does. Commands
//! address members by rank; the range helpers here turn score and
//! lexicographic bounds into ranks with Redis's own search rules.

mod compact;
mod large;
mod order_tree;
#[cfg(test)]
mod proptests;
mod range;

use std::cmp::Ordering;
use std::fmt;

use compact::Compact;
use large::Large;

use super::shared::Shared;
pub use range::{LexBound, LexRange, ScoreRange};

/// Redis's order of entries: by score, then by member bytes (scores are
/// never NaN; `-0` and `0` are equal).
pub fn entry_order(a: (f64, &[u8]), b: (f64, &[u8])) -> Ordering {
    order_tree::cmp_keys(a, b)
}

/// The size limits of the compact encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `zset-max-listpack-entries`.
    pub max_entries: usize,
    /// `zset-max-listpack-value`: the longest member, in bytes.
    pub max_member_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 128,
            max_member_len: 64,
        }
    }
}

/// A sorted set.
#[derive(Clone, Default)]
pub struct ZSetValue {
    form: Form,
}

#[derive(Clone)]
enum Form {
    Compact(Compact),
    // Behind a pointer: the large form's tables would otherwise make every
    // small sorted set as big as a large one's header (168 bytes). Shared,
    // so a snapshot's page copy does not copy it; the first write while a
    // frozen view holds it copies it whole.
    Large(Shared<Large>),
}

impl Default for Form {
    fn default() -> Self {
        Form::Compact(Compact::default())
    }
}

/// Entries in rank order (or reverse), as (member, score).
pub enum Entries<'a> {
    Forward(compact::Walk<'a>),
    Backward(compact::WalkBack<'a>),
    Large(Box<dyn Iterator<Item = (&'a [u8], f64)> + 'a>),
}

impl<'a> Iterator for Entries<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Entries::Forward(it) => it.next(),
            Entries::Backward(it) => it.next(),
            Entries::Large(it) => it.next(),
        }
    }
}

impl ZSetValue {
    pub fn new() -> Self {
        Self::default()
    }

    /// A set of `entries`, already in order with distinct members: compact
    /// when it fits `limits`.
    pub fn from_sorted(entries: Vec<(Box<[u8]>, f64)>, limits: Limits) -> Self {
        let fits = entries.len() <= limits.max_entries
            && entries
                .iter()
                .all(|(member, _)| member.len() <= limits.max_member_len);
        let form = if fits {
            Form::Compact(Compact::from_sorted(
                entries.iter().map(|(member, score)| (&member[..], *score)),
            ))
        } else {
            Form::Large(Shared::new(Large::from_sorted(entries)))
        };
        ZSetValue { form }
    }

    pub fn len(&self) -> usize {
        match &self.form {
            Form::Compact(c) => c.len(),
            Form::Large(l) => l.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The encoding `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match &self.form {
            Form::Compact(_) => "listpack",
            Form::Large(_) => "skiplist",
        }
    }

    pub fn is_compact(&self) -> bool {
        matches!(self.form, Form::Compact(_))
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.form {
            Form::Compact(c) => c.find(member).map(|(_, score)| score),
            Form::Large(l) => l.score(member),
        }
    }

    /// The member's rank, counting from the lowest score.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.form {
            Form::Compact(c) => c.find(member).map(|(rank, _)| rank),
            Form::Large(l) => l.rank(member),
        }
    }

    pub fn at(&self, rank: usize) -> Option<(&[u8], f64)> {
        match &self.form {
            Form::Compact(c) => c.get(rank),
            Form::Large(l) => l.at(rank),
        }
    }

    /// Entries from `rank` (which must be below the length for any to come)
    /// upwards, or downwards when `reverse`.
    pub fn iter_from(&self, rank: usize, reverse: bool) -> Entries<'_> {
        match &self.form {
            Form::Compact(c) if reverse => Entries::Backward(c.iter_back_from(rank)),
            Form::Compact(c) => Entries::Forward(c.iter_from(rank)),
            Form::Large(l) => Entries::Large(Box::new(l.iter_from(rank, reverse))),
        }
    }

    /// Every entry, lowest score first.
    pub fn iter(&self) -> Entries<'_> {
        self.iter_from(0, false)
    }

    /// Adds a member known to be absent, leaving the compact form first
    /// when the set would outgrow `limits` (Redis checks before inserting).
    pub fn insert(&mut self, member: &[u8], score: f64, limits: Limits) {
        if let Form::Compact(c) = &self.form {
            if c.len() + 1 > limits.max_entries || member.len() > limits.max_member_len {
                self.make_large();
            }
        }
        match &mut self.form {
            Form::Compact(c) => c.insert(member, score),
            Form::Large(l) => l.insert(member.into(), score),
        }
    }

    fn make_large(&mut self) {
        let Form::Compact(c) = std::mem::take(&mut self.form) else {
            return;
        };
        self.form = Form::Large(Shared::new(Large::from_sorted(
            c.iter().map(|(member, score)| (member.into(), score)),
        )));
    }

    /// Sets a present member's score; false when the member is absent.
    pub fn set_score(&mut self, member: &[u8], score: f64) -> bool {
        match &mut self.form {
            Form::Compact(c) => match c.find(member) {
                Some((i, _)) => {
                    c.set_score(i, score);
                    true
                }
                None => false,
            },
            Form::Large(l) => l.set_score(member, score),
        }
    }

    /// Removes a member; its score when it was present.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.form {
            Form::Compact(c) => c.find(member).map(|(i, _)| c.remove_at(i).1),
            Form::Large(l) => l.remove(member),
        }
    }

    /// Removes ranks `start..end` (clamped to the length).
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        match &mut self.form {
            Form::Compact(c) => c.remove_range(start, end),
            Form::Large(l) => l.remove_ranks(start, end),
        }
        end - start
    }

    /// Removes the lowest (or, with `highest`, the highest) entry.
    pub fn pop(&mut self, highest: bool) -> Option<(Box<[u8]>, f64)> {
        let rank = if highest {
            self.len().checked_sub(1)?
        } else {
            0
        };
        match &mut self.form {
            Form::Compact(c) if rank < c.len() => Some(c.remove_at(rank)),
            Form::Compact(_) => None,
            Form::Large(l) => l.remove_at(rank),
        }
    }

    /// Leading entries for which `pred` holds (it must hold for a prefix).
    fn partition_point(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match &self.form {
            Form::Compact(c) => c.partition_point(pred),
            Form::Large(l) => l.partition_point(pred),
        }
    }

    /// The rank of the lowest entry with a score in `range`.
    pub fn first_in_score_range(&self, range: &ScoreRange) -> Option<usize> {
        let first = self.partition_point(|score, _| !range.above_min(score));
        let (_, score) = self.at(first)?;
        range.below_max(score).then_some(first)
    }

    /// The rank of the highest entry with a score in `range`.
    pub fn last_in_score_range(&self, range: &ScoreRange) -> Option<usize> {
        let last = self
            .partition_point(|score, _| range.below_max(score))
            .checked_sub(1)?;
        let (_, score) = self.at(last)?;
        range.above_min(score).then_some(last)
    }

    /// The rank where a walk up through the members in `range` starts
    /// (Redis's `zslFirstInLexRange` / `zzlFirstInLexRange`).
    pub fn first_in_lex_range(&self, range: &LexRange) -> Option<usize> {
        match &self.form {
            Form::Compact(c) => c.first_in_lex(range),
            Form::Large(_) => {
                if range.is_empty() {
                    return None;
                }
                let first = self.partition_point(|_, member| !range.above_min(member));
                let (member, _) = self.at(first)?;
                range.below_max(member).then_some(first)
            }
        }
    }

    /// The rank where a walk down through the members in `range` starts.
    pub fn last_in_lex_range(&self, range: &LexRange) -> Option<usize> {
        match &self.form {
            Form::Compact(c) => c.last_in_lex(range),
            Form::Large(_) => {
                if range.is_empty() {
                    return None;
                }
                let last = self
                    .partition_point(|_, member| range.below_max(member))
                    .checked_sub(1)?;
                let (member, _) = self.at(last)?;
                range.above_min(member).then_some(last)
            }
        }
    }

    /// One `ZSCAN` step. The compact form returns everything at once (the
    /// cursor is ignored, the next one is 0), as Redis does for listpacks.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], f64)) -> u64 {
        match &self.form {
            Form::Compact(c) => {
                for (member, score) in c.iter() {
                    visit(member, score);
                }
                0
            }
            Form::Large(l) => l.scan(cursor, count, visit),
        }
    }

    #[cfg(test)]
    fn check(&self) {
        if let Form::Large(l) = &self.form {
            l.check();
        }
    }
}

impl PartialEq for ZSetValue {
    /// Same encoding and the same entries (scores compared bit for bit, so
    /// `-0` and `0` differ as they do in replies).
    fn eq(&self, other: &Self) -> bool {
        self.encoding() == other.encoding()
            && self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((m1, s1), (m2, s2))| m1 == m2 && s1.to_bits() == s2.to_bits())
    }
}

impl fmt::Debug for ZSetValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ZSetValue({}) ", self.encoding())?;
        f.debug_list()
            .entries(
                self.iter()
                    .map(|(member, score)| (String::from_utf8_lossy(member), score)),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits {
        max_entries: 4,
        max_member_len: 8,
    };

    fn members(z: &ZSetValue) -> Vec<String> {
        z.iter()
            .map(|(m, _)| String::from_utf8_lossy(m).into_owned())
            .collect()
    }

    #[test]
    fn converts_past_the_limits_and_stays_large() {
        let mut z = ZSetValue::new();
        for (i, m) in ["a", "b", "c", "d"].iter().enumerate() {
            z.insert(m.as_bytes(), i as f64, SMALL);
        }
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"e", 9.0, SMALL);
        assert_eq!(z.encoding(), "skiplist");
        z.remove(b"e");
        z.remove(b"d");
        assert_eq!(z.encoding(), "skiplist");
        let mut long = ZSetValue::new();
        long.insert(b"123456789", 1.0, SMALL);
        assert_eq!(long.encoding(), "skiplist");
        let mut none = ZSetValue::new();
        none.insert(
            b"a",
            1.0,
            Limits {
                max_entries: 0,
                max_member_len: 64,
            },
        );
        assert_eq!(none.encoding(), "skiplist");
        z.check();
    }

    #[test]
    fn stored_results_are_compact_when_they_fit() {
        let entries: Vec<(Box<[u8]>, f64)> =
            (0..4u8).map(|i| (vec![b'a' + i].into(), 1.0)).collect();
        assert_eq!(
            ZSetValue::from_sorted(entries.clone(), SMALL).encoding(),
            "listpack"
        );
        let mut more = entries;
        more.push((b"z".to_vec().into(), 2.0));
        let z = ZSetValue::from_sorted(more, SMALL);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(members(&z), ["a", "b", "c", "d", "z"]);
    }

    #[test]
    fn negative_zero_survives_only_in_the_large_form() {
        let mut small = ZSetValue::new();
        small.insert(b"a", -0.0, SMALL);
        assert!(small.score(b"a").is_some_and(f64::is_sign_positive));
        let mut large = ZSetValue::new();
        large.insert(
            b"a",
            -0.0,
            Limits {
                max_entries: 0,
                max_member_len: 0,
            },
        );
        assert!(large.score(b"a").is_some_and(f64::is_sign_negative));
    }

    #[test]
    fn score_and_lex_bounds_in_both_forms() {
        for limits in [
            Limits::default(),
            Limits {
                max_entries: 0,
                max_member_len: 0,
            },
        ] {
            let mut z = ZSetValue::new();
            for (score, m) in [(1.0, "a"), (2.0, "b"), (2.0, "c"), (3.0, "d")] {
                z.insert(m.as_bytes(), score, limits);
            }
            let r = |min, max, min_exclusive, max_exclusive| ScoreRange {
                min,
                max,
                min_exclusive,
                max_exclusive,
            };
            assert_eq!(z.first_in_score_range(&r(2.0, 2.0, false, false)), Some(1));
            assert_eq!(z.last_in_score_range(&r(2.0, 2.0, false, false)), Some(2));
            assert_eq!(z.first_in_score_range(&r(2.0, 2.0, true, false)), None);
            assert_eq!(z.first_in_score_range(&r(3.5, 9.0, false, false)), None);
            assert_eq!(z.last_in_score_range(&r(-9.0, 0.5, false, false)), None);
            let lex = LexRange {
                min: LexBound::Exclusive(b"a".to_vec()),
                max: LexBound::Inclusive(b"c".to_vec()),
            };
            assert_eq!(z.first_in_lex_range(&lex), Some(1));
            assert_eq!(z.last_in_lex_range(&lex), Some(2));
            let rev: Vec<f64> = z.iter_from(2, true).map(|(_, s)| s).collect();
            assert_eq!(rev, [2.0, 2.0, 1.0]);
            assert_eq!(z.remove_ranks(1, 3), 2);
            assert_eq!(members(&z), ["a", "d"]);
            assert_eq!(z.pop(true).map(|(m, _)| m), Some(b"d".to_vec().into()));
        }
    }
}
