//! `COMMAND [COUNT | INFO | DOCS | LIST | GETKEYS | GETKEYSANDFLAGS |
//! HELP]`: the command table as clients read it.
//!
//! What kevy does comes from its own table (`CommandSpec`: arity, flags,
//! key positions, ACL categories with Redis's implicit ones added); what
//! only describes a command (key specs, tips, documentation, subcommand
//! details) comes from Redis's reference ([`reference`]), so replies for
//! commands both have match Redis. A command Redis does not describe gets
//! entries built from kevy's table alone.

mod key_flags;
pub(super) mod reference;

use super::server::{reply_help, run_subcommand, Subcommand};
use super::{errors, lookup, CommandSpec, ConnCtx, Handler, KeySpec, Route};
use crate::glob::glob_match;
use crate::resp::{Argv, OwnedArgv, ReplyBuf};
use reference::Node;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "command",
    arity: -1,
    flags: &["loading", "stale"],
    acl: &["@slow", "@connection"],
    keys: KeySpec::None,
    route: Route::Local,
    handler: Handler::Conn(command),
    group: "server",
    since: "2.8.13",
    summary: "Get array of Redis command details",
    subcommands: &[
        "count",
        "docs",
        "getkeys",
        "getkeysandflags",
        "help",
        "info",
        "list",
    ],
}];

static SUBCOMMANDS: &[Subcommand] = &[
    Subcommand {
        full_name: "command|count",
        arity: 2,
        handler: command_count,
    },
    Subcommand {
        full_name: "command|docs",
        arity: -2,
        handler: command_docs,
    },
    Subcommand {
        full_name: "command|getkeys",
        arity: -4,
        handler: command_getkeys,
    },
    Subcommand {
        full_name: "command|getkeysandflags",
        arity: -4,
        handler: command_getkeysandflags,
    },
    Subcommand {
        full_name: "command|help",
        arity: 2,
        handler: command_help,
    },
    Subcommand {
        full_name: "command|info",
        arity: -2,
        handler: command_info,
    },
    Subcommand {
        full_name: "command|list",
        arity: -2,
        handler: command_list,
    },
];

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
enum Described {
    Command(&'static CommandSpec),
    Sub {
        parent: &'static CommandSpec,
        sub: &'static str,
    },
}

impl Described {
    /// Finds `get` or `config|get` (any case).
    fn find(name: &[u8]) -> Option<Described> {
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

    fn full_name(&self) -> String {
        match self {
            Described::Command(spec) => spec.name.to_string(),
            Described::Sub { parent, sub } => format!("{}|{}", parent.name, sub_name(sub)),
        }
    }

    fn reference(&self) -> Option<&'static reference::Reference> {
        reference::lookup(&self.full_name())
    }

    /// ACL categories without `@`, in Redis's order.
    fn acl_categories(&self) -> Vec<&'static str> {
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

