//! `ZSCAN key cursor [MATCH pattern] [COUNT count]`.
//!
//! As in Redis, the cursor is read first (C's `strtoul`, so `-1` and an
//! empty cursor are valid), then the key (a missing key answers an empty
//! page whatever the options), then the options. A compact set answers
//! everything at once with cursor 0 and its scores as a listpack stores
//! them; a large one walks its slot table, `COUNT` members per call.

use super::score::{push_listpack_score, push_score};
use super::{option_is, ZLookup};
use crate::cmd::lookup_read;
use crate::cmd::{errors, ExecCtx};
use crate::glob::glob_match;
use crate::resp::num::parse_cursor;
use crate::resp::num::parse_i64;
use crate::resp::Argv;

const INVALID_CURSOR: &str = "ERR invalid cursor";

pub(super) fn zscan(ctx: &mut ExecCtx, argv: Argv) {
    let Some(cursor) = parse_cursor(argv.get(2)) else {
        return ctx.reply.error(INVALID_CURSOR);
    };
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let zset = match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        ZLookup::Absent => {
            ctx.reply.array(2);
            ctx.reply.bulk(b"0");
            return ctx.reply.array(0);
        }
        ZLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        ZLookup::Found(z) => z,
    };
    let mut count = 10usize;
    let mut pattern = None;
    let mut at = 3;
    while at < argv.len() {
        let has_value = at + 1 < argv.len();
        if option_is(argv.get(at), "count") && has_value {
            match parse_i64(argv.get(at + 1)) {
                None => return ctx.reply.error(errors::NOT_INTEGER),
                Some(n) if n < 1 => return ctx.reply.error(errors::SYNTAX),
                Some(n) => count = usize::try_from(n).unwrap_or(usize::MAX),
            }
        } else if option_is(argv.get(at), "match") && has_value {
            let p = argv.get(at + 1);
            // "*" matches everything: no filtering, as in Redis.
            pattern = (p != b"*").then_some(p);
        } else {
            return ctx.reply.error(errors::SYNTAX);
        }
        at += 2;
    }
    let compact = zset.is_compact();
    let mut found: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let next = zset.scan(cursor, count, |member, score| {
        if pattern.is_some_and(|p| !glob_match(p, member, false)) {
            return;
        }
        let mut text = Vec::with_capacity(24);
        if compact {
            push_listpack_score(&mut text, score);
        } else {
            push_score(&mut text, score);
        }
        found.push((member.to_vec(), text));
    });
    ctx.reply.array(2);
    ctx.reply.bulk(next.to_string().as_bytes());
    ctx.reply.array(found.len() * 2);
    for (member, score) in &found {
        ctx.reply.bulk(member);
        ctx.reply.bulk(score);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"007"), Some(7));
        assert_eq!(parse_cursor(b"+5"), Some(5));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"3\0junk"), Some(3));
        for bad in [&b"18446744073709551616"[..], b" 1", b"1 ", b"x", b"-", b"+"] {
            assert_eq!(parse_cursor(bad), None, "{bad:?}");
        }
    }
}
