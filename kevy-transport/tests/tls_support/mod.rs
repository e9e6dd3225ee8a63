//! Support for the TLS tests: certificates made with rcgen and written to a
//! scratch directory (the configuration code reads files, as the server
//! does), a small line-protocol core to put inside `TlsHandler`, a server
//! running it on the real mio backend with one plain and one TLS listener,
//! and blocking clients.
//!
//! The line protocol: `ECHO text` → `text`, `BIG n` → `n` bytes of a known
//! pattern, `QUIT` → `BYE` then close; every reply ends with `\n`. The core
//! closes a connection when the peer finishes sending.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kevy_transport::mio_backend::MioLoop;
use kevy_transport::tls::{
    client_config, server_config, AuthClients, ClientConfig, ClientIdentity, TlsHandler,
    TlsSettings,
};
use kevy_transport::{ConnId, ShardHandler, ShardLoop, TransportError, Waker};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};

/// Guards every blocking read so a bug fails the test instead of hanging it.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A scratch directory removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("kevy-tls-{}-{name}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A CA that signs server and client certificates into PEM files.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pub cert_file: PathBuf,
}

/// A certificate and key written as PEM files.
pub struct Identity {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

impl Identity {
    pub fn as_client(&self) -> ClientIdentity<'_> {
        ClientIdentity {
            cert_file: &self.cert_file,
            key_file: &self.key_file,
        }
    }
}

impl Ca {
    pub fn new(scratch: &Scratch, name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("ca key");
        let cert = params.self_signed(&key).expect("ca cert");
        let cert_file = scratch.write(&format!("{name}-ca.crt"), &cert.pem());
        Ca {
            issuer: Issuer::new(params, key),
            cert_file,
        }
    }

    /// A certificate for `name` (and 127.0.0.1) usable as `purpose`.
    pub fn issue(
        &self,
        scratch: &Scratch,
        name: &str,
        purpose: ExtendedKeyUsagePurpose,
    ) -> Identity {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![purpose];
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf cert");
        Identity {
            cert_file: scratch.write(&format!("{name}.crt"), &cert.pem()),
            key_file: scratch.write(&format!("{name}.key"), &key.serialize_pem()),
        }
    }

    pub fn server_identity(&self, scratch: &Scratch) -> Identity {
        self.server_identity_named(scratch, "server")
    }

    pub fn server_identity_named(&self, scratch: &Scratch, name: &str) -> Identity {
        self.issue(scratch, name, ExtendedKeyUsagePurpose::ServerAuth)
    }

    pub fn client_identity(&self, scratch: &Scratch, name: &str) -> Identity {
        self.issue(scratch, name, ExtendedKeyUsagePurpose::ClientAuth)
    }

    pub fn client_config(&self, identity: Option<&Identity>) -> Arc<ClientConfig> {
        client_config(&self.cert_file, identity.map(Identity::as_client)).expect("client config")
    }
}

/// What the line core saw, shared with the test thread.
#[derive(Default)]
pub struct Counters {
    pub accepted: AtomicUsize,
    pub closed: AtomicUsize,
    pub lines: AtomicUsize,
    /// Bytes handed to the core (plaintext), on any connection.
    pub bytes_in: AtomicUsize,
}

#[derive(Default)]
struct LineConn {
    input: Vec<u8>,
    output: Vec<u8>,
    written: usize,
}

/// The core inside `TlsHandler` in these tests.
pub struct LineCore {
    conns: HashMap<ConnId, LineConn>,
    dirty: Vec<ConnId>,
    closing: Vec<ConnId>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
}

/// The byte at `i` of a `BIG` reply.
pub fn pattern_byte(i: usize) -> u8 {
    b'a' + (i % 26) as u8
}

impl LineCore {
    fn answer(&mut self, conn: ConnId) {
        let Some(state) = self.conns.get_mut(&conn) else {
            return;
        };
        let mut close = false;
        while let Some(end) = state.input.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = state.input.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..end]).trim_end().to_string();
            self.counters.lines.fetch_add(1, Ordering::Relaxed);
            if let Some(text) = line.strip_prefix("ECHO ") {
                state.output.extend_from_slice(text.as_bytes());
            } else if let Some(n) = line.strip_prefix("BIG ") {
                let n: usize = n.parse().unwrap_or(0);
                state.output.extend((0..n).map(pattern_byte));
            } else if line == "QUIT" {
                state.output.extend_from_slice(b"BYE");
                close = true;
            } else {
                state.output.extend_from_slice(b"ERR");
            }
            state.output.push(b'\n');
            if close {
                break;
            }
        }
        self.dirty.push(conn);
        if close {
            self.closing.push(conn);
        }
    }
}

