//! Server configuration: one table of directives shared by the command
//! line (`--name value`), the config file (`name value` lines) and
//! `CONFIG GET/SET`, with Redis's names, defaults and value formats.
//!
//! Values are validated by kind and kept as their canonical text (what
//! `CONFIG GET` prints); the hot fields are also parsed into typed fields
//! of [`Config`] so commands do not parse text per request.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::glob::glob_match;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("Bad directive or wrong number of arguments")]
    UnknownDirective(String),
    #[error("argument must be 'yes' or 'no'")]
    NotBool,
    #[error("argument couldn't be parsed into an integer")]
    NotInteger,
    #[error("argument must be a memory value")]
    NotMemory,
    #[error("argument must be between {min} and {max} inclusive")]
    OutOfRange { min: i64, max: i64 },
    #[error("argument(s) must be one of the following: {0}")]
    NotOneOf(String),
    #[error("can't set immutable config")]
    Immutable,
    #[error("Invalid save parameters")]
    BadSave,
    #[error("{0}")]
    Invalid(String),
}

mod directives;
pub mod notify_events;
mod output_limits;

use directives::{Directive, Kind, ALIASES, DIRECTIVES};
pub use output_limits::{ClientClass, OutputLimit, OutputLimits};

/// Parses a Redis memory value: bytes, or a number with `k kb m mb g gb`
/// (case-insensitive; `k` is 1000, `kb` 1024).
pub fn parse_memory(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let units: [(&str, u64); 6] = [
        ("kb", 1024),
        ("mb", 1024 * 1024),
        ("gb", 1024 * 1024 * 1024),
        ("k", 1000),
        ("m", 1000 * 1000),
        ("g", 1000 * 1000 * 1000),
    ];
    let (digits, mul) = units
        .iter()
        .find(|(suffix, _)| lower.ends_with(suffix))
        .map(|(suffix, mul)| (&lower[..lower.len() - suffix.len()], *mul))
        .unwrap_or((&lower[..], 1));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(mul)
}

/// The configuration of a running server.
#[derive(Clone, Debug)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
    pub bind: Vec<String>,
    pub port: u16,
    /// Shards; 0 means the number of cores.
    pub threads: usize,
    pub dir: PathBuf,
    pub databases: usize,
    pub requirepass: Option<Vec<u8>>,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub maxclients: u64,
    pub hz: u32,
    pub output_limits: OutputLimits,
    /// `atomic-multikey`: coordinate cross-shard MGET/MSET/DEL/EXISTS.
    pub atomic_multikey: bool,
    /// `notify-keyspace-events` as [`notify_events`] flags.
    pub notify_keyspace_events: u32,
    /// Where the configuration was read from, for `INFO server`.
    pub config_file: Option<PathBuf>,
    /// Snapshot state shared by every shard's copy of the configuration.
    pub snapshots: crate::persist::SnapshotState,
}

impl Default for Config {
    fn default() -> Self {
        let mut config = Config {
            values: BTreeMap::new(),
            bind: Vec::new(),
            port: 0,
            threads: 0,
            dir: PathBuf::from("."),
            databases: 16,
            requirepass: None,
            proto_max_bulk_len: 0,
            client_query_buffer_limit: 0,
            maxclients: 0,
            hz: 10,
            output_limits: OutputLimits::default(),
            atomic_multikey: true,
            notify_keyspace_events: 0,
            config_file: None,
            snapshots: Default::default(),
        };
        for directive in DIRECTIVES {
            config
                .values
                .insert(directive.name, directive.default.to_string());
        }
        config.refresh_typed();
        config
    }
}

