//! A shard's core with replication around it, as one `ShardHandler`.
//!
//! Data flow: the backend drives this handler exactly as it drives a bare
//! core. Connections accepted on the shard's replication port are replica
//! links ([`PrimaryShard`]); every other event goes to the core. Once per
//! loop iteration it also applies what the replica runner queued for this
//! shard (upstream writes and full syncs, [`super::inbox`]), moves the
//! links' frames, chunks and heartbeats, and answers the `WAIT`s parked on
//! this shard. The core never sees a replication connection, and TLS (when
//! configured) wraps this handler, so links can be encrypted too.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kevy_transport::{ConnId, ShardHandler};

use super::apply::{flush_slots, swap_slots, take_staged};
use super::backlog_sink::BacklogSink;
use super::inbox::{ApplyItem, DRAIN_PER_ITERATION};
use super::primary::PrimaryShard;
use super::state::ReplicationState;
use crate::keyspace::ExpiryMode;
use crate::shard::propagate::{apply_commands, SinkKind};
use crate::shard::{unix_ms, ShardCore};

/// A shard core and its replication duties.
pub struct ReplicatedShard {
    pub core: ShardCore,
    primary: PrimaryShard,
    state: Arc<ReplicationState>,
    /// Set once the write sink is attached: records are kept from the
    /// first replica on (as Redis creates its backlog), so a link cut
    /// later resumes from the backlog.
    recording: bool,
}

impl ReplicatedShard {
    pub fn new(core: ShardCore, primary: PrimaryShard) -> Self {
        let state = core.shared.replication.clone();
        ReplicatedShard {
            core,
            primary,
            state,
            recording: false,
        }
    }

    fn start_recording(&mut self) {
        self.state.want_recording();
        if !self.recording {
            self.state.shard_records();
            let sink = BacklogSink {
                backlog: self.primary.backlog.clone(),
                state: self.state.clone(),
                shard: self.core.id,
            };
            self.core
                .attach_write_sink(SinkKind::Replication, Box::new(sink));
            self.recording = true;
        }
    }

    fn shard(&self) -> usize {
        self.core.id
    }

    /// Applies what the runner queued for this shard, within a budget.
    fn apply_inbox(&mut self) {
        let shard = self.shard();
        let items = self.state.inboxes.drain(shard, DRAIN_PER_ITERATION);
        if items.is_empty() {
            return;
        }
        let now_ms = unix_ms();
        let clock = self.core.clock();
        for (seq, item) in items {
            self.apply_item(item, now_ms, clock);
            self.state.inboxes.mark_applied(shard, seq);
        }
    }

    fn apply_item(&mut self, item: ApplyItem, now_ms: u64, clock: u32) {
        let keyspace = &mut self.core.keyspace;
        match item {
            ApplyItem::Record { db, commands } => {
                if let Err(error) =
                    apply_commands(keyspace, db, &commands, now_ms, &self.core.config)
                {
                    log::warn!("Shard {}: a replicated write failed: {error}", self.core.id);
                }
                // A replica's own replicas get what it applied.
                self.primary.record(db, None, &commands);
            }
            ApplyItem::FlushSlots {
                stream,
                streams,
                db,
            } => {
                let dbs: Vec<usize> = match db {
                    Some(db) => vec![db],
                    None => (0..keyspace.dbs.len()).collect(),
                };
                let removed = flush_slots(keyspace, stream, streams, dbs.into_iter());
                for (db, keys) in removed {
                    for key in keys {
                        self.primary.record(db, None, &del_command(&key));
                    }
                }
            }
            ApplyItem::SwapSlots {
                stream,
                streams,
                a,
                b,
            } => {
                for (db, commands) in swap_slots(keyspace, stream, streams, a, b) {
                    self.primary.record(db, None, &commands);
                }
            }
            ApplyItem::ReplaceSlots {
                stream,
                streams,
                mut staged,
            } => {
                let every_db = 0..keyspace.dbs.len();
                flush_slots(keyspace, stream, streams, every_db);
                let moved = take_staged(keyspace, &mut staged, clock);
                log::info!(
                    "Shard {} took {moved} keys of the full sync of stream {stream}",
                    self.core.id
                );
                // This shard's own replicas did not see these keys as
                // writes: a new history makes them take a full sync.
                self.state.new_history();
            }
        }
    }

    /// A replica keeps expired keys (hidden from reads) until its primary
    /// deletes them, as Redis's replicas do; a primary deletes them.
    fn follow_role(&mut self) {
        let mode = match self.state.is_replica() {
            true => ExpiryMode::Hide,
            false => ExpiryMode::Delete,
        };
        for db in &mut self.core.keyspace.dbs {
            if db.expiry_mode() != mode {
                db.set_expiry_mode(mode);
            }
        }
    }

