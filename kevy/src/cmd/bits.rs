//! The bitmap family: `SETBIT GETBIT BITCOUNT BITPOS BITOP`, byte-exact with
//! Redis 7.0 (`bitops.c`), including the order in which it checks
//! arguments (BITCOUNT and BITPOS look the key up before parsing their
//! range, so a missing key answers even to a malformed range).
//!
//! Handlers parse, look the key up as a string through the shared lookups and
//! hand the bytes to the pure functions of `bits_ops.rs`. Writes make the
//! string `raw` and grow it with zero bytes; offsets are bounded by
//! `proto-max-bulk-len`. BITOP names keys that may live on several shards:
//! it is routed as an atomic command, so this handler sees them in one
//! keyspace.

#[path = "bits_ops.rs"]
mod ops;

use ops::{BitOp, Unit};

use super::strings::{option_is, StrLookup};
use super::{errors, flags, keyed, CommandSpec, ExecCtx, Handler, KeySpec, Route};
use crate::cmd::{lookup_read, lookup_write};
use crate::keyspace::{RString, Value};
use crate::resp::num::parse_i64;
use crate::resp::Argv;

const BIT_ARGUMENT: &str = "ERR The bit argument must be 1 or 0.";
const NOT_SINGLE_SOURCE: &str = "ERR BITOP NOT must be called with a single source key.";

const READ: &[&str] = &["@read", "@bitmap", "@slow"];

pub static COMMANDS: &[CommandSpec] = &[
    keyed(
        "setbit",
        4,
        flags::WRITE_DENYOOM,
        &["@write", "@bitmap", "@slow"],
        setbit,
        "bitmap",
        "2.2.0",
        "Sets or clears the bit at offset in the string value stored at key",
    ),
    keyed(
        "getbit",
        3,
        flags::READONLY_FAST,
        &["@read", "@bitmap", "@fast"],
        getbit,
        "bitmap",
        "2.2.0",
        "Returns the bit value at offset in the string value stored at key",
    ),
    keyed(
        "bitcount",
        -2,
        flags::READONLY,
        READ,
        bitcount,
        "bitmap",
        "2.6.0",
        "Count set bits in a string",
    ),
    keyed(
        "bitpos",
        -3,
        flags::READONLY,
        READ,
        bitpos,
        "bitmap",
        "2.8.7",
        "Find first bit set or clear in a string",
    ),
    CommandSpec {
        name: "bitop",
        arity: -4,
        flags: flags::WRITE_DENYOOM,
        acl: &["@write", "@bitmap", "@slow"],
        keys: KeySpec::Range {
            first: 2,
            last: -1,
            step: 1,
        },
        route: Route::Atomic,
        handler: Handler::Key(bitop),
        group: "bitmap",
        since: "2.6.0",
        summary: "Perform bitwise operations between strings",
        subcommands: &[],
    },
];

/// Redis's `getBitOffsetFromArgument`: a bit offset whose byte lies below
/// `proto-max-bulk-len`.
fn bit_offset(arg: &[u8], max_bulk_len: u64) -> Option<u64> {
    let offset = u64::try_from(parse_i64(arg)?).ok()?;
    ((offset >> 3) < max_bulk_len).then_some(offset)
}

/// `BIT` or `BYTE`; None for anything else.
fn parse_unit(arg: &[u8]) -> Option<Unit> {
    if option_is(arg, "BIT") {
        Some(Unit::Bit)
    } else if option_is(arg, "BYTE") {
        Some(Unit::Byte)
    } else {
        None
    }
}

