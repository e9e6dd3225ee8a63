//! The future that runs one glommio shard: it owns the connections and
//! calls into the core, as the single task of the shard's executor.
//!
//! Data flow, one iteration per poll: accept on every listener whose accept
//! completed → read each connection whose socket woke (or whose read budget
//! ran out last time) → drain the inbox → run the tick when due → end the
//! iteration (flush cross-shard messages) → write every dirty connection
//! once → close what the core asked to close. Then either more work is
//! known (yield to the executor, which flushes io_uring and polls again) or
//! the loop parks: it arms the tick timer, asks the core, and returns
//! `Pending` until a socket, the timer or the [`Doorbell`] wakes the task.
//!
//! One future rather than a task per connection: the handler is borrowed
//! (`&mut H`, not `'static`), and running every connection's work in one
//! place keeps the iteration boundary (`end_of_iteration`, one doorbell per
//! target per iteration) identical to the readiness backends.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use glommio::net::{TcpListener, TcpStream};
use glommio::timer::Timer;

use super::connection::{read_connection, write_connection, ConnTable};
use super::wake::{Doorbell, ReadyQueue};
use crate::{tick_due, until_next_timer, ConnId, ShardHandler, TickDue, TransportError};

/// Tokens below this are listeners; connection `id` has token
/// `FIRST_CONN_TOKEN + id`.
const FIRST_CONN_TOKEN: usize = 1 << 20;
/// Bytes read from a socket per call.
const READ_CHUNK: usize = 64 * 1024;
/// After an accept error (EMFILE and friends), accepting pauses this long
/// instead of spinning on the error.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);
/// Longest timer armed: a longer tick interval (even `Duration::MAX`) means
/// "practically never", without overflowing `Instant` arithmetic.
const LONGEST_TIMER: Duration = Duration::from_secs(24 * 60 * 60);

type AcceptFuture<'a> = Pin<Box<dyn Future<Output = glommio::Result<TcpStream, ()>> + 'a>>;

/// One listener and its accept in progress.
struct Acceptor<'a> {
    listener: &'a TcpListener,
    /// The accept in progress (`None`: start one when next polled).
    accept: Option<AcceptFuture<'a>>,
    /// glommio's accept adds a waker each time it is polled, so it is
    /// polled only when its own waker fired (or just after it started).
    ready: bool,
    waker: std::task::Waker,
}

pub(super) struct Driver<'a, H: ShardHandler> {
    handler: &'a mut H,
    acceptors: Vec<Acceptor<'a>>,
    accept_paused_until: Option<Instant>,
    conns: ConnTable,
    ready: Arc<ReadyQueue>,
    doorbell: Arc<Doorbell>,
    timer: Timer,
    tick: Duration,
    last_tick: Instant,
    /// The core allowed a sleep and the task returned `Pending` for it.
    parked: bool,
    buf: Vec<u8>,
    woken: Vec<usize>,
    readable: Vec<ConnId>,
    dirty: Vec<ConnId>,
    closing: Vec<ConnId>,
}

impl<'a, H: ShardHandler> Driver<'a, H> {
    /// Must be called inside the glommio executor (the timer registers with
    /// its reactor).
    pub(super) fn new(
        handler: &'a mut H,
        listeners: &'a [TcpListener],
        doorbell: Arc<Doorbell>,
    ) -> Self {
        let ready = ReadyQueue::new();
        let acceptors = listeners
            .iter()
            .enumerate()
            .map(|(index, listener)| Acceptor {
                listener,
                accept: None,
                ready: true,
                waker: ready.waker(index),
            })
            .collect();
        let tick = handler.tick_interval().min(LONGEST_TIMER);
        Driver {
            handler,
            acceptors,
            accept_paused_until: None,
            conns: ConnTable::default(),
            ready,
            doorbell,
            timer: Timer::new(LONGEST_TIMER),
            tick,
            last_tick: Instant::now(),
            parked: false,
            buf: vec![0u8; READ_CHUNK],
            woken: Vec::new(),
            readable: Vec::new(),
            dirty: Vec::new(),
            closing: Vec::new(),
        }
    }

