//! The per-shard core: sans-IO, driven by any backend through
//! [`kevy_transport::ShardHandler`].
//!
//! Bytes read from a connection are parsed in place (arguments borrowed
//! from the input), each command is routed by its keys (see `dispatch`):
//! run here against this shard's keyspace, sent to the owning shard as a
//! hop, scattered and gathered, or coordinated under locks. Replies go into
//! the connection's output in command order; the backend pulls the output
//! of every connection marked dirty at the end of each loop iteration.

mod blocking;
mod blocking_origin;
#[cfg(test)]
mod blocking_sim_tests;
mod blocking_target;
mod conn;
mod conn_cmds;
pub mod coord;
mod coordinator;
mod dispatch;
mod gather;
mod keyspace_events;
mod lock;
pub mod mesh;
pub mod multi;
mod multi_run;
#[cfg(test)]
mod multi_sim_tests;
mod output_limit;
pub mod propagate;
#[cfg(test)]
mod propagate_tests;
pub mod pubsub;
pub mod query;
#[cfg(test)]
mod sim_tests;
mod watch;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kevy_transport::{ConnId, ShardHandler};

pub use conn::Conn;
use conn::OUTPUT_PAUSE_BYTES;
pub use conn_cmds::ConnCtx;
use coord::Coordination;
pub use gather::value_end as gather_value_end;
use lock::LockState;
use mesh::Mesh;
pub use query::{ClientFilter, CommandStat, ShardStats};

use crate::config::Config;
use crate::keyspace::Keyspace;
use crate::random::SplitMix64;
use crate::resp::{parse, Argv, Frame, ParseLimits, ReplyBuf};
use crate::slot::SlotTable;

/// State every shard shares: read-mostly, no locks on the command path.
pub struct ServerShared {
    pub shutdown: AtomicBool,
    pub next_client_id: AtomicU64,
    pub started: Instant,
    pub started_unix_ms: u64,
    pub run_id: String,
    pub shards: usize,
    /// The TCP port actually bound (the configured one, or the one the
    /// kernel picked for port 0).
    pub tcp_port: u16,
    pub connected_clients: AtomicU64,
    /// Clients parked by a blocking command, over all shards.
    pub blocked_clients: AtomicU64,
    pub slots: SlotTable,
    /// Orders `CONFIG SET`s server-wide.
    pub config_epoch: AtomicU64,
    /// Role, offsets, replicas and the replica runner's inboxes.
    pub replication: Arc<crate::replication::ReplicationState>,
}

impl ServerShared {
    pub fn new(shards: usize, tcp_port: u16) -> Self {
        let started_unix_ms = unix_ms();
        let mut rng = SplitMix64::from_entropy();
        let run_id = (0..40)
            .map(|_| char::from(b"0123456789abcdef"[rng.below(16)]))
            .collect();
        ServerShared {
            shutdown: AtomicBool::new(false),
            next_client_id: AtomicU64::new(1),
            started: Instant::now(),
            started_unix_ms,
            run_id,
            shards,
            tcp_port,
            connected_clients: AtomicU64::new(0),
            blocked_clients: AtomicU64::new(0),
            slots: SlotTable::new(shards),
            config_epoch: AtomicU64::new(0),
            replication: Arc::new(crate::replication::ReplicationState::new(shards)),
        }
    }
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// One shard: its keyspace, connections and end of the mesh.
pub struct ShardCore {
    pub id: usize,
    pub shared: Arc<ServerShared>,
    pub config: Config,
    pub keyspace: Keyspace,
    pub stats: ShardStats,
    pub rng: SplitMix64,
    /// The `CONFIG SET` epoch last applied, per directive.
    config_epochs: std::collections::HashMap<String, u64>,
    pub(crate) conns: Vec<Option<Conn>>,
    pub(crate) mesh: Mesh,
    blocking: blocking::ShardBlocking,
    dirty: Vec<ConnId>,
    closing: Vec<ConnId>,
    /// Connections with input left unparsed because the shard was locked.
    stalled: Vec<ConnId>,
    lock: LockState,
    coordinations: Vec<Coordination>,
    next_tx: u64,
    /// Counts commands to pick which ones are timed.
    timing_counter: u64,
    receive_cursor: usize,
    now_ms: u64,
    clock_secs: u32,
    arg_ranges: Vec<(u32, u32)>,
    inline_scratch: Vec<u8>,
    key_positions: Vec<usize>,
    key_shards: Vec<usize>,
    pub(crate) pubsub: pubsub::PubSub,
    /// Keys of this shard some client `WATCH`es.
    watches: watch::WatchTable,
    /// How the command being run is recorded (see `propagate`).
    effects: crate::cmd::effects::Effects,
    /// Write records and the sinks they go to.
    propagation: propagate::Propagation,
}

impl ShardCore {
    pub fn new(id: usize, shared: Arc<ServerShared>, config: Config, mesh: Mesh) -> Self {
        let databases = config.databases;
        ShardCore {
            id,
            shared,
            config,
            keyspace: Keyspace::new(databases),
            stats: ShardStats::default(),
            rng: SplitMix64::from_entropy(),
            config_epochs: std::collections::HashMap::new(),
            conns: Vec::new(),
            mesh,
            blocking: blocking::ShardBlocking::new(id),
            dirty: Vec::new(),
            closing: Vec::new(),
            stalled: Vec::new(),
            lock: LockState::default(),
            coordinations: Vec::new(),
            next_tx: 0,
            timing_counter: 0,
            receive_cursor: 0,
            now_ms: unix_ms(),
            clock_secs: 0,
            arg_ranges: Vec::new(),
            inline_scratch: Vec::new(),
            key_positions: Vec::new(),
            key_shards: Vec::new(),
            pubsub: pubsub::PubSub::default(),
            watches: watch::WatchTable::default(),
            effects: crate::cmd::effects::Effects::default(),
            propagation: propagate::Propagation::default(),
        }
    }

