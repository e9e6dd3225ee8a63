//! Replication options that need features: links over TLS (`tls`,
//! certificates made at test time with rcgen; a replica with a
//! certificate from another CA is refused and refuses the primary) and
//! zstd-compressed full-sync chunks (`zstd`; a replica that does not ask
//! for zstd, as a build without it, gets plain chunks from the same
//! primary). Without the features these tests compile to nothing:
//! `cargo test -p kevy --features tls,zstd --test replication_options`.

#![allow(dead_code)]

mod replication_support;
mod support;

#[cfg(any(feature = "tls", feature = "zstd"))]
use std::path::Path;
#[cfg(any(feature = "tls", feature = "zstd"))]
use std::time::Duration;

#[cfg(any(feature = "tls", feature = "zstd"))]
use replication_support::*;

#[cfg(feature = "zstd")]
fn log_of(dir: &Path, port: u16) -> String {
    std::fs::read_to_string(dir.join(format!("kevy-{port}.log"))).unwrap_or_default()
}

#[cfg(feature = "zstd")]
#[test]
fn zstd_chunks_for_replicas_that_ask_plain_for_the_others() {
    let dir = temp_dir("zstd");
    let primary = kevy_on(&dir, 0, 2, &["--repl-snapshot-compression", "zstd"]);
    write_load(primary.port, 40, 800);
    let zstd = replica_of(
        &dir,
        primary.port,
        1,
        &["--repl-snapshot-compression", "zstd"],
    );
    let plain = replica_of(&dir, primary.port, 3, &[]);
    write_load(primary.port, 41, 300);
    wait_converged(primary.port, zstd.port, Duration::from_secs(10));
    wait_converged(primary.port, plain.port, Duration::from_secs(10));
    let log = log_of(&dir, primary.port);
    assert!(log.contains("codec zstd"), "{log}");
    assert!(log.contains("codec plain"), "{log}");
}

#[cfg(feature = "tls")]
mod tls {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    use std::path::PathBuf;

    struct Ca {
        issuer: Issuer<'static, KeyPair>,
        cert_file: PathBuf,
    }

    struct Identity {
        cert_file: PathBuf,
        key_file: PathBuf,
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write a certificate file");
        path
    }

    impl Ca {
        fn new(dir: &Path, name: &str) -> Ca {
            let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
            params.distinguished_name.push(DnType::CommonName, name);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            let key = KeyPair::generate().expect("a key");
            let cert = params.self_signed(&key).expect("a CA certificate");
            Ca {
                cert_file: write(dir, &format!("{name}-ca.crt"), &cert.pem()),
                issuer: Issuer::new(params, key),
            }
        }

        fn issue(&self, dir: &Path, name: &str) -> Identity {
            let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
            let mut params = CertificateParams::new(names).expect("leaf params");
            params.distinguished_name.push(DnType::CommonName, name);
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
            let key = KeyPair::generate().expect("a key");
            let cert = params.signed_by(&key, &self.issuer).expect("a certificate");
            Identity {
                cert_file: write(dir, &format!("{name}.crt"), &cert.pem()),
                key_file: write(dir, &format!("{name}.key"), &key.serialize_pem()),
            }
        }
    }

    fn tls_args<'a>(ca: &'a Ca, id: &'a Identity) -> Vec<&'a str> {
        let path = |p: &'a PathBuf| p.to_str().expect("UTF-8 temp paths");
        vec![
            "--tls-replication",
            "yes",
            "--tls-cert-file",
            path(&id.cert_file),
            "--tls-key-file",
            path(&id.key_file),
            "--tls-ca-cert-file",
            path(&ca.cert_file),
        ]
    }

    #[test]
    fn links_over_tls_and_a_foreign_certificate_refused() {
        let dir = temp_dir("tls");
        let ca = Ca::new(&dir, "good");
        let primary_id = ca.issue(&dir, "primary");
        let replica_id = ca.issue(&dir, "replica");
        let primary = kevy_on(&dir, 0, 2, &tls_args(&ca, &primary_id));
        write_load(primary.port, 50, 500);
        let replica = replica_of(&dir, primary.port, 3, &tls_args(&ca, &replica_id));
        write_load(primary.port, 51, 300);
        wait_converged(primary.port, replica.port, Duration::from_secs(10));

        // A replica whose certificate (and trust) come from another CA.
        let other = Ca::new(&dir, "other");
        let stranger_id = other.issue(&dir, "stranger");
        let stranger = replica_of(&dir, primary.port, 1, &tls_args(&other, &stranger_id));
        std::thread::sleep(Duration::from_millis(800));
        assert_eq!(
            info_field(stranger.port, "master_link_status").as_deref(),
            Some("down")
        );
        let error = info_field(stranger.port, "kevy_last_link_error").unwrap_or_default();
        assert!(!error.is_empty(), "the refusal is reported");
        assert_eq!(digest(stranger.port), 0, "nothing was replicated");
        // A plain-text replica cannot use the TLS replication ports.
        let plain = replica_of(&dir, primary.port, 1, &[]);
        std::thread::sleep(Duration::from_millis(800));
        assert_eq!(
            info_field(plain.port, "master_link_status").as_deref(),
            Some("down")
        );
        assert_eq!(digest(plain.port), 0);
    }
}
