//! TLS for every backend: [`TlsHandler`] wraps the shard core's
//! [`ShardHandler`] and is itself one, so a backend drives it like any core
//! and never knows TLS exists.
//!
//! Data flow: the backend accepts a connection and calls `on_accept`; when
//! the local address is one of the TLS listening addresses the wrapper gives
//! the connection a rustls server session (`session.rs`). Ciphertext from
//! `on_read` goes through rustls and the plaintext to the inner handler;
//! when the backend pulls `pending_output`, the inner handler's output is
//! encrypted on demand and TLS records come back. Connections on plain
//! addresses go straight through: one bounds-checked look-up per call, no
//! copy.
//!
//! The inner handler sees a TLS connection from the moment it is accepted,
//! as Redis creates its client before the handshake (so client counting and
//! `maxclients` behave the same on both kinds of port). Its output waits
//! until the handshake completes. When the handshake fails (a plain-text
//! client on the TLS port, a missing or untrusted client certificate, the
//! peer leaving mid-handshake) the wrapper sends rustls's alert, logs
//! `Error accepting a client connection: ...` as Redis does, and closes the
//! connection: the inner handler sees it accepted, then closed, and never
//! any bytes.

mod config;
mod server_name;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use config::{
    client_config, crypto_provider, load_certificates, load_private_key, server_config,
    AuthClients, ClientIdentity, TlsError, TlsSettings,
};
/// The rustls this layer is built on, for clients of [`client_config`]
/// (`rustls::ClientConnection`, `rustls::pki_types::ServerName`).
pub use rustls;
pub use rustls::{ClientConfig, ServerConfig};

use rustls::ServerConnection;
use session::{Phase, TlsSession};

use crate::{ConnId, ShardHandler};

/// What the wrapper knows of one connection.
enum Slot {
    /// A connection on a plain address (or no connection): passed through.
    Plain,
    Tls(Box<TlsSession>),
    /// A TLS connection rustls could not even start; the inner handler never
    /// heard of it and it is being closed.
    Refused,
}

/// A [`ShardHandler`] that terminates TLS for the connections accepted on
/// the TLS listening addresses and hands plaintext to `inner`.
///
/// Connection state is kept in a table indexed by [`ConnId`], which the
/// backends assign as small reused indexes (a slab), so look-ups cost one
/// bounds check.
pub struct TlsHandler<H> {
    inner: H,
    config: Arc<ServerConfig>,
    /// Listening addresses whose connections speak TLS. An unspecified IP
    /// (0.0.0.0, ::) matches any local IP on that port.
    tls_listen: Vec<SocketAddr>,
    slots: Vec<Slot>,
    /// Connections the wrapper itself made dirty or wants closed since the
    /// last `take_events` (handshake records, alerts, failures).
    dirty: Vec<ConnId>,
    closing: Vec<ConnId>,
}

impl<H: ShardHandler> TlsHandler<H> {
    /// Wraps `inner`; connections whose local address matches one of
    /// `tls_listen` (the TLS listeners' bound addresses) use `config`.
    pub fn new(inner: H, config: Arc<ServerConfig>, tls_listen: Vec<SocketAddr>) -> Self {
        TlsHandler {
            inner,
            config,
            tls_listen,
            slots: Vec::new(),
            dirty: Vec::new(),
            closing: Vec::new(),
        }
    }

    pub fn inner(&self) -> &H {
        &self.inner
    }

    pub fn inner_mut(&mut self) -> &mut H {
        &mut self.inner
    }

    pub fn into_inner(self) -> H {
        self.inner
    }

    /// Replaces the configuration for connections accepted from now on
    /// (certificates reloaded); established connections keep theirs.
    pub fn set_server_config(&mut self, config: Arc<ServerConfig>) {
        self.config = config;
    }

    /// Whether `conn` was accepted on a TLS address.
    pub fn is_tls(&self, conn: ConnId) -> bool {
        matches!(self.slots.get(conn), Some(Slot::Tls(_) | Slot::Refused))
    }

    fn is_tls_address(&self, local: SocketAddr) -> bool {
        self.tls_listen.iter().any(|listen| {
            listen.port() == local.port()
                && (listen.ip().is_unspecified() || listen.ip() == local.ip())
        })
    }

    fn set_slot(&mut self, conn: ConnId, slot: Slot) {
        if conn >= self.slots.len() {
            self.slots.resize_with(conn + 1, || Slot::Plain);
        }
        self.slots[conn] = slot;
    }

