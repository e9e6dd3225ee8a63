//! `ZUNION ZINTER ZDIFF ZINTERCARD` and the `*STORE` forms: Redis's
//! `zunionInterDiffGenericCommand`.
//!
//! Steps, in Redis's order (which decides which error wins): `numkeys`,
//! every input key (looked up, so hits and misses count, and type-checked),
//! then the options (`WEIGHTS`, `AGGREGATE`, `WITHSCORES`, `LIMIT`). Union
//! and intersection then visit the inputs from the smallest, as Redis does
//! (a stable sort, as glibc's `qsort` is for small arrays); the order
//! decides how floating-point sums round, so it is kept. Inputs are read
//! one at a time: the intersection and difference start from a copy of
//! the first input and drop what the others lack or hold. The result is
//! sorted by (score, member); a stored result replaces the destination
//! (or deletes it when empty) and is compact when it fits.

use std::collections::HashMap;
use std::collections::HashSet;

use super::score::parse_score;
use super::{limits, option_is, reply_list, ZLookup};
use crate::cmd::lookup_read;
use crate::cmd::{errors, ExecCtx};
use crate::keyspace::set::SetValue;
use crate::keyspace::zset::{entry_order, ZSetValue};
use crate::keyspace::{Db, Value};
use crate::resp::num::parse_i64;
use crate::resp::Argv;

const WEIGHT_NOT_FLOAT: &str = "ERR weight value is not a float";
const LIMIT_NEGATIVE: &str = "ERR LIMIT can't be negative";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Operation {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Redis's `zunionInterAggregate` (a NaN sum, as `inf + -inf`, is 0).
fn aggregate(target: &mut f64, value: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += value;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if value < *target {
                *target = value;
            }
        }
        Aggregate::Max => {
            if value > *target {
                *target = value;
            }
        }
    }
}

/// A plain set's members as a sorted-set input (each scores 1).
fn set_members(set: &SetValue) -> Option<HashSet<Box<[u8]>>> {
    Some(
        set.iter()
            .map(|member| member.to_vec().into_boxed_slice())
            .collect(),
    )
}

/// One input key.
enum Input {
    Missing,
    /// A sorted set at this argument position, of this length.
    ZSet {
        position: usize,
        len: usize,
    },
    /// A plain set's members (score 1).
    Set(HashSet<Box<[u8]>>),
}

struct Source {
    input: Input,
    weight: f64,
}

impl Source {
    fn len(&self) -> usize {
        match &self.input {
            Input::Missing => 0,
            Input::ZSet { len, .. } => *len,
            Input::Set(members) => members.len(),
        }
    }
}

/// Reads sources from the keyspace (each input was found live in the
/// same step, so the lookups here cannot miss).
struct Reader<'a> {
    db: &'a mut Db,
    argv: Argv<'a>,
    now_ms: u64,
}

impl Reader<'_> {
    fn zset(&mut self, position: usize) -> Option<&ZSetValue> {
        match self.db.get(self.argv.get(position), self.now_ms) {
            Some(entry) => match &entry.value {
                Value::ZSet(z) => Some(z),
                _ => None,
            },
            None => None,
        }
    }

    /// Every (member, weighted score) of `source`.
    fn entries(&mut self, source: &Source) -> Vec<(Box<[u8]>, f64)> {
        let weighted = |score: f64| {
            let value = source.weight * score;
            if value.is_nan() {
                0.0
            } else {
                value
            }
        };
        match &source.input {
            Input::Missing => Vec::new(),
            Input::Set(members) => members.iter().map(|m| (m.clone(), weighted(1.0))).collect(),
            Input::ZSet { position, .. } => self
                .zset(*position)
                .map(|z| z.iter().map(|(m, s)| (m.into(), weighted(s))).collect())
                .unwrap_or_default(),
        }
    }

    /// Scores in `source` of each of `members` (None when absent).
    fn scores(&mut self, source: &Source, members: &[(Box<[u8]>, f64)]) -> Vec<Option<f64>> {
        match &source.input {
            Input::Missing => vec![None; members.len()],
            Input::Set(set) => members
                .iter()
                .map(|(m, _)| set.contains(m).then_some(1.0))
                .collect(),
            Input::ZSet { position, .. } => match self.zset(*position) {
                Some(z) => members.iter().map(|(m, _)| z.score(m)).collect(),
                None => vec![None; members.len()],
            },
        }
    }
}

