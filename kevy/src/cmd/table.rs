//! The command table: every family's specs, and a case-insensitive lookup.

use hashbrown::HashMap;
use std::sync::OnceLock;

use super::CommandSpec;

/// Every command family's table.
pub static COMMANDS: &[&[CommandSpec]] = &[
    super::connection::COMMANDS,
    super::server::COMMANDS,
    super::strings::COMMANDS,
    super::keys::COMMANDS,
    super::bits::COMMANDS,
    super::expire::COMMANDS,
    super::dump::COMMANDS,
    super::info::COMMANDS,
    super::client::COMMANDS,
    super::config_cmd::COMMANDS,
    super::command_docs::COMMANDS,
    super::hash::COMMANDS,
    super::list::COMMANDS,
    super::set::COMMANDS,
    super::zset::COMMANDS,
    super::stream::COMMANDS,
    super::sort::COMMANDS,
    super::blocking::COMMANDS,
    super::pubsub::COMMANDS,
    super::multi::COMMANDS,
    super::persist::COMMANDS,
    super::replication::COMMANDS,
    super::debug::COMMANDS,
];

/// Longest command name we look up (longer names cannot exist).
const MAX_NAME: usize = 32;

/// Keyed by the name's bytes, so a lookup needs no UTF-8 check.
type Index = HashMap<&'static [u8], (usize, &'static CommandSpec)>;

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        all()
            .enumerate()
            .map(|(i, spec)| (spec.name.as_bytes(), (i, spec)))
            .collect()
    })
}

/// Finds a command by name, ignoring ASCII case.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    lookup_indexed(name).map(|(_, spec)| spec)
}

/// Number of commands in the table.
pub fn count() -> usize {
    index().len()
}

/// Finds a command and its position in [`all`] (the index of per-command
/// counters), ignoring ASCII case.
pub fn lookup_indexed(name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
    if name.len() > MAX_NAME {
        return None;
    }
    let mut lower = [0u8; MAX_NAME];
    for (dst, src) in lower.iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    index().get(&lower[..name.len()]).copied()
}

/// Every command, for `COMMAND` listings.
pub fn all() -> impl Iterator<Item = &'static CommandSpec> {
    COMMANDS.iter().flat_map(|family| family.iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lower_case() {
        let mut seen = std::collections::HashSet::new();
        for spec in all() {
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            assert!(seen.insert(spec.name), "duplicate {}", spec.name);
        }
        assert!(lookup(b"GeT").is_some());
    }
}
