//! Pushes and pops: `LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LMPOP LMOVE
//! RPOPLPUSH`.
//!
//! Pushes create the list when the key is absent (not the `X` forms);
//! pops delete the key when they take the last element. Replies follow
//! `t_list.c`: a pop without a count is a bulk string (null when the key is
//! absent), with a count an array (a null array when absent, an empty array
//! for a count of 0 on an existing list).

use super::{keyword_is, new_list, parse_end, reply_range, End, ListLookup};
use crate::cmd::lookup_write;
use crate::cmd::{errors, ExecCtx};
use crate::keyspace::list::ListValue;
use crate::keyspace::Value;
use crate::resp::num::parse_i64;
use crate::resp::{Argv, ReplyBuf};

const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
const NUMKEYS_NOT_POSITIVE: &str = "ERR numkeys should be greater than 0";
const COUNT_NOT_POSITIVE: &str = "ERR count should be greater than 0";

fn push_all(list: &mut ListValue, elements: Argv, end: End) {
    for element in elements.iter().skip(2) {
        match end {
            End::Head => list.push_front(element),
            End::Tail => list.push_back(element),
        }
    }
}

/// Redis's `pushGenericCommand`; `only_existing` for LPUSHX/RPUSHX.
fn push_generic(ctx: &mut ExecCtx, argv: Argv, end: End, only_existing: bool) {
    let key = argv.get(1);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_write(db, key, now, clock) {
        ListLookup::WrongType => ctx.reply.error(errors::WRONGTYPE),
        ListLookup::Absent if only_existing => ctx.reply.int(0),
        ListLookup::Absent => {
            let mut list = new_list(ctx.config);
            push_all(&mut list, argv, end);
            ctx.reply.int(list.len() as i64);
            db.insert_new(key.into(), Value::List(Box::new(list)), None, clock);
        }
        ListLookup::Found(list) => {
            push_all(list, argv, end);
            ctx.reply.int(list.len() as i64);
        }
    }
}

pub(super) fn lpush(ctx: &mut ExecCtx, argv: Argv) {
    push_generic(ctx, argv, End::Head, false);
}

pub(super) fn rpush(ctx: &mut ExecCtx, argv: Argv) {
    push_generic(ctx, argv, End::Tail, false);
}

pub(super) fn lpushx(ctx: &mut ExecCtx, argv: Argv) {
    push_generic(ctx, argv, End::Head, true);
}

pub(super) fn rpushx(ctx: &mut ExecCtx, argv: Argv) {
    push_generic(ctx, argv, End::Tail, true);
}

/// Replies with up to `count` elements from `end` as an array (in popping
/// order) and removes them.
fn pop_range(reply: &mut ReplyBuf, list: &mut ListValue, end: End, count: u64) {
    let len = list.len();
    let taken = count.min(len as u64) as usize;
    if taken == 0 {
        return reply.array(0);
    }
    match end {
        End::Head => {
            reply_range(reply, list, 0, taken.saturating_sub(1), false);
            list.drop_front(taken);
        }
        End::Tail => {
            reply_range(reply, list, len - taken, len - 1, true);
            list.drop_back(taken);
        }
    }
}

/// Redis's `popGenericCommand`: LPOP/RPOP with an optional count.
fn pop_generic(ctx: &mut ExecCtx, argv: Argv, end: End) {
    if argv.len() > 3 {
        let name = if end == End::Head { "lpop" } else { "rpop" };
        return ctx.reply.error(&errors::wrong_args(name));
    }
    let count = if argv.len() == 3 {
        match parse_i64(argv.get(2)) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => return ctx.reply.error(NOT_POSITIVE),
        }
    } else {
        None
    };
    let key = argv.get(1);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let emptied = match lookup_write(db, key, now, clock) {
        ListLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        ListLookup::Absent if count.is_some() => return ctx.reply.null_array(),
        ListLookup::Absent => return ctx.reply.null(),
        ListLookup::Found(list) => {
            match count {
                Some(0) => return ctx.reply.array(0),
                Some(n) => pop_range(&mut ctx.reply, list, end, n),
                None => {
                    let element = match end {
                        End::Head => list.front(),
                        End::Tail => list.back(),
                    };
                    // Stored lists are never empty; were one, it pops nothing.
                    match element {
                        Some(element) => ctx.reply.bulk(element),
                        None => ctx.reply.null(),
                    }
                    match end {
                        End::Head => list.drop_front(1),
                        End::Tail => list.drop_back(1),
                    }
                }
            }
            list.is_empty()
        }
    };
    if emptied {
        db.remove(key);
    }
}

