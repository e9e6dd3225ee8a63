//! What every shard and the replica runner share about replication: the
//! role (primary, or replica of which upstream), this server's history id,
//! each shard's replication offset, the replicas connected to this server
//! and how far each has acknowledged, the replica link's status, and the
//! `WAIT`s in progress.
//!
//! Data flow: shard threads publish (offsets after each record, a link's
//! acknowledgements, links opened and closed); commands (`ROLE`, `INFO
//! replication`, `WAIT`, `REPLICAOF`) read it; the replica runner publishes
//! its link status and the offsets it applied. Hot paths touch atomics
//! only (`refuses_writes`, offsets); everything else sits behind one mutex
//! that is taken per acknowledgement or command, never per write.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use kevy_replication::ReplId;

use super::inbox::ReplicaInboxes;
use crate::shard::mesh::Doorbell;

/// Where this server takes its data from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub host: String,
    pub port: u16,
}

/// The replica link as `ROLE` and `INFO replication` report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Must connect (Redis's `connect`).
    Connect,
    /// Connecting or in the handshake.
    Connecting,
    /// A full sync is being received.
    Sync,
    Connected,
}

impl LinkState {
    pub fn role_name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// One replica connected to this server (all of its shard links).
#[derive(Debug, Clone)]
pub struct ConnectedReplica {
    pub ip: String,
    /// The replica's own client port, as it announced it.
    pub port: u16,
    /// Acknowledged offset per shard of this server (None: no link yet).
    pub acked: Vec<Option<u64>>,
    /// Shard links currently open.
    pub links: usize,
    /// Shard links still receiving their snapshot.
    pub syncing: usize,
    pub last_ack_ms: u64,
}

/// The replica side's counters and link status.
#[derive(Debug, Clone)]
pub struct ReplicaStatus {
    pub link: LinkState,
    pub last_io_ms: u64,
    pub down_since_ms: Option<u64>,
    /// Applied offset per upstream shard stream.
    pub applied: Vec<u64>,
    pub full_syncs: u64,
    pub partial_syncs: u64,
    /// The last error of a link, for the log and `INFO`.
    pub last_error: Option<String>,
}

/// Mutable replication facts, behind the mutex.
pub struct Status {
    pub replid: ReplId,
    pub upstream: Option<Upstream>,
    pub replica: Option<ReplicaStatus>,
    /// By replica id.
    pub replicas: BTreeMap<String, ConnectedReplica>,
    /// Full and partial syncs this server served (as a primary).
    pub served_full_syncs: u64,
    pub served_partial_syncs: u64,
    /// Bumped to stop the running replica runner.
    pub runner_generation: u64,
}

/// A `WAIT` parked on a shard.
pub struct PendingWait {
    pub conn: usize,
    pub client_id: u64,
    pub seq: u64,
    pub numreplicas: u64,
    /// Unix ms; None waits forever.
    pub deadline_ms: Option<u64>,
    /// The offset per shard each replica must reach, taken once every
    /// reply before the `WAIT` was complete.
    pub target: Option<Vec<u64>>,
}

/// Replication facts shared by every shard.
pub struct ReplicationState {
    status: Mutex<Status>,
    shards: usize,
    /// Next replication offset of each shard's backlog.
    offsets: Box<[AtomicU64]>,
    /// A replica refusing client writes (`replica-read-only yes`).
    read_only_replica: AtomicBool,
    /// Bumped by `WAIT`: each shard asks its links for an acknowledgement.
    ack_epoch: AtomicU64,
    /// `WAIT`s not yet answered, per shard.
    waits: Box<[Mutex<Vec<PendingWait>>]>,
    pending_waits: AtomicU64,
    /// Client ids allowed to write on a read-only replica (the runner's own
    /// connection applying multi-shard writes through the transactions).
    applier_clients: Mutex<Vec<u64>>,
    doorbells: OnceLock<Arc<[Doorbell]>>,
    /// Items for each shard from the replica runner.
    pub inboxes: ReplicaInboxes,
    /// The replication port of each shard (resolved at start).
    ports: OnceLock<Vec<u16>>,
    /// `replica-read-only` and `repl-backlog-size` as last configured.
    read_only_setting: AtomicBool,
    backlog_size: AtomicU64,
    /// Proves a local connection is the runner's applier.
    pub applier_secret: String,
    /// Write records are wanted (a replica showed up), and how many
    /// shards record them already.
    recording_wanted: AtomicBool,
    recording_shards: AtomicUsize,
    /// Held by the running replica runner for its whole life, so a new
    /// `REPLICAOF` starts only after the previous runner has stopped
    /// pushing into the inboxes.
    pub runner_lock: Mutex<()>,
}

impl ReplicationState {
    pub fn new(shards: usize) -> Self {
        ReplicationState {
            status: Mutex::new(Status {
                replid: ReplId::generate(),
                upstream: None,
                replica: None,
                replicas: BTreeMap::new(),
                served_full_syncs: 0,
                served_partial_syncs: 0,
                runner_generation: 0,
            }),
            shards,
            offsets: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            read_only_replica: AtomicBool::new(false),
            ack_epoch: AtomicU64::new(0),
            waits: (0..shards).map(|_| Mutex::new(Vec::new())).collect(),
            pending_waits: AtomicU64::new(0),
            applier_clients: Mutex::new(Vec::new()),
            doorbells: OnceLock::new(),
            inboxes: ReplicaInboxes::new(shards),
            ports: OnceLock::new(),
            read_only_setting: AtomicBool::new(true),
            backlog_size: AtomicU64::new(1 << 20),
            applier_secret: ReplId::generate().to_string(),
            recording_wanted: AtomicBool::new(false),
            recording_shards: AtomicUsize::new(0),
            runner_lock: Mutex::new(()),
        }
    }

