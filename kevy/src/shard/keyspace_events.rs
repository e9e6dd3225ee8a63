//! Keyspace notifications (`notify-keyspace-events`) for generic and
//! string commands, published on `__keyspace@<db>__:<key>` (message: the
//! event) and `__keyevent@<db>__:<event>` (message: the key).
//!
//! Data-type commands editing one key are covered (`LPUSH`, `HSET`,
//! `SADD`, `ZADD`, `XADD`, ... and `del` when the key is emptied).
//!
//! Handlers do not report events themselves: around a keyspace command run
//! on this shard, the state of its keys (present, expiry) is read before,
//! compared after, and the command's name and reply say which events
//! happened, as Redis's `notifyKeyspaceEvent` calls in those commands
//! would. Events go to this shard's subscribers at once and to every other
//! shard over the mesh (a publish query whose answer nobody waits for).
//! When notifications are off (the default) nothing is read.
//!
//! Not covered yet: commands whose keys span shards (run under
//! coordination), commands moving data between keys (`LMOVE`, `SMOVE`,
//! `*STORE`), expiry and eviction events, key-miss and new-key events.

use kevy_transport::ConnId;

use super::conn::ReplySlot;
use super::mesh::{Hop, ReplyTo};
use super::pubsub::PubSubQuery;
use super::query::Query;
use super::ShardCore;
use crate::cmd::{CommandSpec, Handler};
use crate::config::notify_events::{
    GENERIC, HASH, KEYEVENT, KEYSPACE, LIST, SET as SET_CLASS, STREAM, STRING, ZSET,
};
use crate::resp::Argv;

/// The state of one key before a command.
#[derive(Clone, Copy, PartialEq, Eq)]
struct KeyState {
    exists: bool,
    expire_at: Option<u64>,
}

/// Recorded before a command that may raise events.
pub(crate) struct Before {
    db: usize,
    positions: Vec<usize>,
    states: Vec<KeyState>,
    /// Where the reply starts, for a command run for one of this shard's
    /// connections: (reply went to a new slot, output length before).
    reply_at: Option<(bool, usize)>,
}

