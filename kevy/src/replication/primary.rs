//! The primary side of one shard: its replication backlog and the links of
//! the replicas connected to its replication port.
//!
//! Data flow: every write record of the shard is appended to the backlog
//! by the shard's `BacklogSink` as the core hands it over. A connection accepted on the
//! shard's replication port becomes a [`Link`]: its first line is
//! `AUTH <hex user> <hex password>` (`-` for empty), checked against
//! `requirepass`; the rest goes to a `ReplicaPump`, which answers the
//! `REPLICATE` request. A full sync freezes the shard's keys and ships
//! them off the shard thread ([`SnapshotShip`]). Once per loop iteration
//! [`PrimaryShard::run`] moves chunks, frames and heartbeats into each
//! link's output and publishes acknowledgements to the shared state.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use kevy_replication::{
    Codec, CodecSet, PumpEvent, PumpLimits, ReplicaPump, ReplicationBacklog, TxnMark,
};
use kevy_transport::ConnId;

use super::backlog_sink::{append_record, SharedBacklog};
use super::snapshot_ship::{ChunkPoll, SnapshotShip};
use super::state::{ConnectedReplica, ReplicationState};
use crate::keyspace::Keyspace;
use crate::persist::save::freeze;

/// Longest `AUTH` line accepted on a replication port.
const AUTH_LINE_MAX: usize = 1024;

/// One replica's link to this shard.
struct Link {
    peer: SocketAddr,
    pump: ReplicaPump,
    /// Bytes of the `AUTH` line received so far; None once authenticated.
    auth: Option<Vec<u8>>,
    ship: Option<SnapshotShip>,
    /// The replica id this link is counted under in the shared state.
    registered: Option<String>,
    /// Output to flush before closing (errors that come before the pump).
    early_output: Vec<u8>,
    /// The request, held until every shard records its writes.
    held_input: Vec<u8>,
    closed: bool,
}

/// The primary side of one shard.
pub struct PrimaryShard {
    shard: usize,
    state: Arc<ReplicationState>,
    pub backlog: SharedBacklog,
    links: HashMap<ConnId, Link>,
    pub port: u16,
    limits: PumpLimits,
    codecs: CodecSet,
    seen_ack_epoch: u64,
    /// The history links were opened under; a new one closes them.
    replid_seen: kevy_replication::ReplId,
}

