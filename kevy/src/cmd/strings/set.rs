//! `GET SET SETNX SETEX PSETEX GETSET GETDEL GETEX MGET MSET MSETNX`.
//!
//! SET and GETEX share Redis's option parser
//! (`parseExtendedStringArgumentsOrReply`): options are read left to right,
//! each accepted only when it does not clash with one already seen, and
//! anything else is a syntax error. Expiry arguments become an absolute
//! Unix time in milliseconds (`getExpireMillisecondsOrReply`), validated
//! before anything changes, so an error never leaves a half-done SET.

use super::{option_is, reply_string, StrLookup};
use crate::cmd::{errors, ExecCtx};
use crate::cmd::{lookup_read, lookup_write};
use crate::keyspace::{RString, Value};
use crate::resp::num::parse_i64;
use crate::resp::{Argv, ReplyBuf};

// Option flags, as Redis's OBJ_SET_* / OBJ_* bits.
const NX: u16 = 1 << 0;
const XX: u16 = 1 << 1;
const EX: u16 = 1 << 2;
const PX: u16 = 1 << 3;
const KEEPTTL: u16 = 1 << 4;
const GET: u16 = 1 << 5;
const EXAT: u16 = 1 << 6;
const PXAT: u16 = 1 << 7;
const PERSIST: u16 = 1 << 8;

/// Which command's options are parsed (they accept different sets).
#[derive(Clone, Copy, PartialEq, Eq)]
enum OptionsOf {
    Set,
    GetEx,
}

/// Parsed SET / GETEX options.
struct Extended<'a> {
    flags: u16,
    /// The expiry argument, in seconds unless `unit_ms`.
    expire: Option<&'a [u8]>,
    unit_ms: bool,
}

/// Redis's `parseExtendedStringArgumentsOrReply`; None means a syntax
/// error (not yet replied).
fn parse_extended(argv: Argv<'_>, of: OptionsOf) -> Option<Extended<'_>> {
    let set = of == OptionsOf::Set;
    let mut ext = Extended {
        flags: 0,
        expire: None,
        unit_ms: false,
    };
    let mut j = if set { 3 } else { 2 };
    while j < argv.len() {
        let opt = argv.get(j);
        let has_next = j + 1 < argv.len();
        let f = ext.flags;
        let none_of = |mask: u16| f & mask == 0;
        if option_is(opt, "NX") && none_of(XX) && set {
            ext.flags |= NX;
        } else if option_is(opt, "XX") && none_of(NX) && set {
            ext.flags |= XX;
        } else if option_is(opt, "GET") && set {
            ext.flags |= GET;
        } else if option_is(opt, "KEEPTTL") && none_of(PERSIST | EX | EXAT | PX | PXAT) && set {
            ext.flags |= KEEPTTL;
        } else if option_is(opt, "PERSIST") && !set && none_of(EX | EXAT | PX | PXAT | KEEPTTL) {
            ext.flags |= PERSIST;
        } else if option_is(opt, "EX") && none_of(KEEPTTL | PERSIST | EXAT | PX | PXAT) && has_next
        {
            ext.flags |= EX;
            ext.expire = Some(argv.get(j + 1));
            j += 1;
        } else if option_is(opt, "PX") && none_of(KEEPTTL | PERSIST | EX | EXAT | PXAT) && has_next
        {
            ext.flags |= PX;
            ext.unit_ms = true;
            ext.expire = Some(argv.get(j + 1));
            j += 1;
        } else if option_is(opt, "EXAT") && none_of(KEEPTTL | PERSIST | EX | PX | PXAT) && has_next
        {
            ext.flags |= EXAT;
            ext.expire = Some(argv.get(j + 1));
            j += 1;
        } else if option_is(opt, "PXAT") && none_of(KEEPTTL | PERSIST | EX | EXAT | PX) && has_next
        {
            ext.flags |= PXAT;
            ext.unit_ms = true;
            ext.expire = Some(argv.get(j + 1));
            j += 1;
        } else {
            return None;
        }
        j += 1;
    }
    Some(ext)
}

/// Redis's `getExpireMillisecondsOrReply`: the absolute expiry time in Unix
/// milliseconds, or an error replied (`command` names it).
fn expire_at_ms(
    reply: &mut ReplyBuf,
    arg: &[u8],
    flags: u16,
    unit_ms: bool,
    now_ms: u64,
    command: &str,
) -> Result<u64, ()> {
    let Some(mut ms) = parse_i64(arg) else {
        reply.error(errors::NOT_INTEGER);
        return Err(());
    };
    if ms <= 0 || (!unit_ms && ms > i64::MAX / 1000) {
        reply.error(&errors::invalid_expire(command));
        return Err(());
    }
    if !unit_ms {
        ms *= 1000;
    }
    if flags & (EX | PX) != 0 {
        // Relative: Redis adds the time and reports the overflow it wraps to.
        ms = match i64::try_from(now_ms)
            .ok()
            .and_then(|now| ms.checked_add(now))
        {
            Some(at) => at,
            None => {
                reply.error(&errors::invalid_expire(command));
                return Err(());
            }
        };
    }
    Ok(ms as u64)
}

/// Redis's `getGenericCommand`: replies the value or a null; false after
/// replying WRONGTYPE.
fn reply_get(ctx: &mut ExecCtx, key: &[u8]) -> bool {
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_read(db, ctx.stats, key, ctx.now_ms, ctx.clock) {
        StrLookup::Absent => ctx.reply.null(),
        StrLookup::Found(s) => reply_string(&mut ctx.reply, s),
        StrLookup::WrongType => {
            ctx.reply.error(errors::WRONGTYPE);
            return false;
        }
    }
    true
}

pub(super) fn get(ctx: &mut ExecCtx, argv: Argv) {
    reply_get(ctx, argv.get(1));
}

/// What SET-like commands answer: SET's `+OK` / null, or SETNX's `:1` / `:0`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answers {
    OkOrNull,
    OneOrZero,
}

