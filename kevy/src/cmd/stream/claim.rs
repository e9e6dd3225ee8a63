//! `XCLAIM key group consumer min-idle id... [IDLE ms] [TIME ms] [RETRYCOUNT
//! n] [FORCE] [JUSTID] [LASTID id]` and `XAUTOCLAIM key group consumer
//! min-idle start [COUNT n] [JUSTID]`.
//!
//! Both move pending entries to a consumer, created only when something is
//! claimed, and drop pending entries whose stream entry was deleted
//! (XAUTOCLAIM reports those IDs in Redis 7.0's third reply element).
//! XCLAIM reads IDs until the first argument that is not one, then
//! options; XAUTOCLAIM walks the PEL from `start`, examining at most ten
//! entries per COUNT, and returns the next ID to resume from (`0-0` at the
//! end). Times come from `now_ms`.

use super::effects::{record_claim, record_dropped, record_position};
use super::{
    c_text, error_bytes, interval_start, lookup_read, no_such_key_or_group, option_is, reply_entry,
    reply_id, strict_id_or_reply, StreamLookup,
};
use crate::cmd::{errors, ExecCtx};
use crate::keyspace::stream::{
    parse_id, ConsumerGroup, IdSyntax, StreamEntries, StreamId, StreamValue,
};
use crate::resp::num::parse_i64;
use crate::resp::{Argv, ReplyBuf};

const XCLAIM_MIN_IDLE: &str = "ERR Invalid min-idle-time argument for XCLAIM";
const XCLAIM_IDLE: &str = "ERR Invalid IDLE option argument for XCLAIM";
const XCLAIM_TIME: &str = "ERR Invalid TIME option argument for XCLAIM";
const XCLAIM_RETRYCOUNT: &str = "ERR Invalid RETRYCOUNT option argument for XCLAIM";
const XAUTOCLAIM_MIN_IDLE: &str = "ERR Invalid min-idle-time argument for XAUTOCLAIM";
const XAUTOCLAIM_COUNT: &str = "ERR COUNT must be > 0";

/// Largest XAUTOCLAIM COUNT: `LONG_MAX / max(sizeof(streamID), 10)`.
const XAUTOCLAIM_MAX_COUNT: i64 = i64::MAX / 16;
/// PEL entries XAUTOCLAIM may examine per entry of COUNT.
const ATTEMPTS_PER_COUNT: i64 = 10;

/// XCLAIM's options.
struct ClaimOptions {
    /// Delivery time to set (Unix ms).
    delivery_time: i64,
    retry_count: Option<u64>,
    force: bool,
    just_id: bool,
    last_id: StreamId,
}

/// Parses XCLAIM's options from `at`, replying errors.
fn parse_options(
    reply: &mut ReplyBuf,
    now: i64,
    argv: Argv,
    mut at: usize,
) -> Option<ClaimOptions> {
    let mut options = ClaimOptions {
        delivery_time: -1,
        retry_count: None,
        force: false,
        just_id: false,
        last_id: StreamId::MIN,
    };
    let number = |reply: &mut ReplyBuf, arg: &[u8], error: &str| {
        let n = parse_i64(arg);
        if n.is_none() {
            reply.error(error);
        }
        n
    };
    while at < argv.len() {
        let more = argv.len() - 1 - at;
        let opt = argv.get(at);
        if option_is(opt, "force") {
            options.force = true;
        } else if option_is(opt, "justid") {
            options.just_id = true;
        } else if option_is(opt, "idle") && more > 0 {
            at += 1;
            let idle = number(reply, argv.get(at), XCLAIM_IDLE)?;
            options.delivery_time = now.wrapping_sub(idle);
        } else if option_is(opt, "time") && more > 0 {
            at += 1;
            options.delivery_time = number(reply, argv.get(at), XCLAIM_TIME)?;
        } else if option_is(opt, "retrycount") && more > 0 {
            at += 1;
            let count = number(reply, argv.get(at), XCLAIM_RETRYCOUNT)?;
            options.retry_count = u64::try_from(count).ok();
        } else if option_is(opt, "lastid") && more > 0 {
            at += 1;
            options.last_id = strict_id_or_reply(reply, argv.get(at))?;
        } else {
            let mut message = b"ERR Unrecognized XCLAIM option '".to_vec();
            message.extend_from_slice(c_text(opt));
            message.push(b'\'');
            error_bytes(reply, &message);
            return None;
        }
        at += 1;
    }
    if options.delivery_time < 0 || options.delivery_time > now {
        options.delivery_time = now;
    }
    Some(options)
}

