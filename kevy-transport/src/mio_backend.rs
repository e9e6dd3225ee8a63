//! The mio backend: one readiness loop per shard thread (epoll on Linux).
//!
//! Each iteration: poll → accept every pending connection → read each
//! readable connection until `WouldBlock`, handing the bytes to the core →
//! drain the inbox → run the tick when due → end the iteration (flush
//! cross-shard messages) → write every dirty connection once → close what
//! the core asked to close. Sockets are registered edge-triggered for both
//! directions once, so no re-registration happens on the hot path.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use crate::listen::bind_reuseport;
use crate::{until_next_tick, ConnId, ShardHandler, ShardLoop, TransportError, Waker};

/// Tokens below this are listeners and the waker; connections start here.
const FIRST_CONN_TOKEN: usize = 1 << 20;
const WAKER_TOKEN: Token = Token(FIRST_CONN_TOKEN - 1);
/// Bytes read from a socket per `read` call.
const READ_CHUNK: usize = 64 * 1024;
/// Readiness events taken per poll.
const EVENTS_PER_POLL: usize = 1024;
/// Bytes read from one connection per iteration before moving on, so one
/// fast sender cannot starve the others (edge-triggered: it is revisited).
const READ_BUDGET_PER_ITERATION: usize = 1024 * 1024;

struct MioWaker(mio::Waker);

impl Waker for MioWaker {
    fn wake(&self) {
        if let Err(err) = self.0.wake() {
            log::warn!("waking a shard failed: {err}");
        }
    }
}

struct Connection {
    stream: TcpStream,
    /// Output remained after the last write: wait for a writable event.
    write_blocked: bool,
    /// The core asked to close once the output is written.
    closing: bool,
    /// Read more on the next iteration (the per-iteration budget ran out).
    read_pending: bool,
    /// The peer shut down its sending side.
    eof: bool,
}

/// One shard's mio event loop.
pub struct MioLoop {
    poll: Poll,
    waker: Arc<MioWaker>,
    listeners: Vec<TcpListener>,
}

impl ShardLoop for MioLoop {
    fn bind(listen: &[SocketAddr]) -> Result<Self, TransportError> {
        let poll = Poll::new().map_err(TransportError::Poller)?;
        let waker =
            mio::Waker::new(poll.registry(), WAKER_TOKEN).map_err(TransportError::Poller)?;
        let mut listeners = Vec::with_capacity(listen.len());
        for (index, addr) in listen.iter().enumerate() {
            let mut listener = TcpListener::from_std(bind_reuseport(*addr)?);
            poll.registry()
                .register(&mut listener, Token(index), Interest::READABLE)
                .map_err(TransportError::Poller)?;
            listeners.push(listener);
        }
        Ok(MioLoop {
            poll,
            waker: Arc::new(MioWaker(waker)),
            listeners,
        })
    }

    fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    fn waker(&self) -> Arc<dyn Waker> {
        self.waker.clone()
    }

    fn run<H: ShardHandler>(mut self, handler: &mut H) -> Result<(), TransportError> {
        let mut events = Events::with_capacity(EVENTS_PER_POLL);
        let mut conns: Vec<Option<Connection>> = Vec::new();
        let mut free: Vec<usize> = Vec::new();
        let mut buf = vec![0u8; READ_CHUNK];
        let mut dirty = Vec::new();
        let mut closing = Vec::new();
        let mut readable: Vec<ConnId> = Vec::new();
        let tick = handler.tick_interval();
        let mut last_tick = Instant::now();

        while !handler.stop_requested() {
            let busy = readable.iter().any(|&c| conn_read_pending(&conns, c));
            let mut timeout = until_next_tick(last_tick, tick, Instant::now());
            let parked = !busy && handler.prepare_to_park();
            if !parked {
                timeout = Duration::ZERO;
            }
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(TransportError::Poller(err)),
            }
            if parked {
                handler.unparked();
            }
            readable.retain(|&c| conn_read_pending(&conns, c));
            for event in events.iter() {
                let token = event.token();
                if token == WAKER_TOKEN {
                    continue;
                }
                if token.0 < self.listeners.len() {
                    self.accept_all(token.0, handler, &mut conns, &mut free);
                    continue;
                }
                let id = token.0 - FIRST_CONN_TOKEN;
                let Some(Some(conn)) = conns.get_mut(id) else {
                    continue;
                };
                if event.is_writable() && conn.write_blocked {
                    conn.write_blocked = false;
                    dirty.push(id);
                }
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    conn.read_pending = true;
                    readable.push(id);
                }
            }
            readable.sort_unstable();
            readable.dedup();
            for &id in &readable {
                read_connection(id, handler, &mut conns, &mut buf);
            }
            handler.on_inbox();
            let now = Instant::now();
            if now.saturating_duration_since(last_tick) >= tick {
                last_tick = now;
                handler.on_tick(now);
            }
            handler.end_of_iteration();
            handler.take_events(&mut dirty, &mut closing);
            for id in closing.drain(..) {
                if let Some(Some(conn)) = conns.get_mut(id) {
                    conn.closing = true;
                    dirty.push(id);
                }
            }
            dirty.sort_unstable();
            dirty.dedup();
            for id in dirty.drain(..) {
                write_connection(id, handler, &mut conns, &mut free, &self.poll);
            }
        }
        Ok(())
    }
}

