//! The connections of a glommio shard loop and the two things done to
//! them: reading into the core and writing the core's output.
//!
//! Data flow: every connection's glommio socket is polled with the
//! connection's own waker. glommio first tries a plain non-blocking
//! `recv`/`send`; when that would block it arms an io_uring poll that wakes
//! the waker, which queues the connection's token for the loop. Reading runs
//! until the socket would block (or a per-iteration budget runs out) and
//! hands every chunk to [`ShardHandler::on_read`]; writing sends the core's
//! pending output until it is drained or the socket is full.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker as TaskWaker};

use futures_io::{AsyncRead, AsyncWrite};
use glommio::net::TcpStream;

use crate::{ConnId, ShardHandler};

/// Bytes read from one connection per iteration before moving on, so one
/// fast sender cannot starve the others (it is read again next iteration).
const READ_BUDGET_PER_ITERATION: usize = 1024 * 1024;

pub(super) struct Connection {
    stream: TcpStream,
    /// The waker glommio's polls on this socket wake (reports the token).
    waker: TaskWaker,
    /// Output remained after the last write: wait until the socket is
    /// writable (its waker fires) before writing again.
    pub(super) write_blocked: bool,
    /// The core asked to close once the output is written.
    pub(super) closing: bool,
    /// Read more on the next iteration (the read budget ran out).
    pub(super) read_pending: bool,
    /// The peer shut down its sending side (or the socket failed).
    eof: bool,
}

/// The shard's connections by id; ids of closed connections are reused.
#[derive(Default)]
pub(super) struct ConnTable {
    slots: Vec<Option<Connection>>,
    free: Vec<ConnId>,
}

impl ConnTable {
    /// The id the next inserted connection gets (its waker is made before
    /// the connection is stored).
    pub(super) fn next_id(&mut self) -> ConnId {
        if let Some(&id) = self.free.last() {
            return id;
        }
        self.slots.push(None);
        self.free.push(self.slots.len() - 1);
        self.slots.len() - 1
    }

    /// Stores a connection under the id [`ConnTable::next_id`] returned.
    pub(super) fn insert(&mut self, stream: TcpStream, waker: TaskWaker) -> ConnId {
        let id = self.next_id();
        self.free.pop();
        self.slots[id] = Some(Connection {
            stream,
            waker,
            write_blocked: false,
            closing: false,
            read_pending: false,
            eof: false,
        });
        id
    }

    pub(super) fn get_mut(&mut self, id: ConnId) -> Option<&mut Connection> {
        self.slots.get_mut(id).and_then(Option::as_mut)
    }

    pub(super) fn read_pending(&self, id: ConnId) -> bool {
        matches!(self.slots.get(id), Some(Some(conn)) if conn.read_pending)
    }

    /// Drops the connection (closing its socket) and frees its id.
    fn remove(&mut self, id: ConnId) {
        if let Some(slot) = self.slots.get_mut(id) {
            if let Some(conn) = slot.take() {
                // The FIN goes out now even if an io_uring poll still holds
                // a reference to the socket until glommio cancels it.
                let _ = conn.shutdown_write();
                self.free.push(id);
            }
        }
    }
}

impl Connection {
    fn shutdown_write(&self) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor belongs to `self.stream`, which is alive.
        let rc = unsafe { libc::shutdown(self.stream.as_raw_fd(), libc::SHUT_WR) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

/// Reads `id` until the socket would block or the budget runs out, feeding
/// the core. Returning leaves a poll armed (glommio arms one whenever a
/// read would block), so the connection's waker fires when more arrives.
pub(super) fn read_connection<H: ShardHandler>(
    id: ConnId,
    handler: &mut H,
    conns: &mut ConnTable,
    buf: &mut [u8],
) {
    let Some(conn) = conns.get_mut(id) else {
        return;
    };
    let mut budget = READ_BUDGET_PER_ITERATION;
    conn.read_pending = false;
    loop {
        if conn.closing || conn.eof {
            return;
        }
        if budget == 0 {
            conn.read_pending = true;
            return;
        }
        let mut cx = Context::from_waker(&conn.waker);
        match Pin::new(&mut conn.stream).poll_read(&mut cx, buf) {
            Poll::Pending => return,
            Poll::Ready(Ok(0)) => {
                // The peer closed its side; the core decides when to close
                // (after the replies it still owes).
                conn.eof = true;
                handler.on_read(id, &[]);
                return;
            }
            Poll::Ready(Ok(n)) => {
                budget = budget.saturating_sub(n);
                handler.on_read(id, &buf[..n]);
            }
            Poll::Ready(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {}
            Poll::Ready(Err(_)) => {
                // A reset connection: treated as end of input; the write
                // that follows fails and closes it.
                conn.eof = true;
                handler.on_read(id, &[]);
                return;
            }
        }
    }
}

/// Writes the core's pending output for `id`; closes the connection when it
/// is closing and everything was written (or writing failed).
pub(super) fn write_connection<H: ShardHandler>(
    id: ConnId,
    handler: &mut H,
    conns: &mut ConnTable,
) {
    let Some(conn) = conns.get_mut(id) else {
        return;
    };
    let mut failed = false;
    let mut flushed_some = false;
    while !conn.write_blocked {
        let out = handler.pending_output(id);
        if out.is_empty() {
            break;
        }
        let mut cx = Context::from_waker(&conn.waker);
        match Pin::new(&mut conn.stream).poll_write(&mut cx, out) {
            Poll::Ready(Ok(0)) => {
                failed = true;
                break;
            }
            Poll::Ready(Ok(n)) => {
                handler.consume_output(id, n);
                flushed_some = true;
            }
            // glommio armed a poll for writability with the waker.
            Poll::Pending => conn.write_blocked = true,
            Poll::Ready(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {}
            Poll::Ready(Err(_)) => {
                failed = true;
                break;
            }
        }
    }
    let closing = conn.closing;
    let drained = handler.pending_output(id).is_empty();
    if failed || (closing && drained) {
        conns.remove(id);
        handler.on_closed(id);
        return;
    }
    if drained && flushed_some {
        handler.on_output_flushed(id);
    }
}