fn canonical(kind: Kind, args: &[&str]) -> Result<String, ConfigError> {
    let joined = args.join(" ");
    match kind {
        Kind::Bool => match joined.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err(ConfigError::NotBool),
        },
        Kind::Int { min, max } => {
            let n: i64 = joined.parse().map_err(|_| ConfigError::NotInteger)?;
            if n < min || n > max {
                return Err(ConfigError::OutOfRange { min, max });
            }
            Ok(n.to_string())
        }
        Kind::Memory => parse_memory(&joined)
            .map(|n| n.to_string())
            .ok_or(ConfigError::NotMemory),
        Kind::Text => Ok(joined),
        Kind::OneOf(options) => {
            let lower = joined.to_ascii_lowercase();
            if options.contains(&lower.as_str()) {
                Ok(lower)
            } else {
                Err(ConfigError::NotOneOf(options.join(", ")))
            }
        }
        Kind::Save => {
            let parts: Vec<&str> = joined.split_whitespace().collect();
            if parts.len() % 2 != 0 || parts.iter().any(|p| p.parse::<u64>().is_err()) {
                return Err(ConfigError::BadSave);
            }
            Ok(parts.join(" "))
        }
        // Merged with the current value by `Config::canonical_for`.
        Kind::OutputLimits => OutputLimits::parse(&joined).map(|l| l.to_text()),
        Kind::Bind => {
            let addrs: Vec<&str> = joined.split_whitespace().collect();
            if addrs.is_empty() {
                return Err(ConfigError::Invalid(
                    "Too many bind addresses specified.".into(),
                ));
            }
            Ok(addrs.join(" "))
        }
    }
}

