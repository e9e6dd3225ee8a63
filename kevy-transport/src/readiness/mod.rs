//! The poller-independent half of a readiness (epoll-style) shard loop,
//! shared by the mio and polling backends so both behave the same.
//!
//! A backend polls its own poller and reports, per connection, "readable"
//! and "writable" edges to [`ReadinessState::on_readiness`]; this module
//! owns the connection table and does the rest of the iteration: read each
//! readable connection until `WouldBlock` (or its per-iteration budget),
//! drain the inbox, run the tick when due, end the iteration, then write
//! every dirty connection once and close those the core asked to close once
//! their output is written. The backend only accepts, registers and
//! deregisters sockets.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::{tick_due, until_next_timer, ConnId, ShardHandler, TickDue};

/// Bytes read from a socket per `read` call.
pub(crate) const READ_CHUNK: usize = 64 * 1024;
/// Bytes read from one connection per iteration before moving on, so one
/// fast sender cannot starve the others (edge-triggered: it is revisited).
pub(crate) const READ_BUDGET_PER_ITERATION: usize = 1024 * 1024;

/// Whether the poller's events say that the peer closed its sending side
/// (epoll's EPOLLRDHUP). Edge-triggered, data and that close can arrive in
/// one event; a read that returns less than asked then drained the data
/// but not the end of input, which no later event reports.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ReadClosedEvents {
    /// It does: a short read drained the socket unless the event said the
    /// input ended, which saves the read that would only say `WouldBlock`.
    Reported,
    /// It does not: read every readable connection until `WouldBlock` or
    /// the end of input.
    #[cfg_attr(not(feature = "polling"), allow(dead_code))]
    NotReported,
}

struct Connection<S> {
    stream: S,
    /// An event said the input ended (or the socket failed): read until a
    /// read reports it.
    read_closed: bool,
    /// Output remained after the last write: wait for a writable event.
    write_blocked: bool,
    /// The core asked to close once the output is written.
    closing: bool,
    /// Read more on the next iteration (the per-iteration budget ran out).
    read_pending: bool,
    /// The peer shut down its sending side.
    eof: bool,
}

/// How the next poll should wait, decided before it.
pub(crate) struct PollPlan {
    /// How long the poll may block (zero: just collect ready events).
    pub timeout: Duration,
    /// The handler agreed to sleep ([`ShardHandler::prepare_to_park`]), so
    /// [`ShardHandler::unparked`] is owed after the poll.
    pub parked: bool,
}

/// One shard's connections (by [`ConnId`]) and the work lists of the loop
/// iteration in progress. `S` is the backend's non-blocking stream type.
pub(crate) struct ReadinessState<S> {
    conns: Vec<Option<Connection<S>>>,
    /// Ids of closed connections, reused before the table grows.
    free: Vec<ConnId>,
    buf: Vec<u8>,
    /// Connections to read this iteration (new edges, or budget left over).
    readable: Vec<ConnId>,
    dirty: Vec<ConnId>,
    closing: Vec<ConnId>,
    read_closed_events: ReadClosedEvents,
    tick: Duration,
    last_tick: Instant,
}

/// A connection just accepted and prepared by the backend: its stream, the
/// peer's address and the local one.
pub(crate) type Accepted<S> = (S, SocketAddr, SocketAddr);

