//! `SRANDMEMBER` and `SPOP`, and the random picks HRANDFIELD shares.
//!
//! Both collection forms keep their items at dense positions, so a random
//! member is one uniform index. Counts follow Redis (`srandmemberWithCount`,
//! `spopWithCount`): a positive count asks for distinct members (all of
//! them, in iteration order, when it reaches the size), a negative one for
//! that many independent picks. Redis streams such a reply however large;
//! kevy builds replies in memory, so a negative count whose reply could
//! not fit in `proto-max-bulk-len` bytes is refused instead.

use super::{lookup_read, lookup_write, reply_member, reply_set, set_limits, SetLookup};
use crate::cmd::{errors, ExecCtx};
use crate::keyspace::set::SetValue;
use crate::random::SplitMix64;
use crate::resp::num::parse_i64;
use crate::resp::{Argv, ReplyBuf};

/// `getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)`'s error.
const COUNT_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
/// `getPositiveLongFromObjectOrReply`'s error, for text that is not an
/// integer too.
const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
/// A negative count whose reply would exceed `proto-max-bulk-len`.
const REPLY_TOO_LARGE: &str =
    "ERR value is out of range, the reply would exceed proto-max-bulk-len";
/// The smallest RESP encoding of one bulk string (`$0\r\n\r\n`).
pub(in crate::cmd) const MIN_BULK_REPLY: u64 = 6;

/// SRANDMEMBER's and HRANDFIELD's count: any `i64` but `i64::MIN`.
/// None when an error was replied.
pub(in crate::cmd) fn parse_count(reply: &mut ReplyBuf, arg: &[u8]) -> Option<i64> {
    match parse_i64(arg) {
        None => reply.error(errors::NOT_INTEGER),
        Some(i64::MIN) => reply.error(COUNT_RANGE),
        Some(count) => return Some(count),
    }
    None
}

/// Bounds the reply to a negative count. Checked up front with the
/// smallest possible size per pick, then after every pick with the bytes
/// really written, so neither many picks nor big members can build a
/// reply over `proto-max-bulk-len`.
pub(in crate::cmd) struct RepeatBudget {
    start: usize,
    max_bytes: u64,
}

impl RepeatBudget {
    /// None (the error replied) when `picks` picks of at least
    /// `min_bytes` each cannot fit.
    pub fn new(reply: &mut ReplyBuf, picks: u64, min_bytes: u64, max_bytes: u64) -> Option<Self> {
        if picks.saturating_mul(min_bytes) > max_bytes {
            reply.error(REPLY_TOO_LARGE);
            return None;
        }
        Some(RepeatBudget {
            start: reply.out.len(),
            max_bytes,
        })
    }

    /// After a pick: false when the reply outgrew the budget, in which
    /// case it was replaced by the error.
    pub fn still_fits(&self, reply: &mut ReplyBuf) -> bool {
        if (reply.out.len() - self.start) as u64 <= self.max_bytes {
            return true;
        }
        reply.out.truncate(self.start);
        reply.error(REPLY_TOO_LARGE);
        false
    }
}

/// `count` distinct positions in `0..size` (`count < size`), ascending.
pub(in crate::cmd) fn distinct_positions(
    rng: &mut SplitMix64,
    size: usize,
    count: usize,
) -> Vec<usize> {
    debug_assert!(count < size);
    let mut picked = Vec::with_capacity(count);
    if count.saturating_mul(3) > size {
        // Selection sampling (Knuth's algorithm S): one pass, in order.
        let mut needed = count;
        for position in 0..size {
            if rng.below(size - position) < needed {
                picked.push(position);
                needed -= 1;
                if needed == 0 {
                    break;
                }
            }
        }
    } else {
        // Few of many: draw until enough distinct ones.
        let mut seen = hashbrown::HashSet::with_capacity(count);
        while picked.len() < count {
            let position = rng.below(size);
            if seen.insert(position) {
                picked.push(position);
            }
        }
        picked.sort_unstable();
    }
    picked
}

/// `SRANDMEMBER key [count]`.
pub(in crate::cmd) fn srandmember(ctx: &mut ExecCtx, argv: Argv) {
    match argv.len() {
        3 => return srandmember_count(ctx, argv),
        len if len > 3 => return ctx.reply.error(errors::SYNTAX),
        _ => {}
    }
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        SetLookup::Absent => ctx.reply.null(),
        SetLookup::WrongType => ctx.reply.error(errors::WRONGTYPE),
        SetLookup::Found(set) if set.is_empty() => ctx.reply.null(),
        SetLookup::Found(set) => {
            let at = ctx.rng.below(set.len());
            reply_member(&mut ctx.reply, set.member_at(at));
        }
    }
}

