//! `TlsHandler` driven without sockets: a rustls client and the wrapper
//! exchange bytes in memory, around a recording inner handler, so every
//! state change (handshake, data, failures, both kinds of EOF, close) is
//! checked step by step.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig};

use super::session::OUTPUT_CHUNK;
use super::{crypto_provider, TlsHandler};
use crate::{ConnId, ShardHandler};

#[derive(Debug, PartialEq, Eq)]
enum Event {
    Accept,
    Read(Vec<u8>),
    Eof,
    Closed,
    Flushed,
}

/// An inner handler that records what it is told and sends what a test
/// queues.
#[derive(Default)]
struct Recorder {
    events: Vec<Event>,
    output: Vec<u8>,
    dirty: Vec<ConnId>,
    closing: Vec<ConnId>,
}

impl Recorder {
    fn queue(&mut self, conn: ConnId, bytes: &[u8]) {
        self.output.extend_from_slice(bytes);
        self.dirty.push(conn);
    }

    /// Everything read so far, concatenated.
    fn received(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for event in &self.events {
            if let Event::Read(bytes) = event {
                all.extend_from_slice(bytes);
            }
        }
        all
    }
}

impl ShardHandler for Recorder {
    fn on_accept(&mut self, _conn: ConnId, _peer: SocketAddr, _local: SocketAddr) {
        self.events.push(Event::Accept);
    }
    fn on_read(&mut self, _conn: ConnId, bytes: &[u8]) {
        self.events.push(match bytes {
            [] => Event::Eof,
            bytes => Event::Read(bytes.to_vec()),
        });
    }
    fn on_closed(&mut self, _conn: ConnId) {
        self.events.push(Event::Closed);
    }
    fn on_output_flushed(&mut self, _conn: ConnId) {
        self.events.push(Event::Flushed);
    }
    fn on_inbox(&mut self) {}
    fn on_tick(&mut self, _now: Instant) {}
    fn end_of_iteration(&mut self) {}
    fn take_events(&mut self, dirty: &mut Vec<ConnId>, closing: &mut Vec<ConnId>) {
        dirty.append(&mut self.dirty);
        closing.append(&mut self.closing);
    }
    fn pending_output(&mut self, _conn: ConnId) -> &[u8] {
        &self.output
    }
    fn consume_output(&mut self, _conn: ConnId, n: usize) {
        self.output.drain(..n);
    }
    fn prepare_to_park(&mut self) -> bool {
        true
    }
    fn unparked(&mut self) {}
    fn stop_requested(&self) -> bool {
        false
    }
}

const CONN: ConnId = 3;

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("test address")
}

fn configs() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    configs_for(rustls::DEFAULT_VERSIONS)
}

