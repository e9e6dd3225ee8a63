//! Snapshots in the server: the keyspace's writer and loader for the
//! kevy-persist snapshot codec, the save job the shards share, and the
//! load at start.
//!
//! Flow of a save: every shard runs `SAVE`/`BGSAVE` (an all-shards
//! command, `cmd/persist.rs`); each writes its live keys as records into
//! the one file of that save ([`state`]), in turn; the last finishes the
//! file (temp file, fsync, rename, directory fsync). Flow of a load: at
//! start, before the shard threads run, [`load::load_snapshot`] reads the
//! file once and routes each key to the keyspace of the shard that owns
//! its slot, so the shard count may differ from the one that saved.

pub mod autosave;
pub mod load;
pub mod save;
pub mod startup;
pub mod state;

pub use state::SnapshotState;

/// Unix time in seconds.
pub fn unix_secs() -> u64 {
    crate::shard::unix_ms() / 1000
}

#[cfg(test)]
mod tests;
