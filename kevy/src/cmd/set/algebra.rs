//! `SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE`, and
//! `SMEMBERS` (in Redis 7.0 an intersection of one set).
//!
//! The operand sets are taken out of their entries for the length of the
//! command (an empty placeholder stands in, entries keep their slots and
//! expiry times) so several can be read at once, and are put back before
//! any result is stored, which may replace one of them. Results are built
//! the way Redis builds them, starting from an empty intset and adding
//! members with the usual conversions, so a stored result has Redis's
//! encoding and a reply its order: ascending when the result (for union
//! and difference) or the smallest operand (for intersection) is an
//! intset. The difference picks between Redis's two algorithms by the
//! same estimate, because the encoding of its result depends on which one
//! ran. Sources of the STORE forms are looked up as writes (no keyspace
//! hit or miss counted), as in Redis.

use std::ops::Range;

use hashbrown::HashMap;

use super::{reply_member, reply_set, set_limits};
use crate::cmd::strings::option_is;
use crate::cmd::{errors, ExecCtx};
use crate::keyspace::set::{Member, SetValue};
use crate::keyspace::{Db, Value};
use crate::resp::num::parse_i64;
use crate::resp::{Argv, ReplyBuf};

const NUMKEYS: &str = "ERR numkeys should be greater than 0";
const TOO_MANY_KEYS: &str = "ERR Number of keys can't be greater than number of args";
const NEGATIVE_LIMIT: &str = "ERR LIMIT can't be negative";

/// The sets a command reads, out of their entries while it runs.
struct Operands<'a> {
    /// Each distinct key with the set taken from it.
    taken: Vec<(&'a [u8], SetValue)>,
    /// Per key argument, in order: its index in `taken`, or None when the
    /// key does not exist.
    slots: Vec<Option<usize>>,
}

impl<'a> Operands<'a> {
    /// Looks the keys up in order (counting hits and misses when
    /// `count_reads`), stopping at the first that holds another type:
    /// then everything is put back and None returned.
    fn take(
        ctx: &mut ExecCtx,
        keys: impl Iterator<Item = &'a [u8]>,
        count_reads: bool,
    ) -> Option<Self> {
        let (now, clock) = (ctx.now_ms, ctx.clock);
        let db = ctx.keyspace.db(ctx.db_index);
        let mut operands = Operands {
            taken: Vec::new(),
            slots: Vec::new(),
        };
        let mut index_of: HashMap<&[u8], usize> = HashMap::new();
        for key in keys {
            let entry = db.get_touch(key, now, clock);
            if count_reads {
                match entry {
                    Some(_) => ctx.stats.keyspace_hits += 1,
                    None => ctx.stats.keyspace_misses += 1,
                }
            }
            let slot = match entry.map(|e| &mut e.value) {
                None => None,
                Some(Value::Set(_)) if index_of.contains_key(key) => index_of.get(key).copied(),
                Some(value @ Value::Set(_)) => {
                    let Value::Set(set) = std::mem::replace(value, Value::Set(SetValue::default()))
                    else {
                        unreachable!("matched a set just above")
                    };
                    index_of.insert(key, operands.taken.len());
                    operands.taken.push((key, set));
                    Some(operands.taken.len() - 1)
                }
                Some(_) => {
                    operands.restore(db, now);
                    return None;
                }
            };
            operands.slots.push(slot);
        }
        Some(operands)
    }

    /// The set of a key argument (by position among the keys).
    fn set(&self, argument: usize) -> Option<&SetValue> {
        self.slots[argument].map(|i| &self.taken[i].1)
    }

    /// Puts every set back into its entry.
    fn restore(self, db: &mut Db, now_ms: u64) {
        for (key, set) in self.taken {
            if let Some(entry) = db.get(key, now_ms) {
                entry.value = Value::Set(set);
            }
        }
    }
}

/// Stores a result at `destination` (replacing any value and expiry), or
/// deletes it when the result is empty; replies the result's size.
fn store(
    reply: &mut ReplyBuf,
    db: &mut Db,
    destination: &[u8],
    result: SetValue,
    now_ms: u64,
    clock: u32,
) {
    let size = result.len();
    if size == 0 {
        db.delete(destination, now_ms);
    } else {
        db.set(destination, Value::Set(result), false, clock);
    }
    reply.int(size as i64);
}

/// What an intersection produces.
#[derive(Clone, Copy)]
enum Output<'a> {
    Members,
    /// The count, stopping at a nonzero limit.
    Cardinality(u64),
    Store(&'a [u8]),
}

/// Redis's `sinterGenericCommand` over the key arguments in `keys`.
fn intersect(ctx: &mut ExecCtx, argv: Argv, keys: Range<usize>, output: Output) {
    let limits = set_limits(ctx.config);
    let count_reads = !matches!(output, Output::Store(_));
    let Some(operands) = Operands::take(ctx, keys.map(|i| argv.get(i)), count_reads) else {
        return ctx.reply.error(errors::WRONGTYPE);
    };
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    if operands.slots.iter().any(Option::is_none) {
        // A missing key is an empty set: so is the intersection.
        operands.restore(db, now);
        return match output {
            Output::Members => ctx.reply.set(0),
            Output::Cardinality(_) => ctx.reply.int(0),
            Output::Store(destination) => store(
                &mut ctx.reply,
                db,
                destination,
                SetValue::default(),
                now,
                clock,
            ),
        };
    }
    // Smallest first, ties in argument order (glibc's qsort is a stable
    // merge sort); the smallest one's members are the candidates.
    let mut order: Vec<usize> = operands.slots.iter().flatten().copied().collect();
    order.sort_by_key(|&i| operands.taken[i].1.len());
    let smallest = order[0];
    let others: Vec<&SetValue> = order[1..]
        .iter()
        .filter(|&&i| i != smallest)
        .map(|&i| &operands.taken[i].1)
        .collect();
    let candidates = &operands.taken[smallest].1;
    let in_all = |member: Member<'_>| others.iter().all(|set| set.contains_member(member));
    match output {
        Output::Members => {
            let found: Vec<Member<'_>> = candidates.iter().filter(|&m| in_all(m)).collect();
            ctx.reply.set(found.len());
            for member in found {
                reply_member(&mut ctx.reply, member);
            }
            operands.restore(db, now);
        }
        Output::Cardinality(limit) => {
            let mut cardinality = 0u64;
            for member in candidates.iter() {
                if in_all(member) {
                    cardinality += 1;
                    if limit != 0 && cardinality >= limit {
                        break;
                    }
                }
            }
            ctx.reply.int(cardinality as i64);
            operands.restore(db, now);
        }
        Output::Store(destination) => {
            let mut result = SetValue::default();
            for member in candidates.iter().filter(|&m| in_all(m)) {
                result.add_member(member, limits);
            }
            operands.restore(db, now);
            store(&mut ctx.reply, db, destination, result, now, clock);
        }
    }
}

