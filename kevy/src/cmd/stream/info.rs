//! `XINFO STREAM key [FULL [COUNT n]] | GROUPS key | CONSUMERS key group |
//! HELP`, with Redis 7.0's fields: `max-deleted-entry-id`, `entries-added`,
//! `recorded-first-entry-id`, and per group `entries-read` and `lag`.
//!
//! Node counts come from the stream's Redis-shaped nodes; consumer idle
//! times are computed from `now_ms`.

use super::{
    lookup_read, no_such_group, option_is, reply_entries, reply_entry, reply_help, reply_id,
    subcommand, subcommand_syntax_error, StreamLookup,
};
use crate::cmd::{errors, ExecCtx};
use crate::keyspace::stream::{ConsumerGroup, StreamEntries, StreamId, ENTRIES_READ_UNKNOWN};
use crate::resp::num::parse_i64;
use crate::resp::{Argv, ReplyBuf};

const SUBCOMMANDS: &[(&str, i32)] = &[("consumers", 4), ("groups", 3), ("stream", -3), ("help", 2)];

const HELP: &[&str] = &[
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
];

/// Entries and PEL rows `XINFO STREAM FULL` shows without COUNT.
const FULL_DEFAULT_COUNT: u64 = 10;

pub(super) fn xinfo(ctx: &mut ExecCtx, argv: Argv) {
    let Some(sub) = subcommand(&mut ctx.reply, argv, "XINFO", SUBCOMMANDS) else {
        return;
    };
    if sub == "help" {
        return reply_help(&mut ctx.reply, "XINFO", HELP);
    }
    let key = argv.get(2);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let stream = match lookup_read(db, ctx.stats, key, now, clock) {
        StreamLookup::Absent => return ctx.reply.error(errors::NO_SUCH_KEY),
        StreamLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        StreamLookup::Found(stream) => stream,
    };
    let reply = &mut ctx.reply;
    match sub {
        "consumers" => {
            let group_name = argv.get(3);
            let Some(group) = stream.groups.get(group_name) else {
                return no_such_group(reply, group_name, key);
            };
            reply.array(group.consumers.len());
            for (name, consumer) in &group.consumers {
                reply.map(3);
                reply.bulk(b"name");
                reply.bulk(name);
                reply.bulk(b"pending");
                reply.int(consumer.pel.len() as i64);
                reply.bulk(b"idle");
                reply.int((now as i64).wrapping_sub(consumer.seen_time).max(0));
            }
        }
        "groups" => {
            reply.array(stream.groups.len());
            for (name, group) in &stream.groups {
                reply.map(6);
                reply.bulk(b"name");
                reply.bulk(name);
                reply.bulk(b"consumers");
                reply.int(group.consumers.len() as i64);
                reply.bulk(b"pending");
                reply.int(group.pel.len() as i64);
                reply.bulk(b"last-delivered-id");
                reply_id(reply, group.last_id);
                reply_read_counters(reply, &stream.entries, group);
            }
        }
        _ => {
            let full = match argv.len() {
                3 => None,
                4 if option_is(argv.get(3), "full") => Some(FULL_DEFAULT_COUNT),
                6 if option_is(argv.get(3), "full") && option_is(argv.get(4), "count") => {
                    match parse_i64(argv.get(5)) {
                        Some(n) if n < 0 => Some(FULL_DEFAULT_COUNT),
                        Some(n) => Some(n as u64),
                        None => return reply.error(errors::NOT_INTEGER),
                    }
                }
                _ => return subcommand_syntax_error(reply, argv.get(1), "XINFO"),
            };
            let entries = &stream.entries;
            reply.map(if full.is_some() { 9 } else { 10 });
            reply.bulk(b"length");
            reply.int(entries.len() as i64);
            reply.bulk(b"radix-tree-keys");
            reply.int(entries.node_count() as i64);
            reply.bulk(b"radix-tree-nodes");
            reply.int(entries.rax_nodes() as i64);
            reply.bulk(b"last-generated-id");
            reply_id(reply, entries.last_id);
            reply.bulk(b"max-deleted-entry-id");
            reply_id(reply, entries.max_deleted_entry_id);
            reply.bulk(b"entries-added");
            reply.int(entries.entries_added);
            reply.bulk(b"recorded-first-entry-id");
            reply_id(reply, entries.first_id());
            match full {
                None => {
                    reply.bulk(b"groups");
                    reply.int(stream.groups.len() as i64);
                    reply.bulk(b"first-entry");
                    match entries.range(StreamId::MIN, StreamId::MAX).next() {
                        Some(entry) => reply_entry(reply, entry),
                        None => reply.null(),
                    }
                    reply.bulk(b"last-entry");
                    match entries.range_rev(StreamId::MIN, StreamId::MAX).next() {
                        Some(entry) => reply_entry(reply, entry),
                        None => reply.null(),
                    }
                }
                Some(count) => {
                    let limit = match count {
                        0 => usize::MAX,
                        n => usize::try_from(n).unwrap_or(usize::MAX),
                    };
                    reply.bulk(b"entries");
                    let shown: Vec<_> = entries
                        .range(StreamId::MIN, StreamId::MAX)
                        .take(limit)
                        .collect();
                    reply_entries(reply, &shown);
                    reply.bulk(b"groups");
                    reply.array(stream.groups.len());
                    for (name, group) in &stream.groups {
                        reply_full_group(reply, entries, name, group, limit);
                    }
                }
            }
        }
    }
}

