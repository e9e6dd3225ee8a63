//! Score and lexicographic intervals, with Redis's membership tests
//! (`zslValueGteMin`, `zslLexValueGteMin`, ...). Commands parse them from
//! arguments; the sorted set turns them into spans of ranks.

use std::cmp::Ordering;

/// `min..max` of scores, each end inclusive unless marked exclusive (`(`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub min_exclusive: bool,
    pub max_exclusive: bool,
}

impl ScoreRange {
    pub fn above_min(&self, score: f64) -> bool {
        if self.min_exclusive {
            score > self.min
        } else {
            score >= self.min
        }
    }

    pub fn below_max(&self, score: f64) -> bool {
        if self.max_exclusive {
            score < self.max
        } else {
            score <= self.max
        }
    }
}

/// One end of a lexicographic interval: `-`, `+`, `[member` or `(member`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    Inclusive(Vec<u8>),
    Exclusive(Vec<u8>),
}

impl LexBound {
    /// Redis's `sdscmplex` of a member against this bound.
    fn cmp_member(&self, member: &[u8]) -> Ordering {
        match self {
            LexBound::Min => Ordering::Greater,
            LexBound::Max => Ordering::Less,
            LexBound::Inclusive(b) | LexBound::Exclusive(b) => member.cmp(b),
        }
    }

    /// `-` and `+` count as exclusive, as in Redis.
    fn is_exclusive(&self) -> bool {
        !matches!(self, LexBound::Inclusive(_))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    pub fn above_min(&self, member: &[u8]) -> bool {
        match self.min.cmp_member(member) {
            Ordering::Greater => true,
            Ordering::Equal => !self.min.is_exclusive(),
            Ordering::Less => false,
        }
    }

    pub fn below_max(&self, member: &[u8]) -> bool {
        match self.max.cmp_member(member) {
            Ordering::Less => true,
            Ordering::Equal => !self.max.is_exclusive(),
            Ordering::Greater => false,
        }
    }

    /// A range no member can fall in (`zslIsInLexRange`'s first test:
    /// min above max, or equal ends with one exclusive).
    pub fn is_empty(&self) -> bool {
        let order = match (&self.min, &self.max) {
            (LexBound::Min, LexBound::Min) | (LexBound::Max, LexBound::Max) => Ordering::Equal,
            (LexBound::Min, _) | (_, LexBound::Max) => Ordering::Less,
            (LexBound::Max, _) | (_, LexBound::Min) => Ordering::Greater,
            (
                LexBound::Inclusive(a) | LexBound::Exclusive(a),
                LexBound::Inclusive(b) | LexBound::Exclusive(b),
            ) => a.cmp(b),
        };
        order == Ordering::Greater
            || (order == Ordering::Equal && (self.min.is_exclusive() || self.max.is_exclusive()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(min: LexBound, max: LexBound) -> LexRange {
        LexRange { min, max }
    }

    #[test]
    fn lex_bounds_follow_sdscmplex() {
        let all = lex(LexBound::Min, LexBound::Max);
        assert!(all.above_min(b"") && all.below_max(b"\xff"));
        assert!(!all.is_empty());
        let r = lex(
            LexBound::Exclusive(b"b".to_vec()),
            LexBound::Inclusive(b"d".to_vec()),
        );
        assert!(!r.above_min(b"b") && r.above_min(b"ba"));
        assert!(r.below_max(b"d") && !r.below_max(b"da"));
        assert!(lex(LexBound::Max, LexBound::Max).is_empty());
        assert!(lex(LexBound::Min, LexBound::Min).is_empty());
        assert!(lex(LexBound::Max, LexBound::Min).is_empty());
        assert!(lex(LexBound::Inclusive(b"a".to_vec()), LexBound::Min).is_empty());
        assert!(!lex(
            LexBound::Inclusive(b"a".to_vec()),
            LexBound::Inclusive(b"a".to_vec())
        )
        .is_empty());
        assert!(lex(
            LexBound::Inclusive(b"a".to_vec()),
            LexBound::Exclusive(b"a".to_vec())
        )
        .is_empty());
        assert!(!lex(LexBound::Max, LexBound::Inclusive(b"a".to_vec())).above_min(b"zzz"));
    }

    #[test]
    fn score_bounds() {
        let r = ScoreRange {
            min: 1.0,
            max: 2.0,
            min_exclusive: true,
            max_exclusive: false,
        };
        assert!(!r.above_min(1.0) && r.above_min(1.5));
        assert!(r.below_max(2.0) && !r.below_max(2.5));
    }
}
