//! Pub/Sub on one shard: which of this shard's connections listen to which
//! channels, patterns and shard channels, and delivering a published
//! message to them.
//!
//! Subscriptions never leave their shard: a connection subscribes on its
//! own shard. `PUBLISH` delivers on the publisher's shard inline, then asks
//! every other shard (a [`Query::PubSub`] over the mesh) to deliver to its
//! own subscribers and answer how many received it; the counts are summed.
//! The mesh keeps per-pair order, so messages of one publisher connection
//! reach every subscriber in publish order. A message for a subscriber
//! whose earlier replies are still owed waits behind them in its reply
//! slots, so it never overtakes a reply.

use std::collections::HashMap;

use kevy_transport::ConnId;

use super::conn::{Conn, QueryGather, ReplySlot};
use super::mesh::{Hop, ReplyTo};
use super::query::{Answer, Query};
use super::{ConnCtx, ShardCore};
use crate::cmd::CommandSpec;
use crate::glob::glob_match;
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
}

impl PubSub {
    fn names(&mut self, kind: SubKind) -> &mut HashMap<Vec<u8>, Vec<ConnId>> {
        match kind {
            SubKind::Channel => &mut self.channels,
            SubKind::Pattern => &mut self.patterns,
            SubKind::Shard => &mut self.shard_channels,
        }
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

/// A `message` / `smessage` / `pmessage` push.
fn encode_message(resp3: bool, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + parts.iter().map(|p| p.len() + 16).sum::<usize>());
    push_header(&mut out, resp3, parts.len());
    let mut reply = ReplyBuf::new(&mut out, resp3);
    for part in parts {
        reply.bulk(part);
    }
    out
}

/// Appends bytes after every reply the connection still owes.
fn write_in_order(conn: &mut Conn, bytes: &[u8]) {
    if conn.slots.is_empty() {
        conn.output.extend_from_slice(bytes);
    } else if let Some(ReplySlot::Ready(buf)) = conn.slots.back_mut() {
        buf.extend_from_slice(bytes);
    } else {
        conn.slots.push_back(ReplySlot::Ready(bytes.to_vec()));
    }
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

    /// Delivers a message to this shard's subscribers; returns how many
    /// subscriptions received it (channel subscribers first, then matching
    /// patterns, as Redis counts and orders them).
    pub(crate) fn publish_local(
        &mut self,
        shard_channel: bool,
        channel: &[u8],
        message: &[u8],
    ) -> u64 {
        let mut receivers: Vec<(ConnId, Option<&[u8]>)> = Vec::new();
        let direct = if shard_channel {
            self.pubsub.shard_channels.get(channel)
        } else {
            self.pubsub.channels.get(channel)
        };
        if let Some(ids) = direct {
            receivers.extend(ids.iter().map(|&id| (id, None)));
        }
        if !shard_channel {
            for (pattern, ids) in &self.pubsub.patterns {
                if glob_match(pattern, channel, false) {
                    receivers.extend(ids.iter().map(|&id| (id, Some(pattern.as_slice()))));
                }
            }
        }
        if receivers.is_empty() {
            return 0;
        }
        let word: &[u8] = if shard_channel {
            b"smessage"
        } else {
            b"message"
        };
        let mut encoded: [Option<Vec<u8>>; 2] = [None, None];
        let mut dirty = Vec::with_capacity(receivers.len());
        for &(id, pattern) in &receivers {
            let Some(conn) = self.conns.get_mut(id).and_then(Option::as_mut) else {
                continue;
            };
            if conn.close_after_replies {
                continue;
            }
            match pattern {
                None => {
                    let bytes = encoded[usize::from(conn.resp3)].get_or_insert_with(|| {
                        encode_message(conn.resp3, &[word, channel, message])
                    });
                    write_in_order(conn, bytes);
                }
                Some(pattern) => {
                    let bytes =
                        encode_message(conn.resp3, &[b"pmessage", pattern, channel, message]);
                    write_in_order(conn, &bytes);
                }
            }
            dirty.push(id);
        }
        let count = receivers.len() as u64;
        for id in dirty {
            self.mark_dirty(id);
        }
        count
    }

    /// This shard's answer to a Pub/Sub query.
    pub(crate) fn answer_pubsub(&mut self, query: PubSubQuery) -> Answer {
        let answer = match query {
            PubSubQuery::Publish {
                shard_channel,
                channel,
                message,
            } => return Answer::Count(self.publish_local(shard_channel, &channel, &message)),
            PubSubQuery::Channels {
                shard_channel,
                pattern,
            } => {
                let names = if shard_channel {
                    &self.pubsub.shard_channels
                } else {
                    &self.pubsub.channels
                };
                PubSubAnswer::Names(
                    names
                        .keys()
                        .filter(|name| pattern.as_ref().is_none_or(|p| glob_match(p, name, false)))
                        .cloned()
                        .collect(),
                )
            }
            PubSubQuery::NumSub {
                shard_channel,
                channels,
            } => {
                let names = if shard_channel {
                    &self.pubsub.shard_channels
                } else {
                    &self.pubsub.channels
                };
                PubSubAnswer::Counts(
                    channels
                        .iter()
                        .map(|c| names.get(c).map_or(0, |ids| ids.len() as u64))
                        .collect(),
                )
            }
            PubSubQuery::Patterns => {
                PubSubAnswer::Names(self.pubsub.patterns.keys().cloned().collect())
            }
        };
        Answer::PubSub(answer)
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
        let text = format!(
            "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        );
        self.reply_error_now(id, &text);
        true
    }
}

impl ConnCtx<'_> {
    /// `PUBLISH` / `SPUBLISH`: delivers on this shard at once (so a
    /// publisher subscribed to its own channel sees the message before the
    /// reply, as in Redis), then on every other shard; replies the total.
    pub fn publish(&mut self, shard_channel: bool, channel: &[u8], message: &[u8]) {
        let local = self.core.publish_local(shard_channel, channel, message);
        let shards = self.core.shards();
        if shards == 1 {
            self.reply().int(local as i64);
            return;
        }
        let me = self.core.id;
        let id = self.id;
        let conn = self.conn();
        let mut answers: Vec<Option<Answer>> = (0..shards).map(|_| None).collect();
        answers[me] = Some(Answer::Count(local));
        let gather = QueryGather {
            missing: shards - 1,
            answers,
            resp3: conn.resp3,
            finish: Some(Box::new(|answers, reply| {
                let total: u64 = answers
                    .iter()
                    .map(|a| match a {
                        Answer::Count(n) => *n,
                        _ => 0,
                    })
                    .sum();
                reply.int(total as i64);
            })),
        };
        let client_id = conn.client_id;
        let seq = conn.reserve_slot(ReplySlot::Querying(gather));
        self.deferred = true;
        for shard in (0..shards).filter(|&s| s != me) {
            let reply_to = ReplyTo {
                shard: me,
                conn: id,
                client_id,
                seq,
                part: shard,
            };
            let query = Query::PubSub(PubSubQuery::Publish {
                shard_channel,
                channel: channel.to_vec(),
                message: message.to_vec(),
            });
            self.core.mesh.send(shard, Hop::Query { reply_to, query });
        }
    }
}

#[cfg(test)]
#[path = "pubsub_tests.rs"]
mod tests;
