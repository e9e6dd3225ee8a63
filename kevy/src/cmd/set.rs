//! The set family: `SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS
//! SRANDMEMBER SPOP SMOVE SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE
//! SDIFF SDIFFSTORE SSCAN`, byte-exact with Redis 7.0 (`t_set.c`).
//!
//! This file holds the command table and what the handlers share: key
//! lookups that count keyspace hits and misses as Redis's `lookupKeyRead`
//! does (or not, for writes), the `set-max-intset-entries` limit read from
//! the configuration, and member replies. The handlers live in `set/`:
//! `members` (single-key reads and writes, SMOVE), `random` (SRANDMEMBER,
//! SPOP, and the random picks HRANDFIELD shares), `algebra` (intersection,
//! union and difference, with their STORE forms and SMEMBERS) and `scan`
//! (SSCAN and the cursor and option parsing HSCAN shares). Multi-key
//! commands are routed as atomic, so their handlers see every key in one
//! keyspace whatever shards own them.

mod algebra;
#[cfg(test)]
pub(super) mod harness;
mod members;
pub(super) mod random;
pub(super) mod scan;
#[cfg(test)]
mod tests;

use super::{CommandSpec, KeyHandler, KeySpec, Route};
use crate::config::Config;
use crate::keyspace::set::{Member, SetLimits, SetValue};
use crate::keyspace::{Db, Value};
use crate::resp::ReplyBuf;

/// What a key holds, as a set command sees it (`Found` is the set).
pub(super) type SetLookup<'k> = super::Lookup<'k, SetValue>;

pub(super) use super::{lookup_read, lookup_write};

/// Runs `apply` on the set at `key`, creating it first with `create` when
/// the key is absent (Redis's `setTypeCreate` + `dbAdd`). None when the
/// key holds another type. `apply` must leave a created set non-empty.
pub(super) fn write_or_create<R>(
    db: &mut Db,
    key: &[u8],
    now_ms: u64,
    clock: u32,
    create: impl FnOnce() -> SetValue,
    apply: impl FnOnce(&mut SetValue) -> R,
) -> Option<R> {
    match db.get_touch(key, now_ms, clock) {
        Some(entry) => match &mut entry.value {
            Value::Set(set) => Some(apply(set)),
            _ => None,
        },
        None => {
            let mut set = create();
            let result = apply(&mut set);
            debug_assert!(!set.is_empty(), "a created set gets a member");
            db.insert_new(key.into(), Value::Set(set), None, clock);
            Some(result)
        }
    }
}

/// `set-max-intset-entries`, read once per command.
pub(super) fn set_limits(config: &Config) -> SetLimits {
    let default = SetLimits::default();
    SetLimits {
        max_intset_entries: config
            .get("set-max-intset-entries")
            .and_then(|v| v.parse().ok())
            .unwrap_or(default.max_intset_entries),
    }
}

/// A member as a bulk string.
pub(super) fn reply_member(reply: &mut ReplyBuf, member: Member<'_>) {
    match member {
        Member::Int(n) => reply.bulk_i64(n),
        Member::Bytes(bytes) => reply.bulk(bytes),
    }
}

/// A whole set as a set reply (`~` in RESP3), in iteration order.
pub(super) fn reply_set(reply: &mut ReplyBuf, set: &SetValue) {
    reply.set(set.len());
    for member in set.iter() {
        reply_member(reply, member);
    }
}

/// SINTERCARD's keys: `numkeys` (at 1, read as `genericGetKeys` reads it)
/// of them from 2 on.
use super::numkeys::numkeys_at_1 as sintercard_keys;

#[cfg(test)]
#[test]
fn sintercard_keys_follow_generic_get_keys() {
    let keys = |line: &str| {
        let owned = crate::resp::OwnedArgv::from_slices(line.split(' ').map(str::as_bytes));
        let mut out = Vec::new();
        sintercard_keys(owned.argv(), &mut out);
        out
    };
    assert_eq!(keys("sintercard 2 a b LIMIT 1"), [2, 3]);
    assert_eq!(keys("sintercard 2abc a b"), [2, 3]);
    assert_eq!(keys("sintercard 3 a b"), Vec::<usize>::new());
    assert_eq!(keys("sintercard 0 a"), Vec::<usize>::new());
    assert_eq!(keys("sintercard 4294967297 a"), [2]);
    assert_eq!(keys("sintercard"), Vec::<usize>::new());
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
    crate::cmd::keyed(name, arity, flags, acl, handler, "set", since, summary)
}

