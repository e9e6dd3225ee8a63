//! The stream family: `XADD XTRIM XDEL XLEN XSETID XRANGE XREVRANGE XREAD
//! XREADGROUP XGROUP XACK XPENDING XCLAIM XAUTOCLAIM XINFO`, byte-exact
//! with Redis 7.0 (`t_stream.c`).
//!
//! This file holds the command table and what every stream command shares:
//! key lookups ([`lookup_read`] counts keyspace hits and misses as Redis's
//! `lookupKeyRead` does, [`lookup_write`] does not), ID argument parsing
//! with Redis's error replies, and the reply shapes of IDs and entries. The
//! handlers live in `stream/`: `add` (XADD XTRIM XDEL XLEN XSETID), `range`
//! (XRANGE XREVRANGE), `read` (XREAD XREADGROUP, which may name keys on
//! several shards and run atomically), `group` (XGROUP), `pending` (XACK
//! XPENDING), `claim` (XCLAIM XAUTOCLAIM) and `info` (XINFO). The stream
//! itself is `keyspace::stream`.

mod add;
mod claim;
mod effects;
mod group;
mod info;
mod pending;
mod range;
mod read;
mod table;
#[cfg(test)]
mod tests;

use super::errors;
use crate::keyspace::stream::{parse_id, EntryRef, IdSyntax, ParsedId, StreamId, StreamValue};
use crate::keyspace::{Db, Value};
use crate::resp::ReplyBuf;

pub use table::COMMANDS;

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
const INVALID_START: &str = "ERR invalid start ID for the interval";
const INVALID_END: &str = "ERR invalid end ID for the interval";

/// What a key holds, as a stream command sees it (`Found` is the stream).
pub(super) type StreamLookup<'k> = super::Lookup<'k, StreamValue>;

pub(super) use super::{lookup_read, lookup_write};

/// The stream at `key`, created empty when absent (the caller has checked
/// the key holds no other type).
pub(super) fn stream_or_create<'k>(
    db: &'k mut Db,
    key: &[u8],
    now_ms: u64,
    clock: u32,
) -> &'k mut StreamValue {
    if db.get(key, now_ms).is_none() {
        db.insert_new(key.into(), Value::Stream(Box::default()), None, clock);
    }
    match db.get(key, now_ms).map(|e| &mut e.value) {
        Some(Value::Stream(s)) => s,
        _ => unreachable!("the key holds a stream: checked or inserted just above"),
    }
}

/// The text C string functions see: up to the first NUL byte.
pub(super) fn c_text(arg: &[u8]) -> &[u8] {
    arg.iter()
        .position(|&b| b == 0)
        .map_or(arg, |nul| &arg[..nul])
}

/// `strcasecmp(arg, name) == 0`.
pub(super) fn option_is(arg: &[u8], name: &str) -> bool {
    c_text(arg).eq_ignore_ascii_case(name.as_bytes())
}

