//! The compact form of a small sorted set (Redis's `listpack` encoding):
//! entries packed back to back in one byte buffer, sorted by (score,
//! member).
//!
//! An entry is `member length (LEB128) | member bytes | score`, the score a
//! tag byte then its value: tag `1..=8` is an integer of that many bytes
//! (little-endian, sign-extended), tag 0 an `f64` of 8 bytes. As Redis's
//! listpack does, a score with an integer value is kept as that integer,
//! so `-0` becomes `0`, and a small integer score takes two bytes.
//!
//! Why packed: one allocation per set instead of a vector of (score, key)
//! structs (32 bytes per entry whatever the member); a 10-member set of
//! short members now costs about its bytes, as a listpack does. Lookups
//! walk the buffer, as Redis walks its listpack; with at most
//! `zset-max-listpack-entries` (128 by default) short members that is a
//! few cache lines. The buffer grows exactly (no doubling slack), as a
//! listpack reallocates per insert; the allocator resizes in place within
//! its size class.

use crate::keyspace::cow_bytes::CowBytes;
use std::cmp::Ordering;
use std::ops::Range;

use super::order_tree::cmp_keys;
use super::range::LexRange;

/// Tag of a score stored as an 8-byte float.
const FLOAT_TAG: u8 = 0;

/// The packed entries. There is no count: counting walks the buffer
/// (at most `zset-max-listpack-entries` entries, and every insert walks it
/// anyway), which keeps the whole set 24 bytes inside the value.
#[derive(Clone, Debug, Default)]
pub(super) struct Compact {
    /// Shared with a snapshot's view once large (see `CowBytes`).
    buf: CowBytes,
}

/// Bytes `n` takes in LEB128.
fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// The integer a score is stored as, when it has an integer value that an
/// `i64` holds exactly (Redis's `double2ll`).
fn integral(score: f64) -> Option<i64> {
    // 2^63 is the first float past i64::MAX; every float below it with no
    // fraction converts exactly.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (score.fract() == 0.0 && (-LIMIT..LIMIT).contains(&score)).then_some(score as i64)
}

/// Bytes the smallest two's-complement form of `n` takes (1..=8).
fn int_width(n: i64) -> usize {
    let significant = if n < 0 {
        64 - n.leading_ones()
    } else {
        64 - n.leading_zeros()
    };
    // One more bit for the sign, rounded up to whole bytes.
    (significant as usize / 8 + 1).min(8)
}

/// Appends the encoded entry for (`member`, `score`) to `out`.
fn encode(out: &mut Vec<u8>, member: &[u8], score: f64) {
    let mut n = member.len();
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(low);
            break;
        }
        out.push(low | 0x80);
    }
    out.extend_from_slice(member);
    match integral(score) {
        Some(i) => {
            let width = int_width(i);
            out.push(width as u8);
            out.extend_from_slice(&i.to_le_bytes()[..width]);
        }
        None => {
            out.push(FLOAT_TAG);
            out.extend_from_slice(&score.to_le_bytes());
        }
    }
}

/// Bytes the entry for a member of `member_len` bytes and `score` takes.
fn encoded_len(member_len: usize, score: f64) -> usize {
    let score_len = match integral(score) {
        Some(i) => int_width(i),
        None => 8,
    };
    varint_len(member_len) + member_len + 1 + score_len
}

/// Decodes the entry at `buf[off..]`: (member range, score, next offset).
fn decode(buf: &[u8], off: usize) -> (Range<usize>, f64, usize) {
    let (mut len, mut shift, mut at) = (0usize, 0u32, off);
    loop {
        let byte = buf[at];
        at += 1;
        len |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let member = at..at + len;
    let tag = buf[member.end];
    let value = member.end + 1;
    if tag == FLOAT_TAG {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&buf[value..value + 8]);
        (member, f64::from_le_bytes(bytes), value + 8)
    } else {
        let width = usize::from(tag);
        let mut bytes = [0u8; 8];
        bytes[..width].copy_from_slice(&buf[value..value + width]);
        // Sign-extend from the top bit of the last stored byte.
        if width < 8 && bytes[width - 1] & 0x80 != 0 {
            bytes[width..].fill(0xff);
        }
        (member, i64::from_le_bytes(bytes) as f64, value + width)
    }
}