/// One SET-like write, its arguments already picked out of argv.
struct SetRequest<'a> {
    flags: u16,
    key: &'a [u8],
    value: &'a [u8],
    expire: Option<&'a [u8]>,
    unit_ms: bool,
    command: &'static str,
    answers: Answers,
}

/// Redis's `setGenericCommand`.
fn set_generic(ctx: &mut ExecCtx, req: SetRequest) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let expire_at = match req.expire {
        Some(arg) => {
            match expire_at_ms(
                &mut ctx.reply,
                arg,
                req.flags,
                req.unit_ms,
                now,
                req.command,
            ) {
                Ok(at) => Some(at),
                Err(()) => return,
            }
        }
        None => None,
    };
    let with_get = req.flags & GET != 0;
    if with_get && !reply_get(ctx, req.key) {
        return;
    }
    let db = ctx.keyspace.db(ctx.db_index);
    let found = !matches!(lookup_write(db, req.key, now, clock), StrLookup::Absent);
    if (req.flags & NX != 0 && found) || (req.flags & XX != 0 && !found) {
        ctx.effects.suppress();
        if !with_get {
            match req.answers {
                Answers::OkOrNull => ctx.reply.null(),
                Answers::OneOrZero => ctx.reply.int(0),
            }
        }
        return;
    }
    let keep_ttl = req.flags & KEEPTTL != 0 || expire_at.is_some();
    let value = Value::Str(RString::from_client(req.value));
    db.set(req.key, value, keep_ttl, clock);
    if let Some(at) = expire_at {
        db.set_expire(req.key, expire_at, now);
        // Recorded with the absolute time, so a replay later means the same.
        let at = at.to_string();
        ctx.effects
            .replace(&[b"SET", req.key, req.value, b"PXAT", at.as_bytes()]);
    }
    if !with_get {
        match req.answers {
            Answers::OkOrNull => ctx.reply.ok(),
            Answers::OneOrZero => ctx.reply.int(1),
        }
    }
}

