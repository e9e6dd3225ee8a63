//! Which keyspace events a command raised, and in which order, as Redis
//! 7.0's commands raise them with `notifyKeyspaceEvent`.
//!
//! Handlers do not report events: [`observe`] reads the state of a
//! command's keys (present, expiry, length) before it runs, and
//! [`events_after`] compares it with the state after, reading the
//! command's name, arguments and reply to name the events. Both work on any
//! keyspace: the shard's own (a command run where its keys live) and a
//! coordination's scratch copy (a command whose keys span shards), so the
//! two paths raise the same events. A `new` event is raised before the
//! first event of a key the command created, as Redis's `dbAdd` does.
//!
//! Known approximations (the reply does not tell): `ZADD` replying 0
//! raises `zadd` even when no score changed.

#[path = "keyspace_event_after.rs"]
mod after;
pub(crate) use after::events_after;
#[cfg(test)]
#[path = "keyspace_event_tests.rs"]
mod tests;

use crate::cmd::CommandSpec;
use crate::config::notify_events::{HASH, LIST, SET as SET_CLASS, STREAM, STRING, ZSET};
use crate::keyspace::{Keyspace, Value};
use crate::resp::num::parse_i64;
use crate::resp::Argv;

/// The state of one key, as far as events need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeyState {
    pub exists: bool,
    pub expire_at: Option<u64>,
    /// Bytes of a string, elements of a collection, entries of a stream.
    pub len: u64,
    /// Consumers over every group of a stream (0 for other types).
    pub consumers: u64,
}

impl KeyState {
    const ABSENT: KeyState = KeyState {
        exists: false,
        expire_at: None,
        len: 0,
        consumers: 0,
    };

    /// Reads `key` of `db` (an expired key is deleted, as any lookup does).
    pub fn read(keyspace: &mut Keyspace, db: usize, key: &[u8], now_ms: u64) -> KeyState {
        let Some(entry) = keyspace.dbs.get_mut(db).and_then(|d| d.get(key, now_ms)) else {
            return KeyState::ABSENT;
        };
        let (len, consumers) = match &entry.value {
            Value::Str(s) => (s.len() as u64, 0),
            Value::Hash(h) => (h.len() as u64, 0),
            Value::List(l) => (l.len() as u64, 0),
            Value::Set(s) => (s.len() as u64, 0),
            Value::ZSet(z) => (z.len() as u64, 0),
            Value::Stream(s) => {
                let consumers = s.groups.values().map(|g| g.consumers.len() as u64).sum();
                (s.entries.len(), consumers)
            }
        };
        KeyState {
            exists: true,
            expire_at: entry.expire_at(),
            len,
            consumers,
        }
    }
}

/// One keyspace event: published on `__keyspace@<db>__:<key>` (message:
/// the event) and `__keyevent@<db>__:<event>` (message: the key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEvent {
    pub class: u32,
    pub event: &'static str,
    pub db: usize,
    pub key: Vec<u8>,
}

impl KeyEvent {
    /// Whether the event means Redis also signalled the key as modified
    /// (which fails a `WATCH`). `zadd`/`zincr` are raised on a guess when
    /// the reply cannot tell (see the module comment): for them the
    /// value comparison of `watch` decides.
    pub fn touches_key(&self) -> bool {
        !matches!(self.event, "zadd" | "zincr")
    }
}

