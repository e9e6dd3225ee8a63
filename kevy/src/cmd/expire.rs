//! Key expiry: `EXPIRE PEXPIRE EXPIREAT PEXPIREAT` (with `NX XX GT LT`),
//! `TTL PTTL EXPIRETIME PEXPIRETIME` and `PERSIST`.
//!
//! Expiry times are absolute Unix milliseconds on the entry; "now" is the
//! batch's `ctx.now_ms`. Setting a time that has already passed deletes the
//! key (and still answers 1), as Redis does on a primary. The arithmetic is
//! Redis's: 64-bit signed with explicit overflow checks, so a huge value is
//! `ERR invalid expire time` rather than a wrapped time.

use super::{errors, keyed, CommandSpec, ExecCtx, KeyHandler};
use crate::resp::num::parse_i64;
use crate::resp::Argv;

/// `EXPIRE` and its variants: they share arity, flags and ACL categories.
const fn set_expiry(
    name: &'static str,
    handler: KeyHandler,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    keyed(
        name,
        -3,
        &["write", "fast"],
        &["@keyspace", "@write", "@fast"],
        handler,
        "generic",
        since,
        summary,
    )
}

/// `TTL` and its variants.
const fn read_expiry(
    name: &'static str,
    handler: KeyHandler,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    keyed(
        name,
        2,
        &["readonly", "fast"],
        &["@keyspace", "@read", "@fast"],
        handler,
        "generic",
        since,
        summary,
    )
}

pub static COMMANDS: &[CommandSpec] = &[
    set_expiry(
        "expire",
        expire,
        "1.0.0",
        "Set a key's time to live in seconds",
    ),
    set_expiry(
        "pexpire",
        pexpire,
        "2.6.0",
        "Set a key's time to live in milliseconds",
    ),
    set_expiry(
        "expireat",
        expireat,
        "1.2.0",
        "Set the expiration for a key as a UNIX timestamp",
    ),
    set_expiry(
        "pexpireat",
        pexpireat,
        "2.6.0",
        "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
    ),
    read_expiry(
        "ttl",
        ttl,
        "1.0.0",
        "Get the time to live for a key in seconds",
    ),
    read_expiry(
        "pttl",
        pttl,
        "2.6.0",
        "Get the time to live for a key in milliseconds",
    ),
    read_expiry(
        "expiretime",
        expiretime,
        "7.0.0",
        "Get the expiration Unix timestamp for a key",
    ),
    read_expiry(
        "pexpiretime",
        pexpiretime,
        "7.0.0",
        "Get the expiration Unix timestamp for a key in milliseconds",
    ),
    keyed(
        "persist",
        2,
        &["write", "fast"],
        &["@keyspace", "@write", "@fast"],
        persist,
        "generic",
        "2.2.0",
        "Remove the expiration from a key",
    ),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Milliseconds,
}

/// The `NX XX GT LT` conditions of the expire commands.
#[derive(Default)]
struct Conditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl Conditions {
    /// Whether a key whose expiry is `current` (-1 for none) may get `when`.
    fn allow(&self, current: i64, when: i64) -> bool {
        // No expiry counts as infinite: GT never passes, LT always does.
        !(self.nx && current != -1
            || self.xx && current == -1
            || self.gt && (when <= current || current == -1)
            || self.lt && current != -1 && when >= current)
    }
}

