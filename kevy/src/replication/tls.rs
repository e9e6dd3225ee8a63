//! TLS on replication links (`tls-replication yes`, feature `tls`).
//!
//! Primary side: the shard's replication address joins the TLS addresses
//! of `kevy_transport::tls::TlsHandler`, which wraps the whole shard
//! handler, so links are decrypted before the replication layer sees them
//! (wired in `server`). Replica side: each stream's TCP connection is
//! wrapped in a rustls client session ([`ClientTls::wrap`]) that trusts
//! `tls-ca-cert-file` and presents `tls-cert-file`/`tls-key-file` (or the
//! `tls-client-*` pair), as a Redis replica does; the primary's chain is
//! verified, a wrong certificate ends the link.

use crate::config::Config;

use super::replica::LinkIoBox;

#[cfg(feature = "tls")]
#[derive(Clone)]
pub struct ClientTls {
    config: std::sync::Arc<kevy_transport::tls::ClientConfig>,
}

/// No TLS in this build: no client configuration can exist.
#[cfg(not(feature = "tls"))]
#[derive(Clone)]
pub enum ClientTls {}

/// The client side for replication links, when `tls-replication yes`.
#[cfg(feature = "tls")]
pub fn client_tls(config: &Config) -> Result<Option<ClientTls>, String> {
    use kevy_transport::tls::{client_config, ClientIdentity};
    use std::path::Path;
    if config.get("tls-replication") != Some("yes") {
        return Ok(None);
    }
    let file = |name: &str| config.get(name).unwrap_or("").to_string();
    let ca = file("tls-ca-cert-file");
    let (mut cert, mut key) = (file("tls-client-cert-file"), file("tls-client-key-file"));
    if cert.is_empty() {
        cert = file("tls-cert-file");
        key = file("tls-key-file");
    }
    let identity = (!cert.is_empty()).then(|| ClientIdentity {
        cert_file: Path::new(&cert),
        key_file: Path::new(&key),
    });
    let config = client_config(Path::new(&ca), identity).map_err(|e| e.to_string())?;
    Ok(Some(ClientTls { config }))
}

#[cfg(not(feature = "tls"))]
pub fn client_tls(config: &Config) -> Result<Option<ClientTls>, String> {
    if config.get("tls-replication") == Some("yes") {
        return Err("tls-replication needs TLS: rebuild with `--features tls`".into());
    }
    Ok(None)
}

impl ClientTls {
    /// Wraps a connected socket; the handshake runs with the first I/O.
    #[cfg(feature = "tls")]
    pub fn wrap(&self, host: &str, tcp: std::net::TcpStream) -> Result<LinkIoBox, String> {
        use kevy_transport::tls::rustls::pki_types::ServerName;
        use kevy_transport::tls::rustls::{ClientConnection, StreamOwned};
        let name = ServerName::try_from(host.to_string())
            .or_else(|_| ServerName::try_from("kevy-primary".to_string()))
            .map_err(|e| format!("TLS server name: {e}"))?;
        let session = ClientConnection::new(self.config.clone(), name)
            .map_err(|e| format!("TLS session: {e}"))?;
        Ok(Box::new(StreamOwned::new(session, tcp)))
    }

    #[cfg(not(feature = "tls"))]
    pub fn wrap(&self, _host: &str, _tcp: std::net::TcpStream) -> Result<LinkIoBox, String> {
        match *self {}
    }
}
