//! The text of each `INFO` section: Redis's field names, filled from the
//! asking shard's [`Facts`] and the merged [`ShardStats`] of all shards.
//! Features kevy does not have yet report what Redis reports without them
//! (nothing saved, no replicas, no pub/sub channels).

use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Instant;

use super::system::{multiplexing_api, os_name, resident_memory, rusage, total_system_memory};
use super::{Facts, Lines};
use crate::cmd::REDIS_VERSION;
use crate::replication::state::LinkState;
use crate::shard::ShardStats;

fn unix_micros() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

pub(super) fn server_section(lines: &mut Lines, facts: &Facts) {
    let shared = &facts.shared;
    let uptime = shared.started.elapsed().as_secs();
    let micros = unix_micros();
    lines.title("Server");
    lines.field("redis_version", REDIS_VERSION);
    lines.field("kevy_version", env!("CARGO_PKG_VERSION"));
    lines.field("redis_git_sha1", "00000000");
    lines.field("redis_git_dirty", 0);
    lines.field("redis_build_id", "0");
    lines.field("redis_mode", "standalone");
    lines.field("os", os_name());
    lines.field("arch_bits", usize::BITS);
    lines.field("monotonic_clock", "POSIX clock_gettime");
    lines.field("multiplexing_api", multiplexing_api());
    lines.field("atomicvar_api", "c11-builtin");
    lines.field("gcc_version", "0.0.0");
    lines.field("process_id", std::process::id());
    lines.field("process_supervised", "no");
    lines.field("run_id", &shared.run_id);
    lines.field("tcp_port", shared.tcp_port);
    lines.field("server_time_usec", micros);
    lines.field("uptime_in_seconds", uptime);
    lines.field("uptime_in_days", uptime / 86_400);
    lines.field("hz", facts.hz);
    lines.field("configured_hz", facts.hz);
    // Redis's LRU clock: seconds, wrapping at 24 bits.
    lines.field("lru_clock", (micros / 1_000_000) as u64 & ((1 << 24) - 1));
    lines.field(
        "executable",
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
    lines.field("config_file", &facts.config_file);
    lines.field("io_threads_active", 0);
    lines.field("shards", shared.shards);
}

pub(super) fn clients_section(lines: &mut Lines, facts: &Facts) {
    lines.title("Clients");
    lines.field(
        "connected_clients",
        facts.shared.connected_clients.load(Ordering::Relaxed),
    );
    lines.field("cluster_connections", 0);
    lines.field("maxclients", facts.maxclients);
    lines.field("client_recent_max_input_buffer", 0);
    lines.field("client_recent_max_output_buffer", 0);
    lines.field(
        "blocked_clients",
        facts.shared.blocked_clients.load(Ordering::Relaxed),
    );
    lines.field("tracking_clients", 0);
    lines.field("clients_in_timeout_table", 0);
}

/// Redis's `bytesToHuman`: `512B`, `1.50K`, `2.00M`, ...
pub(super) fn human_bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (1 << 50, "P"),
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    for (size, unit) in UNITS {
        if n >= size {
            return format!("{:.2}{unit}", n as f64 / size as f64);
        }
    }
    format!("{n}B")
}

/// Highest `used_memory` reported so far in this process (sampled when
/// `INFO` runs: keeping a running peak in the allocator would put a shared
/// write on every allocation).
static PEAK_MEMORY: Mutex<u64> = Mutex::new(0);

pub(super) fn memory_section(lines: &mut Lines, facts: &Facts, stats: &ShardStats) {
    let rss = resident_memory();
    // The bytes allocated and not freed, as Redis's zmalloc counts them;
    // where the counting allocator is not installed (library tests), the
    // shards' estimate or else the resident size.
    let used = match crate::alloc::allocated_bytes() {
        Some(bytes) => bytes,
        None if stats.used_memory > 0 => stats.used_memory,
        None => rss,
    };
    let peak = match PEAK_MEMORY.lock() {
        Ok(mut peak) => {
            *peak = (*peak).max(used);
            *peak
        }
        Err(_) => used,
    };
    let system = total_system_memory();
    lines.title("Memory");
    lines.field("used_memory", used);
    lines.field("used_memory_human", human_bytes(used));
    lines.field("used_memory_rss", rss);
    lines.field("used_memory_rss_human", human_bytes(rss));
    lines.field("used_memory_peak", peak);
    lines.field("used_memory_peak_human", human_bytes(peak));
    lines.field(
        "used_memory_peak_perc",
        format!("{:.2}%", used as f64 * 100.0 / peak.max(1) as f64),
    );
    lines.field("total_system_memory", system);
    lines.field("total_system_memory_human", human_bytes(system));
    lines.field("maxmemory", facts.maxmemory);
    lines.field("maxmemory_human", human_bytes(facts.maxmemory));
    lines.field("maxmemory_policy", &facts.maxmemory_policy);
    lines.field(
        "mem_fragmentation_ratio",
        format!("{:.2}", rss as f64 / used.max(1) as f64),
    );
    lines.field("mem_fragmentation_bytes", rss as i64 - used as i64);
    lines.field("mem_allocator", "libc");
    lines.field("lazyfree_pending_objects", 0);
    lines.field("lazyfreed_objects", 0);
}

