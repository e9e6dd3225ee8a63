//! Replication, server side: a primary's shards serve replica links from
//! their backlogs; a replica's runner keeps this server a copy of its
//! upstream. The protocol pieces (backlog, frames, handshake, pump, link,
//! transaction assembly) are the sans-IO `kevy-replication` crate; this
//! module drives them with sockets, threads and the shards.
//!
//! Data flow, primary: each shard's writes become frames in its backlog
//! ([`primary`]); a replica connects to the shard's replication port
//! (`replication-port-base + shard`, or a port the kernel picks, learned
//! by the replica through `REPLCONF KEVY-TOPOLOGY` on the client port),
//! and the shard's [`handler::ReplicatedShard`] pumps the link: a full sync
//! ships a frozen copy of the shard, serialized off the shard thread
//! ([`snapshot_ship`]), then live frames; acknowledgements drive `WAIT`.
//!
//! Data flow, replica: the runner ([`replica`]) has one stream thread per
//! primary shard; decoded writes are routed by key to this server's
//! shards through per-shard inboxes ([`inbox`]) that each shard drains
//! once per loop iteration ([`apply`]). Role, offsets and connected
//! replicas live in the shared [`state::ReplicationState`].

pub mod apply;
pub mod backlog_sink;
pub mod handler;
pub mod inbox;
pub mod primary;
pub mod replica;
pub mod snapshot_ship;
pub mod state;
pub mod tls;

use kevy_replication::{Codec, CodecSet, PumpLimits};

pub use state::{ReplicationState, Upstream};

use crate::config::Config;
use crate::shard::ServerShared;

/// The error of a client write on a read-only replica.
pub const READONLY_ERROR: &str = "READONLY You can't write against a read only replica.";

/// The replication port of `shard` when `replication-port-base` is set
/// (0: the kernel picks one per shard).
pub fn configured_port(config: &Config, shard: usize) -> Option<u16> {
    let base: u32 = config
        .get("replication-port-base")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if base == 0 {
        return Some(0);
    }
    u16::try_from(base + shard as u32).ok()
}

/// Snapshot codecs this primary offers.
pub fn primary_codecs(config: &Config) -> CodecSet {
    if cfg!(feature = "zstd") && config.get("repl-snapshot-compression") == Some("zstd") {
        CodecSet::new(&[Codec::Zstd, Codec::Plain])
    } else {
        CodecSet::plain_only()
    }
}

/// The backlog budget (`repl-backlog-size`).
pub fn backlog_size(config: &Config) -> usize {
    config
        .get("repl-backlog-size")
        .and_then(crate::config::parse_memory)
        .map_or(1 << 20, |n| usize::try_from(n).unwrap_or(usize::MAX))
}

/// Link limits from the configuration.
pub fn pump_limits(config: &Config) -> PumpLimits {
    let period_s: u64 = config
        .get("repl-ping-replica-period")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let timeout_s: u64 = config
        .get("repl-timeout")
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    PumpLimits {
        output_cap: match config.output_limits.replica.hard_bytes {
            0 => 1 << 40,
            bytes => usize::try_from(bytes).unwrap_or(usize::MAX),
        },
        // Heartbeats carry the offset (lag reports); a second keeps them
        // fresh even when Redis's ping period is longer.
        heartbeat_interval_ms: (period_s * 1000).min(1000),
        link_timeout_ms: timeout_s * 1000,
        ..PumpLimits::default()
    }
}

/// Makes this server a replica of `upstream` (restarting the runner).
pub fn replicate_from(shared: &ServerShared, config: &Config, upstream: Upstream) {
    let state = &shared.replication;
    let generation = {
        let mut status = state.status();
        status.upstream = Some(upstream.clone());
        status.replica = Some(state::ReplicaStatus {
            link: state::LinkState::Connect,
            last_io_ms: 0,
            down_since_ms: Some(crate::shard::unix_ms()),
            applied: Vec::new(),
            full_syncs: 0,
            partial_syncs: 0,
            last_error: None,
        });
        status.runner_generation += 1;
        status.runner_generation
    };
    state.set_read_only(config.get("replica-read-only") != Some("no"));
    let tls = match tls::client_tls(config) {
        Ok(tls) => tls,
        Err(error) => {
            log::error!("Replication TLS: {error}");
            state.link_failed(&error);
            return;
        }
    };
    let local_ip = config
        .bind
        .iter()
        .map(|b| b.trim_start_matches('-'))
        .find_map(|b| b.parse::<std::net::IpAddr>().ok())
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
    let runner = replica::RunnerConfig {
        upstream,
        user: config.get("masteruser").unwrap_or("").to_string(),
        password: config.get("masterauth").unwrap_or("").to_string(),
        databases: config.databases,
        limits: crate::cmd::persist::value_limits(config),
        local_addr: std::net::SocketAddr::new(local_ip, shared.tcp_port),
        local_password: config.requirepass.clone(),
        applier_secret: state.applier_secret.clone(),
        replica_id: format!("{}.{}", &shared.run_id[..16], shared.tcp_port),
        codecs: replica::replica_codecs(config.get("repl-snapshot-compression") == Some("zstd")),
        tls,
        link_timeout_ms: pump_limits(config).link_timeout_ms,
    };
    replica::start(shared.replication.clone(), runner, generation);
}

/// `REPLICAOF NO ONE`: a primary with a new history.
pub fn promote(shared: &ServerShared) {
    let state = &shared.replication;
    {
        let mut status = state.status();
        if status.upstream.is_none() {
            return;
        }
        status.upstream = None;
        status.replica = None;
        status.runner_generation += 1;
    }
    state.set_read_only(false);
    state.new_history();
    log::info!("MASTER MODE enabled: a new replication history begins");
}
