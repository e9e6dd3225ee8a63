//! The string family: `GET SET SETNX SETEX PSETEX GETSET GETDEL GETEX MGET
//! MSET MSETNX APPEND STRLEN INCR DECR INCRBY DECRBY INCRBYFLOAT GETRANGE
//! SETRANGE SUBSTR LCS`, byte-exact with Redis 7.0 (`t_string.c`).
//!
//! This file holds the command table and what every string command shares;
//! the handlers live in `strings/`: `set` (the SET/GET variants and their
//! options), `edit` (APPEND, STRLEN, ranges), `counter` (the INCR family),
//! `float` (INCRBYFLOAT's `long double` arithmetic, done in C as Redis does
//! it) and `lcs`; `command_tests` tests both this family and the bitmap
//! one at the command level. A handler reads its key through
//! [`super::lookup_read`] (which counts keyspace hits and misses, as
//! Redis's `lookupKeyRead`) or [`super::lookup_write`] (which does not),
//! and writes the reply itself.

#[cfg(test)]
mod command_tests;
mod counter;
mod edit;
pub(super) mod float;
mod lcs;
mod set;

use super::{flags, keyed, CommandSpec, Gather, Handler, KeySpec, Lookup, Route};
use crate::keyspace::RString;
use crate::resp::ReplyBuf;

/// What a key holds, as a string command sees it.
pub(super) type StrLookup<'k> = Lookup<'k, RString>;

/// A string value as a bulk reply (integers printed without a scratch
/// buffer of the caller's).
pub(super) fn reply_string(reply: &mut ReplyBuf, value: &RString) {
    match value {
        RString::Int(n) => reply.bulk_i64(*n),
        RString::Bytes { data, .. } => reply.bulk(data),
    }
}

/// The text of an option argument as Redis's C string comparisons see it:
/// up to the first NUL byte.
fn c_str(arg: &[u8]) -> &[u8] {
    arg.iter()
        .position(|&b| b == 0)
        .map_or(arg, |nul| &arg[..nul])
}

/// `strcasecmp(arg, name) == 0`.
pub(super) fn option_is(arg: &[u8], name: &str) -> bool {
    c_str(arg).eq_ignore_ascii_case(name.as_bytes())
}

/// Redis's `checkStringLength`: may a string of `len` bytes grow by
/// `append` bytes under `proto-max-bulk-len`?
pub(super) fn length_allowed(len: u64, append: u64, max_bulk_len: u64) -> bool {
    len.checked_add(append)
        .is_some_and(|total| total <= max_bulk_len)
}

const ACL_READ_FAST: &[&str] = &["@read", "@string", "@fast"];
const ACL_READ_SLOW: &[&str] = &["@read", "@string", "@slow"];
const ACL_WRITE_FAST: &[&str] = &["@write", "@string", "@fast"];
const ACL_WRITE_SLOW: &[&str] = &["@write", "@string", "@slow"];

