//! Pub/Sub commands: `(P|S)SUBSCRIBE`, `(P|S)UNSUBSCRIBE`, `PUBLISH`,
//! `SPUBLISH` and `PUBSUB CHANNELS | NUMSUB | NUMPAT | SHARDCHANNELS |
//! SHARDNUMSUB | HELP`.
//!
//! Subscriptions live on the subscriber's own shard (`shard::pubsub`), so
//! (un)subscribing runs locally. Publishing delivers on every shard and
//! sums the receivers; `PUBSUB` asks every shard and merges the answers
//! (names deduplicated, counts summed). Shard channels are a namespace of
//! their own; kevy is not a cluster, so any shard channel may be used
//! from any connection, as in a standalone Redis.

use std::collections::HashSet;

use super::server::{reply_help, run_subcommand, Subcommand};
use super::{CommandSpec, ConnCtx, Handler, KeySpec, Route};
use crate::resp::Argv;
use crate::shard::pubsub::{PubSubAnswer, PubSubQuery, SubKind};
use crate::shard::query::{Answer, Query};

const SUBSCRIBE_FLAGS: &[&str] = &["pubsub", "noscript", "loading", "stale"];
const PUBLISH_FLAGS: &[&str] = &["pubsub", "loading", "stale", "fast"];
const SLOW_ACL: &[&str] = &["@pubsub", "@slow"];
const FAST_ACL: &[&str] = &["@pubsub", "@fast"];
const ALL_KEYS: KeySpec = KeySpec::Range {
    first: 1,
    last: -1,
    step: 1,
};

/// A subscribing command (or a publishing one when `publishes`).
const fn spec(
    name: &'static str,
    arity: i32,
    publishes: bool,
    keys: KeySpec,
    handler: fn(&mut ConnCtx, Argv),
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags: if publishes {
            PUBLISH_FLAGS
        } else {
            SUBSCRIBE_FLAGS
        },
        acl: if publishes { FAST_ACL } else { SLOW_ACL },
        keys,
        route: Route::Local,
        handler: Handler::Conn(handler),
        group: "pubsub",
        since,
        summary,
        subcommands: &[],
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "subscribe",
        -2,
        false,
        KeySpec::None,
        subscribe,
        "2.0.0",
        "Listen for messages published to the given channels",
    ),
    spec(
        "unsubscribe",
        -1,
        false,
        KeySpec::None,
        unsubscribe,
        "2.0.0",
        "Stop listening for messages posted to the given channels",
    ),
    spec(
        "psubscribe",
        -2,
        false,
        KeySpec::None,
        psubscribe,
        "2.0.0",
        "Listen for messages published to channels matching the given patterns",
    ),
    spec(
        "punsubscribe",
        -1,
        false,
        KeySpec::None,
        punsubscribe,
        "2.0.0",
        "Stop listening for messages posted to channels matching the given patterns",
    ),
    spec(
        "ssubscribe",
        -2,
        false,
        ALL_KEYS,
        ssubscribe,
        "7.0.0",
        "Listen for messages published to the given shard channels",
    ),
    spec(
        "sunsubscribe",
        -1,
        false,
        ALL_KEYS,
        sunsubscribe,
        "7.0.0",
        "Stop listening for messages posted to the given shard channels",
    ),
    spec(
        "publish",
        3,
        true,
        KeySpec::None,
        publish,
        "2.0.0",
        "Post a message to a channel",
    ),
    spec(
        "spublish",
        3,
        true,
        KeySpec::Range {
            first: 1,
            last: 1,
            step: 1,
        },
        spublish,
        "7.0.0",
        "Post a message to a shard channel",
    ),
    CommandSpec {
        name: "pubsub",
        arity: -2,
        flags: &[],
        acl: &["@slow"],
        keys: KeySpec::None,
        route: Route::Local,
        handler: Handler::Conn(pubsub),
        group: "pubsub",
        since: "2.8.0",
        summary: "A container for Pub/Sub commands",
        subcommands: &[
            "channels",
            "numsub",
            "numpat",
            "shardchannels",
            "shardnumsub",
            "help",
        ],
    },
];

fn names(argv: Argv<'_>) -> Vec<&[u8]> {
    argv.iter().skip(1).collect()
}

fn subscribe_kind(ctx: &mut ConnCtx, argv: Argv, kind: SubKind) {
    let id = ctx.id;
    ctx.core
        .pubsub_subscribe(id, kind, &names(argv), &mut ctx.out);
}

fn unsubscribe_kind(ctx: &mut ConnCtx, argv: Argv, kind: SubKind) {
    let id = ctx.id;
    ctx.core
        .pubsub_unsubscribe(id, kind, &names(argv), &mut ctx.out);
}

fn subscribe(ctx: &mut ConnCtx, argv: Argv) {
    subscribe_kind(ctx, argv, SubKind::Channel);
}

