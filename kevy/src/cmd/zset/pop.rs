//! `ZPOPMIN ZPOPMAX ZMPOP ZRANDMEMBER`: members taken from either end, and
//! members picked at random.
//!
//! The pops share Redis's `genericZpopCommand`: the first existing key
//! among those named is popped (a key of another type stops the search
//! with WRONGTYPE), and a set emptied by the pop is deleted. The reply
//! shape depends on the command and the protocol: flat pairs, pairs as
//! arrays (RESP3 with a count), or `[key, [[member, score]...]]` (ZMPOP).
//! ZRANDMEMBER follows Redis's four cases (repeats allowed, whole set,
//! many of few, few of many); picks come from the shard's generator.

use std::collections::HashSet;

use super::score::reply_score;
use super::{option_is, reply_list_header, reply_list_item, ZLookup};
use crate::cmd::{errors, ExecCtx};
use crate::cmd::{lookup_read, lookup_write};
use crate::resp::num::parse_i64;
use crate::resp::Argv;

const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
const NUMKEYS_POSITIVE: &str = "ERR numkeys should be greater than 0";
const COUNT_POSITIVE: &str = "ERR count should be greater than 0";
const COUNT_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
const OUT_OF_RANGE: &str = "ERR value is out of range";

/// How a pop's reply is shaped.
#[derive(Clone, Copy)]
enum PopReply {
    /// ZPOPMIN/ZPOPMAX: member, score, member, score...
    Flat,
    /// ZPOPMIN/ZPOPMAX with a count in RESP3: [member, score] arrays.
    Nested,
    /// ZMPOP: [key, [[member, score]...]], null when nothing was popped.
    WithKey,
}

/// Redis's `genericZpopCommand`; `count` None is the plain single pop.
fn pop_generic(
    ctx: &mut ExecCtx,
    keys: Argv,
    first_key: usize,
    key_count: usize,
    highest: bool,
    count: Option<u64>,
    shape: PopReply,
) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let mut found = None;
    for position in first_key..first_key + key_count {
        match lookup_write(db, keys.get(position), now, clock) {
            ZLookup::Absent => continue,
            ZLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
            ZLookup::Found(_) => {
                found = Some(position);
                break;
            }
        }
    }
    let Some(position) = found else {
        return match shape {
            PopReply::WithKey => ctx.reply.null_array(),
            _ => ctx.reply.array(0),
        };
    };
    let key = keys.get(position);
    let ZLookup::Found(zset) = lookup_write(db, key, now, clock) else {
        return ctx.reply.array(0);
    };
    let count = count.unwrap_or(1);
    if count == 0 {
        return ctx.reply.array(0);
    }
    let popped = usize::try_from(count).unwrap_or(usize::MAX).min(zset.len());
    match shape {
        PopReply::Flat => ctx.reply.array(popped * 2),
        PopReply::Nested => ctx.reply.array(popped),
        PopReply::WithKey => {
            ctx.reply.array(2);
            ctx.reply.bulk(key);
            ctx.reply.array(popped);
        }
    }
    for _ in 0..popped {
        let Some((member, score)) = zset.pop(highest) else {
            break;
        };
        if !matches!(shape, PopReply::Flat) {
            ctx.reply.array(2);
        }
        ctx.reply.bulk(&member);
        reply_score(&mut ctx.reply, score);
    }
    if zset.is_empty() {
        db.remove(key);
    }
}

fn zpop_min_max(ctx: &mut ExecCtx, argv: Argv, highest: bool) {
    if argv.len() > 3 {
        return ctx.reply.error(errors::SYNTAX);
    }
    let count = if argv.len() == 3 {
        match parse_i64(argv.get(2)).and_then(|n| u64::try_from(n).ok()) {
            Some(n) => Some(n),
            None => return ctx.reply.error(MUST_BE_POSITIVE),
        }
    } else {
        None
    };
    let shape = if ctx.reply.resp3 && count.is_some() {
        PopReply::Nested
    } else {
        PopReply::Flat
    };
    pop_generic(ctx, argv, 1, 1, highest, count, shape);
}

pub(super) fn zpopmin(ctx: &mut ExecCtx, argv: Argv) {
    zpop_min_max(ctx, argv, false);
}

pub(super) fn zpopmax(ctx: &mut ExecCtx, argv: Argv) {
    zpop_min_max(ctx, argv, true);
}