    pub fn shards(&self) -> usize {
        self.shared.shards
    }

    /// Seconds since start, the clock of access times: read once per batch
    /// of events (with `now_ms`), not per command.
    pub fn clock(&self) -> u32 {
        self.clock_secs
    }

    /// Reads the wall clock and the access-time clock for a batch of work.
    fn refresh_clocks(&mut self) {
        self.now_ms = unix_ms();
        self.clock_secs = self.shared.started.elapsed().as_secs() as u32;
    }

    pub(crate) fn conn(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.conns.get_mut(id).and_then(Option::as_mut)
    }

    pub(crate) fn mark_dirty(&mut self, id: ConnId) {
        if let Some(conn) = self.conns.get_mut(id).and_then(Option::as_mut) {
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(id);
            }
        }
    }

    /// Queues the connection for closing when it owes nothing more.
    pub(crate) fn close_if_done(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(id).and_then(Option::as_mut) else {
            return;
        };
        let done_reading = conn.eof || conn.close_after_replies;
        if done_reading
            && conn.owes_nothing()
            && (conn.close_after_replies || conn.input.is_empty())
        {
            conn.close_after_replies = true;
            self.closing.push(id);
        }
    }

    fn may_execute(&self, conn: &Conn) -> bool {
        !conn.waiting_coordination
            && !conn.close_after_replies
            && conn.output_len() < OUTPUT_PAUSE_BYTES
    }

    /// Parses and runs every complete command of `id`'s input plus
    /// `incoming`, until the input runs out or the connection must wait.
    pub(crate) fn process_input(&mut self, id: ConnId, incoming: &[u8]) {
        let Some(conn) = self.conn(id) else {
            return;
        };
        let mut owned = std::mem::take(&mut conn.input);
        let parse_incoming = owned.is_empty();
        if !parse_incoming {
            owned.extend_from_slice(incoming);
        }
        let mut args = std::mem::take(&mut self.arg_ranges);
        let mut scratch = std::mem::take(&mut self.inline_scratch);
        let mut pos = 0;
        {
            let buf: &[u8] = if parse_incoming { incoming } else { &owned };
            loop {
                if pos >= buf.len() {
                    break;
                }
                if self.lock.is_held() {
                    self.stall(id);
                    break;
                }
                let Some(conn) = self.conns.get(id).and_then(Option::as_ref) else {
                    break;
                };
                if !self.may_execute(conn) || buf.len() < conn.input_need {
                    break;
                }
                let limits = ParseLimits {
                    max_bulk_len: self.config.proto_max_bulk_len,
                    unauthenticated: !conn.authenticated,
                };
                let rest = &buf[pos..];
                match parse(rest, &limits, &mut args, &mut scratch) {
                    Ok(Frame::Incomplete { need }) => {
                        if let Some(conn) = self.conn(id) {
                            conn.input_need = pos + need;
                        }
                        break;
                    }
                    Ok(Frame::Multibulk { consumed }) => {
                        pos += consumed;
                        if !args.is_empty() {
                            self.execute(id, Argv::new(rest, &args));
                        }
                    }
                    Ok(Frame::Inline { consumed }) => {
                        pos += consumed;
                        if !args.is_empty() {
                            self.execute(id, Argv::new(&scratch, &args));
                        }
                    }
                    Err(err) => {
                        self.protocol_error(id, &err.to_string());
                        pos = buf.len();
                        break;
                    }
                }
            }
            if let Some(conn) = self.conn(id) {
                conn.input_need = conn.input_need.saturating_sub(pos);
                conn.input = if parse_incoming {
                    buf[pos..].to_vec()
                } else {
                    owned.drain(..pos);
                    owned
                };
            }
        }
        self.arg_ranges = args;
        self.inline_scratch = scratch;
        let limit = self.config.client_query_buffer_limit as usize;
        if let Some(conn) = self.conn(id) {
            if conn.input.len() > limit {
                log::warn!(
                    "Closing client that reached max query buffer length: id={} addr={} qbuf={}",
                    conn.client_id,
                    conn.peer,
                    conn.input.len()
                );
                conn.input.clear();
                conn.slots.clear();
                conn.close_after_replies = true;
                conn.waiting_coordination = false;
            }
        }
        self.close_if_done(id);
    }

