//! One stream thread of the replica runner: the link to one primary shard.
//!
//! Data flow: connects to the shard's replication port, authenticates
//! (`AUTH <hex user> <hex password>`), then drives its `ReplicaLink`:
//! bytes read go in, events come out in stream order — snapshot chunks to
//! a [`SnapshotLoad`], writes and transaction parts to the shared
//! [`Dispatcher`] — and the link acknowledges what the shards have applied.
//! Reads time out every [`POLL_MS`] so acknowledgements and the stop flag
//! are looked at even when the primary is quiet. Any error ends the
//! session (the runner reconnects every stream).

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::Ordering;
use std::time::Duration;

use kevy_replication::{ReplicaEvent, ReplicaLink};

use super::loader::SnapshotLoad;
use super::Session;
use crate::replication::primary::hex;
use crate::shard::unix_ms;

/// How long a read waits before the thread looks at acks and the stop flag.
const POLL_MS: u64 = 10;
/// Acknowledgements go out at most this often when the applied offset moves.
const ACK_EVERY_MS: u64 = 5;

/// A byte stream to the primary: plain TCP or TLS.
pub trait LinkIo: Read + Write + Send {}
impl<T: Read + Write + Send> LinkIo for T {}

/// Runs stream `stream` until an error or the session stops.
pub fn run_stream(session: &Session, stream: usize, link: &mut ReplicaLink) -> Result<(), String> {
    let port = session.ports[stream];
    let mut io = session.connect(port)?;
    let mut hello = format!(
        "AUTH {} {}\r\n",
        hex(session.user.as_bytes()),
        hex(session.password.as_bytes())
    )
    .into_bytes();
    link.connect(unix_ms());
    let mut load: Option<SnapshotLoad> = None;
    let mut covered: Vec<u64> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut last_ack_ms = 0u64;
    let mut last_applied = None;
    loop {
        if session.stopped() {
            return Ok(());
        }
        let now = unix_ms();
        drain_events(
            session,
            stream,
            link,
            &mut load,
            &mut covered,
            &mut io,
            &mut hello,
        )?;
        match io.read(&mut buf) {
            Ok(0) => return Err("the primary closed the link".into()),
            Ok(n) => {
                session.state.status_touch_io(now);
                link.receive(&buf[..n], now).map_err(|e| e.to_string())?;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("reading from the primary: {e}")),
        }
        drain_events(
            session,
            stream,
            link,
            &mut load,
            &mut covered,
            &mut io,
            &mut hello,
        )?;
        let applied = session
            .dispatcher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .applied_offset(stream);
        if let Some(offset) = applied {
            link.mark_applied(offset);
            session.publish_applied(stream, offset);
            if last_applied != Some(offset) && now.saturating_sub(last_ack_ms) >= ACK_EVERY_MS {
                link.ack_now(now);
                last_ack_ms = now;
                last_applied = Some(offset);
            }
        }
        link.tick(now).map_err(|e| e.to_string())?;
    }
}

fn drain_events(
    session: &Session,
    stream: usize,
    link: &mut ReplicaLink,
    load: &mut Option<SnapshotLoad>,
    covered: &mut Vec<u64>,
    io: &mut Box<dyn LinkIo>,
    hello: &mut Vec<u8>,
) -> Result<(), String> {
    while let Some(event) = link.poll_event() {
        match event {
            ReplicaEvent::Transmit { bytes } => {
                // The AUTH line goes first, with the request.
                let mut out = std::mem::take(hello);
                out.extend_from_slice(&bytes);
                io.write_all(&out)
                    .map_err(|e| format!("writing to the primary: {e}"))?;
            }
            ReplicaEvent::Resumed { offset, .. } => {
                log::info!("Stream {stream}: partial resync from offset {offset} accepted");
                session.state.count_sync(false);
                session.set_phase(stream, Phase::Streaming);
            }
            ReplicaEvent::SnapshotBegin { .. } => {
                log::info!("Stream {stream}: full sync begins");
                session.set_phase(stream, Phase::Sync);
                let started =
                    SnapshotLoad::start(session.state.shards(), session.databases, session.limits)
                        .map_err(|e| format!("cannot start the snapshot loader: {e}"))?;
                *load = Some(started);
            }
            ReplicaEvent::SnapshotChunk { bytes, .. } => {
                let Some(current) = load.as_mut() else {
                    return Err("a snapshot chunk outside a snapshot".into());
                };
                if !current.chunk(bytes) {
                    let why = load
                        .take()
                        .map(SnapshotLoad::finish)
                        .and_then(Result::err)
                        .unwrap_or_else(|| "the snapshot loader stopped".into());
                    return Err(why);
                }
            }
            ReplicaEvent::SnapshotEnd { offset } => {
                let current = load.take().ok_or("a snapshot end outside a snapshot")?;
                let bytes = current.bytes;
                let (staged, keys) = current.finish()?;
                log::info!(
                    "Stream {stream}: full sync received ({keys} keys, {bytes} bytes), live from offset {offset}"
                );
                let mut dispatcher = session.dispatcher.lock().unwrap_or_else(|p| p.into_inner());
                dispatcher.replace(stream, offset, staged);
                dispatcher.covered(stream, &std::mem::take(covered))?;
                drop(dispatcher);
                session.state.count_sync(true);
                session.set_phase(stream, Phase::Streaming);
            }
            ReplicaEvent::CoveredTransactions { ids } => covered.extend(ids),
            ReplicaEvent::SnapshotAborted => {
                load.take();
                covered.clear();
            }
            ReplicaEvent::Apply { offset, bytes } => session
                .dispatcher
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(stream, offset, None, bytes)?,
            ReplicaEvent::TransactionPart {
                offset,
                mark,
                bytes,
            } => session
                .dispatcher
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(stream, offset, Some(mark), bytes)?,
        }
    }
    Ok(())
}

/// Where a stream stands, for `ROLE` and `INFO replication`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Connecting,
    Sync,
    Streaming,
}

/// Plain TCP to `host:port` with the read timeout the stream loop needs.
pub fn connect_tcp(host: &str, port: u16) -> Result<std::net::TcpStream, String> {
    use std::net::ToSocketAddrs;
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last = format!("no address for {host}");
    for addr in addrs {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                let _ = stream.set_read_timeout(Some(Duration::from_millis(POLL_MS)));
                return Ok(stream);
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

/// Whether the loop should stop: used by the session.
pub fn flag(stop: &std::sync::atomic::AtomicBool) -> bool {
    stop.load(Ordering::Acquire)
}