/// What the command does with the result.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    Reply,
    Store,
    Cardinality,
}

fn generic(ctx: &mut ExecCtx, argv: Argv, name: &str, operation: Operation, output: Output) {
    let numkeys_at = if output == Output::Store { 2 } else { 1 };
    let Some(numkeys) = parse_i64(argv.get(numkeys_at)) else {
        return ctx.reply.error(errors::NOT_INTEGER);
    };
    if numkeys < 1 {
        return ctx.reply.error(&format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ));
    }
    let first_key = numkeys_at + 1;
    let available = argv.len() - first_key;
    let Some(numkeys) = usize::try_from(numkeys).ok().filter(|&n| n <= available) else {
        return ctx.reply.error(errors::SYNTAX);
    };
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let mut sources = Vec::with_capacity(numkeys);
    for position in first_key..first_key + numkeys {
        let input = match lookup_read(db, ctx.stats, argv.get(position), now, clock) {
            ZLookup::Absent => Input::Missing,
            ZLookup::Found(z) => Input::ZSet {
                position,
                len: z.len(),
            },
            ZLookup::WrongType => {
                let set = match db.get(argv.get(position), now).map(|e| &e.value) {
                    Some(Value::Set(set)) => set_members(set),
                    _ => None,
                };
                match set {
                    Some(members) => Input::Set(members),
                    None => return ctx.reply.error(errors::WRONGTYPE),
                }
            }
        };
        sources.push(Source { input, weight: 1.0 });
    }

    let mut how = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0usize;
    let mut at = first_key + numkeys;
    while at < argv.len() {
        let remaining = argv.len() - at;
        let arg = argv.get(at);
        let weighted = operation != Operation::Diff && output != Output::Cardinality;
        if weighted && remaining > numkeys && option_is(arg, "weights") {
            for (i, source) in sources.iter_mut().enumerate() {
                match parse_score(argv.get(at + 1 + i)) {
                    Some(weight) => source.weight = weight,
                    None => return ctx.reply.error(WEIGHT_NOT_FLOAT),
                }
            }
            at += 1 + numkeys;
        } else if weighted && remaining >= 2 && option_is(arg, "aggregate") {
            let choice = argv.get(at + 1);
            how = if option_is(choice, "sum") {
                Aggregate::Sum
            } else if option_is(choice, "min") {
                Aggregate::Min
            } else if option_is(choice, "max") {
                Aggregate::Max
            } else {
                return ctx.reply.error(errors::SYNTAX);
            };
            at += 2;
        } else if output == Output::Reply && option_is(arg, "withscores") {
            withscores = true;
            at += 1;
        } else if output == Output::Cardinality && remaining >= 2 && option_is(arg, "limit") {
            match parse_i64(argv.get(at + 1)).and_then(|n| usize::try_from(n).ok()) {
                Some(n) => limit = n,
                None => return ctx.reply.error(LIMIT_NEGATIVE),
            }
            at += 2;
        } else {
            return ctx.reply.error(errors::SYNTAX);
        }
    }

    if operation != Operation::Diff {
        sources.sort_by_key(Source::len);
    }
    let mut reader = Reader {
        db,
        argv,
        now_ms: now,
    };
    let mut result = match operation {
        Operation::Union => union(&mut reader, &sources, how),
        Operation::Inter => inter(&mut reader, &sources, how),
        Operation::Diff => diff(&mut reader, &sources),
    };
    match output {
        Output::Cardinality => {
            let count = if limit > 0 {
                result.len().min(limit)
            } else {
                result.len()
            };
            ctx.reply.int(count as i64);
        }
        Output::Reply => {
            result.sort_by(|a, b| entry_order((a.1, &a.0), (b.1, &b.0)));
            let items: Vec<(&[u8], f64)> = result.iter().map(|(m, s)| (&**m, *s)).collect();
            reply_list(&mut ctx.reply, &items, withscores);
        }
        Output::Store => {
            let dst = argv.get(1);
            let db = reader.db;
            if result.is_empty() {
                db.delete(dst, now);
                return ctx.reply.int(0);
            }
            result.sort_by(|a, b| entry_order((a.1, &a.0), (b.1, &b.0)));
            let count = result.len();
            let value = ZSetValue::from_sorted(result, limits(ctx.config));
            db.set(dst, Value::ZSet(value), false, clock);
            ctx.reply.int(count as i64);
        }
    }
}

