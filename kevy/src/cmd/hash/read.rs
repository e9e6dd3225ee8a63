//! `HGET HMGET HLEN HSTRLEN HEXISTS HKEYS HVALS HGETALL HSCAN`: reads.
//!
//! Each looks its key up as Redis's `lookupKeyRead` (a keyspace hit or
//! miss counted). A missing key reads as an empty hash: null, zero, or an
//! empty array or map, whichever Redis answers for that command. Listings
//! come in the hash's own order: insertion order for a listpack, table
//! order for a hashtable.

use super::{lookup_read, HashLookup};
use crate::cmd::set::scan::{cursor_or_reply, parse_options, reply_empty_scan};
use crate::cmd::{errors, ExecCtx};
use crate::keyspace::hash::HashValue;
use crate::resp::{Argv, ReplyBuf};

/// The hash at `argv[1]` for a read; None when the reply is already made
/// (`absent` answers a missing key, WRONGTYPE another type).
fn read_hash<'c, 'x>(
    ctx: &'c mut ExecCtx<'x>,
    argv: Argv,
    absent: fn(&mut ReplyBuf),
) -> Option<(&'c HashValue, &'c mut ReplyBuf<'x>)> {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        HashLookup::Absent => {
            absent(&mut ctx.reply);
            None
        }
        HashLookup::WrongType => {
            ctx.reply.error(errors::WRONGTYPE);
            None
        }
        HashLookup::Found(hash) => Some((&*hash, &mut ctx.reply)),
    }
}

pub(in crate::cmd) fn hget(ctx: &mut ExecCtx, argv: Argv) {
    if let Some((hash, reply)) = read_hash(ctx, argv, |r| r.null()) {
        match hash.get(argv.get(2)) {
            Some(value) => reply.bulk(value),
            None => reply.null(),
        }
    }
}

pub(in crate::cmd) fn hmget(ctx: &mut ExecCtx, argv: Argv) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    // A missing key is an empty hash: a null for every field.
    let hash = match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        HashLookup::Absent => None,
        HashLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        HashLookup::Found(hash) => Some(&*hash),
    };
    ctx.reply.array(argv.len() - 2);
    for field in argv.iter().skip(2) {
        match hash.and_then(|h| h.get(field)) {
            Some(value) => ctx.reply.bulk(value),
            None => ctx.reply.null(),
        }
    }
}

pub(in crate::cmd) fn hlen(ctx: &mut ExecCtx, argv: Argv) {
    if let Some((hash, reply)) = read_hash(ctx, argv, |r| r.int(0)) {
        reply.int(hash.len() as i64);
    }
}

pub(in crate::cmd) fn hstrlen(ctx: &mut ExecCtx, argv: Argv) {
    if let Some((hash, reply)) = read_hash(ctx, argv, |r| r.int(0)) {
        reply.int(hash.get(argv.get(2)).map_or(0, <[u8]>::len) as i64);
    }
}

pub(in crate::cmd) fn hexists(ctx: &mut ExecCtx, argv: Argv) {
    if let Some((hash, reply)) = read_hash(ctx, argv, |r| r.int(0)) {
        reply.int(i64::from(hash.contains(argv.get(2))));
    }
}

pub(in crate::cmd) fn hkeys(ctx: &mut ExecCtx, argv: Argv) {
    if let Some((hash, reply)) = read_hash(ctx, argv, |r| r.array(0)) {
        reply.bulks(hash.iter().map(|(field, _)| field));
    }
}

pub(in crate::cmd) fn hvals(ctx: &mut ExecCtx, argv: Argv) {
    if let Some((hash, reply)) = read_hash(ctx, argv, |r| r.array(0)) {
        reply.bulks(hash.iter().map(|(_, value)| value));
    }
}

pub(in crate::cmd) fn hgetall(ctx: &mut ExecCtx, argv: Argv) {
    if let Some((hash, reply)) = read_hash(ctx, argv, |r| r.map(0)) {
        reply.map(hash.len());
        for (field, value) in hash.iter() {
            reply.bulk(field);
            reply.bulk(value);
        }
    }
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count]`: fields and values,
/// the pattern matched against fields.
pub(in crate::cmd) fn hscan(ctx: &mut ExecCtx, argv: Argv) {
    let Some(cursor) = cursor_or_reply(&mut ctx.reply, argv.get(2)) else {
        return;
    };
    let Some((hash, reply)) = read_hash(ctx, argv, reply_empty_scan) else {
        return;
    };
    let Some(options) = parse_options(reply, argv, 3) else {
        return;
    };
    let mut found: Vec<&[u8]> = Vec::new();
    let next = hash.scan(cursor, options.count, |field, value| {
        if options.matches(field) {
            found.push(field);
            found.push(value);
        }
    });
    reply.array(2);
    reply.bulk(next.to_string().as_bytes());
    reply.bulks(found.into_iter());
}
