//! Pub/Sub on one shard: which of this shard's connections listen to which
//! channels, patterns and shard channels, and delivering a published
//! message to them.
//!
//! Subscriptions never leave their shard: a connection subscribes on its
//! own shard. `PUBLISH` delivers on the publisher's shard inline, then asks
//! every other shard (a `Query::PubSub` over the mesh) to deliver to its
//! own subscribers and answer how many received it; the counts are summed
//! (delivery and `PUBLISH` live in `pubsub_publish.rs`).
//! The mesh keeps per-pair order, so messages of one publisher connection
//! reach every subscriber in publish order. A message for a subscriber
//! whose earlier replies are still owed waits behind them in its reply
//! slots, so it never overtakes a reply.

use std::collections::HashMap;

use kevy_transport::ConnId;

use super::ShardCore;
use crate::cmd::CommandSpec;
use crate::resp::{Argv, ReplyBuf};

/// The three kinds of subscription, each its own namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubKind {
    Channel,
    Pattern,
    Shard,
}

impl SubKind {
    fn subscribe_word(self) -> &'static [u8] {
        match self {
            SubKind::Channel => b"subscribe",
            SubKind::Pattern => b"psubscribe",
            SubKind::Shard => b"ssubscribe",
        }
    }

    fn unsubscribe_word(self) -> &'static [u8] {
        match self {
            SubKind::Channel => b"unsubscribe",
            SubKind::Pattern => b"punsubscribe",
            SubKind::Shard => b"sunsubscribe",
        }
    }
}

/// Questions about Pub/Sub state every shard answers.
pub enum PubSubQuery {
    /// Deliver to this shard's subscribers; answered with the receiver count.
    Publish {
        shard_channel: bool,
        channel: Vec<u8>,
        message: Vec<u8>,
    },
    /// Active channel (or shard channel) names matching a pattern.
    Channels {
        shard_channel: bool,
        pattern: Option<Vec<u8>>,
    },
    /// Subscriber counts of the given channels (or shard channels).
    NumSub {
        shard_channel: bool,
        channels: Vec<Vec<u8>>,
    },
    /// Patterns with at least one subscriber.
    Patterns,
}

pub enum PubSubAnswer {
    Names(Vec<Vec<u8>>),
    Counts(Vec<u64>),
}

/// One connection's subscriptions, in subscription order.
#[derive(Default)]
struct ConnSubs {
    client_id: u64,
    channels: Vec<Vec<u8>>,
    patterns: Vec<Vec<u8>>,
    shard_channels: Vec<Vec<u8>>,
}

impl ConnSubs {
    fn list(&mut self, kind: SubKind) -> &mut Vec<Vec<u8>> {
        match kind {
            SubKind::Channel => &mut self.channels,
            SubKind::Pattern => &mut self.patterns,
            SubKind::Shard => &mut self.shard_channels,
        }
    }

    /// The count a (un)subscribe reply reports: channels plus patterns, or
    /// shard channels alone, as Redis 7.0 counts them.
    fn reported(&self, kind: SubKind) -> usize {
        match kind {
            SubKind::Shard => self.shard_channels.len(),
            _ => self.channels.len() + self.patterns.len(),
        }
    }

    fn total(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard_channels.len()
    }
}

/// This shard's subscriptions, both ways: by name and by connection.
#[derive(Default)]
pub struct PubSub {
    channels: HashMap<Vec<u8>, Vec<ConnId>>,
    patterns: HashMap<Vec<u8>, Vec<ConnId>>,
    shard_channels: HashMap<Vec<u8>, Vec<ConnId>>,
    by_conn: HashMap<ConnId, ConnSubs>,
    /// Keyspace events of coordinated commands, published once their
    /// writes are applied.
    pub(crate) key_events: super::keyspace_events::coordinated::CoordinatedEvents,
}

impl PubSub {
    fn names(&mut self, kind: SubKind) -> &mut HashMap<Vec<u8>, Vec<ConnId>> {
        match kind {
            SubKind::Channel => &mut self.channels,
            SubKind::Pattern => &mut self.patterns,
            SubKind::Shard => &mut self.shard_channels,
        }
    }

