//! The transaction commands' table entries: `MULTI`, `EXEC`, `DISCARD`,
//! `WATCH`, `UNWATCH`. They are connection commands; their logic lives in
//! the shard core (`shard::multi`, `shard::multi_run`), which queues the
//! commands sent between `MULTI` and `EXEC` and runs them in one step.

use super::{CommandSpec, Handler, KeySpec, Route};
use crate::resp::Argv;
use crate::shard::multi::{
    discard_command, exec_command, multi_command, unwatch_command, watch_command,
};
use crate::shard::ConnCtx;

const FAST: &[&str] = &["noscript", "loading", "stale", "fast", "allow_busy"];
const ACL_FAST: &[&str] = &["@fast", "@transaction"];

#[allow(clippy::too_many_arguments)]
const fn transaction(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    acl: &'static [&'static str],
    keys: KeySpec,
    handler: fn(&mut ConnCtx, Argv),
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl,
        keys,
        route: Route::Local,
        handler: Handler::Conn(handler),
        group: "transactions",
        since,
        summary,
        subcommands: &[],
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    transaction(
        "multi",
        1,
        FAST,
        ACL_FAST,
        KeySpec::None,
        multi_command,
        "1.2.0",
        "Mark the start of a transaction block",
    ),
    transaction(
        "exec",
        1,
        &["noscript", "loading", "stale", "skip_slowlog"],
        &["@slow", "@transaction"],
        KeySpec::None,
        exec_command,
        "1.2.0",
        "Execute all commands issued after MULTI",
    ),
    transaction(
        "discard",
        1,
        FAST,
        ACL_FAST,
        KeySpec::None,
        discard_command,
        "2.0.0",
        "Discard all commands issued after MULTI",
    ),
    transaction(
        "watch",
        -2,
        FAST,
        ACL_FAST,
        KeySpec::Range {
            first: 1,
            last: -1,
            step: 1,
        },
        watch_command,
        "2.2.0",
        "Watch the given keys to determine execution of the MULTI/EXEC block",
    ),
    transaction(
        "unwatch",
        1,
        FAST,
        ACL_FAST,
        KeySpec::None,
        unwatch_command,
        "2.2.0",
        "Forget about all watched keys",
    ),
];