    /// Answers the `WAIT`s of this shard that are satisfied or timed out.
    fn answer_waits(&mut self, now_ms: u64) {
        if !self.state.has_waits() {
            return;
        }
        let shard = self.shard();
        let waits = self.state.take_waits(shard);
        let mut still = Vec::new();
        let mut answered = 0;
        for mut wait in waits {
            let Some(conn) = self.core.conn(wait.conn) else {
                answered += 1;
                continue;
            };
            if conn.client_id != wait.client_id {
                answered += 1;
                continue;
            }
            if wait.target.is_none() && conn.first_slot == wait.seq {
                // Every reply before the WAIT is complete, so its writes
                // were applied and recorded: they are what replicas must
                // acknowledge.
                wait.target = Some(self.state.offsets());
            }
            let count = wait
                .target
                .as_ref()
                .map_or(0, |target| self.state.replicas_at(target));
            let timed_out = wait.deadline_ms.is_some_and(|at| now_ms >= at);
            let reached = wait.target.is_some() && count >= wait.numreplicas;
            if reached || timed_out {
                let reply = format!(":{count}\r\n");
                self.core
                    .fill_deferred(wait.conn, wait.client_id, wait.seq, reply.as_bytes());
                answered += 1;
            } else {
                still.push(wait);
            }
        }
        self.state.put_waits(shard, answered, still);
    }

    fn next_wait_deadline(&self) -> Option<Instant> {
        if !self.state.has_waits() {
            return None;
        }
        // Waits are re-checked at least this often while any is parked.
        Some(Instant::now() + Duration::from_millis(10))
    }
}

/// `DEL key` as RESP.
fn del_command(key: &[u8]) -> Vec<u8> {
    let mut out = b"*2\r\n$3\r\nDEL\r\n".to_vec();
    out.extend_from_slice(format!("${}\r\n", key.len()).as_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(b"\r\n");
    out
}

impl ShardHandler for ReplicatedShard {
    fn on_accept(&mut self, id: ConnId, peer: SocketAddr, local: SocketAddr) {
        if self.primary.port != 0 && local.port() == self.primary.port {
            self.start_recording();
            self.primary.accept(id, peer, unix_ms());
        } else {
            self.core.on_accept(id, peer, local);
        }
    }

    fn on_read(&mut self, id: ConnId, bytes: &[u8]) {
        if self.primary.is_link(id) {
            let requirepass = self.core.config.requirepass.clone();
            self.primary
                .read(id, bytes, requirepass.as_deref(), unix_ms());
        } else {
            self.core.on_read(id, bytes);
        }
    }

    fn on_closed(&mut self, id: ConnId) {
        if self.primary.is_link(id) {
            self.primary.closed(id);
        } else {
            self.core.on_closed(id);
        }
    }

    fn on_output_flushed(&mut self, id: ConnId) {
        if !self.primary.is_link(id) {
            self.core.on_output_flushed(id);
        }
    }

    fn on_inbox(&mut self) {
        self.core.on_inbox();
        if !self.recording && self.state.recording_wanted() {
            self.start_recording();
        }
        if !self.core.is_locked() {
            self.apply_inbox();
        }
    }

    fn on_tick(&mut self, now: Instant) {
        self.follow_role();
        self.core.on_tick(now);
        let backlog = super::backlog_size(&self.core.config);
        let read_only = self.core.config.get("replica-read-only") != Some("no");
        self.state.configure(read_only, backlog as u64);
        // 0 is "no limit" in Redis's terms; the pump needs a number.
        let cap = match self.core.config.output_limits.replica.hard_bytes {
            0 => 1 << 40,
            bytes => usize::try_from(bytes).unwrap_or(usize::MAX),
        };
        self.primary.set_limits(backlog, cap);
    }

    fn end_of_iteration(&mut self) {
        self.core.end_of_iteration();
    }

    fn take_events(&mut self, dirty: &mut Vec<ConnId>, closing: &mut Vec<ConnId>) {
        let now_ms = unix_ms();
        self.primary
            .run(&self.core.keyspace, now_ms, dirty, closing);
        self.answer_waits(now_ms);
        self.core.take_events(dirty, closing);
    }

    fn pending_output(&mut self, id: ConnId) -> &[u8] {
        if self.primary.is_link(id) {
            self.primary.pending_output(id)
        } else {
            self.core.pending_output(id)
        }
    }

    fn consume_output(&mut self, id: ConnId, n: usize) {
        if self.primary.is_link(id) {
            self.primary.consume_output(id, n, unix_ms());
        } else {
            self.core.consume_output(id, n);
        }
    }

    fn prepare_to_park(&mut self) -> bool {
        if self.state.inboxes.has_items(self.shard()) && !self.core.is_locked() {
            return false;
        }
        self.core.prepare_to_park()
    }

    fn unparked(&mut self) {
        self.core.unparked();
    }

    fn stop_requested(&self) -> bool {
        self.core.stop_requested()
    }

    fn tick_interval(&self) -> Duration {
        self.core.tick_interval()
    }

    fn next_deadline(&self) -> Option<Instant> {
        match (self.core.next_deadline(), self.next_wait_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
