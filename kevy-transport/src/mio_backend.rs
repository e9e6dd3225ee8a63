//! The mio backend: one readiness loop per shard thread (epoll on Linux).
//!
//! Each iteration: poll → accept every pending connection → read each
//! readable connection until `WouldBlock`, handing the bytes to the core →
//! drain the inbox → run the tick when due → end the iteration (flush
//! cross-shard messages) → write every dirty connection once → close what
//! the core asked to close. Sockets are registered edge-triggered for both
//! directions once, so no re-registration happens on the hot path. This
//! file polls, accepts and registers; the connection table and the rest of
//! the iteration are shared with the other readiness backends
//! (`readiness.rs`).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use crate::listen::bind_reuseport;
use crate::readiness::{ReadClosedEvents, ReadinessState};
use crate::{ShardHandler, ShardLoop, TransportError, Waker};

/// Tokens below this are listeners and the waker; connections start here.
const FIRST_CONN_TOKEN: usize = 1 << 20;
const WAKER_TOKEN: Token = Token(FIRST_CONN_TOKEN - 1);
/// Readiness events taken per poll.
const EVENTS_PER_POLL: usize = 1024;

struct MioWaker(mio::Waker);

impl Waker for MioWaker {
    fn wake(&self) {
        if let Err(err) = self.0.wake() {
            log::warn!("waking a shard failed: {err}");
        }
    }
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
        let mut state = ReadinessState::new(handler.tick_interval(), ReadClosedEvents::Reported);
        while !handler.stop_requested() {
            let plan = state.plan_poll(handler);
            match self.poll.poll(&mut events, Some(plan.timeout)) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(TransportError::Poller(err)),
            }
            state.after_poll(handler, &plan);
            for event in events.iter() {
                let token = event.token();
                if token == WAKER_TOKEN {
                    continue;
                }
                if token.0 < self.listeners.len() {
                    self.accept_all(token.0, handler, &mut state);
                    continue;
                }
                let read_closed = event.is_read_closed() || event.is_error();
                state.on_readiness(
                    token.0 - FIRST_CONN_TOKEN,
                    event.is_readable() || read_closed,
                    event.is_writable(),
                    read_closed,
                );
            }
            let registry = self.poll.registry();
            state.finish_iteration(handler, |stream| {
                let _ = registry.deregister(stream);
            });
        }
        Ok(())
    }
}

impl MioLoop {
    fn accept_all<H: ShardHandler>(
        &mut self,
        listener_index: usize,
        handler: &mut H,
        state: &mut ReadinessState<TcpStream>,
    ) {
        let listener = &self.listeners[listener_index];
        let registry = self.poll.registry();
        state.accept_all(
            handler,
            || {
                let (stream, peer) = listener.accept()?;
                let _ = stream.set_nodelay(true);
                Ok(stream.local_addr().ok().map(|local| (stream, peer, local)))
            },
            |stream, id| {
                let token = Token(FIRST_CONN_TOKEN + id);
                registry.register(stream, token, Interest::READABLE | Interest::WRITABLE)
            },
        );
    }
}