    /// One loop iteration (see the module comment).
    fn iterate(&mut self) {
        self.doorbell.take_pending();
        self.ready.take(&mut self.woken);
        for token in self.woken.drain(..) {
            if token < FIRST_CONN_TOKEN {
                if let Some(acceptor) = self.acceptors.get_mut(token) {
                    acceptor.ready = true;
                }
                continue;
            }
            let id = token - FIRST_CONN_TOKEN;
            if let Some(conn) = self.conns.get_mut(id) {
                if conn.write_blocked {
                    conn.write_blocked = false;
                    self.dirty.push(id);
                }
                self.readable.push(id);
            }
        }
        self.accept_all();
        self.readable.sort_unstable();
        self.readable.dedup();
        for &id in &self.readable {
            read_connection(id, self.handler, &mut self.conns, &mut self.buf);
        }
        let conns = &self.conns;
        self.readable.retain(|&id| conns.read_pending(id));

        self.handler.on_inbox();
        // The deadline first: the core converts its clock to an Instant
        // when asked, so `now` must not be older than that.
        let deadline = self.handler.next_deadline();
        let now = Instant::now();
        match tick_due(self.last_tick, self.tick, deadline, now) {
            TickDue::Regular => {
                self.last_tick = now;
                self.handler.on_tick(now);
            }
            TickDue::Deadline => self.handler.on_tick(now),
            TickDue::No => {}
        }
        self.handler.end_of_iteration();
        self.handler.take_events(&mut self.dirty, &mut self.closing);
        for id in self.closing.drain(..) {
            if let Some(conn) = self.conns.get_mut(id) {
                conn.closing = true;
                self.dirty.push(id);
            }
        }
        self.dirty.sort_unstable();
        self.dirty.dedup();
        for id in self.dirty.drain(..) {
            write_connection(id, self.handler, &mut self.conns);
        }
    }

    /// Takes every connection the listeners have ready.
    fn accept_all(&mut self) {
        if let Some(until) = self.accept_paused_until {
            if Instant::now() < until {
                return;
            }
            self.accept_paused_until = None;
            for acceptor in &mut self.acceptors {
                acceptor.ready = true;
            }
        }
        for index in 0..self.acceptors.len() {
            loop {
                let acceptor = &mut self.acceptors[index];
                if !acceptor.ready {
                    break;
                }
                let listener = acceptor.listener;
                let accept = acceptor
                    .accept
                    .get_or_insert_with(|| Box::pin(listener.accept()));
                let mut cx = Context::from_waker(&acceptor.waker);
                match accept.as_mut().poll(&mut cx) {
                    Poll::Pending => {
                        acceptor.ready = false;
                        break;
                    }
                    Poll::Ready(Ok(stream)) => {
                        acceptor.accept = None;
                        self.register(stream);
                    }
                    Poll::Ready(Err(err)) => {
                        // EMFILE and friends: retry a little later.
                        acceptor.accept = None;
                        log::warn!("accept failed: {err}");
                        self.accept_paused_until = Some(Instant::now() + ACCEPT_RETRY_DELAY);
                        return;
                    }
                }
            }
        }
    }

    fn register(&mut self, stream: TcpStream) {
        let (Ok(peer), Ok(local)) = (stream.peer_addr(), stream.local_addr()) else {
            // Already reset by the peer: nothing to serve.
            return;
        };
        let _ = stream.set_nodelay(true);
        set_cloexec(&stream);
        let id = self.conns.next_id();
        let waker = self.ready.waker(FIRST_CONN_TOKEN + id);
        let id = self.conns.insert(stream, waker);
        self.handler.on_accept(id, peer, local);
        // Bytes may already be waiting; glommio's poll armed at creation
        // has no waker yet, so read now (which also registers the waker).
        self.readable.push(id);
    }

    /// The timer deadline while parked: the next tick or the core's own
    /// deadline, or the end of an accept pause if sooner.
    fn until_next_deadline(&self, now: Instant) -> Duration {
        let mut wait =
            until_next_timer(self.last_tick, self.tick, self.handler.next_deadline(), now);
        if let Some(until) = self.accept_paused_until {
            wait = wait.min(until.saturating_duration_since(now));
        }
        wait
    }

    /// Whether work is known that must not wait for an event.
    fn busy(&self) -> bool {
        !self.readable.is_empty() || !self.ready.is_empty()
    }

    fn finish(&mut self) {
        self.doorbell.clear_task();
        self.ready.clear_task();
    }
}

/// Accepted sockets do not carry close-on-exec (glommio accepts with plain
/// `accept`); set it so a spawned child never inherits a client's socket.
fn set_cloexec(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on a descriptor owned by `stream`, which is alive.
    unsafe {
        libc::fcntl(stream.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
    }
}

impl<H: ShardHandler> Future for Driver<'_, H> {
    type Output = Result<(), TransportError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.parked {
            this.parked = false;
            this.doorbell.unpark();
            this.handler.unparked();
        }
        if this.handler.stop_requested() {
            this.finish();
            return Poll::Ready(Ok(()));
        }
        this.ready.set_task(cx.waker());
        this.doorbell.set_task(cx.waker());

        this.iterate();
        // The core may have asked to stop while handling this iteration
        // (a shutdown command): return rather than sleep.
        if this.handler.stop_requested() {
            this.finish();
            return Poll::Ready(Ok(()));
        }

        if this.busy() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let now = Instant::now();
        this.timer.reset(this.until_next_deadline(now));
        if Pin::new(&mut this.timer).poll(cx).is_ready() {
            // The tick (or the accept retry) is due already.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if !this.handler.prepare_to_park() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if !this.doorbell.park() {
            // Woken while deciding to sleep: the core has inbox work.
            this.handler.unparked();
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        this.parked = true;
        Poll::Pending
    }
}

impl<H: ShardHandler> Drop for Driver<'_, H> {
    fn drop(&mut self) {
        self.finish();
    }
}