pub(super) fn set(ctx: &mut ExecCtx, argv: Argv) {
    let Some(ext) = parse_extended(argv, OptionsOf::Set) else {
        ctx.reply.error(errors::SYNTAX);
        return;
    };
    set_generic(
        ctx,
        SetRequest {
            flags: ext.flags,
            key: argv.get(1),
            value: argv.get(2),
            expire: ext.expire,
            unit_ms: ext.unit_ms,
            command: "set",
            answers: Answers::OkOrNull,
        },
    );
}

pub(super) fn setnx(ctx: &mut ExecCtx, argv: Argv) {
    set_generic(
        ctx,
        SetRequest {
            flags: NX,
            key: argv.get(1),
            value: argv.get(2),
            expire: None,
            unit_ms: false,
            command: "setnx",
            answers: Answers::OneOrZero,
        },
    );
}

pub(super) fn setex(ctx: &mut ExecCtx, argv: Argv) {
    set_generic(
        ctx,
        SetRequest {
            flags: EX,
            key: argv.get(1),
            value: argv.get(3),
            expire: Some(argv.get(2)),
            unit_ms: false,
            command: "setex",
            answers: Answers::OkOrNull,
        },
    );
}

pub(super) fn psetex(ctx: &mut ExecCtx, argv: Argv) {
    set_generic(
        ctx,
        SetRequest {
            flags: PX,
            key: argv.get(1),
            value: argv.get(3),
            expire: Some(argv.get(2)),
            unit_ms: true,
            command: "psetex",
            answers: Answers::OkOrNull,
        },
    );
}

pub(super) fn getset(ctx: &mut ExecCtx, argv: Argv) {
    if !reply_get(ctx, argv.get(1)) {
        return;
    }
    let clock = ctx.clock;
    let value = Value::Str(RString::from_client(argv.get(2)));
    ctx.db().set(argv.get(1), value, false, clock);
}

pub(super) fn getdel(ctx: &mut ExecCtx, argv: Argv) {
    if reply_get(ctx, argv.get(1)) {
        ctx.db().remove(argv.get(1));
    }
}

pub(super) fn getex(ctx: &mut ExecCtx, argv: Argv) {
    let Some(ext) = parse_extended(argv, OptionsOf::GetEx) else {
        ctx.reply.error(errors::SYNTAX);
        return;
    };
    let key = argv.get(1);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    ctx.effects.suppress();
    let value = match lookup_read(db, ctx.stats, key, now, clock) {
        StrLookup::Absent => return ctx.reply.null(),
        StrLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        StrLookup::Found(s) => s,
    };
    // The expiry is validated only once the key is known to be a string.
    let expire_at = match ext.expire {
        Some(arg) => {
            match expire_at_ms(&mut ctx.reply, arg, ext.flags, ext.unit_ms, now, "getex") {
                Ok(at) => Some(at),
                Err(()) => return,
            }
        }
        None => None,
    };
    reply_string(&mut ctx.reply, value);
    let deletes_expired = ctx.deletes_expired();
    let db = ctx.keyspace.db(ctx.db_index);
    match expire_at {
        Some(at) if ext.flags & (EXAT | PXAT) != 0 && at <= now && deletes_expired => {
            db.remove(key);
            ctx.effects.replace(&[b"DEL", key]);
        }
        Some(at) => {
            db.set_expire(key, Some(at), now);
            let at = at.to_string();
            ctx.effects.replace(&[b"PEXPIREAT", key, at.as_bytes()]);
        }
        None if ext.flags & PERSIST != 0 => {
            db.set_expire(key, None, now);
            ctx.effects.replace(&[b"PERSIST", key]);
        }
        None => {}
    }
}

pub(super) fn mget(ctx: &mut ExecCtx, argv: Argv) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    ctx.reply.array(argv.len() - 1);
    for key in argv.iter().skip(1) {
        let db = ctx.keyspace.db(ctx.db_index);
        match lookup_read(db, ctx.stats, key, now, clock) {
            StrLookup::Found(s) => reply_string(&mut ctx.reply, s),
            StrLookup::Absent | StrLookup::WrongType => ctx.reply.null(),
        }
    }
}

