//! TLS with real clients: kevy started with `--tls-port` and certificates
//! made at test time (rcgen). `redis-cli --tls` and the `redis` crate over
//! rustls connect; with `tls-auth-clients yes` a client without a
//! certificate, or with one from another CA, is refused; a plain-text client
//! on the TLS port is refused while a TLS client keeps working; the plain
//! port keeps serving plain clients.
//!
//! The suite runs against builds with the `tls` feature, which `cargo xtask
//! matrix` announces in `KEVY_MATRIX_FEATURES`; against other builds these
//! tests check that asking for TLS is refused at start instead.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kevy_matrix_tests::{KevyServer, ScratchFiles};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

fn tls_compiled() -> bool {
    std::env::var("KEVY_MATRIX_FEATURES").is_ok_and(|f| f.split(',').any(|f| f == "tls"))
}

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    cert_file: PathBuf,
    cert_pem: String,
}

struct Identity {
    cert_file: PathBuf,
    key_file: PathBuf,
    cert_pem: String,
    key_pem: String,
}

impl Ca {
    fn new(files: &ScratchFiles, name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("a key");
        let cert = params.self_signed(&key).expect("a CA certificate");
        let cert_pem = cert.pem();
        Ca {
            cert_file: files.write(&format!("{name}-ca.crt"), &cert_pem),
            cert_pem,
            issuer: Issuer::new(params, key),
        }
    }

