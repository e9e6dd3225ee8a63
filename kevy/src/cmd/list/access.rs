//! Reads and edits inside a list: `LLEN LINDEX LSET LRANGE LTRIM LREM
//! LINSERT LPOS`.
//!
//! Indexes are `i64` as clients send them (negative counts from the tail)
//! and are resolved against the length with Redis's rules before touching
//! the list, so out-of-range values (`i64::MIN` included) only ever yield
//! an empty or null reply. Each handler parses and looks up in the order
//! `t_list.c` does, which decides which error wins when several apply.

use super::{keyword_is, reply_range, ListLookup};
use crate::cmd::{errors, ExecCtx};
use crate::cmd::{lookup_read, lookup_write};
use crate::resp::num::parse_i64;
use crate::resp::Argv;

const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
const RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
const COUNT_NEGATIVE: &str = "ERR COUNT can't be negative";
const MAXLEN_NEGATIVE: &str = "ERR MAXLEN can't be negative";

/// The position `index` names in a list of `len` (negative from the end).
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let resolved = if index < 0 { len as i64 + index } else { index };
    (0..len as i64)
        .contains(&resolved)
        .then_some(resolved as usize)
}

/// Redis's range rule for LRANGE and LTRIM: negative ends count from the
/// tail, the start is clamped to 0 and the end to the last element; None
/// when nothing is left.
fn resolve_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

pub(super) fn llen(ctx: &mut ExecCtx, argv: Argv) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        ListLookup::Absent => ctx.reply.int(0),
        ListLookup::WrongType => ctx.reply.error(errors::WRONGTYPE),
        ListLookup::Found(list) => ctx.reply.int(list.len() as i64),
    }
}

pub(super) fn lindex(ctx: &mut ExecCtx, argv: Argv) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let list = match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        ListLookup::Absent => return ctx.reply.null(),
        ListLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        ListLookup::Found(list) => list,
    };
    let Some(index) = parse_i64(argv.get(2)) else {
        return ctx.reply.error(errors::NOT_INTEGER);
    };
    match resolve_index(index, list.len()).and_then(|i| list.get(i)) {
        Some(element) => ctx.reply.bulk(element),
        None => ctx.reply.null(),
    }
}

pub(super) fn lset(ctx: &mut ExecCtx, argv: Argv) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let list = match lookup_write(db, argv.get(1), now, clock) {
        ListLookup::Absent => return ctx.reply.error(errors::NO_SUCH_KEY),
        ListLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        ListLookup::Found(list) => list,
    };
    let Some(index) = parse_i64(argv.get(2)) else {
        return ctx.reply.error(errors::NOT_INTEGER);
    };
    match resolve_index(index, list.len()) {
        Some(i) if list.set(i, argv.get(3)) => ctx.reply.ok(),
        _ => ctx.reply.error(INDEX_OUT_OF_RANGE),
    }
}

/// Parses the two integer arguments of LRANGE and LTRIM, replying the
/// error when one is not an integer.
fn parse_bounds(ctx: &mut ExecCtx, argv: Argv) -> Option<(i64, i64)> {
    match (parse_i64(argv.get(2)), parse_i64(argv.get(3))) {
        (Some(start), Some(end)) => Some((start, end)),
        _ => {
            ctx.reply.error(errors::NOT_INTEGER);
            None
        }
    }
}

pub(super) fn lrange(ctx: &mut ExecCtx, argv: Argv) {
    let Some((start, end)) = parse_bounds(ctx, argv) else {
        return;
    };
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        ListLookup::Absent => ctx.reply.array(0),
        ListLookup::WrongType => ctx.reply.error(errors::WRONGTYPE),
        ListLookup::Found(list) => match resolve_range(start, end, list.len()) {
            Some((start, end)) => reply_range(&mut ctx.reply, list, start, end, false),
            None => ctx.reply.array(0),
        },
    }
}

pub(super) fn ltrim(ctx: &mut ExecCtx, argv: Argv) {
    let Some((start, end)) = parse_bounds(ctx, argv) else {
        return;
    };
    let key = argv.get(1);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let emptied = match lookup_write(db, key, now, clock) {
        ListLookup::Absent => return ctx.reply.ok(),
        ListLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        ListLookup::Found(list) => match resolve_range(start, end, list.len()) {
            Some((start, end)) => {
                list.trim(start, end);
                false
            }
            None => true,
        },
    };
    if emptied {
        db.remove(key);
    }
    ctx.reply.ok();
}

