//! Merging the replies of a command's parts, run on several shards, into
//! the one reply the client expects. Parts arrive as encoded RESP; arrays
//! are split into their elements by [`value_end`] without decoding them.

use rand_pick::pick_index;

use super::conn::GatherState;
use crate::cmd::Gather;
use crate::resp::num::parse_i64;
use crate::resp::ReplyBuf;

/// How parts are merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    Gather(Gather),
    /// One `SCAN` step on `shard` of `shards`: the shard's local cursor is
    /// turned back into a server-wide cursor.
    Scan {
        shard: usize,
        shards: usize,
    },
}

/// The end of the RESP value starting at `pos`, or None if malformed.
pub fn value_end(buf: &[u8], pos: usize) -> Option<usize> {
    let kind = *buf.get(pos)?;
    let line_end = pos + buf.get(pos..)?.windows(2).position(|w| w == b"\r\n")?;
    let after_line = line_end + 2;
    let count = || parse_i64(&buf[pos + 1..line_end]);
    match kind {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after_line),
        b'$' | b'=' | b'!' => {
            let n = count()?;
            if n < 0 {
                return Some(after_line);
            }
            Some(after_line + n as usize + 2)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = count()?;
            if n < 0 {
                return Some(after_line);
            }
            let elements = if kind == b'%' || kind == b'|' {
                2 * n
            } else {
                n
            };
            let mut at = after_line;
            for _ in 0..elements {
                at = value_end(buf, at)?;
            }
            Some(at)
        }
        _ => None,
    }
}

/// The raw elements of an array reply.
fn elements(buf: &[u8]) -> Option<Vec<&[u8]>> {
    if !matches!(buf.first(), Some(b'*' | b'~')) {
        return None;
    }
    let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
    let n = parse_i64(&buf[1..line_end])?;
    let mut at = line_end + 2;
    let mut out = Vec::with_capacity(n.max(0) as usize);
    for _ in 0..n.max(0) {
        let end = value_end(buf, at)?;
        out.push(&buf[at..end]);
        at = end;
    }
    Some(out)
}

fn integer(buf: &[u8]) -> Option<i64> {
    let body = buf.strip_prefix(b":")?.strip_suffix(b"\r\n")?;
    parse_i64(body)
}

/// Merges a complete gather into the client's reply.
pub fn merge(state: &mut GatherState) -> Vec<u8> {
    let parts: Vec<Vec<u8>> = state
        .parts
        .iter_mut()
        .map(|p| p.take().unwrap_or_default())
        .collect();
    let mut out = Vec::new();
    if let Some(error) = parts.iter().find(|p| p.first() == Some(&b'-')) {
        return error.clone();
    }
    let mut reply = ReplyBuf::new(&mut out, state.resp3);
    match state.kind {
        Merge::Gather(Gather::ByKeyPosition) => {
            let mut placed: Vec<&[u8]> = vec![b"$-1\r\n"; state.total];
            for (part, order) in parts.iter().zip(&state.positions) {
                let items = elements(part).unwrap_or_default();
                for (item, &position) in items.into_iter().zip(order) {
                    if let Some(place) = placed.get_mut(position) {
                        *place = item;
                    }
                }
            }
            reply.array(placed.len());
            for item in placed {
                reply.raw(item);
            }
        }
        Merge::Gather(Gather::SumIntegers) => {
            let sum = parts
                .iter()
                .filter_map(|p| integer(p))
                .fold(0i64, i64::saturating_add);
            reply.int(sum);
        }
        Merge::Gather(Gather::AllOk) => {
            return parts
                .into_iter()
                .next()
                .unwrap_or_else(|| b"+OK\r\n".to_vec());
        }
        Merge::Gather(Gather::ConcatArrays) => {
            let all: Vec<&[u8]> = parts
                .iter()
                .flat_map(|p| elements(p).unwrap_or_default())
                .collect();
            reply.array(all.len());
            for item in all {
                reply.raw(item);
            }
        }
        Merge::Gather(Gather::AnyNonNull) => {
            let non_null: Vec<&Vec<u8>> = parts
                .iter()
                .filter(|p| !matches!(p.as_slice(), b"$-1\r\n" | b"_\r\n" | b"*-1\r\n"))
                .collect();
            match pick_index(non_null.len()) {
                Some(i) => reply.raw(non_null[i]),
                None => return parts.into_iter().next().unwrap_or_default(),
            }
        }
        Merge::Scan { shard, shards } => {
            let part = parts.into_iter().next().unwrap_or_default();
            let Some(items) = elements(&part) else {
                return part;
            };
            let local = items
                .first()
                .and_then(|c| c.strip_prefix(b"$"))
                .and_then(|c| {
                    let body_start = c.windows(2).position(|w| w == b"\r\n")? + 2;
                    crate::resp::num::parse_u64(c.get(body_start..c.len().checked_sub(2)?)?)
                })
                .unwrap_or(0);
            let next = if local != 0 {
                local * shards as u64 + shard as u64
            } else if shard + 1 < shards {
                (shard + 1) as u64
            } else {
                0
            };
            reply.array(2);
            reply.bulk(next.to_string().as_bytes());
            if let Some(keys) = items.get(1) {
                reply.raw(keys);
            }
        }
    }
    out
}

mod rand_pick {
    use std::cell::Cell;

    thread_local! {
        static STATE: Cell<u64> = const { Cell::new(0x2545_F491_4F6C_DD1D) };
    }

    /// A random index below `n` from a per-thread xorshift, or None for 0.
    pub fn pick_index(n: usize) -> Option<usize> {
        if n == 0 {
            return None;
        }
        let x = STATE.with(|s| {
            let mut x = s.get();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.set(x);
            x
        });
        Some((x % n as u64) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_nested_values() {
        let buf = b"*2\r\n$3\r\nabc\r\n*1\r\n:5\r\n+rest";
        assert_eq!(value_end(buf, 0), Some(buf.len() - 5));
        assert_eq!(elements(b"*2\r\n$-1\r\n$1\r\nx\r\n").unwrap().len(), 2);
    }
}