    /// Closes `conn` after the alert rustls queued, and logs why.
    fn close_failed(&mut self, conn: ConnId, reason: &str, during_handshake: bool) {
        if let Some(Slot::Tls(session)) = self.slots.get(conn) {
            let (peer, local) = (session.peer, session.local);
            if during_handshake {
                log::warn!(
                    "Error accepting a client connection: {reason} (addr={peer} laddr={local})"
                );
            } else {
                log::info!("Error reading from client: {reason} (addr={peer} laddr={local})");
            }
        }
        self.dirty.push(conn);
        self.closing.push(conn);
    }
}

impl<H: ShardHandler> ShardHandler for TlsHandler<H> {
    fn on_accept(&mut self, conn: ConnId, peer: SocketAddr, local: SocketAddr) {
        if !self.is_tls_address(local) {
            if let Some(slot) = self.slots.get_mut(conn) {
                *slot = Slot::Plain;
            }
            self.inner.on_accept(conn, peer, local);
            return;
        }
        match ServerConnection::new(self.config.clone()) {
            Ok(tls) => {
                self.set_slot(conn, Slot::Tls(Box::new(TlsSession::new(tls, peer, local))));
                self.inner.on_accept(conn, peer, local);
            }
            Err(err) => {
                log::warn!(
                    "Error accepting a client connection: {err} (addr={peer} laddr={local})"
                );
                self.set_slot(conn, Slot::Refused);
                self.dirty.push(conn);
                self.closing.push(conn);
            }
        }
    }

    fn on_read(&mut self, conn: ConnId, bytes: &[u8]) {
        let outcome = match self.slots.get_mut(conn) {
            Some(Slot::Tls(session)) => session.on_ciphertext(conn, bytes, &mut self.inner),
            Some(Slot::Refused) => return,
            _ => {
                self.inner.on_read(conn, bytes);
                return;
            }
        };
        if let Some(reason) = outcome.failure {
            self.close_failed(conn, &reason, outcome.during_handshake);
        } else if outcome.wants_write {
            self.dirty.push(conn);
        }
    }

    fn on_closed(&mut self, conn: ConnId) {
        let slot = match self.slots.get_mut(conn) {
            Some(slot) => std::mem::replace(slot, Slot::Plain),
            None => Slot::Plain,
        };
        if !matches!(slot, Slot::Plain) {
            // A backend that closes between two `take_events` must not get
            // this id back later (it may be reused by then).
            self.dirty.retain(|&id| id != conn);
            self.closing.retain(|&id| id != conn);
        }
        if !matches!(slot, Slot::Refused) {
            self.inner.on_closed(conn);
        }
    }

    fn on_output_flushed(&mut self, conn: ConnId) {
        match self.slots.get(conn) {
            Some(Slot::Tls(session)) if session.phase != Phase::Established => {}
            Some(Slot::Refused) => {}
            _ => self.inner.on_output_flushed(conn),
        }
    }

    fn on_inbox(&mut self) {
        self.inner.on_inbox();
    }

    fn on_tick(&mut self, now: Instant) {
        self.inner.on_tick(now);
    }

    fn end_of_iteration(&mut self) {
        self.inner.end_of_iteration();
    }

    fn take_events(&mut self, dirty: &mut Vec<ConnId>, closing: &mut Vec<ConnId>) {
        let first_new_closing = closing.len();
        self.inner.take_events(dirty, closing);
        for &conn in &closing[first_new_closing..] {
            if let Some(Slot::Tls(session)) = self.slots.get_mut(conn) {
                session.inner_closing = true;
            }
        }
        dirty.append(&mut self.dirty);
        closing.append(&mut self.closing);
    }

    fn pending_output(&mut self, conn: ConnId) -> &[u8] {
        match self.slots.get_mut(conn) {
            Some(Slot::Tls(session)) => session.pending_output(conn, &mut self.inner),
            Some(Slot::Refused) => &[],
            _ => self.inner.pending_output(conn),
        }
    }

    fn consume_output(&mut self, conn: ConnId, n: usize) {
        match self.slots.get_mut(conn) {
            Some(Slot::Tls(session)) => session.consume_output(n),
            Some(Slot::Refused) => {}
            _ => self.inner.consume_output(conn, n),
        }
    }

    fn prepare_to_park(&mut self) -> bool {
        // Alerts and closes the wrapper decided on must reach the backend
        // through `take_events` before the shard sleeps.
        self.dirty.is_empty() && self.closing.is_empty() && self.inner.prepare_to_park()
    }

    fn unparked(&mut self) {
        self.inner.unparked();
    }

    fn stop_requested(&self) -> bool {
        self.inner.stop_requested()
    }

    fn tick_interval(&self) -> Duration {
        self.inner.tick_interval()
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.inner.next_deadline()
    }
}

#[cfg(test)]
mod tests;
