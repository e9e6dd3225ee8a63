//! How one command is described to clients: a [`Described`] command or
//! subcommand, its flags and ACL categories (Redis's order, Redis's
//! implicit categories added), its `COMMAND INFO` entry and its `COMMAND
//! DOCS` map, from kevy's table and Redis's reference.

use super::reference::{self, Node};
use crate::cmd::{lookup, CommandSpec, KeySpec};
use crate::resp::ReplyBuf;

/// `COMMAND INFO` flags in the order Redis prints them; kevy-only flags
/// (such as `sentinel`) are not printed, as Redis hides them too.
const FLAG_ORDER: [&str; 21] = [
    "write",
    "readonly",
    "denyoom",
    "module",
    "admin",
    "pubsub",
    "noscript",
    "blocking",
    "loading",
    "stale",
    "skip_monitor",
    "skip_slowlog",
    "asking",
    "fast",
    "no_auth",
    "may_replicate",
    "no_mandatory_keys",
    "no_async_loading",
    "no_multi",
    "movablekeys",
    "allow_busy",
];

/// ACL categories in the order Redis prints them.
const ACL_ORDER: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// A command or one of its subcommands.
#[derive(Clone, Copy)]
pub(super) enum Described {
    Command(&'static CommandSpec),
    Sub {
        parent: &'static CommandSpec,
        sub: &'static str,
    },
}

impl Described {
    /// Finds `get` or `config|get` (any case).
    pub(super) fn find(name: &[u8]) -> Option<Described> {
        let text = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
        match text.split_once('|') {
            None => lookup(name).map(Described::Command),
            Some((parent, sub)) => {
                let parent = lookup(parent.as_bytes())?;
                let sub = parent.subcommands.iter().find(|s| sub_name(s) == sub)?;
                Some(Described::Sub { parent, sub })
            }
        }
    }

    pub(super) fn full_name(&self) -> String {
        match self {
            Described::Command(spec) => spec.name.to_string(),
            Described::Sub { parent, sub } => format!("{}|{}", parent.name, sub_name(sub)),
        }
    }

    pub(super) fn reference(&self) -> Option<&'static reference::Reference> {
        reference::lookup(&self.full_name())
    }

    /// ACL categories without `@`, in Redis's order.
    pub(super) fn acl_categories(&self) -> Vec<&'static str> {
        match self {
            Described::Command(spec) => acl_categories(spec),
            Described::Sub { parent, .. } => match self.reference() {
                Some(reference) => {
                    let listed: Vec<&str> = reference.acl_categories().collect();
                    ACL_ORDER
                        .into_iter()
                        .filter(|c| listed.contains(c))
                        .collect()
                }
                None => acl_categories(parent),
            },
        }
    }

    pub(super) fn subcommands(&self) -> Vec<Described> {
        match self {
            Described::Command(spec) => spec
                .subcommands
                .iter()
                .map(|sub| Described::Sub { parent: spec, sub })
                .collect(),
            Described::Sub { .. } => Vec::new(),
        }
    }
}

/// `get` for both `get` and `config|get` in a `subcommands` list.
fn sub_name(listed: &str) -> &str {
    listed.split_once('|').map_or(listed, |(_, sub)| sub)
}

pub(super) fn flags(spec: &CommandSpec) -> Vec<&'static str> {
    // A container (`XGROUP`, `XINFO`) finds its key through a subcommand;
    // Redis reports `movablekeys` on the subcommands, not the container.
    let movable = matches!(spec.keys, KeySpec::Custom { .. }) && spec.subcommands.is_empty();
    FLAG_ORDER
        .into_iter()
        .filter(|f| spec.flags.contains(f) || (*f == "movablekeys" && movable))
        .collect()
}

/// The table's categories plus those Redis implies from the flags.
pub(super) fn acl_categories(spec: &CommandSpec) -> Vec<&'static str> {
    let has = |flag: &str| spec.flags.contains(&flag);
    let listed = |cat: &str| spec.acl.iter().any(|a| a.strip_prefix('@') == Some(cat));
    let fast = has("fast") || listed("fast");
    ACL_ORDER
        .into_iter()
        .filter(|cat| {
            listed(cat)
                || match *cat {
                    "write" => has("write"),
                    "read" => has("readonly") && !listed("scripting"),
                    "admin" | "dangerous" => has("admin"),
                    "pubsub" => has("pubsub"),
                    "fast" => fast,
                    "blocking" => has("blocking"),
                    "slow" => !fast,
                    _ => false,
                }
        })
        .collect()
}

