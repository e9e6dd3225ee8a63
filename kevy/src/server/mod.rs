//! Starting and stopping a server: binds the listeners (one per shard, all
//! on the same addresses through SO_REUSEPORT), builds the mesh between
//! shards, and runs each shard's core on its own thread with the event loop
//! of the chosen backend ([`Transport`]). Also the library entry point:
//! [`Server::builder`] for programs that embed kevy.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use kevy_transport::listen::reserve_port;
use kevy_transport::{ShardLoop, TransportError};

mod affinity;
mod builder;
mod tls;
mod transport;

pub use builder::{ServerBuilder, TlsOptions};
pub use transport::{Transport, TRANSPORT_ENV};

use crate::config::{Config, ConfigError};
use crate::shard::mesh::{build_mesh, Doorbell};
use crate::shard::{ServerShared, ShardCore};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid bind address '{0}'")]
    BadBindAddress(String),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("could not start shard thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("no bind address could be used")]
    NothingBound,
    #[error("unknown transport '{0}' (expected mio, polling or glommio)")]
    UnknownTransport(String),
    #[error(
        "the {name} transport is not compiled into this build (compiled: {compiled}); \
         rebuild with `--features {feature}`"
    )]
    TransportNotCompiled {
        name: &'static str,
        feature: &'static str,
        compiled: String,
    },
    #[error("TLS is not compiled into this build; rebuild with `--features tls`")]
    TlsNotCompiled,
    #[cfg(feature = "tls")]
    #[error("TLS configuration: {0}")]
    Tls(#[from] kevy_transport::tls::TlsError),
    #[error("no transport is compiled in")]
    NoTransport,
    /// The snapshot at start could not be loaded (names file and offset).
    #[error("{0}")]
    Snapshot(String),
    #[error("invalid configuration '{name}': {source}")]
    Config {
        name: String,
        #[source]
        source: ConfigError,
    },
}

/// A server to start: configuration in, [`RunningServer`] out.
pub struct Server {
    config: Config,
}

/// A running server: its addresses, and the means to stop it.
pub struct RunningServer {
    shared: Arc<ServerShared>,
    snapshots: crate::persist::SnapshotState,
    doorbells: Arc<[Doorbell]>,
    threads: Vec<JoinHandle<()>>,
    addrs: Vec<SocketAddr>,
    tls_addrs: Vec<SocketAddr>,
}

fn parse_bind(text: &str, port: u16) -> Result<(SocketAddr, bool), ServerError> {
    let (optional, host) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let ip: IpAddr = match host {
        "*" => IpAddr::from([0, 0, 0, 0]),
        "::*" => IpAddr::from([0u16; 8]),
        _ => host
            .parse()
            .map_err(|_| ServerError::BadBindAddress(text.to_string()))?,
    };
    Ok((SocketAddr::new(ip, port), optional))
}

impl Server {
    pub fn new(config: Config) -> Self {
        Server { config }
    }

    /// Shards to run: `threads`, or the number of cores when 0.
    pub fn shard_count(&self) -> usize {
        match self.config.threads {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            n => n,
        }
    }

    /// The backend this server will run on (see [`Transport::resolve`]).
    pub fn transport(&self) -> Result<Transport, ServerError> {
        let env = std::env::var(TRANSPORT_ENV).ok();
        Transport::resolve(
            self.config.get("transport").unwrap_or("auto"),
            env.as_deref(),
        )
    }

    /// Starts the server on its configured backend.
    pub fn start(mut self) -> Result<RunningServer, ServerError> {
        let transport = self.transport()?;
        // `CONFIG GET transport` reports the backend actually running.
        let _ = self.config.set_startup("transport", &[transport.name()]);
        if self.config.get("tls-port").is_some_and(|p| p != "0") && !cfg!(feature = "tls") {
            return Err(ServerError::TlsNotCompiled);
        }
        match transport {
            #[cfg(feature = "mio")]
            Transport::Mio => self.start_on::<kevy_transport::mio_backend::MioLoop>(),
            #[cfg(feature = "polling")]
            Transport::Polling => self.start_on::<kevy_transport::polling_backend::PollingLoop>(),
            #[cfg(all(feature = "glommio", target_os = "linux"))]
            Transport::Glommio => self.start_on::<kevy_transport::glommio_backend::GlommioLoop>(),
            #[allow(unreachable_patterns)]
            other => Err(transport::not_compiled(other)),
        }
    }

