//! The simulated world: parameters drawn from the seed, the primary shard
//! (history, backlog, connection with its pump) and the replica (link,
//! assembler, data); one step is one simulated millisecond. The replica's
//! half of a step lives in `replica_side.rs`.

use kevy_replication::{
    Codec, CodecSet, PumpEvent, PumpLimits, ReplId, ReplicaConfig, ReplicaLink, ReplicaPump,
    ReplicationBacklog, TxnAssembler, TxnMark,
};

use crate::net::{serialize, Connection, Pipe, Rng, SnapshotProducer};
use crate::{kind, Stats};

pub struct Params {
    pub active_steps: u64,
    pub write_per_mille: u64,
    pub max_write: u64,
    pub txn_per_mille: u64,
    pub limits: PumpLimits,
    pub chunk: usize,
    pub max_delay: u64,
    pub socket_take: u64,
    pub cut_per_mille: u64,
    pub stall_per_mille: u64,
    pub restart_per_mille: u64,
    pub greedy_per_mille: u64,
    pub slow_per_mille: u64,
    pub primary_restart_per_mille: u64,
    pub replica: ReplicaConfig,
}

impl Params {
    pub fn from(rng: &mut Rng) -> Params {
        let output_cap = rng.range(120, 4_000) as usize;
        let heartbeat = rng.range(5, 60);
        let max_delay = rng.range(0, 20);
        // Acks and heartbeats must be able to cross the link in time.
        let timeout = heartbeat * rng.range(4, 10) + 2 * max_delay + 10;
        Params {
            active_steps: rng.range(200, 700),
            write_per_mille: rng.range(20, 500),
            max_write: rng.range(1, 80),
            txn_per_mille: rng.range(0, 300),
            limits: PumpLimits {
                iteration_budget: rng.range(20, 1_000) as usize,
                output_cap,
                heartbeat_interval_ms: heartbeat,
                link_timeout_ms: timeout,
            },
            // A chunk frame (payload + 10) fits in half the cap.
            chunk: rng.range(1, (output_cap / 2 - 10).min(300) as u64) as usize,
            max_delay,
            socket_take: rng.range(10, 2_000),
            cut_per_mille: rng.range(0, 8),
            stall_per_mille: rng.range(0, 3),
            restart_per_mille: rng.range(0, 4),
            greedy_per_mille: rng.range(0, 200),
            slow_per_mille: rng.range(0, 20),
            primary_restart_per_mille: rng.range(0, 3),
            replica: ReplicaConfig {
                ack_interval_ms: rng.range(1, heartbeat),
                link_timeout_ms: timeout,
                ..ReplicaConfig::new("sim-replica")
            },
        }
    }
}

pub struct Sim {
    pub rng: Rng,
    pub p: Params,
    pub now: u64,
    pub replid: ReplId,
    pub backlog: ReplicationBacklog,
    /// Every write the primary applied in its current history.
    pub history: History,
    /// Histories the primary left by restarting without its data.
    pub old_histories: Vec<(ReplId, History)>,
    pub conn: Option<Connection>,
    pub reconnect_at: u64,
    pub stall_until: u64,
    pub slow_until: u64,
    pub link: ReplicaLink,
    pub assembler: TxnAssembler,
    /// The replica's data: the writes it applied, in order, and the
    /// history they belong to.
    pub data: Vec<(u64, Vec<u8>)>,
    pub data_replid: Option<ReplId>,
    /// A snapshot being loaded, and its history.
    pub loading: Option<Vec<u8>>,
    pub loading_replid: Option<ReplId>,
    pub backlog_budget: usize,
    pub full_syncs: u64,
    pub stats: Stats,
}

/// (offset, bytes, mark) of each write.
pub type History = Vec<(u64, Vec<u8>, Option<TxnMark>)>;

impl Sim {
    pub fn new(seed: u64) -> Sim {
        let mut rng = Rng(seed);
        let p = Params::from(&mut rng);
        let mut id = [0u8; 20];
        id[..8].copy_from_slice(&seed.to_le_bytes());
        let link = ReplicaLink::new(p.replica.clone(), None);
        let backlog_budget = rng.range(30, 3_000) as usize;
        Sim {
            backlog: ReplicationBacklog::new(backlog_budget),
            backlog_budget,
            old_histories: Vec::new(),
            data_replid: None,
            loading_replid: None,
            p,
            rng,
            now: 0,
            replid: ReplId::from_random_bytes(id),
            history: Vec::new(),
            conn: None,
            reconnect_at: 0,
            stall_until: 0,
            slow_until: 0,
            link,
            assembler: TxnAssembler::new(1, 1 << 20),
            data: Vec::new(),
            loading: None,
            full_syncs: 0,
            stats: Stats::default(),
        }
    }

    pub fn data_end(&self) -> u64 {
        self.data
            .last()
            .map_or(0, |(offset, bytes)| offset + bytes.len() as u64)
    }

    pub fn write(&mut self) {
        let index = self.history.len();
        let len = self.rng.range(1, self.p.max_write) as usize;
        // The generation in the bytes tells histories apart.
        let generation = self.old_histories.len();
        let mut bytes = format!("g{generation}w{index}:").into_bytes();
        bytes.resize(bytes.len().max(len), b'a' + (index % 26) as u8);
        let mark = self.rng.chance(self.p.txn_per_mille).then_some(TxnMark {
            id: index as u64,
            parts: 1,
        });
        let range = self
            .backlog
            .append_marked(&bytes, mark)
            .expect("small offsets");
        self.history.push((range.start, bytes, mark));
    }

