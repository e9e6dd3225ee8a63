//! The polling backend: one readiness loop per shard thread on the
//! `polling` crate (epoll on Linux, kqueue on the BSDs and macOS).
//!
//! It runs the same iteration as the mio backend: wait → accept every
//! pending connection → report readable/writable edges → read, inbox, tick,
//! end of iteration, write dirty connections, close (the shared half in
//! `readiness.rs`). Sockets are std non-blocking sockets registered once
//! with `PollMode::Edge` for both directions; the waker is
//! `Poller::notify`. `polling` requires every registered source to be
//! deleted from the poller before it is closed, so every close path here
//! calls `delete` first, including the end of `run` and the loop's drop.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::num::NonZeroUsize;
use std::sync::Arc;

use polling::{Event, Events, PollMode, Poller};

use crate::listen::bind_reuseport;
use crate::readiness::{ReadClosedEvents, ReadinessState};
use crate::{ShardHandler, ShardLoop, TransportError, Waker};

/// Keys below this are listeners; connections start here. (`polling`
/// reserves `usize::MAX` for its own notifier.)
const FIRST_CONN_KEY: usize = 1 << 20;
/// Readiness events taken per wait.
const EVENTS_PER_POLL: NonZeroUsize = match NonZeroUsize::new(1024) {
    Some(n) => n,
    None => panic!("the events capacity is a non-zero constant"),
};

struct PollingWaker(Arc<Poller>);

impl Waker for PollingWaker {
    fn wake(&self) {
        if let Err(err) = self.0.notify() {
            log::warn!("waking a shard failed: {err}");
        }
    }
}

/// One shard's event loop on the `polling` crate.
pub struct PollingLoop {
    poller: Arc<Poller>,
    waker: Arc<PollingWaker>,
    /// Registered with the poller: deleted in `Drop` before they close.
    listeners: Vec<TcpListener>,
}

impl ShardLoop for PollingLoop {
    fn bind(listen: &[SocketAddr]) -> Result<Self, TransportError> {
        let poller = Arc::new(Poller::new().map_err(TransportError::Poller)?);
        if !poller.supports_edge() {
            return Err(TransportError::Poller(io::Error::new(
                io::ErrorKind::Unsupported,
                "the platform's poller has no edge-triggered mode",
            )));
        }
        let mut shard_loop = PollingLoop {
            waker: Arc::new(PollingWaker(poller.clone())),
            poller,
            listeners: Vec::with_capacity(listen.len()),
        };
        for (index, addr) in listen.iter().enumerate() {
            let listener = bind_reuseport(*addr)?;
            // SAFETY: the listener is stored in `shard_loop.listeners` right
            // after a successful add, and `Drop` deletes every listener from
            // the poller before the vector drops them.
            unsafe {
                shard_loop
                    .poller
                    .add_with_mode(&listener, Event::readable(index), PollMode::Edge)
            }
            .map_err(TransportError::Poller)?;
            shard_loop.listeners.push(listener);
        }
        Ok(shard_loop)
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

    fn run<H: ShardHandler>(self, handler: &mut H) -> Result<(), TransportError> {
        let mut events = Events::with_capacity(EVENTS_PER_POLL);
        let mut conns = RegisteredConns {
            poller: &self.poller,
            // polling registers no EPOLLRDHUP: its events cannot say that
            // the input ended along with the data they report.
            state: ReadinessState::new(handler.tick_interval(), ReadClosedEvents::NotReported),
        };
        while !handler.stop_requested() {
            let plan = conns.state.plan_poll(handler);
            // `wait` appends: last iteration's events must go first.
            events.clear();
            // Interrupted waits are retried inside `polling`.
            self.poller
                .wait(&mut events, Some(plan.timeout))
                .map_err(TransportError::Poller)?;
            conns.state.after_poll(handler, &plan);
            // The notifier's own event is filtered out by `Events::iter`.
            for event in events.iter() {
                if event.key < self.listeners.len() {
                    self.accept_all(event.key, handler, &mut conns.state);
                    continue;
                }
                // `readable` covers hang-up and errors (EPOLLHUP/ERR), so the
                // read sees them, as with mio's read-closed and error flags.
                conns.state.on_readiness(
                    event.key - FIRST_CONN_KEY,
                    event.readable,
                    event.writable,
                    false,
                );
            }
            let poller = &self.poller;
            conns.state.finish_iteration(handler, |stream| {
                let _ = poller.delete(&*stream);
            });
        }
        Ok(())
    }
}

impl PollingLoop {
    fn accept_all<H: ShardHandler>(
        &self,
        listener_index: usize,
        handler: &mut H,
        state: &mut ReadinessState<TcpStream>,
    ) {
        let listener = &self.listeners[listener_index];
        let poller = &self.poller;
        state.accept_all(
            handler,
            || {
                let (stream, peer) = listener.accept()?;
                // std's accept does not inherit O_NONBLOCK from the listener.
                if let Err(err) = stream.set_nonblocking(true) {
                    log::warn!("making a connection non-blocking failed: {err}");
                    return Ok(None);
                }
                let _ = stream.set_nodelay(true);
                Ok(stream.local_addr().ok().map(|local| (stream, peer, local)))
            },
            |stream, id| {
                // SAFETY: the stream lives in the connection table until a
                // close path takes it out; every one of them (the
                // `finish_iteration` callback, `RegisteredConns::drop`)
                // deletes it from the poller first. On failure it is not
                // registered and may drop as is.
                unsafe {
                    poller.add_with_mode(&*stream, Event::all(FIRST_CONN_KEY + id), PollMode::Edge)
                }
            },
        );
    }
}

impl Drop for PollingLoop {
    fn drop(&mut self) {
        for listener in &self.listeners {
            let _ = self.poller.delete(listener);
        }
    }
}

/// The connection table of a running loop; deletes every connection still
/// open from the poller before it closes, however `run` ends (stop, poller
/// error or a panic in the handler).
struct RegisteredConns<'p> {
    poller: &'p Poller,
    state: ReadinessState<TcpStream>,
}

impl Drop for RegisteredConns<'_> {
    fn drop(&mut self) {
        for stream in self.state.drain() {
            let _ = self.poller.delete(&stream);
        }
    }
}
