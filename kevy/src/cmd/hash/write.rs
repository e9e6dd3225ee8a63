//! `HSET HMSET HSETNX HDEL HINCRBY HINCRBYFLOAT`: writes.
//!
//! Arguments are checked before the key is touched, in Redis's order, so
//! an error never leaves a half-done write or an empty hash behind. A
//! missing key gets a new listpack hash (`hashTypeLookupWriteOrCreate`);
//! multi-field writes run Redis's `hashTypeTryConversion` over all their
//! arguments first, and every single set converts as `hashTypeSet` does.
//! A hash that loses its last field is deleted.

use super::float::{self, Sum};
use super::{hash_limits, lookup_write, write_or_create, HashLookup};
use crate::cmd::{errors, ExecCtx};
use crate::resp::num::{parse_i64, push_i64};
use crate::resp::Argv;

const HASH_NOT_INTEGER: &str = "ERR hash value is not an integer";
const HASH_NOT_FLOAT: &str = "ERR hash value is not a float";
const INCREMENT_NAN_OR_INFINITY: &str = "ERR value is NaN or Infinity";
const RESULT_NAN_OR_INFINITY: &str = "ERR increment would produce NaN or Infinity";

/// `HSET key field value [field value ...]` (replies how many fields are
/// new) and `HMSET` (replies OK).
pub(in crate::cmd) fn hset(ctx: &mut ExecCtx, argv: Argv) {
    let is_hmset = argv.get(0).eq_ignore_ascii_case(b"hmset");
    if argv.len() % 2 == 1 {
        let name = if is_hmset { "hmset" } else { "hset" };
        return ctx.reply.error(&errors::wrong_args(name));
    }
    let limits = hash_limits(ctx.config);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let created = write_or_create(db, argv.get(1), now, clock, |hash| {
        hash.prepare_for(argv.iter().skip(2), limits);
        let mut created = 0;
        for at in (2..argv.len()).step_by(2) {
            if hash.set(argv.get(at), argv.get(at + 1), limits) {
                created += 1;
            }
        }
        created
    });
    match created {
        None => ctx.reply.error(errors::WRONGTYPE),
        Some(_) if is_hmset => ctx.reply.ok(),
        Some(created) => ctx.reply.int(created),
    }
}

/// `HSETNX key field value`.
pub(in crate::cmd) fn hsetnx(ctx: &mut ExecCtx, argv: Argv) {
    let (field, value) = (argv.get(2), argv.get(3));
    let limits = hash_limits(ctx.config);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let set = write_or_create(db, argv.get(1), now, clock, |hash| {
        if hash.contains(field) {
            return false;
        }
        hash.prepare_for([field, value].into_iter(), limits);
        hash.set(field, value, limits);
        true
    });
    match set {
        None => ctx.reply.error(errors::WRONGTYPE),
        Some(set) => ctx.reply.int(i64::from(set)),
    }
}

/// `HDEL key field [field ...]`.
pub(in crate::cmd) fn hdel(ctx: &mut ExecCtx, argv: Argv) {
    let key = argv.get(1);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let (deleted, emptied) = match lookup_write(db, key, now, clock) {
        HashLookup::Absent => return ctx.reply.int(0),
        HashLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        HashLookup::Found(hash) => {
            let mut deleted = 0;
            for field in argv.iter().skip(2) {
                if hash.remove(field) {
                    deleted += 1;
                    if hash.is_empty() {
                        break;
                    }
                }
            }
            (deleted, hash.is_empty())
        }
    };
    if emptied {
        db.remove(key);
    }
    ctx.reply.int(deleted);
}

/// `HINCRBY key field increment`.
pub(in crate::cmd) fn hincrby(ctx: &mut ExecCtx, argv: Argv) {
    let Some(increment) = parse_i64(argv.get(3)) else {
        return ctx.reply.error(errors::NOT_INTEGER);
    };
    let field = argv.get(2);
    let limits = hash_limits(ctx.config);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let outcome = write_or_create(db, argv.get(1), now, clock, |hash| {
        let current = match hash.get(field) {
            Some(text) => parse_i64(text).ok_or(HASH_NOT_INTEGER)?,
            None => 0,
        };
        let sum = current.checked_add(increment).ok_or(errors::OVERFLOW)?;
        let mut digits = Vec::with_capacity(20);
        push_i64(&mut digits, sum);
        hash.set(field, &digits, limits);
        Ok(sum)
    });
    match outcome {
        None => ctx.reply.error(errors::WRONGTYPE),
        Some(Err(message)) => ctx.reply.error(message),
        Some(Ok(sum)) => ctx.reply.int(sum),
    }
}

/// `HINCRBYFLOAT key field increment`: `long double` arithmetic printed as
/// INCRBYFLOAT prints it.
pub(in crate::cmd) fn hincrbyfloat(ctx: &mut ExecCtx, argv: Argv) {
    let (field, increment) = (argv.get(2), argv.get(3));
    // The increment alone: is it a number, and a finite one?
    match float::add(None, increment) {
        Sum::NotFloat => return ctx.reply.error(errors::NOT_FLOAT),
        Sum::NanOrInfinity => return ctx.reply.error(INCREMENT_NAN_OR_INFINITY),
        Sum::Text(_) => {}
    }
    let limits = hash_limits(ctx.config);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let outcome = write_or_create(db, argv.get(1), now, clock, |hash| {
        // The increment is valid, so a failure is the stored value's.
        match float::add(hash.get(field), increment) {
            Sum::Text(text) => {
                hash.set(field, &text, limits);
                Ok(text)
            }
            Sum::NotFloat => Err(HASH_NOT_FLOAT),
            Sum::NanOrInfinity => Err(RESULT_NAN_OR_INFINITY),
        }
    });
    match outcome {
        None => ctx.reply.error(errors::WRONGTYPE),
        Some(Err(message)) => ctx.reply.error(message),
        Some(Ok(text)) => {
            ctx.reply.bulk(&text);
            // The sum as text: a replay elsewhere cannot round differently.
            ctx.effects.replace(&[b"HSET", argv.get(1), field, &text]);
        }
    }
}
