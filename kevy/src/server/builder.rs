//! The library API: a builder over the same configuration the binary reads
//! from its command line. A program picks the addresses, shards, backend,
//! TLS and data directory, starts the server, and stops it:
//!
//! ```no_run
//! use kevy::server::{Server, Transport};
//!
//! let running = Server::builder()
//!     .bind("127.0.0.1")
//!     .port(0)
//!     .threads(2)
//!     .transport(Transport::Mio)
//!     .start()
//!     .expect("kevy starts");
//! println!("serving on {}", running.addrs()[0]);
//! running.stop();
//! running.wait();
//! ```
//!
//! Every setter records a configuration directive; the first invalid one is
//! reported by [`ServerBuilder::build`] or [`ServerBuilder::start`].

use std::path::Path;

use super::{RunningServer, Server, ServerError, Transport};
use crate::config::Config;

/// TLS settings, named as `redis-server`'s `tls-*` directives.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// The port served over TLS (beside the plain one unless that is 0).
    pub port: u16,
    pub cert_file: String,
    pub key_file: String,
    /// The CA that client certificates must chain to (when clients are
    /// authenticated).
    pub ca_cert_file: String,
    /// `yes`, `no` or `optional`, as `tls-auth-clients`.
    pub auth_clients: String,
}

/// Builds a [`Server`] from settings; see the module documentation.
pub struct ServerBuilder {
    config: Config,
    error: Option<ServerError>,
}

impl Server {
    /// A builder with Redis's defaults (port 6379 on 127.0.0.1, one shard
    /// per core, the first compiled backend).
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            config: Config::default(),
            error: None,
        }
    }
}

impl ServerBuilder {
    /// Sets any configuration directive by its Redis name (`hz`,
    /// `maxclients`, `requirepass`, ...), as on the command line.
    pub fn config(mut self, name: &str, value: &str) -> Self {
        let values: Vec<&str> = value.split_whitespace().collect();
        let values = if values.is_empty() { vec![""] } else { values };
        if let Err(source) = self.config.set_startup(name, &values) {
            self.error.get_or_insert(ServerError::Config {
                name: name.to_string(),
                source,
            });
        }
        self
    }

    /// The addresses to listen on, separated by spaces (`*` for every IPv4
    /// address, `-addr` for one that may be missing).
    pub fn bind(self, addresses: &str) -> Self {
        self.config("bind", addresses)
    }

    /// The plain TCP port; 0 picks a free one (see [`RunningServer::addrs`]).
    pub fn port(self, port: u16) -> Self {
        self.config("port", &port.to_string())
    }

    /// Shards (threads); 0 means one per core.
    pub fn threads(self, threads: usize) -> Self {
        self.config("threads", &threads.to_string())
    }

    /// The I/O backend (it must be compiled in).
    pub fn transport(self, transport: Transport) -> Self {
        self.config("transport", transport.name())
    }

    /// Binds each shard thread to its own core.
    pub fn pin_cores(self, pin: bool) -> Self {
        self.config("pin-cores", if pin { "yes" } else { "no" })
    }

    /// The directory for data files (`dir`).
    pub fn data_dir(self, dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        self.config("dir", &dir.to_string_lossy())
    }

    /// Serves TLS on `options.port` (needs the `tls` feature).
    pub fn tls(mut self, options: TlsOptions) -> Self {
        self = self.config("tls-port", &options.port.to_string());
        for (name, value) in [
            ("tls-cert-file", &options.cert_file),
            ("tls-key-file", &options.key_file),
            ("tls-ca-cert-file", &options.ca_cert_file),
        ] {
            if let Err(source) = self.config.set_startup(name, &[value]) {
                self.error.get_or_insert(ServerError::Config {
                    name: name.to_string(),
                    source,
                });
            }
        }
        if !options.auth_clients.is_empty() {
            self = self.config("tls-auth-clients", &options.auth_clients);
        }
        self
    }

    /// The configuration so far.
    pub fn configuration(&self) -> &Config {
        &self.config
    }

    /// The server, not started yet.
    pub fn build(self) -> Result<Server, ServerError> {
        match self.error {
            Some(err) => Err(err),
            None => Ok(Server::new(self.config)),
        }
    }

    /// Builds and starts the server.
    pub fn start(self) -> Result<RunningServer, ServerError> {
        self.build()?.start()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_become_directives_and_bad_values_are_reported() {
        let builder = Server::builder()
            .bind("127.0.0.1 -::1")
            .port(0)
            .threads(3)
            .pin_cores(true)
            .config("hz", "20");
        let config = builder.configuration();
        assert_eq!(config.bind, ["127.0.0.1", "-::1"]);
        assert_eq!(config.threads, 3);
        assert_eq!(config.get("pin-cores"), Some("yes"));
        assert_eq!(config.get("hz"), Some("20"));
        assert!(builder.build().is_ok());

        let err = Server::builder()
            .config("hz", "fast")
            .threads(2)
            .build()
            .err()
            .expect("a bad value is an error");
        assert_eq!(
            err.to_string(),
            "invalid configuration 'hz': argument couldn't be parsed into an integer"
        );
    }
}
