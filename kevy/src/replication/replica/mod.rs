//! The replica runner: keeps this server a copy of its upstream.
//!
//! Data flow: one supervisor thread per `REPLICAOF`. It asks the primary,
//! on its client port (authenticated with `masteruser`/`masterauth`),
//! for its topology (`REPLCONF KEVY-TOPOLOGY`: shard count and each
//! shard's replication port), then runs a *session*: one stream thread
//! per primary shard ([`stream`]), sharing one [`Dispatcher`] that routes
//! decoded writes to this server's shards. When any stream fails the
//! session stops every stream, waits until the shards applied everything
//! already queued, marks it applied on each link (so the next request
//! resumes exactly there: nothing lost, nothing applied twice) and starts
//! again after a pause. A primary that restarted with another shard count
//! means new streams, each starting with a full sync.

mod applier;
mod dispatch;
mod loader;
mod stream;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kevy_replication::{Codec, CodecSet, ReplicaConfig, ReplicaLink};

use applier::LocalApplier;
use dispatch::Dispatcher;
pub use stream::LinkIo;
pub use stream::Phase;
use stream::{connect_tcp, run_stream};

/// A link's byte stream, plain or TLS.
pub type LinkIoBox = Box<dyn LinkIo>;

use super::state::{LinkState, ReplicationState, Upstream};
use crate::persist::load::ValueLimits;
use crate::shard::gather_value_end;

/// What the runner needs from the configuration, read at `REPLICAOF`.
#[derive(Clone)]
pub struct RunnerConfig {
    pub upstream: Upstream,
    pub user: String,
    pub password: String,
    pub databases: usize,
    pub limits: ValueLimits,
    /// This server's own client address and password (for the applier).
    pub local_addr: std::net::SocketAddr,
    pub local_password: Option<Vec<u8>>,
    pub applier_secret: String,
    /// The replica's id: `<run id>.<client port>`.
    pub replica_id: String,
    pub codecs: CodecSet,
    pub tls: Option<super::tls::ClientTls>,
    /// `repl-timeout`: no word from the primary for this long drops a link.
    pub link_timeout_ms: u64,
}

/// One run of every stream.
pub struct Session {
    pub state: Arc<ReplicationState>,
    pub dispatcher: Mutex<Dispatcher>,
    pub ports: Vec<u16>,
    pub user: String,
    pub password: String,
    pub databases: usize,
    pub limits: ValueLimits,
    host: String,
    tls: Option<super::tls::ClientTls>,
    stop: AtomicBool,
    generation: u64,
    phases: Mutex<Vec<Phase>>,
}

impl Session {
    pub fn stopped(&self) -> bool {
        stream::flag(&self.stop) || self.state.status().runner_generation != self.generation
    }

    pub fn connect(&self, port: u16) -> Result<LinkIoBox, String> {
        let tcp = connect_tcp(&self.host, port)?;
        match &self.tls {
            Some(tls) => tls.wrap(&self.host, tcp),
            None => Ok(Box::new(tcp)),
        }
    }

    pub fn set_phase(&self, stream: usize, phase: Phase) {
        let mut phases = self.phases.lock().unwrap_or_else(|p| p.into_inner());
        phases[stream] = phase;
        let link = if phases.contains(&Phase::Sync) {
            LinkState::Sync
        } else if phases.iter().all(|p| *p == Phase::Streaming) {
            LinkState::Connected
        } else {
            LinkState::Connecting
        };
        self.state.set_link(link);
    }

    pub fn publish_applied(&self, stream: usize, offset: u64) {
        self.state.set_applied(stream, offset);
    }
}

/// Starts the supervisor of generation `generation`.
pub fn start(state: Arc<ReplicationState>, config: RunnerConfig, generation: u64) {
    let spawned = std::thread::Builder::new()
        .name("kevy-replica".into())
        .spawn(move || supervise(state, config, generation));
    if let Err(error) = spawned {
        log::error!("Could not start the replica runner: {error}");
    }
}