    pub fn close(&mut self) {
        self.conn = None;
        self.link.disconnected();
        self.assembler.reset_stream(0);
        self.loading = None;
        self.reconnect_at = self.now + self.rng.range(1, 60);
    }

    pub fn step(&mut self, faults: bool) -> Result<(), String> {
        self.now += 1;
        if faults && self.rng.chance(self.p.write_per_mille) {
            self.write();
        }
        if faults {
            self.inject_faults();
        }
        if self.conn.is_none() && self.now >= self.reconnect_at {
            self.link.connect(self.now);
            self.assembler.reset_stream(0);
            let pump = ReplicaPump::new(self.p.limits, CodecSet::plain_only(), self.now);
            self.conn = Some(Connection {
                pump,
                to_replica: Pipe::default(),
                to_primary: Pipe::default(),
                producer: None,
                closing: false,
            });
        }
        self.primary_side(faults)?;
        self.replica_side()
    }

    pub fn inject_faults(&mut self) {
        if self.conn.is_some() && self.rng.chance(self.p.cut_per_mille) {
            self.close();
        }
        if self.rng.chance(self.p.stall_per_mille) {
            self.stall_until = self.now + self.rng.range(1, 3 * self.p.limits.link_timeout_ms);
        }
        if self.rng.chance(self.p.slow_per_mille) {
            self.slow_until = self.now + self.rng.range(10, 300);
        }
        if self.rng.chance(self.p.restart_per_mille) {
            // A restart keeps the data (and where it stands) or loses both.
            let keep = self.rng.chance(500);
            if !keep {
                self.data.clear();
                self.data_replid = None;
            }
            let applied = if keep { self.link.applied() } else { None };
            self.close();
            self.link = ReplicaLink::new(self.p.replica.clone(), applied);
        }
        if self.rng.chance(self.p.primary_restart_per_mille) {
            self.close();
            self.stats.primary_restarts += 1;
            if self.rng.chance(500) {
                // With its data: same history, an empty backlog from where
                // it stood, so lagging replicas must full-sync.
                let next = self.backlog.next_offset();
                self.backlog = ReplicationBacklog::starting_at(self.backlog_budget, next);
            } else {
                // Without its data: a new, empty history. Offsets restart,
                // so a replica's old offset may look valid here.
                let mut id = [0u8; 20];
                id[..8].copy_from_slice(&self.rng.next().to_le_bytes());
                let old = std::mem::take(&mut self.history);
                self.old_histories.push((self.replid, old));
                self.replid = ReplId::from_random_bytes(id);
                self.backlog = ReplicationBacklog::new(self.backlog_budget);
            }
        }
    }

    /// The writes of history `replid`.
    pub fn history_of(&self, replid: Option<ReplId>) -> Option<&History> {
        let replid = replid?;
        if replid == self.replid {
            return Some(&self.history);
        }
        self.old_histories
            .iter()
            .find(|(old, _)| *old == replid)
            .map(|(_, history)| history)
    }

    pub fn primary_side(&mut self, faults: bool) -> Result<(), String> {
        let (now, stalled, slow) = (
            self.now,
            self.now < self.stall_until,
            self.now < self.slow_until,
        );
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        while let Some(bytes) = conn.to_primary.due(if stalled { 0 } else { now }) {
            conn.pump.receive(&bytes, &self.replid, &self.backlog, now);
        }
        if self.rng.chance(20) {
            // A client's WAIT.
            conn.pump.request_ack();
        }
        conn.pump.pump(&self.backlog, now);
        while let Some(event) = conn.pump.poll_event() {
            match event {
                PumpEvent::SnapshotNeeded { .. } => {
                    self.full_syncs += 1;
                    conn.producer = Some(SnapshotProducer {
                        bytes: serialize(&self.history),
                        sent: 0,
                        ack_offset: self.backlog.next_offset(),
                    });
                }
                PumpEvent::Acked { offset } if offset > self.backlog.next_offset() => {
                    return Err(format!("acked {offset} beyond the primary"));
                }
                PumpEvent::Resumed { .. } => self.stats.resumes += 1,
                PumpEvent::Closed { error } => {
                    *self.stats.pump_closes.entry(kind(&error)).or_default() += 1;
                    conn.closing = true;
                }
                _ => {}
            }
        }
        if let Some(producer) = conn.producer.as_mut() {
            let greedy = faults && self.rng.chance(self.p.greedy_per_mille);
            if (conn.pump.snapshot_room() || greedy) && self.rng.chance(700) {
                let end = (producer.sent + self.p.chunk).min(producer.bytes.len());
                let chunk = &producer.bytes[producer.sent..end];
                if conn
                    .pump
                    .push_snapshot_chunk(Codec::Plain, chunk, now)
                    .is_ok()
                {
                    producer.sent = end;
                    if end == producer.bytes.len() {
                        let ack = producer.ack_offset;
                        conn.producer = None;
                        let _ = conn.pump.end_snapshot(ack, now);
                    }
                } else {
                    conn.producer = None;
                }
            }
        }
        // The socket takes what it can; a slow reader takes little.
        let take = if slow {
            self.rng.below(4)
        } else {
            self.rng.range(0, self.p.socket_take)
        };
        let pending = conn.pump.pending_output();
        let take = if conn.closing {
            pending.len()
        } else {
            (take as usize).min(pending.len())
        };
        let bytes = pending[..take].to_vec();
        conn.pump.consume_output(take, now);
        let delay = self.rng.range(0, self.p.max_delay);
        conn.to_replica.send(now, delay, bytes);
        Ok(())
    }
}
