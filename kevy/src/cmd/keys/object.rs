//! `OBJECT ENCODING | REFCOUNT | IDLETIME | FREQ | HELP`: introspection of
//! the value at a key. Runs on the key's shard; `HELP` names no key and runs
//! anywhere.

use crate::cmd::{errors, ExecCtx};
use crate::keyspace::value::SHARED_INTEGERS;
use crate::keyspace::{RString, Value};
use crate::resp::Argv;

/// Subcommands, for `COMMAND` listings.
pub const SUBCOMMANDS: &[&str] = &[
    "object|encoding",
    "object|freq",
    "object|help",
    "object|idletime",
    "object|refcount",
];

/// Redis's `OBJ_SHARED_REFCOUNT`: what `OBJECT REFCOUNT` reports for the
/// shared integers 0..9999.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Redis's `LFU_INIT_VAL`: the frequency counter of a new key.
const LFU_INIT_VAL: i64 = 5;
/// Redis's access clock wraps at 24 bits of seconds.
const LRU_CLOCK_MASK: u32 = (1 << 24) - 1;

const IDLETIME_UNDER_LFU: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
const FREQ_UNDER_LRU: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

const HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// The subcommands that take a key, with their full names.
const KEYED: &[(&[u8], &str)] = &[
    (b"encoding", "object|encoding"),
    (b"freq", "object|freq"),
    (b"idletime", "object|idletime"),
    (b"refcount", "object|refcount"),
];

/// The key of `OBJECT <subcommand> <key>`; none for `HELP` or a malformed
/// call (which then fails wherever it runs).
pub fn key_position(argv: Argv, out: &mut Vec<usize>) {
    if argv.len() == 3 {
        out.push(2);
    }
}

/// Seconds since `last_access`, on Redis's wrapping access clock (values
/// set by `RESTORE ... IDLETIME` may lie before the server started).
pub fn idle_seconds(clock: u32, last_access: u32) -> u32 {
    clock.wrapping_sub(last_access) & LRU_CLOCK_MASK
}

/// `OBJECT REFCOUNT`: Redis shares the objects of small integers.
fn refcount(value: &Value) -> i64 {
    match value {
        Value::Str(RString::Int(n)) if (0..SHARED_INTEGERS).contains(n) => SHARED_REFCOUNT,
        _ => 1,
    }
}

pub fn object(ctx: &mut ExecCtx, argv: Argv) {
    let sub = argv.get(1);
    if sub.eq_ignore_ascii_case(b"help") {
        if argv.len() != 2 {
            ctx.reply.error(&errors::wrong_args("object|help"));
            return;
        }
        ctx.reply.array(HELP.len());
        for line in HELP {
            ctx.reply.simple(line);
        }
        return;
    }
    let Some(&(name, full_name)) = KEYED.iter().find(|(n, _)| sub.eq_ignore_ascii_case(n)) else {
        ctx.reply.error(&errors::unknown_subcommand(sub, "object"));
        return;
    };
    if argv.len() != 3 {
        ctx.reply.error(&errors::wrong_args(full_name));
        return;
    }
    let lfu = super::lfu_policy_selected(ctx.config);
    let clock = ctx.clock;
    let Some(entry) = ctx.read_entry_notouch(argv.get(2)) else {
        ctx.reply.null();
        return;
    };
    match name {
        b"encoding" => {
            let encoding = entry.value.encoding();
            ctx.reply.bulk(encoding.as_bytes());
        }
        b"refcount" => {
            let count = refcount(&entry.value);
            ctx.reply.int(count);
        }
        b"idletime" if lfu => ctx.reply.error(IDLETIME_UNDER_LFU),
        b"idletime" => {
            let idle = idle_seconds(clock, entry.last_access);
            ctx.reply.int(i64::from(idle));
        }
        // kevy keeps no access-frequency counter yet: every key reports
        // the counter Redis gives a new key.
        _ if lfu => ctx.reply.int(LFU_INIT_VAL),
        _ => ctx.reply.error(FREQ_UNDER_LRU),
    }
}
