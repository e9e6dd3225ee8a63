//! The list family: `LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LINDEX LSET
//! LRANGE LTRIM LREM LINSERT LPOS LMOVE RPOPLPUSH LMPOP`, byte-exact with
//! Redis 7.0 (`t_list.c`). The blocking variants are not here.
//!
//! This file holds the command table and what every list command shares;
//! the handlers live in `list/`: `push` (pushes, pops, LMPOP, LMOVE) and
//! `access` (reads and edits by index or value). A handler reads its key
//! through [`super::lookup_read`] (counting keyspace hits and misses, as
//! Redis's `lookupKeyRead`) or [`super::lookup_write`] (which does not),
//! and deletes the key when its list becomes empty, as Redis never keeps an
//! empty list. The multi-key commands (LMOVE, RPOPLPUSH, LMPOP) are
//! `Route::Atomic`: across shards the core hands the handler a scratch
//! keyspace holding copies of their keys, so the handlers never see shards.

mod access;
mod push;
#[cfg(test)]
mod tests;

use super::{flags, keyed, CommandSpec, Handler, KeyHandler, KeySpec, Lookup, Route};
use crate::config::Config;
use crate::keyspace::list::{ChunkLimit, ListValue};
use crate::resp::{Argv, ReplyBuf};

/// What a key holds, as a list command sees it.
pub(super) type ListLookup<'k> = Lookup<'k, ListValue>;

/// An empty list sized by `list-max-listpack-size`, as Redis's
/// `createQuicklistObject` + `quicklistSetOptions` make one.
pub(crate) fn new_list(config: &Config) -> ListValue {
    ListValue::new(ChunkLimit::from_config(
        config.get("list-max-listpack-size"),
    ))
}

/// `strcasecmp(arg, name) == 0`: Redis compares option words as C strings,
/// so the argument ends at its first NUL byte.
pub(super) fn keyword_is(arg: &[u8], name: &str) -> bool {
    let text = arg
        .iter()
        .position(|&b| b == 0)
        .map_or(arg, |nul| &arg[..nul]);
    text.eq_ignore_ascii_case(name.as_bytes())
}

/// Which end of a list: `LEFT` is the head, `RIGHT` the tail.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum End {
    Head,
    Tail,
}

/// Redis's `getListPositionFromObjectOrReply`: `LEFT` or `RIGHT`, else a
/// syntax error (replied here).
pub(super) fn parse_end(reply: &mut ReplyBuf, arg: &[u8]) -> Option<End> {
    if keyword_is(arg, "right") {
        Some(End::Tail)
    } else if keyword_is(arg, "left") {
        Some(End::Head)
    } else {
        reply.error(super::errors::SYNTAX);
        None
    }
}

/// Replies with elements `start..=end` of `list` (already in range),
/// reversed when popping from the tail, as Redis's `addListRangeReply`.
pub(super) fn reply_range(
    reply: &mut ReplyBuf,
    list: &ListValue,
    start: usize,
    end: usize,
    reverse: bool,
) {
    let range = list.range(start, end + 1);
    reply.array(range.len());
    if reverse {
        for element in range.rev() {
            reply.bulk(element);
        }
    } else {
        for element in range {
            reply.bulk(element);
        }
    }
}

/// LMPOP's keys: `numkeys` keys after the count, none when the count is
/// not a usable number (the handler then replies the error).
fn lmpop_keys(argv: Argv, out: &mut Vec<usize>) {
    if argv.len() < 4 {
        return;
    }
    let Some(numkeys) = crate::resp::num::parse_i64(argv.get(1)) else {
        return;
    };
    // The keys plus a direction must fit in the arguments.
    if numkeys < 1 || numkeys as u64 >= argv.len() as u64 - 2 {
        return;
    }
    out.extend(2..2 + numkeys as usize);
}

/// A source-and-destination command's row (keys at 1 and 2).
const fn two_keys(
    name: &'static str,
    arity: i32,
    handler: KeyHandler,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags: flags::WRITE_DENYOOM,
        acl: ACL_WRITE_SLOW,
        keys: KeySpec::Range {
            first: 1,
            last: 2,
            step: 1,
        },
        route: Route::Atomic,
        handler: Handler::Key(handler),
        group: "list",
        since,
        summary,
        subcommands: &[],
    }
}

