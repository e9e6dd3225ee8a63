//! Keyspace notifications (`notify-keyspace-events`) around the commands a
//! shard runs on its own keyspace, published on `__keyspace@<db>__:<key>`
//! (message: the event) and `__keyevent@<db>__:<event>` (message: the
//! key); and `expired` events for keys deleted by lazy or active expiry.
//!
//! Data flow: before a command with events (see `keyspace_event_rules`)
//! the state of its keys is read; after it, the state, the command and its
//! reply name the events, which go to this shard's subscribers at once and
//! to every other shard over the mesh (a publish query whose answer nobody
//! waits for). The same events mark watched keys as modified, since Redis
//! signals a key modified exactly where it raises its event (a `HSET` of
//! the value a field had, unlike a `SADD` of a member already there).
//! Commands whose keys span shards raise their events from the scratch
//! copy they run on (`coordinated_events`). When notifications are off and
//! no key is watched, nothing is read.
//!
//! Expired keys: the databases list the keys they delete because they
//! expired while writes are recorded or `expired` events are wanted; the
//! list is drained in one place, `record_expired_keys` (`propagate`),
//! which records their `DEL`s and raises the events, before the events of
//! the command that met them. Not raised: `keymiss` (class `m`), and
//! `evicted`, as kevy never evicts (`maxmemory` is accepted, not enforced).

use kevy_transport::ConnId;

use super::conn::ReplySlot;
use super::mesh::{Hop, ReplyTo};
use super::pubsub::PubSubQuery;
use super::query::Query;
use super::ShardCore;
use crate::cmd::{CommandSpec, Handler};
use crate::config::notify_events::{EXPIRED, KEYEVENT, KEYSPACE};
use crate::resp::Argv;
use rules::{events_after, may_raise_events, observe, KeyEvent, Observed};

#[path = "keyspace_event_rules.rs"]
pub(crate) mod rules;

#[path = "coordinated_events.rs"]
pub(super) mod coordinated;

/// Recorded before a command that may raise events.
pub(crate) struct Before {
    observed: Observed,
    /// Where the reply starts, for a command run for one of this shard's
    /// connections: (reply went to a new slot, output length before).
    reply_at: Option<(bool, usize)>,
}

impl ShardCore {
    fn notifications_on(&self) -> bool {
        self.config.notify_keyspace_events & (KEYSPACE | KEYEVENT) != 0
    }

    /// Whether keys deleted by expiry raise `expired` events.
    pub(super) fn expired_events_wanted(&self) -> bool {
        self.notifications_on() && self.config.notify_keyspace_events & EXPIRED != 0
    }

    /// Makes every database list (or stop listing) the keys it deletes
    /// because they expired; listed while writes are recorded or
    /// `expired` events are wanted.
    pub(super) fn keep_expired_keys(&mut self, recording: bool) {
        let keep = recording || self.expired_events_wanted();
        for db in &mut self.keyspace.dbs {
            db.record_expired(keep);
        }
    }

    /// Raises `expired` for a key deleted because it expired.
    pub(super) fn notify_expired(&mut self, db: usize, key: &[u8]) {
        self.notify_keyspace_event(EXPIRED, "expired", key, db);
    }

    /// Before a keyspace command of `db` runs: the state of its keys, when
    /// it may raise events and notifications are on or it names a watched
    /// key.
    pub(crate) fn keyspace_events_before(
        &mut self,
        db: usize,
        spec: &CommandSpec,
        argv: Argv,
    ) -> Option<Box<Before>> {
        let notify = self.notifications_on();
        if !notify && self.watches.is_empty() {
            return None;
        }
        if !may_raise_events(spec) {
            return None;
        }
        if notify {
            // Expiries met from now on raise their events (the setting may
            // have just changed).
            let recording = self.propagation_active();
            self.keep_expired_keys(recording);
        } else if !self.names_watched_key(db, spec, argv) {
            return None;
        }
        let observed = observe(&mut self.keyspace, db, spec, argv, self.now_ms)?;
        Some(Box::new(Before {
            observed,
            reply_at: None,
        }))
    }

    fn names_watched_key(&mut self, db: usize, spec: &CommandSpec, argv: Argv) -> bool {
        let mut positions = Vec::new();
        spec.key_positions(argv, &mut positions);
        // `MOVE` and `COPY ... DB` write another database too.
        let any_db = matches!(spec.name, "move" | "copy");
        positions.iter().any(|&p| {
            let key = argv.get(p);
            if any_db {
                (0..self.keyspace.dbs.len()).any(|d| self.watches.is_watched(d, key))
            } else {
                self.watches.is_watched(db, key)
            }
        })
    }

    /// Like [`ShardCore::keyspace_events_before`] for a command of
    /// connection `id`, whose reply is then read from the connection.
    pub(crate) fn conn_events_before(
        &mut self,
        id: ConnId,
        spec: &CommandSpec,
        argv: Argv,
    ) -> Option<Box<Before>> {
        if (self.config.notify_keyspace_events == 0 && self.watches.is_empty())
            || !matches!(spec.handler, Handler::Key(_))
        {
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
            // A read may have met expired keys: their events go now.
            if self.expired_events_wanted() {
                self.record_expired_keys();
            }
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

    /// After a command ran on this shard's keyspace with reply `reply`:
    /// marks the watched keys it modified and raises its events.
    pub(crate) fn keyspace_events_after(
        &mut self,
        spec: &CommandSpec,
        argv: Argv,
        before: Before,
        reply: &[u8],
    ) {
        let now = self.now_ms;
        let events = events_after(&before.observed, &mut self.keyspace, spec, argv, reply, now);
        // Keys the command found expired raise `expired` first.
        self.record_expired_keys();
        for event in events.iter().filter(|e| e.touches_key()) {
            self.watches.touch(event.db, &event.key);
        }
        self.publish_key_events(&events);
    }

    /// Publishes events whose class is enabled.
    pub(super) fn publish_key_events(&mut self, events: &[KeyEvent]) {
        if !self.notifications_on() {
            return;
        }
        for event in events {
            self.notify_keyspace_event(event.class, event.event, &event.key, event.db);
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