/// Gives pending entry `id` to `consumer`: the consumer is created (or
/// seen) on the first claim, the entry's delivery time is set and its
/// count set or incremented.
fn claim_one(
    group: &mut ConsumerGroup,
    consumer: &[u8],
    id: StreamId,
    delivery: (i64, Option<u64>, bool),
    seen: &mut bool,
    now: i64,
) {
    let (time, retry_count, just_id) = delivery;
    if !*seen {
        group.touch_consumer(consumer, now);
        *seen = true;
    }
    let previous = group.pel.get(&id).map_or(1, |p| p.delivery_count);
    let count = match retry_count {
        Some(n) => n,
        None if just_id => previous,
        None => previous.wrapping_add(1),
    };
    group.assign(id, consumer, (time, count));
}

/// Replies a claimed entry (or just its ID).
fn reply_claimed(out: &mut ReplyBuf, entries: &StreamEntries, id: StreamId, just_id: bool) {
    match entries.get(id) {
        Some(entry) if !just_id => reply_entry(out, entry),
        _ => reply_id(out, id),
    }
}

pub(super) fn xclaim(ctx: &mut ExecCtx, argv: Argv) {
    let (key, group_name, consumer) = (argv.get(1), argv.get(2), argv.get(3));
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let stream = match lookup_read(db, ctx.stats, key, now, clock) {
        StreamLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        StreamLookup::Found(stream) if stream.groups.contains_key(group_name) => stream,
        _ => return no_such_key_or_group(&mut ctx.reply, key, group_name, ""),
    };
    let Some(min_idle) = parse_i64(argv.get(4)) else {
        return ctx.reply.error(XCLAIM_MIN_IDLE);
    };
    let min_idle = min_idle.max(0);
    let mut first_option = 5;
    while first_option < argv.len() && parse_id(argv.get(first_option), IdSyntax::STRICT).is_some()
    {
        first_option += 1;
    }
    let Some(options) = parse_options(&mut ctx.reply, now as i64, argv, first_option) else {
        return;
    };
    let now = now as i64;
    // Recorded as the claims it made (see `effects`).
    ctx.effects.suppress();
    let StreamValue { entries, groups } = stream;
    let group = groups
        .get_mut(group_name)
        .expect("the group was found above");
    let position_moved = options.last_id > group.last_id;
    if position_moved {
        group.last_id = options.last_id;
    }
    let mut body = Vec::new();
    let mut out = ReplyBuf::new(&mut body, ctx.reply.resp3);
    let mut claimed = 0;
    let mut seen = false;
    for i in 5..first_option {
        let Some(parsed) = parse_id(argv.get(i), IdSyntax::STRICT) else {
            continue;
        };
        let id = parsed.id;
        if !entries.contains(id) {
            if group.pel.contains_key(&id) {
                record_dropped(ctx.effects, key, group_name, id);
            }
            group.remove_pending(id);
            continue;
        }
        let pending = group.pel.get(&id);
        if pending.is_none() && !options.force {
            continue;
        }
        // A FORCE-created entry has no owner yet and ignores the idle test.
        if let Some(pending) = pending {
            if min_idle != 0 && now.wrapping_sub(pending.delivery_time) < min_idle {
                continue;
            }
        }
        let delivery = (options.delivery_time, options.retry_count, options.just_id);
        claim_one(group, consumer, id, delivery, &mut seen, now);
        record_claim(ctx.effects, key, group_name, consumer, group, id);
        reply_claimed(&mut out, entries, id, options.just_id);
        claimed += 1;
    }
    if claimed == 0 && position_moved {
        record_position(ctx.effects, key, group_name, group);
    }
    ctx.reply.array(claimed);
    ctx.reply.raw(&body);
}

