//! `SAVE`, `BGSAVE [SCHEDULE]`, `BGREWRITEAOF` and `LASTSAVE`.
//!
//! `SAVE` and `BGSAVE` run on every shard (`Route::AllShards`): each shard
//! adds its live keys to the one file of that save (see
//! `persist/state.rs`); the reply is gathered, so `SAVE`'s `OK` comes once
//! the file is complete, fsynced and renamed into place. `SAVE` writes
//! straight from the keyspace on the shard thread (it blocks, as Redis's
//! does). `BGSAVE` copies the shard's live keys (a frozen view: values are
//! cloned, so later writes do not reach it) and encodes, compresses and
//! writes them on a thread of its own while the shard keeps serving. A
//! second `BGSAVE` while one runs is refused, as Redis does (the first
//! shard to see it decides for all, `SnapshotState::decide_bgsave`).

use std::sync::atomic::Ordering;

use super::{CommandSpec, ExecCtx, Gather, Handler, KeySpec, Route};
use crate::config::Config;
use crate::persist::aof_rewrite::start_rewrite;
use crate::persist::autosave::start_background_part_at;
use crate::persist::load::ValueLimits;
use crate::persist::save::write_keyspace;
use crate::persist::startup::snapshot_path;
use crate::persist::state::SaveTarget;
use crate::resp::Argv;
use kevy_persist::snapshot::Codec;

const SYNTAX: &str = "ERR syntax error";
const BGSAVE_RUNNING: &str = "ERR Background save already in progress";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "save",
        arity: 1,
        flags: &["admin", "noscript", "no_async_loading", "no_multi"],
        acl: &["@admin", "@slow", "@dangerous"],
        keys: KeySpec::None,
        route: Route::AllShards(Gather::AllOk),
        handler: Handler::Key(save),
        group: "server",
        since: "1.0.0",
        summary: "Synchronously save the dataset to disk",
        subcommands: &[],
    },
    CommandSpec {
        name: "bgsave",
        arity: -1,
        flags: &["admin", "noscript", "no_async_loading"],
        acl: &["@admin", "@slow", "@dangerous"],
        keys: KeySpec::None,
        route: Route::AllShards(Gather::AllOk),
        handler: Handler::Key(bgsave),
        group: "server",
        since: "1.0.0",
        summary: "Asynchronously save the dataset to disk",
        subcommands: &[],
    },
    CommandSpec {
        name: "bgrewriteaof",
        arity: 1,
        flags: &["admin", "noscript", "no_async_loading"],
        acl: &["@admin", "@slow", "@dangerous"],
        keys: KeySpec::None,
        route: Route::Local,
        handler: Handler::Key(bgrewriteaof),
        group: "server",
        since: "1.0.0",
        summary: "Asynchronously rewrite the append-only file",
        subcommands: &[],
    },
    CommandSpec {
        name: "lastsave",
        arity: 1,
        flags: &["loading", "stale", "fast"],
        acl: &["@admin", "@fast", "@dangerous"],
        keys: KeySpec::None,
        route: Route::Local,
        handler: Handler::Key(lastsave),
        group: "server",
        since: "1.0.0",
        summary: "Get the UNIX time stamp of the last successful save to disk",
        subcommands: &[],
    },
];

/// The encoding limits of the configuration, for loading values.
pub fn value_limits(config: &Config) -> ValueLimits {
    ValueLimits {
        hash: super::hash::hash_limits(config),
        set: super::set::set_limits(config),
        zset: super::zset::limits(config),
        list: crate::keyspace::list::ChunkLimit::from_config(config.get("list-max-listpack-size")),
        stream: crate::keyspace::stream::NodeLimits::from_config(config),
    }
}

/// The codec `snapshot-compression` names.
pub fn configured_codec(config: &Config) -> Codec {
    match config.get("snapshot-compression") {
        Some("zstd") => Codec::Zstd,
        _ => Codec::Plain,
    }
}

/// Where and how a save of this configuration writes.
pub fn save_target(config: &Config, background: bool) -> SaveTarget {
    SaveTarget {
        target: snapshot_path(config),
        codec: configured_codec(config),
        background,
    }
}

fn save(ctx: &mut ExecCtx, _argv: Argv) {
    let state = ctx.config.snapshots.clone();
    let generation = state.ticket();
    let keyspace = &*ctx.keyspace;
    let now = ctx.now_ms;
    match state.contribute(generation, &save_target(ctx.config, false), |writer| {
        write_keyspace(writer, keyspace, now)
    }) {
        Ok(()) => ctx.reply.ok(),
        Err(_) => ctx.reply.error("ERR"),
    }
}

fn bgsave(ctx: &mut ExecCtx, argv: Argv) {
    let schedule = match argv.len() {
        1 => false,
        2 if argv.get(1).eq_ignore_ascii_case(b"schedule") => true,
        _ => return ctx.reply.error(SYNTAX),
    };
    let state = &ctx.config.snapshots;
    let already = state.shared().bgsave_running.load(Ordering::SeqCst) > 0;
    let generation = state.ticket();
    if state.decide_bgsave(generation, schedule) {
        return ctx.reply.error(BGSAVE_RUNNING);
    }
    let target = save_target(ctx.config, true);
    if let Err(err) = start_background_part_at(state, generation, ctx.keyspace, target, ctx.now_ms)
    {
        return ctx
            .reply
            .error(&format!("ERR Can't start a background save: {err}"));
    }
    if already && schedule {
        ctx.reply.simple("Background saving scheduled");
    } else {
        ctx.reply.simple("Background saving started");
    }
}

/// Starts a rewrite of the log set (see `persist/aof_rewrite.rs`); every
/// shard joins it on its next tick. Works with the log off too, as in
/// Redis: the set is then written but not appended to.
fn bgrewriteaof(ctx: &mut ExecCtx, _argv: Argv) {
    match start_rewrite(&ctx.config.snapshots, ctx.config, false) {
        Ok(()) => ctx
            .reply
            .simple("Background append only file rewriting started"),
        Err(text) => ctx.reply.error(&text),
    }
}

fn lastsave(ctx: &mut ExecCtx, _argv: Argv) {
    let last = ctx
        .config
        .snapshots
        .shared()
        .last_save
        .load(Ordering::Relaxed);
    ctx.reply.int(i64::try_from(last).unwrap_or(i64::MAX));
}