/// How a command's events are found.
#[derive(Clone, Copy)]
enum Family {
    /// Keys that disappear: `del`.
    Delete,
    /// `set` on each key, plus `expire` when one was set.
    Set,
    /// A string edit named by its event (`incrby`, `append`, ...).
    StringEdit(&'static str),
    /// `expire` when a TTL was set, `del` when the key went away.
    Expire,
    /// `persist` when a TTL was removed.
    Persist,
    /// `del`, `expire` or `persist`, whichever happened (`GETEX`, `GETDEL`).
    GetAndChange,
    Rename,
    Copy,
    /// A data-type edit raising `event` of `class`, then `del` when the key
    /// went away; `zero_is_change`: an integer reply of 0 still means the
    /// command ran (`HSET` updating fields, `HINCRBY` to 0).
    TypeEdit {
        class: u32,
        event: &'static str,
        zero_is_change: bool,
    },
}

const fn edit(class: u32, event: &'static str) -> Family {
    Family::TypeEdit {
        class,
        event,
        zero_is_change: false,
    }
}

const fn always(class: u32, event: &'static str) -> Family {
    Family::TypeEdit {
        class,
        event,
        zero_is_change: true,
    }
}

fn family(name: &str) -> Option<Family> {
    Some(match name {
        "del" | "unlink" => Family::Delete,
        "set" | "setnx" | "setex" | "psetex" | "getset" | "mset" | "msetnx" => Family::Set,
        "incr" | "decr" | "incrby" | "decrby" => Family::StringEdit("incrby"),
        "incrbyfloat" => Family::StringEdit("incrbyfloat"),
        "append" => Family::StringEdit("append"),
        "setrange" => Family::StringEdit("setrange"),
        "expire" | "pexpire" | "expireat" | "pexpireat" => Family::Expire,
        "persist" => Family::Persist,
        "getex" | "getdel" => Family::GetAndChange,
        "rename" | "renamenx" => Family::Rename,
        "copy" => Family::Copy,
        "lpush" | "lpushx" => edit(LIST, "lpush"),
        "rpush" | "rpushx" => edit(LIST, "rpush"),
        "lpop" => edit(LIST, "lpop"),
        "rpop" => edit(LIST, "rpop"),
        "linsert" => edit(LIST, "linsert"),
        "lset" => edit(LIST, "lset"),
        "ltrim" => edit(LIST, "ltrim"),
        "lrem" => edit(LIST, "lrem"),
        "hset" | "hmset" => always(HASH, "hset"),
        "hsetnx" => edit(HASH, "hset"),
        "hdel" => edit(HASH, "hdel"),
        "hincrby" => always(HASH, "hincrby"),
        "hincrbyfloat" => always(HASH, "hincrbyfloat"),
        "sadd" => edit(SET_CLASS, "sadd"),
        "srem" => edit(SET_CLASS, "srem"),
        "spop" => edit(SET_CLASS, "spop"),
        // A score update replies 0 but is a change (a no-op update is not,
        // which the reply cannot tell).
        "zadd" => always(ZSET, "zadd"),
        "zincrby" => always(ZSET, "zincr"),
        "zrem" => edit(ZSET, "zrem"),
        "xadd" => edit(STREAM, "xadd"),
        "xdel" => edit(STREAM, "xdel"),
        "xtrim" => edit(STREAM, "xtrim"),
        _ => return None,
    })
}

/// A reply that means "nothing was done": an error, a null, or (when
/// `zero_is_nothing`) a zero or negative count or an empty array.
fn did_nothing(reply: &[u8], zero_is_nothing: bool) -> bool {
    matches!(reply.first(), Some(b'-') | Some(b'_'))
        || reply.starts_with(b"$-1")
        || reply.starts_with(b"*-1")
        || (zero_is_nothing
            && (reply == b":0\r\n" || reply.starts_with(b":-") || reply == b"*0\r\n"))
}

/// Whether the reply says the command changed nothing.
fn changed_nothing(family: Family, spec: &CommandSpec, argv: Argv, reply: &[u8]) -> bool {
    match family {
        // Decided by the keys' state alone.
        Family::Delete | Family::GetAndChange => false,
        // `SET ... GET` replies the old value, null when there was none.
        Family::Set
            if spec.name == "set" && argv.iter().any(|a| a.eq_ignore_ascii_case(b"get")) =>
        {
            reply.first() == Some(&b'-')
        }
        Family::StringEdit(_)
        | Family::TypeEdit {
            zero_is_change: true,
            ..
        } => did_nothing(reply, false),
        _ => did_nothing(reply, true),
    }
}

impl ShardCore {
    fn key_state(&mut self, db: usize, key: &[u8]) -> KeyState {
        let now = self.now_ms;
        match self.keyspace.dbs.get_mut(db).and_then(|d| d.get(key, now)) {
            Some(entry) => KeyState {
                exists: true,
                expire_at: entry.expire_at(),
            },
            None => KeyState {
                exists: false,
                expire_at: None,
            },
        }
    }

    /// Before a keyspace command of `db` runs: the state of its keys, when
    /// notifications are on and the command may raise events.
    pub(crate) fn keyspace_events_before(
        &mut self,
        db: usize,
        spec: &CommandSpec,
        argv: Argv,
    ) -> Option<Box<Before>> {
        let flags = self.config.notify_keyspace_events;
        if flags & (KEYSPACE | KEYEVENT) == 0 {
            return None;
        }
        family(spec.name)?;
        let mut positions = Vec::new();
        spec.key_positions(argv, &mut positions);
        let states = positions
            .iter()
            .map(|&p| self.key_state(db, argv.get(p)))
            .collect();
        Some(Box::new(Before {
            db,
            positions,
            states,
            reply_at: None,
        }))
    }

    /// Like [`ShardCore::keyspace_events_before`] for a command of
    /// connection `id`, whose reply is then read from the connection.
    pub(crate) fn conn_events_before(
        &mut self,
        id: ConnId,
        spec: &CommandSpec,
        argv: Argv,
    ) -> Option<Box<Before>> {
        if self.config.notify_keyspace_events == 0 || !matches!(spec.handler, Handler::Key(_)) {
            return None;
        }
        let conn = self.conn(id)?;
        let (db, to_slot, output_len) = (conn.db, !conn.slots.is_empty(), conn.output.len());
        let mut before = self.keyspace_events_before(db, spec, argv)?;
        before.reply_at = Some((to_slot, output_len));
        Some(before)
    }

