//! Generic key commands: `DEL EXISTS DBSIZE FLUSHDB FLUSHALL KEYS SCAN` and
//! the rest of the family.

use super::{errors, CommandSpec, ExecCtx, Gather, Handler, KeySpec, Route};
use crate::glob::glob_match;
use crate::resp::num::parse_i64;
use crate::resp::Argv;

const ALL_KEYS: KeySpec = KeySpec::Range {
    first: 1,
    last: -1,
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
        handler: Handler::Key(keys),
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
        handler: Handler::Key(scan),
        group: "generic",
        since: "2.8.0",
        summary: "Incrementally iterate the keys space",
        subcommands: &[],
    },
];

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
    let now = ctx.now_ms;
    let found = argv
        .iter()
        .skip(1)
        .filter(|key| ctx.db().contains(key, now))
        .count();
    ctx.reply.int(found as i64);
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

fn keys(ctx: &mut ExecCtx, argv: Argv) {
    let pattern = argv.get(1);
    let now = ctx.now_ms;
    let all = pattern == b"*";
    let found: Vec<crate::keyspace::Key> = ctx
        .db()
        .iter_live(now)
        .filter(|e| all || glob_match(pattern, &e.key, false))
        .map(|e| e.key.clone())
        .collect();
    ctx.reply.bulks(found.iter().map(|k| &k[..]));
}

fn scan(ctx: &mut ExecCtx, argv: Argv) {
    let Some(cursor) = crate::resp::num::parse_u64(argv.get(1)) else {
        ctx.reply.error("ERR invalid cursor");
        return;
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut type_name: Option<Vec<u8>> = None;
    let mut i = 2;
    while i < argv.len() {
        let option = argv.get(i);
        let has_value = i + 1 < argv.len();
        if option.eq_ignore_ascii_case(b"count") && has_value {
            match parse_i64(argv.get(i + 1)) {
                None => {
                    ctx.reply.error(errors::NOT_INTEGER);
                    return;
                }
                Some(n) if n < 1 => {
                    ctx.reply.error(errors::SYNTAX);
                    return;
                }
                Some(n) => count = n as usize,
            }
        } else if option.eq_ignore_ascii_case(b"match") && has_value {
            pattern = Some(argv.get(i + 1));
        } else if option.eq_ignore_ascii_case(b"type") && has_value {
            type_name = Some(argv.get(i + 1).to_ascii_lowercase());
        } else {
            ctx.reply.error(errors::SYNTAX);
            return;
        }
        i += 2;
    }
    let now = ctx.now_ms;
    let mut found: Vec<crate::keyspace::Key> = Vec::new();
    let next = ctx.db().scan(cursor, count, now, |entry| {
        if let Some(p) = pattern {
            if !glob_match(p, &entry.key, false) {
                return;
            }
        }
        if let Some(t) = &type_name {
            if entry.value.type_name().as_bytes() != t.as_slice() {
                return;
            }
        }
        found.push(entry.key.clone());
    });
    ctx.reply.array(2);
    ctx.reply.bulk(next.to_string().as_bytes());
    ctx.reply.bulks(found.iter().map(|k| &k[..]));
}
