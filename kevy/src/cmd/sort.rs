//! `SORT` and `SORT_RO`, byte-exact with Redis 7.0's `sort.c`.
//!
//! The flow, as in Redis: parse the options; read the sorted key's elements
//! (a list, set or sorted set, through `source`); cut the LIMIT window; give
//! each element its weight (itself, or the value its BY pattern names,
//! numeric unless ALPHA); sort (`order`); then reply the window, each
//! element replaced by the values its GET patterns name, or STORE it as a
//! list under another key.
//!
//! Routing: SORT names its sorted key and, with STORE, the destination
//! (found by [`sort_keys`], as Redis's `sortGetKeys`), and is
//! `Route::Atomic`, so a destination on another shard is written
//! all-or-nothing. BY and GET patterns name keys that only the data
//! reveals, so they cannot be routed: they are read from the keyspace the
//! command runs on. On one shard that is every key; on several shards a
//! pattern key is found only when it lives on the sorted key's shard (give
//! the pattern the sorted key's `{hash tag}` to ensure it), and not at all
//! when a STORE destination on another shard makes the command run on a
//! scratch copy of its two keys. Redis Cluster refuses such patterns;
//! kevy reads them as missing keys.

mod order;
mod source;
#[cfg(test)]
mod tests;

use super::list::{keyword_is, new_list};
use super::{errors, keyed, read_entry, CommandSpec, ExecCtx, Handler, KeySpec, Route};
use crate::keyspace::Value;
use crate::resp::num::parse_i64;
use crate::resp::Argv;
use order::{c_str, partial_sort, weight, Comparison, Weighted};
use source::{elements_of, lookup_by_pattern, Kind};

const NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";

/// SORT's options.
struct SortOptions<'a> {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    /// -1: no LIMIT.
    limit_count: i64,
    store: Option<&'a [u8]>,
    by: Option<&'a [u8]>,
    /// BY a pattern without `*`: keep the collection's order. Once set it
    /// stays set, even if a later BY has a `*` (as in Redis).
    dont_sort: bool,
    gets: Vec<&'a [u8]>,
}

/// Parses the options after the key, replying the error when there is one.
fn parse_options<'a>(ctx: &mut ExecCtx, argv: Argv<'a>, readonly: bool) -> Option<SortOptions<'a>> {
    let mut options = SortOptions {
        desc: false,
        alpha: false,
        limit_start: 0,
        limit_count: -1,
        store: None,
        by: None,
        dont_sort: false,
        gets: Vec::new(),
    };
    let mut j = 2;
    while j < argv.len() {
        let word = argv.get(j);
        let left = argv.len() - j - 1;
        if keyword_is(word, "asc") {
            options.desc = false;
        } else if keyword_is(word, "desc") {
            options.desc = true;
        } else if keyword_is(word, "alpha") {
            options.alpha = true;
        } else if keyword_is(word, "limit") && left >= 2 {
            match (parse_i64(argv.get(j + 1)), parse_i64(argv.get(j + 2))) {
                (Some(start), Some(count)) => {
                    options.limit_start = start;
                    options.limit_count = count;
                }
                _ => {
                    ctx.reply.error(errors::NOT_INTEGER);
                    return None;
                }
            }
            j += 2;
        } else if !readonly && keyword_is(word, "store") && left >= 1 {
            options.store = Some(argv.get(j + 1));
            j += 1;
        } else if keyword_is(word, "by") && left >= 1 {
            let pattern = argv.get(j + 1);
            options.by = Some(pattern);
            if !c_str(pattern).contains(&b'*') {
                options.dont_sort = true;
            }
            j += 1;
        } else if keyword_is(word, "get") && left >= 1 {
            options.gets.push(argv.get(j + 1));
            j += 1;
        } else {
            ctx.reply.error(errors::SYNTAX);
            return None;
        }
        j += 1;
    }
    Some(options)
}

