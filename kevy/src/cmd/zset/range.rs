//! Ranges of a sorted set: `ZRANGE` (by rank, `BYSCORE`, `BYLEX`, `REV`,
//! `LIMIT`, `WITHSCORES`) and its older forms, `ZRANGESTORE`, `ZCOUNT`,
//! `ZLEXCOUNT` and the `ZREMRANGEBY*` removals.
//!
//! Every form is Redis's `zrangeGenericCommand`: options are read first,
//! then the bounds, then the key. A score or member range becomes a start
//! rank (the first or last member in range, found as Redis finds it) and a
//! walk from there that skips `offset` members and stops at `count` or at
//! the first member out of range, exactly as Redis walks its lists.

use super::score::parse_bound;
use super::{limits, option_is, reply_list, ZLookup};
use crate::cmd::{errors, ExecCtx};
use crate::cmd::{lookup_read, lookup_write};
use crate::keyspace::zset::{LexBound, LexRange, ScoreRange, ZSetValue};
use crate::keyspace::Value;
use crate::resp::num::parse_i64;
use crate::resp::Argv;

const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";
const LIMIT_NEEDS_RANGE: &str =
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
const WITHSCORES_BYLEX: &str =
    "ERR syntax error, WITHSCORES not supported in combination with BYLEX";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// ZRANGE and ZRANGESTORE, until an option says otherwise: by rank.
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Auto,
    Forward,
    Reverse,
}

pub(super) enum Bounds {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// A parsed range request.
pub(super) struct Request {
    bounds: Bounds,
    reverse: bool,
    withscores: bool,
    offset: i64,
    /// Negative: no limit.
    limit: i64,
}

/// `zslParseRange`.
pub(super) fn parse_score_range(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
    let (min, min_exclusive) = parse_bound(min)?;
    let (max, max_exclusive) = parse_bound(max)?;
    Some(ScoreRange {
        min,
        max,
        min_exclusive,
        max_exclusive,
    })
}

/// `zslParseLexRangeItem`: `-`, `+`, `[member` or `(member`.
fn parse_lex_bound(arg: &[u8]) -> Option<LexBound> {
    // `+` and `-` stand alone (C compares the next byte with NUL).
    let alone = arg.get(1).is_none_or(|&b| b == 0);
    match arg.first()? {
        b'+' if alone => Some(LexBound::Max),
        b'-' if alone => Some(LexBound::Min),
        b'(' => Some(LexBound::Exclusive(arg[1..].to_vec())),
        b'[' => Some(LexBound::Inclusive(arg[1..].to_vec())),
        _ => None,
    }
}

pub(super) fn parse_lex_range(min: &[u8], max: &[u8]) -> Option<LexRange> {
    Some(LexRange {
        min: parse_lex_bound(min)?,
        max: parse_lex_bound(max)?,
    })
}

/// Reads `<min> <max> [options]` with the source key at `src`.
fn parse_request(
    argv: Argv,
    src: usize,
    store: bool,
    mut kind: Kind,
    mut direction: Direction,
) -> Result<Request, &'static str> {
    let (mut withscores, mut offset, mut limit) = (false, 0, -1);
    let mut at = src + 3;
    while at < argv.len() {
        let arg = argv.get(at);
        let left = argv.len() - at - 1;
        if !store && option_is(arg, "withscores") {
            withscores = true;
        } else if option_is(arg, "limit") && left >= 2 {
            offset = parse_i64(argv.get(at + 1)).ok_or(errors::NOT_INTEGER)?;
            limit = parse_i64(argv.get(at + 2)).ok_or(errors::NOT_INTEGER)?;
            at += 2;
        } else if direction == Direction::Auto && option_is(arg, "rev") {
            direction = Direction::Reverse;
        } else if kind == Kind::Auto && option_is(arg, "bylex") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && option_is(arg, "byscore") {
            kind = Kind::Score;
        } else {
            return Err(errors::SYNTAX);
        }
        at += 1;
    }
    let reverse = direction == Direction::Reverse;
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    if limit != -1 && kind == Kind::Rank {
        return Err(LIMIT_NEEDS_RANGE);
    }
    if withscores && kind == Kind::Lex {
        return Err(WITHSCORES_BYLEX);
    }
    let (mut min, mut max) = (argv.get(src + 1), argv.get(src + 2));
    if reverse && kind != Kind::Rank {
        // Given as <max> <min>.
        std::mem::swap(&mut min, &mut max);
    }
    let bounds = match kind {
        Kind::Score => Bounds::Score(parse_score_range(min, max).ok_or(NOT_FLOAT_RANGE)?),
        Kind::Lex => Bounds::Lex(parse_lex_range(min, max).ok_or(NOT_LEX_RANGE)?),
        _ => Bounds::Rank(
            parse_i64(min).ok_or(errors::NOT_INTEGER)?,
            parse_i64(max).ok_or(errors::NOT_INTEGER)?,
        ),
    };
    Ok(Request {
        bounds,
        reverse,
        withscores,
        offset,
        limit,
    })
}