    /// Binds every shard's listeners, then starts the shard threads on the
    /// backend `L`.
    pub fn start_on<L: ShardLoop>(self) -> Result<RunningServer, ServerError> {
        let shards = self.shard_count();
        let tls_port = tls::tls_port(&self.config);
        let tls_replication = tls::tls_replication(&self.config);
        let tls_config = match tls_port.is_some() || tls_replication {
            true => Some(tls::server_config(&self.config)?),
            false => None,
        };
        let (addrs, port, mut reservations) = reserve(&self.config.bind, self.config.port)?;
        let (tls_addrs, tls_reservations) = match tls_port {
            Some(tls_port) => {
                let (tls_addrs, _, held) = reserve(&self.config.bind, tls_port)?;
                (tls_addrs, held)
            }
            None => (Vec::new(), Vec::new()),
        };
        reservations.extend(tls_reservations);
        let listen: Vec<SocketAddr> = addrs.iter().chain(&tls_addrs).copied().collect();
        let repl_addrs = replication_addrs(&self.config, addrs[0], shards, &mut reservations)?;
        let loops = (0..shards)
            .map(|shard| {
                let mut own = listen.clone();
                own.push(repl_addrs[shard]);
                L::bind(&own)
            })
            .collect::<Result<Vec<_>, _>>()?;
        drop(reservations);
        let doorbells: Arc<[Doorbell]> = loops.iter().map(|l| Doorbell::new(l.waker())).collect();
        let meshes = build_mesh(doorbells.clone());
        (self.config.snapshots.shared().shards).store(shards, Ordering::SeqCst);
        let mut loaded = crate::persist::aof_load::load_at_start(
            &self.config,
            shards,
            crate::cmd::persist::value_limits(&self.config),
        )
        .map_err(ServerError::Snapshot)?
        .into_iter();
        self.config.snapshots.shared().aof.mark_all_served(shards);
        let shared = Arc::new(ServerShared::new(shards, port));
        let replication = shared.replication.clone();
        replication.set_ports(repl_addrs.iter().map(SocketAddr::port).collect());
        replication.set_doorbells(doorbells.clone());
        replication.configure(
            self.config.get("replica-read-only") != Some("no"),
            crate::replication::backlog_size(&self.config) as u64,
        );
        let upstream = startup_upstream(&self.config)?;
        let mut threads = Vec::with_capacity(shards);
        let pin_cores = self.config.get("pin-cores") == Some("yes");
        for (id, (shard_loop, mesh)) in loops.into_iter().zip(meshes).enumerate() {
            let shared = shared.clone();
            let config = self.config.clone();
            let mut shard_tls_addrs = tls_addrs.clone();
            if tls_replication {
                shard_tls_addrs.push(repl_addrs[id]);
            }
            let tls = tls_config.clone().map(|c| (c, shard_tls_addrs));
            let repl_port = repl_addrs[id].port();
            let keyspace = loaded.next();
            let handle = std::thread::Builder::new()
                .name(format!("kevy-shard-{id}"))
                .spawn(move || {
                    if pin_cores {
                        affinity::pin_to_core(id);
                    }
                    let mut core = ShardCore::new(id, shared.clone(), config, mesh);
                    if let Some(keyspace) = keyspace {
                        core.keyspace = keyspace;
                    }
                    let primary = crate::replication::primary::PrimaryShard::new(
                        id,
                        shared.replication.clone(),
                        repl_port,
                        crate::replication::backlog_size(&core.config),
                        crate::replication::pump_limits(&core.config),
                        crate::replication::primary_codecs(&core.config),
                    );
                    let handler = crate::replication::handler::ReplicatedShard::new(core, primary);
                    if let Err(err) = tls::run_shard(shard_loop, handler, tls) {
                        log::error!("Shard {id} stopped: {err}");
                        shared.shutdown.store(true, Ordering::SeqCst);
                    }
                })
                .map_err(ServerError::Thread)?;
            threads.push(handle);
        }
        if let Some(upstream) = upstream {
            crate::replication::replicate_from(&shared, &self.config, upstream);
        }
        Ok(RunningServer {
            shared,
            snapshots: self.config.snapshots.clone(),
            doorbells,
            threads,
            addrs,
            tls_addrs,
        })
    }
}