/// Decodes a hex word of the `AUTH` line (`-` is empty).
fn unhex(word: &[u8]) -> Option<Vec<u8>> {
    if word == b"-" {
        return Some(Vec::new());
    }
    if word.len() % 2 != 0 {
        return None;
    }
    word.chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

/// Encodes a word of the `AUTH` line.
pub fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "-".into();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The client port a replica announced in its id (`<name>.<port>`).
fn announced_port(replica_id: &str) -> u16 {
    replica_id
        .rsplit_once('.')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or(0)
}

impl PrimaryShard {
    pub fn new(
        shard: usize,
        state: Arc<ReplicationState>,
        port: u16,
        backlog_size: usize,
        limits: PumpLimits,
        codecs: CodecSet,
    ) -> Self {
        let replid_seen = state.replid();
        PrimaryShard {
            shard,
            state,
            backlog: Arc::new(Mutex::new(ReplicationBacklog::new(backlog_size))),
            links: HashMap::new(),
            port,
            limits,
            codecs,
            seen_ack_epoch: 0,
            replid_seen,
        }
    }

    pub fn set_limits(&mut self, backlog_size: usize, output_cap: usize) {
        self.lock_backlog().set_budget(backlog_size);
        self.limits.output_cap = output_cap;
    }

    fn lock_backlog(&self) -> std::sync::MutexGuard<'_, ReplicationBacklog> {
        self.backlog.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends one write record to the backlog (what a replica applied,
    /// for its own replicas).
    pub fn record(&mut self, db: usize, txn: Option<TxnMark>, commands: &[u8]) {
        let mut backlog = self.lock_backlog();
        append_record(&mut backlog, &self.state, self.shard, db, txn, commands);
    }

    pub fn is_link(&self, id: ConnId) -> bool {
        self.links.contains_key(&id)
    }

    pub fn accept(&mut self, id: ConnId, peer: SocketAddr, now_ms: u64) {
        let pump = ReplicaPump::new(self.limits, self.codecs.clone(), now_ms);
        self.links.insert(
            id,
            Link {
                peer,
                pump,
                auth: Some(Vec::new()),
                ship: None,
                registered: None,
                early_output: Vec::new(),
                held_input: Vec::new(),
                closed: false,
            },
        );
    }

    /// Bytes from a replica (empty: it closed its side).
    pub fn read(&mut self, id: ConnId, bytes: &[u8], requirepass: Option<&[u8]>, now_ms: u64) {
        let replid = self.state.replid();
        let Some(link) = self.links.get_mut(&id) else {
            return;
        };
        if bytes.is_empty() {
            link.closed = true;
            return;
        }
        let mut rest = bytes;
        if let Some(line) = &mut link.auth {
            let take = match rest.iter().position(|&b| b == b'\n') {
                Some(end) => end + 1,
                None => rest.len(),
            };
            line.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if !line.ends_with(b"\n") {
                if line.len() > AUTH_LINE_MAX {
                    refuse(link, "ERR replication: AUTH line too long");
                }
                return;
            }
            let text = line.strip_suffix(b"\r\n").unwrap_or(line);
            let words: Vec<&[u8]> = text.split(|&b| b == b' ').collect();
            let credentials = match words.as_slice() {
                [auth, user, pass] if auth.eq_ignore_ascii_case(b"AUTH") => {
                    unhex(user).zip(unhex(pass))
                }
                _ => None,
            };
            let Some((user, pass)) = credentials else {
                refuse(link, "ERR replication: expected AUTH <user> <password>");
                return;
            };
            let user_ok = user.is_empty() || user == b"default";
            let pass_ok = requirepass.is_none_or(|expected| expected == pass.as_slice());
            if !(user_ok && pass_ok) {
                log::warn!(
                    "Replica {} failed to authenticate on the replication port of shard {}",
                    link.peer,
                    self.shard
                );
                refuse(
                    link,
                    "WRONGPASS invalid username-password pair or user is disabled.",
                );
                return;
            }
            link.auth = None;
        }
        if rest.is_empty() {
            return;
        }
        if !self.state.all_recording() || !link.held_input.is_empty() {
            link.held_input.extend_from_slice(rest);
            return;
        }
        let backlog = self.backlog.lock().unwrap_or_else(|p| p.into_inner());
        link.pump.receive(rest, &replid, &backlog, now_ms);
    }

    /// The bytes to write on a link.
    pub fn pending_output(&self, id: ConnId) -> &[u8] {
        match self.links.get(&id) {
            Some(link) if !link.early_output.is_empty() => &link.early_output,
            Some(link) => link.pump.pending_output(),
            None => &[],
        }
    }

    pub fn consume_output(&mut self, id: ConnId, n: usize, now_ms: u64) {
        if let Some(link) = self.links.get_mut(&id) {
            if !link.early_output.is_empty() {
                link.early_output.drain(..n.min(link.early_output.len()));
            } else {
                link.pump.consume_output(n, now_ms);
            }
        }
    }

    pub fn closed(&mut self, id: ConnId) {
        if let Some(link) = self.links.remove(&id) {
            self.unregister(&link);
        }
    }

    fn unregister(&self, link: &Link) {
        let Some(replica_id) = &link.registered else {
            return;
        };
        let mut status = self.state.status();
        if let Some(entry) = status.replicas.get_mut(replica_id) {
            entry.links = entry.links.saturating_sub(1);
            if link.ship.is_some() {
                entry.syncing = entry.syncing.saturating_sub(1);
            }
            if let Some(acked) = entry.acked.get_mut(self.shard) {
                *acked = None;
            }
            if entry.links == 0 {
                status.replicas.remove(replica_id);
            }
        }
    }

    /// One loop iteration over every link: handshake outcomes, snapshot
    /// chunks, live frames, heartbeats. Fills `dirty` and `closing`.
    pub fn run(
        &mut self,
        keyspace: &Keyspace,
        now_ms: u64,
        dirty: &mut Vec<ConnId>,
        closing: &mut Vec<ConnId>,
    ) {
        let replid = self.state.replid();
        let history_changed = replid != self.replid_seen;
        self.replid_seen = replid;
        let epoch = self.state.ack_epoch();
        let ack_wanted = epoch != self.seen_ack_epoch;
        self.seen_ack_epoch = epoch;
        let ids: Vec<ConnId> = self.links.keys().copied().collect();
        for id in ids {
            let Some(mut link) = self.links.remove(&id) else {
                continue;
            };
            if history_changed && link.auth.is_none() {
                // Its replica follows the old history: it comes back for a
                // full sync of the new one.
                link.closed = true;
            }
            if ack_wanted {
                link.pump.request_ack();
            }
            self.drive(&mut link, keyspace, now_ms);
            let output = !link.early_output.is_empty() || !link.pump.pending_output().is_empty();
            if output {
                dirty.push(id);
            }
            if link.closed || link.pump.is_closed() {
                closing.push(id);
            }
            self.links.insert(id, link);
        }
    }

    fn drive(&mut self, link: &mut Link, keyspace: &Keyspace, now_ms: u64) {
        if !link.held_input.is_empty() && self.state.all_recording() {
            let input = std::mem::take(&mut link.held_input);
            let replid = self.state.replid();
            let backlog = self.lock_backlog();
            link.pump.receive(&input, &replid, &backlog, now_ms);
        }
        self.ship_chunks(link, now_ms);
        link.pump.pump(&self.lock_backlog(), now_ms);
        while let Some(event) = link.pump.poll_event() {
            match event {
                PumpEvent::SnapshotNeeded { codec, reason } => {
                    log::info!(
                        "Replica {} asks shard {} for a full sync ({reason:?}), codec {}",
                        link.peer,
                        self.shard,
                        codec.name()
                    );
                    self.register(link, now_ms, true);
                    self.start_ship(link, keyspace, codec, now_ms);
                }
                PumpEvent::Resumed { offset } => {
                    log::info!(
                        "Replica {} resumes shard {} at offset {offset} (partial sync)",
                        link.peer,
                        self.shard
                    );
                    self.state.status().served_partial_syncs += 1;
                    self.register(link, now_ms, false);
                    self.publish_ack(link, offset, now_ms);
                }
                PumpEvent::SnapshotSent { offset } => {
                    if let Some(id) = &link.registered {
                        if let Some(entry) = self.state.status().replicas.get_mut(id) {
                            entry.syncing = entry.syncing.saturating_sub(1);
                        }
                    }
                    link.ship = None;
                    self.publish_ack(link, offset, now_ms);
                }
                PumpEvent::Acked { offset } => self.publish_ack(link, offset, now_ms),
                PumpEvent::Closed { error } => {
                    log::warn!(
                        "Replication link of {} to shard {} closed: {error}",
                        link.peer,
                        self.shard
                    );
                    link.ship = None;
                }
            }
        }
        self.ship_chunks(link, now_ms);
    }

    fn start_ship(&mut self, link: &mut Link, keyspace: &Keyspace, codec: Codec, now_ms: u64) {
        self.state.status().served_full_syncs += 1;
        let frozen = freeze(keyspace, now_ms);
        let (end, covered) = {
            let backlog = self.lock_backlog();
            // Every transaction part still in the backlog is before `end`,
            // so inside the copy.
            let covered: Vec<u64> = backlog
                .read_from(backlog.first_offset())
                .map(|frames| frames.filter_map(|f| f.txn.map(|mark| mark.id)).collect())
                .unwrap_or_default();
            (backlog.next_offset(), covered)
        };
        match SnapshotShip::start(frozen, codec, end, covered, self.state.clone(), self.shard) {
            Ok(ship) => link.ship = Some(ship),
            Err(error) => {
                log::error!("Could not start the snapshot thread: {error}");
                link.closed = true;
            }
        }
    }

    fn ship_chunks(&mut self, link: &mut Link, now_ms: u64) {
        while let Some(ship) = &mut link.ship {
            if !link.pump.snapshot_room() {
                return;
            }
            match ship.next_chunk() {
                ChunkPoll::Chunk(chunk) => {
                    if let Err(error) = link.pump.push_snapshot_chunk(ship.codec, &chunk, now_ms) {
                        log::warn!("Snapshot to {} stopped: {error}", link.peer);
                        link.ship = None;
                    }
                }
                ChunkPoll::NotYet => return,
                ChunkPoll::Done => {
                    let (end, sent) = (ship.end_offset, ship.bytes_sent);
                    log::info!(
                        "Snapshot of shard {} sent to {} ({sent} bytes), streaming from offset {end}",
                        self.shard,
                        link.peer
                    );
                    let covered = std::mem::take(&mut ship.covered);
                    if let Err(error) = link.pump.end_snapshot_covering(end, &covered, now_ms) {
                        log::warn!("Snapshot to {} not ended: {error}", link.peer);
                    }
                    // The pump's SnapshotSent event clears `ship`.
                    return;
                }
                ChunkPoll::Failed(error) => {
                    log::error!("Snapshot of shard {} failed: {error}", self.shard);
                    link.ship = None;
                    link.closed = true;
                }
            }
        }
    }

    fn register(&self, link: &mut Link, now_ms: u64, syncing: bool) {
        let Some(replica_id) = link.pump.replica_id().map(str::to_owned) else {
            return;
        };
        let mut status = self.state.status();
        let shards = self.state.shards();
        let entry = status
            .replicas
            .entry(replica_id.clone())
            .or_insert_with(|| ConnectedReplica {
                ip: link.peer.ip().to_string(),
                port: announced_port(&replica_id),
                acked: vec![None; shards],
                links: 0,
                syncing: 0,
                last_ack_ms: now_ms,
            });
        if link.registered.is_none() {
            entry.links += 1;
        }
        if syncing {
            entry.syncing += 1;
        }
        link.registered = Some(replica_id);
    }

    fn publish_ack(&self, link: &Link, offset: u64, now_ms: u64) {
        let Some(replica_id) = &link.registered else {
            return;
        };
        {
            let mut status = self.state.status();
            if let Some(entry) = status.replicas.get_mut(replica_id) {
                if let Some(acked) = entry.acked.get_mut(self.shard) {
                    *acked = Some(offset);
                }
                entry.last_ack_ms = now_ms;
            }
        }
        if self.state.has_waits() {
            self.state.ring_all();
        }
    }

    /// Whether some link has work that must not wait for an event.
    pub fn busy(&self) -> bool {
        self.links.values().any(|link| link.ship.is_some())
    }
}

fn refuse(link: &mut Link, text: &str) {
    link.early_output.push(b'-');
    link.early_output.extend_from_slice(text.as_bytes());
    link.early_output.extend_from_slice(b"\r\n");
    link.closed = true;
}
