//! The sorted-set family, byte-exact with Redis 7.0 (`t_zset.c`): `ZADD
//! ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK ZCOUNT ZLEXCOUNT`, the
//! range reads and removals, pops, `ZRANDMEMBER`, the set operations and
//! `ZSCAN` (the blocking pops are not here).
//!
//! This file holds the command table and what every handler shares: the
//! sorted-set view of a key ([`ZLookup`], read through
//! [`super::lookup_read`], which counts keyspace hits and misses as Redis's
//! `lookupKeyRead`, or [`super::lookup_write`], which does not), the
//! encoding limits from the configuration, and replies of member lists. The
//! handlers live in `zset/`: `add` (ZADD and the single-member commands),
//! `range` (ranges by rank, score and member, and their removals), `pop`
//! (pops and random members), `setops` (union, intersection, difference),
//! `scan`, `score` (reading and printing scores as Redis does) and `keys`
//! (finding the keys of `numkeys` commands, which may span shards: they are
//! routed as atomic commands, so a handler always sees all its keys in one
//! keyspace).

mod add;
mod pop;
mod range;
mod scan;
mod score;
mod setops;
#[cfg(test)]
mod tests;

use super::numkeys;
use super::{flags, keyed, CommandSpec, Handler, KeyHandler, KeySpec, Lookup, Route};
use crate::config::{parse_memory, Config};
use crate::keyspace::zset::{Limits, ZSetValue};
use crate::resp::ReplyBuf;

/// What a key holds, as a sorted-set command sees it.
pub(super) type ZLookup<'k> = Lookup<'k, ZSetValue>;

/// `zset-max-listpack-entries` and `zset-max-listpack-value`.
pub(super) fn limits(config: &Config) -> Limits {
    let read = |name: &str, default: usize| {
        config
            .get(name)
            .and_then(parse_memory)
            .map_or(default, |n| usize::try_from(n).unwrap_or(usize::MAX))
    };
    let defaults = Limits::default();
    Limits {
        max_entries: read("zset-max-listpack-entries", defaults.max_entries),
        max_member_len: read("zset-max-listpack-value", defaults.max_member_len),
    }
}

/// `strcasecmp(arg, name) == 0`: the argument up to its first NUL.
pub(super) fn option_is(arg: &[u8], name: &str) -> bool {
    score::c_str(arg).eq_ignore_ascii_case(name.as_bytes())
}

/// The header of a member list: with scores it holds pairs, flat in RESP2
/// and as `[member, score]` arrays in RESP3 (Redis avoids a map so that
/// clients keep the order).
pub(super) fn reply_list_header(reply: &mut ReplyBuf, count: usize, withscores: bool) {
    if withscores && !reply.resp3 {
        reply.array(count.saturating_mul(2));
    } else {
        reply.array(count);
    }
}

/// One member of a list started by [`reply_list_header`].
pub(super) fn reply_list_item(reply: &mut ReplyBuf, member: &[u8], score: f64, withscores: bool) {
    if withscores && reply.resp3 {
        reply.array(2);
    }
    reply.bulk(member);
    if withscores {
        score::reply_score(reply, score);
    }
}

/// A whole member list.
pub(super) fn reply_list(reply: &mut ReplyBuf, items: &[(&[u8], f64)], withscores: bool) {
    reply_list_header(reply, items.len(), withscores);
    for &(member, score) in items {
        reply_list_item(reply, member, score, withscores);
    }
}

/// A command whose keys follow a `numkeys` argument, routed atomically.
#[allow(clippy::too_many_arguments)]
const fn numkeys_command(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    acl: &'static [&'static str],
    first_last_step: (i32, i32, i32),
    find: fn(crate::resp::Argv, &mut Vec<usize>),
    handler: KeyHandler,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl,
        keys: KeySpec::Custom {
            first: first_last_step.0,
            last: first_last_step.1,
            step: first_last_step.2,
            find,
        },
        route: Route::Atomic,
        handler: Handler::Key(handler),
        group: "sorted-set",
        since,
        summary,
        subcommands: &[],
    }
}

const ACL_READ_FAST: &[&str] = &["@read", "@sortedset", "@fast"];
const ACL_READ_SLOW: &[&str] = &["@read", "@sortedset", "@slow"];
const ACL_WRITE_FAST: &[&str] = &["@write", "@sortedset", "@fast"];
const ACL_WRITE_SLOW: &[&str] = &["@write", "@sortedset", "@slow"];