pub(super) fn lrem(ctx: &mut ExecCtx, argv: Argv) {
    let Some(count) = parse_i64(argv.get(2)) else {
        return ctx.reply.error(errors::NOT_INTEGER);
    };
    let key = argv.get(1);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let (removed, emptied) = match lookup_write(db, key, now, clock) {
        ListLookup::Absent => return ctx.reply.int(0),
        ListLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        ListLookup::Found(list) => {
            // A negative count removes from the tail; |i64::MIN| is simply
            // more than any list holds.
            let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
            let removed = list.remove_matching(argv.get(3), limit, count < 0);
            (removed, list.is_empty())
        }
    };
    if emptied {
        db.remove(key);
    }
    ctx.reply.int(removed as i64);
}

pub(super) fn linsert(ctx: &mut ExecCtx, argv: Argv) {
    let after = if keyword_is(argv.get(2), "after") {
        true
    } else if keyword_is(argv.get(2), "before") {
        false
    } else {
        return ctx.reply.error(errors::SYNTAX);
    };
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let list = match lookup_write(db, argv.get(1), now, clock) {
        ListLookup::Absent => return ctx.reply.int(0),
        ListLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        ListLookup::Found(list) => list,
    };
    let pivot = argv.get(3);
    match list.iter().position(|element| element == pivot) {
        Some(at) => {
            list.insert(if after { at + 1 } else { at }, argv.get(4));
            ctx.reply.int(list.len() as i64);
        }
        None => ctx.reply.int(-1),
    }
}

/// LPOS's options.
struct PosOptions {
    rank: i64,
    /// None when COUNT was not given (a single index is replied).
    count: Option<i64>,
    maxlen: i64,
}

/// Parses `[RANK rank] [COUNT num] [MAXLEN len]`, replying the error.
fn parse_pos_options(ctx: &mut ExecCtx, argv: Argv) -> Option<PosOptions> {
    let mut options = PosOptions {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    let mut j = 3;
    while j < argv.len() {
        let option = argv.get(j);
        let has_value = j + 1 < argv.len();
        if keyword_is(option, "rank") && has_value {
            j += 1;
            match parse_i64(argv.get(j)) {
                None => return reply_error(ctx, errors::NOT_INTEGER),
                Some(0) => return reply_error(ctx, RANK_ZERO),
                Some(rank) => options.rank = rank,
            }
        } else if keyword_is(option, "count") && has_value {
            j += 1;
            match parse_i64(argv.get(j)) {
                Some(count) if count >= 0 => options.count = Some(count),
                _ => return reply_error(ctx, COUNT_NEGATIVE),
            }
        } else if keyword_is(option, "maxlen") && has_value {
            j += 1;
            match parse_i64(argv.get(j)) {
                Some(maxlen) if maxlen >= 0 => options.maxlen = maxlen,
                _ => return reply_error(ctx, MAXLEN_NEGATIVE),
            }
        } else {
            return reply_error(ctx, errors::SYNTAX);
        }
        j += 1;
    }
    Some(options)
}

fn reply_error<T>(ctx: &mut ExecCtx, text: &str) -> Option<T> {
    ctx.reply.error(text);
    None
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`.
pub(super) fn lpos(ctx: &mut ExecCtx, argv: Argv) {
    let Some(PosOptions {
        mut rank,
        count,
        maxlen,
    }) = parse_pos_options(ctx, argv)
    else {
        return;
    };
    // A negative rank searches from the tail. Redis negates in C `long`,
    // so i64::MIN stays negative and then matches from the first hit on:
    // the wrapping arithmetic below reproduces that.
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let list = match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        ListLookup::Absent if count.is_some() => return ctx.reply.array(0),
        ListLookup::Absent => return ctx.reply.null(),
        ListLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        ListLookup::Found(list) => list,
    };
    let wanted = argv.get(2);
    let len = list.len();
    let elements: Box<dyn Iterator<Item = &[u8]>> = if from_tail {
        Box::new(list.iter().rev())
    } else {
        Box::new(list.iter())
    };
    let mut found = Vec::new();
    let mut matches: i64 = 0;
    for (scanned, element) in elements.enumerate() {
        if maxlen != 0 && scanned as i64 >= maxlen {
            break;
        }
        if element != wanted {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(if from_tail {
            len - scanned - 1
        } else {
            scanned
        });
        match count {
            None => break,
            Some(count) if count != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= count => {
                break
            }
            Some(_) => {}
        }
    }
    match count {
        Some(_) => {
            ctx.reply.array(found.len());
            for index in found {
                ctx.reply.int(index as i64);
            }
        }
        None => match found.first() {
            Some(&index) => ctx.reply.int(index as i64),
            None => ctx.reply.null(),
        },
    }
}