    /// The names with subscribers here: channels, patterns, shard channels
    /// (for `INFO`, which counts distinct names over every shard).
    pub fn active_names(&self) -> [std::collections::BTreeSet<Vec<u8>>; 3] {
        [&self.channels, &self.patterns, &self.shard_channels]
            .map(|names| names.keys().cloned().collect())
    }

    /// Whether `id` holds any subscription (the `pubsub` output-limit class).
    pub fn is_subscriber(&self, id: ConnId) -> bool {
        self.by_conn.get(&id).is_some_and(|s| s.total() > 0)
    }

    /// `(channels, patterns, shard channels)` of a connection.
    pub fn counts(&self, id: ConnId) -> (usize, usize, usize) {
        self.by_conn.get(&id).map_or((0, 0, 0), |s| {
            (s.channels.len(), s.patterns.len(), s.shard_channels.len())
        })
    }

    /// Adds a subscription; returns the count to report.
    fn subscribe(&mut self, id: ConnId, client_id: u64, kind: SubKind, name: &[u8]) -> usize {
        let subs = self.by_conn.entry(id).or_default();
        subs.client_id = client_id;
        if !subs.list(kind).iter().any(|n| n == name) {
            subs.list(kind).push(name.to_vec());
            self.names(kind).entry(name.to_vec()).or_default().push(id);
        }
        self.by_conn.get(&id).map_or(0, |s| s.reported(kind))
    }

    /// Removes a subscription if held; returns the count to report.
    fn unsubscribe(&mut self, id: ConnId, kind: SubKind, name: &[u8]) -> usize {
        let Some(subs) = self.by_conn.get_mut(&id) else {
            return 0;
        };
        let list = subs.list(kind);
        if let Some(at) = list.iter().position(|n| n == name) {
            list.remove(at);
            let names = self.names(kind);
            if let Some(ids) = names.get_mut(name) {
                ids.retain(|&c| c != id);
                if ids.is_empty() {
                    names.remove(name);
                }
            }
        }
        let reported = self.by_conn.get(&id).map_or(0, |s| s.reported(kind));
        if self.by_conn.get(&id).is_some_and(|s| s.total() == 0) {
            self.by_conn.remove(&id);
        }
        reported
    }

    /// The names `id` holds of one kind, in subscription order.
    fn held(&self, id: ConnId, kind: SubKind) -> Vec<Vec<u8>> {
        self.by_conn.get(&id).map_or_else(Vec::new, |s| match kind {
            SubKind::Channel => s.channels.clone(),
            SubKind::Pattern => s.patterns.clone(),
            SubKind::Shard => s.shard_channels.clone(),
        })
    }

    /// Drops every subscription of a connection (closed or `RESET`).
    pub fn forget(&mut self, id: ConnId) {
        for kind in [SubKind::Channel, SubKind::Pattern, SubKind::Shard] {
            for name in self.held(id, kind) {
                self.unsubscribe(id, kind, &name);
            }
        }
        self.by_conn.remove(&id);
    }
}

