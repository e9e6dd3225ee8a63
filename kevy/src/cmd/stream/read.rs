//! `XREAD [COUNT n] [BLOCK ms] STREAMS key... id...` and `XREADGROUP GROUP g
//! c [COUNT n] [BLOCK ms] [NOACK] STREAMS key... id...`.
//!
//! The keys are the first half of the arguments after `STREAMS`; the same
//! parser finds them for routing ([`stream_keys`]) and for the handler, so
//! the shard core copies exactly the keys the handler reads when they span
//! shards. As in Redis's `xreadCommand`, a first pass checks every key and
//! resolves `$`, `>` and explicit IDs (stopping at the first error), then a
//! second pass serves each stream that has something to give: new entries
//! (advancing the group and filling its PEL unless `NOACK`), or for an
//! XREADGROUP with an explicit ID the consumer's own pending history.
//! A call with `BLOCK` that may wait never reaches this handler: the shard
//! core parks it (`cmd::blocking::stream`). Here `BLOCK` only has the
//! meaning it has where a call cannot wait (inside `MULTI`): nothing to
//! serve replies nil.

use super::effects::{record_claim, record_position};
use super::{
    c_text, lookup_read, no_such_key_or_group, option_is, reply_entries, reply_entry, reply_id,
    strict_id_or_reply, StreamLookup,
};
use crate::cmd::{errors, ExecCtx};
use crate::keyspace::stream::{StreamId, StreamValue};
use crate::resp::num::parse_i64;
use crate::resp::{Argv, ReplyBuf};

const UNBALANCED: &str =
    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.";
const GROUP_ONLY: &str =
    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.";
const NOACK_ONLY: &str =
    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.";
const MISSING_GROUP: &str = "ERR Missing GROUP option for XREADGROUP";
const DOLLAR_IN_GROUP: &str = "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.";
const GREATER_WITHOUT_GROUP: &str = "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.";
const TIMEOUT_NOT_INTEGER: &str = "ERR timeout is not an integer or out of range";
const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";
const TIMEOUT_OUT_OF_RANGE: &str = "ERR timeout is out of range";
const NOGROUP_SUFFIX: &str = " in XREADGROUP with GROUP option";

/// The options of one XREAD/XREADGROUP call.
struct ReadArgs {
    /// Most entries per stream; 0 is no limit.
    count: u64,
    /// Position of the first key.
    streams_at: usize,
    /// Number of keys (and of IDs).
    keys: usize,
    /// Positions of the group and consumer names.
    group: Option<(usize, usize)>,
    noack: bool,
}

/// Parses the options as Redis does, in order; `Err` is the error reply.
fn parse(argv: Argv, xreadgroup: bool, now_ms: u64) -> Result<ReadArgs, &'static str> {
    let mut args = ReadArgs {
        count: 0,
        streams_at: 0,
        keys: 0,
        group: None,
        noack: false,
    };
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        let opt = argv.get(i);
        if option_is(opt, "block") && more > 0 {
            i += 1;
            let timeout = parse_i64(argv.get(i)).ok_or(TIMEOUT_NOT_INTEGER)?;
            if timeout < 0 {
                return Err(TIMEOUT_NEGATIVE);
            }
            if timeout > 0 && timeout > i64::MAX - (now_ms as i64) {
                return Err(TIMEOUT_OUT_OF_RANGE);
            }
        } else if option_is(opt, "count") && more > 0 {
            i += 1;
            let count = parse_i64(argv.get(i)).ok_or(errors::NOT_INTEGER)?;
            args.count = count.max(0) as u64;
        } else if option_is(opt, "streams") && more > 0 {
            let rest = argv.len() - (i + 1);
            if rest % 2 != 0 {
                return Err(UNBALANCED);
            }
            args.streams_at = i + 1;
            args.keys = rest / 2;
            break;
        } else if option_is(opt, "group") && more >= 2 {
            if !xreadgroup {
                return Err(GROUP_ONLY);
            }
            args.group = Some((i + 1, i + 2));
            i += 2;
        } else if option_is(opt, "noack") {
            if !xreadgroup {
                return Err(NOACK_ONLY);
            }
            args.noack = true;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    if args.streams_at == 0 {
        return Err(errors::SYNTAX);
    }
    if xreadgroup && args.group.is_none() {
        return Err(MISSING_GROUP);
    }
    Ok(args)
}

/// Key positions of an XREAD/XREADGROUP (none when the options are
/// invalid: the handler then replies the error without reading keys).
pub(super) fn stream_keys(argv: Argv, out: &mut Vec<usize>) {
    let xreadgroup = argv.get(0).len() == "xreadgroup".len();
    if let Ok(args) = parse(argv, xreadgroup, 0) {
        out.extend(args.streams_at..args.streams_at + args.keys);
    }
}

pub(super) fn xread(ctx: &mut ExecCtx, argv: Argv) {
    read(ctx, argv, false);
}

pub(super) fn xreadgroup(ctx: &mut ExecCtx, argv: Argv) {
    read(ctx, argv, true);
}

fn read(ctx: &mut ExecCtx, argv: Argv, xreadgroup: bool) {
    let args = match parse(argv, xreadgroup, ctx.now_ms) {
        Ok(args) => args,
        Err(message) => return ctx.reply.error(message),
    };
    let Some(ids) = resolve_ids(ctx, argv, &args) else {
        return;
    };
    if xreadgroup {
        // Recorded as the claims and positions it produced (see `effects`).
        ctx.effects.suppress();
    }
    let mut body = Vec::new();
    let mut served = 0;
    {
        let mut out = ReplyBuf::new(&mut body, ctx.reply.resp3);
        for (i, &after) in ids.iter().enumerate() {
            if serve(ctx, argv, &args, i, after, &mut out) {
                served += 1;
            }
        }
    }
    if served > 0 {
        if ctx.reply.resp3 {
            ctx.reply.map(served);
        } else {
            ctx.reply.array(served);
        }
        ctx.reply.raw(&body);
    } else {
        ctx.reply.null_array();
    }
}