/// How a command's events are found.
#[derive(Clone, Copy, Debug)]
enum Rule {
    /// Keys that disappear: `del`.
    Delete,
    /// `set` on each key, plus `expire` when an expiry option was given.
    Set,
    /// A string edit named by its event (`incrby`, `append`, ...).
    StringEdit(&'static str),
    /// `setrange`, unless the value is empty (Redis then changes nothing).
    SetRange,
    /// `setbit` when the bit changed or the string grew.
    SetBit,
    /// `expire` when a TTL was set, `del` when the key went away.
    Expire,
    /// `persist` when a TTL was removed.
    Persist,
    /// `del`, `expire` or `persist`, whichever happened (`GETEX`, `GETDEL`).
    GetAndChange,
    Rename,
    Copy,
    Move,
    Restore,
    /// A data-type edit raising `event` of `class`, then `del` when the key
    /// went away; `zero_is_change`: an integer reply of 0 still means the
    /// command ran (`HSET` updating fields, `HINCRBY` by 0).
    TypeEdit {
        class: u32,
        event: &'static str,
        zero_is_change: bool,
    },
    /// `zadd`, or `zincr` with the `INCR` option.
    ZAdd,
    /// `LMOVE`/`RPOPLPUSH`: push on the destination, pop on the source.
    ListMove,
    /// `LMPOP`/`ZMPOP`: a pop from whichever key shrank.
    MultiPop {
        class: u32,
    },
    /// `SMOVE`: `srem` on the source, `sadd` on the destination.
    SetMove,
    /// A command storing its result in a destination key: `event` when it
    /// holds something, `del` when an empty result removed it.
    Store {
        class: u32,
        event: &'static str,
    },
    /// `xadd`, then `xtrim` when the stream was trimmed.
    XAdd,
    XSetId,
    XGroup,
    /// `XREADGROUP`/`XCLAIM`/`XAUTOCLAIM`: `xgroup-createconsumer` when
    /// the named consumer was new.
    ConsumerUse,
}

const fn edit(class: u32, event: &'static str) -> Rule {
    Rule::TypeEdit {
        class,
        event,
        zero_is_change: false,
    }
}

const fn always(class: u32, event: &'static str) -> Rule {
    Rule::TypeEdit {
        class,
        event,
        zero_is_change: true,
    }
}

fn rule(name: &str) -> Option<Rule> {
    Some(match name {
        "del" | "unlink" => Rule::Delete,
        "set" | "setnx" | "setex" | "psetex" | "getset" | "mset" | "msetnx" => Rule::Set,
        "incr" | "decr" | "incrby" | "decrby" => Rule::StringEdit("incrby"),
        "incrbyfloat" => Rule::StringEdit("incrbyfloat"),
        "append" => Rule::StringEdit("append"),
        "setrange" => Rule::SetRange,
        "setbit" => Rule::SetBit,
        "bitop" => Rule::Store {
            class: STRING,
            event: "set",
        },
        "expire" | "pexpire" | "expireat" | "pexpireat" => Rule::Expire,
        "persist" => Rule::Persist,
        "getex" | "getdel" => Rule::GetAndChange,
        "rename" | "renamenx" => Rule::Rename,
        "copy" => Rule::Copy,
        "move" => Rule::Move,
        "restore" => Rule::Restore,
        "sort" => Rule::Store {
            class: LIST,
            event: "sortstore",
        },
        "lpush" | "lpushx" => edit(LIST, "lpush"),
        "rpush" | "rpushx" => edit(LIST, "rpush"),
        "lpop" => edit(LIST, "lpop"),
        "rpop" => edit(LIST, "rpop"),
        "linsert" => edit(LIST, "linsert"),
        "lset" => edit(LIST, "lset"),
        "ltrim" => edit(LIST, "ltrim"),
        "lrem" => edit(LIST, "lrem"),
        "lmove" | "rpoplpush" => Rule::ListMove,
        "lmpop" => Rule::MultiPop { class: LIST },
        "hset" | "hmset" => always(HASH, "hset"),
        "hsetnx" => edit(HASH, "hset"),
        "hdel" => edit(HASH, "hdel"),
        "hincrby" => always(HASH, "hincrby"),
        "hincrbyfloat" => always(HASH, "hincrbyfloat"),
        "sadd" => edit(SET_CLASS, "sadd"),
        "srem" => edit(SET_CLASS, "srem"),
        "spop" => edit(SET_CLASS, "spop"),
        "smove" => Rule::SetMove,
        "sinterstore" | "sunionstore" | "sdiffstore" => Rule::Store {
            class: SET_CLASS,
            event: store_event(name),
        },
        "zadd" => Rule::ZAdd,
        "zincrby" => always(ZSET, "zincr"),
        "zrem" => edit(ZSET, "zrem"),
        "zpopmin" => edit(ZSET, "zpopmin"),
        "zpopmax" => edit(ZSET, "zpopmax"),
        "zremrangebyscore" => edit(ZSET, "zremrangebyscore"),
        "zremrangebyrank" => edit(ZSET, "zremrangebyrank"),
        "zremrangebylex" => edit(ZSET, "zremrangebylex"),
        "zmpop" => Rule::MultiPop { class: ZSET },
        "zunionstore" | "zinterstore" | "zdiffstore" | "zrangestore" => Rule::Store {
            class: ZSET,
            event: store_event(name),
        },
        "xadd" => Rule::XAdd,
        "xdel" => edit(STREAM, "xdel"),
        "xtrim" => edit(STREAM, "xtrim"),
        "xsetid" => Rule::XSetId,
        "xgroup" => Rule::XGroup,
        "xreadgroup" | "xclaim" | "xautoclaim" => Rule::ConsumerUse,
        _ => return None,
    })
}

/// The event of a `*STORE` command: its own name, as Redis names it.
fn store_event(name: &str) -> &'static str {
    match name {
        "sinterstore" => "sinterstore",
        "sunionstore" => "sunionstore",
        "sdiffstore" => "sdiffstore",
        "zunionstore" => "zunionstore",
        "zinterstore" => "zinterstore",
        "zdiffstore" => "zdiffstore",
        _ => "zrangestore",
    }
}