/// A row whose keys may live on several shards: run atomically.
const fn atomic(keys: KeySpec, spec: CommandSpec) -> CommandSpec {
    CommandSpec {
        keys,
        route: Route::Atomic,
        ..spec
    }
}

const ALL_KEYS: KeySpec = KeySpec::Range {
    first: 1,
    last: -1,
    step: 1,
};
const READ_FAST: &[&str] = &["readonly", "fast"];
const READ: &[&str] = &["readonly"];
const WRITE_FAST: &[&str] = &["write", "denyoom", "fast"];
const WRITE_FAST_NO_OOM: &[&str] = &["write", "fast"];
const WRITE: &[&str] = &["write", "denyoom"];
const ACL_READ_FAST: &[&str] = &["@read", "@set", "@fast"];
const ACL_READ_SLOW: &[&str] = &["@read", "@set", "@slow"];
const ACL_WRITE_FAST: &[&str] = &["@write", "@set", "@fast"];
const ACL_WRITE_SLOW: &[&str] = &["@write", "@set", "@slow"];

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    one_key("sadd", -3, WRITE_FAST, ACL_WRITE_FAST, members::sadd,
        "1.0.0", "Add one or more members to a set"),
    one_key("srem", -3, WRITE_FAST_NO_OOM, ACL_WRITE_FAST, members::srem,
        "1.0.0", "Remove one or more members from a set"),
    one_key("scard", 2, READ_FAST, ACL_READ_FAST, members::scard,
        "1.0.0", "Get the number of members in a set"),
    one_key("sismember", 3, READ_FAST, ACL_READ_FAST, members::sismember,
        "1.0.0", "Determine if a given value is a member of a set"),
    one_key("smismember", -3, READ_FAST, ACL_READ_FAST, members::smismember,
        "6.2.0", "Returns the membership associated with the given elements for a set"),
    one_key("smembers", 2, READ, ACL_READ_SLOW, algebra::sinter,
        "1.0.0", "Get all the members in a set"),
    one_key("srandmember", -2, READ, ACL_READ_SLOW, random::srandmember,
        "1.0.0", "Get one or multiple random members from a set"),
    one_key("spop", -2, WRITE_FAST_NO_OOM, ACL_WRITE_FAST, random::spop,
        "1.0.0", "Remove and return one or multiple random members from a set"),
    atomic(KeySpec::Range { first: 1, last: 2, step: 1 },
        one_key("smove", 4, WRITE_FAST_NO_OOM, ACL_WRITE_FAST, members::smove,
            "1.0.0", "Move a member from one set to another")),
    atomic(ALL_KEYS, one_key("sinter", -2, READ, ACL_READ_SLOW, algebra::sinter,
        "1.0.0", "Intersect multiple sets")),
    atomic(KeySpec::Custom { first: 0, last: 0, step: 0, find: sintercard_keys },
        one_key("sintercard", -3, READ, ACL_READ_SLOW, algebra::sintercard,
            "7.0.0", "Intersect multiple sets and return the cardinality of the result")),
    atomic(ALL_KEYS, one_key("sinterstore", -3, WRITE, ACL_WRITE_SLOW, algebra::sinterstore,
        "1.0.0", "Intersect multiple sets and store the resulting set in a key")),
    atomic(ALL_KEYS, one_key("sunion", -2, READ, ACL_READ_SLOW, algebra::sunion,
        "1.0.0", "Add multiple sets")),
    atomic(ALL_KEYS, one_key("sunionstore", -3, WRITE, ACL_WRITE_SLOW, algebra::sunionstore,
        "1.0.0", "Add multiple sets and store the resulting set in a key")),
    atomic(ALL_KEYS, one_key("sdiff", -2, READ, ACL_READ_SLOW, algebra::sdiff,
        "1.0.0", "Subtract multiple sets")),
    atomic(ALL_KEYS, one_key("sdiffstore", -3, WRITE, ACL_WRITE_SLOW, algebra::sdiffstore,
        "1.0.0", "Subtract multiple sets and store the resulting set in a key")),
    one_key("sscan", -3, READ, ACL_READ_SLOW, scan::sscan,
        "2.8.0", "Incrementally iterate Set elements"),
];
