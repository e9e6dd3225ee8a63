//! `XRANGE key start end [COUNT n]` and `XREVRANGE key end start [COUNT n]`.
//!
//! Both ends accept `-`, `+`, `ms` (the smallest or largest ID of that
//! millisecond, depending on the end) and exclusive `(id`. As in Redis,
//! the IDs and COUNT are checked before the key; a missing key is an empty
//! array, and a COUNT of zero or less a null array.

use super::{interval_end, interval_start, lookup_read, option_is, reply_entries, StreamLookup};
use crate::cmd::{errors, ExecCtx};
use crate::resp::num::parse_i64;
use crate::resp::Argv;

pub(super) fn xrange(ctx: &mut ExecCtx, argv: Argv) {
    range(ctx, argv, false);
}

pub(super) fn xrevrange(ctx: &mut ExecCtx, argv: Argv) {
    range(ctx, argv, true);
}

fn range(ctx: &mut ExecCtx, argv: Argv, rev: bool) {
    let (start_arg, end_arg) = if rev {
        (argv.get(3), argv.get(2))
    } else {
        (argv.get(2), argv.get(3))
    };
    let Some(start) = interval_start(&mut ctx.reply, start_arg) else {
        return;
    };
    let Some(end) = interval_end(&mut ctx.reply, end_arg) else {
        return;
    };
    // None: no COUNT.
    let mut count: Option<u64> = None;
    let mut i = 4;
    while i < argv.len() {
        if option_is(argv.get(i), "count") && i + 1 < argv.len() {
            match parse_i64(argv.get(i + 1)) {
                Some(n) => count = Some(n.max(0) as u64),
                None => return ctx.reply.error(errors::NOT_INTEGER),
            }
            i += 2;
        } else {
            return ctx.reply.error(errors::SYNTAX);
        }
    }
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let stream = match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        StreamLookup::Absent => return ctx.reply.array(0),
        StreamLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        StreamLookup::Found(stream) => &stream.entries,
    };
    if count == Some(0) {
        return ctx.reply.null_array();
    }
    let limit = count.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let entries: Vec<_> = if rev {
        stream.range_rev(start, end).take(limit).collect()
    } else {
        stream.range(start, end).take(limit).collect()
    };
    reply_entries(&mut ctx.reply, &entries);
}