fn union(reader: &mut Reader, sources: &[Source], how: Aggregate) -> Vec<(Box<[u8]>, f64)> {
    let mut totals: HashMap<Box<[u8]>, f64> = HashMap::new();
    for source in sources {
        for (member, score) in reader.entries(source) {
            match totals.get_mut(&member) {
                Some(total) => aggregate(total, score, how),
                None => {
                    totals.insert(member, score);
                }
            }
        }
    }
    totals.into_iter().collect()
}

fn inter(reader: &mut Reader, sources: &[Source], how: Aggregate) -> Vec<(Box<[u8]>, f64)> {
    let Some((smallest, others)) = sources.split_first() else {
        return Vec::new();
    };
    let mut kept = reader.entries(smallest);
    for source in others {
        if kept.is_empty() {
            break;
        }
        let scores = reader.scores(source, &kept);
        let mut next = Vec::with_capacity(kept.len());
        for ((member, mut total), score) in kept.into_iter().zip(scores) {
            if let Some(score) = score {
                aggregate(&mut total, score * source.weight, how);
                next.push((member, total));
            }
        }
        kept = next;
    }
    kept
}

fn diff(reader: &mut Reader, sources: &[Source]) -> Vec<(Box<[u8]>, f64)> {
    let Some((first, others)) = sources.split_first() else {
        return Vec::new();
    };
    // Differences use the scores as stored: no weights.
    let mut kept = reader.entries(first);
    for source in others {
        if kept.is_empty() {
            break;
        }
        let scores = reader.scores(source, &kept);
        kept = kept
            .into_iter()
            .zip(scores)
            .filter_map(|(entry, score)| score.is_none().then_some(entry))
            .collect();
    }
    kept
}

pub(super) fn zunion(ctx: &mut ExecCtx, argv: Argv) {
    generic(ctx, argv, "zunion", Operation::Union, Output::Reply);
}

pub(super) fn zinter(ctx: &mut ExecCtx, argv: Argv) {
    generic(ctx, argv, "zinter", Operation::Inter, Output::Reply);
}

pub(super) fn zdiff(ctx: &mut ExecCtx, argv: Argv) {
    generic(ctx, argv, "zdiff", Operation::Diff, Output::Reply);
}

pub(super) fn zintercard(ctx: &mut ExecCtx, argv: Argv) {
    generic(
        ctx,
        argv,
        "zintercard",
        Operation::Inter,
        Output::Cardinality,
    );
}

pub(super) fn zunionstore(ctx: &mut ExecCtx, argv: Argv) {
    generic(ctx, argv, "zunionstore", Operation::Union, Output::Store);
}

pub(super) fn zinterstore(ctx: &mut ExecCtx, argv: Argv) {
    generic(ctx, argv, "zinterstore", Operation::Inter, Output::Store);
}

pub(super) fn zdiffstore(ctx: &mut ExecCtx, argv: Argv) {
    generic(ctx, argv, "zdiffstore", Operation::Diff, Output::Store);
}
