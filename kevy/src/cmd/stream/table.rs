//! The stream family's rows of the command table, with Redis 7.0's arity,
//! flags and ACL categories. Every command but XREAD and XREADGROUP names
//! one key; those two name any number after `STREAMS` and run atomically
//! when the keys live on several shards.

use super::{add, claim, group, info, pending, range, read};
use crate::cmd::{CommandSpec, Handler, KeyHandler, KeySpec, Route};
use crate::resp::Argv;

/// A one-key command's row (key at position 1).
const fn one_key(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    acl: &'static [&'static str],
    handler: KeyHandler,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    crate::cmd::keyed(name, arity, flags, acl, handler, "stream", since, summary)
}

/// A container's row (`XGROUP`, `XINFO`): its subcommands name the key
/// at position 2.
const fn container(
    name: &'static str,
    handler: KeyHandler,
    summary: &'static str,
    subcommands: &'static [&'static str],
) -> CommandSpec {
    CommandSpec {
        name,
        arity: -2,
        flags: &[],
        acl: &["@slow"],
        keys: KeySpec::Custom {
            first: 0,
            last: 0,
            step: 0,
            find: subcommand_key,
        },
        route: Route::Keyed,
        handler: Handler::Key(handler),
        group: "stream",
        since: "5.0.0",
        summary,
        subcommands,
    }
}

/// The key of `XGROUP <sub> key ...` / `XINFO <sub> key ...`.
fn subcommand_key(argv: Argv, out: &mut Vec<usize>) {
    if argv.len() >= 3 && !argv.get(1).eq_ignore_ascii_case(b"help") {
        out.push(2);
    }
}

/// A multi-key reader's row (`XREAD`, `XREADGROUP`).
const fn reader(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    acl: &'static [&'static str],
    handler: KeyHandler,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl,
        keys: KeySpec::Custom {
            first: 0,
            last: 0,
            step: 0,
            find: read::stream_keys,
        },
        route: Route::Atomic,
        handler: Handler::Key(handler),
        group: "stream",
        since: "5.0.0",
        summary,
        subcommands: &[],
    }
}

const READ: &[&str] = &["readonly"];
const READ_FAST: &[&str] = &["readonly", "fast"];
const WRITE: &[&str] = &["write"];
const WRITE_FAST: &[&str] = &["write", "fast"];
const WRITE_DENYOOM_FAST: &[&str] = &["write", "denyoom", "fast"];
const ACL_READ: &[&str] = &["@read", "@stream", "@slow"];
const ACL_READ_FAST: &[&str] = &["@read", "@stream", "@fast"];
const ACL_WRITE: &[&str] = &["@write", "@stream", "@slow"];
const ACL_WRITE_FAST: &[&str] = &["@write", "@stream", "@fast"];

pub static COMMANDS: &[CommandSpec] = &[
    one_key(
        "xadd",
        -5,
        WRITE_DENYOOM_FAST,
        ACL_WRITE_FAST,
        add::xadd,
        "5.0.0",
        "Appends a new entry to a stream",
    ),
    one_key(
        "xtrim",
        -4,
        WRITE,
        ACL_WRITE,
        add::xtrim,
        "5.0.0",
        "Trims the stream to (approximately if '~' is passed) a certain size",
    ),
    one_key(
        "xdel",
        -3,
        WRITE_FAST,
        ACL_WRITE_FAST,
        add::xdel,
        "5.0.0",
        "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.",
    ),
    one_key(
        "xlen",
        2,
        READ_FAST,
        ACL_READ_FAST,
        add::xlen,
        "5.0.0",
        "Return the number of entries in a stream",
    ),
    one_key(
        "xsetid",
        -3,
        WRITE_DENYOOM_FAST,
        ACL_WRITE_FAST,
        add::xsetid,
        "5.0.0",
        "An internal command for replicating stream values",
    ),
    one_key(
        "xrange",
        -4,
        READ,
        ACL_READ,
        range::xrange,
        "5.0.0",
        "Return a range of elements in a stream, with IDs matching the specified IDs interval",
    ),
    one_key(
        "xrevrange",
        -4,
        READ,
        ACL_READ,
        range::xrevrange,
        "5.0.0",
        "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE",
    ),
    reader(
        "xread",
        -4,
        &["readonly", "blocking"],
        &["@read", "@stream", "@slow", "@blocking"],
        read::xread,
        "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.",
    ),
    reader(
        "xreadgroup",
        -7,
        &["write", "blocking"],
        &["@write", "@stream", "@slow", "@blocking"],
        read::xreadgroup,
        "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.",
    ),
    container(
        "xgroup",
        group::xgroup,
        "A container for consumer groups commands",
        &[
            "create",
            "setid",
            "destroy",
            "createconsumer",
            "delconsumer",
            "help",
        ],
    ),
    one_key(
        "xack",
        -4,
        WRITE_FAST,
        ACL_WRITE_FAST,
        pending::xack,
        "5.0.0",
        "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.",
    ),
    one_key(
        "xpending",
        -3,
        READ,
        ACL_READ,
        pending::xpending,
        "5.0.0",
        "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.",
    ),
    one_key(
        "xclaim",
        -6,
        WRITE_FAST,
        ACL_WRITE_FAST,
        claim::xclaim,
        "5.0.0",
        "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.",
    ),
    one_key(
        "xautoclaim",
        -6,
        WRITE_FAST,
        ACL_WRITE_FAST,
        claim::xautoclaim,
        "6.2.0",
        "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.",
    ),
    container(
        "xinfo",
        info::xinfo,
        "A container for stream introspection commands",
        &["consumers", "groups", "stream", "help"],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::OwnedArgv;

    fn keys(spec_name: &str, line: &str) -> Vec<usize> {
        let spec = COMMANDS
            .iter()
            .find(|s| s.name == spec_name)
            .expect("a stream command");
        let owned = OwnedArgv::from_slices(line.split(' ').map(str::as_bytes));
        let mut out = Vec::new();
        spec.key_positions(owned.argv(), &mut out);
        out
    }

    #[test]
    fn containers_name_their_key_after_the_subcommand() {
        assert_eq!(keys("xgroup", "XGROUP CREATE k g $"), vec![2]);
        assert_eq!(keys("xgroup", "XGROUP HELP"), Vec::<usize>::new());
        assert_eq!(keys("xinfo", "XINFO STREAM k FULL"), vec![2]);
        assert_eq!(keys("xinfo", "XINFO help x y"), Vec::<usize>::new());
    }
}
