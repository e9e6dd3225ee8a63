//! `CLIENT ID | SETNAME | GETNAME | LIST | INFO | KILL | NO-EVICT |
//! GETREDIR | TRACKINGINFO | CACHING | UNPAUSE | UNBLOCK | HELP` (`UNBLOCK`
//! lives with the blocking commands).
//!
//! Session subcommands read or change the connection itself. `LIST`,
//! `INFO` and `KILL` concern connections of every shard: they ask each
//! shard for its clients matching a [`ClientFilter`] (or to close them)
//! and merge the answers, ordered by client id as Redis lists them.

use super::server::{reply_help, run_subcommand, Subcommand};
use super::{errors, CommandSpec, ConnCtx, Handler, KeySpec, Route};
use crate::resp::num::parse_i64;
use crate::resp::Argv;
use crate::shard::query::{Answer, ClientFilter, Query};

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "client",
    arity: -2,
    flags: &[],
    acl: &["@slow"],
    keys: KeySpec::None,
    route: Route::Local,
    handler: Handler::Conn(client),
    group: "connection",
    since: "2.4.0",
    summary: "A container for client connection commands",
    subcommands: &[
        "id",
        "info",
        "list",
        "kill",
        "getname",
        "setname",
        "no-evict",
        "getredir",
        "trackinginfo",
        "caching",
        "unpause",
        "unblock",
        "help",
    ],
}];

static SUBCOMMANDS: &[Subcommand] = &[
    Subcommand {
        full_name: "client|id",
        arity: 2,
        handler: client_id,
    },
    Subcommand {
        full_name: "client|info",
        arity: 2,
        handler: client_info,
    },
    Subcommand {
        full_name: "client|list",
        arity: -2,
        handler: client_list,
    },
    Subcommand {
        full_name: "client|kill",
        arity: -3,
        handler: client_kill,
    },
    Subcommand {
        full_name: "client|getname",
        arity: 2,
        handler: client_getname,
    },
    Subcommand {
        full_name: "client|setname",
        arity: 3,
        handler: client_setname,
    },
    Subcommand {
        full_name: "client|no-evict",
        arity: 3,
        handler: client_no_evict,
    },
    Subcommand {
        full_name: "client|getredir",
        arity: 2,
        handler: client_getredir,
    },
    Subcommand {
        full_name: "client|trackinginfo",
        arity: 2,
        handler: client_trackinginfo,
    },
    Subcommand {
        full_name: "client|caching",
        arity: 3,
        handler: client_caching,
    },
    Subcommand {
        full_name: "client|unpause",
        arity: 2,
        handler: client_unpause,
    },
    Subcommand {
        full_name: "client|unblock",
        arity: -3,
        handler: super::blocking::client_unblock,
    },
    Subcommand {
        full_name: "client|help",
        arity: 2,
        handler: client_help,
    },
];

const BAD_NAME: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

fn client(ctx: &mut ConnCtx, argv: Argv) {
    run_subcommand(ctx, argv, "client", SUBCOMMANDS);
}

fn client_help(ctx: &mut ConnCtx, _argv: Argv) {
    reply_help(
        ctx,
        "client",
        &[
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    );
}

fn client_id(ctx: &mut ConnCtx, _argv: Argv) {
    let id = ctx.conn().client_id;
    ctx.reply().int(id as i64);
}

fn client_getname(ctx: &mut ConnCtx, _argv: Argv) {
    let name = ctx.conn().name.clone();
    let mut reply = ctx.reply();
    if name.is_empty() {
        reply.null();
    } else {
        reply.bulk(&name);
    }
}

fn client_setname(ctx: &mut ConnCtx, argv: Argv) {
    let name = argv.get(2);
    // Names must keep CLIENT LIST splittable on spaces.
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        ctx.reply().error(BAD_NAME);
        return;
    }
    ctx.conn().name = name.to_vec();
    ctx.reply().ok();
}

fn client_no_evict(ctx: &mut ConnCtx, argv: Argv) {
    // No client eviction exists yet, so there is nothing to protect from;
    // the switch is accepted as Redis accepts it.
    let arg = argv.get(2);
    if arg.eq_ignore_ascii_case(b"on") || arg.eq_ignore_ascii_case(b"off") {
        ctx.reply().ok();
    } else {
        ctx.reply().error(errors::SYNTAX);
    }
}

fn client_getredir(ctx: &mut ConnCtx, _argv: Argv) {
    // Client-side caching (tracking) is never enabled.
    ctx.reply().int(-1);
}

