//! The append-only log on each shard: attaching its log at start or at a
//! rewrite's freeze point, following `appendonly` and `appendfsync` when
//! they change at run time, starting the automatic rewrite, and closing
//! the log when the shard stops. Driven from the shard's tick
//! ([`tick`]), so the shard's loop does no more than one call.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use kevy_persist::aof::{incr_name, FsyncPolicy};

use super::aof_rewrite::{serve_rewrite, start_rewrite};
use super::aof_sink::{AofSink, ShardLog};
use crate::config::Config;
use crate::shard::propagate::SinkKind;
use crate::shard::ShardCore;

/// The policy `appendfsync` names.
pub fn configured_policy(config: &Config) -> FsyncPolicy {
    config
        .get("appendfsync")
        .and_then(FsyncPolicy::from_name)
        .unwrap_or(FsyncPolicy::EverySec)
}

/// Points `core`'s log at the incremental log of `seq` (attaching a new
/// sink when the shard has none yet).
pub fn attach_or_switch(core: &mut ShardCore, seq: u64) {
    let aof = &core.config.snapshots.shared().aof;
    let Some(paths) = aof.files().paths.clone() else {
        return;
    };
    let shard = u32::try_from(core.id).expect("shard ids are below u32::MAX");
    let path = paths.file(&incr_name(&paths.filename, seq, shard));
    if let Some(log) = aof.log_of(core.id) {
        if let Err(err) = ShardLog::lock(&log).switch_to(&path) {
            log::warn!(
                "Can't switch shard {} to the AOF file {}: {err}",
                core.id,
                path.display()
            );
        }
        return;
    }
    let policy = configured_policy(&core.config);
    match ShardLog::open(&path, policy, aof.run, core.id) {
        Ok(log) => {
            let log = Arc::new(Mutex::new(log));
            aof.set_log(core.id, Some(log.clone()));
            core.attach_write_sink(SinkKind::AppendOnlyLog, Box::new(AofSink { log }));
        }
        Err(err) => log::warn!("Can't open the AOF file {}: {err}", path.display()),
    }
}

/// Detaches and closes `core`'s log (fsynced).
fn detach(core: &mut ShardCore) {
    core.detach_write_sink(SinkKind::AppendOnlyLog);
    let aof = &core.config.snapshots.shared().aof;
    if let Some(log) = aof.log_of(core.id) {
        if let Err(err) = ShardLog::lock(&log).sync() {
            log::warn!("Error syncing the AOF file of shard {}: {err}", core.id);
        }
    }
    aof.set_log(core.id, None);
}

/// At the shard's start, when the log set was loaded (or created) with
/// the log on: attach this shard's log to the newest sequence.
pub fn attach_at_start(core: &mut ShardCore) {
    let aof = &core.config.snapshots.shared().aof;
    if !aof.on.load(Ordering::SeqCst) {
        return;
    }
    let seq = aof.files().manifest.last_seq();
    attach_or_switch(core, seq);
}

/// One shard tick: serve a rewrite, follow `appendonly`/`appendfsync`,
/// and on shard 0 decide the run-time switch and the automatic rewrite.
pub fn tick(core: &mut ShardCore, now_ms: u64) {
    let state = core.config.snapshots.clone();
    let aof = &state.shared().aof;
    let wanted = core.config.get("appendonly") == Some("yes");
    let on = aof.on.load(Ordering::SeqCst);
    if core.id == 0 {
        if wanted && !on && !aof.rewrite_in_progress.load(Ordering::SeqCst) {
            // Redis's order: rewrite first, the log follows from the
            // freeze point on.
            if let Err(err) = start_rewrite(&state, &core.config, true) {
                log::warn!("Can't turn the AOF on: {err}");
            }
        } else if !wanted && on {
            aof.on.store(false, Ordering::SeqCst);
            log::info!("Stopping the AOF (CONFIG SET appendonly no)");
        } else if wanted && on {
            auto_rewrite(core, now_ms);
        }
    }
    serve_rewrite(core, now_ms);
    let on = aof.on.load(Ordering::SeqCst);
    match aof.log_of(core.id) {
        Some(_) if !on => detach(core),
        Some(log) => {
            let policy = configured_policy(&core.config);
            let mut log = ShardLog::lock(&log);
            if log.policy() != policy {
                log.set_policy(policy);
            }
            let slow = log.status().slow_fsyncs();
            drop(log);
            warn_slow_fsyncs(core.id, slow);
        }
        None => {}
    }
}

fn warn_slow_fsyncs(shard: usize, slow: u64) {
    thread_local! {
        static SEEN: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    if slow > SEEN.with(std::cell::Cell::get) {
        SEEN.with(|seen| seen.set(slow));
        log::warn!("Asynchronous AOF fsync is taking too long (disk is busy?) on shard {shard}. Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis.");
    }
}

/// Starts a rewrite when the set has grown by `auto-aof-rewrite-percentage`
/// over its size after the last rewrite and is at least
/// `auto-aof-rewrite-min-size` (checked about once a second).
fn auto_rewrite(core: &ShardCore, now_ms: u64) {
    thread_local! {
        static LAST_CHECK: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    if now_ms.saturating_sub(LAST_CHECK.with(std::cell::Cell::get)) < 1000 {
        return;
    }
    LAST_CHECK.with(|last| last.set(now_ms));
    let config = &core.config;
    let aof = &config.snapshots.shared().aof;
    let percentage: u64 = config
        .get("auto-aof-rewrite-percentage")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let min_size: u64 = config
        .get("auto-aof-rewrite-min-size")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if percentage == 0 || aof.rewrite_in_progress.load(Ordering::SeqCst) {
        return;
    }
    let current = aof.current_size();
    let base = aof.base_size.load(Ordering::Relaxed).max(1);
    if current < min_size {
        return;
    }
    let growth = current.saturating_sub(base).saturating_mul(100) / base;
    if growth >= percentage {
        log::info!("Starting automatic rewriting of AOF on {growth}% growth");
        if let Err(err) = start_rewrite(&core.config.snapshots, config, false) {
            log::warn!("Can't start the automatic AOF rewrite: {err}");
        }
    }
}

/// When the shard stops: its queued records are written and the log is
/// fsynced (whatever the policy), as Redis fsyncs its log at shutdown.
pub fn on_stop(core: &mut ShardCore) {
    core.flush_write_records();
    let aof = &core.config.snapshots.shared().aof;
    if let Some(log) = aof.log_of(core.id) {
        if let Err(err) = ShardLog::lock(&log).sync() {
            log::warn!(
                "Error syncing the AOF file of shard {} at shutdown: {err}",
                core.id
            );
        }
    }
}
