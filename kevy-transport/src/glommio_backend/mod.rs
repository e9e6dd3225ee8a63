//! The glommio backend (Linux, io_uring): one glommio executor per shard
//! thread, running one future that owns the shard's sockets and calls the
//! core.
//!
//! Data flow: [`GlommioLoop::bind`] binds the SO_REUSEPORT listeners on the
//! main thread; [`ShardLoop::run`] builds the executor on the shard thread
//! (io_uring rings, locked memory), turns the listeners into glommio ones
//! and runs the driver (see `driver.rs`) until the core asks to stop.
//! Sockets are read and written with a plain non-blocking syscall; after a
//! read that did not fill the buffer (or a write that would block) glommio
//! arms an io_uring poll, whose completion wakes the driver for that socket
//! alone. Other shards wake the loop through its [`Doorbell`], which costs
//! two atomic operations while the shard is awake and a glommio foreign
//! wake (an eventfd write) only when it sleeps.
//!
//! Cost: per request this loop makes the same recv/send calls as the
//! readiness backends; what it pays on top is glommio's executor. Every
//! executor iteration cancels and re-submits its two preemption timeouts
//! (on two rings), and every sleep adds a `membarrier`, a poll linking the
//! rings and, while a glommio timer is armed, a timeout for it: about ten
//! to thirteen `io_uring_enter` calls per sleep where the readiness
//! backends make one `epoll_wait`. And a socket poll that completes while
//! the thread runs is finished by task work that interrupts it with an IPI
//! (glommio does not set up its rings with `IORING_SETUP_COOP_TASKRUN`),
//! where an epoll readiness event only queues. glommio exposes no setting
//! for any of this; `spin_before_park` avoids sleeps, but on two cores
//! shared with the clients it saved no CPU and cost throughput, so it is
//! left off.
//!
//! Requirements: io_uring enabled in the kernel (`kernel.io_uring_disabled`
//! = 0) and a locked-memory limit (`ulimit -l`) of at least 512 KiB; glommio
//! registers [`GlommioConfig::io_memory`] bytes with each of its three rings
//! (it falls back to unregistered buffers, with a warning, when the limit is
//! too small). A failed setup is returned as [`TransportError::Poller`].

mod connection;
mod driver;
mod wake;

use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::sync::Arc;

use glommio::net::TcpListener;
use glommio::{LocalExecutorBuilder, Placement};

pub use self::wake::Doorbell;
use crate::listen::bind_reuseport;
use crate::{ShardHandler, ShardLoop, TransportError, Waker};

/// Settings of the glommio executor behind a [`GlommioLoop`].
#[derive(Clone, Debug)]
pub struct GlommioConfig {
    /// Bytes glommio reserves (and registers with io_uring, as locked
    /// memory, once per ring) for its own I/O buffers. Sockets are read
    /// into the loop's own buffer, so none is needed: the default is
    /// glommio's minimum (64 KiB), where glommio's own default (10 MiB,
    /// three registrations) exceeds common `ulimit -l` settings.
    pub io_memory: usize,
    /// Entries of each io_uring submission queue.
    pub ring_depth: usize,
}

impl Default for GlommioConfig {
    fn default() -> Self {
        GlommioConfig {
            io_memory: 64 * 1024,
            ring_depth: 128,
        }
    }
}

/// One shard's glommio event loop, before it runs.
pub struct GlommioLoop {
    listeners: Vec<StdTcpListener>,
    doorbell: Arc<Doorbell>,
    config: GlommioConfig,
}

impl GlommioLoop {
    /// Replaces the executor settings (the default is
    /// [`GlommioConfig::default`]).
    pub fn with_config(mut self, config: GlommioConfig) -> Self {
        self.config = config;
        self
    }
}

impl ShardLoop for GlommioLoop {
    fn bind(listen: &[SocketAddr]) -> Result<Self, TransportError> {
        let listeners = listen
            .iter()
            .map(|addr| bind_reuseport(*addr))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GlommioLoop {
            listeners,
            doorbell: Arc::new(Doorbell::new()),
            config: GlommioConfig::default(),
        })
    }

    fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    fn waker(&self) -> Arc<dyn Waker> {
        self.doorbell.clone()
    }

    fn run<H: ShardHandler>(self, handler: &mut H) -> Result<(), TransportError> {
        let GlommioLoop {
            listeners,
            doorbell,
            config,
        } = self;
        let executor = LocalExecutorBuilder::new(Placement::Unbound)
            .io_memory(config.io_memory)
            .ring_depth(config.ring_depth)
            .make()
            .map_err(|err| setup_error(&config, err))?;
        // Kept to shut the listeners down at the end (glommio's listener
        // does not expose its descriptor).
        let listener_fds: Vec<i32> = listeners.iter().map(AsRawFd::as_raw_fd).collect();
        executor.run(async move {
            let listeners = listeners
                .into_iter()
                .map(into_glommio_listener)
                .collect::<Result<Vec<_>, _>>()
                .map_err(TransportError::Poller)?;
            let result = driver::Driver::new(handler, &listeners, doorbell).await;
            // An io_uring accept still queued keeps its listener open in the
            // kernel until the ring is torn down, which happens a moment
            // after the process (or thread) is gone: the port would still
            // take connections after stop. Shutting the listeners down
            // ends those accepts and the listening now.
            for &fd in &listener_fds {
                // SAFETY: the descriptor belongs to a listener still alive
                // here (`listeners` owns it); shutdown does not close it.
                unsafe {
                    libc::shutdown(fd, libc::SHUT_RDWR);
                }
            }
            drop(listeners);
            result
        })
    }
}

/// Hands a bound listener to glommio (on the executor's thread: glommio
/// ties it to the thread's reactor).
fn into_glommio_listener(listener: StdTcpListener) -> io::Result<TcpListener> {
    // glommio accepts with a non-blocking syscall first and then with an
    // io_uring accept, which must wait for a connection rather than fail
    // with EAGAIN: that needs a blocking socket.
    listener.set_nonblocking(false)?;
    // SAFETY: the descriptor comes from `into_raw_fd`, so it is open and
    // owned by nobody else; glommio's listener takes ownership of it.
    Ok(unsafe { TcpListener::from_raw_fd(listener.into_raw_fd()) })
}

fn setup_error<T>(config: &GlommioConfig, err: glommio::GlommioError<T>) -> TransportError {
    TransportError::Poller(io::Error::other(format!(
        "could not start the glommio executor (io_uring with {} bytes of I/O memory; \
         check that io_uring is enabled and `ulimit -l` is at least 512 KiB): {err}",
        config.io_memory
    )))
}
