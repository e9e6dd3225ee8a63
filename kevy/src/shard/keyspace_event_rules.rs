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

use crate::cmd::CommandSpec;
use crate::config::notify_events::{
    GENERIC, HASH, LIST, NEW, SET as SET_CLASS, STREAM, STRING, ZSET,
};
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

/// The events being built, each `new` raised once per key.
struct Events {
    list: Vec<KeyEvent>,
}

impl Events {
    fn push(&mut self, class: u32, event: &'static str, db: usize, key: &[u8]) {
        self.list.push(KeyEvent {
            class,
            event,
            db,
            key: key.to_vec(),
        });
    }

    /// `new` if the key did not exist before and none was raised yet.
    fn new_if_created(&mut self, was: KeyState, now: KeyState, db: usize, key: &[u8]) {
        if !was.exists && now.exists {
            self.new_key(db, key);
        }
    }

    fn new_key(&mut self, db: usize, key: &[u8]) {
        let raised = self
            .list
            .iter()
            .any(|e| e.event == "new" && e.db == db && e.key == key);
        if !raised {
            self.push(NEW, "new", db, key);
        }
    }
}

/// One key of the command: argument, database, before and after.
#[derive(Clone, Copy)]
struct Seen<'a> {
    key: &'a [u8],
    db: usize,
    was: KeyState,
    now: KeyState,
}