fn setbit(ctx: &mut ExecCtx, argv: Argv) {
    let Some(offset) = bit_offset(argv.get(2), ctx.config.proto_max_bulk_len) else {
        return ctx.reply.error(errors::BIT_OFFSET);
    };
    let on = match parse_i64(argv.get(3)) {
        Some(0) => false,
        Some(1) => true,
        _ => return ctx.reply.error(errors::BIT_VALUE),
    };
    let Ok(byte) = usize::try_from(offset >> 3) else {
        return ctx.reply.error(errors::BIT_OFFSET);
    };
    let mask = 0x80u8 >> (offset & 7);
    let (key, now, clock) = (argv.get(1), ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_write(db, key, now, clock) {
        StrLookup::WrongType => ctx.reply.error(errors::WRONGTYPE),
        StrLookup::Found(s) => {
            let was_on = write_bit(s.make_raw(), byte, mask, on);
            ctx.reply.int(i64::from(was_on));
        }
        StrLookup::Absent => {
            let mut data = Vec::new();
            write_bit(&mut data, byte, mask, on);
            let value = Value::Str(RString::raw(data));
            db.insert_new(key.into(), value, None, clock);
            ctx.reply.int(0);
        }
    }
}

/// Sets or clears one bit, growing `data` with zero bytes to reach it;
/// returns the bit's old value.
fn write_bit(data: &mut Vec<u8>, byte: usize, mask: u8, on: bool) -> bool {
    if data.len() <= byte {
        data.resize(byte + 1, 0);
    }
    let was_on = data[byte] & mask != 0;
    if on {
        data[byte] |= mask;
    } else {
        data[byte] &= !mask;
    }
    was_on
}

fn getbit(ctx: &mut ExecCtx, argv: Argv) {
    let Some(offset) = bit_offset(argv.get(2), ctx.config.proto_max_bulk_len) else {
        return ctx.reply.error(errors::BIT_OFFSET);
    };
    let db = ctx.keyspace.db(ctx.db_index);
    let value = match lookup_read(db, ctx.stats, argv.get(1), ctx.now_ms, ctx.clock) {
        StrLookup::Absent => return ctx.reply.int(0),
        StrLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        StrLookup::Found(s) => s,
    };
    let mut scratch = Vec::new();
    let data = value.as_bytes(&mut scratch);
    let on = usize::try_from(offset >> 3)
        .ok()
        .and_then(|byte| data.get(byte))
        .is_some_and(|b| b & (0x80 >> (offset & 7)) != 0);
    ctx.reply.int(i64::from(on));
}

/// `BITCOUNT key [start end [BYTE|BIT]]`.
fn bitcount(ctx: &mut ExecCtx, argv: Argv) {
    let db = ctx.keyspace.db(ctx.db_index);
    let value = match lookup_read(db, ctx.stats, argv.get(1), ctx.now_ms, ctx.clock) {
        StrLookup::Absent => return ctx.reply.int(0),
        StrLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        StrLookup::Found(s) => s,
    };
    let mut scratch = Vec::new();
    let data = value.as_bytes(&mut scratch);
    let len = data.len() as i64;
    let (unit, range) = match argv.len() {
        2 => (Unit::Byte, ops::resolve_range(len, 0, -1)),
        4 | 5 => {
            let (Some(start), Some(end)) = (parse_i64(argv.get(2)), parse_i64(argv.get(3))) else {
                return ctx.reply.error(errors::NOT_INTEGER);
            };
            // Redis answers this case before it reads the unit.
            if start < 0 && end < 0 && start > end {
                return ctx.reply.int(0);
            }
            let unit = if argv.len() == 5 {
                match parse_unit(argv.get(4)) {
                    Some(unit) => unit,
                    None => return ctx.reply.error(errors::SYNTAX),
                }
            } else {
                Unit::Byte
            };
            let units = if unit == Unit::Bit { len * 8 } else { len };
            (unit, ops::resolve_range(units, start, end))
        }
        _ => return ctx.reply.error(errors::SYNTAX),
    };
    let count = range.map_or(0, |(start, end)| ops::count_ones(data, unit, start, end));
    ctx.reply.int(count as i64);
}

/// `BITPOS key bit [start [end [BYTE|BIT]]]`.
fn bitpos(ctx: &mut ExecCtx, argv: Argv) {
    let bit = match parse_i64(argv.get(2)) {
        None => return ctx.reply.error(errors::NOT_INTEGER),
        Some(0) => false,
        Some(1) => true,
        Some(_) => return ctx.reply.error(BIT_ARGUMENT),
    };
    let db = ctx.keyspace.db(ctx.db_index);
    let value = match lookup_read(db, ctx.stats, argv.get(1), ctx.now_ms, ctx.clock) {
        // A missing key is an endless run of zeros.
        StrLookup::Absent => return ctx.reply.int(if bit { -1 } else { 0 }),
        StrLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        StrLookup::Found(s) => s,
    };
    let mut scratch = Vec::new();
    let data = value.as_bytes(&mut scratch);
    let len = data.len() as i64;
    let (unit, end_given, range) = match argv.len() {
        3 => (Unit::Byte, false, ops::resolve_range(len, 0, -1)),
        4..=6 => {
            let Some(start) = parse_i64(argv.get(3)) else {
                return ctx.reply.error(errors::NOT_INTEGER);
            };
            let unit = if argv.len() == 6 {
                match parse_unit(argv.get(5)) {
                    Some(unit) => unit,
                    None => return ctx.reply.error(errors::SYNTAX),
                }
            } else {
                Unit::Byte
            };
            let end = if argv.len() >= 5 {
                match parse_i64(argv.get(4)) {
                    Some(end) => end,
                    None => return ctx.reply.error(errors::NOT_INTEGER),
                }
            } else {
                len - 1
            };
            let units = if unit == Unit::Bit { len * 8 } else { len };
            (unit, argv.len() >= 5, ops::resolve_range(units, start, end))
        }
        _ => return ctx.reply.error(errors::SYNTAX),
    };
    // An empty range holds neither a 0 nor a 1.
    let Some((start, end)) = range else {
        return ctx.reply.int(-1);
    };
    let (from, to) = match unit {
        Unit::Byte => (start as u64 * 8, end as u64 * 8 + 7),
        Unit::Bit => (start as u64, end as u64),
    };
    let pos = match ops::find_bit(data, bit, from, to) {
        Some(pos) => pos as i64,
        // Looking for a 0 without an end: the string continues with zeros.
        None if !bit && !end_given => to as i64 + 1,
        None => -1,
    };
    ctx.reply.int(pos);
}

/// `BITOP AND|OR|XOR|NOT destkey srckey [srckey ...]`.
fn bitop(ctx: &mut ExecCtx, argv: Argv) {
    let op = match argv.get(1) {
        name if option_is(name, "AND") => BitOp::And,
        name if option_is(name, "OR") => BitOp::Or,
        name if option_is(name, "XOR") => BitOp::Xor,
        name if option_is(name, "NOT") => BitOp::Not,
        _ => return ctx.reply.error(errors::SYNTAX),
    };
    if op == BitOp::Not && argv.len() != 4 {
        return ctx.reply.error(NOT_SINGLE_SOURCE);
    }
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let mut sources = Vec::with_capacity(argv.len() - 3);
    for key in argv.iter().skip(3) {
        let db = ctx.keyspace.db(ctx.db_index);
        match lookup_read(db, ctx.stats, key, now, clock) {
            StrLookup::Absent => sources.push(Vec::new()),
            StrLookup::Found(s) => sources.push(s.to_vec()),
            StrLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        }
    }
    let result = ops::combine(op, &sources);
    let len = result.len();
    let (dest, db) = (argv.get(2), ctx.keyspace.db(ctx.db_index));
    if result.is_empty() {
        // Only empty inputs: the destination is deleted, not set to "".
        db.delete(dest, now);
    } else {
        let value = Value::Str(RString::raw(result));
        db.set(dest, value, false, clock);
    }
    ctx.reply.int(len as i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_offsets_are_bounded_by_the_bulk_limit() {
        let max = 512 * 1024 * 1024;
        assert_eq!(bit_offset(b"0", max), Some(0));
        assert_eq!(bit_offset(b"4294967295", max), Some(4_294_967_295));
        assert_eq!(bit_offset(b"4294967296", max), None);
        assert_eq!(bit_offset(b"-1", max), None);
        assert_eq!(bit_offset(b"1.0", max), None);
    }

    #[test]
    fn units_parse_case_insensitively() {
        assert_eq!(parse_unit(b"bit"), Some(Unit::Bit));
        assert_eq!(parse_unit(b"BYTE"), Some(Unit::Byte));
        assert_eq!(parse_unit(b"bits"), None);
    }
}
