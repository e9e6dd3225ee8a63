//! Publishing: delivering a message to this shard's subscribers, the
//! answers to Pub/Sub queries from other shards, and `PUBLISH` itself,
//! which delivers here first and then asks every other shard.

use kevy_transport::ConnId;

use super::super::conn::{Conn, QueryGather, ReplySlot};
use super::super::mesh::{Hop, ReplyTo};
use super::super::query::{Answer, Query};
use super::super::{ConnCtx, ShardCore};
use super::{push_header, PubSubAnswer, PubSubQuery};
use crate::glob::glob_match;
use crate::resp::ReplyBuf;

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

impl ShardCore {
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