    pub fn shards(&self) -> usize {
        self.shards
    }

    pub fn status(&self) -> MutexGuard<'_, Status> {
        self.status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn replid(&self) -> ReplId {
        self.status().replid
    }

    /// Starts a new history (promotion, or a full sync that replaced the
    /// data): replicas of the old one must take a full sync.
    pub fn new_history(&self) -> ReplId {
        let id = ReplId::generate();
        self.status().replid = id;
        self.ring_all();
        id
    }

    pub fn set_doorbells(&self, doorbells: Arc<[Doorbell]>) {
        let _ = self.doorbells.set(doorbells);
    }

    /// Wakes every shard (acknowledgements for a `WAIT`, a new history).
    pub fn ring_all(&self) {
        if let Some(doorbells) = self.doorbells.get() {
            for bell in doorbells.iter() {
                bell.ring_always();
            }
        }
    }

    pub fn ring(&self, shard: usize) {
        if let Some(bell) = self.doorbells.get().and_then(|b| b.get(shard)) {
            bell.ring_always();
        }
    }

    pub fn set_ports(&self, ports: Vec<u16>) {
        let _ = self.ports.set(ports);
    }

    pub fn ports(&self) -> &[u16] {
        self.ports.get().map_or(&[], Vec::as_slice)
    }

    // --- recording ---

    /// Every shard must start recording its writes (a replica is coming).
    pub fn want_recording(&self) {
        if !self.recording_wanted.swap(true, Ordering::AcqRel) {
            self.ring_all();
        }
    }

    pub fn recording_wanted(&self) -> bool {
        self.recording_wanted.load(Ordering::Acquire)
    }

    pub fn shard_records(&self) {
        self.recording_shards.fetch_add(1, Ordering::AcqRel);
    }

    /// Every shard records: a snapshot frozen now is consistent with the
    /// backlogs of all shards (what a cross-shard write left in one is
    /// covered by that shard's snapshot or streamed from its backlog).
    pub fn all_recording(&self) -> bool {
        self.recording_shards.load(Ordering::Acquire) >= self.shards
    }

    // --- offsets ---

    pub fn publish_offset(&self, shard: usize, next: u64) {
        if let Some(slot) = self.offsets.get(shard) {
            slot.store(next, Ordering::Release);
        }
    }

    pub fn offset(&self, shard: usize) -> u64 {
        self.offsets
            .get(shard)
            .map_or(0, |o| o.load(Ordering::Acquire))
    }

    pub fn offsets(&self) -> Vec<u64> {
        (0..self.shards).map(|s| self.offset(s)).collect()
    }

    /// `master_repl_offset`: the sum of every shard's offset.
    pub fn total_offset(&self) -> u64 {
        self.offsets()
            .iter()
            .fold(0u64, |a, &o| a.saturating_add(o))
    }

    // --- role ---

    /// True while this server follows an upstream.
    pub fn is_replica(&self) -> bool {
        self.status().upstream.is_some()
    }

    /// True on a read-only replica: client writes get `-READONLY`.
    pub fn refuses_writes(&self, client_id: u64) -> bool {
        if !self.read_only_replica.load(Ordering::Relaxed) {
            return false;
        }
        !self
            .applier_clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&client_id)
    }

    pub fn read_only_setting(&self) -> bool {
        self.read_only_setting.load(Ordering::Relaxed)
    }