fn psubscribe(ctx: &mut ConnCtx, argv: Argv) {
    subscribe_kind(ctx, argv, SubKind::Pattern);
}

fn ssubscribe(ctx: &mut ConnCtx, argv: Argv) {
    subscribe_kind(ctx, argv, SubKind::Shard);
}

fn unsubscribe(ctx: &mut ConnCtx, argv: Argv) {
    unsubscribe_kind(ctx, argv, SubKind::Channel);
}

fn punsubscribe(ctx: &mut ConnCtx, argv: Argv) {
    unsubscribe_kind(ctx, argv, SubKind::Pattern);
}

fn sunsubscribe(ctx: &mut ConnCtx, argv: Argv) {
    unsubscribe_kind(ctx, argv, SubKind::Shard);
}

fn publish(ctx: &mut ConnCtx, argv: Argv) {
    ctx.publish(false, argv.get(1), argv.get(2));
}

fn spublish(ctx: &mut ConnCtx, argv: Argv) {
    ctx.publish(true, argv.get(1), argv.get(2));
}

static SUBCOMMANDS: &[Subcommand] = &[
    Subcommand {
        full_name: "pubsub|channels",
        arity: -2,
        handler: channels,
    },
    Subcommand {
        full_name: "pubsub|numsub",
        arity: -2,
        handler: numsub,
    },
    Subcommand {
        full_name: "pubsub|numpat",
        arity: 2,
        handler: numpat,
    },
    Subcommand {
        full_name: "pubsub|shardchannels",
        arity: -2,
        handler: shardchannels,
    },
    Subcommand {
        full_name: "pubsub|shardnumsub",
        arity: -2,
        handler: shardnumsub,
    },
    Subcommand {
        full_name: "pubsub|help",
        arity: 2,
        handler: help,
    },
];

fn pubsub(ctx: &mut ConnCtx, argv: Argv) {
    run_subcommand(ctx, argv, "pubsub", SUBCOMMANDS);
}

fn help(ctx: &mut ConnCtx, _argv: Argv) {
    reply_help(
        ctx,
        "pubsub",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
}

/// Names from every shard, each once, in the order first seen.
fn union_of_names(answers: Vec<Answer>) -> Vec<Vec<u8>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for answer in answers {
        if let Answer::PubSub(PubSubAnswer::Names(names)) = answer {
            for name in names {
                if seen.insert(name.clone()) {
                    out.push(name);
                }
            }
        }
    }
    out
}

fn list_channels(ctx: &mut ConnCtx, argv: Argv, shard_channel: bool) {
    if argv.len() > 3 {
        let text = format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(argv.get(1))
        );
        ctx.reply().error(&text);
        return;
    }
    let pattern = (argv.len() == 3).then(|| argv.get(2).to_vec());
    ctx.ask_all_shards(
        move || {
            Query::PubSub(PubSubQuery::Channels {
                shard_channel,
                pattern: pattern.clone(),
            })
        },
        |answers, reply| {
            let names = union_of_names(answers);
            reply.array(names.len());
            for name in &names {
                reply.bulk(name);
            }
        },
    );
}

fn count_subscribers(ctx: &mut ConnCtx, argv: Argv, shard_channel: bool) {
    let channels: Vec<Vec<u8>> = argv.iter().skip(2).map(<[u8]>::to_vec).collect();
    let asked = channels.clone();
    ctx.ask_all_shards(
        move || {
            Query::PubSub(PubSubQuery::NumSub {
                shard_channel,
                channels: channels.clone(),
            })
        },
        move |answers, reply| {
            let mut totals = vec![0u64; asked.len()];
            for answer in &answers {
                if let Answer::PubSub(PubSubAnswer::Counts(counts)) = answer {
                    for (total, n) in totals.iter_mut().zip(counts) {
                        *total += n;
                    }
                }
            }
            // A flat array in RESP3 too, as Redis 7.0 replies.
            reply.array(asked.len() * 2);
            for (channel, total) in asked.iter().zip(totals) {
                reply.bulk(channel);
                reply.int(total as i64);
            }
        },
    );
}

fn channels(ctx: &mut ConnCtx, argv: Argv) {
    list_channels(ctx, argv, false);
}

fn shardchannels(ctx: &mut ConnCtx, argv: Argv) {
    list_channels(ctx, argv, true);
}

fn numsub(ctx: &mut ConnCtx, argv: Argv) {
    count_subscribers(ctx, argv, false);
}

fn shardnumsub(ctx: &mut ConnCtx, argv: Argv) {
    count_subscribers(ctx, argv, true);
}

/// Redis counts distinct patterns, not pattern subscriptions.
fn numpat(ctx: &mut ConnCtx, _argv: Argv) {
    ctx.ask_all_shards(
        || Query::PubSub(PubSubQuery::Patterns),
        |answers, reply| reply.int(union_of_names(answers).len() as i64),
    );
}

#[cfg(test)]
mod tests;