pub(super) fn lpop(ctx: &mut ExecCtx, argv: Argv) {
    pop_generic(ctx, argv, End::Head);
}

pub(super) fn rpop(ctx: &mut ExecCtx, argv: Argv) {
    pop_generic(ctx, argv, End::Tail);
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`: pops from the
/// first non-empty list and replies `[key, [elements]]`.
pub(super) fn lmpop(ctx: &mut ExecCtx, argv: Argv) {
    let numkeys = match parse_i64(argv.get(1)) {
        Some(n) if n >= 1 => n as u64,
        _ => return ctx.reply.error(NUMKEYS_NOT_POSITIVE),
    };
    let argc = argv.len() as u64;
    let where_at = numkeys + 2;
    if where_at >= argc {
        return ctx.reply.error(errors::SYNTAX);
    }
    let where_at = where_at as usize;
    let Some(end) = parse_end(&mut ctx.reply, argv.get(where_at)) else {
        return;
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < argv.len() {
        let more_args = argv.len() - 1 - j;
        if count.is_none() && keyword_is(argv.get(j), "count") && more_args > 0 {
            j += 1;
            match parse_i64(argv.get(j)) {
                Some(n) if n >= 1 => count = Some(n as u64),
                _ => return ctx.reply.error(COUNT_NOT_POSITIVE),
            }
        } else {
            return ctx.reply.error(errors::SYNTAX);
        }
        j += 1;
    }
    let count = count.unwrap_or(1);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    for at in 2..where_at {
        let key = argv.get(at);
        let db = ctx.keyspace.db(ctx.db_index);
        let emptied = match lookup_write(db, key, now, clock) {
            ListLookup::Absent => continue,
            ListLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
            ListLookup::Found(list) if list.is_empty() => continue,
            ListLookup::Found(list) => {
                ctx.reply.array(2);
                ctx.reply.bulk(key);
                pop_range(&mut ctx.reply, list, end, count);
                list.is_empty()
            }
        };
        if emptied {
            ctx.keyspace.db(ctx.db_index).remove(key);
        }
        return;
    }
    ctx.reply.null_array();
}

/// Redis's `lmoveGenericCommand`: pops from `source` at `from`, pushes to
/// `destination` at `to` and replies with the element. Both types are
/// checked before anything changes.
fn move_element(ctx: &mut ExecCtx, source: &[u8], destination: &[u8], from: End, to: End) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_write(db, source, now, clock) {
        ListLookup::Absent => return ctx.reply.null(),
        ListLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        // Redis answers null for an empty source list (only old RDB files
        // hold one); kevy never stores one either.
        ListLookup::Found(list) if list.is_empty() => return ctx.reply.null(),
        ListLookup::Found(_) => {}
    }
    if let ListLookup::WrongType = lookup_write(db, destination, now, clock) {
        return ctx.reply.error(errors::WRONGTYPE);
    }
    let value = match lookup_write(db, source, now, clock) {
        ListLookup::Found(list) => match from {
            End::Head => list.pop_front(),
            End::Tail => list.pop_back(),
        },
        _ => None,
    };
    let value = value.expect("the source was checked to be a non-empty list");
    match lookup_write(db, destination, now, clock) {
        ListLookup::Found(list) => match to {
            End::Head => list.push_front(&value),
            End::Tail => list.push_back(&value),
        },
        _ => {
            let mut list = new_list(ctx.config);
            list.push_back(&value);
            db.insert_new(destination.into(), Value::List(Box::new(list)), None, clock);
        }
    }
    // Checked after the push: the source and destination may be one list.
    let emptied =
        matches!(lookup_write(db, source, now, clock), ListLookup::Found(l) if l.is_empty());
    if emptied {
        db.remove(source);
    }
    ctx.reply.bulk(&value);
}

pub(super) fn lmove(ctx: &mut ExecCtx, argv: Argv) {
    let Some(from) = parse_end(&mut ctx.reply, argv.get(3)) else {
        return;
    };
    let Some(to) = parse_end(&mut ctx.reply, argv.get(4)) else {
        return;
    };
    move_element(ctx, argv.get(1), argv.get(2), from, to);
}

pub(super) fn rpoplpush(ctx: &mut ExecCtx, argv: Argv) {
    move_element(ctx, argv.get(1), argv.get(2), End::Tail, End::Head);
}
