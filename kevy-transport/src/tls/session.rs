//! One TLS connection between the socket and the shard core: ciphertext in,
//! plaintext to the inner handler; the inner handler's output out, TLS
//! records to the socket.
//!
//! Reading: the backend's bytes are fed to rustls one record batch at a time
//! (`read_tls` takes at most a record's worth), each batch is processed and
//! the plaintext it yields is handed to the inner handler straight from
//! rustls's buffer (no extra copy). Writing: when the backend asks for output
//! and the previous records were all written, up to [`OUTPUT_CHUNK`] bytes of
//! the inner handler's output are encrypted, so a multi-megabyte reply never
//! exists twice in memory and the inner handler's own output limits keep
//! working; the inner handler is told its bytes were consumed as soon as
//! rustls took them.
//!
//! Closing: when the inner handler asks to close, its remaining output is
//! encrypted, then a `close_notify` alert, then the backend closes. A TLS
//! failure (handshake or later) sends rustls's alert and closes the
//! connection without any more of the inner handler's output.

use std::io::{BufRead, Write};
use std::net::SocketAddr;

use rustls::ServerConnection;

use crate::{ConnId, ShardHandler};

/// Bytes of TLS records prepared per batch for the backend to write: enough
/// for few large writes, small enough that a big reply is encrypted as it
/// drains instead of all at once.
pub(crate) const OUTPUT_CHUNK: usize = 64 * 1024;
/// A drained output buffer larger than this is freed rather than kept, so
/// idle connections that once sent a large reply hold no large buffer.
const KEPT_OUTPUT_CAPACITY: usize = 16 * 1024 + 256;

/// Where a TLS connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The handshake is running; the inner handler's output waits.
    Handshaking,
    /// Application data flows both ways.
    Established,
    /// TLS failed: only rustls's alert is still sent, then the connection
    /// closes.
    Failed,
}

/// What a batch of input did, for the wrapper to act on.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ReadOutcome {
    /// Records are waiting to be written (handshake replies, alerts,
    /// session tickets) or the handshake just completed and the inner
    /// handler's output may now flow: the connection is dirty.
    pub wants_write: bool,
    /// TLS failed; the error text for the log. The connection must close.
    pub failure: Option<String>,
    /// The failure happened during the handshake.
    pub during_handshake: bool,
}

pub(crate) struct TlsSession {
    tls: ServerConnection,
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    pub(crate) phase: Phase,
    /// TLS records prepared for the backend; `out[out_pos..]` is unwritten.
    out: Vec<u8>,
    out_pos: usize,
    /// The inner handler asked to close: `close_notify` follows its output.
    pub(crate) inner_closing: bool,
    close_notify_queued: bool,
    /// The inner handler was told the peer finished sending (TCP EOF or
    /// `close_notify`); later input is ignored.
    pub(crate) eof_forwarded: bool,
}

impl TlsSession {
    pub(crate) fn new(tls: ServerConnection, peer: SocketAddr, local: SocketAddr) -> Self {
        TlsSession {
            tls,
            peer,
            local,
            phase: Phase::Handshaking,
            out: Vec::new(),
            out_pos: 0,
            inner_closing: false,
            close_notify_queued: false,
            eof_forwarded: false,
        }
    }

    /// Feeds ciphertext from the socket; plaintext goes to `inner.on_read`.
    /// An empty `bytes` is the peer's TCP EOF.
    pub(crate) fn on_ciphertext<H: ShardHandler>(
        &mut self,
        conn: ConnId,
        bytes: &[u8],
        inner: &mut H,
    ) -> ReadOutcome {
        let mut outcome = ReadOutcome::default();
        if self.phase == Phase::Failed || self.eof_forwarded {
            return outcome;
        }
        if bytes.is_empty() {
            if self.phase == Phase::Handshaking {
                return self.fail("connection closed during the TLS handshake".into());
            }
            self.forward_eof(conn, inner);
            return outcome;
        }
        let mut input = bytes;
        while !input.is_empty() {
            match self.tls.read_tls(&mut input) {
                // `close_notify` was received: nothing after it is read.
                Ok(0) => break,
                Ok(_) => {}
                Err(err) => return self.fail(err.to_string()),
            }
            let peer_closed = match self.tls.process_new_packets() {
                Ok(state) => state.peer_has_closed(),
                Err(err) => return self.fail(err.to_string()),
            };
            if self.phase == Phase::Handshaking && !self.tls.is_handshaking() {
                self.phase = Phase::Established;
                outcome.wants_write = true;
            }
            self.deliver_plaintext(conn, inner);
            if peer_closed {
                self.forward_eof(conn, inner);
                break;
            }
        }
        outcome.wants_write |= self.tls.wants_write();
        outcome
    }

    /// Hands every decrypted byte to the inner handler, chunk by chunk from
    /// rustls's own buffer.
    fn deliver_plaintext<H: ShardHandler>(&mut self, conn: ConnId, inner: &mut H) {
        let mut reader = self.tls.reader();
        loop {
            let len = match reader.fill_buf() {
                Ok([]) | Err(_) => return,
                Ok(chunk) => {
                    inner.on_read(conn, chunk);
                    chunk.len()
                }
            };
            reader.consume(len);
        }
    }

    fn forward_eof<H: ShardHandler>(&mut self, conn: ConnId, inner: &mut H) {
        if !self.eof_forwarded {
            self.eof_forwarded = true;
            inner.on_read(conn, &[]);
        }
    }

    fn fail(&mut self, reason: String) -> ReadOutcome {
        let during_handshake = self.phase == Phase::Handshaking;
        self.phase = Phase::Failed;
        ReadOutcome {
            wants_write: true,
            failure: Some(reason),
            during_handshake,
        }
    }

    /// The TLS bytes to write next, encrypting more of the inner handler's
    /// output when the previous batch was written.
    pub(crate) fn pending_output<H: ShardHandler>(&mut self, conn: ConnId, inner: &mut H) -> &[u8] {
        if self.out_pos >= self.out.len() {
            self.out.clear();
            self.out_pos = 0;
            if self.out.capacity() > KEPT_OUTPUT_CAPACITY {
                self.out = Vec::new();
            }
            self.prepare_output(conn, inner);
        }
        &self.out[self.out_pos..]
    }

    /// Fills `out` with up to about [`OUTPUT_CHUNK`] bytes of records.
    fn prepare_output<H: ShardHandler>(&mut self, conn: ConnId, inner: &mut H) {
        loop {
            self.drain_records();
            if self.out.len() >= OUTPUT_CHUNK
                || self.phase != Phase::Established
                || self.close_notify_queued
            {
                return;
            }
            let plaintext = inner.pending_output(conn);
            if plaintext.is_empty() {
                if !self.inner_closing {
                    return;
                }
                self.tls.send_close_notify();
                self.close_notify_queued = true;
                continue;
            }
            let take = plaintext.len().min(OUTPUT_CHUNK - self.out.len());
            // rustls's record buffer was just drained, so its limit (64 KiB
            // by default) admits at least `take` bytes; 0 only if rustls
            // refuses application data altogether.
            let taken = self.tls.writer().write(&plaintext[..take]).unwrap_or(0);
            if taken == 0 {
                return;
            }
            inner.consume_output(conn, taken);
        }
    }

    /// Moves rustls's queued records into `out` (writing to a `Vec` cannot
    /// fail or stop short).
    fn drain_records(&mut self) {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.out) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    /// `n` bytes of [`TlsSession::pending_output`] were written.
    pub(crate) fn consume_output(&mut self, n: usize) {
        self.out_pos = self.out_pos.saturating_add(n).min(self.out.len());
    }
}
