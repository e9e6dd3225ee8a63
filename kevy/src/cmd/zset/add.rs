//! `ZADD ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK`: the commands
//! that address members one by one.
//!
//! ZADD (and ZINCRBY, which is ZADD with INCR) checks its options and reads
//! every score before touching the key, so a bad argument changes nothing;
//! then each pair goes through [`add_member`], Redis's `zsetAdd`. A write
//! that empties a set deletes the key.

use super::score::{parse_score, reply_score};
use super::{limits, option_is, ZLookup};
use crate::cmd::{errors, ExecCtx};
use crate::cmd::{lookup_read, lookup_write};
use crate::keyspace::zset::{Limits, ZSetValue};
use crate::keyspace::Value;
use crate::resp::Argv;

const XX_AND_NX: &str = "ERR XX and NX options at the same time are not compatible";
const GT_LT_NX: &str = "ERR GT, LT, and/or NX options at the same time are not compatible";
const INCR_PAIRS: &str = "ERR INCR option supports a single increment-element pair";
const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";

#[derive(Clone, Copy, Default)]
struct AddOptions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What `zsetAdd` did with one pair.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Added {
    /// A new member, with this score.
    New(f64),
    /// An existing member's score changed to this.
    Updated(f64),
    /// The pair was processed, the score stayed.
    Same(f64),
    /// Not processed (NX, XX, GT or LT said no).
    Skipped,
    /// INCR made the score NaN.
    NotANumber,
}

fn add_member(
    zset: &mut ZSetValue,
    member: &[u8],
    score: f64,
    options: AddOptions,
    limits: Limits,
) -> Added {
    match zset.score(member) {
        Some(current) => {
            if options.nx {
                return Added::Skipped;
            }
            let mut score = score;
            if options.incr {
                score += current;
                if score.is_nan() {
                    return Added::NotANumber;
                }
            }
            if (options.lt && score >= current) || (options.gt && score <= current) {
                return Added::Skipped;
            }
            if score != current {
                zset.set_score(member, score);
                Added::Updated(score)
            } else {
                Added::Same(score)
            }
        }
        None if options.xx => Added::Skipped,
        None => {
            zset.insert(member, score, limits);
            Added::New(score)
        }
    }
}

/// Reads the options; the index of the first score.
fn parse_options(argv: Argv, options: &mut AddOptions) -> usize {
    let mut at = 2;
    while at < argv.len() {
        let arg = argv.get(at);
        let flag = if option_is(arg, "nx") {
            &mut options.nx
        } else if option_is(arg, "xx") {
            &mut options.xx
        } else if option_is(arg, "ch") {
            &mut options.ch
        } else if option_is(arg, "incr") {
            &mut options.incr
        } else if option_is(arg, "gt") {
            &mut options.gt
        } else if option_is(arg, "lt") {
            &mut options.lt
        } else {
            break;
        };
        *flag = true;
        at += 1;
    }
    at
}

/// Redis's `zaddGenericCommand`.
fn add_generic(ctx: &mut ExecCtx, argv: Argv, mut options: AddOptions) {
    let first = parse_options(argv, &mut options);
    let args = argv.len() - first;
    if args == 0 || args % 2 == 1 {
        return ctx.reply.error(errors::SYNTAX);
    }
    let pairs = args / 2;
    let o = options;
    if o.nx && o.xx {
        return ctx.reply.error(XX_AND_NX);
    }
    if (o.nx && (o.gt || o.lt)) || (o.gt && o.lt) {
        return ctx.reply.error(GT_LT_NX);
    }
    if o.incr && pairs > 1 {
        return ctx.reply.error(INCR_PAIRS);
    }
    let mut scores = Vec::with_capacity(pairs);
    for pair in 0..pairs {
        match parse_score(argv.get(first + 2 * pair)) {
            Some(score) => scores.push(score),
            None => return ctx.reply.error(errors::NOT_FLOAT),
        }
    }
    let limits = limits(ctx.config);
    let key = argv.get(1);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let mut created = None;
    let zset = match lookup_write(db, key, now, clock) {
        ZLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        ZLookup::Found(z) => z,
        ZLookup::Absent if o.xx => {
            return if o.incr {
                ctx.reply.null()
            } else {
                ctx.reply.int(0)
            };
        }
        ZLookup::Absent => created.insert(ZSetValue::new()),
    };
    let (mut added, mut updated, mut last_score, mut processed) = (0i64, 0i64, 0.0, false);
    let mut failed = false;
    for (pair, &score) in scores.iter().enumerate() {
        let member = argv.get(first + 2 * pair + 1);
        match add_member(zset, member, score, o, limits) {
            Added::NotANumber => {
                failed = true;
                break;
            }
            Added::Skipped => continue,
            Added::New(s) => {
                added += 1;
                last_score = s;
            }
            Added::Updated(s) => {
                updated += 1;
                last_score = s;
            }
            Added::Same(s) => last_score = s,
        }
        processed = true;
    }
    if let Some(zset) = created.filter(|z| !z.is_empty()) {
        db.insert_new(key.into(), Value::ZSet(zset), None, clock);
    }
    if failed {
        ctx.reply.error(NAN_SCORE);
    } else if o.incr {
        if processed {
            reply_score(&mut ctx.reply, last_score);
        } else {
            ctx.reply.null();
        }
    } else {
        ctx.reply.int(if o.ch { added + updated } else { added });
    }
}