/// Successful calls of write commands: the changes a snapshot would have
/// to save (Redis counts changed keys; this counts commands).
fn changes(stats: &ShardStats) -> u64 {
    stats
        .commands
        .iter()
        .filter(|(name, _)| crate::cmd::lookup(name.as_bytes()).is_some_and(|spec| spec.is_write()))
        .map(|(_, stat)| stat.calls.saturating_sub(stat.failed_calls))
        .sum()
}

pub(super) fn persistence_section(lines: &mut Lines, facts: &Facts, stats: &ShardStats) {
    lines.title("Persistence");
    let snap = facts.snapshots.shared();
    lines.field("loading", u8::from(snap.loading.load(Ordering::Relaxed)));
    lines.field("async_loading", 0);
    lines.field("current_cow_peak", 0);
    lines.field("current_cow_size", 0);
    lines.field("current_cow_size_age", 0);
    lines.field("current_fork_perc", "0.00");
    lines.field("current_save_keys_processed", 0);
    lines.field("current_save_keys_total", 0);
    let saved_writes = snap.writes_at_save();
    lines.field(
        "rdb_changes_since_last_save",
        changes(stats).saturating_sub(saved_writes),
    );
    let running = snap.bgsave_running.load(Ordering::Relaxed) > 0;
    lines.field("rdb_bgsave_in_progress", u8::from(running));
    lines.field("rdb_last_save_time", snap.last_save.load(Ordering::Relaxed));
    let bgsave_ok = snap.last_bgsave_ok.load(Ordering::Relaxed);
    lines.field(
        "rdb_last_bgsave_status",
        if bgsave_ok { "ok" } else { "err" },
    );
    lines.field(
        "rdb_last_bgsave_time_sec",
        snap.last_bgsave_secs.load(Ordering::Relaxed),
    );
    lines.field("rdb_current_bgsave_time_sec", -1);
    lines.field("rdb_saves", snap.saves.load(Ordering::Relaxed));
    lines.field("rdb_last_cow_size", 0);
    lines.field(
        "rdb_last_load_keys_expired",
        snap.loaded_expired.load(Ordering::Relaxed),
    );
    lines.field(
        "rdb_last_load_keys_loaded",
        snap.loaded_keys.load(Ordering::Relaxed),
    );
    let aof = &snap.aof;
    let aof_on = aof.on.load(Ordering::Relaxed);
    lines.field("aof_enabled", u8::from(aof_on));
    let rewriting = aof.rewrite_in_progress.load(Ordering::Relaxed);
    lines.field("aof_rewrite_in_progress", u8::from(rewriting));
    lines.field("aof_rewrite_scheduled", 0);
    lines.field(
        "aof_last_rewrite_time_sec",
        aof.last_rewrite_secs.load(Ordering::Relaxed),
    );
    let started = aof.rewrite_started_ms.load(Ordering::Relaxed);
    let current_rewrite = if rewriting && started > 0 {
        i64::try_from(crate::shard::unix_ms().saturating_sub(started) / 1000).unwrap_or(-1)
    } else {
        -1
    };
    lines.field("aof_current_rewrite_time_sec", current_rewrite);
    let rewrite_ok = aof.last_rewrite_ok.load(Ordering::Relaxed);
    lines.field(
        "aof_last_bgrewrite_status",
        if rewrite_ok { "ok" } else { "err" },
    );
    lines.field("aof_rewrites", aof.rewrites.load(Ordering::Relaxed));
    lines.field(
        "aof_rewrites_consecutive_failures",
        aof.consecutive_failures.load(Ordering::Relaxed),
    );
    lines.field(
        "aof_last_write_status",
        if aof.last_write_ok() { "ok" } else { "err" },
    );
    lines.field("aof_last_cow_size", 0);
    lines.field("module_fork_in_progress", 0);
    lines.field("module_fork_last_cow_size", 0);
    if aof_on {
        lines.field("aof_current_size", aof.current_size());
        lines.field("aof_base_size", aof.base_file_size());
        lines.field("aof_pending_rewrite", 0);
        lines.field("aof_buffer_length", aof.pending_bytes());
        lines.field("aof_pending_bio_fsync", 0);
        lines.field("aof_delayed_fsync", 0);
    }
}

