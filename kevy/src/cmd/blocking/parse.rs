//! Reading a blocking call's arguments into a [`BlockRequest`], in the
//! order Redis 7.0 checks them, with its error texts: `BLPOP`/`BRPOP`/
//! `BZPOPMIN`/`BZPOPMAX` read the timeout first; `BLMPOP`/`BZMPOP` read
//! numkeys, the direction and `COUNT` before the timeout; `BLMOVE` reads
//! its directions before the timeout.

use std::sync::Arc;

use super::{stream, BlockRequest, Serve, WaitKind};
use crate::cmd::errors;
use crate::resp::num::{parse_f64, parse_i64};
use crate::resp::Argv;

const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";
const TIMEOUT_OUT_OF_RANGE: &str = "ERR timeout is out of range";
const NUMKEYS_NOT_POSITIVE: &str = "ERR numkeys should be greater than 0";
const COUNT_NOT_POSITIVE: &str = "ERR count should be greater than 0";

/// Redis's `getTimeoutFromObjectOrReply` in seconds: a float, rounded up
/// to whole milliseconds; 0 is forever. A value whose milliseconds do not
/// fit a signed 64-bit integer converts, as in C on x86, to the most
/// negative one, hence "negative" for `inf` or `1e30`.
pub fn deadline_from_seconds(arg: &[u8], now_ms: u64) -> Result<Option<u64>, &'static str> {
    let seconds = parse_f64(arg).ok_or(TIMEOUT_NOT_FLOAT)?;
    let ms = (seconds * 1000.0).ceil();
    let ms = if ms.is_finite() && ms < 9.2e18 && ms > -9.2e18 {
        ms as i64
    } else {
        i64::MIN
    };
    deadline_from_ms(ms, now_ms)
}

/// The deadline `ms` milliseconds after `now_ms` (0: forever).
pub fn deadline_from_ms(ms: i64, now_ms: u64) -> Result<Option<u64>, &'static str> {
    if ms < 0 {
        return Err(TIMEOUT_NEGATIVE);
    }
    if ms == 0 {
        return Ok(None);
    }
    now_ms
        .checked_add(ms as u64)
        .filter(|&at| at <= i64::MAX as u64)
        .map(Some)
        .ok_or(TIMEOUT_OUT_OF_RANGE)
}

fn keyword_is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Parses a blocking call. None: `argv` is not a blocking call (an `XREAD`
/// without `BLOCK`, or one that cannot block); `Err`: the error reply.
pub fn parse_request(argv: Argv, db: usize, now_ms: u64) -> Option<Result<BlockRequest, String>> {
    let name = argv.get(0).to_ascii_lowercase();
    let result = match name.as_slice() {
        b"blpop" => keys_then_timeout(argv, now_ms, WaitKind::List, "LPOP"),
        b"brpop" => keys_then_timeout(argv, now_ms, WaitKind::List, "RPOP"),
        b"bzpopmin" => keys_then_timeout(argv, now_ms, WaitKind::ZSet, "ZPOPMIN"),
        b"bzpopmax" => keys_then_timeout(argv, now_ms, WaitKind::ZSet, "ZPOPMAX"),
        b"blmpop" => multi_pop(argv, now_ms, WaitKind::List),
        b"bzmpop" => multi_pop(argv, now_ms, WaitKind::ZSet),
        b"brpoplpush" => deadline_from_seconds(argv.get(3), now_ms)
            .map_err(str::to_string)
            .map(|deadline| move_request(argv, db, deadline, b"RIGHT".to_vec(), b"LEFT".to_vec())),
        b"blmove" => blmove(argv, db, now_ms),
        b"xread" | b"xreadgroup" => return stream::parse_block(argv, now_ms),
        _ => return None,
    };
    Some(result)
}

fn keys_then_timeout(
    argv: Argv,
    now_ms: u64,
    kind: WaitKind,
    command: &'static str,
) -> Result<BlockRequest, String> {
    let last = argv.len() - 1;
    let deadline = deadline_from_seconds(argv.get(last), now_ms).map_err(str::to_string)?;
    Ok(BlockRequest {
        keys: (1..last)
            .map(|i| (argv.get(i).to_vec(), kind.clone()))
            .collect(),
        deadline,
        serve: Arc::new(Serve::PopWithKey(command)),
    })
}

/// `BLMPOP timeout numkeys key... LEFT|RIGHT [COUNT n]` and `BZMPOP ...
/// MIN|MAX [COUNT n]`.
fn multi_pop(argv: Argv, now_ms: u64, kind: WaitKind) -> Result<BlockRequest, String> {
    let numkeys = parse_i64(argv.get(2))
        .filter(|&n| n >= 1)
        .ok_or(NUMKEYS_NOT_POSITIVE)?;
    let end_at = (numkeys as u64)
        .checked_add(3)
        .filter(|&at| at < argv.len() as u64)
        .ok_or(errors::SYNTAX)? as usize;
    let end = argv.get(end_at);
    let (first, second, command) = match kind {
        WaitKind::ZSet => ("min", "max", "ZMPOP"),
        _ => ("left", "right", "LMPOP"),
    };
    if !keyword_is(end, first) && !keyword_is(end, second) {
        return Err(errors::SYNTAX.to_string());
    }
    let mut count = None;
    let mut at = end_at + 1;
    while at < argv.len() {
        if count.is_none() && keyword_is(argv.get(at), "count") && at + 1 < argv.len() {
            at += 1;
            parse_i64(argv.get(at))
                .filter(|&n| n >= 1)
                .ok_or(COUNT_NOT_POSITIVE)?;
            count = Some(argv.get(at).to_vec());
        } else {
            return Err(errors::SYNTAX.to_string());
        }
        at += 1;
    }
    let deadline = deadline_from_seconds(argv.get(1), now_ms).map_err(str::to_string)?;
    Ok(BlockRequest {
        keys: (3..end_at)
            .map(|i| (argv.get(i).to_vec(), kind.clone()))
            .collect(),
        deadline,
        serve: Arc::new(Serve::MultiPop {
            command,
            end: end.to_vec(),
            count,
        }),
    })
}

/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`.
fn blmove(argv: Argv, db: usize, now_ms: u64) -> Result<BlockRequest, String> {
    let is_end = |arg: &[u8]| keyword_is(arg, "left") || keyword_is(arg, "right");
    if !is_end(argv.get(3)) || !is_end(argv.get(4)) {
        return Err(errors::SYNTAX.to_string());
    }
    let deadline = deadline_from_seconds(argv.get(5), now_ms).map_err(str::to_string)?;
    Ok(move_request(
        argv,
        db,
        deadline,
        argv.get(3).to_vec(),
        argv.get(4).to_vec(),
    ))
}

fn move_request(
    argv: Argv,
    db: usize,
    deadline: Option<u64>,
    from: Vec<u8>,
    to: Vec<u8>,
) -> BlockRequest {
    BlockRequest {
        keys: vec![(argv.get(1).to_vec(), WaitKind::List)],
        deadline,
        serve: Arc::new(Serve::Move {
            db,
            destination: argv.get(2).to_vec(),
            from,
            to,
        }),
    }
}