/// `-ERR Unsupported option <opt>`, the option as Redis prints it (a C
/// string, so up to its first NUL byte).
fn unsupported_option(ctx: &mut ExecCtx, option: &[u8]) {
    let option = option.split(|&b| b == 0).next().unwrap_or_default();
    let mut text = b"-ERR Unsupported option ".to_vec();
    text.extend(
        option
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    text.extend_from_slice(b"\r\n");
    ctx.reply.raw(&text);
}

fn parse_conditions(ctx: &mut ExecCtx, argv: Argv) -> Option<Conditions> {
    let mut conditions = Conditions::default();
    for option in argv.iter().skip(3) {
        let flag = match option.to_ascii_lowercase().as_slice() {
            b"nx" => &mut conditions.nx,
            b"xx" => &mut conditions.xx,
            b"gt" => &mut conditions.gt,
            b"lt" => &mut conditions.lt,
            _ => {
                unsupported_option(ctx, option);
                return None;
            }
        };
        *flag = true;
    }
    if conditions.nx && (conditions.xx || conditions.gt || conditions.lt) {
        ctx.reply
            .error("ERR NX and XX, GT or LT options at the same time are not compatible");
        return None;
    }
    if conditions.gt && conditions.lt {
        ctx.reply
            .error("ERR GT and LT options at the same time are not compatible");
        return None;
    }
    Some(conditions)
}

/// Redis's `expireGenericCommand`: `relative` adds the current time to the
/// argument.
fn expire_generic(ctx: &mut ExecCtx, argv: Argv, relative: bool, unit: Unit, name: &str) {
    let Some(conditions) = parse_conditions(ctx, argv) else {
        return;
    };
    let Some(mut when) = parse_i64(argv.get(2)) else {
        ctx.reply.error(errors::NOT_INTEGER);
        return;
    };
    let now = i64::try_from(ctx.now_ms).unwrap_or(i64::MAX);
    if unit == Unit::Seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            ctx.reply.error(&errors::invalid_expire(name));
            return;
        }
        when *= 1000;
    }
    let base = if relative { now } else { 0 };
    let Some(at) = when.checked_add(base) else {
        ctx.reply.error(&errors::invalid_expire(name));
        return;
    };
    let key = argv.get(1);
    let (now_ms, clock) = (ctx.now_ms, ctx.clock);
    let deletes_expired = ctx.deletes_expired();
    let db = ctx.db();
    let Some(entry) = db.get_touch(key, now_ms, clock) else {
        ctx.effects.suppress();
        ctx.reply.int(0);
        return;
    };
    let current = entry
        .expire_at()
        .map_or(-1, |t| i64::try_from(t).unwrap_or(i64::MAX));
    if !conditions.allow(current, at) {
        ctx.effects.suppress();
        ctx.reply.int(0);
        return;
    }
    // Recorded with the absolute time, so a replay later means the same.
    if at <= now && deletes_expired {
        db.remove(key);
        ctx.effects.replace(&[b"DEL", key]);
    } else {
        // Stored as at least 1 (a time at or before 0 is long past).
        db.set_expire(key, Some(u64::try_from(at).unwrap_or(0)), now_ms);
        ctx.effects
            .replace(&[b"PEXPIREAT", key, at.to_string().as_bytes()]);
    }
    ctx.reply.int(1);
}

fn expire(ctx: &mut ExecCtx, argv: Argv) {
    expire_generic(ctx, argv, true, Unit::Seconds, "expire");
}

fn pexpire(ctx: &mut ExecCtx, argv: Argv) {
    expire_generic(ctx, argv, true, Unit::Milliseconds, "pexpire");
}

fn expireat(ctx: &mut ExecCtx, argv: Argv) {
    expire_generic(ctx, argv, false, Unit::Seconds, "expireat");
}

fn pexpireat(ctx: &mut ExecCtx, argv: Argv) {
    expire_generic(ctx, argv, false, Unit::Milliseconds, "pexpireat");
}

/// Redis's `ttlGenericCommand`: -2 for a missing key, -1 for no expiry,
/// else the remaining (or, `absolute`, the end) time, never negative.
fn ttl_generic(ctx: &mut ExecCtx, argv: Argv, unit: Unit, absolute: bool) {
    let now = i128::from(ctx.now_ms);
    let Some(entry) = ctx.read_entry_notouch(argv.get(1)) else {
        ctx.reply.int(-2);
        return;
    };
    let Some(expire_at) = entry.expire_at() else {
        ctx.reply.int(-1);
        return;
    };
    let expire_at = i128::from(expire_at);
    let ms = if absolute { expire_at } else { expire_at - now }.max(0);
    // Rounded to the nearest second; wide arithmetic gives what Redis
    // prints even for expiry times near the 64-bit limit.
    let value = match unit {
        Unit::Milliseconds => ms,
        Unit::Seconds => (ms + 500) / 1000,
    };
    ctx.reply.int(i64::try_from(value).unwrap_or(i64::MAX));
}

fn ttl(ctx: &mut ExecCtx, argv: Argv) {
    ttl_generic(ctx, argv, Unit::Seconds, false);
}

fn pttl(ctx: &mut ExecCtx, argv: Argv) {
    ttl_generic(ctx, argv, Unit::Milliseconds, false);
}

fn expiretime(ctx: &mut ExecCtx, argv: Argv) {
    ttl_generic(ctx, argv, Unit::Seconds, true);
}

fn pexpiretime(ctx: &mut ExecCtx, argv: Argv) {
    ttl_generic(ctx, argv, Unit::Milliseconds, true);
}

fn persist(ctx: &mut ExecCtx, argv: Argv) {
    let key = argv.get(1);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.db();
    let had_expiry = db
        .get_touch(key, now, clock)
        .is_some_and(|entry| entry.expire_at().is_some());
    if had_expiry {
        db.set_expire(key, None, now);
    }
    ctx.reply.int(i64::from(had_expiry));
}