pub(super) fn zadd(ctx: &mut ExecCtx, argv: Argv) {
    add_generic(ctx, argv, AddOptions::default());
}

pub(super) fn zincrby(ctx: &mut ExecCtx, argv: Argv) {
    let options = AddOptions {
        incr: true,
        ..AddOptions::default()
    };
    add_generic(ctx, argv, options);
}

pub(super) fn zrem(ctx: &mut ExecCtx, argv: Argv) {
    let key = argv.get(1);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let zset = match lookup_write(db, key, now, clock) {
        ZLookup::Absent => return ctx.reply.int(0),
        ZLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        ZLookup::Found(z) => z,
    };
    let mut deleted = 0;
    for member in argv.iter().skip(2) {
        if zset.remove(member).is_some() {
            deleted += 1;
        }
        if zset.is_empty() {
            break;
        }
    }
    if zset.is_empty() {
        db.remove(key);
    }
    ctx.reply.int(deleted);
}

pub(super) fn zcard(ctx: &mut ExecCtx, argv: Argv) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        ZLookup::Absent => ctx.reply.int(0),
        ZLookup::WrongType => ctx.reply.error(errors::WRONGTYPE),
        ZLookup::Found(z) => ctx.reply.int(z.len() as i64),
    }
}

pub(super) fn zscore(ctx: &mut ExecCtx, argv: Argv) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        ZLookup::Absent => ctx.reply.null(),
        ZLookup::WrongType => ctx.reply.error(errors::WRONGTYPE),
        ZLookup::Found(z) => match z.score(argv.get(2)) {
            Some(score) => reply_score(&mut ctx.reply, score),
            None => ctx.reply.null(),
        },
    }
}

pub(super) fn zmscore(ctx: &mut ExecCtx, argv: Argv) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let zset = match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        ZLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        ZLookup::Absent => None,
        ZLookup::Found(z) => Some(z),
    };
    ctx.reply.array(argv.len() - 2);
    for member in argv.iter().skip(2) {
        match zset.as_ref().and_then(|z| z.score(member)) {
            Some(score) => reply_score(&mut ctx.reply, score),
            None => ctx.reply.null(),
        }
    }
}

fn rank_generic(ctx: &mut ExecCtx, argv: Argv, reverse: bool) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        ZLookup::Absent => ctx.reply.null(),
        ZLookup::WrongType => ctx.reply.error(errors::WRONGTYPE),
        ZLookup::Found(z) => match z.rank(argv.get(2)) {
            Some(rank) if reverse => ctx.reply.int((z.len() - 1 - rank) as i64),
            Some(rank) => ctx.reply.int(rank as i64),
            None => ctx.reply.null(),
        },
    }
}

pub(super) fn zrank(ctx: &mut ExecCtx, argv: Argv) {
    rank_generic(ctx, argv, false);
}

pub(super) fn zrevrank(ctx: &mut ExecCtx, argv: Argv) {
    rank_generic(ctx, argv, true);
}
