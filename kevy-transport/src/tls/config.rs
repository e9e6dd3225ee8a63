//! Building rustls configurations from Redis-style TLS settings.
//!
//! The server side reads `tls-cert-file`, `tls-key-file`, `tls-ca-cert-file`
//! and `tls-auth-clients no|yes|optional` (as `redis-server` does) into one
//! shared [`ServerConfig`]; the client side (the replication link, tests)
//! gets a [`ClientConfig`] trusting a CA file and optionally presenting a
//! certificate. PEM files are read and parsed here, so every failure a person
//! can fix (a missing file, a file that is not PEM, a key that does not
//! belong to the certificate) comes back as a [`TlsError`] naming the file.
//!
//! Cryptography is rustls's `ring` provider, passed explicitly
//! (`builder_with_provider`) so no process-wide default has to be installed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use super::server_name::ChainOnlyServerVerifier;

/// Whether clients connecting over TLS must present a certificate
/// (`tls-auth-clients`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthClients {
    /// No certificate is asked for (`tls-auth-clients no`).
    No,
    /// A certificate signed by the CA is required (`tls-auth-clients yes`,
    /// Redis's default).
    #[default]
    Yes,
    /// A certificate is asked for and verified when presented; clients
    /// without one are accepted too (`tls-auth-clients optional`).
    Optional,
}

impl AuthClients {
    /// Parses the value of `tls-auth-clients` as Redis does (case-insensitive
    /// `yes`, `no`, `optional`).
    pub fn parse(value: &str) -> Option<AuthClients> {
        match value.to_ascii_lowercase().as_str() {
            "yes" => Some(AuthClients::Yes),
            "no" => Some(AuthClients::No),
            "optional" => Some(AuthClients::Optional),
            _ => None,
        }
    }
}

/// The server's TLS settings, by the names of `redis-server`'s options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// `tls-cert-file`: the server certificate chain (leaf first), PEM.
    pub cert_file: PathBuf,
    /// `tls-key-file`: the private key of that certificate, PEM (PKCS#8,
    /// PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// `tls-ca-cert-file`: CA certificates that client certificates are
    /// verified against. Required unless `auth_clients` is `No`.
    pub ca_cert_file: Option<PathBuf>,
    /// `tls-auth-clients`.
    pub auth_clients: AuthClients,
}

/// What can go wrong while building a TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not read {}: {source}", path.display())]
    UnreadableFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not valid PEM: {source}", path.display())]
    BadPem {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("no certificate found in {}", path.display())]
    NoCertificate { path: PathBuf },
    #[error("no private key found in {}", path.display())]
    NoPrivateKey { path: PathBuf },
    #[error("the private key in {} does not match the certificate in {}", key.display(), cert.display())]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    /// Redis's own wording for a missing CA when clients are authenticated.
    #[error("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!")]
    MissingCaCertFile,
    #[error("the CA certificates in {} could not be used: {source}", path.display())]
    BadCaCertificate {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("the private key in {} could not be used: {source}", path.display())]
    BadPrivateKey {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("the certificate in {} could not be used: {source}", path.display())]
    BadCertificate {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("building the certificate verifier failed: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("building the TLS configuration failed: {0}")]
    Config(#[source] rustls::Error),
}

/// The crypto provider every kevy TLS configuration uses.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the server configuration shared by every TLS connection.
pub fn server_config(settings: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = crypto_provider();
    let chain = load_certificates(&settings.cert_file)?;
    let key = load_private_key(&settings.key_file)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?;
    let builder = match settings.auth_clients {
        AuthClients::No => builder.with_no_client_auth(),
        auth => {
            let ca_file = settings
                .ca_cert_file
                .as_deref()
                .ok_or(TlsError::MissingCaCertFile)?;
            let roots = Arc::new(load_roots(ca_file)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
            let verifier = if auth == AuthClients::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build()?)
        }
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|source| certified_key_error(source, &settings.cert_file, &settings.key_file))?;
    Ok(Arc::new(config))
}

/// A client's certificate and key files (`tls-cert-file`/`tls-key-file` or
/// `tls-client-cert-file`/`tls-client-key-file` on a replica).
#[derive(Debug, Clone, Copy)]
pub struct ClientIdentity<'a> {
    pub cert_file: &'a Path,
    pub key_file: &'a Path,
}

/// Builds a client configuration that trusts the CAs in `ca_cert_file` and
/// presents `identity` when the server asks for a certificate.
///
/// As a Redis replica does, the server's chain is verified against the CA
/// but its name is not checked (a primary is usually addressed by IP), so
/// the server name given to `ClientConnection::new` only feeds SNI.
pub fn client_config(
    ca_cert_file: &Path,
    identity: Option<ClientIdentity<'_>>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = crypto_provider();
    let roots = Arc::new(load_roots(ca_cert_file)?);
    let verifier = ChainOnlyServerVerifier::new(roots, provider.clone())?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some(identity) => {
            let chain = load_certificates(identity.cert_file)?;
            let key = load_private_key(identity.key_file)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|source| {
                    certified_key_error(source, identity.cert_file, identity.key_file)
                })?
        }
    };
    Ok(Arc::new(config))
}

fn read_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::UnreadableFile {
        path: path.to_path_buf(),
        source,
    })
}

/// Every certificate in a PEM file, in file order (leaf first for a chain).
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_file(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::BadPem {
            path: path.to_path_buf(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read_file(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|source| match source {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoPrivateKey {
            path: path.to_path_buf(),
        },
        source => TlsError::BadPem {
            path: path.to_path_buf(),
            source,
        },
    })
}

/// The CA certificates of a PEM file as trust anchors.
fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certificates(path)? {
        roots
            .add(cert)
            .map_err(|source| TlsError::BadCaCertificate {
                path: path.to_path_buf(),
                source,
            })?;
    }
    Ok(roots)
}

/// Names the files in an error from pairing a certificate with its key.
fn certified_key_error(source: rustls::Error, cert: &Path, key: &Path) -> TlsError {
    match source {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            TlsError::KeyMismatch {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
            }
        }
        // The only general error of loading a key: it is of no known type.
        rustls::Error::General(_) => TlsError::BadPrivateKey {
            path: key.to_path_buf(),
            source,
        },
        source => TlsError::BadCertificate {
            path: cert.to_path_buf(),
            source,
        },
    }
}