/// After the command ran with `reply`: the events it raised, in order.
pub(super) fn events_after(
    observed: &Observed,
    keyspace: &mut Keyspace,
    spec: &CommandSpec,
    argv: Argv,
    reply: &[u8],
    now_ms: u64,
) -> Vec<KeyEvent> {
    let mut out = Events { list: Vec::new() };
    if reply.first() == Some(&b'-') {
        return out.list;
    }
    let seen: Vec<Seen> = observed
        .keys
        .iter()
        .map(|&(pos, db, was)| {
            let key = argv.get(pos);
            Seen {
                key,
                db,
                was,
                now: KeyState::read(keyspace, db, key, now_ms),
            }
        })
        .collect();
    match observed.rule {
        Rule::Delete => {
            for (i, k) in seen.iter().enumerate() {
                let repeated = seen[..i].iter().any(|o| o.db == k.db && o.key == k.key);
                if k.was.exists && !k.now.exists && !repeated {
                    out.push(GENERIC, "del", k.db, k.key);
                }
            }
        }
        Rule::Set => set_events(&mut out, spec, argv, reply, &seen),
        Rule::StringEdit(event) => string_edit(&mut out, event, &seen),
        Rule::SetRange if !argv.get(3).is_empty() => string_edit(&mut out, "setrange", &seen),
        Rule::SetRange => {}
        Rule::SetBit => {
            let set_to_one = argv.get(3) == b"1";
            let old_bit_differs = reply != if set_to_one { b":1\r\n" } else { b":0\r\n" };
            if let Some(k) = seen.first() {
                if k.now.exists && (!k.was.exists || k.now.len != k.was.len || old_bit_differs) {
                    out.new_if_created(k.was, k.now, k.db, k.key);
                    out.push(STRING, "setbit", k.db, k.key);
                }
            }
        }
        Rule::Expire if did_nothing(reply, true) => {}
        Rule::Expire => {
            for k in &seen {
                if k.was.exists && !k.now.exists {
                    out.push(GENERIC, "del", k.db, k.key);
                } else if k.now.exists && k.now.expire_at.is_some() {
                    out.push(GENERIC, "expire", k.db, k.key);
                }
            }
        }
        Rule::Persist => {
            for k in &seen {
                if k.was.expire_at.is_some() && k.now.exists && k.now.expire_at.is_none() {
                    out.push(GENERIC, "persist", k.db, k.key);
                }
            }
        }
        Rule::GetAndChange => {
            for k in &seen {
                if k.was.exists && !k.now.exists {
                    out.push(GENERIC, "del", k.db, k.key);
                } else if k.now.exists && k.now.expire_at != k.was.expire_at {
                    let event = if k.now.expire_at.is_some() {
                        "expire"
                    } else {
                        "persist"
                    };
                    out.push(GENERIC, event, k.db, k.key);
                }
            }
        }
        Rule::Rename => {
            if let [src, dst, ..] = seen.as_slice() {
                if !did_nothing(reply, true) && !(src.key == dst.key && src.db == dst.db) {
                    // The destination is deleted and added again: always `new`.
                    out.new_key(dst.db, dst.key);
                    out.push(GENERIC, "rename_from", src.db, src.key);
                    out.push(GENERIC, "rename_to", dst.db, dst.key);
                }
            }
        }
        Rule::Copy => {
            if let [_, dst, ..] = seen.as_slice() {
                if !did_nothing(reply, true) {
                    out.new_key(dst.db, dst.key);
                    out.push(GENERIC, "copy_to", dst.db, dst.key);
                }
            }
        }
        Rule::Move => {
            if let [src, dst] = seen.as_slice() {
                if !did_nothing(reply, true) {
                    out.new_key(dst.db, dst.key);
                    out.push(GENERIC, "move_from", src.db, src.key);
                    out.push(GENERIC, "move_to", dst.db, dst.key);
                }
            }
        }
        Rule::Restore => {
            if let Some(k) = seen.first() {
                out.new_key(k.db, k.key);
                out.push(GENERIC, "restore", k.db, k.key);
            }
        }
        Rule::TypeEdit {
            class,
            event,
            zero_is_change,
        } => {
            if !did_nothing(reply, !zero_is_change) {
                for k in &seen {
                    type_edit(&mut out, class, event, *k);
                }
            }
        }
        Rule::ZAdd => {
            if !did_nothing(reply, false) {
                let incr = has_option(argv, 2, &[b"incr"]);
                let event = if incr { "zincr" } else { "zadd" };
                for k in &seen {
                    type_edit(&mut out, ZSET, event, *k);
                }
            }
        }
        Rule::ListMove => list_move_events(&mut out, spec, argv, reply, &seen),
        Rule::MultiPop { class } => multi_pop_events(&mut out, class, argv, reply, &seen),
        Rule::SetMove => {
            if let [src, dst, ..] = seen.as_slice() {
                let same = src.key == dst.key && src.db == dst.db;
                if !same && !did_nothing(reply, true) {
                    out.push(SET_CLASS, "srem", src.db, src.key);
                    if !src.now.exists {
                        out.push(GENERIC, "del", src.db, src.key);
                    }
                    out.new_if_created(dst.was, dst.now, dst.db, dst.key);
                    if !dst.was.exists || dst.now.len > dst.was.len {
                        out.push(SET_CLASS, "sadd", dst.db, dst.key);
                    }
                }
            }
        }
        Rule::Store { class, event } => {
            // `SORT` names its destination second (after the sorted key),
            // and without `STORE` writes nothing.
            let dest = if spec.name == "sort" {
                seen.get(1)
            } else {
                seen.first()
            };
            if let Some(d) = dest {
                if d.now.exists {
                    out.new_if_created(d.was, d.now, d.db, d.key);
                    out.push(class, event, d.db, d.key);
                } else if d.was.exists {
                    out.push(GENERIC, "del", d.db, d.key);
                }
            }
        }
        Rule::XAdd => {
            if let (Some(k), false) = (seen.first(), did_nothing(reply, false)) {
                out.new_if_created(k.was, k.now, k.db, k.key);
                out.push(STREAM, "xadd", k.db, k.key);
                if k.now.len < k.was.len + 1 {
                    out.push(STREAM, "xtrim", k.db, k.key);
                }
            }
        }
        Rule::XSetId => {
            if let Some(k) = seen.first() {
                out.push(STREAM, "xsetid", k.db, k.key);
            }
        }
        Rule::XGroup => xgroup_events(&mut out, argv, reply, &seen),
        Rule::ConsumerUse => {
            for k in seen.iter().filter(|k| k.now.consumers > k.was.consumers) {
                out.push(STREAM, "xgroup-createconsumer", k.db, k.key);
            }
        }
    }
    out.list
}