/// The previous `(time, commands processed)` sample, for the rate of
/// commands between two `INFO` calls.
static OPS_SAMPLE: Mutex<Option<(Instant, u64)>> = Mutex::new(None);

fn ops_per_sec(processed: u64) -> u64 {
    let now = Instant::now();
    let Ok(mut sample) = OPS_SAMPLE.lock() else {
        return 0;
    };
    let rate = match *sample {
        Some((at, before)) if now > at && processed >= before => {
            let secs = now.duration_since(at).as_secs_f64();
            ((processed - before) as f64 / secs.max(0.001)) as u64
        }
        _ => 0,
    };
    *sample = Some((now, processed));
    rate
}

pub(super) fn stats_section(lines: &mut Lines, stats: &ShardStats) {
    lines.title("Stats");
    lines.field(
        "total_connections_received",
        stats.total_connections_received,
    );
    lines.field("total_commands_processed", stats.total_commands_processed);
    lines.field(
        "instantaneous_ops_per_sec",
        ops_per_sec(stats.total_commands_processed),
    );
    lines.field("total_net_input_bytes", stats.total_net_input_bytes);
    lines.field("total_net_output_bytes", stats.total_net_output_bytes);
    lines.field("total_net_repl_input_bytes", 0);
    lines.field("total_net_repl_output_bytes", 0);
    lines.field("instantaneous_input_kbps", "0.00");
    lines.field("instantaneous_output_kbps", "0.00");
    lines.field("instantaneous_input_repl_kbps", "0.00");
    lines.field("instantaneous_output_repl_kbps", "0.00");
    lines.field("rejected_connections", stats.rejected_connections);
    lines.field("sync_full", 0);
    lines.field("sync_partial_ok", 0);
    lines.field("sync_partial_err", 0);
    lines.field("expired_keys", stats.expired_keys);
    lines.field("expired_stale_perc", "0.00");
    lines.field("expired_time_cap_reached_count", 0);
    lines.field("expire_cycle_cpu_milliseconds", 0);
    lines.field("evicted_keys", stats.evicted_keys);
    lines.field("evicted_clients", 0);
    lines.field("total_eviction_exceeded_time", 0);
    lines.field("current_eviction_exceeded_time", 0);
    lines.field("keyspace_hits", stats.keyspace_hits);
    lines.field("keyspace_misses", stats.keyspace_misses);
    lines.field("pubsub_channels", stats.pubsub_names[0].len());
    lines.field("pubsub_patterns", stats.pubsub_names[1].len());
    lines.field("pubsubshard_channels", stats.pubsub_names[2].len());
    lines.field("latest_fork_usec", 0);
    lines.field("total_forks", 0);
    lines.field("migrate_cached_sockets", 0);
    lines.field("slave_expires_tracked_keys", 0);
    lines.field("active_defrag_hits", 0);
    lines.field("active_defrag_misses", 0);
    lines.field("active_defrag_key_hits", 0);
    lines.field("active_defrag_key_misses", 0);
    lines.field("total_active_defrag_time", 0);
    lines.field("current_active_defrag_time", 0);
    lines.field("tracking_total_keys", 0);
    lines.field("tracking_total_items", 0);
    lines.field("tracking_total_prefixes", 0);
    lines.field("unexpected_error_replies", 0);
    lines.field("total_error_replies", stats.total_error_replies);
    lines.field("dump_payload_sanitizations", 0);
    lines.field("io_threaded_reads_processed", 0);
    lines.field("io_threaded_writes_processed", 0);
}