    pub fn backlog_size(&self) -> u64 {
        self.backlog_size.load(Ordering::Relaxed)
    }

    /// Takes the replication settings of the configuration (every tick).
    pub fn configure(&self, replica_read_only: bool, backlog_size: u64) {
        self.backlog_size.store(backlog_size, Ordering::Relaxed);
        if self
            .read_only_setting
            .swap(replica_read_only, Ordering::Relaxed)
            != replica_read_only
        {
            self.set_read_only(replica_read_only);
        }
    }

    /// Recomputes the read-only flag from the role and `replica-read-only`.
    pub fn set_read_only(&self, replica_read_only: bool) {
        self.read_only_setting
            .store(replica_read_only, Ordering::Relaxed);
        let replica = self.status().upstream.is_some();
        self.read_only_replica
            .store(replica && replica_read_only, Ordering::Relaxed);
    }

    pub fn allow_applier(&self, client_id: u64) {
        let mut clients = self
            .applier_clients
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !clients.contains(&client_id) {
            clients.push(client_id);
        }
    }

    // --- WAIT ---

    pub fn ack_epoch(&self) -> u64 {
        self.ack_epoch.load(Ordering::Acquire)
    }

    pub fn add_wait(&self, shard: usize, wait: PendingWait) {
        if let Some(waits) = self.waits.get(shard) {
            waits.lock().unwrap_or_else(|p| p.into_inner()).push(wait);
            self.pending_waits.fetch_add(1, Ordering::AcqRel);
            self.ack_epoch.fetch_add(1, Ordering::AcqRel);
            self.ring_all();
        }
    }

    pub fn has_waits(&self) -> bool {
        self.pending_waits.load(Ordering::Acquire) > 0
    }

    /// Takes shard `shard`'s waits for evaluation; [`Self::put_waits`]
    /// returns those still waiting.
    pub fn take_waits(&self, shard: usize) -> Vec<PendingWait> {
        match self.waits.get(shard) {
            Some(waits) => std::mem::take(&mut *waits.lock().unwrap_or_else(|p| p.into_inner())),
            None => Vec::new(),
        }
    }

    pub fn put_waits(&self, shard: usize, answered: usize, mut still: Vec<PendingWait>) {
        if answered > 0 {
            self.pending_waits
                .fetch_sub(answered as u64, Ordering::AcqRel);
        }
        if let Some(waits) = self.waits.get(shard) {
            waits
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .append(&mut still);
        }
    }

    /// Replicas whose acknowledgement reached `target` on every shard.
    pub fn replicas_at(&self, target: &[u64]) -> u64 {
        let status = self.status();
        status
            .replicas
            .values()
            .filter(|replica| {
                target.iter().enumerate().all(|(shard, &want)| {
                    want == 0 || replica.acked.get(shard).copied().flatten() >= Some(want)
                })
            })
            .count() as u64
    }

    // --- the replica link, published by the runner ---

    fn with_replica(&self, update: impl FnOnce(&mut ReplicaStatus)) {
        if let Some(replica) = self.status().replica.as_mut() {
            update(replica);
        }
    }

    pub fn set_link(&self, link: LinkState) {
        let now = crate::shard::unix_ms();
        self.with_replica(|replica| {
            if link == LinkState::Connected {
                replica.down_since_ms = None;
                replica.last_error = None;
            } else if replica.link == LinkState::Connected {
                replica.down_since_ms = Some(now);
            }
            replica.link = link;
        });
    }

    pub fn link_failed(&self, error: &str) {
        let now = crate::shard::unix_ms();
        self.with_replica(|replica| {
            if replica.link == LinkState::Connected || replica.down_since_ms.is_none() {
                replica.down_since_ms = Some(now);
            }
            replica.link = LinkState::Connect;
            replica.last_error = Some(error.to_string());
        });
    }

    pub fn status_touch_io(&self, now_ms: u64) {
        self.with_replica(|replica| replica.last_io_ms = now_ms);
    }

    pub fn count_sync(&self, full: bool) {
        self.with_replica(|replica| {
            if full {
                replica.full_syncs += 1;
            } else {
                replica.partial_syncs += 1;
            }
        });
    }

    pub fn set_applied(&self, stream: usize, offset: u64) {
        self.with_replica(|replica| {
            if let Some(slot) = replica.applied.get_mut(stream) {
                *slot = offset;
            }
        });
    }

    pub fn reset_applied(&self, streams: usize) {
        self.with_replica(|replica| replica.applied = vec![0; streams]);
    }
}