    fn stall(&mut self, id: ConnId) {
        if !self.stalled.contains(&id) {
            self.stalled.push(id);
        }
    }

    /// Replies `-ERR Protocol error: ...` and closes after the reply.
    fn protocol_error(&mut self, id: ConnId, message: &str) {
        let Some(conn) = self.conn(id) else {
            return;
        };
        log::debug!(
            "Protocol error ({message}) from client id={} addr={}",
            conn.client_id,
            conn.peer
        );
        let resp3 = conn.resp3;
        ReplyBuf::new(conn.reply_buffer(), resp3).error(&format!("ERR {message}"));
        conn.release_ready();
        conn.close_after_replies = true;
        self.stats.total_error_replies += 1;
        self.mark_dirty(id);
    }

    /// Resumes connections that waited for the shard lock.
    fn resume_stalled(&mut self) {
        while !self.lock.is_held() {
            let Some(id) = self.stalled.pop() else {
                break;
            };
            self.process_input(id, &[]);
        }
    }

    /// Closes clients idle for longer than `timeout` seconds (0: never),
    /// as Redis does; clients waiting for a reply are not idle.
    fn close_idle_clients(&mut self) {
        let timeout_s: u64 = self
            .config
            .get("timeout")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if timeout_s == 0 {
            return;
        }
        let now = unix_ms();
        let idle: Vec<ConnId> = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(id, c)| c.as_ref().map(|c| (id, c)))
            .filter(|(_, c)| {
                c.owes_nothing() && now.saturating_sub(c.last_command_ms) / 1000 > timeout_s
            })
            .map(|(id, _)| id)
            .collect();
        for id in idle {
            if let Some(conn) = self.conn(id) {
                log::debug!("Closing idle client id={}", conn.client_id);
                conn.close_after_replies = true;
            }
            self.close_if_done(id);
        }
    }

    fn active_expire(&mut self) {
        const SAMPLES: usize = 20;
        let budget = Duration::from_micros(25_000 / u64::from(self.config.hz.max(1)));
        let started = Instant::now();
        let now = unix_ms();
        for db in &mut self.keyspace.dbs {
            loop {
                let (sampled, deleted) = db.expire_cycle(&mut self.rng, now, SAMPLES);
                if sampled == 0 || deleted * 10 <= sampled || started.elapsed() > budget {
                    break;
                }
            }
        }
    }
}

/// Hooks of the replication layer (`crate::replication`): `WAIT` replies
/// later, and replicated writes wait while the shard is locked.
impl ShardCore {
    pub fn is_locked(&self) -> bool {
        self.lock.is_held()
    }

    /// Fills the reply reserved by [`ConnCtx::defer_reply`].
    pub fn fill_deferred(&mut self, id: ConnId, client_id: u64, seq: u64, bytes: &[u8]) {
        if let Some(conn) = self.conn(id).filter(|c| c.client_id == client_id) {
            conn.fill_pending(seq, bytes);
            conn.release_ready();
            self.mark_dirty(id);
        }
    }
}

impl ConnCtx<'_> {
    /// Reserves this command's reply for later; returns its sequence.
    pub fn defer_reply(&mut self) -> u64 {
        self.deferred = true;
        self.conn().reserve_slot(conn::ReplySlot::Pending)
    }
}