    fn subcommands(&self) -> Vec<Described> {
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

fn flags(spec: &CommandSpec) -> Vec<&'static str> {
    let movable = matches!(spec.keys, KeySpec::Custom { .. });
    FLAG_ORDER
        .into_iter()
        .filter(|f| spec.flags.contains(f) || (*f == "movablekeys" && movable))
        .collect()
}

/// The table's categories plus those Redis implies from the flags.
fn acl_categories(spec: &CommandSpec) -> Vec<&'static str> {
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

fn command(ctx: &mut ConnCtx, argv: Argv) {
    if argv.len() == 1 {
        let all: Vec<Described> = super::all().map(Described::Command).collect();
        let mut reply = ctx.reply();
        reply.array(all.len());
        for described in all {
            write_info(&mut reply, described);
        }
        return;
    }
    run_subcommand(ctx, argv, "command", SUBCOMMANDS);
}

fn command_help(ctx: &mut ConnCtx, _argv: Argv) {
    reply_help(
        ctx,
        "command",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
}

fn command_count(ctx: &mut ConnCtx, _argv: Argv) {
    let count = super::all().count();
    ctx.reply().int(count as i64);
}

fn command_info(ctx: &mut ConnCtx, argv: Argv) {
    let asked: Vec<Option<Described>> = if argv.len() == 2 {
        super::all().map(|s| Some(Described::Command(s))).collect()
    } else {
        argv.iter().skip(2).map(Described::find).collect()
    };
    let mut reply = ctx.reply();
    reply.array(asked.len());
    for described in asked {
        match described {
            Some(described) => write_info(&mut reply, described),
            None => reply.null(),
        }
    }
}

/// One `COMMAND INFO` entry: name, arity, flags, first key, last key,
/// step, ACL categories, tips, key specs, subcommands.
fn write_info(reply: &mut ReplyBuf, described: Described) {
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

fn write_categories(reply: &mut ReplyBuf, categories: &[&str]) {
    reply.set(categories.len());
    for cat in categories {
        reply.simple(&format!("@{cat}"));
    }
}

/// Key specs for a command Redis does not describe, from its key range.
fn write_derived_key_specs(reply: &mut ReplyBuf, spec: &CommandSpec) {
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
    reply.bulk(b"begin_search");
    reply.map(2);
    reply.bulk(b"type");
    reply.bulk(b"index");
    reply.bulk(b"spec");
    reply.map(1);
    reply.bulk(b"index");
    reply.int(i64::from(first));
    reply.bulk(b"find_keys");
    reply.map(2);
    reply.bulk(b"type");
    reply.bulk(b"range");
    reply.bulk(b"spec");
    reply.map(3);
    reply.bulk(b"lastkey");
    reply.int(i64::from(lastkey));
    reply.bulk(b"keystep");
    reply.int(i64::from(step));
    reply.bulk(b"limit");
    reply.int(0);
}

fn command_docs(ctx: &mut ConnCtx, argv: Argv) {
    let found: Vec<Described> = if argv.len() == 2 {
        super::all().map(Described::Command).collect()
    } else {
        argv.iter().skip(2).filter_map(Described::find).collect()
    };
    let mut reply = ctx.reply();
    reply.map(found.len());
    for described in found {
        reply.bulk(described.full_name().as_bytes());
        write_docs(&mut reply, described);
    }
}

/// A `COMMAND DOCS` map: Redis's documentation when it has the command
/// (kevy's summary, version and group otherwise), plus the subcommands.
fn write_docs(reply: &mut ReplyBuf, described: Described) {
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

/// Which commands `COMMAND LIST FILTERBY` keeps.
enum ListFilter {
    All,
    Module,
    AclCategory(String),
    Pattern(Vec<u8>),
}

impl ListFilter {
    fn keeps(&self, described: &Described) -> bool {
        match self {
            ListFilter::All => true,
            // No modules can be loaded.
            ListFilter::Module => false,
            ListFilter::AclCategory(cat) => described
                .acl_categories()
                .iter()
                .any(|c| c.eq_ignore_ascii_case(cat)),
            ListFilter::Pattern(pattern) => {
                glob_match(pattern, described.full_name().as_bytes(), true)
            }
        }
    }
}

fn command_list(ctx: &mut ConnCtx, argv: Argv) {
    let filter = if argv.len() == 2 {
        ListFilter::All
    } else if argv.len() == 5 && argv.get(2).eq_ignore_ascii_case(b"filterby") {
        let (kind, value) = (argv.get(3), argv.get(4));
        if kind.eq_ignore_ascii_case(b"module") {
            ListFilter::Module
        } else if kind.eq_ignore_ascii_case(b"aclcat") {
            ListFilter::AclCategory(String::from_utf8_lossy(value).into_owned())
        } else if kind.eq_ignore_ascii_case(b"pattern") {
            ListFilter::Pattern(value.to_vec())
        } else {
            ctx.reply().error(errors::SYNTAX);
            return;
        }
    } else {
        ctx.reply().error(errors::SYNTAX);
        return;
    };
    let mut names = Vec::new();
    for spec in super::all() {
        let described = Described::Command(spec);
        for one in std::iter::once(described).chain(described.subcommands()) {
            if filter.keeps(&one) {
                names.push(one.full_name());
            }
        }
    }
    let mut reply = ctx.reply();
    reply.array(names.len());
    for name in names {
        reply.bulk(name.as_bytes());
    }
}

/// The command named in `COMMAND GETKEYS <command> <args...>` and the
/// positions (in that command's own argv) of its keys, or Redis's error.
fn keys_of(argv: Argv) -> Result<(&'static CommandSpec, OwnedArgv, Vec<usize>), &'static str> {
    let inner = OwnedArgv::from_slices(argv.iter().skip(2));
    let Some(spec) = lookup(argv.get(2)) else {
        return Err("ERR Invalid command specified");
    };
    if matches!(spec.keys, KeySpec::None) {
        return Err("ERR The command has no key arguments");
    }
    if !spec.arity_ok(inner.len()) {
        return Err("ERR Invalid number of arguments specified for command");
    }
    let mut positions = Vec::new();
    spec.key_positions(inner.argv(), &mut positions);
    if positions.is_empty() && !spec.flags.contains(&"no_mandatory_keys") {
        return Err("ERR Invalid arguments specified for command");
    }
    Ok((spec, inner, positions))
}

fn command_getkeys(ctx: &mut ConnCtx, argv: Argv) {
    match keys_of(argv) {
        Err(text) => ctx.reply().error(text),
        Ok((_, inner, positions)) => {
            let mut reply = ctx.reply();
            reply.array(positions.len());
            for pos in positions {
                reply.bulk(inner.argv().get(pos));
            }
        }
    }
}

fn command_getkeysandflags(ctx: &mut ConnCtx, argv: Argv) {
    match keys_of(argv) {
        Err(text) => ctx.reply().error(text),
        Ok((spec, inner, positions)) => {
            let flags = key_flags::flags_by_position(spec, inner.argv());
            let mut reply = ctx.reply();
            reply.array(positions.len());
            for pos in positions {
                reply.array(2);
                reply.bulk(inner.argv().get(pos));
                let these = flags
                    .iter()
                    .find(|(p, _)| *p == pos)
                    .map(|(_, f)| f.as_slice())
                    .unwrap_or_default();
                reply.set(these.len());
                for flag in these {
                    reply.simple(flag);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommand_table_matches_spec_and_redis() {
        assert_eq!(
            super::super::server::names_of(SUBCOMMANDS),
            COMMANDS[0].subcommands
        );
    }

    /// kevy's own container commands agree with Redis on what COMMAND
    /// prints for them, including every subcommand's arity.
    #[test]
    fn own_commands_agree_with_redis() {
        for name in ["info", "config", "client", "command", "time"] {
            let spec = lookup(name.as_bytes()).expect("in the table");
            let redis = reference::lookup(name).expect("Redis has it");
            assert_eq!(redis.arity(), Some(i64::from(spec.arity)), "{name}");
            let redis_flags: Vec<&str> = redis.info.items()[2]
                .items()
                .iter()
                .filter_map(Node::as_str)
                .collect();
            assert_eq!(flags(spec), redis_flags, "{name}");
            let redis_acl: Vec<&str> = redis.acl_categories().collect();
            assert_eq!(acl_categories(spec), redis_acl, "{name}");
            for sub in spec.subcommands {
                let full = format!("{name}|{sub}");
                assert!(reference::lookup(&full).is_some(), "Redis has {full}");
            }
        }
        for table in [
            SUBCOMMANDS,
            super::super::config_cmd::subcommands(),
            super::super::client::subcommands(),
        ] {
            for sub in table {
                let redis = reference::lookup(sub.full_name).expect("Redis has it");
                assert_eq!(
                    redis.arity(),
                    Some(i64::from(sub.arity)),
                    "{}",
                    sub.full_name
                );
            }
        }
    }

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
