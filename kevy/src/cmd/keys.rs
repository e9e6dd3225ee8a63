//! Generic key commands: the command table of the family and the simple
//! ones (`DEL UNLINK EXISTS TYPE TOUCH DBSIZE FLUSHDB FLUSHALL`). Listing
//! (`KEYS SCAN RANDOMKEY`), moving values between names and databases
//! (`RENAME RENAMENX COPY MOVE SWAPDB`) and `OBJECT` live in `keys/`.
//!
//! Multi-key counts (`DEL`, `EXISTS`, `TOUCH`) are scattered by shard and
//! their integer replies summed; whole-keyspace commands run on every shard;
//! `RENAME` and `COPY` are atomic across shards: the core hands their
//! handlers a keyspace holding copies of both keys (see `shard::coord`).

mod listing;
mod object;
mod relocate;

use super::{errors, keyed, CommandSpec, ExecCtx, Gather, Handler, KeySpec, Route};
use crate::config::Config;
use crate::resp::Argv;

const ALL_KEYS: KeySpec = KeySpec::Range {
    first: 1,
    last: -1,
    step: 1,
};
const TWO_KEYS: KeySpec = KeySpec::Range {
    first: 1,
    last: 2,
    step: 1,
};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "del",
        arity: -2,
        flags: &["write"],
        acl: &["@keyspace", "@write", "@slow"],
        keys: ALL_KEYS,
        route: Route::Scatter(Gather::SumIntegers),
        handler: Handler::Key(del),
        group: "generic",
        since: "1.0.0",
        summary: "Delete a key",
        subcommands: &[],
    },
    CommandSpec {
        name: "unlink",
        arity: -2,
        flags: &["write", "fast"],
        acl: &["@keyspace", "@write", "@fast"],
        keys: ALL_KEYS,
        route: Route::Scatter(Gather::SumIntegers),
        handler: Handler::Key(del),
        group: "generic",
        since: "4.0.0",
        summary: "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
        subcommands: &[],
    },
    CommandSpec {
        name: "exists",
        arity: -2,
        flags: &["readonly", "fast"],
        acl: &["@keyspace", "@read", "@fast"],
        keys: ALL_KEYS,
        route: Route::Scatter(Gather::SumIntegers),
        handler: Handler::Key(exists),
        group: "generic",
        since: "1.0.0",
        summary: "Determine if a key exists",
        subcommands: &[],
    },
    keyed(
        "type",
        2,
        &["readonly", "fast"],
        &["@keyspace", "@read", "@fast"],
        type_of,
        "generic",
        "1.0.0",
        "Determine the type stored at key",
    ),
    CommandSpec {
        name: "touch",
        arity: -2,
        flags: &["readonly", "fast"],
        acl: &["@keyspace", "@read", "@fast"],
        keys: ALL_KEYS,
        route: Route::Scatter(Gather::SumIntegers),
        handler: Handler::Key(touch),
        group: "generic",
        since: "3.2.1",
        summary: "Alters the last access time of a key(s). Returns the number of existing keys specified.",
        subcommands: &[],
    },
    CommandSpec {
        name: "dbsize",
        arity: 1,
        flags: &["readonly", "fast"],
        acl: &["@keyspace", "@read", "@fast"],
        keys: KeySpec::None,
        route: Route::AllShards(Gather::SumIntegers),
        handler: Handler::Key(dbsize),
        group: "server",
        since: "1.0.0",
        summary: "Return the number of keys in the selected database",
        subcommands: &[],
    },
    CommandSpec {
        name: "flushdb",
        arity: -1,
        flags: &["write"],
        acl: &["@keyspace", "@write", "@slow", "@dangerous"],
        keys: KeySpec::None,
        route: Route::AllShards(Gather::AllOk),
        handler: Handler::Key(flushdb),
        group: "server",
        since: "1.0.0",
        summary: "Remove all keys from the current database",
        subcommands: &[],
    },
    CommandSpec {
        name: "flushall",
        arity: -1,
        flags: &["write"],
        acl: &["@keyspace", "@write", "@slow", "@dangerous"],
        keys: KeySpec::None,
        route: Route::AllShards(Gather::AllOk),
        handler: Handler::Key(flushall),
        group: "server",
        since: "1.0.0",
        summary: "Remove all keys from all databases",
        subcommands: &[],
    },
    CommandSpec {
        name: "keys",
        arity: 2,
        flags: &["readonly"],
        acl: &["@keyspace", "@read", "@slow", "@dangerous"],
        keys: KeySpec::None,
        route: Route::AllShards(Gather::ConcatArrays),
        handler: Handler::Key(listing::keys),
        group: "generic",
        since: "1.0.0",
        summary: "Find all keys matching the given pattern",
        subcommands: &[],
    },
    CommandSpec {
        name: "scan",
        arity: -2,
        flags: &["readonly"],
        acl: &["@keyspace", "@read", "@slow"],
        keys: KeySpec::None,
        route: Route::ScanShards,
        handler: Handler::Key(listing::scan),
        group: "generic",
        since: "2.8.0",
        summary: "Incrementally iterate the keys space",
        subcommands: &[],
    },
    CommandSpec {
        name: "randomkey",
        arity: 1,
        flags: &["readonly"],
        acl: &["@keyspace", "@read", "@slow"],
        keys: KeySpec::None,
        route: Route::AllShards(Gather::AnyNonNull),
        handler: Handler::Key(listing::randomkey),
        group: "generic",
        since: "1.0.0",
        summary: "Return a random key from the keyspace",
        subcommands: &[],
    },
    CommandSpec {
        name: "rename",
        arity: 3,
        flags: &["write"],
        acl: &["@keyspace", "@write", "@slow"],
        keys: TWO_KEYS,
        route: Route::Atomic,
        handler: Handler::Key(relocate::rename),
        group: "generic",
        since: "1.0.0",
        summary: "Rename a key",
        subcommands: &[],
    },
    CommandSpec {
        name: "renamenx",
        arity: 3,
        flags: &["write", "fast"],
        acl: &["@keyspace", "@write", "@fast"],
        keys: TWO_KEYS,
        route: Route::Atomic,
        handler: Handler::Key(relocate::renamenx),
        group: "generic",
        since: "1.0.0",
        summary: "Rename a key, only if the new key does not exist",
        subcommands: &[],
    },
    CommandSpec {
        name: "copy",
        arity: -3,
        flags: &["write", "denyoom"],
        acl: &["@keyspace", "@write", "@slow"],
        keys: TWO_KEYS,
        route: Route::Atomic,
        handler: Handler::Key(relocate::copy),
        group: "generic",
        since: "6.2.0",
        summary: "Copy a key",
        subcommands: &[],
    },
    keyed(
        "move",
        3,
        &["write", "fast"],
        &["@keyspace", "@write", "@fast"],
        relocate::move_to_db,
        "generic",
        "1.0.0",
        "Move a key to another database",
    ),
    CommandSpec {
        name: "swapdb",
        arity: 3,
        flags: &["write", "fast"],
        acl: &["@keyspace", "@write", "@fast", "@dangerous"],
        keys: KeySpec::None,
        route: Route::AllShards(Gather::AllOk),
        handler: Handler::Key(relocate::swapdb),
        group: "server",
        since: "4.0.0",
        summary: "Swaps two Redis databases",
        subcommands: &[],
    },
    CommandSpec {
        name: "object",
        arity: -2,
        flags: &[],
        acl: &["@slow"],
        // As in Redis, the container reports no keys; the subcommands name
        // theirs at position 2.
        keys: KeySpec::Custom {
            first: 0,
            last: 0,
            step: 0,
            find: object::key_position,
        },
        route: Route::Keyed,
        handler: Handler::Key(object::object),
        group: "generic",
        since: "2.2.3",
        summary: "A container for object introspection commands",
        subcommands: object::SUBCOMMANDS,
    },
];

