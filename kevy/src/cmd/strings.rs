//! String commands: `GET SET MGET MSET MSETNX` and the rest of the family.

use super::{errors, CommandSpec, ExecCtx, Gather, Handler, KeySpec, Route};
use crate::keyspace::{RString, Value};
use crate::resp::Argv;

const fn key1() -> KeySpec {
    KeySpec::Range {
        first: 1,
        last: 1,
        step: 1,
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "get",
        arity: 2,
        flags: &["readonly", "fast"],
        acl: &["@read", "@string", "@fast"],
        keys: key1(),
        route: Route::Keyed,
        handler: Handler::Key(get),
        group: "string",
        since: "1.0.0",
        summary: "Get the value of a key",
        subcommands: &[],
    },
    CommandSpec {
        name: "set",
        arity: -3,
        flags: &["write", "denyoom"],
        acl: &["@write", "@string", "@slow"],
        keys: key1(),
        route: Route::Keyed,
        handler: Handler::Key(set),
        group: "string",
        since: "1.0.0",
        summary: "Set the string value of a key",
        subcommands: &[],
    },
    CommandSpec {
        name: "mget",
        arity: -2,
        flags: &["readonly", "fast"],
        acl: &["@read", "@string", "@fast"],
        keys: KeySpec::Range {
            first: 1,
            last: -1,
            step: 1,
        },
        route: Route::Scatter(Gather::ByKeyPosition),
        handler: Handler::Key(mget),
        group: "string",
        since: "1.0.0",
        summary: "Get the values of all the given keys",
        subcommands: &[],
    },
    CommandSpec {
        name: "mset",
        arity: -3,
        flags: &["write", "denyoom"],
        acl: &["@write", "@string", "@slow"],
        keys: KeySpec::Range {
            first: 1,
            last: -1,
            step: 2,
        },
        route: Route::Scatter(Gather::AllOk),
        handler: Handler::Key(mset),
        group: "string",
        since: "1.0.1",
        summary: "Set multiple keys to multiple values",
        subcommands: &[],
    },
    CommandSpec {
        name: "msetnx",
        arity: -3,
        flags: &["write", "denyoom"],
        acl: &["@write", "@string", "@slow"],
        keys: KeySpec::Range {
            first: 1,
            last: -1,
            step: 2,
        },
        route: Route::Atomic,
        handler: Handler::Key(msetnx),
        group: "string",
        since: "1.0.1",
        summary: "Set multiple keys to multiple values, only if none of the keys exist",
        subcommands: &[],
    },
];

/// The string at `key`: Ok(None) when absent, Err(()) after replying
/// WRONGTYPE.
pub fn read_string<'e>(ctx: &'e mut ExecCtx, key: &[u8]) -> Result<Option<&'e RString>, ()> {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match db.get_touch(key, now, clock) {
        None => {
            ctx.stats.keyspace_misses += 1;
            Ok(None)
        }
        Some(entry) => match &entry.value {
            Value::Str(s) => {
                ctx.stats.keyspace_hits += 1;
                Ok(Some(s))
            }
            #[allow(unreachable_patterns)]
            _ => {
                ctx.reply.error(errors::WRONGTYPE);
                Err(())
            }
        },
    }
}

fn get(ctx: &mut ExecCtx, argv: Argv) {
    let mut scratch = Vec::new();
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match db.get_touch(argv.get(1), now, clock) {
        None => {
            ctx.stats.keyspace_misses += 1;
            ctx.reply.null();
        }
        Some(entry) => match &entry.value {
            Value::Str(s) => {
                ctx.stats.keyspace_hits += 1;
                ctx.reply.bulk(s.as_bytes(&mut scratch));
            }
            #[allow(unreachable_patterns)]
            _ => ctx.reply.error(errors::WRONGTYPE),
        },
    }
}

fn set(ctx: &mut ExecCtx, argv: Argv) {
    if argv.len() != 3 {
        ctx.reply.error(errors::SYNTAX);
        return;
    }
    let clock = ctx.clock;
    ctx.db().set(
        argv.get(1),
        Value::Str(RString::from_client(argv.get(2))),
        false,
        clock,
    );
    ctx.reply.ok();
}

fn mget(ctx: &mut ExecCtx, argv: Argv) {
    let mut scratch = Vec::new();
    let (now, clock) = (ctx.now_ms, ctx.clock);
    ctx.reply.array(argv.len() - 1);
    for key in argv.iter().skip(1) {
        let db = ctx.keyspace.db(ctx.db_index);
        match db.get_touch(key, now, clock).map(|e| &e.value) {
            Some(Value::Str(s)) => {
                ctx.stats.keyspace_hits += 1;
                ctx.reply.bulk(s.as_bytes(&mut scratch));
            }
            #[allow(unreachable_patterns)]
            _ => {
                ctx.stats.keyspace_misses += 1;
                ctx.reply.null();
            }
        }
    }
}

fn mset(ctx: &mut ExecCtx, argv: Argv) {
    if argv.len() % 2 == 0 {
        ctx.reply.error(&errors::wrong_args("mset"));
        return;
    }
    let clock = ctx.clock;
    for i in (1..argv.len()).step_by(2) {
        ctx.db().set(
            argv.get(i),
            Value::Str(RString::from_client(argv.get(i + 1))),
            false,
            clock,
        );
    }
    ctx.reply.ok();
}

fn msetnx(ctx: &mut ExecCtx, argv: Argv) {
    if argv.len() % 2 == 0 {
        ctx.reply.error(&errors::wrong_args("msetnx"));
        return;
    }
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let any = (1..argv.len())
        .step_by(2)
        .any(|i| ctx.db().contains(argv.get(i), now));
    if any {
        ctx.reply.int(0);
        return;
    }
    for i in (1..argv.len()).step_by(2) {
        ctx.db().set(
            argv.get(i),
            Value::Str(RString::from_client(argv.get(i + 1))),
            false,
            clock,
        );
    }
    ctx.reply.int(1);
}