impl ShardHandler for ShardCore {
    fn on_accept(&mut self, id: ConnId, peer: std::net::SocketAddr, local: std::net::SocketAddr) {
        let client_id = self.shared.next_client_id.fetch_add(1, Ordering::Relaxed);
        let authenticated = self.config.requirepass.is_none();
        let conn = Conn::new(client_id, peer, local, unix_ms(), authenticated);
        if self.conns.len() <= id {
            self.conns.resize_with(id + 1, || None);
        }
        self.stats.total_connections_received += 1;
        let clients = self
            .shared
            .connected_clients
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        self.conns[id] = Some(conn);
        if clients > self.config.maxclients {
            self.stats.rejected_connections += 1;
            if let Some(conn) = self.conn(id) {
                ReplyBuf::new(&mut conn.output, false).error("ERR max number of clients reached");
                conn.close_after_replies = true;
            }
            self.mark_dirty(id);
            self.close_if_done(id);
        }
    }

    fn on_read(&mut self, id: ConnId, bytes: &[u8]) {
        self.refresh_clocks();
        self.stats.total_net_input_bytes += bytes.len() as u64;
        if bytes.is_empty() {
            if let Some(conn) = self.conn(id) {
                conn.eof = true;
            }
            self.blocking_disconnect(id);
            self.process_input(id, &[]);
            return;
        }
        self.process_input(id, bytes);
    }

    fn on_closed(&mut self, id: ConnId) {
        self.multi_forget(id);
        if let Some(slot) = self.conns.get_mut(id) {
            if slot.take().is_some() {
                self.shared
                    .connected_clients
                    .fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.stalled.retain(|&c| c != id);
        // After the connection is gone, so nothing is queued for its id.
        self.blocking_disconnect(id);
        self.pubsub.forget(id);
    }

    fn on_output_flushed(&mut self, id: ConnId) {
        let has_input = self.conn(id).is_some_and(|c| !c.input.is_empty());
        if has_input {
            self.process_input(id, &[]);
        }
    }

    fn on_inbox(&mut self) {
        self.refresh_clocks();
        let mut cursor = self.receive_cursor;
        // Bounded per iteration so clients of this shard are not starved.
        for _ in 0..4096 {
            let Some(hop) = self.mesh.receive(&mut cursor) else {
                break;
            };
            self.handle_hop(hop);
        }
        self.receive_cursor = cursor;
        self.resume_stalled();
    }

    fn on_tick(&mut self, _now: Instant) {
        let now_ms = unix_ms();
        crate::persist::shard_tick(self, now_ms);
        self.active_expire();
        self.record_expired_keys();
        self.close_idle_clients();
        self.blocking_tick();
    }

    fn end_of_iteration(&mut self) {
        // Before any reply leaves (to a client or to another shard).
        self.flush_write_records();
        self.mesh.flush();
    }

    fn take_events(&mut self, dirty: &mut Vec<ConnId>, closing: &mut Vec<ConnId>) {
        self.enforce_output_limits();
        for id in self.dirty.drain(..) {
            if let Some(conn) = self.conns.get_mut(id).and_then(Option::as_mut) {
                conn.dirty = false;
                dirty.push(id);
            }
        }
        closing.append(&mut self.closing);
    }

    fn pending_output(&mut self, id: ConnId) -> &[u8] {
        match self.conns.get(id).and_then(Option::as_ref) {
            Some(conn) => conn.pending_output(),
            None => &[],
        }
    }

    fn consume_output(&mut self, id: ConnId, n: usize) {
        self.stats.total_net_output_bytes += n as u64;
        if let Some(conn) = self.conn(id) {
            conn.consume_output(n);
        }
    }

    fn prepare_to_park(&mut self) -> bool {
        // Output produced after this iteration's writes (a connection resumed
        // when its output drained) must not wait for the next event.
        if !self.dirty.is_empty() || !self.closing.is_empty() {
            return false;
        }
        // No polling for replies owed by other shards: measured on two cores
        // shared with the clients, a 20 µs poll raised CPU per request at
        // pipeline 1 by 15-40% for no throughput gain. Park at once.
        self.mesh.park()
    }

    fn unparked(&mut self) {
        self.mesh.unpark();
    }

    fn stop_requested(&self) -> bool {
        self.shared.shutdown.load(Ordering::Relaxed)
    }

    fn tick_interval(&self) -> Duration {
        Duration::from_millis(1000 / u64::from(self.config.hz.max(1)))
    }

    /// The earliest timeout of a client blocked here, so it fires on time
    /// rather than at the next regular tick.
    fn next_deadline(&self) -> Option<Instant> {
        let deadline_ms = self.blocking.origin.next_deadline()?;
        let wait = deadline_ms.saturating_sub(unix_ms());
        Some(Instant::now() + Duration::from_millis(wait))
    }
}