pub(super) fn mset(ctx: &mut ExecCtx, argv: Argv) {
    if argv.len() % 2 == 0 {
        ctx.reply.error(&errors::wrong_args("mset"));
        return;
    }
    let clock = ctx.clock;
    for i in (1..argv.len()).step_by(2) {
        let value = Value::Str(RString::from_client(argv.get(i + 1)));
        ctx.db().set(argv.get(i), value, false, clock);
    }
    ctx.reply.ok();
}

pub(super) fn msetnx(ctx: &mut ExecCtx, argv: Argv) {
    if argv.len() % 2 == 0 {
        ctx.reply.error(&errors::wrong_args("msetnx"));
        return;
    }
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let any_exists = (1..argv.len())
        .step_by(2)
        .any(|i| ctx.db().contains(argv.get(i), now));
    if any_exists {
        ctx.reply.int(0);
        return;
    }
    for i in (1..argv.len()).step_by(2) {
        let value = Value::Str(RString::from_client(argv.get(i + 1)));
        ctx.db().set(argv.get(i), value, false, clock);
    }
    ctx.reply.int(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::OwnedArgv;

    fn parse(args: &[&str], of: OptionsOf) -> Option<(u16, Option<Vec<u8>>, bool)> {
        let owned = OwnedArgv::from_slices(args.iter().map(|a| a.as_bytes()));
        let argv = owned.argv();
        parse_extended(argv, of).map(|e| (e.flags, e.expire.map(<[u8]>::to_vec), e.unit_ms))
    }

    #[test]
    fn set_options_follow_redis_rules() {
        let set = OptionsOf::Set;
        assert_eq!(parse(&["set", "k", "v"], set), Some((0, None, false)));
        assert_eq!(
            parse(&["set", "k", "v", "nx", "get", "px", "5"], set),
            Some((NX | GET | PX, Some(b"5".to_vec()), true))
        );
        // Repeating an option is fine; clashing ones are not.
        assert!(parse(&["set", "k", "v", "ex", "1", "ex", "2"], set).is_some());
        assert!(parse(&["set", "k", "v", "nx", "xx"], set).is_none());
        assert!(parse(&["set", "k", "v", "ex", "1", "px", "2"], set).is_none());
        assert!(parse(&["set", "k", "v", "keepttl", "exat", "2"], set).is_none());
        assert!(parse(&["set", "k", "v", "ex"], set).is_none());
        assert!(parse(&["set", "k", "v", "persist"], set).is_none());
    }

    #[test]
    fn getex_options_follow_redis_rules() {
        let getex = OptionsOf::GetEx;
        assert_eq!(
            parse(&["getex", "k", "persist"], getex),
            Some((PERSIST, None, false))
        );
        assert!(parse(&["getex", "k", "persist", "ex", "1"], getex).is_none());
        assert!(parse(&["getex", "k", "nx"], getex).is_none());
        assert!(parse(&["getex", "k", "keepttl"], getex).is_none());
    }

    #[test]
    fn expiry_arithmetic_and_limits() {
        let mut out = Vec::new();
        let mut reply = ReplyBuf::new(&mut out, false);
        assert_eq!(
            expire_at_ms(&mut reply, b"10", EX, false, 1_000, "set"),
            Ok(11_000)
        );
        assert_eq!(
            expire_at_ms(&mut reply, b"10", PXAT, true, 1_000, "set"),
            Ok(10)
        );
        assert!(expire_at_ms(&mut reply, b"0", EX, false, 0, "set").is_err());
        assert!(expire_at_ms(&mut reply, b"9223372036854775", EX, false, 0, "set").is_ok());
        assert!(expire_at_ms(&mut reply, b"9223372036854776", EX, false, 0, "set").is_err());
        assert!(expire_at_ms(&mut reply, b"9223372036854775807", PX, true, 1, "set").is_err());
        assert!(expire_at_ms(&mut reply, b"1.5", PX, true, 1, "set").is_err());
        let text = String::from_utf8_lossy(&out).into_owned();
        assert!(text.contains("-ERR invalid expire time in 'set' command\r\n"));
        assert!(text.ends_with("-ERR value is not an integer or out of range\r\n"));
    }
}