/// Redis's index clamping: `(first, last)` ranks, inclusive, when the
/// range holds anything.
fn clamp_ranks(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let start = if start < 0 { start + len } else { start }.max(0);
    let end = if end < 0 { end + len } else { end };
    if start > end || start >= len {
        return None;
    }
    let end = end.min(len - 1);
    Some((start as usize, end as usize))
}

/// The entries a request selects, in reply order.
fn select<'z>(zset: &'z ZSetValue, request: &Request) -> Vec<(&'z [u8], f64)> {
    let reverse = request.reverse;
    let len = zset.len();
    let start = match &request.bounds {
        Bounds::Rank(start, end) => {
            let Some((first, last)) = clamp_ranks(*start, *end, len) else {
                return Vec::new();
            };
            let from = if reverse { len - 1 - first } else { first };
            return zset
                .iter_from(from, reverse)
                .take(last - first + 1)
                .collect();
        }
        Bounds::Score(range) => {
            if request.offset > 0 && request.offset as u64 >= len as u64 {
                return Vec::new();
            }
            if reverse {
                zset.last_in_score_range(range)
            } else {
                zset.first_in_score_range(range)
            }
        }
        Bounds::Lex(range) => {
            if reverse {
                zset.last_in_lex_range(range)
            } else {
                zset.first_in_lex_range(range)
            }
        }
    };
    // A negative offset walks past the end, as in Redis.
    let (Some(start), Ok(offset)) = (start, usize::try_from(request.offset)) else {
        return Vec::new();
    };
    let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
    let in_range = |member: &[u8], score: f64| match &request.bounds {
        Bounds::Score(r) if reverse => r.above_min(score),
        Bounds::Score(r) => r.below_max(score),
        Bounds::Lex(r) if reverse => r.above_min(member),
        Bounds::Lex(r) => r.below_max(member),
        Bounds::Rank(..) => true,
    };
    zset.iter_from(start, reverse)
        .skip(offset)
        .take(limit)
        .take_while(|&(member, score)| in_range(member, score))
        .collect()
}

fn range_generic(ctx: &mut ExecCtx, argv: Argv, kind: Kind, direction: Direction) {
    let request = match parse_request(argv, 1, false, kind, direction) {
        Ok(request) => request,
        Err(e) => return ctx.reply.error(e),
    };
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        ZLookup::Absent => ctx.reply.array(0),
        ZLookup::WrongType => ctx.reply.error(errors::WRONGTYPE),
        ZLookup::Found(z) => {
            let items = select(z, &request);
            reply_list(&mut ctx.reply, &items, request.withscores);
        }
    }
}

pub(super) fn zrange(ctx: &mut ExecCtx, argv: Argv) {
    range_generic(ctx, argv, Kind::Auto, Direction::Auto);
}

pub(super) fn zrevrange(ctx: &mut ExecCtx, argv: Argv) {
    range_generic(ctx, argv, Kind::Rank, Direction::Reverse);
}

pub(super) fn zrangebyscore(ctx: &mut ExecCtx, argv: Argv) {
    range_generic(ctx, argv, Kind::Score, Direction::Forward);
}

pub(super) fn zrevrangebyscore(ctx: &mut ExecCtx, argv: Argv) {
    range_generic(ctx, argv, Kind::Score, Direction::Reverse);
}

pub(super) fn zrangebylex(ctx: &mut ExecCtx, argv: Argv) {
    range_generic(ctx, argv, Kind::Lex, Direction::Forward);
}

pub(super) fn zrevrangebylex(ctx: &mut ExecCtx, argv: Argv) {
    range_generic(ctx, argv, Kind::Lex, Direction::Reverse);
}

/// `ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]`.
pub(super) fn zrangestore(ctx: &mut ExecCtx, argv: Argv) {
    let request = match parse_request(argv, 2, true, Kind::Auto, Direction::Auto) {
        Ok(request) => request,
        Err(e) => return ctx.reply.error(e),
    };
    let limits = limits(ctx.config);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let mut entries: Vec<(Box<[u8]>, f64)> =
        match lookup_read(db, ctx.stats, argv.get(2), now, clock) {
            ZLookup::Absent => Vec::new(),
            ZLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
            ZLookup::Found(z) => select(z, &request)
                .into_iter()
                .map(|(member, score)| (member.into(), score))
                .collect(),
        };
    let dst = argv.get(1);
    if entries.is_empty() {
        db.delete(dst, now);
        return ctx.reply.int(0);
    }
    if request.reverse {
        entries.reverse();
    }
    let count = entries.len();
    db.set(
        dst,
        Value::ZSet(ZSetValue::from_sorted(entries, limits)),
        false,
        clock,
    );
    ctx.reply.int(count as i64);
}

pub(super) fn zcount(ctx: &mut ExecCtx, argv: Argv) {
    let Some(range) = parse_score_range(argv.get(2), argv.get(3)) else {
        return ctx.reply.error(NOT_FLOAT_RANGE);
    };
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        ZLookup::Absent => ctx.reply.int(0),
        ZLookup::WrongType => ctx.reply.error(errors::WRONGTYPE),
        ZLookup::Found(z) => {
            let count = match (
                z.first_in_score_range(&range),
                z.last_in_score_range(&range),
            ) {
                (Some(first), Some(last)) if last >= first => last - first + 1,
                _ => 0,
            };
            ctx.reply.int(count as i64);
        }
    }
}

