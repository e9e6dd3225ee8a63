//! The contract between a shard's sans-IO core and the I/O backend that
//! drives it, plus the backends themselves (each behind a Cargo feature).
//!
//! Data flow: a backend owns one shard thread's sockets and event loop. It
//! accepts connections, reads bytes and hands them to the [`ShardHandler`];
//! after every batch of events it asks the handler which connections have
//! output to write ("dirty") and which to close, writes, and sleeps until the
//! next readiness event, timer tick or [`Waker`] call. The handler never sees
//! a socket, so the same core runs on every backend and under deterministic
//! tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[cfg(all(feature = "glommio", target_os = "linux"))]
pub mod glommio_backend;
pub mod listen;
#[cfg(feature = "mio")]
pub mod mio_backend;
#[cfg(feature = "polling")]
pub mod polling_backend;
#[cfg(any(feature = "mio", feature = "polling"))]
mod readiness;
#[cfg(feature = "tls")]
pub mod tls;

/// A connection's identity inside one shard. Assigned by the backend, unique
/// among the shard's live connections (a closed id may be reused later).
pub type ConnId = usize;

/// What a backend needs from the shard core. Every call is non-blocking and
/// returns quickly; output is pulled by the backend afterwards.
pub trait ShardHandler {
    /// A new connection was accepted on this shard.
    fn on_accept(&mut self, conn: ConnId, peer: SocketAddr, local: SocketAddr);
    /// Bytes arrived on `conn`; an empty slice means the peer closed its
    /// sending side (the core closes `conn` once it owes no more replies).
    fn on_read(&mut self, conn: ConnId, bytes: &[u8]);
    /// The peer closed `conn` or it failed; the backend has dropped the socket.
    fn on_closed(&mut self, conn: ConnId);
    /// Every byte of `conn`'s output was written; the core may resume work it
    /// paused because the output was too large.
    fn on_output_flushed(&mut self, conn: ConnId);
    /// Called once per loop iteration: drain the cross-shard inbox.
    fn on_inbox(&mut self);
    /// The periodic timer (about every [`ShardHandler::tick_interval`]).
    fn on_tick(&mut self, now: Instant);
    /// End of a loop iteration: flush batched cross-shard messages and ring
    /// the targets' doorbells, once per target.
    fn end_of_iteration(&mut self);
    /// Moves the connections whose output grew since the last call into
    /// `dirty`, and those to close (after their output is written) into
    /// `closing`.
    fn take_events(&mut self, dirty: &mut Vec<ConnId>, closing: &mut Vec<ConnId>);
    /// The bytes waiting to be written on `conn` (empty when none).
    fn pending_output(&mut self, conn: ConnId) -> &[u8];
    /// `n` bytes of [`ShardHandler::pending_output`] were written.
    fn consume_output(&mut self, conn: ConnId, n: usize);
    /// The shard is about to sleep: returns false when it has work that must
    /// not wait for an event (the backend then polls without blocking).
    fn prepare_to_park(&mut self) -> bool;
    /// The shard woke up from a sleep that [`ShardHandler::prepare_to_park`]
    /// allowed.
    fn unparked(&mut self);
    /// The server is shutting down: the loop should return.
    fn stop_requested(&self) -> bool;
    /// How often [`ShardHandler::on_tick`] should run.
    fn tick_interval(&self) -> Duration {
        Duration::from_millis(100)
    }
    /// A moment before the next regular tick at which the core needs
    /// [`ShardHandler::on_tick`] (a blocked client's timeout); the backend
    /// sleeps no longer than that and runs the tick once it has passed.
    /// Asked once per loop iteration.
    fn next_deadline(&self) -> Option<Instant> {
        None
    }
}

/// Wakes a shard's event loop from another thread. Cheap to call; calls
/// that arrive while the shard is awake are harmless.
pub trait Waker: Send + Sync {
    fn wake(&self);
}

/// Errors of a backend: setting up listeners or the poller.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("could not bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the event poller failed: {0}")]
    Poller(#[source] std::io::Error),
}

/// A shard's event loop before it runs: created on the main thread so that
/// every shard's [`Waker`] can be handed to the others first, then moved to
/// the shard thread and run with the shard's handler.
pub trait ShardLoop: Send + Sized + 'static {
    /// Binds `listen` (SO_REUSEPORT, so every shard listens on the same
    /// addresses and the kernel spreads connections) and prepares the poller.
    fn bind(listen: &[SocketAddr]) -> Result<Self, TransportError>;
    /// The addresses actually bound (port 0 resolved).
    fn local_addrs(&self) -> Vec<SocketAddr>;
    /// A waker for this loop, to be given to other threads.
    fn waker(&self) -> Arc<dyn Waker>;
    /// Runs until [`ShardHandler::stop_requested`].
    fn run<H: ShardHandler>(self, handler: &mut H) -> Result<(), TransportError>;
}

/// Time until the next tick, given when the last one ran.
pub fn until_next_tick(last_tick: Instant, interval: Duration, now: Instant) -> Duration {
    interval.saturating_sub(now.saturating_duration_since(last_tick))
}

/// How long a loop may sleep: until the next tick or the handler's
/// deadline, whichever comes first.
pub fn until_next_timer(
    last_tick: Instant,
    interval: Duration,
    deadline: Option<Instant>,
    now: Instant,
) -> Duration {
    let tick = until_next_tick(last_tick, interval, now);
    match deadline {
        Some(at) => tick.min(at.saturating_duration_since(now)),
        None => tick,
    }
}

/// Whether the tick is due at `now`: the regular one (the interval has
/// passed: the caller restarts the interval) or an early one for the
/// handler's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickDue {
    No,
    Regular,
    Deadline,
}

pub fn tick_due(
    last_tick: Instant,
    interval: Duration,
    deadline: Option<Instant>,
    now: Instant,
) -> TickDue {
    if now.saturating_duration_since(last_tick) >= interval {
        TickDue::Regular
    } else if deadline.is_some_and(|at| at <= now) {
        TickDue::Deadline
    } else {
        TickDue::No
    }
}

#[cfg(test)]
mod timer_tests {
    use super::*;

    #[test]
    fn a_deadline_shortens_the_sleep_and_makes_the_tick_due_early() {
        let start = Instant::now();
        let interval = Duration::from_millis(100);
        let soon = Some(start + Duration::from_millis(30));
        assert_eq!(until_next_timer(start, interval, None, start), interval);
        assert_eq!(
            until_next_timer(start, interval, soon, start),
            Duration::from_millis(30)
        );
        let later = start + Duration::from_millis(500);
        assert_eq!(
            until_next_timer(start, interval, Some(later), start),
            interval
        );
        assert_eq!(tick_due(start, interval, soon, start), TickDue::No);
        let at_deadline = start + Duration::from_millis(30);
        assert_eq!(
            tick_due(start, interval, soon, at_deadline),
            TickDue::Deadline
        );
        let at_tick = start + interval;
        assert_eq!(tick_due(start, interval, soon, at_tick), TickDue::Regular);
        assert_eq!(tick_due(start, interval, None, at_deadline), TickDue::No);
    }
}
