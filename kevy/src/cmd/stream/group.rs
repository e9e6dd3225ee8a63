//! `XGROUP CREATE | SETID | DESTROY | CREATECONSUMER | DELCONSUMER | HELP`.
//!
//! Follows Redis's `xgroupCommand` step by step, because its error order is
//! visible: the subcommand and its arity, then CREATE's and SETID's
//! options, then the key (which must exist unless `MKSTREAM`), then the
//! group (which SETID, CREATECONSUMER and DELCONSUMER need), then the
//! subcommand's own argument count, and only then the ID.

use super::{
    c_text, lookup_write, no_such_group, option_is, reply_help, stream_or_create,
    strict_id_or_reply, subcommand, subcommand_syntax_error, StreamLookup,
};
use crate::cmd::{errors, ExecCtx};
use crate::keyspace::stream::{parse_id, ConsumerGroup, IdSyntax, ENTRIES_READ_UNKNOWN};
use crate::resp::num::parse_i64;
use crate::resp::Argv;

const KEY_REQUIRED: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";
const ENTRIES_READ_RANGE: &str = "ERR value for ENTRIESREAD must be positive or -1";
const BUSYGROUP: &str = "BUSYGROUP Consumer Group name already exists";
const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

const SUBCOMMANDS: &[(&str, i32)] = &[
    ("create", -5),
    ("setid", -5),
    ("destroy", 4),
    ("createconsumer", 5),
    ("delconsumer", 5),
    ("help", 2),
];

const HELP: &[&str] = &[
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
];

/// An ENTRIESREAD value, or the error reply.
fn entries_read_or_reply(ctx: &mut ExecCtx, arg: &[u8]) -> Option<i64> {
    match parse_i64(arg) {
        None => {
            ctx.reply.error(errors::NOT_INTEGER);
            None
        }
        Some(n) if n < 0 && n != ENTRIES_READ_UNKNOWN => {
            ctx.reply.error(ENTRIES_READ_RANGE);
            None
        }
        Some(n) => Some(n),
    }
}

pub(super) fn xgroup(ctx: &mut ExecCtx, argv: Argv) {
    let Some(sub) = subcommand(&mut ctx.reply, argv, "XGROUP", SUBCOMMANDS) else {
        return;
    };
    if sub == "help" {
        return reply_help(&mut ctx.reply, "XGROUP", HELP);
    }
    let argc = argv.len();
    let mut mkstream = false;
    let mut entries_read = ENTRIES_READ_UNKNOWN;
    if sub == "create" {
        let mut i = 5;
        while i < argc {
            if option_is(argv.get(i), "mkstream") {
                mkstream = true;
                i += 1;
            } else if option_is(argv.get(i), "entriesread") && i + 1 < argc {
                entries_read = match entries_read_or_reply(ctx, argv.get(i + 1)) {
                    Some(n) => n,
                    None => return,
                };
                i += 2;
            } else {
                return subcommand_syntax_error(&mut ctx.reply, argv.get(1), "XGROUP");
            }
        }
    } else if sub == "setid" {
        if argc == 7 {
            if !option_is(argv.get(5), "entriesread") {
                return subcommand_syntax_error(&mut ctx.reply, argv.get(1), "XGROUP");
            }
            entries_read = match entries_read_or_reply(ctx, argv.get(6)) {
                Some(n) => n,
                None => return,
            };
        } else if argc != 5 {
            return subcommand_syntax_error(&mut ctx.reply, argv.get(1), "XGROUP");
        }
    }
    let (key, group_name) = (argv.get(2), argv.get(3));
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let exists = match lookup_write(db, key, now, clock) {
        StreamLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        StreamLookup::Absent => false,
        StreamLookup::Found(stream) => {
            let needs_group = matches!(sub, "setid" | "createconsumer" | "delconsumer");
            if needs_group && !mkstream && !stream.groups.contains_key(group_name) {
                return no_such_group(&mut ctx.reply, group_name, key);
            }
            true
        }
    };
    if !exists && !mkstream {
        return ctx.reply.error(KEY_REQUIRED);
    }
    match sub {
        "create" if argc <= 8 => {
            let id_arg = argv.get(4);
            let id = if c_text(id_arg) == b"$" {
                None
            } else {
                match strict_id_or_reply(&mut ctx.reply, id_arg) {
                    Some(id) => Some(id),
                    None => return,
                }
            };
            let stream = stream_or_create(db, key, now, clock);
            let id = id.unwrap_or(stream.entries.last_id);
            if stream.groups.contains_key(group_name) {
                return ctx.reply.error(BUSYGROUP);
            }
            stream
                .groups
                .insert(group_name.into(), ConsumerGroup::new(id, entries_read));
            ctx.reply.ok();
        }
        "setid" => {
            let stream = stream_or_create(db, key, now, clock);
            let id_arg = argv.get(4);
            let id = if c_text(id_arg) == b"$" {
                stream.entries.last_id
            } else {
                match parse_id(id_arg, IdSyntax::lenient(0)) {
                    Some(parsed) => parsed.id,
                    None => return ctx.reply.error(INVALID_ID),
                }
            };
            if let Some(group) = stream.groups.get_mut(group_name) {
                group.last_id = id;
                group.entries_read = entries_read;
            }
            ctx.reply.ok();
        }
        "destroy" => {
            let stream = stream_or_create(db, key, now, clock);
            let removed = stream.groups.remove(group_name).is_some();
            ctx.reply.int(i64::from(removed));
        }
        "createconsumer" => {
            let stream = stream_or_create(db, key, now, clock);
            let created = stream
                .groups
                .get_mut(group_name)
                .is_some_and(|g| g.create_consumer(argv.get(4), now as i64));
            ctx.reply.int(i64::from(created));
        }
        "delconsumer" => {
            let stream = stream_or_create(db, key, now, clock);
            let pending = stream
                .groups
                .get_mut(group_name)
                .and_then(|g| g.delete_consumer(argv.get(4)))
                .unwrap_or(0);
            ctx.reply.int(pending as i64);
        }
        _ => subcommand_syntax_error(&mut ctx.reply, argv.get(1), "XGROUP"),
    }
}