fn set_events(out: &mut Events, spec: &CommandSpec, argv: Argv, reply: &[u8], seen: &[Seen]) {
    let ran = match spec.name {
        // Replies the old value, null when there was none.
        "getset" => true,
        // With `GET` the reply is the old value whether or not the
        // condition let the write happen: decide by the condition.
        "set" if has_option(argv, 3, &[b"get"]) => seen.first().is_some_and(|k| {
            !(has_option(argv, 3, &[b"nx"]) && k.was.exists)
                && !(has_option(argv, 3, &[b"xx"]) && !k.was.exists)
        }),
        _ => !did_nothing(reply, true),
    };
    if !ran {
        return;
    }
    let expiry_given = match spec.name {
        "setex" | "psetex" => true,
        "set" => has_option(argv, 3, &[b"ex", b"px", b"exat", b"pxat"]),
        _ => false,
    };
    for k in seen {
        if !k.now.exists {
            continue;
        }
        out.new_if_created(k.was, k.now, k.db, k.key);
        out.push(STRING, "set", k.db, k.key);
        if expiry_given && k.now.expire_at.is_some() {
            out.push(GENERIC, "expire", k.db, k.key);
        }
    }
}

fn string_edit(out: &mut Events, event: &'static str, seen: &[Seen]) {
    for k in seen {
        if k.now.exists {
            out.new_if_created(k.was, k.now, k.db, k.key);
            out.push(STRING, event, k.db, k.key);
        }
    }
}

fn type_edit(out: &mut Events, class: u32, event: &'static str, k: Seen) {
    out.new_if_created(k.was, k.now, k.db, k.key);
    out.push(class, event, k.db, k.key);
    if k.was.exists && !k.now.exists {
        out.push(GENERIC, "del", k.db, k.key);
    }
}

/// `LMOVE src dst LEFT|RIGHT LEFT|RIGHT` / `RPOPLPUSH src dst`: `new` and
/// the push on the destination, then the pop on the source and its `del`.
fn list_move_events(out: &mut Events, spec: &CommandSpec, argv: Argv, reply: &[u8], seen: &[Seen]) {
    let [src, dst, ..] = seen else {
        return;
    };
    if did_nothing(reply, false) {
        return;
    }
    let (from_left, to_left) = if spec.name == "lmove" {
        (
            argv.get(3).eq_ignore_ascii_case(b"left"),
            argv.get(4).eq_ignore_ascii_case(b"left"),
        )
    } else {
        (false, true)
    };
    out.new_if_created(dst.was, dst.now, dst.db, dst.key);
    out.push(
        LIST,
        if to_left { "lpush" } else { "rpush" },
        dst.db,
        dst.key,
    );
    out.push(
        LIST,
        if from_left { "lpop" } else { "rpop" },
        src.db,
        src.key,
    );
    if !src.now.exists {
        out.push(GENERIC, "del", src.db, src.key);
    }
}

/// `LMPOP`/`ZMPOP numkeys key... LEFT|RIGHT|MIN|MAX`: the key that shrank.
fn multi_pop_events(out: &mut Events, class: u32, argv: Argv, reply: &[u8], seen: &[Seen]) {
    if did_nothing(reply, false) {
        return;
    }
    let numkeys = parse_db(argv.get(1)).unwrap_or(0);
    let Some(side) = numkeys.checked_add(2).filter(|&i| i < argv.len()) else {
        return;
    };
    let side = argv.get(side);
    let event = match (
        class,
        side.eq_ignore_ascii_case(b"left") || side.eq_ignore_ascii_case(b"min"),
    ) {
        (LIST, true) => "lpop",
        (LIST, false) => "rpop",
        (_, true) => "zpopmin",
        (_, false) => "zpopmax",
    };
    let popped = seen
        .iter()
        .find(|k| k.was.exists && (!k.now.exists || k.now.len < k.was.len));
    if let Some(k) = popped {
        type_edit(out, class, event, *k);
    }
}

/// `XGROUP CREATE|SETID|DESTROY|CREATECONSUMER|DELCONSUMER key ...`.
fn xgroup_events(out: &mut Events, argv: Argv, reply: &[u8], seen: &[Seen]) {
    let Some(k) = seen.first() else {
        return;
    };
    let sub = argv.get(1).to_ascii_lowercase();
    let event = match (sub.as_slice(), reply) {
        (b"create", b"+OK\r\n") => {
            out.new_if_created(k.was, k.now, k.db, k.key);
            "xgroup-create"
        }
        (b"setid", b"+OK\r\n") => "xgroup-setid",
        (b"destroy", b":1\r\n") => "xgroup-destroy",
        (b"createconsumer", b":1\r\n") => "xgroup-createconsumer",
        // Replies the consumer's pending count, 0 also when there was none.
        (b"delconsumer", _) if k.now.consumers < k.was.consumers => "xgroup-delconsumer",
        _ => return,
    };
    out.push(STREAM, event, k.db, k.key);
}
