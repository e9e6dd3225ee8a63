//! `SADD SREM SCARD SISMEMBER SMISMEMBER SMOVE`: one member at a time.
//!
//! Writes look their key up without counting hits (`lookupKeyWrite`),
//! reads count them. A set that loses its last member is deleted, as
//! Redis never keeps an empty collection. SMOVE is atomic across shards:
//! its two keys are in this one keyspace when it runs.

use super::{lookup_read, lookup_write, set_limits, write_or_create, SetLookup};
use crate::cmd::{errors, ExecCtx};
use crate::keyspace::set::SetValue;
use crate::keyspace::{Db, Value};
use crate::resp::Argv;

pub(in crate::cmd) fn sadd(ctx: &mut ExecCtx, argv: Argv) {
    let limits = set_limits(ctx.config);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let added = write_or_create(
        db,
        argv.get(1),
        now,
        clock,
        || SetValue::for_member(argv.get(2)),
        |set| {
            argv.iter()
                .skip(2)
                .filter(|member| set.add(member, limits))
                .count()
        },
    );
    match added {
        Some(added) => ctx.reply.int(added as i64),
        None => ctx.reply.error(errors::WRONGTYPE),
    }
}

pub(in crate::cmd) fn srem(ctx: &mut ExecCtx, argv: Argv) {
    let key = argv.get(1);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let (removed, emptied) = match lookup_write(db, key, now, clock) {
        SetLookup::Absent => return ctx.reply.int(0),
        SetLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        SetLookup::Found(set) => {
            let mut removed = 0;
            for member in argv.iter().skip(2) {
                if set.remove(member) {
                    removed += 1;
                    if set.is_empty() {
                        break;
                    }
                }
            }
            (removed, set.is_empty())
        }
    };
    if emptied {
        db.remove(key);
    }
    ctx.reply.int(removed);
}

pub(in crate::cmd) fn scard(ctx: &mut ExecCtx, argv: Argv) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        SetLookup::Absent => ctx.reply.int(0),
        SetLookup::WrongType => ctx.reply.error(errors::WRONGTYPE),
        SetLookup::Found(set) => ctx.reply.int(set.len() as i64),
    }
}

pub(in crate::cmd) fn sismember(ctx: &mut ExecCtx, argv: Argv) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        SetLookup::Absent => ctx.reply.int(0),
        SetLookup::WrongType => ctx.reply.error(errors::WRONGTYPE),
        SetLookup::Found(set) => ctx.reply.int(i64::from(set.contains(argv.get(2)))),
    }
}

pub(in crate::cmd) fn smismember(ctx: &mut ExecCtx, argv: Argv) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    // A missing key is an empty set: a zero for every member.
    let set = match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        SetLookup::Absent => None,
        SetLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        SetLookup::Found(set) => Some(&*set),
    };
    ctx.reply.array(argv.len() - 2);
    for member in argv.iter().skip(2) {
        let found = set.is_some_and(|s| s.contains(member));
        ctx.reply.int(i64::from(found));
    }
}

/// What a key holds, for commands that check several keys before acting.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Holds {
    Nothing,
    Set,
    Other,
}

fn holds(db: &mut Db, key: &[u8], now_ms: u64, clock: u32) -> Holds {
    match db.get_touch(key, now_ms, clock).map(|e| &e.value) {
        None => Holds::Nothing,
        Some(Value::Set(_)) => Holds::Set,
        Some(_) => Holds::Other,
    }
}

/// `SMOVE source destination member`.
pub(in crate::cmd) fn smove(ctx: &mut ExecCtx, argv: Argv) {
    let (source, destination, member) = (argv.get(1), argv.get(2), argv.get(3));
    let limits = set_limits(ctx.config);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let from = holds(db, source, now, clock);
    let to = holds(db, destination, now, clock);
    // A missing source answers 0 before any type check, as in Redis.
    if from == Holds::Nothing {
        return ctx.reply.int(0);
    }
    if from == Holds::Other || to == Holds::Other {
        return ctx.reply.error(errors::WRONGTYPE);
    }
    let (removed, emptied) = match lookup_write(db, source, now, clock) {
        SetLookup::Found(set) if source == destination => {
            return ctx.reply.int(i64::from(set.contains(member)));
        }
        SetLookup::Found(set) => (set.remove(member), set.is_empty()),
        _ => unreachable!("the source was just found to hold a set"),
    };
    if !removed {
        return ctx.reply.int(0);
    }
    if emptied {
        db.remove(source);
    }
    write_or_create(
        db,
        destination,
        now,
        clock,
        || SetValue::for_member(member),
        |set| set.add(member, limits),
    );
    ctx.reply.int(1);
}
