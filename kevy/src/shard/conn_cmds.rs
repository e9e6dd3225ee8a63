//! The context of connection and server commands ([`ConnCtx`]), and the
//! shard side of queries every shard answers (stats, clients, config).
//!
//! A connection command runs on the connection's own shard. It replies
//! either at once (into `ConnCtx::out`) or later, by asking every shard a
//! [`Query`] and formatting the answers when the last one arrives.

use std::sync::atomic::Ordering;

use kevy_transport::ConnId;

use super::conn::{Conn, QueryGather, ReplySlot};
use super::mesh::{Hop, ReplyTo};
use super::query::{Answer, ClientFilter, Query, ShardStats};
use super::{unix_ms, ShardCore};
use crate::resp::ReplyBuf;

/// What a connection or server command works with.
pub struct ConnCtx<'a> {
    pub core: &'a mut ShardCore,
    pub id: ConnId,
    /// The immediate reply.
    pub out: Vec<u8>,
    /// The reply comes later (a query to every shard is in flight).
    pub(super) deferred: bool,
}

impl<'a> ConnCtx<'a> {
    pub fn new(core: &'a mut ShardCore, id: ConnId) -> Self {
        ConnCtx {
            core,
            id,
            out: Vec::new(),
            deferred: false,
        }
    }

    pub fn conn(&mut self) -> &mut Conn {
        self.core
            .conns
            .get_mut(self.id)
            .and_then(Option::as_mut)
            .expect("a command runs only on a live connection")
    }

    /// A reply writer in the connection's current protocol.
    pub fn reply(&mut self) -> ReplyBuf<'_> {
        let resp3 = self.conn().resp3;
        ReplyBuf::new(&mut self.out, resp3)
    }

    /// Asks every shard `make_query()`; `finish` formats the reply from
    /// their answers (shard order) once all have arrived.
    pub fn ask_all_shards(
        &mut self,
        make_query: impl Fn() -> Query,
        finish: impl FnOnce(Vec<Answer>, &mut ReplyBuf) + 'static,
    ) {
        let shards = self.core.shards();
        let me = self.core.id;
        let conn = self.conn();
        let gather = QueryGather {
            missing: shards,
            answers: (0..shards).map(|_| None).collect(),
            resp3: conn.resp3,
            finish: Some(Box::new(finish)),
        };
        let client_id = conn.client_id;
        let seq = conn.reserve_slot(ReplySlot::Querying(gather));
        self.deferred = true;
        for shard in 0..shards {
            let reply_to = ReplyTo {
                shard: me,
                conn: self.id,
                client_id,
                seq,
                part: shard,
            };
            let query = make_query();
            if shard == me {
                let answer = self.core.answer_query(query);
                self.core.deliver_answer(reply_to, answer);
            } else {
                self.core.mesh.send(shard, Hop::Query { reply_to, query });
            }
        }
    }

    /// Closes the connection after this reply (QUIT).
    pub fn close_after_reply(&mut self) {
        self.conn().close_after_replies = true;
    }

    /// Puts the immediate reply in order; returns whether it is an error.
    pub fn finish(self) -> bool {
        let failed = self.out.first() == Some(&b'-');
        if !self.deferred {
            let out = self.out;
            let id = self.id;
            if let Some(conn) = self.core.conn(id) {
                conn.reply_buffer().extend_from_slice(&out);
                conn.release_ready();
            }
        }
        failed
    }
}

impl ShardCore {
    /// This shard's answer to a query.
    pub(crate) fn answer_query(&mut self, query: Query) -> Answer {
        match query {
            Query::Stats => {
                let mut stats: ShardStats = self.stats.clone();
                stats.name_counters();
                stats.counters.clear();
                stats.expired_keys += self
                    .keyspace
                    .dbs
                    .iter()
                    .map(|db| db.expired_count())
                    .sum::<u64>();
                stats.connected_clients = self.conns.iter().flatten().count() as u64;
                stats.pubsub_names = self.pubsub.active_names();
                stats.keyspace = self
                    .keyspace
                    .dbs
                    .iter()
                    .map(|db| (db.len() as u64, db.volatile_len() as u64))
                    .collect();
                Answer::Stats(Box::new(stats))
            }
            Query::ClientList(filter) => {
                let now = unix_ms();
                let pubsub = &self.pubsub;
                let lines = self
                    .conns
                    .iter()
                    .enumerate()
                    .filter_map(|(id, c)| c.as_ref().map(|c| (c, pubsub.counts(id))))
                    .filter(|(c, subs)| filter_matches(&filter, c, *subs))
                    .map(|(c, subs)| client_line(c, subs, now))
                    .collect();
                Answer::Clients(lines)
            }
            Query::ClientKill(filter) => {
                let mut killed = Vec::new();
                for (id, conn) in self.conns.iter_mut().enumerate() {
                    if let Some(conn) = conn {
                        let subs = self.pubsub.counts(id);
                        if filter_matches(&filter, conn, subs)
                            && filter.skip_id != Some(conn.client_id)
                        {
                            conn.close_after_replies = true;
                            killed.push(id);
                        }
                    }
                }
                for &id in &killed {
                    self.blocking_disconnect(id);
                    self.mark_dirty(id);
                    self.close_if_done(id);
                }
                Answer::Count(killed.len() as u64)
            }
            Query::ConfigSet { epoch, pairs } => {
                for (name, value) in pairs {
                    let applied = self
                        .config_epochs
                        .entry(name.to_ascii_lowercase())
                        .or_insert(0);
                    if *applied >= epoch {
                        continue;
                    }
                    *applied = epoch;
                    if let Err(err) = self.config.set_runtime(&name, &value) {
                        log::warn!("CONFIG SET {name} failed on shard {}: {err}", self.id);
                    }
                }
                // `expired` events may have just been asked for.
                let recording = self.propagation_active();
                self.keep_expired_keys(recording);
                Answer::Done
            }
            Query::ClientUnblock { client_id, error } => {
                Answer::Count(u64::from(self.blocking_unblock(client_id, error)))
            }
            Query::ResetStats => {
                self.stats.reset();
                Answer::Done
            }
            Query::PubSub(query) => self.answer_pubsub(query),
        }
    }