/// Members from the first in `range` upwards while at or below its
/// maximum: `(first rank, count)`.
fn lex_walk(zset: &ZSetValue, range: &LexRange) -> (usize, usize) {
    let Some(first) = zset.first_in_lex_range(range) else {
        return (0, 0);
    };
    let count = zset
        .iter_from(first, false)
        .take_while(|(member, _)| range.below_max(member))
        .count();
    (first, count)
}

pub(super) fn zlexcount(ctx: &mut ExecCtx, argv: Argv) {
    let Some(range) = parse_lex_range(argv.get(2), argv.get(3)) else {
        return ctx.reply.error(NOT_LEX_RANGE);
    };
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        ZLookup::Absent => ctx.reply.int(0),
        ZLookup::WrongType => ctx.reply.error(errors::WRONGTYPE),
        ZLookup::Found(z) if z.is_compact() => ctx.reply.int(lex_walk(z, &range).1 as i64),
        ZLookup::Found(z) => {
            // The skiplist form counts by the ranks of both ends.
            let count = match (z.first_in_lex_range(&range), z.last_in_lex_range(&range)) {
                (Some(first), Some(last)) => (last + 1).saturating_sub(first),
                (Some(first), None) => z.len() - first,
                _ => 0,
            };
            ctx.reply.int(count as i64);
        }
    }
}

/// The ranks a `ZREMRANGEBY*` removes: `(start, count)`.
fn removal_span(zset: &ZSetValue, bounds: &Bounds) -> (usize, usize) {
    match bounds {
        Bounds::Rank(start, end) => match clamp_ranks(*start, *end, zset.len()) {
            Some((first, last)) => (first, last - first + 1),
            None => (0, 0),
        },
        Bounds::Score(range) => match zset.first_in_score_range(range) {
            Some(first) => {
                let count = zset
                    .iter_from(first, false)
                    .take_while(|&(_, score)| range.below_max(score))
                    .count();
                (first, count)
            }
            None => (0, 0),
        },
        Bounds::Lex(range) => lex_walk(zset, range),
    }
}

fn remove_range_generic(ctx: &mut ExecCtx, argv: Argv, bounds: Option<Bounds>, error: &str) {
    let Some(bounds) = bounds else {
        return ctx.reply.error(error);
    };
    let key = argv.get(1);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let zset = match lookup_write(db, key, now, clock) {
        ZLookup::Absent => return ctx.reply.int(0),
        ZLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        ZLookup::Found(z) => z,
    };
    let (start, count) = removal_span(zset, &bounds);
    let removed = zset.remove_ranks(start, start + count);
    if zset.is_empty() {
        db.remove(key);
    }
    ctx.reply.int(removed as i64);
}

pub(super) fn zremrangebyrank(ctx: &mut ExecCtx, argv: Argv) {
    let bounds = parse_i64(argv.get(2))
        .zip(parse_i64(argv.get(3)))
        .map(|(start, end)| Bounds::Rank(start, end));
    remove_range_generic(ctx, argv, bounds, errors::NOT_INTEGER);
}

pub(super) fn zremrangebyscore(ctx: &mut ExecCtx, argv: Argv) {
    let bounds = parse_score_range(argv.get(2), argv.get(3)).map(Bounds::Score);
    remove_range_generic(ctx, argv, bounds, NOT_FLOAT_RANGE);
}

pub(super) fn zremrangebylex(ctx: &mut ExecCtx, argv: Argv) {
    let bounds = parse_lex_range(argv.get(2), argv.get(3)).map(Bounds::Lex);
    remove_range_generic(ctx, argv, bounds, NOT_LEX_RANGE);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_clamp_like_redis() {
        assert_eq!(clamp_ranks(0, -1, 5), Some((0, 4)));
        assert_eq!(clamp_ranks(-100, 100, 5), Some((0, 4)));
        assert_eq!(clamp_ranks(5, 2, 5), None);
        assert_eq!(clamp_ranks(5, 9, 5), None);
        assert_eq!(clamp_ranks(i64::MIN, i64::MAX, 5), Some((0, 4)));
        assert_eq!(clamp_ranks(0, -1, 0), None);
    }

    #[test]
    fn lex_bounds_parse_like_redis() {
        assert_eq!(parse_lex_bound(b"-"), Some(LexBound::Min));
        assert_eq!(parse_lex_bound(b"+\0x"), Some(LexBound::Max));
        assert_eq!(parse_lex_bound(b"+a"), None);
        assert_eq!(parse_lex_bound(b"("), Some(LexBound::Exclusive(Vec::new())));
        assert_eq!(
            parse_lex_bound(b"[a\0b"),
            Some(LexBound::Inclusive(b"a\0b".to_vec()))
        );
        assert_eq!(parse_lex_bound(b""), None);
        assert_eq!(parse_lex_bound(b"a"), None);
    }
}