/// Entries from some offset on, lowest first.
#[derive(Clone)]
pub struct Walk<'a> {
    buf: &'a [u8],
    off: usize,
}

impl<'a> Iterator for Walk<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.off >= self.buf.len() {
            return None;
        }
        let (member, score, next) = decode(self.buf, self.off);
        self.off = next;
        Some((&self.buf[member], score))
    }
}

/// Entries from some rank down to the first. The buffer can only be walked
/// forwards, so the entries' offsets are gathered first (at most
/// `zset-max-listpack-entries` of them).
pub struct WalkBack<'a> {
    buf: &'a [u8],
    offsets: Vec<usize>,
}

impl<'a> Iterator for WalkBack<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        let off = self.offsets.pop()?;
        let (member, score, _) = decode(self.buf, off);
        Some((&self.buf[member], score))
    }
}

impl Compact {
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Bytes of packed entries.
    #[cfg(test)]
    pub fn packed_bytes(&self) -> usize {
        self.buf.len()
    }

    /// From (member, score) pairs already in order (the caller guarantees
    /// it).
    pub fn from_sorted<'m>(entries: impl IntoIterator<Item = (&'m [u8], f64)>) -> Self {
        let mut compact = Compact::default();
        for (member, score) in entries {
            encode(&mut compact.buf, member, score);
        }
        compact.buf.shrink_to_fit();
        compact
    }

    /// Every entry, lowest first.
    pub fn iter(&self) -> Walk<'_> {
        Walk {
            buf: &self.buf,
            off: 0,
        }
    }

    /// Entries from `rank` upwards.
    pub fn iter_from(&self, rank: usize) -> Walk<'_> {
        Walk {
            buf: &self.buf,
            off: self.offset_of(rank),
        }
    }

    /// Entries from `rank` (clamped to the last) down to the first.
    pub fn iter_back_from(&self, rank: usize) -> WalkBack<'_> {
        let mut offsets = Vec::new();
        let mut off = 0;
        while off < self.buf.len() && offsets.len() <= rank {
            offsets.push(off);
            off = decode(&self.buf, off).2;
        }
        WalkBack {
            buf: &self.buf,
            offsets,
        }
    }

    /// Offset of the entry at `rank` (the end offset when `rank >= len`).
    fn offset_of(&self, rank: usize) -> usize {
        let mut off = 0;
        for _ in 0..rank {
            if off >= self.buf.len() {
                break;
            }
            off = decode(&self.buf, off).2;
        }
        off
    }

    /// The entry at `rank`.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        self.iter_from(rank).next()
    }

    /// The rank and score of `member`.
    pub fn find(&self, member: &[u8]) -> Option<(usize, f64)> {
        self.iter()
            .enumerate()
            .find(|(_, (m, _))| *m == member)
            .map(|(rank, (_, score))| (rank, score))
    }

    /// Adds a member known to be absent.
    pub fn insert(&mut self, member: &[u8], score: f64) {
        let mut off = 0;
        while off < self.buf.len() {
            let (m, s, next) = decode(&self.buf, off);
            if cmp_keys((s, &self.buf[m]), (score, member)) != Ordering::Less {
                break;
            }
            off = next;
        }
        let size = encoded_len(member.len(), score);
        // Exact growth: no doubling slack in a small set.
        self.buf.reserve_exact(size);
        let mut entry = Vec::with_capacity(size);
        encode(&mut entry, member, score);
        debug_assert_eq!(entry.len(), size);
        self.buf.splice(off..off, entry);
        self.buf.settle();
    }

    /// Changes the score of the entry at `rank`, keeping the order.
    pub fn set_score(&mut self, rank: usize, score: f64) {
        let (member, _) = self.remove_at(rank);
        self.insert(&member, score);
    }

    /// Removes the entry at `rank` (which must be below the length).
    pub fn remove_at(&mut self, rank: usize) -> (Box<[u8]>, f64) {
        let off = self.offset_of(rank);
        let (member, score, next) = decode(&self.buf, off);
        let member: Box<[u8]> = self.buf[member].into();
        self.buf.drain(off..next);
        self.release_slack();
        (member, score)
    }

    /// Removes ranks `start..end` (in range).
    pub fn remove_range(&mut self, start: usize, end: usize) {
        let from = self.offset_of(start);
        let mut to = from;
        for _ in start..end {
            to = decode(&self.buf, to).2;
        }
        self.buf.drain(from..to);
        self.release_slack();
    }

    /// Gives memory back once the set has shrunk to under half its buffer,
    /// as a listpack is reallocated smaller on deletes.
    fn release_slack(&mut self) {
        if self.buf.capacity() > 2 * self.buf.len() + 16 {
            self.buf.shrink_to_fit();
            self.buf.settle();
        }
    }

    pub fn partition_point(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.iter()
            .position(|(member, score)| !pred(score, member))
            .unwrap_or_else(|| self.len())
    }

    /// Redis's `zzlFirstInLexRange`: the first entry, scanning from the
    /// front, at or above the minimum, if it is also at or below the
    /// maximum. Scanning (not bisecting) gives Redis's answers also when
    /// scores differ and members are out of lexicographic order.
    pub fn first_in_lex(&self, range: &LexRange) -> Option<usize> {
        if !self.lex_range_touches(range) {
            return None;
        }
        let (first, (member, _)) = self
            .iter()
            .enumerate()
            .find(|(_, (member, _))| range.above_min(member))?;
        range.below_max(member).then_some(first)
    }

    /// Redis's `zzlLastInLexRange`: the last entry, scanning from the back,
    /// at or below the maximum, if it is also at or above the minimum.
    pub fn last_in_lex(&self, range: &LexRange) -> Option<usize> {
        if !self.lex_range_touches(range) {
            return None;
        }
        let mut last = None;
        for (rank, (member, _)) in self.iter().enumerate() {
            if range.below_max(member) {
                last = Some((rank, member));
            }
        }
        let (rank, member) = last?;
        range.above_min(member).then_some(rank)
    }

    /// `zzlIsInLexRange`: the range is not empty, the last entry is at or
    /// above its minimum and the first at or below its maximum.
    fn lex_range_touches(&self, range: &LexRange) -> bool {
        match (self.get(0), self.iter().last()) {
            (Some((first, _)), Some((last, _))) => {
                !range.is_empty() && range.above_min(last) && range.below_max(first)
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
            c.insert(member.as_bytes(), *score);
        }
        c
    }

    fn members(c: &Compact) -> Vec<&str> {
        c.iter()
            .map(|(m, _)| std::str::from_utf8(m).unwrap_or("?"))
            .collect()
    }

    #[test]
    fn keeps_order_and_drops_negative_zero() {
        let mut c = compact(&[(2.0, "b"), (1.0, "z"), (2.0, "a"), (-0.0, "n")]);
        assert_eq!(members(&c), ["n", "z", "a", "b"]);
        assert!(c.get(0).is_some_and(|(_, s)| s.is_sign_positive()));
        let (at, _) = c.find(b"z").expect("present");
        c.set_score(at, 5.0);
        assert_eq!(members(&c), ["n", "a", "b", "z"]);
        let back: Vec<&[u8]> = c.iter_back_from(2).map(|(m, _)| m).collect();
        assert_eq!(back, [&b"b"[..], b"a", b"n"]);
    }

    #[test]
    fn scores_round_trip_through_every_width() {
        let scores = [
            0.0,
            -1.0,
            127.0,
            128.0,
            -129.0,
            65_536.5,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -9_223_372_036_854_775_808.0,
            9_223_372_036_854_775_808.0,
            4_503_599_627_370_497.0,
            f64::MIN_POSITIVE,
        ];
        for score in scores {
            let mut out = Vec::new();
            encode(&mut out, b"member", score);
            assert_eq!(out.len(), encoded_len(6, score), "{score}");
            let (member, decoded, next) = decode(&out, 0);
            assert_eq!(&out[member], b"member");
            assert_eq!(decoded.to_bits(), score.to_bits(), "{score}");
            assert_eq!(next, out.len());
        }
    }

    #[test]
    fn small_sets_cost_about_their_bytes() {
        let c = compact(&[(1.0, "m0:123456"), (2.0, "m1:123456")]);
        // Length byte, member, score tag and one score byte per entry.
        assert_eq!(c.packed_bytes(), 2 * (1 + 9 + 2));
        let long = vec![b'x'; 300];
        let mut c = Compact::default();
        c.insert(&long, 0.5);
        assert_eq!(c.get(0), Some((&long[..], 0.5)));
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