/// Each shard's replication address on the first bind address:
/// `replication-port-base + shard`, or a port the kernel picks (reserved
/// in `reservations` until every shard has bound it).
fn replication_addrs(
    config: &Config,
    first: SocketAddr,
    shards: usize,
    reservations: &mut Vec<socket2::Socket>,
) -> Result<Vec<SocketAddr>, ServerError> {
    (0..shards)
        .map(|shard| {
            let port = crate::replication::configured_port(config, shard).ok_or_else(|| {
                ServerError::Config {
                    name: "replication-port-base".into(),
                    source: ConfigError::Invalid(format!("no port for shard {shard}")),
                }
            })?;
            let (socket, bound) = reserve_port(SocketAddr::new(first.ip(), port))?;
            reservations.push(socket);
            Ok(bound)
        })
        .collect()
}

/// `replicaof <host> <port>` from the command line or the config file.
fn startup_upstream(config: &Config) -> Result<Option<crate::replication::Upstream>, ServerError> {
    let text = config.get("replicaof").unwrap_or("").trim();
    if text.is_empty() {
        return Ok(None);
    }
    let bad = |reason: &str| ServerError::Config {
        name: "replicaof".into(),
        source: ConfigError::Invalid(reason.into()),
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        [no, one] if no.eq_ignore_ascii_case("no") && one.eq_ignore_ascii_case("one") => Ok(None),
        [host, port] => {
            let port: u16 = port.parse().map_err(|_| bad("Invalid master port"))?;
            Ok(Some(crate::replication::Upstream {
                host: host.to_string(),
                port,
            }))
        }
        _ => Err(bad("expected replicaof <host> <port>")),
    }
}

/// Reserves `port` on every bind address (port 0 resolved once, optional
/// addresses skipped): the reservations hold the port without listening
/// while every shard binds its listener, then are dropped. Returns the
/// addresses, the port and the reservations.
fn reserve(
    bind: &[String],
    port: u16,
) -> Result<(Vec<SocketAddr>, u16, Vec<socket2::Socket>), ServerError> {
    let mut addrs = Vec::new();
    let mut port = port;
    let mut reservations = Vec::new();
    for text in bind {
        let (addr, optional) = parse_bind(text, port)?;
        let addr = SocketAddr::new(addr.ip(), port);
        match reserve_port(addr) {
            Ok((socket, bound)) => {
                port = bound.port();
                addrs.push(bound);
                reservations.push(socket);
            }
            Err(err) if optional => log::warn!("Could not bind {addr} (optional): {err}"),
            Err(err) => return Err(err.into()),
        }
    }
    if addrs.is_empty() {
        return Err(ServerError::NothingBound);
    }
    Ok((addrs, port, reservations))
}

impl RunningServer {
    /// The addresses the server listens on (port 0 resolved).
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The addresses served over TLS (empty without `tls-port`).
    pub fn tls_addrs(&self) -> &[SocketAddr] {
        &self.tls_addrs
    }

    pub fn shards(&self) -> usize {
        self.shared.shards
    }

    /// True once a `SHUTDOWN`, a signal or a failed shard stopped the server.
    pub fn is_stopping(&self) -> bool {
        self.shared.shutdown.load(Ordering::SeqCst)
    }

    /// Makes the coming stop behave as Redis's on SIGTERM: save a final
    /// snapshot when save points are configured (the log is fsynced at
    /// every stop). Without it, a stop saves nothing.
    pub fn request_shutdown_save(&self) {
        crate::persist::shutdown::request(
            &self.snapshots,
            crate::persist::shutdown::ShutdownSave::Default,
        );
    }

    /// Asks every shard to stop.
    pub fn stop(&self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        for bell in self.doorbells.iter() {
            bell.ring_always();
        }
    }

    /// Waits for every shard thread to end.
    pub fn wait(self) {
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}