impl ShardHandler for LineCore {
    fn on_accept(&mut self, conn: ConnId, _peer: SocketAddr, _local: SocketAddr) {
        self.counters.accepted.fetch_add(1, Ordering::Relaxed);
        self.conns.insert(conn, LineConn::default());
    }
    fn on_read(&mut self, conn: ConnId, bytes: &[u8]) {
        if bytes.is_empty() {
            self.closing.push(conn);
            return;
        }
        self.counters
            .bytes_in
            .fetch_add(bytes.len(), Ordering::Relaxed);
        if let Some(state) = self.conns.get_mut(&conn) {
            state.input.extend_from_slice(bytes);
        }
        self.answer(conn);
    }
    fn on_closed(&mut self, conn: ConnId) {
        self.counters.closed.fetch_add(1, Ordering::Relaxed);
        self.conns.remove(&conn);
    }
    fn on_output_flushed(&mut self, _conn: ConnId) {}
    fn on_inbox(&mut self) {}
    fn on_tick(&mut self, _now: Instant) {}
    fn end_of_iteration(&mut self) {}
    fn take_events(&mut self, dirty: &mut Vec<ConnId>, closing: &mut Vec<ConnId>) {
        dirty.append(&mut self.dirty);
        closing.append(&mut self.closing);
    }
    fn pending_output(&mut self, conn: ConnId) -> &[u8] {
        match self.conns.get(&conn) {
            Some(state) => &state.output[state.written..],
            None => &[],
        }
    }
    fn consume_output(&mut self, conn: ConnId, n: usize) {
        if let Some(state) = self.conns.get_mut(&conn) {
            state.written += n;
            assert!(
                state.written <= state.output.len(),
                "consumed more than pending"
            );
            if state.written == state.output.len() {
                state.output.clear();
                state.written = 0;
            }
        }
    }
    fn prepare_to_park(&mut self) -> bool {
        true
    }
    fn unparked(&mut self) {}
    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// A shard running `TlsHandler<LineCore>` on mio, with a plain and a TLS
/// listener on 127.0.0.1.
pub struct Server {
    pub plain: SocketAddr,
    pub tls: SocketAddr,
    pub counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    waker: Arc<dyn Waker>,
    thread: Option<JoinHandle<Result<(), TransportError>>>,
}

impl Server {
    pub fn start(settings: &TlsSettings) -> Server {
        let config = server_config(settings).expect("server config");
        let any: SocketAddr = "127.0.0.1:0".parse().expect("address");
        let shard = MioLoop::bind(&[any, any]).expect("bind");
        let addrs = shard.local_addrs();
        let (plain, tls) = (addrs[0], addrs[1]);
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let core = LineCore {
            conns: HashMap::new(),
            dirty: Vec::new(),
            closing: Vec::new(),
            counters: counters.clone(),
            stop: stop.clone(),
        };
        let mut handler = TlsHandler::new(core, config, vec![tls]);
        let waker = shard.waker();
        let thread = std::thread::spawn(move || shard.run(&mut handler));
        Server {
            plain,
            tls,
            counters,
            stop,
            waker,
            thread: Some(thread),
        }
    }

    /// Asks the loop to stop and waits for it; returns what `run` returned.
    pub fn stop(&mut self) -> Result<(), TransportError> {
        self.stop.store(true, Ordering::Relaxed);
        self.waker.wake();
        match self.thread.take() {
            Some(thread) => thread.join().expect("the shard thread panicked"),
            None => Ok(()),
        }
    }

    /// Waits until the core has seen every accepted connection closed.
    pub fn wait_all_closed(&self, accepted: usize) {
        let deadline = Instant::now() + READ_TIMEOUT;
        loop {
            let seen = self.counters.accepted.load(Ordering::Relaxed);
            let closed = self.counters.closed.load(Ordering::Relaxed);
            if seen >= accepted && closed == seen {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "connections never closed: accepted {seen}, closed {closed}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Settings for a server certificate from `ca`.
pub fn settings(ca: &Ca, server: &Identity, auth_clients: AuthClients) -> TlsSettings {
    TlsSettings {
        cert_file: server.cert_file.clone(),
        key_file: server.key_file.clone(),
        ca_cert_file: Some(ca.cert_file.clone()),
        auth_clients,
    }
}

/// A blocking line client over TLS or plain TCP.
pub struct Client<S: Read + Write> {
    stream: BufReader<S>,
}

pub type TlsClient = Client<StreamOwned<ClientConnection, TcpStream>>;

fn tcp(addr: SocketAddr) -> TcpStream {
    let sock = TcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(READ_TIMEOUT)).expect("timeout");
    sock
}

pub fn tls_client(addr: SocketAddr, config: Arc<ClientConfig>) -> TlsClient {
    tls_client_for(addr, config, "localhost")
}

/// A TLS client that gives `server_name` as the server's name.
pub fn tls_client_for(addr: SocketAddr, config: Arc<ClientConfig>, server_name: &str) -> TlsClient {
    let name = ServerName::try_from(server_name.to_string()).expect("server name");
    let conn = ClientConnection::new(config, name).expect("client connection");
    Client {
        stream: BufReader::new(StreamOwned::new(conn, tcp(addr))),
    }
}

pub fn plain_client(addr: SocketAddr) -> Client<TcpStream> {
    Client {
        stream: BufReader::new(tcp(addr)),
    }
}

impl<S: Read + Write> Client<S> {
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.get_mut().write_all(bytes)?;
        self.stream.get_mut().flush()
    }

    /// Reads one reply line, without its `\n`.
    pub fn line(&mut self) -> std::io::Result<Vec<u8>> {
        let mut line = Vec::new();
        self.stream.read_until(b'\n', &mut line)?;
        if line.pop() != Some(b'\n') {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(line)
    }

    /// Sends `ECHO text` and returns the reply.
    pub fn echo(&mut self, text: &str) -> std::io::Result<Vec<u8>> {
        self.send(format!("ECHO {text}\n").as_bytes())?;
        self.line()
    }

    /// Reads until the end of the stream.
    pub fn read_to_end(&mut self) -> std::io::Result<Vec<u8>> {
        let mut rest = Vec::new();
        self.stream.read_to_end(&mut rest)?;
        Ok(rest)
    }

    pub fn get_mut(&mut self) -> &mut S {
        self.stream.get_mut()
    }
}