    /// After a command of connection `id` ran: raises its events.
    pub(crate) fn conn_events_after(
        &mut self,
        id: ConnId,
        spec: &CommandSpec,
        argv: Argv,
        before: Option<Box<Before>>,
    ) {
        let Some(before) = before else {
            return;
        };
        let Some((to_slot, output_len)) = before.reply_at else {
            return;
        };
        let Some(conn) = self.conn(id) else {
            return;
        };
        let reply = if to_slot {
            match conn.slots.back() {
                Some(ReplySlot::Ready(bytes)) => bytes.clone(),
                _ => return,
            }
        } else {
            conn.output.get(output_len..).unwrap_or_default().to_vec()
        };
        self.keyspace_events_after(spec, argv, *before, &reply);
    }

    /// After a command ran with reply `reply`: raises its events.
    pub(crate) fn keyspace_events_after(
        &mut self,
        spec: &CommandSpec,
        argv: Argv,
        before: Before,
        reply: &[u8],
    ) {
        let Some(family) = family(spec.name) else {
            return;
        };
        if changed_nothing(family, spec, argv, reply) {
            return;
        }
        let db = before.db;
        let mut events: Vec<(u32, &'static str, Vec<u8>)> = Vec::new();
        for (&pos, &was) in before.positions.iter().zip(&before.states) {
            let key = argv.get(pos).to_vec();
            let now = self.key_state(db, &key);
            let deleted = was.exists && !now.exists;
            match family {
                Family::Delete if deleted => events.push((GENERIC, "del", key)),
                Family::Set if now.exists => {
                    events.push((STRING, "set", key.clone()));
                    if now.expire_at.is_some() {
                        events.push((GENERIC, "expire", key));
                    }
                }
                Family::StringEdit(event) if now.exists => events.push((STRING, event, key)),
                Family::Expire if deleted => events.push((GENERIC, "del", key)),
                Family::Expire if now.exists && now.expire_at.is_some() => {
                    events.push((GENERIC, "expire", key))
                }
                Family::Persist if was.expire_at.is_some() && now.expire_at.is_none() => {
                    events.push((GENERIC, "persist", key))
                }
                Family::TypeEdit { class, event, .. } => {
                    events.push((class, event, key.clone()));
                    if deleted {
                        events.push((GENERIC, "del", key));
                    }
                }
                Family::GetAndChange if deleted => events.push((GENERIC, "del", key)),
                Family::GetAndChange if now.exists && now.expire_at != was.expire_at => {
                    let event = if now.expire_at.is_some() {
                        "expire"
                    } else {
                        "persist"
                    };
                    events.push((GENERIC, event, key));
                }
                _ => {}
            }
        }
        if let (Family::Rename, [src, dst]) = (family, before.positions.as_slice()) {
            if argv.get(*src) != argv.get(*dst) {
                events.push((GENERIC, "rename_from", argv.get(*src).to_vec()));
                events.push((GENERIC, "rename_to", argv.get(*dst).to_vec()));
            }
        }
        if let (Family::Copy, [_, dst, ..]) = (family, before.positions.as_slice()) {
            events.push((GENERIC, "copy_to", argv.get(*dst).to_vec()));
        }
        for (class, event, key) in events {
            self.notify_keyspace_event(class, event, &key, db);
        }
    }

    /// Publishes one event on the keyspace and keyevent channels enabled.
    fn notify_keyspace_event(&mut self, class: u32, event: &str, key: &[u8], db: usize) {
        let flags = self.config.notify_keyspace_events;
        if flags & class == 0 {
            return;
        }
        if flags & KEYSPACE != 0 {
            let mut channel = format!("__keyspace@{db}__:").into_bytes();
            channel.extend_from_slice(key);
            self.publish_everywhere(channel, event.as_bytes().to_vec());
        }
        if flags & KEYEVENT != 0 {
            let channel = format!("__keyevent@{db}__:{event}").into_bytes();
            self.publish_everywhere(channel, key.to_vec());
        }
    }

    /// Publishes here and on every other shard, waiting for no count.
    fn publish_everywhere(&mut self, channel: Vec<u8>, message: Vec<u8>) {
        self.publish_local(false, &channel, &message);
        for shard in (0..self.shards()).filter(|&s| s != self.id) {
            // The answer is addressed to no connection (client id 0 is never
            // given out), so it is dropped when it comes back.
            let reply_to = ReplyTo {
                shard: self.id,
                conn: usize::MAX,
                client_id: 0,
                seq: 0,
                part: 0,
            };
            let query = Query::PubSub(PubSubQuery::Publish {
                shard_channel: false,
                channel: channel.clone(),
                message: message.clone(),
            });
            self.mesh.send(shard, Hop::Query { reply_to, query });
        }
    }
}