fn srandmember_count(ctx: &mut ExecCtx, argv: Argv) {
    let Some(count) = parse_count(&mut ctx.reply, argv.get(2)) else {
        return;
    };
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let max_bulk_len = ctx.config.proto_max_bulk_len;
    let db = ctx.keyspace.db(ctx.db_index);
    let set = match lookup_read(db, ctx.stats, argv.get(1), now, clock) {
        SetLookup::Absent => return ctx.reply.array(0),
        SetLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        SetLookup::Found(set) => set,
    };
    let size = set.len();
    let wanted = count.unsigned_abs();
    if wanted == 0 || size == 0 {
        return ctx.reply.array(0);
    }
    if count < 0 || wanted == 1 {
        let Some(budget) = RepeatBudget::new(&mut ctx.reply, wanted, MIN_BULK_REPLY, max_bulk_len)
        else {
            return;
        };
        ctx.reply.array(wanted as usize);
        for _ in 0..wanted {
            let at = ctx.rng.below(size);
            reply_member(&mut ctx.reply, set.member_at(at));
            if !budget.still_fits(&mut ctx.reply) {
                return;
            }
        }
        return;
    }
    if wanted >= size as u64 {
        ctx.reply.array(size);
        for member in set.iter() {
            reply_member(&mut ctx.reply, member);
        }
        return;
    }
    let positions = distinct_positions(ctx.rng, size, wanted as usize);
    ctx.reply.array(positions.len());
    for at in positions {
        reply_member(&mut ctx.reply, set.member_at(at));
    }
}

/// `SPOP key [count]`.
pub(in crate::cmd) fn spop(ctx: &mut ExecCtx, argv: Argv) {
    match argv.len() {
        3 => return spop_count(ctx, argv),
        len if len > 3 => return ctx.reply.error(errors::SYNTAX),
        _ => {}
    }
    let key = argv.get(1);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let emptied = match lookup_write(db, key, now, clock) {
        SetLookup::Absent => return ctx.reply.null(),
        SetLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        SetLookup::Found(set) if set.is_empty() => {
            ctx.reply.null();
            true
        }
        SetLookup::Found(set) => {
            let at = ctx.rng.below(set.len());
            reply_member(&mut ctx.reply, set.member_at(at));
            // The random pick recorded as what it removed.
            if ctx.effects.wanted() {
                let member = set.member_at(at).to_vec();
                ctx.effects.replace(&[b"SREM", key, &member]);
            }
            set.remove_at(at);
            set.is_empty()
        }
    };
    if emptied {
        db.remove(key);
    }
}

fn spop_count(ctx: &mut ExecCtx, argv: Argv) {
    let count = match parse_i64(argv.get(2)) {
        Some(count) if count >= 0 => count as u64,
        _ => return ctx.reply.error(NOT_POSITIVE),
    };
    let key = argv.get(1);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let set = match lookup_write(db, key, now, clock) {
        SetLookup::Absent => return ctx.reply.set(0),
        SetLookup::WrongType => return ctx.reply.error(errors::WRONGTYPE),
        SetLookup::Found(set) => set,
    };
    if count == 0 {
        return ctx.reply.set(0);
    }
    if count >= set.len() as u64 {
        // Redis replies through SUNION of the one key here: its read
        // lookup counts a keyspace hit, and the members come in the order
        // of a union built from an empty intset (ascending when they are
        // all integers, even if the set itself is a hashtable).
        ctx.stats.keyspace_hits += 1;
        let limits = set_limits(ctx.config);
        let mut union = SetValue::default();
        for member in set.iter() {
            union.add_member(member, limits);
        }
        reply_set(&mut ctx.reply, &union);
        db.remove(key);
        ctx.effects.replace(&[b"DEL", key]);
        return;
    }
    ctx.reply.set(count as usize);
    let mut removed: Vec<Vec<u8>> = Vec::new();
    for _ in 0..count {
        let at = ctx.rng.below(set.len());
        reply_member(&mut ctx.reply, set.member_at(at));
        if ctx.effects.wanted() {
            removed.push(set.member_at(at).to_vec());
        }
        set.remove_at(at);
    }
    // The random picks recorded as what they removed.
    if ctx.effects.wanted() {
        let mut args: Vec<&[u8]> = vec![b"SREM", key];
        args.extend(removed.iter().map(Vec::as_slice));
        ctx.effects.replace(&args);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_positions_are_distinct_sorted_and_in_range() {
        let mut rng = SplitMix64::new(3);
        for (size, count) in [(10, 9), (10, 1), (1000, 5), (1000, 400), (2, 1)] {
            let picked = distinct_positions(&mut rng, size, count);
            assert_eq!(picked.len(), count);
            assert!(picked.windows(2).all(|w| w[0] < w[1]));
            assert!(picked.iter().all(|&p| p < size));
        }
    }
}
