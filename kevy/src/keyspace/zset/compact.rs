//! The compact form of a small sorted set (Redis's `listpack` encoding):
//! entries in one vector, sorted by (score, member).
//!
//! Lookups by member scan the vector, as Redis scans its listpack; with at
//! most `zset-max-listpack-entries` (128 by default) short members this is
//! a few cache lines and beats hashing. Scores are stored as Redis's
//! listpack stores them: a score with an integer value is kept as that
//! integer, so `-0` becomes `0`.

use std::cmp::Ordering;

use super::order_tree::cmp_keys;
use super::range::LexRange;

#[derive(Clone, Debug, Default)]
pub(super) struct Compact {
    entries: Vec<Entry>,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub score: f64,
    pub member: crate::keyspace::Key,
}

/// The score a listpack gives back: Redis stores integral scores as
/// integers (`double2ll`), which drops the sign of `-0`.
fn stored_score(score: f64) -> f64 {
    if score == 0.0 {
        0.0
    } else {
        score
    }
}

impl Compact {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn into_entries(self) -> Vec<Entry> {
        self.entries
    }

    /// From entries already in order (the caller guarantees it).
    pub fn from_sorted(entries: Vec<Entry>) -> Self {
        let entries = entries
            .into_iter()
            .map(|e| Entry {
                score: stored_score(e.score),
                member: e.member,
            })
            .collect();
        Compact { entries }
    }

    pub fn position(&self, member: &[u8]) -> Option<usize> {
        self.entries.iter().position(|e| &*e.member == member)
    }

    fn insert_position(&self, score: f64, member: &[u8]) -> usize {
        self.entries
            .partition_point(|e| cmp_keys((e.score, &e.member), (score, member)) == Ordering::Less)
    }

    /// Adds a member known to be absent.
    pub fn insert(&mut self, member: Box<[u8]>, score: f64) {
        let score = stored_score(score);
        let at = self.insert_position(score, &member);
        // Exact growth: a compact set holds at most zset-max-listpack-entries
        // members, so copying on each insert stays cheap, and a small set
        // carries no doubling slack (as a listpack reallocates per insert).
        self.entries.reserve_exact(1);
        self.entries.insert(
            at,
            Entry {
                score,
                member: member.into(),
            },
        );
    }

    /// Changes the score of the entry at `index`, keeping the order.
    pub fn set_score(&mut self, index: usize, score: f64) {
        let mut entry = self.entries.remove(index);
        entry.score = stored_score(score);
        let at = self.insert_position(entry.score, &entry.member);
        self.entries.insert(at, entry);
    }

    pub fn remove_at(&mut self, index: usize) -> Entry {
        self.entries.remove(index)
    }

    pub fn remove_range(&mut self, start: usize, end: usize) {
        self.entries.drain(start..end);
    }

    pub fn partition_point(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.entries.partition_point(|e| pred(e.score, &e.member))
    }

    /// Redis's `zzlFirstInLexRange`: the first entry, scanning from the
    /// front, at or above the minimum, if it is also at or below the
    /// maximum. Scanning (not bisecting) gives Redis's answers also when
    /// scores differ and members are out of lexicographic order.
    pub fn first_in_lex(&self, range: &LexRange) -> Option<usize> {
        if !self.lex_range_touches(range) {
            return None;
        }
        let first = self
            .entries
            .iter()
            .position(|e| range.above_min(&e.member))?;
        range
            .below_max(&self.entries[first].member)
            .then_some(first)
    }

    /// Redis's `zzlLastInLexRange`: the last entry, scanning from the back,
    /// at or below the maximum, if it is also at or above the minimum.
    pub fn last_in_lex(&self, range: &LexRange) -> Option<usize> {
        if !self.lex_range_touches(range) {
            return None;
        }
        let last = self
            .entries
            .iter()
            .rposition(|e| range.below_max(&e.member))?;
        range.above_min(&self.entries[last].member).then_some(last)
    }

    /// `zzlIsInLexRange`: the range is not empty, the last entry is at or
    /// above its minimum and the first at or below its maximum.
    fn lex_range_touches(&self, range: &LexRange) -> bool {
        match (self.entries.first(), self.entries.last()) {
            (Some(first), Some(last)) => {
                !range.is_empty() && range.above_min(&last.member) && range.below_max(&first.member)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::range::LexBound;
    use super::*;

    fn compact(pairs: &[(f64, &str)]) -> Compact {
        let mut c = Compact::default();
        for (score, member) in pairs {
            c.insert(member.as_bytes().into(), *score);
        }
        c
    }

    fn members(c: &Compact) -> Vec<&str> {
        c.entries()
            .iter()
            .map(|e| std::str::from_utf8(&e.member).unwrap_or("?"))
            .collect()
    }

    #[test]
    fn keeps_order_and_drops_negative_zero() {
        let mut c = compact(&[(2.0, "b"), (1.0, "z"), (2.0, "a"), (-0.0, "n")]);
        assert_eq!(members(&c), ["n", "z", "a", "b"]);
        assert!(c.entries()[0].score.is_sign_positive());
        let at = c.position(b"z").expect("present");
        c.set_score(at, 5.0);
        assert_eq!(members(&c), ["n", "a", "b", "z"]);
    }

    #[test]
    fn lex_starts_scan_like_redis() {
        // Mixed scores put members out of lexicographic order.
        let c = compact(&[(0.0, "c"), (1.0, "a"), (2.0, "d"), (3.0, "b")]);
        let range = LexRange {
            min: LexBound::Inclusive(b"b".to_vec()),
            max: LexBound::Max,
        };
        assert_eq!(c.first_in_lex(&range), Some(0));
        assert_eq!(c.last_in_lex(&range), Some(3));
        let none = LexRange {
            min: LexBound::Max,
            max: LexBound::Max,
        };
        assert_eq!(c.first_in_lex(&none), None);
    }
}