const ACL_READ_FAST: &[&str] = &["@read", "@list", "@fast"];
const ACL_READ_SLOW: &[&str] = &["@read", "@list", "@slow"];
const ACL_WRITE_FAST: &[&str] = &["@write", "@list", "@fast"];
const ACL_WRITE_SLOW: &[&str] = &["@write", "@list", "@slow"];

pub static COMMANDS: &[CommandSpec] = &[
    keyed(
        "lpush",
        -3,
        flags::WRITE_DENYOOM_FAST,
        ACL_WRITE_FAST,
        push::lpush,
        "list",
        "1.0.0",
        "Prepend one or multiple elements to a list",
    ),
    keyed(
        "rpush",
        -3,
        flags::WRITE_DENYOOM_FAST,
        ACL_WRITE_FAST,
        push::rpush,
        "list",
        "1.0.0",
        "Append one or multiple elements to a list",
    ),
    keyed(
        "lpushx",
        -3,
        flags::WRITE_DENYOOM_FAST,
        ACL_WRITE_FAST,
        push::lpushx,
        "list",
        "2.2.0",
        "Prepend an element to a list, only if the list exists",
    ),
    keyed(
        "rpushx",
        -3,
        flags::WRITE_DENYOOM_FAST,
        ACL_WRITE_FAST,
        push::rpushx,
        "list",
        "2.2.0",
        "Append an element to a list, only if the list exists",
    ),
    keyed(
        "lpop",
        -2,
        flags::WRITE_FAST,
        ACL_WRITE_FAST,
        push::lpop,
        "list",
        "1.0.0",
        "Remove and get the first elements in a list",
    ),
    keyed(
        "rpop",
        -2,
        flags::WRITE_FAST,
        ACL_WRITE_FAST,
        push::rpop,
        "list",
        "1.0.0",
        "Remove and get the last elements in a list",
    ),
    keyed(
        "llen",
        2,
        flags::READONLY_FAST,
        ACL_READ_FAST,
        access::llen,
        "list",
        "1.0.0",
        "Get the length of a list",
    ),
    keyed(
        "lindex",
        3,
        flags::READONLY,
        ACL_READ_SLOW,
        access::lindex,
        "list",
        "1.0.0",
        "Get an element from a list by its index",
    ),
    keyed(
        "lset",
        4,
        flags::WRITE_DENYOOM,
        ACL_WRITE_SLOW,
        access::lset,
        "list",
        "1.0.0",
        "Set the value of an element in a list by its index",
    ),
    keyed(
        "lrange",
        4,
        flags::READONLY,
        ACL_READ_SLOW,
        access::lrange,
        "list",
        "1.0.0",
        "Get a range of elements from a list",
    ),
    keyed(
        "ltrim",
        4,
        flags::WRITE,
        ACL_WRITE_SLOW,
        access::ltrim,
        "list",
        "1.0.0",
        "Trim a list to the specified range",
    ),
    keyed(
        "lrem",
        4,
        flags::WRITE,
        ACL_WRITE_SLOW,
        access::lrem,
        "list",
        "1.0.0",
        "Remove elements from a list",
    ),
    keyed(
        "linsert",
        5,
        flags::WRITE_DENYOOM,
        ACL_WRITE_SLOW,
        access::linsert,
        "list",
        "2.2.0",
        "Insert an element before or after another element in a list",
    ),
    keyed(
        "lpos",
        -3,
        flags::READONLY,
        ACL_READ_SLOW,
        access::lpos,
        "list",
        "6.0.6",
        "Return the index of matching elements on a list",
    ),
    two_keys(
        "lmove",
        5,
        push::lmove,
        "6.2.0",
        "Pop an element from a list, push it to another list and return it",
    ),
    two_keys(
        "rpoplpush",
        3,
        push::rpoplpush,
        "1.2.0",
        "Remove the last element in a list, prepend it to another list and return it",
    ),
    CommandSpec {
        name: "lmpop",
        arity: -4,
        flags: &["write", "movablekeys"],
        acl: ACL_WRITE_SLOW,
        keys: KeySpec::Custom {
            first: 0,
            last: 0,
            step: 0,
            find: lmpop_keys,
        },
        route: Route::Atomic,
        handler: Handler::Key(push::lmpop),
        group: "list",
        since: "7.0.0",
        summary: "Pop elements from a list",
        subcommands: &[],
    },
];