/// One `COMMAND INFO` entry: name, arity, flags, first key, last key,
/// step, ACL categories, tips, key specs, subcommands.
pub(super) fn write_info(reply: &mut ReplyBuf, described: Described) {
    let reference = described.reference();
    let spec = match described {
        Described::Command(spec) => spec,
        Described::Sub { .. } => {
            if let Some(reference) = reference {
                // Redis's entry for the subcommand, as Redis prints it.
                reply.array(10);
                for item in reference.info.items().iter().take(9) {
                    item.emit(reply);
                }
                reply.set(0);
                return;
            }
            reply.array(10);
            reply.bulk(described.full_name().as_bytes());
            reply.int(-2);
            reply.set(0);
            reply.int(0);
            reply.int(0);
            reply.int(0);
            write_categories(reply, &described.acl_categories());
            reply.set(0);
            reply.set(0);
            reply.set(0);
            return;
        }
    };
    reply.array(10);
    reply.bulk(spec.name.as_bytes());
    reply.int(i64::from(spec.arity));
    let flags = flags(spec);
    reply.set(flags.len());
    for flag in flags {
        reply.simple(flag);
    }
    let (first, last, step) = spec.key_range();
    reply.int(i64::from(first));
    reply.int(i64::from(last));
    reply.int(i64::from(step));
    write_categories(reply, &described.acl_categories());
    match reference.and_then(|r| r.tips()) {
        Some(tips) => tips.emit(reply),
        None => reply.set(0),
    }
    match reference.and_then(|r| r.key_specs()) {
        Some(specs) => specs.emit(reply),
        None => write_derived_key_specs(reply, spec),
    }
    let subcommands = described.subcommands();
    if subcommands.is_empty() {
        reply.set(0);
    } else {
        reply.array(subcommands.len());
        for sub in subcommands {
            write_info(reply, sub);
        }
    }
}

pub(super) fn write_categories(reply: &mut ReplyBuf, categories: &[&str]) {
    reply.set(categories.len());
    for cat in categories {
        reply.simple(&format!("@{cat}"));
    }
}

/// Key specs for a command Redis does not describe, from its key range.
pub(super) fn write_derived_key_specs(reply: &mut ReplyBuf, spec: &CommandSpec) {
    let KeySpec::Range { first, last, step } = spec.keys else {
        reply.set(0);
        return;
    };
    if first <= 0 {
        reply.set(0);
        return;
    }
    let flags: &[&str] = if spec.is_write() {
        &["RW", "update"]
    } else if spec.flags.contains(&"readonly") {
        &["RO", "access"]
    } else {
        &[]
    };
    let lastkey = if last < 0 { last } else { last - first };
    reply.set(1);
    reply.map(3);
    reply.bulk(b"flags");
    reply.set(flags.len());
    for flag in flags {
        reply.simple(flag);
    }
    write_search_step(reply, b"begin_search", b"index", 1);
    reply.bulk(b"index");
    reply.int(i64::from(first));
    write_search_step(reply, b"find_keys", b"range", 3);
    reply.bulk(b"lastkey");
    reply.int(i64::from(lastkey));
    reply.bulk(b"keystep");
    reply.int(i64::from(step));
    reply.bulk(b"limit");
    reply.int(0);
}

/// A key spec's `begin_search` or `find_keys` entry up to its `spec` map
/// of `fields` entries, which the caller writes.
fn write_search_step(reply: &mut ReplyBuf, step: &[u8], kind: &[u8], fields: usize) {
    reply.bulk(step);
    reply.map(2);
    reply.bulk(b"type");
    reply.bulk(kind);
    reply.bulk(b"spec");
    reply.map(fields);
}

/// A `COMMAND DOCS` map: Redis's documentation when it has the command
/// (kevy's summary, version and group otherwise), plus the subcommands.
pub(super) fn write_docs(reply: &mut ReplyBuf, described: Described) {
    let subcommands = described.subcommands();
    let extra = usize::from(!subcommands.is_empty());
    match described.reference().map(|r| &r.docs) {
        Some(Node::Map(pairs)) => {
            reply.map(pairs.len() + extra);
            for (key, value) in pairs {
                key.emit(reply);
                value.emit(reply);
            }
        }
        _ => {
            let (summary, since, group) = match described {
                Described::Command(spec) => (spec.summary, spec.since, spec.group),
                Described::Sub { parent, .. } => ("", parent.since, parent.group),
            };
            reply.map(3 + extra);
            for (key, value) in [("summary", summary), ("since", since), ("group", group)] {
                reply.bulk(key.as_bytes());
                reply.bulk(value.as_bytes());
            }
        }
    }
    if !subcommands.is_empty() {
        reply.bulk(b"subcommands");
        reply.map(subcommands.len());
        for sub in subcommands {
            reply.bulk(sub.full_name().as_bytes());
            write_docs(reply, sub);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implicit_categories() {
        let get = lookup(b"get").expect("GET exists");
        assert_eq!(acl_categories(get), vec!["read", "string", "fast"]);
        let info = lookup(b"info").expect("INFO exists");
        assert_eq!(acl_categories(info), vec!["slow", "dangerous"]);
    }

    #[test]
    fn finds_subcommands() {
        assert!(Described::find(b"CONFIG|GET").is_some());
        assert!(Described::find(b"config|nosuch").is_none());
        assert!(Described::find(b"nosuch").is_none());
        assert_eq!(
            Described::find(b"Client|Kill").map(|d| d.full_name()),
            Some("client|kill".to_string())
        );
    }
}