pub(super) fn replication_section(lines: &mut Lines, facts: &Facts) {
    let state = &facts.shared.replication;
    let now_ms = crate::shard::unix_ms();
    let status = state.status();
    lines.title("Replication");
    match (&status.upstream, &status.replica) {
        (Some(upstream), Some(replica)) => {
            let connected = replica.link == LinkState::Connected;
            lines.field("role", "slave");
            lines.field("master_host", &upstream.host);
            lines.field("master_port", upstream.port);
            lines.field("master_link_status", if connected { "up" } else { "down" });
            let io_ago = match replica.last_io_ms {
                0 => -1,
                at => (now_ms.saturating_sub(at) / 1000) as i64,
            };
            lines.field("master_last_io_seconds_ago", io_ago);
            let syncing = replica.link == LinkState::Sync;
            lines.field("master_sync_in_progress", u8::from(syncing));
            let applied: u64 = replica.applied.iter().sum();
            lines.field("slave_read_repl_offset", applied);
            lines.field("slave_repl_offset", applied);
            if let Some(since) = replica.down_since_ms {
                lines.field(
                    "master_link_down_since_seconds",
                    now_ms.saturating_sub(since) / 1000,
                );
            }
            lines.field("slave_priority", 100);
            let read_only = state.read_only_setting();
            lines.field("slave_read_only", u8::from(read_only));
            lines.field("replica_announced", 1);
            // kevy's own: how the links (re)synchronized, for operators
            // and tests (a partial resume versus a full sync).
            lines.field("kevy_full_syncs", replica.full_syncs);
            lines.field("kevy_partial_syncs", replica.partial_syncs);
            lines.field(
                "kevy_last_link_error",
                replica.last_error.as_deref().unwrap_or(""),
            );
        }
        _ => lines.field("role", "master"),
    }
    let replicas: Vec<_> = status.replicas.values().cloned().collect();
    let (served_full, served_partial) = (status.served_full_syncs, status.served_partial_syncs);
    let replid = status.replid;
    drop(status);
    lines.field("connected_slaves", replicas.len());
    for (index, replica) in replicas.iter().enumerate() {
        let offset: u64 = replica.acked.iter().map(|a| a.unwrap_or(0)).sum();
        let state_name = if replica.syncing > 0 {
            "send_bulk"
        } else {
            "online"
        };
        let lag = now_ms.saturating_sub(replica.last_ack_ms) / 1000;
        lines.field(
            &format!("slave{index}"),
            format!(
                "ip={},port={},state={state_name},offset={offset},lag={lag}",
                replica.ip, replica.port
            ),
        );
    }
    lines.field("master_failover_state", "no-failover");
    lines.field("master_replid", replid);
    lines.field("master_replid2", "0".repeat(40));
    let offset = state.total_offset();
    lines.field("master_repl_offset", offset);
    lines.field("second_repl_offset", -1);
    lines.field("repl_backlog_active", 1);
    lines.field("repl_backlog_size", state.backlog_size());
    lines.field("repl_backlog_first_byte_offset", 0);
    lines.field("repl_backlog_histlen", offset.min(state.backlog_size()));
    lines.field("kevy_replication_shards", state.shards());
    lines.field("kevy_served_full_syncs", served_full);
    lines.field("kevy_served_partial_syncs", served_partial);
}

pub(super) fn cpu_section(lines: &mut Lines) {
    let process = rusage(libc::RUSAGE_SELF);
    let children = rusage(libc::RUSAGE_CHILDREN);
    lines.title("CPU");
    lines.field("used_cpu_sys", process.0);
    lines.field("used_cpu_user", process.1);
    lines.field("used_cpu_sys_children", children.0);
    lines.field("used_cpu_user_children", children.1);
    // The shard thread answering stands in for Redis's main thread.
    #[cfg(target_os = "linux")]
    {
        let thread = rusage(libc::RUSAGE_THREAD);
        lines.field("used_cpu_sys_main_thread", thread.0);
        lines.field("used_cpu_user_main_thread", thread.1);
    }
}

pub(super) fn commandstats_section(lines: &mut Lines, stats: &ShardStats) {
    lines.title("Commandstats");
    for (name, stat) in &stats.commands {
        if stat.calls == 0 && stat.failed_calls == 0 && stat.rejected_calls == 0 {
            continue;
        }
        let per_call = if stat.calls > 0 {
            stat.usec as f64 / stat.calls as f64
        } else {
            0.0
        };
        lines.field(
            &format!("cmdstat_{name}"),
            format!(
                "calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}",
                stat.calls, stat.usec, stat.rejected_calls, stat.failed_calls
            ),
        );
    }
}

pub(super) fn keyspace_section(lines: &mut Lines, stats: &ShardStats) {
    lines.title("Keyspace");
    for (db, &(keys, expires)) in stats.keyspace.iter().enumerate() {
        if keys > 0 {
            lines.field(
                &format!("db{db}"),
                format!("keys={keys},expires={expires},avg_ttl=0"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(1023), "1023B");
        assert_eq!(human_bytes(1536), "1.50K");
        assert_eq!(human_bytes(3 << 20), "3.00M");
    }
}