impl<S: Read + Write> ReadinessState<S> {
    /// Takes every connection a listener has pending. `accept` returns the
    /// next one (`Ok(None)`: that one failed to set up and was dropped;
    /// `WouldBlock`: none left); `register` adds a stream to the poller
    /// under its connection id. A connection the poller refuses is dropped;
    /// the others are handed to the core.
    pub(crate) fn accept_all<H: ShardHandler>(
        &mut self,
        handler: &mut H,
        mut accept: impl FnMut() -> io::Result<Option<Accepted<S>>>,
        mut register: impl FnMut(&mut S, ConnId) -> io::Result<()>,
    ) {
        loop {
            match accept() {
                Ok(Some((stream, peer, local))) => {
                    let id = self.insert(stream);
                    let stream = self
                        .stream_mut(id)
                        .expect("the connection inserted just above is in the table");
                    if let Err(err) = register(stream, id) {
                        log::warn!("registering a connection failed: {err}");
                        self.remove(id);
                        continue;
                    }
                    handler.on_accept(id, peer, local);
                }
                Ok(None) => {}
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

    pub(crate) fn new(tick: Duration, read_closed_events: ReadClosedEvents) -> Self {
        ReadinessState {
            conns: Vec::new(),
            free: Vec::new(),
            buf: vec![0u8; READ_CHUNK],
            readable: Vec::new(),
            dirty: Vec::new(),
            closing: Vec::new(),
            read_closed_events,
            tick,
            last_tick: Instant::now(),
        }
    }

    /// Adds an accepted connection; the backend registers it under the
    /// returned id (and calls [`ReadinessState::remove`] if that fails).
    pub(crate) fn insert(&mut self, stream: S) -> ConnId {
        let conn = Connection {
            stream,
            read_closed: false,
            write_blocked: false,
            closing: false,
            read_pending: false,
            eof: false,
        };
        match self.free.pop() {
            Some(id) => {
                self.conns[id] = Some(conn);
                id
            }
            None => {
                self.conns.push(Some(conn));
                self.conns.len() - 1
            }
        }
    }

    /// The stream of a live connection.
    pub(crate) fn stream_mut(&mut self, id: ConnId) -> Option<&mut S> {
        match self.conns.get_mut(id) {
            Some(Some(conn)) => Some(&mut conn.stream),
            _ => None,
        }
    }

    /// Forgets a connection the handler was never told about.
    pub(crate) fn remove(&mut self, id: ConnId) -> Option<S> {
        let conn = self.conns.get_mut(id)?.take()?;
        self.free.push(id);
        Some(conn.stream)
    }

    /// Takes every live connection out of the table (the loop is ending).
    #[cfg_attr(not(feature = "polling"), allow(dead_code))]
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = S> + '_ {
        self.free.clear();
        self.conns.drain(..).flatten().map(|conn| conn.stream)
    }

    /// Decides how the next poll waits: not at all while a connection still
    /// has input left over from its read budget or the handler has work,
    /// otherwise until the next tick.
    pub(crate) fn plan_poll<H: ShardHandler>(&mut self, handler: &mut H) -> PollPlan {
        let busy = self.readable.iter().any(|&c| self.read_pending(c));
        let timeout = until_next_timer(
            self.last_tick,
            self.tick,
            handler.next_deadline(),
            Instant::now(),
        );
        let parked = !busy && handler.prepare_to_park();
        PollPlan {
            timeout: if parked { timeout } else { Duration::ZERO },
            parked,
        }
    }

    /// Call right after the poll returned, before reporting its events.
    pub(crate) fn after_poll<H: ShardHandler>(&mut self, handler: &mut H, plan: &PollPlan) {
        if plan.parked {
            handler.unparked();
        }
        let conns = &self.conns;
        self.readable
            .retain(|&c| matches!(conns.get(c), Some(Some(conn)) if conn.read_pending));
    }

    /// A readiness event for connection `id` (ignored when it is closed).
    /// `readable` includes hang-up and error conditions: the read reports
    /// them. `read_closed`: the event said the input ended or the socket
    /// failed (only meaningful with [`ReadClosedEvents::Reported`]).
    pub(crate) fn on_readiness(
        &mut self,
        id: ConnId,
        readable: bool,
        writable: bool,
        read_closed: bool,
    ) {
        let Some(Some(conn)) = self.conns.get_mut(id) else {
            return;
        };
        conn.read_closed |= read_closed;
        if writable && conn.write_blocked {
            conn.write_blocked = false;
            self.dirty.push(id);
        }
        if readable {
            conn.read_pending = true;
            self.readable.push(id);
        }
    }

    /// The rest of the iteration after the events were reported: reads,
    /// inbox, tick, end of iteration, then writes and closes.
    /// `deregister` is called on a stream just before it is dropped.
    pub(crate) fn finish_iteration<H: ShardHandler>(
        &mut self,
        handler: &mut H,
        mut deregister: impl FnMut(&mut S),
    ) {
        self.readable.sort_unstable();
        self.readable.dedup();
        for &id in &self.readable {
            read_connection(
                id,
                handler,
                &mut self.conns,
                &mut self.buf,
                self.read_closed_events,
            );
        }
        handler.on_inbox();
        // The deadline first: the core converts its clock to an Instant
        // when asked, so `now` must not be older than that.
        let deadline = handler.next_deadline();
        let now = Instant::now();
        match tick_due(self.last_tick, self.tick, deadline, now) {
            TickDue::Regular => {
                self.last_tick = now;
                handler.on_tick(now);
            }
            TickDue::Deadline => handler.on_tick(now),
            TickDue::No => {}
        }
        handler.end_of_iteration();
        handler.take_events(&mut self.dirty, &mut self.closing);
        for id in self.closing.drain(..) {
            if let Some(Some(conn)) = self.conns.get_mut(id) {
                conn.closing = true;
                self.dirty.push(id);
            }
        }
        self.dirty.sort_unstable();
        self.dirty.dedup();
        for id in self.dirty.drain(..) {
            write_connection(
                id,
                handler,
                &mut self.conns,
                &mut self.free,
                &mut deregister,
            );
        }
    }

    fn read_pending(&self, id: ConnId) -> bool {
        matches!(self.conns.get(id), Some(Some(c)) if c.read_pending)
    }
}

/// Reads until `WouldBlock` or the per-iteration budget, feeding the core.
fn read_connection<S: Read, H: ShardHandler>(
    id: ConnId,
    handler: &mut H,
    conns: &mut [Option<Connection<S>>],
    buf: &mut [u8],
    read_closed_events: ReadClosedEvents,
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
                let drained = n < buf.len()
                    && read_closed_events == ReadClosedEvents::Reported
                    && !conn.read_closed;
                handler.on_read(id, &buf[..n]);
                if drained {
                    // A short read drained the socket; with edge-triggered
                    // epoll, data (or the end of input) arriving later
                    // raises a new event, so the read that would only
                    // return WouldBlock is skipped.
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
fn write_connection<S: Write, H: ShardHandler>(
    id: ConnId,
    handler: &mut H,
    conns: &mut [Option<Connection<S>>],
    free: &mut Vec<ConnId>,
    deregister: &mut impl FnMut(&mut S),
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
            deregister(&mut conn.stream);
        }
        free.push(id);
        handler.on_closed(id);
        return;
    }
    if drained && flushed_some {
        handler.on_output_flushed(id);
    }
}

#[cfg(test)]
mod tests;