impl MioLoop {
    fn accept_all<H: ShardHandler>(
        &mut self,
        listener_index: usize,
        handler: &mut H,
        conns: &mut Vec<Option<Connection>>,
        free: &mut Vec<usize>,
    ) {
        let listener = &self.listeners[listener_index];
        loop {
            match listener.accept() {
                Ok((mut stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let local = match stream.local_addr() {
                        Ok(addr) => addr,
                        Err(_) => continue,
                    };
                    let id = free.pop().unwrap_or_else(|| {
                        conns.push(None);
                        conns.len() - 1
                    });
                    let token = Token(FIRST_CONN_TOKEN + id);
                    if let Err(err) = self.poll.registry().register(
                        &mut stream,
                        token,
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        log::warn!("registering a connection failed: {err}");
                        free.push(id);
                        continue;
                    }
                    conns[id] = Some(Connection {
                        stream,
                        write_blocked: false,
                        closing: false,
                        read_pending: false,
                        eof: false,
                    });
                    handler.on_accept(id, peer, local);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    // EMFILE and friends: log and retry on the next event.
                    log::warn!("accept failed: {err}");
                    return;
                }
            }
        }
    }
}

fn conn_read_pending(conns: &[Option<Connection>], id: ConnId) -> bool {
    matches!(conns.get(id), Some(Some(c)) if c.read_pending)
}

/// Reads until `WouldBlock` or the per-iteration budget, feeding the core.
fn read_connection<H: ShardHandler>(
    id: ConnId,
    handler: &mut H,
    conns: &mut [Option<Connection>],
    buf: &mut [u8],
) {
    let mut budget = READ_BUDGET_PER_ITERATION;
    loop {
        let Some(Some(conn)) = conns.get_mut(id) else {
            return;
        };
        if conn.closing || conn.eof {
            conn.read_pending = false;
            return;
        }
        if budget == 0 {
            return;
        }
        match conn.stream.read(buf) {
            Ok(0) => {
                // The peer closed its side: nothing more will come. The core
                // decides when to close (after the replies it still owes).
                conn.read_pending = false;
                conn.eof = true;
                handler.on_read(id, &[]);
                return;
            }
            Ok(n) => {
                budget = budget.saturating_sub(n);
                handler.on_read(id, &buf[..n]);
                if n < buf.len() {
                    // A short read drained the socket; with edge-triggered
                    // epoll, data arriving later raises a new event, so the
                    // read that would only return WouldBlock is skipped.
                    if let Some(Some(conn)) = conns.get_mut(id) {
                        conn.read_pending = false;
                    }
                    return;
                }
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                conn.read_pending = false;
                return;
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                // A reset connection: treated as end of input; the write that
                // follows fails and closes it.
                conn.read_pending = false;
                conn.eof = true;
                handler.on_read(id, &[]);
                return;
            }
        }
    }
}

/// Writes the core's pending output for `id`; closes the connection when
/// it is closing and everything was written (or writing failed).
fn write_connection<H: ShardHandler>(
    id: ConnId,
    handler: &mut H,
    conns: &mut [Option<Connection>],
    free: &mut Vec<usize>,
    poll: &Poll,
) {
    let Some(Some(conn)) = conns.get_mut(id) else {
        return;
    };
    let mut failed = false;
    let mut flushed_some = false;
    while !conn.write_blocked {
        let out = handler.pending_output(id);
        if out.is_empty() {
            break;
        }
        match conn.stream.write(out) {
            Ok(0) => {
                failed = true;
                break;
            }
            Ok(n) => {
                handler.consume_output(id, n);
                flushed_some = true;
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => conn.write_blocked = true,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    let drained = handler.pending_output(id).is_empty();
    if failed || (conn.closing && drained) {
        if let Some(mut conn) = conns[id].take() {
            let _ = poll.registry().deregister(&mut conn.stream);
        }
        free.push(id);
        handler.on_closed(id);
        return;
    }
    if drained && flushed_some {
        handler.on_output_flushed(id);
    }
}