    fn issue(&self, files: &ScratchFiles, name: &str, usage: ExtendedKeyUsagePurpose) -> Identity {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let mut params = CertificateParams::new(names).expect("leaf parameters");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().expect("a key");
        let cert = params.signed_by(&key, &self.issuer).expect("a certificate");
        let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
        Identity {
            cert_file: files.write(&format!("{name}.crt"), &cert_pem),
            key_file: files.write(&format!("{name}.key"), &key_pem),
            cert_pem,
            key_pem,
        }
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// Starts kevy serving plain and TLS, clients authenticated as `auth`;
/// returns it with its TLS port. (`tls-port 0` means "no TLS", as in Redis,
/// so a free port is picked here, again if kevy finds it taken.)
fn start(threads: usize, ca: &Ca, server: &Identity, auth: &str) -> (KevyServer, u16) {
    let mut last_error = String::new();
    for _ in 0..5 {
        let port = free_port().to_string();
        let started = KevyServer::try_start_with(
            threads,
            &[
                "--tls-port",
                &port,
                "--tls-cert-file",
                path(&server.cert_file),
                "--tls-key-file",
                path(&server.key_file),
                "--tls-ca-cert-file",
                path(&ca.cert_file),
                "--tls-auth-clients",
                auth,
            ],
        );
        match started {
            Ok(server) => return (server, port.parse().expect("a port number")),
            Err(err) => last_error = err,
        }
    }
    panic!("kevy with TLS did not start: {last_error}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn tls_client(
    port: u16,
    ca: &Ca,
    identity: Option<&Identity>,
) -> redis::RedisResult<redis::Connection> {
    let certificates = redis::TlsCertificates {
        client_tls: identity.map(|id| redis::ClientTlsConfig {
            client_cert: id.cert_pem.clone().into_bytes(),
            client_key: id.key_pem.clone().into_bytes(),
        }),
        root_cert: Some(ca.cert_pem.clone().into_bytes()),
    };
    let url = format!("rediss://127.0.0.1:{port}/");
    redis::Client::build_with_tls(url, certificates)?.get_connection()
}

/// Connects and runs one PING: a refused client fails at one or the other
/// (with TLS 1.3 the server checks the client's certificate after the
/// client considers the handshake done).
fn ping(port: u16, ca: &Ca, identity: Option<&Identity>) -> redis::RedisResult<String> {
    let mut con = tls_client(port, ca, identity)?;
    redis::cmd("PING").query(&mut con)
}

fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[test]
fn tls_clients_are_served_beside_plain_ones() {
    if !tls_compiled() {
        return;
    }
    install_crypto_provider();
    let files = ScratchFiles::new();
    let ca = Ca::new(&files, "kevy-test");
    let server_id = ca.issue(&files, "server", ExtendedKeyUsagePurpose::ServerAuth);
    let client_id = ca.issue(&files, "client", ExtendedKeyUsagePurpose::ClientAuth);
    for threads in [1, 4] {
        let (server, tls_port) = start(threads, &ca, &server_id, "yes");
        let mut con = tls_client(tls_port, &ca, Some(&client_id)).expect("TLS connect");
        for i in 0..100 {
            let () = redis::cmd("SET")
                .arg(format!("tls:{i}"))
                .arg(i)
                .query(&mut con)
                .expect("SET over TLS");
        }
        let big = vec![b'z'; 3 * 1024 * 1024];
        let () = redis::cmd("SET")
            .arg("big")
            .arg(&big)
            .query(&mut con)
            .expect("SET big");
        let back: Vec<u8> = redis::cmd("GET")
            .arg("big")
            .query(&mut con)
            .expect("GET big");
        assert!(back == big, "a 3 MB value survives TLS both ways");

        // The plain port serves the same data in plain text.
        let mut plain = server.connect();
        let value: i64 = redis::cmd("GET")
            .arg("tls:42")
            .query(&mut plain)
            .expect("GET");
        assert_eq!(value, 42);

        // redis-cli, as a user would run it.
        let output = Command::new("redis-cli")
            .args(["--tls", "--cacert", path(&ca.cert_file)])
            .args([
                "--cert",
                path(&client_id.cert_file),
                "--key",
                path(&client_id.key_file),
            ])
            .args(["-p", &tls_port.to_string(), "GET", "tls:7"])
            .output()
            .expect("redis-cli runs");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            "7",
            "{output:?}"
        );
    }
}

#[test]
fn clients_without_a_valid_certificate_are_refused() {
    if !tls_compiled() {
        return;
    }
    install_crypto_provider();
    let files = ScratchFiles::new();
    let ca = Ca::new(&files, "kevy-test");
    let other_ca = Ca::new(&files, "other");
    let server_id = ca.issue(&files, "server", ExtendedKeyUsagePurpose::ServerAuth);
    let client_id = ca.issue(&files, "client", ExtendedKeyUsagePurpose::ClientAuth);
    let foreign_id = other_ca.issue(&files, "foreign", ExtendedKeyUsagePurpose::ClientAuth);

    let (server, port) = start(2, &ca, &server_id, "yes");
    assert!(ping(port, &ca, None).is_err(), "no certificate");
    assert!(
        ping(port, &ca, Some(&foreign_id)).is_err(),
        "another CA's certificate"
    );
    assert_eq!(ping(port, &ca, Some(&client_id)).expect("valid"), "PONG");
    drop(server);

    let (_server, port) = start(2, &ca, &server_id, "optional");
    assert_eq!(ping(port, &ca, None).expect("optional"), "PONG");
    assert_eq!(ping(port, &ca, Some(&client_id)).expect("valid"), "PONG");
    assert!(
        ping(port, &ca, Some(&foreign_id)).is_err(),
        "a bad certificate is still refused"
    );
}

#[test]
fn plain_text_on_the_tls_port_is_refused_without_harming_others() {
    if !tls_compiled() {
        return;
    }
    install_crypto_provider();
    let files = ScratchFiles::new();
    let ca = Ca::new(&files, "kevy-test");
    let server_id = ca.issue(&files, "server", ExtendedKeyUsagePurpose::ServerAuth);
    let (_server, port) = start(2, &ca, &server_id, "no");
    let mut secure = tls_client(port, &ca, None).expect("TLS connect");
    let () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut secure)
        .expect("SET");

    let mut intruder = TcpStream::connect(("127.0.0.1", port)).expect("TCP connect");
    intruder
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    intruder.write_all(b"*1\r\n$4\r\nPING\r\n").expect("write");
    let mut reply = Vec::new();
    let _ = intruder.read_to_end(&mut reply);
    assert!(
        !reply.starts_with(b"+PONG"),
        "a plain-text client is not served"
    );

    let value: String = redis::cmd("GET").arg("k").query(&mut secure).expect("GET");
    assert_eq!(value, "v");
}

#[test]
fn a_build_without_tls_refuses_a_tls_port() {
    if tls_compiled() {
        return;
    }
    let output = Command::new(kevy_matrix_tests::kevy_bin())
        .args(["--port", "0", "--tls-port", "6999"])
        .output()
        .expect("kevy runs");
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(log.contains("rebuild with `--features tls`"), "{log}");
}