/// Whether a command may raise events at all.
pub(crate) fn may_raise_events(spec: &CommandSpec) -> bool {
    rule(spec.name).is_some()
}

/// A command's keys (argument position, database, state before it ran).
pub(crate) struct Observed {
    rule: Rule,
    keys: Vec<(usize, usize, KeyState)>,
}

/// The keys of a command as (argument position, database): the command's
/// key positions in the connection's database, except `COPY ... DB n`'s
/// destination, and for `MOVE` the key in the target database as well.
fn key_refs(spec: &CommandSpec, argv: Argv, db: usize) -> Vec<(usize, usize)> {
    let mut positions = Vec::new();
    spec.key_positions(argv, &mut positions);
    let mut refs: Vec<(usize, usize)> = positions.iter().map(|&p| (p, db)).collect();
    match spec.name {
        "copy" => {
            if let (Some(dst), Some(target)) = (refs.get_mut(1), copy_target_db(argv)) {
                dst.1 = target;
            }
        }
        "move" => {
            if let Some(target) = parse_db(argv.get(2)) {
                refs.push((1, target));
            }
        }
        _ => {}
    }
    refs
}

fn parse_db(arg: &[u8]) -> Option<usize> {
    parse_i64(arg)
        .filter(|&n| n >= 0)
        .and_then(|n| usize::try_from(n).ok())
}

/// The `DB n` option of `COPY` (the last one wins, as COPY parses them).
fn copy_target_db(argv: Argv) -> Option<usize> {
    let mut found = None;
    let mut i = 3;
    while i < argv.len() {
        if argv.get(i).eq_ignore_ascii_case(b"db") && i + 1 < argv.len() {
            found = parse_db(argv.get(i + 1)).or(found);
            i += 2;
        } else {
            i += 1;
        }
    }
    found
}

/// Before a command runs on `keyspace`: the state of its keys, or None
/// when the command raises no events.
pub(super) fn observe(
    keyspace: &mut Keyspace,
    db: usize,
    spec: &CommandSpec,
    argv: Argv,
    now_ms: u64,
) -> Option<Observed> {
    let rule = rule(spec.name)?;
    let keys = key_refs(spec, argv, db)
        .into_iter()
        .map(|(pos, db)| (pos, db, KeyState::read(keyspace, db, argv.get(pos), now_ms)))
        .collect();
    Some(Observed { rule, keys })
}

/// A reply that means "nothing was done": an error, a null, or (when
/// `zero_is_nothing`) a zero or negative count or an empty array.
fn did_nothing(reply: &[u8], zero_is_nothing: bool) -> bool {
    matches!(reply.first(), Some(b'-') | Some(b'_'))
        || reply.starts_with(b"$-1")
        || reply.starts_with(b"*-1")
        || (zero_is_nothing
            && (reply == b":0\r\n"
                || reply.starts_with(b":-")
                || reply == b"*0\r\n"
                || reply == b"~0\r\n"))
}

fn has_option(argv: Argv, from: usize, options: &[&[u8]]) -> bool {
    argv.iter()
        .skip(from)
        .any(|a| options.iter().any(|o| a.eq_ignore_ascii_case(o)))
}