/// `ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]`.
pub(super) fn zmpop(ctx: &mut ExecCtx, argv: Argv) {
    let Some(numkeys) = parse_i64(argv.get(1))
        .filter(|&n| n >= 1)
        .and_then(|n| usize::try_from(n).ok())
    else {
        return ctx.reply.error(NUMKEYS_POSITIVE);
    };
    let Some(where_at) = numkeys.checked_add(2).filter(|&w| w < argv.len()) else {
        return ctx.reply.error(errors::SYNTAX);
    };
    let highest = if option_is(argv.get(where_at), "min") {
        false
    } else if option_is(argv.get(where_at), "max") {
        true
    } else {
        return ctx.reply.error(errors::SYNTAX);
    };
    let mut count = None;
    let mut at = where_at + 1;
    while at < argv.len() {
        let more = at + 1 < argv.len();
        if count.is_none() && option_is(argv.get(at), "count") && more {
            at += 1;
            match parse_i64(argv.get(at)).filter(|&n| n >= 1) {
                Some(n) => count = Some(n as u64),
                None => return ctx.reply.error(COUNT_POSITIVE),
            }
        } else {
            return ctx.reply.error(errors::SYNTAX);
        }
        at += 1;
    }
    pop_generic(
        ctx,
        argv,
        2,
        numkeys,
        highest,
        Some(count.unwrap_or(1)),
        PopReply::WithKey,
    );
}

/// `ZRANDMEMBER key [count [WITHSCORES]]`.
pub(super) fn zrandmember(ctx: &mut ExecCtx, argv: Argv) {
    let mut requested = None;
    let mut withscores = false;
    if argv.len() >= 3 {
        let count = match parse_i64(argv.get(2)) {
            None => return ctx.reply.error(errors::NOT_INTEGER),
            Some(i64::MIN) => return ctx.reply.error(COUNT_RANGE),
            Some(n) => n,
        };
        if argv.len() > 4 || (argv.len() == 4 && !option_is(argv.get(3), "withscores")) {
            return ctx.reply.error(errors::SYNTAX);
        }
        if argv.len() == 4 {
            withscores = true;
            // Redis refuses counts whose pairs would overflow a long.
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
                return ctx.reply.error(OUT_OF_RANGE);
            }
        }
        requested = Some(count);
    }
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let zset = match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        ZLookup::Absent if requested.is_some() => return ctx.reply.array(0),
        ZLookup::Absent => return ctx.reply.null(),
        ZLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        ZLookup::Found(z) => z,
    };
    let size = zset.len();
    let Some(requested) = requested else {
        let rank = ctx.rng.below(size.max(1));
        return match zset.at(rank) {
            Some((member, _)) => ctx.reply.bulk(member),
            None => ctx.reply.null(),
        };
    };
    let count = usize::try_from(requested.unsigned_abs()).unwrap_or(usize::MAX);
    if count == 0 || size == 0 {
        return ctx.reply.array(0);
    }
    let reply = &mut ctx.reply;
    if requested < 0 || count == 1 {
        // Case 1: independent picks, repeats allowed.
        reply_list_header(reply, count, withscores);
        for _ in 0..count {
            if let Some((member, score)) = zset.at(ctx.rng.below(size)) {
                reply_list_item(reply, member, score, withscores);
            }
        }
        return;
    }
    let picked = count.min(size);
    reply_list_header(reply, picked, withscores);
    if count >= size {
        // Case 2: the whole set, highest first (Redis walks it backwards).
        for (member, score) in zset.iter_from(size - 1, true) {
            reply_list_item(reply, member, score, withscores);
        }
        return;
    }
    let ranks: Vec<usize> = if count * 3 > size {
        // Case 3: drop random members until `count` are left.
        let mut kept: Vec<usize> = (0..size).collect();
        while kept.len() > count {
            let drop = ctx.rng.below(kept.len());
            kept.swap_remove(drop);
        }
        kept
    } else {
        // Case 4: pick until `count` distinct members were found.
        let mut seen = HashSet::with_capacity(count);
        let mut order = Vec::with_capacity(count);
        while order.len() < count {
            let rank = ctx.rng.below(size);
            if seen.insert(rank) {
                order.push(rank);
            }
        }
        order
    };
    for rank in ranks {
        if let Some((member, score)) = zset.at(rank) {
            reply_list_item(reply, member, score, withscores);
        }
    }
}