pub(super) fn xautoclaim(ctx: &mut ExecCtx, argv: Argv) {
    let (key, group_name, consumer) = (argv.get(1), argv.get(2), argv.get(3));
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let found = lookup_read(db, ctx.stats, key, now, clock);
    let reply = &mut ctx.reply;
    let Some(min_idle) = parse_i64(argv.get(4)) else {
        return reply.error(XAUTOCLAIM_MIN_IDLE);
    };
    let min_idle = min_idle.max(0);
    let Some(start) = interval_start(reply, argv.get(5)) else {
        return;
    };
    let mut count = 100;
    let mut just_id = false;
    let mut at = 6;
    while at < argv.len() {
        let more = argv.len() - 1 - at;
        if option_is(argv.get(at), "count") && more > 0 {
            match parse_i64(argv.get(at + 1)) {
                Some(n) if (1..=XAUTOCLAIM_MAX_COUNT).contains(&n) => count = n,
                _ => return reply.error(XAUTOCLAIM_COUNT),
            }
            at += 1;
        } else if option_is(argv.get(at), "justid") {
            just_id = true;
        } else {
            return reply.error(errors::SYNTAX);
        }
        at += 1;
    }
    let stream = match found {
        StreamLookup::WrongType => return reply.error(errors::WRONGTYPE),
        StreamLookup::Found(stream) if stream.groups.contains_key(group_name) => stream,
        _ => return no_such_key_or_group(reply, key, group_name, ""),
    };
    // Recorded as the claims it made (see `effects`).
    ctx.effects.suppress();
    let StreamValue { entries, groups } = stream;
    let group = groups
        .get_mut(group_name)
        .expect("the group was found above");
    let now = now as i64;
    let mut attempts = count * ATTEMPTS_PER_COUNT;
    let mut body = Vec::new();
    let mut out = ReplyBuf::new(&mut body, reply.resp3);
    let mut claimed = 0;
    let mut deleted = Vec::new();
    let mut seen = false;
    let mut after: Option<StreamId> = None;
    let mut exhausted = false;
    while attempts > 0 && count > 0 {
        attempts -= 1;
        let next = match after {
            None => group.pel.range(start..).next(),
            Some(last) => group
                .pel
                .range((std::ops::Bound::Excluded(last), std::ops::Bound::Unbounded))
                .next(),
        };
        let Some((&id, pending)) = next else {
            exhausted = true;
            break;
        };
        after = Some(id);
        if !entries.contains(id) {
            group.remove_pending(id);
            record_dropped(ctx.effects, key, group_name, id);
            deleted.push(id);
            count -= 1;
            continue;
        }
        if min_idle != 0 && now.wrapping_sub(pending.delivery_time) < min_idle {
            continue;
        }
        claim_one(group, consumer, id, (now, None, just_id), &mut seen, now);
        record_claim(ctx.effects, key, group_name, consumer, group, id);
        reply_claimed(&mut out, entries, id, just_id);
        claimed += 1;
        count -= 1;
    }
    let cursor = if exhausted {
        None
    } else {
        match after {
            None => group.pel.range(start..).next(),
            Some(last) => group
                .pel
                .range((std::ops::Bound::Excluded(last), std::ops::Bound::Unbounded))
                .next(),
        }
        .map(|(id, _)| *id)
    };
    reply.array(3);
    reply_id(reply, cursor.unwrap_or(StreamId::MIN));
    reply.array(claimed);
    reply.raw(&body);
    reply.array(deleted.len());
    for id in deleted {
        reply_id(reply, id);
    }
}