/// An error reply built from bytes (messages quoting keys or names, which
/// need not be UTF-8); newlines become spaces, as Redis does.
pub(super) fn error_bytes(reply: &mut ReplyBuf, message: &[u8]) {
    let mut line = Vec::with_capacity(message.len() + 3);
    line.push(b'-');
    line.extend(
        message
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    line.extend_from_slice(b"\r\n");
    reply.raw(&line);
}

/// `-NOGROUP No such consumer group '<group>' for key name '<key>'`.
pub(super) fn no_such_group(reply: &mut ReplyBuf, group: &[u8], key: &[u8]) {
    let mut message = b"NOGROUP No such consumer group '".to_vec();
    message.extend_from_slice(c_text(group));
    message.extend_from_slice(b"' for key name '");
    message.extend_from_slice(c_text(key));
    message.push(b'\'');
    error_bytes(reply, &message);
}

/// `-NOGROUP No such key '<key>' or consumer group '<group>'<suffix>`.
pub(super) fn no_such_key_or_group(reply: &mut ReplyBuf, key: &[u8], group: &[u8], suffix: &str) {
    let mut message = b"NOGROUP No such key '".to_vec();
    message.extend_from_slice(c_text(key));
    message.extend_from_slice(b"' or consumer group '");
    message.extend_from_slice(c_text(group));
    message.push(b'\'');
    message.extend_from_slice(suffix.as_bytes());
    error_bytes(reply, &message);
}

/// `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try
/// <CMD> HELP.` (Redis's `addReplySubcommandSyntaxError`).
pub(super) fn subcommand_syntax_error(reply: &mut ReplyBuf, sub: &[u8], command: &str) {
    let sub = c_text(sub);
    let mut message = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    message.extend_from_slice(&sub[..sub.len().min(128)]);
    message.extend_from_slice(b"'. Try ");
    message.extend_from_slice(command.as_bytes());
    message.extend_from_slice(b" HELP.");
    error_bytes(reply, &message);
}

/// Parses an ID argument, replying Redis's error when it is invalid.
pub(super) fn id_or_reply(reply: &mut ReplyBuf, arg: &[u8], syntax: IdSyntax) -> Option<ParsedId> {
    let parsed = parse_id(arg, syntax);
    if parsed.is_none() {
        reply.error(INVALID_ID);
    }
    parsed
}

/// A strict ID (`-` and `+` refused, `ms` alone is `ms-0`), or the error.
pub(super) fn strict_id_or_reply(reply: &mut ReplyBuf, arg: &[u8]) -> Option<StreamId> {
    id_or_reply(reply, arg, IdSyntax::STRICT).map(|p| p.id)
}

/// One end of an interval (`streamParseIntervalIDOrReply`): `(id` is
/// exclusive and strict; returns the ID and whether it was exclusive.
fn interval_or_reply(
    reply: &mut ReplyBuf,
    arg: &[u8],
    missing_seq: u64,
) -> Option<(StreamId, bool)> {
    let exclusive = arg.len() > 1 && arg[0] == b'(';
    let syntax = IdSyntax {
        missing_seq,
        strict: exclusive,
        seq_star: false,
    };
    let text = if exclusive { &arg[1..] } else { arg };
    id_or_reply(reply, text, syntax).map(|p| (p.id, exclusive))
}

/// The start of an interval, moved past an exclusive ID.
pub(super) fn interval_start(reply: &mut ReplyBuf, arg: &[u8]) -> Option<StreamId> {
    let (id, exclusive) = interval_or_reply(reply, arg, 0)?;
    if !exclusive {
        return Some(id);
    }
    let next = id.next();
    if next.is_none() {
        reply.error(INVALID_START);
    }
    next
}

/// The end of an interval, moved before an exclusive ID.
pub(super) fn interval_end(reply: &mut ReplyBuf, arg: &[u8]) -> Option<StreamId> {
    let (id, exclusive) = interval_or_reply(reply, arg, u64::MAX)?;
    if !exclusive {
        return Some(id);
    }
    let prev = id.prev();
    if prev.is_none() {
        reply.error(INVALID_END);
    }
    prev
}

/// An ID as a bulk string (`ms-seq`).
pub(super) fn reply_id(reply: &mut ReplyBuf, id: StreamId) {
    let mut buf = [0u8; 41];
    let mut at = buf.len();
    for (i, mut n) in [id.seq, id.ms].into_iter().enumerate() {
        if i == 1 {
            at -= 1;
            buf[at] = b'-';
        }
        loop {
            at -= 1;
            buf[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
    }
    reply.bulk(&buf[at..]);
}

/// An entry: `[id, [field, value, ...]]`.
pub(super) fn reply_entry(reply: &mut ReplyBuf, entry: EntryRef<'_>) {
    reply.array(2);
    reply_id(reply, entry.id);
    reply.array(2 * entry.pair_count());
    for (field, value) in entry.pairs() {
        reply.bulk(field);
        reply.bulk(value);
    }
}

/// Entries as an array.
pub(super) fn reply_entries(reply: &mut ReplyBuf, entries: &[EntryRef<'_>]) {
    reply.array(entries.len());
    for &entry in entries {
        reply_entry(reply, entry);
    }
}

/// Replies a `HELP` text: the usage line, `lines`, then the `HELP` entry.
pub(super) fn reply_help(reply: &mut ReplyBuf, container: &str, lines: &[&str]) {
    reply.array(lines.len() + 3);
    reply.simple(&format!(
        "{container} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for line in lines {
        reply.simple(line);
    }
    reply.simple("HELP");
    reply.simple("    Prints this help.");
}

/// Finds a container's subcommand and checks its arity, replying Redis's
/// errors; returns the subcommand's lower-case name.
pub(super) fn subcommand<'t>(
    reply: &mut ReplyBuf,
    argv: crate::resp::Argv,
    container: &str,
    table: &'t [(&'static str, i32)],
) -> Option<&'t str> {
    let asked = argv.get(1);
    let Some(&(name, arity)) = table
        .iter()
        .find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(asked))
    else {
        let asked = c_text(asked);
        let mut message = b"ERR unknown subcommand '".to_vec();
        message.extend_from_slice(&asked[..asked.len().min(128)]);
        message.extend_from_slice(b"'. Try ");
        message.extend_from_slice(container.as_bytes());
        message.extend_from_slice(b" HELP.");
        error_bytes(reply, &message);
        return None;
    };
    let argc = argv.len() as i64;
    let arity = i64::from(arity);
    let fits = if arity >= 0 {
        argc == arity
    } else {
        argc >= -arity
    };
    if !fits {
        let full = format!("{}|{name}", container.to_ascii_lowercase());
        reply.error(&errors::wrong_args(&full));
        return None;
    }
    Some(name)
}