/// `SINTER key [key ...]`, and `SMEMBERS key`.
pub(in crate::cmd) fn sinter(ctx: &mut ExecCtx, argv: Argv) {
    intersect(ctx, argv, 1..argv.len(), Output::Members);
}

/// `SINTERSTORE destination key [key ...]`.
pub(in crate::cmd) fn sinterstore(ctx: &mut ExecCtx, argv: Argv) {
    intersect(ctx, argv, 2..argv.len(), Output::Store(argv.get(1)));
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`.
pub(in crate::cmd) fn sintercard(ctx: &mut ExecCtx, argv: Argv) {
    let numkeys = match parse_i64(argv.get(1)) {
        Some(n) if n >= 1 => n as u64,
        _ => return ctx.reply.error(NUMKEYS),
    };
    if numkeys > argv.len().saturating_sub(2) as u64 {
        return ctx.reply.error(TOO_MANY_KEYS);
    }
    let keys_end = 2 + numkeys as usize;
    let mut limit = 0u64;
    let mut i = keys_end;
    while i < argv.len() {
        let more_args = i + 1 < argv.len();
        if option_is(argv.get(i), "LIMIT") && more_args {
            i += 1;
            match parse_i64(argv.get(i)) {
                Some(n) if n >= 0 => limit = n as u64,
                _ => return ctx.reply.error(NEGATIVE_LIMIT),
            }
        } else {
            return ctx.reply.error(errors::SYNTAX);
        }
        i += 1;
    }
    intersect(ctx, argv, 2..keys_end, Output::Cardinality(limit));
}

/// Redis's `sunionDiffGenericCommand`: the union or the difference of the
/// key arguments in `keys`, replied or stored.
fn union_or_diff(
    ctx: &mut ExecCtx,
    argv: Argv,
    keys: Range<usize>,
    destination: Option<&[u8]>,
    diff: bool,
) {
    let limits = set_limits(ctx.config);
    let Some(operands) = Operands::take(ctx, keys.map(|i| argv.get(i)), destination.is_none())
    else {
        return ctx.reply.error(errors::WRONGTYPE);
    };
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let mut result = SetValue::default();
    let sets: Vec<Option<&SetValue>> = (0..operands.slots.len()).map(|i| operands.set(i)).collect();
    if !diff {
        for set in sets.iter().flatten() {
            for member in set.iter() {
                result.add_member(member, limits);
            }
        }
    } else if let Some(first) = sets[0] {
        // The first key again among the others: nothing is left.
        let same_set = operands.slots[1..].contains(&operands.slots[0]);
        let others = || sets[1..].iter().flatten();
        let present = 1 + others().count() as u64;
        let first_len = first.len() as u64;
        let check_each_work = present.saturating_mul(first_len) / 2;
        let remove_all_work = first_len + others().map(|s| s.len() as u64).sum::<u64>();
        if !same_set && check_each_work <= remove_all_work {
            for member in first.iter() {
                if !others().any(|set| set.contains_member(member)) {
                    result.add_member(member, limits);
                }
            }
        } else if !same_set {
            // Everything first, then removals: an intset that grew past
            // its limit on the way stays a hashtable, as in Redis.
            for member in first.iter() {
                result.add_member(member, limits);
            }
            for set in others() {
                for member in set.iter() {
                    result.remove_member(member);
                }
                if result.is_empty() {
                    break;
                }
            }
        }
    }
    drop(sets);
    let db = ctx.keyspace.db(ctx.db_index);
    operands.restore(db, now);
    match destination {
        Some(destination) => store(&mut ctx.reply, db, destination, result, now, clock),
        None => reply_set(&mut ctx.reply, &result),
    }
}

/// `SUNION key [key ...]`.
pub(in crate::cmd) fn sunion(ctx: &mut ExecCtx, argv: Argv) {
    union_or_diff(ctx, argv, 1..argv.len(), None, false);
}

/// `SUNIONSTORE destination key [key ...]`.
pub(in crate::cmd) fn sunionstore(ctx: &mut ExecCtx, argv: Argv) {
    union_or_diff(ctx, argv, 2..argv.len(), Some(argv.get(1)), false);
}

/// `SDIFF key [key ...]`.
pub(in crate::cmd) fn sdiff(ctx: &mut ExecCtx, argv: Argv) {
    union_or_diff(ctx, argv, 1..argv.len(), None, true);
}

/// `SDIFFSTORE destination key [key ...]`.
pub(in crate::cmd) fn sdiffstore(ctx: &mut ExecCtx, argv: Argv) {
    union_or_diff(ctx, argv, 2..argv.len(), Some(argv.get(1)), true);
}