/// A server config and a client config offering only `client_versions`.
fn configs_for(
    client_versions: &[&'static rustls::SupportedProtocolVersion],
) -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .expect("self-signed certificate");
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let server = ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("server certificate");
    let mut roots = RootCertStore::empty();
    roots.add(cert).expect("root");
    let client = ClientConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(client_versions)
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

/// A wrapper with TLS on port 6380 (any IP), a connection accepted there,
/// and a client for it.
fn tls_pair() -> (TlsHandler<Recorder>, ClientConnection) {
    tls_pair_for(rustls::DEFAULT_VERSIONS)
}

fn tls_pair_for(
    client_versions: &[&'static rustls::SupportedProtocolVersion],
) -> (TlsHandler<Recorder>, ClientConnection) {
    let (server, client) = configs_for(client_versions);
    let mut handler = TlsHandler::new(Recorder::default(), server, vec![addr("0.0.0.0:6380")]);
    handler.on_accept(CONN, addr("127.0.0.1:5000"), addr("127.0.0.1:6380"));
    let name = ServerName::try_from("localhost").expect("server name");
    let client = ClientConnection::new(client, name).expect("client");
    (handler, client)
}

fn take_events(handler: &mut TlsHandler<Recorder>) -> (Vec<ConnId>, Vec<ConnId>) {
    let (mut dirty, mut closing) = (Vec::new(), Vec::new());
    handler.take_events(&mut dirty, &mut closing);
    (dirty, closing)
}

/// Client → server: whatever the client has to send.
fn client_to_server(client: &mut ClientConnection, handler: &mut TlsHandler<Recorder>) {
    let mut wire = Vec::new();
    while client.wants_write() {
        client.write_tls(&mut wire).expect("client write_tls");
    }
    if !wire.is_empty() {
        handler.on_read(CONN, &wire);
    }
}

/// Server → client, written in pieces of at most `piece` bytes, as a
/// backend whose socket takes partial writes would. Returns the plaintext.
fn server_to_client(
    handler: &mut TlsHandler<Recorder>,
    client: &mut ClientConnection,
    piece: usize,
) -> Vec<u8> {
    let mut plaintext = Vec::new();
    loop {
        let out = handler.pending_output(CONN);
        if out.is_empty() {
            break;
        }
        assert!(
            out.len() <= OUTPUT_CHUNK + 4096,
            "a batch of {} bytes",
            out.len()
        );
        let n = out.len().min(piece);
        let mut wire = &out[..n].to_vec()[..];
        handler.consume_output(CONN, n);
        while !wire.is_empty() {
            client.read_tls(&mut wire).expect("client read_tls");
            client.process_new_packets().expect("client process");
            let mut chunk = [0u8; 65536];
            while let Ok(len) = std::io::Read::read(&mut client.reader(), &mut chunk) {
                if len == 0 {
                    break;
                }
                plaintext.extend_from_slice(&chunk[..len]);
            }
        }
    }
    plaintext
}

/// Runs the handshake; returns the plaintext the client got meanwhile.
fn handshake(handler: &mut TlsHandler<Recorder>, client: &mut ClientConnection) -> Vec<u8> {
    let mut plaintext = Vec::new();
    for _ in 0..4 {
        client_to_server(client, handler);
        plaintext.extend(server_to_client(handler, client, usize::MAX));
    }
    assert!(!client.is_handshaking());
    let (dirty, closing) = take_events(handler);
    assert!(dirty.contains(&CONN));
    assert!(closing.is_empty());
    plaintext
}

#[test]
fn plain_connections_pass_through_without_copy() {
    let (server, _) = configs();
    let mut handler = TlsHandler::new(Recorder::default(), server, vec![addr("127.0.0.1:6380")]);
    // Same port, another IP: the TLS listener is bound to 127.0.0.1 only.
    handler.on_accept(CONN, addr("10.0.0.2:5000"), addr("10.0.0.1:6380"));
    assert!(!handler.is_tls(CONN));
    handler.on_read(CONN, b"PING\r\n");
    handler.inner_mut().queue(CONN, b"+PONG\r\n");
    let inner_ptr = handler.inner().output.as_ptr();
    assert_eq!(handler.pending_output(CONN).as_ptr(), inner_ptr);
    handler.consume_output(CONN, 7);
    handler.on_output_flushed(CONN);
    handler.on_read(CONN, &[]);
    handler.on_closed(CONN);
    let expected = [
        Event::Accept,
        Event::Read(b"PING\r\n".to_vec()),
        Event::Flushed,
        Event::Eof,
        Event::Closed,
    ];
    assert_eq!(handler.inner().events, expected);
}

#[test]
fn data_flows_both_ways_after_the_handshake() {
    let (mut handler, mut client) = tls_pair();
    assert!(handler.is_tls(CONN));
    // Output queued before the handshake waits for it.
    handler.inner_mut().queue(CONN, b"early");
    let (dirty, _) = take_events(&mut handler);
    assert_eq!(dirty, [CONN]);
    client_to_server(&mut client, &mut handler);
    let first_flight = handler.pending_output(CONN).to_vec();
    assert_eq!(first_flight[0], 22, "a handshake record");
    assert_eq!(
        handler.inner().output,
        b"early",
        "not taken before the handshake"
    );
    let mut early = server_to_client(&mut handler, &mut client, usize::MAX);
    early.extend(handshake(&mut handler, &mut client));
    assert_eq!(early, b"early");
    assert_eq!(handler.inner().events, [Event::Accept]);
    std::io::Write::write_all(&mut client.writer(), b"ping").unwrap();
    client_to_server(&mut client, &mut handler);
    assert_eq!(handler.inner().received(), b"ping");
    handler.inner_mut().queue(CONN, b"pong");
    let (dirty, _) = take_events(&mut handler);
    assert!(dirty.contains(&CONN));
    assert_eq!(server_to_client(&mut handler, &mut client, 7), b"pong");
    handler.on_output_flushed(CONN);
    assert_eq!(handler.inner().events.last(), Some(&Event::Flushed));
}

#[test]
fn tls12_clients_are_served() {
    let (mut handler, mut client) = tls_pair_for(&[&rustls::version::TLS12]);
    handshake(&mut handler, &mut client);
    assert_eq!(
        client.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    std::io::Write::write_all(&mut client.writer(), b"ping").unwrap();
    client_to_server(&mut client, &mut handler);
    handler.inner_mut().queue(CONN, b"pong");
    assert_eq!(server_to_client(&mut handler, &mut client, 1000), b"pong");
    assert_eq!(handler.inner().received(), b"ping");
}

#[test]
fn records_split_across_reads_are_reassembled() {
    let (mut handler, mut client) = tls_pair();
    // The whole conversation arrives one byte per read.
    let mut wire = Vec::new();
    for _ in 0..4 {
        wire.clear();
        while client.wants_write() {
            client.write_tls(&mut wire).expect("client write_tls");
        }
        for byte in &wire {
            handler.on_read(CONN, std::slice::from_ref(byte));
        }
        server_to_client(&mut handler, &mut client, 1);
    }
    assert!(!client.is_handshaking());
    std::io::Write::write_all(&mut client.writer(), b"split request").unwrap();
    wire.clear();
    client.write_tls(&mut wire).expect("client write_tls");
    for byte in &wire {
        handler.on_read(CONN, std::slice::from_ref(byte));
    }
    assert_eq!(handler.inner().received(), b"split request");
}

#[test]
fn a_large_reply_is_encrypted_in_bounded_batches() {
    let (mut handler, mut client) = tls_pair();
    handshake(&mut handler, &mut client);
    let reply: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    handler.inner_mut().queue(CONN, &reply);
    let received = server_to_client(&mut handler, &mut client, 100_003);
    assert_eq!(received.len(), reply.len());
    assert!(received == reply);
    assert!(handler.inner().output.is_empty());
}

#[test]
fn garbage_on_a_tls_connection_sends_an_alert_and_closes_it() {
    let (mut handler, _) = tls_pair();
    handler.on_read(CONN, b"PING\r\n");
    assert!(
        !handler.prepare_to_park(),
        "the close must not wait for an event"
    );
    let (dirty, closing) = take_events(&mut handler);
    assert_eq!((dirty, closing), (vec![CONN], vec![CONN]));
    assert!(handler.prepare_to_park());
    assert_eq!(handler.pending_output(CONN)[0], 21, "an alert record");
    // Nothing of the inner handler goes out, and more input is ignored.
    handler.inner_mut().queue(CONN, b"secret");
    let alert_len = handler.pending_output(CONN).len();
    handler.consume_output(CONN, alert_len);
    assert!(handler.pending_output(CONN).is_empty());
    handler.on_read(CONN, b"more");
    handler.on_read(CONN, &[]);
    handler.on_output_flushed(CONN);
    handler.on_closed(CONN);
    assert_eq!(handler.inner().events, [Event::Accept, Event::Closed]);
    assert!(!handler.is_tls(CONN));
}

#[test]
fn eof_during_the_handshake_closes_without_telling_the_inner_handler() {
    let (mut handler, mut client) = tls_pair();
    client_to_server(&mut client, &mut handler);
    handler.on_read(CONN, &[]);
    let (_, closing) = take_events(&mut handler);
    assert_eq!(closing, [CONN]);
    handler.on_closed(CONN);
    assert_eq!(handler.inner().events, [Event::Accept, Event::Closed]);
}

#[test]
fn close_notify_then_tcp_eof_is_one_eof() {
    let (mut handler, mut client) = tls_pair();
    handshake(&mut handler, &mut client);
    std::io::Write::write_all(&mut client.writer(), b"last").unwrap();
    client.send_close_notify();
    client_to_server(&mut client, &mut handler);
    handler.on_read(CONN, &[]);
    let expected = [Event::Accept, Event::Read(b"last".to_vec()), Event::Eof];
    assert_eq!(handler.inner().events, expected);
}

#[test]
fn tcp_eof_after_the_handshake_reaches_the_inner_handler() {
    let (mut handler, mut client) = tls_pair();
    handshake(&mut handler, &mut client);
    handler.on_read(CONN, &[]);
    assert_eq!(handler.inner().events, [Event::Accept, Event::Eof]);
    let (_, closing) = take_events(&mut handler);
    assert!(
        closing.is_empty(),
        "the inner handler decides when to close"
    );
}

#[test]
fn closing_sends_the_output_then_close_notify() {
    let (mut handler, mut client) = tls_pair();
    handshake(&mut handler, &mut client);
    handler.inner_mut().queue(CONN, b"bye");
    handler.inner_mut().closing.push(CONN);
    let (_, closing) = take_events(&mut handler);
    assert_eq!(closing, [CONN]);
    assert_eq!(server_to_client(&mut handler, &mut client, 5), b"bye");
    let state = client.process_new_packets().expect("client state");
    assert!(state.peer_has_closed());
    assert!(handler.pending_output(CONN).is_empty());
}

#[test]
fn a_reused_id_on_a_plain_port_is_plain() {
    let (mut handler, mut client) = tls_pair();
    handshake(&mut handler, &mut client);
    handler.on_closed(CONN);
    handler.on_accept(CONN, addr("127.0.0.1:5001"), addr("127.0.0.1:6379"));
    assert!(!handler.is_tls(CONN));
    handler.on_read(CONN, b"x");
    let events = &handler.inner().events;
    assert_eq!(events[events.len() - 1], Event::Read(b"x".to_vec()));
}
