//! `APPEND STRLEN GETRANGE SUBSTR SETRANGE`: reading and editing parts of a
//! string.
//!
//! Edits change the bytes in place, which makes the string `raw` as
//! Redis's `dbUnshareStringValue` does, and keep the key's TTL. A string
//! may not grow past `proto-max-bulk-len`.

use super::{length_allowed, StrLookup};
use crate::cmd::{errors, ExecCtx};
use crate::cmd::{lookup_read, lookup_write};
use crate::keyspace::{RString, Value};
use crate::resp::num::parse_i64;
use crate::resp::Argv;

pub(super) fn append(ctx: &mut ExecCtx, argv: Argv) {
    let (key, tail) = (argv.get(1), argv.get(2));
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let max_len = ctx.config.proto_max_bulk_len;
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_write(db, key, now, clock) {
        StrLookup::Absent => {
            // A new key takes the argument as SET would (int, embstr, raw).
            db.insert_new(
                key.into(),
                Value::Str(RString::from_client(tail)),
                None,
                clock,
            );
            ctx.reply.int(tail.len() as i64);
        }
        StrLookup::WrongType => ctx.reply.error(errors::WRONGTYPE),
        StrLookup::Found(s) => {
            if !length_allowed(s.len() as u64, tail.len() as u64, max_len) {
                ctx.reply.error(errors::STRING_TOO_LONG);
                return;
            }
            let data = s.make_raw();
            data.extend_from_slice(tail);
            ctx.reply.int(data.len() as i64);
        }
    }
}

pub(super) fn strlen(ctx: &mut ExecCtx, argv: Argv) {
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_read(db, ctx.stats, argv.get(1), ctx.now_ms, ctx.clock) {
        StrLookup::Absent => ctx.reply.int(0),
        StrLookup::WrongType => ctx.reply.error(errors::WRONGTYPE),
        StrLookup::Found(s) => ctx.reply.int(s.len() as i64),
    }
}

/// The inclusive byte range GETRANGE returns from a string of `len`
/// bytes, None when empty: negative indexes count from the end, both ends
/// are clamped to the string, and two negative indexes in the wrong order
/// select nothing (Redis 7.0 checks that before clamping).
fn getrange_bounds(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len = i64::try_from(len).ok()?;
    let from_end = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let start = from_end(start);
    let end = from_end(end).min(len - 1);
    if len == 0 || start > end {
        return None;
    }
    Some((usize::try_from(start).ok()?, usize::try_from(end).ok()?))
}

/// GETRANGE and its old name SUBSTR.
pub(super) fn getrange(ctx: &mut ExecCtx, argv: Argv) {
    let (Some(start), Some(end)) = (parse_i64(argv.get(2)), parse_i64(argv.get(3))) else {
        ctx.reply.error(errors::NOT_INTEGER);
        return;
    };
    let db = ctx.keyspace.db(ctx.db_index);
    let value = match lookup_read(db, ctx.stats, argv.get(1), ctx.now_ms, ctx.clock) {
        StrLookup::Absent => return ctx.reply.bulk(b""),
        StrLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        StrLookup::Found(s) => s,
    };
    let mut scratch = Vec::new();
    let bytes = value.as_bytes(&mut scratch);
    match getrange_bounds(bytes.len(), start, end) {
        Some((from, to)) => ctx.reply.bulk(&bytes[from..=to]),
        None => ctx.reply.bulk(b""),
    }
}

pub(super) fn setrange(ctx: &mut ExecCtx, argv: Argv) {
    let (key, patch) = (argv.get(1), argv.get(3));
    let Some(offset) = parse_i64(argv.get(2)) else {
        ctx.reply.error(errors::NOT_INTEGER);
        return;
    };
    let Ok(offset) = u64::try_from(offset) else {
        ctx.reply.error(errors::OFFSET_OUT_OF_RANGE);
        return;
    };
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let max_len = ctx.config.proto_max_bulk_len;
    let db = ctx.keyspace.db(ctx.db_index);
    let found = lookup_write(db, key, now, clock);
    let old_len = match &found {
        StrLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        StrLookup::Absent => 0,
        StrLookup::Found(s) => s.len(),
    };
    if patch.is_empty() {
        // Nothing to write: the length as it is, and no key is created.
        ctx.reply.int(old_len as i64);
        return;
    }
    let end = match usize::try_from(offset) {
        Ok(start) if length_allowed(offset, patch.len() as u64, max_len) => start + patch.len(),
        _ => return ctx.reply.error(errors::STRING_TOO_LONG),
    };
    let start = end - patch.len();
    match found {
        StrLookup::Found(s) => {
            let data = s.make_raw();
            if data.len() < end {
                data.resize(end, 0);
            }
            data[start..end].copy_from_slice(patch);
            ctx.reply.int(data.len() as i64);
        }
        _ => {
            let mut data = vec![0; end];
            data[start..].copy_from_slice(patch);
            let value = Value::Str(RString::raw(data));
            db.insert_new(key.into(), value, None, clock);
            ctx.reply.int(end as i64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getrange_clamps_like_redis() {
        // "Hello World" is 11 bytes.
        assert_eq!(getrange_bounds(11, 0, 3), Some((0, 3)));
        assert_eq!(getrange_bounds(11, -3, -1), Some((8, 10)));
        assert_eq!(getrange_bounds(11, 0, -1), Some((0, 10)));
        assert_eq!(getrange_bounds(11, 10, 100), Some((10, 10)));
        assert_eq!(getrange_bounds(11, 5, 3), None);
        assert_eq!(getrange_bounds(11, 11, 20), None);
        // Both negative and reversed: empty even when clamping would meet.
        assert_eq!(getrange_bounds(11, -100, -200), None);
        assert_eq!(getrange_bounds(11, -200, -100), Some((0, 0)));
        assert_eq!(getrange_bounds(0, 0, -1), None);
        assert_eq!(getrange_bounds(0, 0, 0), None);
        assert_eq!(getrange_bounds(3, i64::MIN, i64::MAX), Some((0, 2)));
    }
}