pub static COMMANDS: &[CommandSpec] = &[
    keyed(
        "zadd",
        -4,
        flags::WRITE_DENYOOM_FAST,
        ACL_WRITE_FAST,
        add::zadd,
        "sorted-set",
        "1.2.0",
        "Add one or more members to a sorted set, or update its score if it already exists",
    ),
    keyed(
        "zincrby",
        4,
        flags::WRITE_DENYOOM_FAST,
        ACL_WRITE_FAST,
        add::zincrby,
        "sorted-set",
        "1.2.0",
        "Increment the score of a member in a sorted set",
    ),
    keyed(
        "zrem",
        -3,
        flags::WRITE_FAST,
        ACL_WRITE_FAST,
        add::zrem,
        "sorted-set",
        "1.2.0",
        "Remove one or more members from a sorted set",
    ),
    keyed(
        "zcard",
        2,
        flags::READONLY_FAST,
        ACL_READ_FAST,
        add::zcard,
        "sorted-set",
        "1.2.0",
        "Get the number of members in a sorted set",
    ),
    keyed(
        "zscore",
        3,
        flags::READONLY_FAST,
        ACL_READ_FAST,
        add::zscore,
        "sorted-set",
        "1.2.0",
        "Get the score associated with the given member in a sorted set",
    ),
    keyed(
        "zmscore",
        -3,
        flags::READONLY_FAST,
        ACL_READ_FAST,
        add::zmscore,
        "sorted-set",
        "6.2.0",
        "Get the score associated with the given members in a sorted set",
    ),
    keyed(
        "zrank",
        3,
        flags::READONLY_FAST,
        ACL_READ_FAST,
        add::zrank,
        "sorted-set",
        "2.0.0",
        "Determine the index of a member in a sorted set",
    ),
    keyed(
        "zrevrank",
        3,
        flags::READONLY_FAST,
        ACL_READ_FAST,
        add::zrevrank,
        "sorted-set",
        "2.0.0",
        "Determine the index of a member in a sorted set, with scores ordered from high to low",
    ),
    keyed(
        "zcount",
        4,
        flags::READONLY_FAST,
        ACL_READ_FAST,
        range::zcount,
        "sorted-set",
        "2.0.0",
        "Count the members in a sorted set with scores within the given values",
    ),
    keyed(
        "zlexcount",
        4,
        flags::READONLY_FAST,
        ACL_READ_FAST,
        range::zlexcount,
        "sorted-set",
        "2.8.9",
        "Count the number of members in a sorted set between a given lexicographical range",
    ),
    keyed(
        "zrange",
        -4,
        flags::READONLY,
        ACL_READ_SLOW,
        range::zrange,
        "sorted-set",
        "1.2.0",
        "Return a range of members in a sorted set",
    ),
    keyed(
        "zrevrange",
        -4,
        flags::READONLY,
        ACL_READ_SLOW,
        range::zrevrange,
        "sorted-set",
        "1.2.0",
        "Return a range of members in a sorted set, by index, with scores ordered from high to low",
    ),
    keyed(
        "zrangebyscore",
        -4,
        flags::READONLY,
        ACL_READ_SLOW,
        range::zrangebyscore,
        "sorted-set",
        "1.0.5",
        "Return a range of members in a sorted set, by score",
    ),
    keyed(
        "zrevrangebyscore",
        -4,
        flags::READONLY,
        ACL_READ_SLOW,
        range::zrevrangebyscore,
        "sorted-set",
        "2.2.0",
        "Return a range of members in a sorted set, by score, with scores ordered from high to low",
    ),
    keyed(
        "zrangebylex",
        -4,
        flags::READONLY,
        ACL_READ_SLOW,
        range::zrangebylex,
        "sorted-set",
        "2.8.9",
        "Return a range of members in a sorted set, by lexicographical range",
    ),
    keyed(
        "zrevrangebylex",
        -4,
        flags::READONLY,
        ACL_READ_SLOW,
        range::zrevrangebylex,
        "sorted-set",
        "2.8.9",
        "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.",
    ),
    CommandSpec {
        name: "zrangestore",
        arity: -5,
        flags: flags::WRITE_DENYOOM,
        acl: ACL_WRITE_SLOW,
        keys: KeySpec::Range {
            first: 1,
            last: 2,
            step: 1,
        },
        route: Route::Atomic,
        handler: Handler::Key(range::zrangestore),
        group: "sorted-set",
        since: "6.2.0",
        summary: "Store a range of members from sorted set into another key",
        subcommands: &[],
    },
    keyed(
        "zremrangebyrank",
        4,
        flags::WRITE,
        ACL_WRITE_SLOW,
        range::zremrangebyrank,
        "sorted-set",
        "2.0.0",
        "Remove all members in a sorted set within the given indexes",
    ),
    keyed(
        "zremrangebyscore",
        4,
        flags::WRITE,
        ACL_WRITE_SLOW,
        range::zremrangebyscore,
        "sorted-set",
        "1.2.0",
        "Remove all members in a sorted set within the given scores",
    ),
    keyed(
        "zremrangebylex",
        4,
        flags::WRITE,
        ACL_WRITE_SLOW,
        range::zremrangebylex,
        "sorted-set",
        "2.8.9",
        "Remove all members in a sorted set between the given lexicographical range",
    ),
    keyed(
        "zpopmin",
        -2,
        flags::WRITE_FAST,
        ACL_WRITE_FAST,
        pop::zpopmin,
        "sorted-set",
        "5.0.0",
        "Remove and return members with the lowest scores in a sorted set",
    ),
    keyed(
        "zpopmax",
        -2,
        flags::WRITE_FAST,
        ACL_WRITE_FAST,
        pop::zpopmax,
        "sorted-set",
        "5.0.0",
        "Remove and return members with the highest scores in a sorted set",
    ),
    numkeys_command(
        "zmpop",
        -4,
        flags::WRITE,
        ACL_WRITE_SLOW,
        (0, 0, 0),
        numkeys::numkeys_at_1,
        pop::zmpop,
        "7.0.0",
        "Remove and return members with scores in a sorted set",
    ),
    keyed(
        "zrandmember",
        -2,
        flags::READONLY,
        ACL_READ_SLOW,
        pop::zrandmember,
        "sorted-set",
        "6.2.0",
        "Get one or multiple random elements from a sorted set",
    ),
    numkeys_command(
        "zunion",
        -3,
        flags::READONLY,
        ACL_READ_SLOW,
        (0, 0, 0),
        numkeys::numkeys_at_1,
        setops::zunion,
        "6.2.0",
        "Add multiple sorted sets",
    ),
    numkeys_command(
        "zinter",
        -3,
        flags::READONLY,
        ACL_READ_SLOW,
        (0, 0, 0),
        numkeys::numkeys_at_1,
        setops::zinter,
        "6.2.0",
        "Intersect multiple sorted sets",
    ),
    numkeys_command(
        "zintercard",
        -3,
        flags::READONLY,
        ACL_READ_SLOW,
        (0, 0, 0),
        numkeys::numkeys_at_1,
        setops::zintercard,
        "7.0.0",
        "Intersect multiple sorted sets and return the cardinality of the result",
    ),
    numkeys_command(
        "zdiff",
        -3,
        flags::READONLY,
        ACL_READ_SLOW,
        (0, 0, 0),
        numkeys::numkeys_at_1,
        setops::zdiff,
        "6.2.0",
        "Subtract multiple sorted sets",
    ),
    numkeys_command(
        "zunionstore",
        -4,
        flags::WRITE_DENYOOM,
        ACL_WRITE_SLOW,
        (1, 1, 1),
        numkeys::destination_and_numkeys,
        setops::zunionstore,
        "2.0.0",
        "Add multiple sorted sets and store the resulting sorted set in a new key",
    ),
    numkeys_command(
        "zinterstore",
        -4,
        flags::WRITE_DENYOOM,
        ACL_WRITE_SLOW,
        (1, 1, 1),
        numkeys::destination_and_numkeys,
        setops::zinterstore,
        "2.0.0",
        "Intersect multiple sorted sets and store the resulting sorted set in a new key",
    ),
    numkeys_command(
        "zdiffstore",
        -4,
        flags::WRITE_DENYOOM,
        ACL_WRITE_SLOW,
        (1, 1, 1),
        numkeys::destination_and_numkeys,
        setops::zdiffstore,
        "6.2.0",
        "Subtract multiple sorted sets and store the resulting sorted set in a new key",
    ),
    keyed(
        "zscan",
        -3,
        flags::READONLY,
        ACL_READ_SLOW,
        scan::zscan,
        "sorted-set",
        "2.8.0",
        "Incrementally iterate sorted sets elements and associated scores",
    ),
];
