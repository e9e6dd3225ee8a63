//! TLS for the server (feature `tls`): the `tls-*` directives become one
//! rustls server configuration, built once at start and shared by every
//! shard; each shard wraps its core in `kevy_transport::tls::TlsHandler`,
//! which decrypts what arrives on the TLS addresses and encrypts what
//! leaves, so the core and the backend never see TLS. Without the feature,
//! [`TlsServerConfig`] has no values and the plain core runs alone.

use std::net::SocketAddr;

use kevy_transport::{ShardLoop, TransportError};

use super::ServerError;
use crate::config::Config;
use crate::replication::handler::ReplicatedShard;

#[cfg(feature = "tls")]
pub(super) type TlsServerConfig = std::sync::Arc<kevy_transport::tls::ServerConfig>;
/// No TLS in this build: no configuration can exist.
#[cfg(not(feature = "tls"))]
#[derive(Clone)]
pub(super) enum TlsServerConfig {}

/// Whether replication links are served over TLS.
pub(super) fn tls_replication(config: &Config) -> bool {
    config.get("tls-replication") == Some("yes")
}

/// The TLS port, when `tls-port` asks for one.
pub(super) fn tls_port(config: &Config) -> Option<u16> {
    config
        .get("tls-port")
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|&p| p != 0)
}

/// Reads the certificate files named by the configuration.
#[cfg(feature = "tls")]
pub(super) fn server_config(config: &Config) -> Result<TlsServerConfig, ServerError> {
    use kevy_transport::tls::{server_config, AuthClients, TlsSettings};
    let file = |name: &str| config.get(name).unwrap_or("").to_string();
    let auth_clients =
        AuthClients::parse(config.get("tls-auth-clients").unwrap_or("yes")).unwrap_or_default();
    let ca = file("tls-ca-cert-file");
    let settings = TlsSettings {
        cert_file: file("tls-cert-file").into(),
        key_file: file("tls-key-file").into(),
        ca_cert_file: (!ca.is_empty()).then(|| ca.into()),
        auth_clients,
    };
    Ok(server_config(&settings)?)
}

#[cfg(not(feature = "tls"))]
pub(super) fn server_config(_config: &Config) -> Result<TlsServerConfig, ServerError> {
    Err(ServerError::TlsNotCompiled)
}

/// Runs one shard's loop over its core with replication around it, behind
/// TLS when configured.
pub(super) fn run_shard<L: ShardLoop>(
    shard_loop: L,
    mut core: ReplicatedShard,
    tls: Option<(TlsServerConfig, Vec<SocketAddr>)>,
) -> Result<(), TransportError> {
    crate::persist::aof_shard::attach_at_start(&mut core.core);
    match tls {
        #[cfg(feature = "tls")]
        Some((server_config, tls_addrs)) => {
            let mut handler = kevy_transport::tls::TlsHandler::new(core, server_config, tls_addrs);
            let result = shard_loop.run(&mut handler);
            crate::persist::shutdown::on_shard_stop(&mut handler.inner_mut().core);
            result
        }
        #[allow(unreachable_patterns)]
        _ => {
            let result = shard_loop.run(&mut core);
            crate::persist::shutdown::on_shard_stop(&mut core.core);
            result
        }
    }
}
