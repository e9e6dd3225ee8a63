//! `COMMAND [COUNT | INFO | DOCS | LIST | GETKEYS | GETKEYSANDFLAGS |
//! HELP]`: the command table as clients read it.
//!
//! What kevy does comes from its own table (`CommandSpec`: arity, flags,
//! key positions, ACL categories with Redis's implicit ones added); what
//! only describes a command (key specs, tips, documentation, subcommand
//! details) comes from Redis's reference ([`reference`]), so replies for
//! commands both have match Redis. A command Redis does not describe gets
//! entries built from kevy's table alone.

mod entries;
mod key_flags;
pub(super) mod reference;

use super::server::{reply_help, run_subcommand, Subcommand};
use super::{errors, lookup, CommandSpec, ConnCtx, Handler, KeySpec, Route};
use crate::glob::glob_match;
use crate::resp::{Argv, OwnedArgv};
use entries::{write_docs, write_info, Described};

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
    use super::entries::{acl_categories, flags};
    use super::reference::Node;
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
}