/// The first pass: checks each key (type, group) and resolves its ID to
/// "entries after this one"; `>` is [`StreamId::MAX`].
fn resolve_ids(ctx: &mut ExecCtx, argv: Argv, args: &ReadArgs) -> Option<Vec<StreamId>> {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let xreadgroup = args.group.is_some();
    let mut ids = Vec::with_capacity(args.keys);
    for i in 0..args.keys {
        let key = argv.get(args.streams_at + i);
        let id_arg = argv.get(args.streams_at + args.keys + i);
        let db = ctx.keyspace.db(ctx.db_index);
        let stream = match lookup_read(db, ctx.stats, key, now, clock) {
            StreamLookup::WrongType => {
                ctx.reply.error(errors::WRONGTYPE);
                return None;
            }
            StreamLookup::Absent => None,
            StreamLookup::Found(stream) => Some(stream),
        };
        if let Some((group_at, _)) = args.group {
            let group = argv.get(group_at);
            if !stream
                .as_ref()
                .is_some_and(|s| s.groups.contains_key(group))
            {
                no_such_key_or_group(&mut ctx.reply, key, group, NOGROUP_SUFFIX);
                return None;
            }
        }
        let id = match c_text(id_arg) {
            b"$" if xreadgroup => {
                ctx.reply.error(DOLLAR_IN_GROUP);
                return None;
            }
            b"$" => stream.map_or(StreamId::MIN, |s| s.entries.last_id),
            b">" if !xreadgroup => {
                ctx.reply.error(GREATER_WITHOUT_GROUP);
                return None;
            }
            b">" => StreamId::MAX,
            _ => strict_id_or_reply(&mut ctx.reply, id_arg)?,
        };
        ids.push(id);
    }
    Some(ids)
}

/// The second pass for key `i`: replies `key entries` into `out` when the
/// stream has something to serve, and says whether it did.
fn serve(
    ctx: &mut ExecCtx,
    argv: Argv,
    args: &ReadArgs,
    i: usize,
    after: StreamId,
    out: &mut ReplyBuf,
) -> bool {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let key = argv.get(args.streams_at + i);
    let db = ctx.keyspace.db(ctx.db_index);
    let StreamLookup::Found(stream) = lookup_read(db, ctx.stats, key, now, clock) else {
        return false;
    };
    let Some((group_at, consumer_at)) = args.group else {
        let newer = stream.entries.last_live_id().is_some_and(|top| top > after);
        if newer {
            reply_key(out, key);
            let start = after.next().unwrap_or(StreamId::MIN);
            let entries: Vec<_> = stream
                .entries
                .range(start, StreamId::MAX)
                .take(limit(args.count))
                .collect();
            reply_entries(out, &entries);
        }
        return newer;
    };
    let (group_name, consumer) = (argv.get(group_at), argv.get(consumer_at));
    let history = after != StreamId::MAX;
    let StreamValue { entries, groups } = stream;
    let Some(group) = groups.get_mut(group_name) else {
        return false;
    };
    let from = if history {
        after
    } else {
        match entries.last_live_id() {
            Some(top) if top > group.last_id => group.last_id,
            _ => return false,
        }
    };
    reply_key(out, key);
    let start = from.next().unwrap_or(StreamId::MIN);
    group.touch_consumer(consumer, now as i64);
    if history {
        // The consumer's own pending entries from `start`.
        let owned: Vec<StreamId> = group
            .consumers
            .get(consumer)
            .map(|c| {
                c.pel
                    .range(start..)
                    .take(limit(args.count))
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        out.array(owned.len());
        for id in owned {
            match entries.get(id) {
                Some(entry) => {
                    reply_entry(out, entry);
                    if let Some(pending) = group.pel.get_mut(&id) {
                        pending.delivery_time = now as i64;
                        pending.delivery_count = pending.delivery_count.wrapping_add(1);
                    }
                    record_claim(ctx.effects, key, group_name, consumer, group, id);
                }
                None => {
                    out.array(2);
                    reply_id(out, id);
                    out.null_array();
                }
            }
        }
    } else {
        let delivered: Vec<_> = entries
            .range(start, StreamId::MAX)
            .take(limit(args.count))
            .collect();
        out.array(delivered.len());
        for entry in delivered {
            group.advance(entries, entry.id);
            reply_entry(out, entry);
            if !args.noack {
                group.assign(entry.id, consumer, (now as i64, 1));
                record_claim(ctx.effects, key, group_name, consumer, group, entry.id);
            }
        }
        record_position(ctx.effects, key, group_name, group);
    }
    true
}

/// The key heading a stream's part of the reply: `[key, entries]` in RESP2,
/// a map key in RESP3.
fn reply_key(out: &mut ReplyBuf, key: &[u8]) {
    if !out.resp3 {
        out.array(2);
    }
    out.bulk(key);
}

/// A COUNT as an iterator limit (0: none).
fn limit(count: u64) -> usize {
    match count {
        0 => usize::MAX,
        n => usize::try_from(n).unwrap_or(usize::MAX),
    }
}
