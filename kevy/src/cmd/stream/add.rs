//! `XADD XTRIM XDEL XLEN XSETID`: adding, trimming and deleting entries.
//!
//! XADD and XTRIM share Redis's option parser
//! (`streamParseAddOrTrimArgsOrReply`): `MAXLEN`/`MINID` with `=` or `~`,
//! `LIMIT` (only with `~`; without it `~` means 100 entries per
//! `stream-node-max-entries`), and for XADD `NOMKSTREAM` and the ID, after
//! which the field-value pairs start. Errors come in Redis's order: options,
//! then the ID, then the key.

use super::{
    id_or_reply, lookup_read, lookup_write, option_is, reply_id, stream_or_create,
    strict_id_or_reply, StreamLookup,
};
use crate::cmd::{errors, ExecCtx};
use crate::keyspace::stream::{
    AddError, IdRequest, IdSyntax, NodeLimits, StreamId, Trim, TrimStrategy,
};
use crate::resp::num::parse_i64;
use crate::resp::Argv;

const MAXLEN_AND_MINID: &str =
    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";
const MAXLEN_NEGATIVE: &str = "ERR The MAXLEN argument must be >= 0.";
const LIMIT_NEGATIVE: &str = "ERR The LIMIT argument must be >= 0.";
const LIMIT_WITHOUT_STRATEGY: &str =
    "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy";
const XTRIM_WITHOUT_STRATEGY: &str =
    "ERR syntax error, XTRIM must be called with a trimming strategy";
const LIMIT_WITHOUT_APPROX: &str =
    "ERR syntax error, LIMIT cannot be used without the special ~ option";
const ID_ZERO: &str = "ERR The ID specified in XADD must be greater than 0-0";
const ID_NOT_GREATER: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";
const TOO_LARGE: &str = "ERR Elements are too large to be stored";
const EXHAUSTED: &str =
    "ERR The stream has exhausted the last possible ID, unable to add more items";
const ENTRIES_ADDED_NEGATIVE: &str = "ERR entries_added must be positive";
const SETID_BELOW_MAX_DELETED: &str =
    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id";
const SETID_BELOW_TOP: &str =
    "ERR The ID specified in XSETID is smaller than the target stream top item";
const SETID_ADDED_BELOW_LENGTH: &str =
    "ERR The entries_added specified in XSETID is smaller than the target stream length";

/// Redis's default `LIMIT` for `~` when `stream-node-max-entries` is 0.
const DEFAULT_APPROX_LIMIT: u64 = 10_000;

/// What XADD/XTRIM options asked for.
struct AddTrimArgs {
    trim: Option<Trim>,
    /// XADD's ID: None for `*`.
    id: Option<(StreamId, bool)>,
    no_mkstream: bool,
    /// Position of the ID (XADD) or `argv.len()` when none was found.
    id_pos: usize,
}