/// `entries-read` (null when unknown) and `lag` (null when unknowable).
fn reply_read_counters(reply: &mut ReplyBuf, entries: &StreamEntries, group: &ConsumerGroup) {
    reply.bulk(b"entries-read");
    if group.entries_read == ENTRIES_READ_UNKNOWN {
        reply.null();
    } else {
        reply.int(group.entries_read);
    }
    reply.bulk(b"lag");
    match entries.lag(group) {
        Some(lag) => reply.int(lag),
        None => reply.null(),
    }
}

/// One group of `XINFO STREAM FULL`, with at most `limit` PEL rows per
/// list.
fn reply_full_group(
    reply: &mut ReplyBuf,
    entries: &StreamEntries,
    name: &[u8],
    group: &ConsumerGroup,
    limit: usize,
) {
    reply.map(7);
    reply.bulk(b"name");
    reply.bulk(name);
    reply.bulk(b"last-delivered-id");
    reply_id(reply, group.last_id);
    reply_read_counters(reply, entries, group);
    reply.bulk(b"pel-count");
    reply.int(group.pel.len() as i64);
    reply.bulk(b"pending");
    let rows = group.pel.len().min(limit);
    reply.array(rows);
    for (id, pending) in group.pel.iter().take(rows) {
        reply.array(4);
        reply_id(reply, *id);
        reply.bulk(&pending.consumer);
        reply.int(pending.delivery_time);
        reply.int(pending.delivery_count as i64);
    }
    reply.bulk(b"consumers");
    reply.array(group.consumers.len());
    for (consumer_name, consumer) in &group.consumers {
        reply.map(4);
        reply.bulk(b"name");
        reply.bulk(consumer_name);
        reply.bulk(b"seen-time");
        reply.int(consumer.seen_time);
        reply.bulk(b"pel-count");
        reply.int(consumer.pel.len() as i64);
        reply.bulk(b"pending");
        let rows = consumer.pel.len().min(limit);
        reply.array(rows);
        for id in consumer.pel.iter().take(rows) {
            let pending = group.pel.get(id);
            reply.array(3);
            reply_id(reply, *id);
            reply.int(pending.map_or(0, |p| p.delivery_time));
            reply.int(pending.map_or(0, |p| p.delivery_count as i64));
        }
    }
}
