//! The second half of the event rules (`keyspace_event_rules`): from a
//! command's observed keys, their state after it ran and its reply, the
//! events it raised, in Redis's order.

use super::{did_nothing, has_option, parse_db, KeyEvent, KeyState, Observed, Rule};
use crate::cmd::CommandSpec;
use crate::config::notify_events::{GENERIC, LIST, NEW, SET as SET_CLASS, STREAM, STRING, ZSET};
use crate::keyspace::Keyspace;
use crate::resp::Argv;

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
pub(crate) fn events_after(
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
                let same_key = src.key == dst.key && src.db == dst.db;
                if !same_key && !did_nothing(reply, true) {
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
            let blocked_by_nx = has_option(argv, 3, &[b"nx"]) && k.was.exists;
            let blocked_by_xx = has_option(argv, 3, &[b"xx"]) && !k.was.exists;
            !blocked_by_nx && !blocked_by_xx
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