fn client_trackinginfo(ctx: &mut ConnCtx, _argv: Argv) {
    let mut reply = ctx.reply();
    reply.map(3);
    reply.bulk(b"flags");
    reply.set(1);
    reply.bulk(b"off");
    reply.bulk(b"redirect");
    reply.int(-1);
    reply.bulk(b"prefixes");
    reply.array(0);
}

fn client_caching(ctx: &mut ConnCtx, _argv: Argv) {
    ctx.reply().error(
        "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
    );
}

fn client_unpause(ctx: &mut ConnCtx, _argv: Argv) {
    // Clients are never paused, so there is nothing to resume.
    ctx.reply().ok();
}

/// Redis's client type names, canonical form; `None` for an unknown name.
fn client_type(name: &[u8]) -> Option<&'static str> {
    ["normal", "slave", "replica", "pubsub", "master"]
        .into_iter()
        .find(|t| t.as_bytes().eq_ignore_ascii_case(name))
        .map(|t| if t == "slave" { "replica" } else { t })
}

fn unknown_type(name: &[u8]) -> String {
    format!(
        "ERR Unknown client type '{}'",
        String::from_utf8_lossy(name)
    )
}

/// The client id at the start of a `CLIENT LIST` line (`id=7 addr=...`).
fn line_id(line: &str) -> u64 {
    line.strip_prefix("id=")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|id| id.parse().ok())
        .unwrap_or(u64::MAX)
}

fn client_list(ctx: &mut ConnCtx, argv: Argv) {
    let mut filter = ClientFilter::default();
    // `ID` lists in the order asked, repeating ids asked twice.
    let mut asked_order: Option<Vec<u64>> = None;
    if argv.len() == 4 && argv.get(2).eq_ignore_ascii_case(b"type") {
        match client_type(argv.get(3)) {
            Some(kind) => filter.only_type = Some(kind.to_string()),
            None => {
                ctx.reply().error(&unknown_type(argv.get(3)));
                return;
            }
        }
    } else if argv.len() > 3 && argv.get(2).eq_ignore_ascii_case(b"id") {
        let mut ids = Vec::with_capacity(argv.len() - 3);
        for arg in argv.iter().skip(3) {
            match parse_i64(arg) {
                Some(id) => ids.push(id),
                None => {
                    ctx.reply().error("ERR Invalid client ID");
                    return;
                }
            }
        }
        // Negative ids name no client.
        let ids: Vec<u64> = ids
            .into_iter()
            .filter_map(|id| u64::try_from(id).ok())
            .collect();
        if ids.is_empty() {
            ctx.reply().verbatim(b"");
            return;
        }
        filter.ids = ids.clone();
        asked_order = Some(ids);
    } else if argv.len() != 2 {
        ctx.reply().error(errors::SYNTAX);
        return;
    }
    ctx.ask_all_shards(
        move || Query::ClientList(filter.clone()),
        move |answers, reply| {
            let mut lines: Vec<String> = answers
                .into_iter()
                .flat_map(|answer| match answer {
                    Answer::Clients(lines) => lines,
                    _ => Vec::new(),
                })
                .collect();
            lines.sort_by_key(|line| line_id(line));
            let mut text = String::new();
            match asked_order {
                Some(order) => {
                    for id in order {
                        if let Some(line) = lines.iter().find(|l| line_id(l) == id) {
                            text.push_str(line);
                            text.push('\n');
                        }
                    }
                }
                None => {
                    for line in &lines {
                        text.push_str(line);
                        text.push('\n');
                    }
                }
            }
            reply.verbatim(text.as_bytes());
        },
    );
}

fn client_info(ctx: &mut ConnCtx, _argv: Argv) {
    let me = ctx.conn().client_id;
    let filter = ClientFilter {
        ids: vec![me],
        ..ClientFilter::default()
    };
    ctx.ask_all_shards(
        move || Query::ClientList(filter.clone()),
        |answers, reply| {
            let mut text = String::new();
            for answer in answers {
                if let Answer::Clients(lines) = answer {
                    for line in lines {
                        text.push_str(&line);
                        text.push('\n');
                    }
                }
            }
            reply.verbatim(text.as_bytes());
        },
    );
}

