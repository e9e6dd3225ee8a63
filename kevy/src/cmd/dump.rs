//! `DUMP` and `RESTORE`: a value serialized in Redis's own payload format
//! (RDB object encoding, RDB version, CRC-64; see `keys/payload.rs`), so
//! values move between kevy and Redis in both directions.
//!
//! `DUMP` reads the value on its key's shard and encodes it; `RESTORE`
//! checks its options, the target key, the TTL and the payload's version and
//! checksum (in Redis's order, so the same error wins), decodes the value
//! and stores it with its expiry and access time.

#[path = "keys/crc64.rs"]
mod crc64;
#[path = "keys/lzf.rs"]
mod lzf;
#[path = "keys/payload.rs"]
mod payload;
#[path = "keys/rdb.rs"]
mod rdb;

use super::keys::lfu_policy_selected;
use super::{errors, keyed, CommandSpec, ExecCtx};
use crate::resp::num::parse_i64;
use crate::resp::Argv;

const BUSY_KEY: &str = "BUSYKEY Target key name already exists.";
const BAD_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";
const BAD_DATA: &str = "ERR Bad data format";

pub static COMMANDS: &[CommandSpec] = &[
    keyed(
        "dump",
        2,
        &["readonly"],
        &["@keyspace", "@read", "@slow"],
        dump,
        "generic",
        "2.6.0",
        "Return a serialized version of the value stored at the specified key.",
    ),
    keyed(
        "restore",
        -4,
        &["write", "denyoom"],
        &["@keyspace", "@write", "@slow", "@dangerous"],
        restore,
        "generic",
        "2.6.0",
        "Create a key using the provided serialized value, previously obtained using DUMP.",
    ),
];

fn dump(ctx: &mut ExecCtx, argv: Argv) {
    match ctx.read_entry(argv.get(1)) {
        Some(entry) => match payload::create(&entry.value) {
            Ok(bytes) => ctx.reply.bulk(&bytes),
            Err(payload::NotSerializable(kind)) => {
                let text = format!("ERR DUMP of {kind} values is not supported yet");
                ctx.reply.error(&text);
            }
        },
        None => ctx.reply.null(),
    }
}

/// The options after `RESTORE key ttl payload`.
#[derive(Default)]
struct RestoreOptions {
    replace: bool,
    absolute_ttl: bool,
    idle_seconds: Option<i64>,
    frequency: Option<i64>,
}

fn parse_restore_options(ctx: &mut ExecCtx, argv: Argv) -> Option<RestoreOptions> {
    let mut options = RestoreOptions::default();
    let mut j = 4;
    while j < argv.len() {
        let option = argv.get(j);
        let has_value = j + 1 < argv.len();
        if option.eq_ignore_ascii_case(b"replace") {
            options.replace = true;
        } else if option.eq_ignore_ascii_case(b"absttl") {
            options.absolute_ttl = true;
        } else if option.eq_ignore_ascii_case(b"idletime")
            && has_value
            && options.frequency.is_none()
        {
            let Some(idle) = parse_i64(argv.get(j + 1)) else {
                ctx.reply.error(errors::NOT_INTEGER);
                return None;
            };
            if idle < 0 {
                ctx.reply.error("ERR Invalid IDLETIME value, must be >= 0");
                return None;
            }
            options.idle_seconds = Some(idle);
            j += 1;
        } else if option.eq_ignore_ascii_case(b"freq")
            && has_value
            && options.idle_seconds.is_none()
        {
            let Some(frequency) = parse_i64(argv.get(j + 1)) else {
                ctx.reply.error(errors::NOT_INTEGER);
                return None;
            };
            if !(0..=255).contains(&frequency) {
                ctx.reply
                    .error("ERR Invalid FREQ value, must be >= 0 and <= 255");
                return None;
            }
            options.frequency = Some(frequency);
            j += 1;
        } else {
            ctx.reply.error(errors::SYNTAX);
            return None;
        }
        j += 1;
    }
    Some(options)
}

