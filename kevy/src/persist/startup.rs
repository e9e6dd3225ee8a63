//! Loading the snapshot when the server starts: the file named by `dir`
//! and `dbfilename`, read once on the main thread before the shard
//! threads run, each key placed in the keyspace of the shard that owns
//! it. A missing file is an empty start; a corrupt or truncated one stops
//! the start with an error naming the file and the byte offset.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::load::{load_snapshot, ValueLimits};
use crate::config::Config;
use crate::keyspace::Keyspace;
use crate::slot::SlotTable;

/// The snapshot file a configuration names.
pub fn snapshot_path(config: &Config) -> PathBuf {
    config
        .dir
        .join(config.get("dbfilename").unwrap_or("dump.rdb"))
}

/// One keyspace per shard, loaded from the configured snapshot (empty
/// when there is none).
pub fn load_at_start(
    config: &Config,
    shards: usize,
    limits: ValueLimits,
) -> Result<Vec<Keyspace>, String> {
    let mut keyspaces: Vec<Keyspace> = (0..shards)
        .map(|_| Keyspace::new(config.databases))
        .collect();
    let path = snapshot_path(config);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(keyspaces),
        Err(err) => return Err(format!("Can't open the snapshot {}: {err}", path.display())),
    };
    let state = config.snapshots.shared();
    state.loading.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let slots = SlotTable::new(shards);
    let result = load_snapshot(
        BufReader::with_capacity(1 << 20, file),
        &mut keyspaces,
        &slots,
        limits,
        crate::shard::unix_ms(),
    );
    state.loading.store(false, Ordering::Relaxed);
    let report = result.map_err(|err| {
        format!(
            "Can't load the snapshot {}: {err} (offset {}); refusing to start with a partial dataset",
            path.display(),
            err.offset().map_or("unknown".to_string(), |o| o.to_string())
        )
    })?;
    state.last_save.store(super::unix_secs(), Ordering::Relaxed);
    state.loaded_keys.store(report.keys, Ordering::Relaxed);
    state
        .loaded_expired
        .store(report.expired_skipped, Ordering::Relaxed);
    log::info!(
        "DB loaded from disk: {:.3} seconds ({} keys, {} expired keys skipped)",
        started.elapsed().as_secs_f64(),
        report.keys,
        report.expired_skipped
    );
    Ok(keyspaces)
}
