//! Moving values between names and databases: `RENAME RENAMENX COPY MOVE
//! SWAPDB`.
//!
//! `RENAME`, `RENAMENX` and `COPY` are atomic across shards: when their keys
//! live on different shards the core copies both into one scratch keyspace,
//! runs these same handlers there and writes the differences back, so the
//! handlers below only ever see one keyspace. `MOVE` keeps the key on its
//! shard (the shard is chosen by key, not by database); `SWAPDB` runs on
//! every shard.

use crate::cmd::{errors, ExecCtx};
use crate::resp::num::parse_i64;
use crate::resp::Argv;

const SAME_OBJECT: &str = "ERR source and destination objects are the same";
const INT_OUT_OF_RANGE: &str =
    "ERR value is out of range, value must between -2147483648 and 2147483647";

/// Redis's `getIntFromObjectOrReply`: a 32-bit integer, or an error reply
/// (`custom` replaces both error texts when given).
fn int_arg(ctx: &mut ExecCtx, arg: &[u8], custom: Option<&str>) -> Option<i32> {
    let Some(n) = parse_i64(arg) else {
        ctx.reply.error(custom.unwrap_or(errors::NOT_INTEGER));
        return None;
    };
    match i32::try_from(n) {
        Ok(n) => Some(n),
        Err(_) => {
            ctx.reply.error(custom.unwrap_or(INT_OUT_OF_RANGE));
            None
        }
    }
}

/// A database index that exists, as `selectDb` accepts it.
fn existing_db(ctx: &ExecCtx, id: i32) -> Option<usize> {
    usize::try_from(id)
        .ok()
        .filter(|&id| id < ctx.keyspace.dbs.len())
}

fn rename_generic(ctx: &mut ExecCtx, argv: Argv, nx: bool) {
    let (src, dst) = (argv.get(1), argv.get(2));
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let Some(expire_at) = db.get_touch(src, now, clock).map(|e| e.expire_at()) else {
        ctx.reply.error(errors::NO_SUCH_KEY);
        return;
    };
    // Renaming a key to itself changes nothing, but the key must exist.
    if src == dst {
        if nx {
            ctx.reply.int(0);
        } else {
            ctx.reply.ok();
        }
        return;
    }
    if nx && db.contains(dst, now) {
        ctx.reply.int(0);
        return;
    }
    let Some(entry) = db.remove(src) else {
        ctx.reply.error(errors::NO_SUCH_KEY);
        return;
    };
    db.remove(dst);
    // `remove` hands the entry back with its expiry already cleared.
    db.insert_new(dst.into(), entry.value, expire_at, clock);
    if nx {
        ctx.reply.int(1);
    } else {
        ctx.reply.ok();
    }
}

pub fn rename(ctx: &mut ExecCtx, argv: Argv) {
    rename_generic(ctx, argv, false);
}

pub fn renamenx(ctx: &mut ExecCtx, argv: Argv) {
    rename_generic(ctx, argv, true);
}

/// `COPY source destination [DB destination-db] [REPLACE]`.
pub fn copy(ctx: &mut ExecCtx, argv: Argv) {
    let (src, dst) = (argv.get(1), argv.get(2));
    let mut replace = false;
    let mut dst_db = ctx.db_index;
    let mut j = 3;
    while j < argv.len() {
        let option = argv.get(j);
        if option.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if option.eq_ignore_ascii_case(b"db") && j + 1 < argv.len() {
            let Some(id) = int_arg(ctx, argv.get(j + 1), None) else {
                return;
            };
            let Some(id) = existing_db(ctx, id) else {
                ctx.reply.error(errors::DB_INDEX_OUT_OF_RANGE);
                return;
            };
            dst_db = id;
            j += 1;
        } else {
            ctx.reply.error(errors::SYNTAX);
            return;
        }
        j += 1;
    }
    if dst_db == ctx.db_index && src == dst {
        ctx.reply.error(SAME_OBJECT);
        return;
    }
    let Some(source) = ctx.read_entry(src) else {
        ctx.reply.int(0);
        return;
    };
    let (value, expire_at) = (source.value.clone(), source.expire_at());
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let target = ctx.keyspace.db(dst_db);
    if target.contains(dst, now) {
        if !replace {
            ctx.reply.int(0);
            return;
        }
        target.remove(dst);
    }
    target.insert_new(dst.into(), value, expire_at, clock);
    ctx.reply.int(1);
}

/// `MOVE key db`: the key changes database on its own shard.
pub fn move_to_db(ctx: &mut ExecCtx, argv: Argv) {
    let key = argv.get(1);
    let Some(id) = int_arg(ctx, argv.get(2), None) else {
        return;
    };
    let Some(dst_db) = existing_db(ctx, id) else {
        ctx.reply.error(errors::DB_INDEX_OUT_OF_RANGE);
        return;
    };
    if dst_db == ctx.db_index {
        ctx.reply.error(SAME_OBJECT);
        return;
    }
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let Some(expire_at) = ctx.db().get_touch(key, now, clock).map(|e| e.expire_at()) else {
        ctx.reply.int(0);
        return;
    };
    if ctx.keyspace.db(dst_db).contains(key, now) {
        ctx.reply.int(0);
        return;
    }
    let Some(entry) = ctx.db().remove(key) else {
        ctx.reply.int(0);
        return;
    };
    // `remove` hands the entry back with its expiry already cleared.
    ctx.keyspace
        .db(dst_db)
        .insert_new(entry.key, entry.value, expire_at, clock);
    ctx.reply.int(1);
}

/// `SWAPDB index1 index2`, run on every shard.
pub fn swapdb(ctx: &mut ExecCtx, argv: Argv) {
    let Some(first) = int_arg(ctx, argv.get(1), Some("ERR invalid first DB index")) else {
        return;
    };
    let Some(second) = int_arg(ctx, argv.get(2), Some("ERR invalid second DB index")) else {
        return;
    };
    match (existing_db(ctx, first), existing_db(ctx, second)) {
        (Some(a), Some(b)) => {
            ctx.keyspace.swap(a, b);
            ctx.reply.ok();
        }
        _ => ctx.reply.error(errors::DB_INDEX_OUT_OF_RANGE),
    }
}
