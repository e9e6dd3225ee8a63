//! Persistence in the server: snapshots and the append-only log.
//!
//! Snapshots: the keyspace's writer and loader for the kevy-persist
//! snapshot codec, the save job the shards share, and the load at start.
//! Flow of a save: every shard runs `SAVE`/`BGSAVE` (an all-shards
//! command, `cmd/persist.rs`); each writes its live keys as records into
//! the one file of that save ([`state`]), in turn; the last finishes the
//! file (temp file, fsync, rename, directory fsync). Flow of a load: at
//! start, before the shard threads run, [`load::load_snapshot`] reads the
//! file once and routes each key to the keyspace of the shard that owns
//! its slot, so the shard count may differ from the one that saved.
//!
//! Append-only log (`aof_*`): each shard's write records go to its own
//! incremental log ([`aof_sink`]); a rewrite makes a new base snapshot
//! from frozen views and switches the logs at the freeze point
//! ([`aof_rewrite`]); [`aof_shard`] drives both from the shard's tick;
//! [`aof_load`] loads the set at start; [`aof_state`] is what the shards
//! share. [`shutdown`] saves and syncs when the server stops.

pub mod aof_load;
pub mod aof_rewrite;
pub mod aof_shard;
pub mod aof_sink;
pub mod aof_state;
pub mod autosave;
pub mod load;
pub mod save;
pub mod shutdown;
pub mod startup;
pub mod state;

pub use state::SnapshotState;

/// Unix time in seconds.
pub fn unix_secs() -> u64 {
    crate::shard::unix_ms() / 1000
}

/// Everything persistence does on a shard's tick: save points, the log.
pub fn shard_tick(core: &mut crate::shard::ShardCore, now_ms: u64) {
    autosave::tick(core.id, &core.keyspace, &core.stats, &core.config, now_ms);
    aof_shard::tick(core, now_ms);
}

#[cfg(test)]
mod tests;