/// Parses XADD (`xadd`) or XTRIM options, replying the error on failure.
fn parse_add_trim(ctx: &mut ExecCtx, argv: Argv, xadd: bool) -> Option<AddTrimArgs> {
    let reply = &mut ctx.reply;
    let mut strategy = None;
    let mut approx = false;
    let mut limit: Option<u64> = None;
    let mut id = None;
    let mut no_mkstream = false;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = argv.get(i);
        if xadd && super::c_text(opt) == b"*" {
            break;
        }
        let maxlen = option_is(opt, "maxlen");
        if (maxlen || option_is(opt, "minid")) && more > 0 {
            if strategy.is_some() {
                reply.error(MAXLEN_AND_MINID);
                return None;
            }
            approx = false;
            let next = super::c_text(argv.get(i + 1));
            if more >= 2 && (next == b"~" || next == b"=") {
                approx = next == b"~";
                i += 1;
            }
            let value = argv.get(i + 1);
            strategy = Some(if maxlen {
                let Some(n) = parse_i64(value) else {
                    reply.error(errors::NOT_INTEGER);
                    return None;
                };
                if n < 0 {
                    reply.error(MAXLEN_NEGATIVE);
                    return None;
                }
                TrimStrategy::MaxLen(n as u64)
            } else {
                TrimStrategy::MinId(strict_id_or_reply(reply, value)?)
            });
            i += 1;
        } else if option_is(opt, "limit") && more > 0 {
            let Some(n) = parse_i64(argv.get(i + 1)) else {
                reply.error(errors::NOT_INTEGER);
                return None;
            };
            if n < 0 {
                reply.error(LIMIT_NEGATIVE);
                return None;
            }
            limit = Some(n as u64);
            i += 1;
        } else if xadd && option_is(opt, "nomkstream") {
            no_mkstream = true;
        } else if xadd {
            let parsed = id_or_reply(reply, opt, IdSyntax::XADD)?;
            id = Some((parsed.id, parsed.seq_given));
            break;
        } else {
            reply.error(errors::SYNTAX);
            return None;
        }
        i += 1;
    }
    if limit.unwrap_or(0) != 0 && strategy.is_none() {
        reply.error(LIMIT_WITHOUT_STRATEGY);
        return None;
    }
    if !xadd && strategy.is_none() {
        reply.error(XTRIM_WITHOUT_STRATEGY);
        return None;
    }
    let limit = match limit {
        Some(_) if !approx => {
            reply.error(LIMIT_WITHOUT_APPROX);
            return None;
        }
        Some(n) => n,
        None if approx => match NodeLimits::from_config(ctx.config).max_entries {
            0 => DEFAULT_APPROX_LIMIT,
            n => n.saturating_mul(100),
        },
        None => 0,
    };
    Some(AddTrimArgs {
        trim: strategy.map(|strategy| Trim {
            strategy,
            approx,
            limit,
        }),
        id,
        no_mkstream,
        id_pos: i,
    })
}

pub(super) fn xadd(ctx: &mut ExecCtx, argv: Argv) {
    let Some(args) = parse_add_trim(ctx, argv, true) else {
        return;
    };
    let fields_at = args.id_pos + 1;
    if argv.len() < fields_at + 2 || (argv.len() - fields_at) % 2 == 1 {
        ctx.reply.error(&errors::wrong_args("xadd"));
        return;
    }
    if args.id == Some((StreamId::MIN, true)) {
        ctx.reply.error(ID_ZERO);
        return;
    }
    let key = argv.get(1);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let limits = NodeLimits::from_config(ctx.config);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_write(db, key, now, clock) {
        StreamLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        StreamLookup::Absent if args.no_mkstream => return ctx.reply.null(),
        _ => {}
    }
    let stream = &mut stream_or_create(db, key, now, clock).entries;
    if stream.last_id == StreamId::MAX {
        ctx.reply.error(EXHAUSTED);
        return;
    }
    let request = match args.id {
        None => IdRequest::Auto,
        Some((id, true)) => IdRequest::Exact(id),
        Some((id, false)) => IdRequest::Ms(id.ms),
    };
    let pairs: Vec<&[u8]> = (fields_at..argv.len()).map(|i| argv.get(i)).collect();
    let added = match stream.add(request, &pairs, now, limits) {
        Ok(id) => id,
        Err(AddError::NotGreater) => return ctx.reply.error(ID_NOT_GREATER),
        Err(AddError::TooLarge) => return ctx.reply.error(TOO_LARGE),
    };
    reply_id(&mut ctx.reply, added);
    if let Some(trim) = args.trim {
        stream.trim(trim);
    }
    if ctx.effects.wanted() {
        // Recorded with the ID it got, and an approximate trim as the exact
        // length it left: a replay must not depend on the clock or on how
        // entries happen to be grouped in nodes.
        let id = added.to_bytes();
        let mut command: Vec<&[u8]> = vec![b"XADD", key, &id];
        command.extend(&pairs);
        ctx.effects.replace(&command);
        if args.trim.is_some() {
            let len = stream.len().to_string();
            ctx.effects
                .replace(&[b"XTRIM", key, b"MAXLEN", b"=", len.as_bytes()]);
        }
    }
}