impl Config {
    fn directive(name: &str) -> Option<&'static Directive> {
        let name = ALIASES
            .iter()
            .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
            .map_or(name, |(_, canonical)| canonical);
        DIRECTIVES
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(name))
    }

    /// Every directive by its current name (no aliases), with its value.
    pub fn canonical_values(&self) -> Vec<(&'static str, &str)> {
        self.values
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect()
    }

    /// Sets a directive at start (command line or config file).
    pub fn set_startup(&mut self, name: &str, args: &[&str]) -> Result<(), ConfigError> {
        let directive =
            Self::directive(name).ok_or_else(|| ConfigError::UnknownDirective(name.to_string()))?;
        let value = self.canonical_for(directive, args)?;
        self.values.insert(directive.name, value);
        self.refresh_typed();
        self.keep_notify_flags(directive, &args.join(" "));
        Ok(())
    }

    /// `notify-keyspace-events` keeps the classes given, not those of its
    /// canonical text: Redis prints `A` and drops `n` (which `A` does not
    /// include) from the text, yet still raises `new` events.
    fn keep_notify_flags(&mut self, directive: &Directive, given: &str) {
        if directive.name == "notify-keyspace-events" {
            if let Some(flags) = notify_events::parse(given) {
                self.notify_keyspace_events = flags;
            }
        }
    }

    /// The canonical text of `args` for `directive`; a directive made of
    /// groups changes only the groups named.
    fn canonical_for(&self, directive: &Directive, args: &[&str]) -> Result<String, ConfigError> {
        match directive.kind {
            Kind::OutputLimits => {
                let mut limits = self.output_limits;
                limits.apply(&args.join(" "))?;
                Ok(limits.to_text())
            }
            _ if directive.name == "notify-keyspace-events" => {
                notify_events::parse(&args.join(" "))
                    .map(notify_events::to_text)
                    .ok_or_else(|| ConfigError::Invalid(notify_events::INVALID.into()))
            }
            kind => {
                let value = canonical(kind, args)?;
                crate::persist::aof_state::check_directive(directive.name, &value)
                    .map_err(ConfigError::Invalid)?;
                Ok(value)
            }
        }
    }

    /// Sets a directive at run time (`CONFIG SET`).
    pub fn set_runtime(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let directive =
            Self::directive(name).ok_or_else(|| ConfigError::UnknownDirective(name.to_string()))?;
        if !directive.mutable {
            return Err(ConfigError::Immutable);
        }
        let canonical = self.canonical_for(directive, &[value])?;
        self.values.insert(directive.name, canonical);
        self.refresh_typed();
        self.keep_notify_flags(directive, value);
        Ok(())
    }

    /// True when `name` is a known directive.
    pub fn knows(name: &str) -> bool {
        Self::directive(name).is_some()
    }

    /// `(name, value)` of every directive matching the glob `pattern`.
    pub fn matching(&self, pattern: &str) -> Vec<(&'static str, &str)> {
        let aliases = ALIASES
            .iter()
            .filter_map(|(alias, canonical)| Some((*alias, self.values.get(canonical)?)));
        self.values
            .iter()
            .map(|(name, value)| (*name, value))
            .chain(aliases)
            .filter(|(name, _)| glob_match(pattern.as_bytes(), name.as_bytes(), true))
            .map(|(name, value)| (name, value.as_str()))
            .collect()
    }

    /// The value of a directive by any of its names, ignoring case.
    pub fn get_any(&self, name: &str) -> Option<&str> {
        Self::directive(name).and_then(|d| self.get(d.name))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    fn int(&self, name: &str) -> i64 {
        self.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    fn refresh_typed(&mut self) {
        let text_flags = self
            .get("notify-keyspace-events")
            .and_then(notify_events::parse)
            .unwrap_or(0);
        // Only `n` can be missing from the text (see `keep_notify_flags`).
        self.notify_keyspace_events =
            text_flags | (self.notify_keyspace_events & notify_events::NEW);
        if text_flags == 0 {
            self.notify_keyspace_events = 0;
        }
        self.bind = self
            .get("bind")
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        self.port = self.int("port") as u16;
        self.threads = self.int("threads") as usize;
        self.dir = PathBuf::from(self.get("dir").unwrap_or("."));
        self.databases = self.int("databases").max(1) as usize;
        self.requirepass = match self.get("requirepass") {
            Some("") | None => None,
            Some(pass) => Some(pass.as_bytes().to_vec()),
        };
        self.proto_max_bulk_len = self.int("proto-max-bulk-len") as u64;
        self.client_query_buffer_limit = self.int("client-query-buffer-limit") as u64;
        self.maxclients = self.int("maxclients") as u64;
        self.hz = self.int("hz").clamp(1, 500) as u32;
        self.atomic_multikey = self.get("atomic-multikey") != Some("no");
        self.output_limits = self
            .get("client-output-buffer-limit")
            .and_then(|text| OutputLimits::parse(text).ok())
            .unwrap_or_default();
    }

    /// Reads `directive value...` lines (Redis's config file format:
    /// `#` comments, quoted arguments).
    pub fn load_file_text(&mut self, text: &str) -> Result<(), (usize, String, ConfigError)> {
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut scratch = Vec::new();
            let mut ranges = Vec::new();
            let bad = |e| (number + 1, line.to_string(), e);
            if !crate::resp::split_config_line(line.as_bytes(), &mut scratch, &mut ranges) {
                return Err(bad(ConfigError::Invalid(
                    "Unbalanced quotes in configuration line".into(),
                )));
            }
            let words: Vec<String> = ranges
                .iter()
                .map(|&(s, e)| {
                    String::from_utf8_lossy(&scratch[s as usize..e as usize]).into_owned()
                })
                .collect();
            let Some((name, args)) = words.split_first() else {
                continue;
            };
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            self.set_startup(name, &args).map_err(bad)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_memory_units() {
        let mut config = Config::default();
        assert_eq!(config.proto_max_bulk_len, 512 * 1024 * 1024);
        assert_eq!(config.databases, 16);
        config.set_runtime("maxmemory", "1mb").unwrap();
        assert_eq!(config.get("maxmemory"), Some("1048576"));
        assert_eq!(
            config.set_runtime("maxmemory", "x"),
            Err(ConfigError::NotMemory)
        );
        assert_eq!(config.set_runtime("port", "1"), Err(ConfigError::Immutable));
        assert_eq!(config.matching("maxmemory*").len(), 2);
    }

    #[test]
    fn config_file_lines() {
        let mut config = Config::default();
        config
            .load_file_text("# comment\nport 7000\nrequirepass \"a b\"\nsave 900 1 300 10\n")
            .unwrap();
        assert_eq!(config.port, 7000);
        assert_eq!(config.requirepass.as_deref(), Some(&b"a b"[..]));
        assert!(config.load_file_text("nosuch 1\n").is_err());
    }
}
