//! The blocking commands: `BLPOP BRPOP BRPOPLPUSH BLMOVE BLMPOP BZPOPMIN
//! BZPOPMAX BZMPOP`, and the `BLOCK` form of `XREAD`/`XREADGROUP`.
//!
//! A handler here only reads the arguments, as Redis does before it blocks
//! (timeout, keys, options, with Redis's error texts), into a
//! [`BlockRequest`]: the keys to wait on, what "has data" means for each
//! ([`WaitKind`]), and which ordinary command serves one key once it has
//! data ([`Serve`]: `LPOP`, `LMOVE`, `LMPOP`, `ZPOPMIN`, `ZMPOP`, `XREAD`,
//! `XREADGROUP` — the existing handlers pop, nothing is copied). The shard
//! core (`shard::blocking`) parks the connection and runs the cross-shard
//! arbiter of `kevy-blocking`; a key that already has data is served at
//! once through the same path.

mod parse;
pub mod stream;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use super::{CommandSpec, ConnCtx, Handler, KeySpec, Route};
use crate::keyspace::stream::StreamId;
use crate::resp::Argv;
pub use parse::parse_request;

/// What "the key has data" means for one waiter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitKind {
    List,
    ZSet,
    /// Entries after this ID (`None`: `$`, resolved against the live
    /// stream when the waiter is first registered on the key's shard).
    StreamAfter(Option<StreamId>),
    /// Entries the group has not delivered yet (`XREADGROUP ... >`).
    StreamGroup(Box<[u8]>),
}

/// The ordinary command that serves one ready key.
#[derive(Debug, PartialEq, Eq)]
pub enum Serve {
    /// `LPOP key` / `RPOP key` / `ZPOPMIN key` / `ZPOPMAX key`; the reply
    /// is prefixed with the key (`[key, value]`, `[key, member, score]`).
    PopWithKey(&'static str),
    /// `LMPOP 1 key LEFT|RIGHT [COUNT n]` / `ZMPOP 1 key MIN|MAX [COUNT n]`,
    /// replied as is.
    MultiPop {
        command: &'static str,
        end: Vec<u8>,
        count: Option<Vec<u8>>,
    },
    /// `LMOVE src dst from to`, replied as is. Across shards the core runs
    /// it as a coordinated command (both shards locked: the move is atomic).
    Move {
        db: usize,
        destination: Vec<u8>,
        from: Vec<u8>,
        to: Vec<u8>,
    },
    /// `XREAD [COUNT n] STREAMS key id`, with the waiter's ID.
    XRead { count: Option<Vec<u8>> },
    /// `XREADGROUP GROUP g c [COUNT n] [NOACK] STREAMS key >`.
    XReadGroup {
        group: Vec<u8>,
        consumer: Vec<u8>,
        count: Option<Vec<u8>>,
        noack: bool,
    },
}

/// A blocking call, parsed: what the core parks the connection on.
#[derive(Debug)]
pub struct BlockRequest {
    /// The keys in the command's order, each with what it waits for.
    pub keys: Vec<(Vec<u8>, WaitKind)>,
    /// Unix ms; None: forever.
    pub deadline: Option<u64>,
    pub serve: Arc<Serve>,
}

impl Serve {
    /// The arguments that serve `key` for a waiter of `kind`.
    pub fn argv(&self, key: &[u8], kind: &WaitKind) -> Vec<Vec<u8>> {
        let mut args: Vec<Vec<u8>> = Vec::with_capacity(8);
        let word = |s: &str| s.as_bytes().to_vec();
        match self {
            Serve::PopWithKey(command) => {
                args.push(word(command));
                args.push(key.to_vec());
            }
            Serve::MultiPop {
                command,
                end,
                count,
            } => {
                args.extend([word(command), word("1"), key.to_vec(), end.clone()]);
                if let Some(count) = count {
                    args.extend([word("COUNT"), count.clone()]);
                }
            }
            Serve::Move {
                destination,
                from,
                to,
                ..
            } => {
                args.extend([word("LMOVE"), key.to_vec(), destination.clone()]);
                args.extend([from.clone(), to.clone()]);
            }
            Serve::XRead { count } => {
                args.push(word("XREAD"));
                if let Some(count) = count {
                    args.extend([word("COUNT"), count.clone()]);
                }
                let id = match kind {
                    WaitKind::StreamAfter(Some(id)) => id.to_string(),
                    _ => "$".to_string(),
                };
                args.extend([word("STREAMS"), key.to_vec(), id.into_bytes()]);
            }
            Serve::XReadGroup {
                group,
                consumer,
                count,
                noack,
            } => {
                args.extend([word("XREADGROUP"), word("GROUP"), group.clone()]);
                args.push(consumer.clone());
                if let Some(count) = count {
                    args.extend([word("COUNT"), count.clone()]);
                }
                if *noack {
                    args.push(word("NOACK"));
                }
                args.extend([word("STREAMS"), key.to_vec(), word(">")]);
            }
        }
        args
    }

