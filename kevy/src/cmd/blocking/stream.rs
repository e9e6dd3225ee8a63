//! The `BLOCK` form of `XREAD` and `XREADGROUP`: when a call waits.
//!
//! Only a call that is valid and can wait becomes a [`BlockRequest`]; any
//! error (options, timeout, IDs) and any call that cannot wait (no
//! `BLOCK`; an `XREADGROUP` with an ID other than `>`, which serves the
//! consumer's history at once) is left to the ordinary handler in
//! `cmd::stream`, which replies exactly as Redis does. Per key, `$` stays
//! unresolved here: the key's own shard freezes it against its live stream
//! when it registers the waiter.

use std::sync::Arc;

use super::parse::deadline_from_ms;
use super::{BlockRequest, Serve, WaitKind};
use crate::keyspace::stream::{parse_id, IdSyntax};
use crate::resp::num::parse_i64;
use crate::resp::Argv;

fn option_is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// The request of a valid `XREAD`/`XREADGROUP ... BLOCK ms ...` call that
/// may wait; None for everything else (see the module comment).
pub fn parse_block(argv: Argv, now_ms: u64) -> Option<Result<BlockRequest, String>> {
    let xreadgroup = option_is(argv.get(0), "xreadgroup");
    let mut block_ms = None;
    let mut count = None;
    let mut group = None;
    let mut noack = false;
    let mut streams_at = 0;
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        let opt = argv.get(i);
        if option_is(opt, "block") && more > 0 {
            i += 1;
            block_ms = Some(parse_i64(argv.get(i))?);
        } else if option_is(opt, "count") && more > 0 {
            i += 1;
            parse_i64(argv.get(i))?;
            count = Some(argv.get(i).to_vec());
        } else if option_is(opt, "streams") && more > 0 {
            if (argv.len() - (i + 1)) % 2 != 0 {
                return None;
            }
            streams_at = i + 1;
            break;
        } else if option_is(opt, "group") && more >= 2 && xreadgroup {
            group = Some((argv.get(i + 1).to_vec(), argv.get(i + 2).to_vec()));
            i += 2;
        } else if option_is(opt, "noack") && xreadgroup {
            noack = true;
        } else {
            return None;
        }
        i += 1;
    }
    if streams_at == 0 || xreadgroup != group.is_some() {
        return None;
    }
    let deadline = deadline_from_ms(block_ms?, now_ms).ok()?;
    let keys = (argv.len() - streams_at) / 2;
    let mut waits = Vec::with_capacity(keys);
    for k in 0..keys {
        let key = argv.get(streams_at + k).to_vec();
        let id = argv.get(streams_at + keys + k);
        let kind = match (&group, id) {
            (Some((name, _)), b">") => WaitKind::StreamGroup(name.as_slice().into()),
            (Some(_), _) => return None,
            (None, b"$") => WaitKind::StreamAfter(None),
            (None, _) => WaitKind::StreamAfter(Some(parse_id(id, IdSyntax::STRICT)?.id)),
        };
        waits.push((key, kind));
    }
    let serve = match group {
        Some((group, consumer)) => Serve::XReadGroup {
            group,
            consumer,
            count,
            noack,
        },
        None => Serve::XRead { count },
    };
    Some(Ok(BlockRequest {
        keys: waits,
        deadline,
        serve: Arc::new(serve),
    }))
}