pub static COMMANDS: &[CommandSpec] = &[
    keyed(
        "get",
        2,
        flags::READONLY_FAST,
        ACL_READ_FAST,
        set::get,
        "string",
        "1.0.0",
        "Get the value of a key",
    ),
    keyed(
        "set",
        -3,
        flags::WRITE_DENYOOM,
        ACL_WRITE_SLOW,
        set::set,
        "string",
        "1.0.0",
        "Set the string value of a key",
    ),
    keyed(
        "setnx",
        3,
        flags::WRITE_DENYOOM_FAST,
        ACL_WRITE_FAST,
        set::setnx,
        "string",
        "1.0.0",
        "Set the value of a key, only if the key does not exist",
    ),
    keyed(
        "setex",
        4,
        flags::WRITE_DENYOOM,
        ACL_WRITE_SLOW,
        set::setex,
        "string",
        "2.0.0",
        "Set the value and expiration of a key",
    ),
    keyed(
        "psetex",
        4,
        flags::WRITE_DENYOOM,
        ACL_WRITE_SLOW,
        set::psetex,
        "string",
        "2.6.0",
        "Set the value and expiration in milliseconds of a key",
    ),
    keyed(
        "getset",
        3,
        flags::WRITE_DENYOOM_FAST,
        ACL_WRITE_FAST,
        set::getset,
        "string",
        "1.0.0",
        "Set the string value of a key and return its old value",
    ),
    keyed(
        "getdel",
        2,
        flags::WRITE_FAST,
        ACL_WRITE_FAST,
        set::getdel,
        "string",
        "6.2.0",
        "Get the value of a key and delete the key",
    ),
    keyed(
        "getex",
        -2,
        flags::WRITE_FAST,
        ACL_WRITE_FAST,
        set::getex,
        "string",
        "6.2.0",
        "Get the value of a key and optionally set its expiration",
    ),
    CommandSpec {
        name: "mget",
        arity: -2,
        flags: flags::READONLY_FAST,
        acl: ACL_READ_FAST,
        keys: KeySpec::Range {
            first: 1,
            last: -1,
            step: 1,
        },
        route: Route::Scatter(Gather::ByKeyPosition),
        handler: Handler::Key(set::mget),
        group: "string",
        since: "1.0.0",
        summary: "Get the values of all the given keys",
        subcommands: &[],
    },
    CommandSpec {
        name: "mset",
        arity: -3,
        flags: flags::WRITE_DENYOOM,
        acl: ACL_WRITE_SLOW,
        keys: KeySpec::Range {
            first: 1,
            last: -1,
            step: 2,
        },
        route: Route::Scatter(Gather::AllOk),
        handler: Handler::Key(set::mset),
        group: "string",
        since: "1.0.1",
        summary: "Set multiple keys to multiple values",
        subcommands: &[],
    },
    CommandSpec {
        name: "msetnx",
        arity: -3,
        flags: flags::WRITE_DENYOOM,
        acl: ACL_WRITE_SLOW,
        keys: KeySpec::Range {
            first: 1,
            last: -1,
            step: 2,
        },
        route: Route::Atomic,
        handler: Handler::Key(set::msetnx),
        group: "string",
        since: "1.0.1",
        summary: "Set multiple keys to multiple values, only if none of the keys exist",
        subcommands: &[],
    },
    keyed(
        "append",
        3,
        flags::WRITE_DENYOOM_FAST,
        ACL_WRITE_FAST,
        edit::append,
        "string",
        "2.0.0",
        "Append a value to a key",
    ),
    keyed(
        "strlen",
        2,
        flags::READONLY_FAST,
        ACL_READ_FAST,
        edit::strlen,
        "string",
        "2.2.0",
        "Get the length of the value stored in a key",
    ),
    keyed(
        "getrange",
        4,
        flags::READONLY,
        ACL_READ_SLOW,
        edit::getrange,
        "string",
        "2.4.0",
        "Get a substring of the string stored at a key",
    ),
    keyed(
        "substr",
        4,
        flags::READONLY,
        ACL_READ_SLOW,
        edit::getrange,
        "string",
        "1.0.0",
        "Get a substring of the string stored at a key",
    ),
    keyed(
        "setrange",
        4,
        flags::WRITE_DENYOOM,
        ACL_WRITE_SLOW,
        edit::setrange,
        "string",
        "2.2.0",
        "Overwrite part of a string at key starting at the specified offset",
    ),
    keyed(
        "incr",
        2,
        flags::WRITE_DENYOOM_FAST,
        ACL_WRITE_FAST,
        counter::incr,
        "string",
        "1.0.0",
        "Increment the integer value of a key by one",
    ),
    keyed(
        "decr",
        2,
        flags::WRITE_DENYOOM_FAST,
        ACL_WRITE_FAST,
        counter::decr,
        "string",
        "1.0.0",
        "Decrement the integer value of a key by one",
    ),
    keyed(
        "incrby",
        3,
        flags::WRITE_DENYOOM_FAST,
        ACL_WRITE_FAST,
        counter::incrby,
        "string",
        "1.0.0",
        "Increment the integer value of a key by the given amount",
    ),
    keyed(
        "decrby",
        3,
        flags::WRITE_DENYOOM_FAST,
        ACL_WRITE_FAST,
        counter::decrby,
        "string",
        "1.0.0",
        "Decrement the integer value of a key by the given number",
    ),
    keyed(
        "incrbyfloat",
        3,
        flags::WRITE_DENYOOM_FAST,
        ACL_WRITE_FAST,
        counter::incrbyfloat,
        "string",
        "2.6.0",
        "Increment the float value of a key by the given amount",
    ),
    CommandSpec {
        name: "lcs",
        arity: -3,
        flags: flags::READONLY,
        acl: ACL_READ_SLOW,
        keys: KeySpec::Range {
            first: 1,
            last: 2,
            step: 1,
        },
        route: Route::Atomic,
        handler: Handler::Key(lcs::lcs),
        group: "string",
        since: "7.0.0",
        summary: "Find longest common substring",
        subcommands: &[],
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::{lookup_read, lookup_write};
    use crate::keyspace::{Db, Value};
    use crate::shard::ShardStats;

    #[test]
    fn options_compare_like_c_strings() {
        assert!(option_is(b"nx", "NX"));
        assert!(option_is(b"Nx\0junk", "NX"));
        assert!(!option_is(b"nxx", "NX"));
        assert!(!option_is(b"", "NX"));
    }

    #[test]
    fn length_limit_catches_overflow() {
        assert!(length_allowed(10, 5, 15));
        assert!(!length_allowed(10, 6, 15));
        assert!(!length_allowed(u64::MAX, 1, u64::MAX));
    }

    #[test]
    fn lookups_count_hits_only_for_reads() {
        let mut db = Db::default();
        let mut stats = ShardStats::default();
        db.set(b"k", Value::Str(RString::from_client(b"v")), false, 0);
        assert!(matches!(
            lookup_read(&mut db, &mut stats, b"k", 0, 0),
            StrLookup::Found(_)
        ));
        assert!(matches!(
            lookup_read(&mut db, &mut stats, b"x", 0, 0),
            StrLookup::Absent
        ));
        assert!(matches!(
            lookup_write(&mut db, b"x", 0, 0),
            StrLookup::Absent
        ));
        assert_eq!((stats.keyspace_hits, stats.keyspace_misses), (1, 1));
    }
}