/// Writes a push (RESP3) or array (RESP2) header.
fn push_header(out: &mut Vec<u8>, resp3: bool, n: usize) {
    out.push(if resp3 { b'>' } else { b'*' });
    out.extend_from_slice(n.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The commands a RESP2 connection may run while subscribed.
const ALLOWED_WHILE_SUBSCRIBED: &[&str] = &[
    "subscribe",
    "unsubscribe",
    "psubscribe",
    "punsubscribe",
    "ssubscribe",
    "sunsubscribe",
    "ping",
    "quit",
    "reset",
];

impl ShardCore {
    /// Subscribes connection `id` to each name, replying once per name.
    pub(crate) fn pubsub_subscribe(
        &mut self,
        id: ConnId,
        kind: SubKind,
        names: &[&[u8]],
        out: &mut Vec<u8>,
    ) {
        let Some(conn) = self.conn(id) else {
            return;
        };
        let (client_id, resp3) = (conn.client_id, conn.resp3);
        for name in names {
            let count = self.pubsub.subscribe(id, client_id, kind, name);
            push_header(out, resp3, 3);
            let mut reply = ReplyBuf::new(out, resp3);
            reply.bulk(kind.subscribe_word());
            reply.bulk(name);
            reply.int(count as i64);
        }
    }

    /// Unsubscribes from each name (all held names when `names` is empty),
    /// replying once per name, or once with a null name when none is held.
    pub(crate) fn pubsub_unsubscribe(
        &mut self,
        id: ConnId,
        kind: SubKind,
        names: &[&[u8]],
        out: &mut Vec<u8>,
    ) {
        let Some(resp3) = self.conn(id).map(|c| c.resp3) else {
            return;
        };
        let held;
        let names: Vec<&[u8]> = if names.is_empty() {
            held = self.pubsub.held(id, kind);
            held.iter().map(Vec::as_slice).collect()
        } else {
            names.to_vec()
        };
        if names.is_empty() {
            let count = self.pubsub.by_conn.get(&id).map_or(0, |s| s.reported(kind));
            push_header(out, resp3, 3);
            let mut reply = ReplyBuf::new(out, resp3);
            reply.bulk(kind.unsubscribe_word());
            reply.null();
            reply.int(count as i64);
            return;
        }
        for name in names {
            let count = self.pubsub.unsubscribe(id, kind, name);
            push_header(out, resp3, 3);
            let mut reply = ReplyBuf::new(out, resp3);
            reply.bulk(kind.unsubscribe_word());
            reply.bulk(name);
            reply.int(count as i64);
        }
    }

    /// Subscribed mode: a RESP2 connection holding a subscription may only
    /// run (un)subscribe commands, `PING`, `QUIT` and `RESET`. Returns true
    /// when the command was answered here (refused, or a subscribed `PING`).
    /// `RESET` drops the subscriptions before it runs.
    pub(crate) fn pubsub_gate(
        &mut self,
        id: ConnId,
        index: usize,
        spec: &'static CommandSpec,
        argv: Argv,
    ) -> bool {
        if self.pubsub.by_conn.is_empty() || !self.pubsub.by_conn.contains_key(&id) {
            return false;
        }
        if spec.name == "reset" {
            self.pubsub.forget(id);
            return false;
        }
        let resp3 = self.conn(id).is_some_and(|c| c.resp3);
        if resp3 || !self.pubsub.is_subscriber(id) {
            return false;
        }
        if spec.name == "ping" && argv.len() <= 2 {
            if let Some(conn) = self.conn(id) {
                let mut out = Vec::new();
                push_header(&mut out, false, 2);
                let mut reply = ReplyBuf::new(&mut out, false);
                reply.bulk(b"pong");
                reply.bulk(if argv.len() == 2 { argv.get(1) } else { b"" });
                conn.reply_buffer().extend_from_slice(&out);
                conn.release_ready();
            }
            self.stats.counter(index).calls += 1;
            self.mark_dirty(id);
            return true;
        }
        if ALLOWED_WHILE_SUBSCRIBED.contains(&spec.name) {
            return false;
        }
        // A container names its subcommand (`pubsub|numsub`), as Redis's
        // full name; an unknown subcommand gets the container's own error.
        let name = if spec.subcommands.is_empty() {
            spec.name.to_string()
        } else {
            let asked = String::from_utf8_lossy(argv.get(1)).to_ascii_lowercase();
            if argv.len() < 2 || !spec.subcommands.contains(&asked.as_str()) {
                return false;
            }
            format!("{}|{asked}", spec.name)
        };
        self.stats.counter(index).rejected_calls += 1;
        let reason = format!(
            "Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        );
        // A refused `EXEC` says so as Redis's execCommandAbort does.
        let text = if spec.name == "exec" {
            format!("EXECABORT Transaction discarded because of: {reason}")
        } else {
            format!("ERR {reason}")
        };
        self.reply_error_now(id, &text);
        true
    }
}

#[path = "pubsub_publish.rs"]
mod publish;

#[cfg(test)]
#[path = "pubsub_tests.rs"]
mod tests;
