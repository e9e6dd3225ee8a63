//! `save <seconds> <changes>` points and the counters `INFO persistence`
//! reports, driven from each shard's timer tick.
//!
//! Each shard publishes its count of applied writes (successful calls of
//! write commands) on every tick. Shard 0 sums them and, when a save
//! point is reached (at least `changes` writes since the last successful
//! save and `seconds` elapsed), raises the shared save request; every
//! shard that sees a request it has not served yet starts its part of a
//! background save on its next tick (the same path as `BGSAVE`).

use std::cell::Cell;
use std::sync::atomic::Ordering;

use super::state::SnapshotState;
use crate::config::Config;
use crate::keyspace::Keyspace;
use crate::shard::ShardStats;

thread_local! {
    /// Save requests this thread's shard has served.
    static SERVED: Cell<u64> = const { Cell::new(0) };
}

/// Writes applied on one shard, by its command counters.
pub fn shard_writes(stats: &ShardStats) -> u64 {
    crate::cmd::all()
        .zip(&stats.counters)
        .filter(|(spec, _)| spec.is_write())
        .map(|(_, stat)| stat.calls.saturating_sub(stat.failed_calls))
        .sum()
}

/// Parses `save` (`"3600 1 300 100"`) into `(seconds, changes)` points.
pub fn save_points(config: &Config) -> Vec<(u64, u64)> {
    let words: Vec<u64> = config
        .get("save")
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    words.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

/// One shard's tick: publish its writes, decide (shard 0), serve.
pub fn tick(shard: usize, keyspace: &Keyspace, stats: &ShardStats, config: &Config, now_ms: u64) {
    let state = &config.snapshots;
    let shared = state.shared();
    shared.publish_writes(shard, shard_writes(stats));
    if shard == 0 && shared.bgsave_running.load(Ordering::SeqCst) == 0 {
        let changes = shared.changes_since_save();
        let since = (now_ms / 1000).saturating_sub(shared.last_save.load(Ordering::Relaxed));
        let due = save_points(config)
            .iter()
            .any(|&(seconds, needed)| changes >= needed && needed > 0 && since >= seconds);
        let requested = shared.save_requests.load(Ordering::SeqCst);
        if due && SERVED.with(Cell::get) == requested {
            log::info!("{changes} changes in {since} seconds. Saving...");
            shared.save_requests.fetch_add(1, Ordering::SeqCst);
        }
    }
    let requested = shared.save_requests.load(Ordering::SeqCst);
    if SERVED.with(Cell::get) < requested {
        SERVED.with(|served| served.set(requested));
        let target = crate::cmd::persist::save_target(config, true);
        if let Err(err) = start_background_part(state, keyspace, target, now_ms) {
            log::warn!("Can't save in background: {err}");
        }
    }
}

/// This shard's part of a background save: a frozen copy of its live
/// keys, written on a thread of its own.
pub fn start_background_part(
    state: &SnapshotState,
    keyspace: &Keyspace,
    target: super::state::SaveTarget,
    now_ms: u64,
) -> std::io::Result<()> {
    let generation = state.ticket();
    start_background_part_at(state, generation, keyspace, target, now_ms)
}

/// [`start_background_part`] for a ticket already taken.
pub fn start_background_part_at(
    state: &SnapshotState,
    generation: u64,
    keyspace: &Keyspace,
    target: super::state::SaveTarget,
    now_ms: u64,
) -> std::io::Result<()> {
    let frozen = super::save::freeze(keyspace, now_ms);
    let shared = state.shared();
    shared.bgsave_running.fetch_add(1, Ordering::SeqCst);
    let worker = state.clone();
    let part_target = target.clone();
    let spawned = std::thread::Builder::new()
        .name("kevy-bgsave".into())
        .spawn(move || {
            let _ = worker.contribute(generation, &part_target, |writer| {
                super::save::write_frozen(writer, &frozen)
            });
            worker
                .shared()
                .bgsave_running
                .fetch_sub(1, Ordering::SeqCst);
        });
    if let Err(err) = spawned {
        shared.bgsave_running.fetch_sub(1, Ordering::SeqCst);
        // The ticket is taken: an empty part keeps the generations aligned.
        let _ = state.contribute(generation, &target, |_| Ok(()));
        return Err(err);
    }
    Ok(())
}