    /// Whether the reply of a serve is prefixed with the key.
    pub fn prefixes_key(&self) -> bool {
        matches!(self, Serve::PopWithKey(_))
    }
}

/// The handler of every blocking command: parse, then park (or reply the
/// error). Inside `MULTI` the core would pass `no_block`.
fn block(ctx: &mut ConnCtx, argv: Argv) {
    let now_ms = ctx.core.now_ms();
    let db = ctx.conn().db;
    match parse_request(argv, db, now_ms) {
        Some(Ok(request)) => ctx.core.start_block(ctx.id, request, false),
        Some(Err(text)) => ctx.reply().error(&text),
        None => ctx.reply().error("ERR unknown blocking command"),
    }
}

/// Key positions of `BLMPOP`/`BZMPOP timeout numkeys key...`.
fn mpop_keys(argv: Argv, out: &mut Vec<usize>) {
    let Some(numkeys) = crate::resp::num::parse_i64(argv.get(2)) else {
        return;
    };
    if numkeys < 1 || numkeys as u64 > argv.len().saturating_sub(3) as u64 {
        return;
    }
    out.extend(3..3 + numkeys as usize);
}

#[allow(clippy::too_many_arguments)]
const fn blocking(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    acl: &'static [&'static str],
    keys: KeySpec,
    group: &'static str,
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
        handler: Handler::Conn(block),
        group,
        since,
        summary,
        subcommands: &[],
    }
}

const WRITE_BLOCKING_MOVABLE: &[&str] = &["write", "blocking", "movablekeys"];
const WRITE_NOSCRIPT_BLOCKING: &[&str] = &["write", "noscript", "blocking"];
const WRITE_NOSCRIPT_BLOCKING_FAST: &[&str] = &["write", "noscript", "blocking", "fast"];
const WRITE_DENYOOM_BLOCKING: &[&str] = &["write", "denyoom", "noscript", "blocking"];
const ACL_LIST: &[&str] = &["@write", "@list", "@slow", "@blocking"];
const ACL_ZSET: &[&str] = &["@write", "@sortedset", "@fast", "@blocking"];
const ACL_ZSET_SLOW: &[&str] = &["@write", "@sortedset", "@slow", "@blocking"];
/// Keys from the first argument to the one before the timeout.
const KEYS_THEN_TIMEOUT: KeySpec = KeySpec::Range {
    first: 1,
    last: -2,
    step: 1,
};
const SOURCE_AND_DESTINATION: KeySpec = KeySpec::Range {
    first: 1,
    last: 2,
    step: 1,
};
const MPOP_KEYS: KeySpec = KeySpec::Custom {
    first: 0,
    last: 0,
    step: 0,
    find: mpop_keys,
};

pub static COMMANDS: &[CommandSpec] = &[
    blocking(
        "blpop",
        -3,
        WRITE_NOSCRIPT_BLOCKING,
        ACL_LIST,
        KEYS_THEN_TIMEOUT,
        "list",
        "2.0.0",
        "Remove and get the first element in a list, or block until one is available",
    ),
    blocking(
        "brpop",
        -3,
        WRITE_NOSCRIPT_BLOCKING,
        ACL_LIST,
        KEYS_THEN_TIMEOUT,
        "list",
        "2.0.0",
        "Remove and get the last element in a list, or block until one is available",
    ),
    blocking(
        "brpoplpush",
        4,
        WRITE_DENYOOM_BLOCKING,
        ACL_LIST,
        SOURCE_AND_DESTINATION,
        "list",
        "2.2.0",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
    ),
    blocking(
        "blmove",
        6,
        WRITE_DENYOOM_BLOCKING,
        ACL_LIST,
        SOURCE_AND_DESTINATION,
        "list",
        "6.2.0",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
    ),
    blocking(
        "blmpop",
        -5,
        WRITE_BLOCKING_MOVABLE,
        ACL_LIST,
        MPOP_KEYS,
        "list",
        "7.0.0",
        "Pop elements from a list, or block until one is available",
    ),
    blocking(
        "bzpopmin",
        -3,
        WRITE_NOSCRIPT_BLOCKING_FAST,
        ACL_ZSET,
        KEYS_THEN_TIMEOUT,
        "sorted_set",
        "5.0.0",
        "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available",
    ),
    blocking(
        "bzpopmax",
        -3,
        WRITE_NOSCRIPT_BLOCKING_FAST,
        ACL_ZSET,
        KEYS_THEN_TIMEOUT,
        "sorted_set",
        "5.0.0",
        "Remove and return the member with the highest score from one or more sorted sets, or block until one is available",
    ),
    blocking(
        "bzmpop",
        -5,
        WRITE_BLOCKING_MOVABLE,
        ACL_ZSET_SLOW,
        MPOP_KEYS,
        "sorted_set",
        "7.0.0",
        "Remove and return members with scores in a sorted set or block until one is available",
    ),
];

const UNBLOCK_SYNTAX: &str =
    "ERR unknown subcommand or wrong number of arguments for 'unblock'. Try CLIENT HELP.";
const UNBLOCK_REASON: &str = "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR";

/// `CLIENT UNBLOCK client-id [TIMEOUT|ERROR]`: the client may be parked on
/// any shard, so every shard is asked; replies 1 when one unblocked it.
pub(super) fn client_unblock(ctx: &mut ConnCtx, argv: Argv) {
    if argv.len() > 4 {
        return ctx.reply().error(UNBLOCK_SYNTAX);
    }
    // The reason is checked before the id, as Redis does.
    let error = match argv.len() {
        4 if argv.get(3).eq_ignore_ascii_case(b"error") => true,
        4 if argv.get(3).eq_ignore_ascii_case(b"timeout") => false,
        4 => return ctx.reply().error(UNBLOCK_REASON),
        _ => false,
    };
    let Some(client_id) = crate::resp::num::parse_i64(argv.get(2)) else {
        return ctx.reply().error(super::errors::NOT_INTEGER);
    };
    let client_id = client_id as u64;
    ctx.ask_all_shards(
        move || crate::shard::query::Query::ClientUnblock { client_id, error },
        |answers, reply| {
            let unblocked = answers
                .iter()
                .any(|a| matches!(a, crate::shard::query::Answer::Count(n) if *n > 0));
            reply.int(i64::from(unblocked));
        },
    );
}