/// The inclusive window `start..=end` of a `len`-element result that LIMIT
/// selects, with Redis's clamping (`end < start` means empty).
fn limit_window(limit_start: i64, limit_count: i64, len: i64) -> (i64, i64) {
    let mut start = limit_start.max(0).min(len);
    let count = limit_count.max(-1).min(len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    (start, end.min(len - 1))
}

fn sort_generic(ctx: &mut ExecCtx, argv: Argv, readonly: bool) {
    let Some(mut options) = parse_options(ctx, argv, readonly) else {
        return;
    };
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let entry = read_entry(db, ctx.stats, argv.get(1), now, clock);
    let Ok(source) = elements_of(entry.map(|e| &e.value)) else {
        return ctx.reply.error(errors::WRONGTYPE);
    };
    // A set has no order of its own: with STORE it is sorted ALPHA, so
    // the stored result does not depend on its layout.
    if options.dont_sort && source.kind == Kind::Set && options.store.is_some() {
        options.dont_sort = false;
        options.alpha = true;
        options.by = None;
    }
    let len = source.items.len() as i64;
    let (mut start, mut end) = limit_window(options.limit_start, options.limit_count, len);
    let mut items = source.items;
    let keeps_order = matches!(source.kind, Kind::List | Kind::ZSet);
    if keeps_order && options.dont_sort {
        // Only the window is kept, in the collection's order (reversed by
        // DESC), as Redis loads it directly.
        if options.desc {
            items.reverse();
        }
        if end >= start {
            items.truncate(end as usize + 1);
            items.drain(..start as usize);
            end -= start;
            start = 0;
        } else {
            items.clear();
        }
    }
    let mut weighted: Vec<Weighted> = items
        .into_iter()
        .map(|element| Weighted {
            element,
            score: 0.0,
            by_value: None,
        })
        .collect();
    let mut not_a_number = false;
    if !options.dont_sort {
        not_a_number = weigh(ctx, &mut weighted, &options);
        let cmp = Comparison {
            desc: options.desc,
            alpha: options.alpha,
            by_pattern: options.by.is_some(),
            store: options.store.is_some(),
        };
        let whole = start == 0 && end == weighted.len() as i64 - 1;
        // A failed conversion is replied without sorting (Redis sorts and
        // discards; the order is never seen), and so is an empty window.
        let needed = !not_a_number && end >= start;
        if needed && options.by.is_some() && !whole {
            partial_sort(&mut weighted, cmp, start as usize, end as usize);
        } else if needed {
            weighted.sort_by(|a, b| cmp.compare(a, b));
        }
    }
    if not_a_number {
        return ctx.reply.error(NOT_DOUBLE);
    }
    let window: &[Weighted] = if end >= start {
        &weighted[start as usize..=end as usize]
    } else {
        &[]
    };
    match options.store {
        None => reply_window(ctx, window, &options.gets),
        Some(destination) => store_window(ctx, window, &options.gets, destination),
    }
}

/// Gives every element its weight; true when a numeric weight is not a
/// number (the command then fails).
fn weigh(ctx: &mut ExecCtx, weighted: &mut [Weighted], options: &SortOptions) -> bool {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    let mut not_a_number = false;
    for item in weighted.iter_mut() {
        let by_value = match options.by {
            Some(pattern) => {
                match lookup_by_pattern(db, ctx.stats, now, clock, pattern, &item.element) {
                    Some(value) => value,
                    // A missing weight stays 0 (or sorts first with ALPHA).
                    None => continue,
                }
            }
            None => std::borrow::Cow::Borrowed(&item.element[..]),
        };
        if options.alpha {
            if options.by.is_some() {
                item.by_value = Some(by_value.into_owned());
            }
        } else {
            match weight(&by_value) {
                Some(score) => item.score = score,
                None => not_a_number = true,
            }
        }
    }
    not_a_number
}

/// Replies the window: each element, or for each element the value of
/// every GET pattern (null when missing).
fn reply_window(ctx: &mut ExecCtx, window: &[Weighted], gets: &[&[u8]]) {
    let per_element = gets.len().max(1);
    ctx.reply.array(window.len() * per_element);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.keyspace.db(ctx.db_index);
    for item in window {
        if gets.is_empty() {
            ctx.reply.bulk(&item.element);
        }
        for pattern in gets {
            match lookup_by_pattern(db, ctx.stats, now, clock, pattern, &item.element) {
                Some(value) => ctx.reply.bulk(&value),
                None => ctx.reply.null(),
            }
        }
    }
}

/// STORE: the window (or its GET values, missing ones as empty strings)
/// becomes a list at `destination`, replacing any value and TTL; an empty
/// result deletes the destination. Replies the stored length.
fn store_window(ctx: &mut ExecCtx, window: &[Weighted], gets: &[&[u8]], destination: &[u8]) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let mut list = new_list(ctx.config);
    let db = ctx.keyspace.db(ctx.db_index);
    for item in window {
        if gets.is_empty() {
            list.push_back(&item.element);
        }
        for pattern in gets {
            match lookup_by_pattern(db, ctx.stats, now, clock, pattern, &item.element) {
                Some(value) => list.push_back(&value),
                None => list.push_back(b""),
            }
        }
    }
    let stored = list.len();
    if stored > 0 {
        db.set(destination, Value::List(Box::new(list)), false, clock);
    } else {
        db.delete(destination, now);
    }
    ctx.reply.int(stored as i64);
}

fn sort(ctx: &mut ExecCtx, argv: Argv) {
    sort_generic(ctx, argv, false);
}

fn sort_ro(ctx: &mut ExecCtx, argv: Argv) {
    sort_generic(ctx, argv, true);
}

/// SORT's keys, as Redis's `sortGetKeys`: the sorted key, and the
/// destination of the last STORE. Option arguments are skipped so a
/// pattern or a LIMIT number is never taken for a key.
fn sort_keys(argv: Argv, out: &mut Vec<usize>) {
    if argv.len() < 2 {
        return;
    }
    out.push(1);
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let word = argv.get(i);
        if keyword_is(word, "limit") {
            i += 2;
        } else if keyword_is(word, "get") || keyword_is(word, "by") {
            i += 1;
        } else if keyword_is(word, "store") && i + 1 < argv.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    out.extend(store);
}

const ACL_SORT: &[&str] = &[
    "@write",
    "@set",
    "@sortedset",
    "@list",
    "@slow",
    "@dangerous",
];
const ACL_SORT_RO: &[&str] = &[
    "@read",
    "@set",
    "@sortedset",
    "@list",
    "@slow",
    "@dangerous",
];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "sort",
        arity: -2,
        flags: &["write", "denyoom", "movablekeys"],
        acl: ACL_SORT,
        keys: KeySpec::Custom {
            first: 1,
            last: 1,
            step: 1,
            find: sort_keys,
        },
        route: Route::Atomic,
        handler: Handler::Key(sort),
        group: "generic",
        since: "1.0.0",
        summary: "Sort the elements in a list, set or sorted set",
        subcommands: &[],
    },
    keyed(
        "sort_ro",
        -2,
        &["readonly", "movablekeys"],
        ACL_SORT_RO,
        sort_ro,
        "generic",
        "7.0.0",
        "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
    ),
];