    /// A shard's answer arrived for one of this shard's connections.
    pub(crate) fn deliver_answer(&mut self, to: ReplyTo, answer: Answer) {
        let Some(conn) = self.conn(to.conn) else {
            return;
        };
        if conn.client_id != to.client_id {
            return;
        }
        let Some(slot) = conn.slot_mut(to.seq) else {
            return;
        };
        let ReplySlot::Querying(gather) = slot else {
            return;
        };
        if let Some(place) = gather.answers.get_mut(to.part) {
            if place.is_none() {
                *place = Some(answer);
                gather.missing -= 1;
            }
        }
        if gather.missing > 0 {
            return;
        }
        let answers: Vec<Answer> = gather.answers.iter_mut().filter_map(Option::take).collect();
        let mut out = Vec::new();
        if let Some(finish) = gather.finish.take() {
            finish(answers, &mut ReplyBuf::new(&mut out, gather.resp3));
        }
        *slot = ReplySlot::Ready(out);
        if conn.release_ready() {
            self.mark_dirty(to.conn);
        }
        self.close_if_done(to.conn);
    }

    /// Connected clients over all shards.
    pub fn connected_clients(&self) -> u64 {
        self.shared.connected_clients.load(Ordering::Relaxed)
    }
}

/// `subs`: the connection's (channels, patterns, shard channels).
fn filter_matches(filter: &ClientFilter, conn: &Conn, subs: (usize, usize, usize)) -> bool {
    if !filter.ids.is_empty() && !filter.ids.contains(&conn.client_id) {
        return false;
    }
    if let Some(addr) = &filter.addr {
        if *addr != conn.peer.to_string() {
            return false;
        }
    }
    if let Some(laddr) = &filter.laddr {
        if *laddr != conn.local.to_string() {
            return false;
        }
    }
    if let Some(kind) = &filter.only_type {
        let subscribed = subs.0 + subs.1 + subs.2 > 0;
        let class = if subscribed { "pubsub" } else { "normal" };
        if kind != class {
            return false;
        }
    }
    true
}

/// One `CLIENT LIST` line, in Redis 7.0's field order.
/// `subs`: the connection's (channels, patterns, shard channels).
pub fn client_line(conn: &Conn, subs: (usize, usize, usize), now_ms: u64) -> String {
    let age = now_ms.saturating_sub(conn.created_ms) / 1000;
    let idle = now_ms.saturating_sub(conn.last_command_ms) / 1000;
    let qbuf = conn.input.len();
    let omem = conn.output_len();
    format!(
        "id={} addr={} laddr={} fd=-1 name={} age={age} idle={idle} flags={} db={} sub={} psub={} ssub={} multi=-1 qbuf={qbuf} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp=0 obl=0 oll={} omem={omem} tot-mem={} events=r cmd={} user=default redir=-1 resp={}",
        conn.client_id,
        conn.peer,
        conn.local,
        String::from_utf8_lossy(&conn.name),
        if super::blocking::is_parked(conn) {
            "b"
        } else if subs.0 + subs.1 + subs.2 > 0 {
            "P"
        } else {
            "N"
        },
        conn.db,
        subs.0,
        subs.1,
        subs.2,
        conn.input.capacity().saturating_sub(qbuf),
        conn.input.capacity(),
        conn.slots.len(),
        conn.input.capacity() + conn.output.capacity(),
        conn.last_command.to_ascii_lowercase(),
        if conn.resp3 { 3 } else { 2 },
    )
}
