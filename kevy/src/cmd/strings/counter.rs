//! `INCR DECR INCRBY DECRBY INCRBYFLOAT`: numbers kept in strings.
//!
//! The integer commands read the value as Redis's strict `string2ll` does,
//! refuse to overflow, and store the result in the `int` encoding.
//! INCRBYFLOAT computes in C `long double` (see `float.rs`) and stores the
//! printed sum as a plain string. Both replace the value in place, so the
//! key keeps its TTL.

use super::{float, StrLookup};
use crate::cmd::lookup_write;
use crate::cmd::{errors, ExecCtx};
use crate::keyspace::{RString, Value};
use crate::resp::num::parse_i64;
use crate::resp::Argv;

const DECREMENT_OVERFLOW: &str = "ERR decrement would overflow";
const NAN_OR_INFINITY: &str = "ERR increment would produce NaN or Infinity";

/// Redis's `incrDecrCommand`: adds `by` to the integer at `key`.
fn add_to_integer(ctx: &mut ExecCtx, key: &[u8], by: i64) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_write(db, key, now, clock) {
        StrLookup::WrongType => ctx.reply.error(errors::WRONGTYPE),
        StrLookup::Absent => {
            db.insert_new(key.into(), Value::Str(RString::Int(by)), None, clock);
            ctx.reply.int(by);
        }
        StrLookup::Found(s) => {
            let current = match s {
                RString::Int(n) => Some(*n),
                RString::Bytes { data, .. } => parse_i64(data),
            };
            let Some(current) = current else {
                ctx.reply.error(errors::NOT_INTEGER);
                return;
            };
            let Some(sum) = current.checked_add(by) else {
                ctx.reply.error(errors::OVERFLOW);
                return;
            };
            *s = RString::Int(sum);
            ctx.reply.int(sum);
        }
    }
}

pub(super) fn incr(ctx: &mut ExecCtx, argv: Argv) {
    add_to_integer(ctx, argv.get(1), 1);
}

pub(super) fn decr(ctx: &mut ExecCtx, argv: Argv) {
    add_to_integer(ctx, argv.get(1), -1);
}

pub(super) fn incrby(ctx: &mut ExecCtx, argv: Argv) {
    match parse_i64(argv.get(2)) {
        Some(by) => add_to_integer(ctx, argv.get(1), by),
        None => ctx.reply.error(errors::NOT_INTEGER),
    }
}

pub(super) fn decrby(ctx: &mut ExecCtx, argv: Argv) {
    match parse_i64(argv.get(2)) {
        None => ctx.reply.error(errors::NOT_INTEGER),
        // -i64::MIN does not exist.
        Some(i64::MIN) => ctx.reply.error(DECREMENT_OVERFLOW),
        Some(by) => add_to_integer(ctx, argv.get(1), -by),
    }
}

pub(super) fn incrbyfloat(ctx: &mut ExecCtx, argv: Argv) {
    let (key, increment) = (argv.get(1), argv.get(2));
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let mut scratch = Vec::new();
    let found = lookup_write(db, key, now, clock);
    let current = match &found {
        StrLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        StrLookup::Absent => None,
        StrLookup::Found(s) => Some(s.as_bytes(&mut scratch)),
    };
    let text = match float::add(current, increment) {
        float::Sum::Text(text) => text,
        float::Sum::NotFloat => return ctx.reply.error(errors::NOT_FLOAT),
        float::Sum::NanOrInfinity => return ctx.reply.error(NAN_OR_INFINITY),
    };
    ctx.reply.bulk(&text);
    // The sum as text: a replay elsewhere cannot round differently.
    ctx.effects.replace(&[b"SET", key, &text, b"KEEPTTL"]);
    match found {
        StrLookup::Found(s) => *s = RString::plain(text),
        _ => db.insert_new(key.into(), Value::Str(RString::plain(text)), None, clock),
    }
}
