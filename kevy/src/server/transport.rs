//! Which I/O backend runs the shards. Backends are compiled in by Cargo
//! features; among those compiled in, the `transport` directive
//! (`--transport mio|polling|glommio`) or the `KEVY_TRANSPORT` environment
//! variable picks one at start, else the first compiled in the order mio,
//! polling, glommio. The choice is made once: [`Server::start`] matches on
//! it and calls the generic start for that backend, so the loops are
//! static code with no dispatch per event.
//!
//! [`Server::start`]: super::Server::start

use std::fmt;
use std::str::FromStr;

use super::ServerError;

/// An I/O backend of `kevy-transport`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// mio's readiness loop (epoll on Linux); feature `mio`, the default.
    Mio,
    /// The polling crate's readiness loop (edge-triggered); feature `polling`.
    Polling,
    /// glommio's io_uring executor (Linux); feature `glommio`.
    Glommio,
}

/// The environment variable that picks a backend when the configuration
/// leaves it to `auto`.
pub const TRANSPORT_ENV: &str = "KEVY_TRANSPORT";

impl Transport {
    /// Every backend, in the order of preference for `auto`.
    pub const ALL: [Transport; 3] = [Transport::Mio, Transport::Polling, Transport::Glommio];

    pub fn name(self) -> &'static str {
        match self {
            Transport::Mio => "mio",
            Transport::Polling => "polling",
            Transport::Glommio => "glommio",
        }
    }

    /// The Cargo feature that compiles this backend in.
    pub fn feature(self) -> &'static str {
        self.name()
    }

    /// True when this build contains the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            Transport::Mio => cfg!(feature = "mio"),
            Transport::Polling => cfg!(feature = "polling"),
            Transport::Glommio => cfg!(all(feature = "glommio", target_os = "linux")),
        }
    }

    /// The backends compiled into this build, in order of preference.
    pub fn compiled() -> Vec<Transport> {
        Transport::ALL
            .into_iter()
            .filter(|t| t.is_compiled())
            .collect()
    }

    /// Resolves a configured choice: `auto` (or empty) defers to
    /// [`TRANSPORT_ENV`], then to the first compiled backend; a backend that
    /// is not compiled in is an error naming the feature that enables it.
    pub fn resolve(configured: &str, env: Option<&str>) -> Result<Transport, ServerError> {
        let wanted = match configured {
            "" | "auto" => match env.map(str::trim) {
                Some(name) if !name.is_empty() && name != "auto" => name,
                _ => {
                    return Transport::compiled()
                        .first()
                        .copied()
                        .ok_or(ServerError::NoTransport)
                }
            },
            name => name,
        };
        let transport: Transport = wanted.parse()?;
        if transport.is_compiled() {
            Ok(transport)
        } else {
            Err(not_compiled(transport))
        }
    }
}

/// The error for a backend this build lacks, naming the feature to enable.
pub(super) fn not_compiled(transport: Transport) -> ServerError {
    let compiled = Transport::compiled()
        .iter()
        .map(|t| t.name())
        .collect::<Vec<_>>()
        .join(", ");
    ServerError::TransportNotCompiled {
        name: transport.name(),
        feature: transport.feature(),
        compiled,
    }
}

impl FromStr for Transport {
    type Err = ServerError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Transport::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| ServerError::UnknownTransport(text.to_string()))
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_picks_the_environment_then_the_first_compiled() {
        let first = Transport::compiled()[0];
        assert_eq!(Transport::resolve("auto", None).unwrap(), first);
        assert_eq!(Transport::resolve("", Some("  ")).unwrap(), first);
        assert_eq!(Transport::resolve("auto", Some("auto")).unwrap(), first);
        assert_eq!(
            Transport::resolve("auto", Some(first.name())).unwrap(),
            first
        );
        assert_eq!(
            Transport::resolve(first.name(), Some("nonsense")).unwrap(),
            first
        );
    }

    #[test]
    fn unknown_and_missing_backends_are_clear_errors() {
        let err = Transport::resolve("uring", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown transport 'uring' (expected mio, polling or glommio)"
        );
        for transport in Transport::ALL {
            if transport.is_compiled() {
                continue;
            }
            let err = Transport::resolve(transport.name(), None).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains(&format!("--features {}", transport.feature())),
                "{text}"
            );
        }
    }
}