/// Parses `CLIENT KILL` in either form: `<ip:port>` (old, replies OK or
/// an error, may kill the caller) or option/value pairs (new, replies a
/// count, spares the caller unless `SKIPME no`).
fn kill_filter(argv: Argv, me: u64) -> Result<(ClientFilter, bool), String> {
    let mut filter = ClientFilter::default();
    if argv.len() == 3 {
        filter.addr = Some(String::from_utf8_lossy(argv.get(2)).into_owned());
        return Ok((filter, true));
    }
    if argv.len() % 2 != 0 {
        return Err(errors::SYNTAX.to_string());
    }
    let mut skip_me = true;
    for pair in (2..argv.len()).step_by(2) {
        let (option, value) = (argv.get(pair), argv.get(pair + 1));
        let text = || String::from_utf8_lossy(value).into_owned();
        if option.eq_ignore_ascii_case(b"id") {
            match parse_i64(value) {
                Some(id) if id >= 1 => filter.ids = vec![id as u64],
                _ => return Err("ERR client-id should be greater than 0".to_string()),
            }
        } else if option.eq_ignore_ascii_case(b"type") {
            match client_type(value) {
                Some(kind) => filter.only_type = Some(kind.to_string()),
                None => return Err(unknown_type(value)),
            }
        } else if option.eq_ignore_ascii_case(b"addr") {
            filter.addr = Some(text());
        } else if option.eq_ignore_ascii_case(b"laddr") {
            filter.laddr = Some(text());
        } else if option.eq_ignore_ascii_case(b"user") {
            // Only the default user exists, and every client is it.
            if value != b"default" {
                return Err(format!("ERR No such user '{}'", text()));
            }
        } else if option.eq_ignore_ascii_case(b"skipme") {
            if value.eq_ignore_ascii_case(b"yes") {
                skip_me = true;
            } else if value.eq_ignore_ascii_case(b"no") {
                skip_me = false;
            } else {
                return Err(errors::SYNTAX.to_string());
            }
        } else {
            return Err(errors::SYNTAX.to_string());
        }
    }
    if skip_me {
        filter.skip_id = Some(me);
    }
    Ok((filter, false))
}

fn client_kill(ctx: &mut ConnCtx, argv: Argv) {
    let me = ctx.conn().client_id;
    let (filter, old_form) = match kill_filter(argv, me) {
        Ok(parsed) => parsed,
        Err(text) => {
            ctx.reply().error(&text);
            return;
        }
    };
    ctx.ask_all_shards(
        move || Query::ClientKill(filter.clone()),
        move |answers, reply| {
            let killed: u64 = answers
                .iter()
                .map(|answer| match answer {
                    Answer::Count(n) => *n,
                    _ => 0,
                })
                .sum();
            if !old_form {
                reply.int(killed as i64);
            } else if killed == 0 {
                reply.error("ERR No such client");
            } else {
                reply.ok();
            }
        },
    );
}

/// The subcommand table, for tests comparing it with Redis's reference.
#[cfg(test)]
pub(super) fn subcommands() -> &'static [Subcommand] {
    SUBCOMMANDS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::OwnedArgv;

    fn parse(words: &[&str]) -> Result<(ClientFilter, bool), String> {
        let owned = OwnedArgv::from_slices(words.iter().map(|w| w.as_bytes()));
        kill_filter(owned.argv(), 9)
    }

    #[test]
    fn subcommand_table_matches_spec() {
        assert_eq!(
            super::super::server::names_of(SUBCOMMANDS),
            COMMANDS[0].subcommands
        );
    }

    #[test]
    fn kill_forms() {
        let (filter, old) = parse(&["client", "kill", "1.2.3.4:5"]).unwrap();
        assert!(old);
        assert_eq!(filter.addr.as_deref(), Some("1.2.3.4:5"));
        assert_eq!(filter.skip_id, None);
        let (filter, old) = parse(&["client", "kill", "ID", "7", "TYPE", "slave"]).unwrap();
        assert!(!old);
        assert_eq!(filter.ids, vec![7]);
        assert_eq!(filter.only_type.as_deref(), Some("replica"));
        assert_eq!(filter.skip_id, Some(9));
        let (filter, _) = parse(&["client", "kill", "skipme", "NO"]).unwrap();
        assert_eq!(filter.skip_id, None);
        assert_eq!(
            parse(&["client", "kill", "id", "0"]).unwrap_err(),
            "ERR client-id should be greater than 0"
        );
        assert_eq!(
            parse(&["client", "kill", "id", "1", "id"]).unwrap_err(),
            errors::SYNTAX
        );
        assert_eq!(
            parse(&["client", "kill", "user", "bob"]).unwrap_err(),
            "ERR No such user 'bob'"
        );
        assert_eq!(
            parse(&["client", "kill", "type", "x"]).unwrap_err(),
            "ERR Unknown client type 'x'"
        );
    }

    #[test]
    fn line_ids() {
        assert_eq!(line_id("id=42 addr=x"), 42);
        assert_eq!(line_id("garbage"), u64::MAX);
    }
}