/// `maxmemory-policy` is one of the LFU policies: Redis then tracks access
/// frequencies instead of access times (`OBJECT FREQ`, `RESTORE ... FREQ`).
pub(super) fn lfu_policy_selected(config: &Config) -> bool {
    config
        .get("maxmemory-policy")
        .is_some_and(|policy| policy.ends_with("lfu"))
}

/// `DEL` and `UNLINK` (values are freed at once either way).
fn del(ctx: &mut ExecCtx, argv: Argv) {
    let now = ctx.now_ms;
    let deleted = argv
        .iter()
        .skip(1)
        .filter(|key| ctx.db().delete(key, now))
        .count();
    ctx.reply.int(deleted as i64);
}

fn exists(ctx: &mut ExecCtx, argv: Argv) {
    let found = argv
        .iter()
        .skip(1)
        .filter(|key| ctx.read_entry_notouch(key).is_some())
        .count();
    ctx.reply.int(found as i64);
}

fn touch(ctx: &mut ExecCtx, argv: Argv) {
    let touched = argv
        .iter()
        .skip(1)
        .filter(|key| ctx.read_entry(key).is_some())
        .count();
    ctx.reply.int(touched as i64);
}

fn type_of(ctx: &mut ExecCtx, argv: Argv) {
    let name = ctx
        .read_entry_notouch(argv.get(1))
        .map_or("none", |e| e.value.type_name());
    ctx.reply.simple(name);
}

fn dbsize(ctx: &mut ExecCtx, _argv: Argv) {
    let len = ctx.db().len();
    ctx.reply.int(len as i64);
}

/// `[ASYNC|SYNC]`, the only option of FLUSHDB and FLUSHALL.
fn flush_option_ok(argv: Argv) -> bool {
    match argv.len() {
        1 => true,
        2 => {
            argv.get(1).eq_ignore_ascii_case(b"async") || argv.get(1).eq_ignore_ascii_case(b"sync")
        }
        _ => false,
    }
}

fn flushdb(ctx: &mut ExecCtx, argv: Argv) {
    if !flush_option_ok(argv) {
        ctx.reply.error(errors::SYNTAX);
        return;
    }
    ctx.db().clear();
    ctx.reply.ok();
}

fn flushall(ctx: &mut ExecCtx, argv: Argv) {
    if !flush_option_ok(argv) {
        ctx.reply.error(errors::SYNTAX);
        return;
    }
    for db in &mut ctx.keyspace.dbs {
        db.clear();
    }
    ctx.reply.ok();
}
