//! Listing keys: `KEYS` and `RANDOMKEY` run on every shard and are merged
//! (concatenated, or one non-null part picked); `SCAN` runs on one shard at
//! a time, the core turning each shard's slot cursor into a server-wide one.

use crate::cmd::{errors, ExecCtx};
use crate::glob::glob_match;
use crate::keyspace::Key;
use crate::resp::num::{parse_i64, parse_u64};
use crate::resp::Argv;

pub fn keys(ctx: &mut ExecCtx, argv: Argv) {
    let pattern = argv.get(1);
    let now = ctx.now_ms;
    let all = pattern == b"*";
    let found: Vec<Key> = ctx
        .db()
        .iter_live(now)
        .filter(|e| all || glob_match(pattern, &e.key, false))
        .map(|e| e.key.clone())
        .collect();
    ctx.reply.bulks(found.iter().map(|k| &k[..]));
}

pub fn randomkey(ctx: &mut ExecCtx, _argv: Argv) {
    let now = ctx.now_ms;
    let db = ctx.keyspace.db(ctx.db_index);
    match db.random_key(ctx.rng, now) {
        Some(key) => ctx.reply.bulk(&key),
        None => ctx.reply.null(),
    }
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`, on this shard's
/// part of the keyspace (the cursor is already this shard's own).
pub fn scan(ctx: &mut ExecCtx, argv: Argv) {
    let Some(cursor) = parse_u64(argv.get(1)) else {
        ctx.reply.error("ERR invalid cursor");
        return;
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut type_name: Option<Vec<u8>> = None;
    let mut i = 2;
    while i < argv.len() {
        let option = argv.get(i);
        let has_value = i + 1 < argv.len();
        if option.eq_ignore_ascii_case(b"count") && has_value {
            match parse_i64(argv.get(i + 1)) {
                None => {
                    ctx.reply.error(errors::NOT_INTEGER);
                    return;
                }
                Some(n) if n < 1 => {
                    ctx.reply.error(errors::SYNTAX);
                    return;
                }
                Some(n) => count = usize::try_from(n).unwrap_or(usize::MAX),
            }
        } else if option.eq_ignore_ascii_case(b"match") && has_value {
            // "*" matches everything: skip the matching, as Redis does.
            let p = argv.get(i + 1);
            pattern = (p != b"*").then_some(p);
        } else if option.eq_ignore_ascii_case(b"type") && has_value {
            type_name = Some(argv.get(i + 1).to_ascii_lowercase());
        } else {
            ctx.reply.error(errors::SYNTAX);
            return;
        }
        i += 2;
    }
    let now = ctx.now_ms;
    let mut found: Vec<Key> = Vec::new();
    let next = ctx.db().scan(cursor, count, now, |entry| {
        if let Some(p) = pattern {
            if !glob_match(p, &entry.key, false) {
                return;
            }
        }
        if let Some(t) = &type_name {
            if entry.value.type_name().as_bytes() != t.as_slice() {
                return;
            }
        }
        found.push(entry.key.clone());
    });
    ctx.reply.array(2);
    ctx.reply.bulk(next.to_string().as_bytes());
    ctx.reply.bulks(found.iter().map(|k| &k[..]));
}
