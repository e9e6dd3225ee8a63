//! `XACK key group id...` and `XPENDING key group [[IDLE ms] start end
//! count [consumer]]`.
//!
//! XACK acknowledges all or nothing: every ID is parsed before any entry
//! leaves the PEL. XPENDING's short form summarizes the group's PEL (size,
//! smallest and largest ID, entries per consumer); the long form lists
//! entries with their owner, idle time (from `now_ms`) and delivery count.
//! Arguments are checked before the key, as in Redis.

use super::{
    interval_end, interval_start, lookup_read, no_such_key_or_group, option_is, reply_id,
    strict_id_or_reply, StreamLookup,
};
use crate::cmd::{errors, ExecCtx};
use crate::keyspace::stream::StreamId;
use crate::resp::num::parse_i64;
use crate::resp::Argv;

pub(super) fn xack(ctx: &mut ExecCtx, argv: Argv) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let group = match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        StreamLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        StreamLookup::Absent => None,
        StreamLookup::Found(stream) => stream.groups.get_mut(argv.get(2)),
    };
    let Some(group) = group else {
        return ctx.reply.int(0);
    };
    let mut ids = Vec::with_capacity(argv.len() - 3);
    for i in 3..argv.len() {
        match strict_id_or_reply(&mut ctx.reply, argv.get(i)) {
            Some(id) => ids.push(id),
            None => return,
        }
    }
    let acknowledged = ids
        .into_iter()
        .filter(|&id| group.remove_pending(id))
        .count();
    ctx.reply.int(acknowledged as i64);
}

/// The long form's arguments.
struct Extended<'a> {
    min_idle: i64,
    start: StreamId,
    end: StreamId,
    count: u64,
    consumer: Option<&'a [u8]>,
}

/// Parses `[IDLE ms] start end count [consumer]`, replying errors.
fn parse_extended<'a>(ctx: &mut ExecCtx, argv: Argv<'a>) -> Option<Extended<'a>> {
    let argc = argv.len();
    let mut at = 3;
    let mut min_idle = 0;
    if option_is(argv.get(3), "idle") {
        let Some(idle) = parse_i64(argv.get(4)) else {
            ctx.reply.error(errors::NOT_INTEGER);
            return None;
        };
        if argc < 8 {
            ctx.reply.error(errors::SYNTAX);
            return None;
        }
        min_idle = idle;
        at += 2;
    }
    let Some(count) = parse_i64(argv.get(at + 2)) else {
        ctx.reply.error(errors::NOT_INTEGER);
        return None;
    };
    let start = interval_start(&mut ctx.reply, argv.get(at))?;
    let end = interval_end(&mut ctx.reply, argv.get(at + 1))?;
    Some(Extended {
        min_idle,
        start,
        end,
        count: count.max(0) as u64,
        consumer: (at + 3 < argc).then(|| argv.get(at + 3)),
    })
}

pub(super) fn xpending(ctx: &mut ExecCtx, argv: Argv) {
    let argc = argv.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return ctx.reply.error(errors::SYNTAX);
    }
    let extended = if argc >= 6 {
        match parse_extended(ctx, argv) {
            Some(extended) => Some(extended),
            None => return,
        }
    } else {
        None
    };
    let (key, group_name) = (argv.get(1), argv.get(2));
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let group = match lookup_read(db, ctx.stats, key, now, clock) {
        StreamLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        StreamLookup::Absent => None,
        StreamLookup::Found(stream) => stream.groups.get(group_name),
    };
    let Some(group) = group else {
        return no_such_key_or_group(&mut ctx.reply, key, group_name, "");
    };
    let reply = &mut ctx.reply;
    let Some(extended) = extended else {
        reply.array(4);
        reply.int(group.pel.len() as i64);
        let (Some((first, _)), Some((last, _))) =
            (group.pel.first_key_value(), group.pel.last_key_value())
        else {
            reply.null();
            reply.null();
            reply.null_array();
            return;
        };
        reply_id(reply, *first);
        reply_id(reply, *last);
        let owners: Vec<_> = group
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .collect();
        reply.array(owners.len());
        for (name, consumer) in owners {
            reply.array(2);
            reply.bulk(name);
            reply.bulk_i64(consumer.pel.len() as i64);
        }
        return;
    };
    let (start, end) = (extended.start, extended.end);
    let ids: Box<dyn Iterator<Item = StreamId> + '_> = match extended.consumer {
        Some(name) => match group.consumers.get(name) {
            Some(consumer) => Box::new(
                consumer
                    .pel
                    .range(start..)
                    .take_while(move |id| **id <= end)
                    .copied(),
            ),
            None => return reply.array(0),
        },
        None => Box::new(
            group
                .pel
                .range(start..)
                .take_while(move |(id, _)| **id <= end)
                .map(|(id, _)| *id),
        ),
    };
    let now = now as i64;
    let mut rows = Vec::new();
    for id in ids {
        if rows.len() as u64 >= extended.count {
            break;
        }
        let Some(pending) = group.pel.get(&id) else {
            continue;
        };
        let idle = now.wrapping_sub(pending.delivery_time);
        if extended.min_idle != 0 && idle < extended.min_idle {
            continue;
        }
        rows.push((id, pending, idle.max(0)));
    }
    reply.array(rows.len());
    for (id, pending, idle) in rows {
        reply.array(4);
        reply_id(reply, id);
        reply.bulk(&pending.consumer);
        reply.int(idle);
        reply.int(pending.delivery_count as i64);
    }
}
