//! The hash family: `HSET HSETNX HGET HMSET HMGET HDEL HLEN HSTRLEN HEXISTS
//! HKEYS HVALS HGETALL HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN`, byte-exact
//! with Redis 7.0 (`t_hash.c`).
//!
//! This file holds the command table and what the handlers share: key
//! lookups (reads count keyspace hits and misses as `lookupKeyRead` does,
//! writes do not), creation of a missing hash for writes
//! (`hashTypeLookupWriteOrCreate`), and the listpack limits read from the
//! configuration once per command. The handlers live in `hash/`: `read`
//! (lookups, listings and HSCAN), `write` (HSET and friends, the
//! increments) and `random` (HRANDFIELD). HINCRBYFLOAT's `long double`
//! arithmetic is the string family's `float` module, compiled in here
//! too (it is private to that family).

// The string family's INCRBYFLOAT arithmetic, compiled in here as well
// because that module is private to its family.
use super::strings::float;
mod random;
mod read;
#[cfg(test)]
mod tests;
mod write;

use super::{CommandSpec, KeyHandler};
use crate::config::Config;
use crate::keyspace::hash::{HashLimits, HashValue};
use crate::keyspace::{Db, Value};

/// What a key holds, as a hash command sees it (`Found` is the hash).
pub(super) type HashLookup<'k> = super::Lookup<'k, HashValue>;

pub(super) use super::{lookup_read, lookup_write};

/// Runs `apply` on the hash at `key`, created empty when the key is
/// absent (`hashTypeLookupWriteOrCreate`). None when the key holds
/// another type. A hash `apply` leaves empty is not stored.
pub(super) fn write_or_create<R>(
    db: &mut Db,
    key: &[u8],
    now_ms: u64,
    clock: u32,
    apply: impl FnOnce(&mut HashValue) -> R,
) -> Option<R> {
    match db.get_touch(key, now_ms, clock) {
        Some(entry) => match &mut entry.value {
            Value::Hash(hash) => Some(apply(hash)),
            _ => None,
        },
        None => {
            let mut hash = HashValue::default();
            let result = apply(&mut hash);
            if !hash.is_empty() {
                db.insert_new(key.into(), Value::Hash(hash), None, clock);
            }
            Some(result)
        }
    }
}

/// `hash-max-listpack-entries` and `hash-max-listpack-value`, read once
/// per command.
pub(super) fn hash_limits(config: &Config) -> HashLimits {
    let default = HashLimits::default();
    let read = |name: &str, fallback: usize| {
        config
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(fallback)
    };
    HashLimits {
        max_listpack_entries: read("hash-max-listpack-entries", default.max_listpack_entries),
        max_listpack_value: read("hash-max-listpack-value", default.max_listpack_value),
    }
}

/// A one-key command's table row.
const fn one_key(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    acl: &'static [&'static str],
    handler: KeyHandler,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    crate::cmd::keyed(name, arity, flags, acl, handler, "hash", since, summary)
}

const READ_FAST: &[&str] = &["readonly", "fast"];
const READ: &[&str] = &["readonly"];
const WRITE_FAST: &[&str] = &["write", "denyoom", "fast"];
const ACL_READ_FAST: &[&str] = &["@read", "@hash", "@fast"];
const ACL_READ_SLOW: &[&str] = &["@read", "@hash", "@slow"];
const ACL_WRITE_FAST: &[&str] = &["@write", "@hash", "@fast"];

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    one_key("hset", -4, WRITE_FAST, ACL_WRITE_FAST, write::hset,
        "2.0.0", "Set the string value of a hash field"),
    one_key("hsetnx", 4, WRITE_FAST, ACL_WRITE_FAST, write::hsetnx,
        "2.0.0", "Set the value of a hash field, only if the field does not exist"),
    one_key("hget", 3, READ_FAST, ACL_READ_FAST, read::hget,
        "2.0.0", "Get the value of a hash field"),
    one_key("hmset", -4, WRITE_FAST, ACL_WRITE_FAST, write::hset,
        "2.0.0", "Set multiple hash fields to multiple values"),
    one_key("hmget", -3, READ_FAST, ACL_READ_FAST, read::hmget,
        "2.0.0", "Get the values of all the given hash fields"),
    one_key("hdel", -3, &["write", "fast"], ACL_WRITE_FAST, write::hdel,
        "2.0.0", "Delete one or more hash fields"),
    one_key("hlen", 2, READ_FAST, ACL_READ_FAST, read::hlen,
        "2.0.0", "Get the number of fields in a hash"),
    one_key("hstrlen", 3, READ_FAST, ACL_READ_FAST, read::hstrlen,
        "3.2.0", "Get the length of the value of a hash field"),
    one_key("hexists", 3, READ_FAST, ACL_READ_FAST, read::hexists,
        "2.0.0", "Determine if a hash field exists"),
    one_key("hkeys", 2, READ, ACL_READ_SLOW, read::hkeys,
        "2.0.0", "Get all the fields in a hash"),
    one_key("hvals", 2, READ, ACL_READ_SLOW, read::hvals,
        "2.0.0", "Get all the values in a hash"),
    one_key("hgetall", 2, READ, ACL_READ_SLOW, read::hgetall,
        "2.0.0", "Get all the fields and values in a hash"),
    one_key("hincrby", 4, WRITE_FAST, ACL_WRITE_FAST, write::hincrby,
        "2.0.0", "Increment the integer value of a hash field by the given number"),
    one_key("hincrbyfloat", 4, WRITE_FAST, ACL_WRITE_FAST, write::hincrbyfloat,
        "2.6.0", "Increment the float value of a hash field by the given amount"),
    one_key("hrandfield", -2, READ, ACL_READ_SLOW, random::hrandfield,
        "6.2.0", "Get one or multiple random fields from a hash"),
    one_key("hscan", -3, READ, ACL_READ_SLOW, read::hscan,
        "2.8.0", "Incrementally iterate hash fields and associated values"),
];