/// `RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds]
/// [FREQ frequency]`.
fn restore(ctx: &mut ExecCtx, argv: Argv) {
    let Some(options) = parse_restore_options(ctx, argv) else {
        return;
    };
    let key = argv.get(1);
    let (now_ms, clock) = (ctx.now_ms, ctx.clock);
    if !options.replace && ctx.db().get_touch(key, now_ms, clock).is_some() {
        ctx.reply.error(BUSY_KEY);
        return;
    }
    let Some(ttl) = parse_i64(argv.get(2)) else {
        ctx.reply.error(errors::NOT_INTEGER);
        return;
    };
    if ttl < 0 {
        ctx.reply.error("ERR Invalid TTL value, must be >= 0");
        return;
    }
    let bytes = argv.get(3);
    if !payload::verify(bytes) {
        ctx.reply.error(BAD_PAYLOAD);
        return;
    }
    let Ok(value) = payload::load_with(bytes, &payload::LoadLimits::from_config(ctx.config)) else {
        ctx.reply.error(BAD_DATA);
        return;
    };
    let deletes_expired = ctx.deletes_expired();
    let db = ctx.db();
    if options.replace {
        db.remove(key);
    }
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
    // Redis adds the time without an overflow check; a wrapped, negative
    // time then counts as already expired.
    let expire_at = match ttl {
        0 => None,
        ttl if options.absolute_ttl => Some(ttl),
        ttl => Some(ttl.wrapping_add(now)),
    };
    if expire_at.is_some_and(|at| at <= now) && deletes_expired {
        if options.replace {
            ctx.effects.replace(&[b"DEL", key]);
        } else {
            ctx.effects.suppress();
        }
        ctx.reply.ok();
        return;
    }

    db.insert_new(
        key.into(),
        value,
        expire_at.and_then(|at| u64::try_from(at).ok()),
        clock,
    );
    // IDLETIME applies under an LRU policy, FREQ under an LFU one (kevy
    // keeps no frequency counter yet, so FREQ is accepted and not stored).
    if let (Some(idle), false) = (options.idle_seconds, lfu_policy_selected(ctx.config)) {
        if let Some(entry) = ctx.db().get(key, now_ms) {
            let idle = u32::try_from(idle).unwrap_or(u32::MAX);
            entry.last_access = clock.wrapping_sub(idle);
        }
    }
    if let (Some(at), false) = (expire_at, options.absolute_ttl) {
        // Recorded with the absolute time, so a replay later means the same.
        let at = at.to_string();
        ctx.effects
            .replace(&[b"RESTORE", key, at.as_bytes(), bytes, b"REPLACE", b"ABSTTL"]);
    }
    ctx.reply.ok();
}

/// `DUMP`'s payload for `value` (what a coordinated write records, to be
/// redone by `RESTORE`), or the name of a type it cannot serialize.
pub fn dump_payload(value: &crate::keyspace::Value) -> Result<Vec<u8>, &'static str> {
    payload::create(value).map_err(|payload::NotSerializable(kind)| kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{RString, Value};

    /// `SET k hello` then `DUMP k` on redis-server 7.0.15.
    const REDIS_HELLO: &[u8] =
        b"\x00\x05\x68\x65\x6c\x6c\x6f\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a";
    /// `DUMP` of "abcdefghij" repeated 10 times (LZF-compressed).
    const REDIS_ABC_100: &[u8] = b"\x00\xc3\x12\x40\x64\x0a\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x61\xe0\x4e\x09\x01\x69\x6a\x0a\x00\xd4\x85\x29\x2a\x1f\x2e\xff\x66";
    /// `DUMP` of "12345" (16-bit integer encoding).
    const REDIS_12345: &[u8] = b"\x00\xc1\x39\x30\x0a\x00\x9d\x94\xea\x27\x93\xfc\x08\xb9";
    /// `DUMP` of "The quick brown fox jumps over the lazy dog. " three times.
    const REDIS_FOX: &[u8] = b"\x00\xc3\x37\x40\x87\x1f\x54\x68\x65\x20\x71\x75\x69\x63\x6b\x20\x62\x72\x6f\x77\x6e\x20\x66\x6f\x78\x20\x6a\x75\x6d\x70\x73\x20\x6f\x76\x65\x72\x20\x74\x20\x1e\x0a\x6c\x61\x7a\x79\x20\x64\x6f\x67\x2e\x20\x54\x20\x0d\xe0\x4b\x2c\x01\x2e\x20\x0a\x00\xeb\x39\x6d\xb1\x24\xad\xdc\xed";
    /// `DUMP` of 300 bytes `'a' + (i * i) % 26` for i in 0..300.
    const REDIS_SQUARES: &[u8] = b"\x00\xc3\x24\x41\x2c\x1a\x61\x62\x65\x6a\x71\x7a\x6b\x78\x6d\x64\x77\x72\x6f\x6e\x6f\x72\x77\x64\x6d\x78\x6b\x7a\x71\x6a\x65\x62\x61\xe0\xff\x19\xa1\x1d\x01\x6f\x6e\x0a\x00\x57\x57\x17\xd7\xd7\xc3\xd4\x14";

    fn redis_payloads() -> Vec<(&'static [u8], Vec<u8>)> {
        vec![
            (REDIS_HELLO, b"hello".to_vec()),
            (REDIS_ABC_100, b"abcdefghij".repeat(10)),
            (REDIS_12345, b"12345".to_vec()),
            (
                REDIS_FOX,
                b"The quick brown fox jumps over the lazy dog. ".repeat(3),
            ),
            (
                REDIS_SQUARES,
                (0..300u32).map(|i| b'a' + (i * i % 26) as u8).collect(),
            ),
        ]
    }

    #[test]
    fn payloads_from_redis_restore() {
        for (bytes, text) in redis_payloads() {
            assert!(payload::verify(bytes), "{text:?}");
            let value = payload::load(bytes).expect("a valid payload");
            assert_eq!(value, Value::Str(RString::from_client(&text)));
        }
    }

    #[test]
    fn dumps_are_byte_identical_to_redis() {
        for (bytes, text) in redis_payloads() {
            let value = Value::Str(RString::from_client(&text));
            assert_eq!(payload::create(&value).as_deref(), Ok(bytes), "{text:?}");
        }
    }
}
