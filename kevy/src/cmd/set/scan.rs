//! `SSCAN`, and the cursor and option parsing `HSCAN` shares (Redis's
//! `parseScanCursorOrReply` and `scanGenericCommand`).
//!
//! Order of checks as in Redis: the cursor first, then the key (a missing
//! key answers an empty scan whatever the options), then its type, then
//! the options. A compact collection (intset, listpack) is returned whole
//! with cursor 0; a hashtable is walked with the reverse-binary cursor of
//! [`crate::keyspace::set::SetValue::scan`].

use super::{lookup_read, SetLookup};
use crate::cmd::strings::option_is;
use crate::cmd::{errors, ExecCtx};
use crate::glob::glob_match;
use crate::resp::num::parse_cursor;
use crate::resp::num::parse_i64;
use crate::resp::{Argv, ReplyBuf};

const INVALID_CURSOR: &str = "ERR invalid cursor";

/// Parsed `COUNT` and `MATCH` options.
pub(in crate::cmd) struct ScanOptions<'a> {
    pub count: usize,
    /// None when every element matches (no pattern, or `*`).
    pub pattern: Option<&'a [u8]>,
}

impl ScanOptions<'_> {
    pub fn matches(&self, element: &[u8]) -> bool {
        self.pattern
            .is_none_or(|pattern| glob_match(pattern, element, false))
    }
}

/// Reads the options from position `first` on; replies the error and
/// returns None when they are invalid.
pub(in crate::cmd) fn parse_options<'a>(
    reply: &mut ReplyBuf,
    argv: Argv<'a>,
    first: usize,
) -> Option<ScanOptions<'a>> {
    let mut options = ScanOptions {
        count: 10,
        pattern: None,
    };
    let mut i = first;
    while i < argv.len() {
        let has_value = i + 1 < argv.len();
        if option_is(argv.get(i), "count") && has_value {
            match parse_i64(argv.get(i + 1)) {
                None => {
                    reply.error(errors::NOT_INTEGER);
                    return None;
                }
                Some(count) if count < 1 => {
                    reply.error(errors::SYNTAX);
                    return None;
                }
                Some(count) => options.count = usize::try_from(count).unwrap_or(usize::MAX),
            }
        } else if option_is(argv.get(i), "match") && has_value {
            let pattern = argv.get(i + 1);
            options.pattern = (pattern != b"*").then_some(pattern);
        } else {
            reply.error(errors::SYNTAX);
            return None;
        }
        i += 2;
    }
    Some(options)
}

/// The cursor argument, or the error replied.
pub(in crate::cmd) fn cursor_or_reply(reply: &mut ReplyBuf, arg: &[u8]) -> Option<u64> {
    let cursor = parse_cursor(arg);
    if cursor.is_none() {
        reply.error(INVALID_CURSOR);
    }
    cursor
}

/// The empty scan of a missing key: cursor 0, no elements.
pub(in crate::cmd) fn reply_empty_scan(reply: &mut ReplyBuf) {
    reply.array(2);
    reply.bulk(b"0");
    reply.array(0);
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`.
pub(in crate::cmd) fn sscan(ctx: &mut ExecCtx, argv: Argv) {
    let Some(cursor) = cursor_or_reply(&mut ctx.reply, argv.get(2)) else {
        return;
    };
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let set = match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        SetLookup::Absent => return reply_empty_scan(&mut ctx.reply),
        SetLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        SetLookup::Found(set) => set,
    };
    let Some(options) = parse_options(&mut ctx.reply, argv, 3) else {
        return;
    };
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut scratch = Vec::new();
    let next = set.scan(cursor, options.count, |member| {
        let bytes = member.as_bytes(&mut scratch);
        if options.matches(bytes) {
            found.push(bytes.to_vec());
        }
    });
    ctx.reply.array(2);
    ctx.reply.bulk(next.to_string().as_bytes());
    ctx.reply.bulks(found.iter().map(Vec::as_slice));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b"007"), Some(7));
        assert_eq!(parse_cursor(b"+5"), Some(5));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"12\0junk"), Some(12));
        assert_eq!(parse_cursor(b"\0junk"), Some(0));
        for bad in [
            &b"18446744073709551616"[..],
            b" 1",
            b"1 ",
            b"+",
            b"-",
            b"0x10",
            b"abc",
            b"\t1",
        ] {
            assert_eq!(parse_cursor(bad), None, "{bad:?}");
        }
    }
}
