//! `HRANDFIELD key [count [WITHVALUES]]`, as Redis's `hrandfieldCommand`.
//!
//! Without a count: one random field (null for a missing key). With one:
//! a positive count asks for distinct fields (the whole hash, in its own
//! order, when the count reaches its size), a negative one for that many
//! independent picks. With WITHVALUES a pick is a field and its value:
//! flat in RESP2, a two-element array per pick in RESP3. The picks are
//! shared with SRANDMEMBER (`set::random`), including the bound on the
//! size of a reply to a negative count.

use super::{lookup_read, HashLookup};
use crate::cmd::set::random::{distinct_positions, parse_count, RepeatBudget, MIN_BULK_REPLY};
use crate::cmd::strings::option_is;
use crate::cmd::{errors, ExecCtx};
use crate::resp::{Argv, ReplyBuf};

/// WITHVALUES doubles the reply: Redis refuses counts beyond half the
/// range.
const WITHVALUES_RANGE: &str = "ERR value is out of range";

fn reply_pick(reply: &mut ReplyBuf, (field, value): (&[u8], &[u8]), with_values: bool) {
    if with_values && reply.resp3 {
        reply.array(2);
    }
    reply.bulk(field);
    if with_values {
        reply.bulk(value);
    }
}

/// The array header for `picks` picks.
fn reply_header(reply: &mut ReplyBuf, picks: usize, with_values: bool) {
    if with_values && !reply.resp3 {
        reply.array(picks * 2);
    } else {
        reply.array(picks);
    }
}

pub(in crate::cmd) fn hrandfield(ctx: &mut ExecCtx, argv: Argv) {
    if argv.len() >= 3 {
        let Some(count) = parse_count(&mut ctx.reply, argv.get(2)) else {
            return;
        };
        let with_values = match argv.len() {
            3 => false,
            4 if option_is(argv.get(3), "withvalues") => true,
            _ => return ctx.reply.error(errors::SYNTAX),
        };
        if with_values && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
            return ctx.reply.error(WITHVALUES_RANGE);
        }
        return with_count(ctx, argv, count, with_values);
    }
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        HashLookup::Absent => ctx.reply.null(),
        HashLookup::WrongType => ctx.reply.error(errors::WRONGTYPE),
        HashLookup::Found(hash) if hash.is_empty() => ctx.reply.null(),
        HashLookup::Found(hash) => {
            let at = ctx.rng.below(hash.len());
            ctx.reply.bulk(hash.pair_at(at).0);
        }
    }
}

fn with_count(ctx: &mut ExecCtx, argv: Argv, count: i64, with_values: bool) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let max_bulk_len = ctx.config.proto_max_bulk_len;
    let db = ctx.keyspace.db(ctx.db_index);
    let hash = match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        HashLookup::Absent => return ctx.reply.array(0),
        HashLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        HashLookup::Found(hash) => &*hash,
    };
    let size = hash.len();
    let wanted = count.unsigned_abs();
    if wanted == 0 || size == 0 {
        return ctx.reply.array(0);
    }
    if count < 0 || wanted == 1 {
        let min_bytes = if with_values {
            2 * MIN_BULK_REPLY
        } else {
            MIN_BULK_REPLY
        };
        let Some(budget) = RepeatBudget::new(&mut ctx.reply, wanted, min_bytes, max_bulk_len)
        else {
            return;
        };
        reply_header(&mut ctx.reply, wanted as usize, with_values);
        // A listpack has no positional index: list its pairs once.
        let listed: Vec<(&[u8], &[u8])> = if hash.is_listpack() {
            hash.iter().collect()
        } else {
            Vec::new()
        };
        for _ in 0..wanted {
            let at = ctx.rng.below(size);
            let pick = if hash.is_listpack() {
                listed[at]
            } else {
                hash.pair_at(at)
            };
            reply_pick(&mut ctx.reply, pick, with_values);
            if !budget.still_fits(&mut ctx.reply) {
                return;
            }
        }
        return;
    }
    if wanted >= size as u64 {
        reply_header(&mut ctx.reply, size, with_values);
        for pair in hash.iter() {
            reply_pick(&mut ctx.reply, pair, with_values);
        }
        return;
    }
    let positions = distinct_positions(ctx.rng, size, wanted as usize);
    reply_header(&mut ctx.reply, positions.len(), with_values);
    for pair in hash.pairs_at(&positions) {
        reply_pick(&mut ctx.reply, pair, with_values);
    }
}