pub(super) fn xtrim(ctx: &mut ExecCtx, argv: Argv) {
    let Some(args) = parse_add_trim(ctx, argv, false) else {
        return;
    };
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_write(db, argv.get(1), now, clock) {
        StreamLookup::Absent => ctx.reply.int(0),
        StreamLookup::WrongType => ctx.reply.error(errors::WRONGTYPE),
        StreamLookup::Found(stream) => {
            let trim = args.trim.expect("XTRIM parsing requires a strategy");
            let deleted = stream.entries.trim(trim);
            ctx.reply.int(deleted as i64);
            if trim.approx {
                let len = stream.entries.len().to_string();
                let key = argv.get(1);
                ctx.effects
                    .replace(&[b"XTRIM", key, b"MAXLEN", b"=", len.as_bytes()]);
            }
        }
    }
}

pub(super) fn xdel(ctx: &mut ExecCtx, argv: Argv) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let stream = match lookup_write(db, argv.get(1), now, clock) {
        StreamLookup::Absent => return ctx.reply.int(0),
        StreamLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        StreamLookup::Found(stream) => stream,
    };
    let mut ids = Vec::with_capacity(argv.len() - 2);
    for i in 2..argv.len() {
        match strict_id_or_reply(&mut ctx.reply, argv.get(i)) {
            Some(id) => ids.push(id),
            None => return,
        }
    }
    let deleted = stream.entries.delete_many(&ids);
    ctx.reply.int(deleted as i64);
}

pub(super) fn xlen(ctx: &mut ExecCtx, argv: Argv) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        StreamLookup::Absent => ctx.reply.int(0),
        StreamLookup::WrongType => ctx.reply.error(errors::WRONGTYPE),
        StreamLookup::Found(stream) => ctx.reply.int(stream.entries.len() as i64),
    }
}

pub(super) fn xsetid(ctx: &mut ExecCtx, argv: Argv) {
    let Some(id) = strict_id_or_reply(&mut ctx.reply, argv.get(2)) else {
        return;
    };
    let mut entries_added = None;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = argv.get(i);
        if option_is(opt, "entriesadded") && more > 0 {
            match parse_i64(argv.get(i + 1)) {
                None => return ctx.reply.error(errors::NOT_INTEGER),
                Some(n) if n < 0 => return ctx.reply.error(ENTRIES_ADDED_NEGATIVE),
                Some(n) => entries_added = Some(n),
            }
        } else if option_is(opt, "maxdeletedid") && more > 0 {
            let Some(given) = strict_id_or_reply(&mut ctx.reply, argv.get(i + 1)) else {
                return;
            };
            if id < given {
                return ctx.reply.error(SETID_BELOW_MAX_DELETED);
            }
            max_deleted = given;
        } else {
            return ctx.reply.error(errors::SYNTAX);
        }
        i += 2;
    }
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let stream = match lookup_write(db, argv.get(1), now, clock) {
        StreamLookup::Absent => return ctx.reply.error(errors::NO_SUCH_KEY),
        StreamLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        StreamLookup::Found(stream) => &mut stream.entries,
    };
    if let Some(top) = stream.last_live_id() {
        if id < top {
            return ctx.reply.error(SETID_BELOW_TOP);
        }
        if entries_added.is_some_and(|added| (added as u64) < stream.len()) {
            return ctx.reply.error(SETID_ADDED_BELOW_LENGTH);
        }
    }
    stream.last_id = id;
    if let Some(added) = entries_added {
        stream.entries_added = added;
    }
    if !max_deleted.is_zero() {
        stream.max_deleted_entry_id = max_deleted;
    }
    ctx.reply.ok();
}