fn supervise(state: Arc<ReplicationState>, config: RunnerConfig, generation: u64) {
    let current = |state: &ReplicationState| state.status().runner_generation == generation;
    let shared = state.clone();
    let _running = shared.runner_lock.lock().unwrap_or_else(|p| p.into_inner());
    let mut links: Vec<ReplicaLink> = Vec::new();
    let mut applier = Some(LocalApplier::new(
        config.local_addr,
        config.local_password.clone(),
        config.applier_secret.clone(),
    ));
    let host = &config.upstream.host;
    log::info!(
        "Connecting to MASTER {host}:{} (replica id {})",
        config.upstream.port,
        config.replica_id
    );
    while current(&state) {
        state.set_link(LinkState::Connecting);
        let ports = match fetch_topology(&config) {
            Ok(ports) => ports,
            Err(error) => {
                log::warn!(
                    "MASTER {host}:{} unreachable: {error}",
                    config.upstream.port
                );
                state.link_failed(&error);
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
        };
        if ports.len() != links.len() {
            if !links.is_empty() {
                log::warn!(
                    "MASTER now runs {} shards (was {}): every stream takes a full sync",
                    ports.len(),
                    links.len()
                );
            }
            let mut link_config = ReplicaConfig::new(config.replica_id.clone());
            link_config.codecs = config.codecs.clone();
            link_config.ack_interval_ms = 250;
            link_config.link_timeout_ms = config.link_timeout_ms;
            links = (0..ports.len())
                .map(|_| ReplicaLink::new(link_config.clone(), None))
                .collect();
            state.reset_applied(ports.len());
        }
        let streams = ports.len();
        let dispatcher = Dispatcher::new(
            state.clone(),
            streams,
            applier
                .take()
                .expect("the applier is returned after every session"),
        );
        let session = Arc::new(Session {
            state: state.clone(),
            dispatcher: Mutex::new(dispatcher),
            ports,
            user: config.user.clone(),
            password: config.password.clone(),
            databases: config.databases,
            limits: config.limits,
            host: host.clone(),
            tls: config.tls.clone(),
            stop: AtomicBool::new(false),
            generation,
            phases: Mutex::new(vec![Phase::Connecting; streams]),
        });
        let handles: Vec<_> = links
            .drain(..)
            .enumerate()
            .map(|(stream, mut link)| {
                let session = session.clone();
                std::thread::Builder::new()
                    .name(format!("kevy-replica-{stream}"))
                    .spawn(move || {
                        let result = run_stream(&session, stream, &mut link);
                        if let Err(error) = &result {
                            log::warn!("Replication stream {stream} stopped: {error}");
                            session.state.link_failed(error);
                        }
                        // One stream down stops the session.
                        session.stop.store(true, Ordering::Release);
                        link.disconnected();
                        link
                    })
            })
            .collect();
        let mut returned = Vec::new();
        for handle in handles {
            match handle {
                Ok(handle) => match handle.join() {
                    Ok(link) => returned.push(link),
                    Err(_) => log::error!("A replication stream thread panicked"),
                },
                Err(error) => log::error!("Could not start a replication stream: {error}"),
            }
        }
        if returned.len() != streams {
            // A stream is gone: start over from scratch, full syncs.
            returned.clear();
        }
        let Ok(session) = Arc::try_unwrap(session) else {
            log::error!("A replication session outlived its threads");
            return;
        };
        let mut dispatcher = session
            .dispatcher
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
        // Everything queued is applied before the links learn where they
        // stand, so the next request resumes right after it.
        for shard in 0..state.shards() {
            while state.inboxes.backlog(shard) > 0 {
                state.ring(shard);
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        for (stream, link) in returned.iter_mut().enumerate() {
            if let Some(offset) = dispatcher.applied_offset(stream) {
                link.mark_applied(offset);
                state.set_applied(stream, offset);
            }
        }
        applier = Some(dispatcher.into_applier());
        links = returned;
        if current(&state) {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    log::info!("Replication from {host}:{} stopped", config.upstream.port);
}

/// Asks the primary for its shard count and replication ports.
fn fetch_topology(config: &RunnerConfig) -> Result<Vec<u16>, String> {
    let mut tcp = connect_tcp(&config.upstream.host, config.upstream.port)?;
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut expected = 1;
    if !config.password.is_empty() {
        let user = if config.user.is_empty() {
            "default"
        } else {
            &config.user
        };
        push_command(&mut request, &["AUTH", user, &config.password]);
        expected += 1;
    }
    push_command(&mut request, &["REPLCONF", "KEVY-TOPOLOGY"]);
    tcp.write_all(&request)
        .map_err(|e| format!("writing to the primary: {e}"))?;
    let mut input = Vec::new();
    let mut pos = 0;
    let mut last = (0, 0);
    for _ in 0..expected {
        let end = loop {
            if let Some(end) = gather_value_end(&input, pos) {
                break end;
            }
            let mut chunk = [0u8; 4096];
            let n = tcp
                .read(&mut chunk)
                .map_err(|e| format!("reading from the primary: {e}"))?;
            if n == 0 {
                return Err("the primary closed the connection".into());
            }
            input.extend_from_slice(&chunk[..n]);
        };
        if input[pos] == b'-' {
            let text = String::from_utf8_lossy(&input[pos + 1..end]);
            return Err(format!("the primary refused: {}", text.trim()));
        }
        last = (pos, end);
        pos = end;
    }
    let reply = std::str::from_utf8(&input[last.0..last.1]).map_err(|_| "bad topology reply")?;
    let numbers: Vec<u16> = reply
        .split("\r\n")
        .filter_map(|line| line.strip_prefix(':')?.parse().ok())
        .collect();
    match numbers.split_first() {
        Some((&shards, ports)) if shards > 0 && ports.len() == usize::from(shards) => {
            Ok(ports.to_vec())
        }
        _ => Err(format!("unexpected topology reply {reply:?}")),
    }
}

fn push_command(out: &mut Vec<u8>, args: &[&str]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
}

/// The snapshot codecs this replica asks for, preferred first: zstd when
/// this build has it and `repl-snapshot-compression zstd` asks for it (the
/// primary must offer it too), else plain chunks, which every build reads.
pub fn replica_codecs(wants_zstd: bool) -> CodecSet {
    if cfg!(feature = "zstd") && wants_zstd {
        CodecSet::new(&[Codec::Zstd, Codec::Plain])
    } else {
        CodecSet::plain_only()
    }
}
