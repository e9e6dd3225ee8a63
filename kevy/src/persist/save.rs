//! The writer side of a snapshot: a shard's keyspace turned into typed
//! records for a [`SnapshotWriter`].
//!
//! [`freeze`] copies the live keys of a keyspace (value, TTL, database)
//! into a [`FrozenShard`] on the shard thread; [`write_frozen`] feeds it
//! to a writer on any thread. `SAVE` does both in a row; `BGSAVE` does the
//! second on a thread of its own, so the shard serves while the bytes are
//! encoded, compressed and written. Expired keys are left out.

use std::io::Write;

use kevy_persist::snapshot::{
    SnapshotWriter, StreamConsumer, StreamGroup, StreamId as SnapId, StreamMeta, StreamPending,
};
use kevy_persist::PersistError;

use crate::keyspace::stream::{StreamId, StreamValue};
use crate::keyspace::{Keyspace, Value};

/// A copy of one shard's live keys, by database, taken at one instant.
#[derive(Default)]
pub struct FrozenShard {
    pub dbs: Vec<(u32, Vec<FrozenKey>)>,
}

/// One key of a [`FrozenShard`].
pub struct FrozenKey {
    pub key: Vec<u8>,
    pub value: Value,
    pub expire_at: Option<u64>,
}

impl FrozenShard {
    pub fn keys(&self) -> usize {
        self.dbs.iter().map(|(_, keys)| keys.len()).sum()
    }
}

/// Copies every live key of `keyspace` (expired ones are skipped).
pub fn freeze(keyspace: &Keyspace, now_ms: u64) -> FrozenShard {
    let mut frozen = FrozenShard::default();
    for (index, db) in keyspace.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        let keys: Vec<FrozenKey> = db
            .iter_live(now_ms)
            .map(|entry| FrozenKey {
                key: entry.key.as_bytes().to_vec(),
                value: entry.value.clone(),
                expire_at: entry.expire_at(),
            })
            .collect();
        if !keys.is_empty() {
            let index = u32::try_from(index).expect("databases are configured below u32::MAX");
            frozen.dbs.push((index, keys));
        }
    }
    frozen
}

/// Writes a frozen shard's keys.
pub fn write_frozen<W: Write>(
    writer: &mut SnapshotWriter<W>,
    frozen: &FrozenShard,
) -> Result<(), PersistError> {
    for (index, keys) in &frozen.dbs {
        writer.select_db(*index)?;
        for key in keys {
            write_value(writer, &key.key, &key.value, key.expire_at)?;
        }
    }
    Ok(())
}

/// Writes every live key of `keyspace` straight from the keyspace (no
/// copy): what `SAVE` and tests use.
pub fn write_keyspace<W: Write>(
    writer: &mut SnapshotWriter<W>,
    keyspace: &Keyspace,
    now_ms: u64,
) -> Result<(), PersistError> {
    for (index, db) in keyspace.dbs.iter().enumerate() {
        let mut live = db.iter_live(now_ms).peekable();
        if live.peek().is_none() {
            continue;
        }
        writer.select_db(u32::try_from(index).expect("databases are configured below u32::MAX"))?;
        for entry in live {
            write_value(
                writer,
                entry.key.as_bytes(),
                &entry.value,
                entry.expire_at(),
            )?;
        }
    }
    Ok(())
}

fn len64(n: usize) -> u64 {
    n as u64
}

/// Writes one key and its value.
pub fn write_value<W: Write>(
    writer: &mut SnapshotWriter<W>,
    key: &[u8],
    value: &Value,
    expire_at: Option<u64>,
) -> Result<(), PersistError> {
    match value {
        Value::Str(s) => {
            let mut scratch = Vec::new();
            writer.string(key, s.as_bytes(&mut scratch), expire_at)
        }
        Value::Hash(hash) => {
            writer.begin_hash(key, expire_at, len64(hash.len()))?;
            for (field, value) in hash.iter() {
                writer.hash_field(field, value)?;
            }
            writer.end_collection()
        }
        Value::List(list) => {
            writer.begin_list(key, expire_at, len64(list.len()))?;
            for item in list.iter() {
                writer.list_item(item)?;
            }
            writer.end_collection()
        }
        Value::Set(set) => {
            writer.begin_set(key, expire_at, len64(set.len()))?;
            let mut scratch = Vec::new();
            for member in set.iter() {
                writer.set_member(member.as_bytes(&mut scratch))?;
            }
            writer.end_collection()
        }
        Value::ZSet(zset) => {
            writer.begin_sorted_set(key, expire_at, len64(zset.len()))?;
            for (member, score) in zset.iter() {
                writer.sorted_set_member(member, score)?;
            }
            writer.end_collection()
        }
        Value::Stream(stream) => write_stream(writer, key, stream, expire_at),
    }
}

fn snap_id(id: StreamId) -> SnapId {
    SnapId {
        ms: id.ms,
        seq: id.seq,
    }
}

/// Times are kept as `i64` unix ms; a negative one (never set) is 0.
fn time(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0)
}

fn write_stream<W: Write>(
    writer: &mut SnapshotWriter<W>,
    key: &[u8],
    stream: &StreamValue,
    expire_at: Option<u64>,
) -> Result<(), PersistError> {
    let entries = &stream.entries;
    let meta = StreamMeta {
        entries: entries.len(),
        last_id: snap_id(entries.last_id),
        first_id: snap_id(entries.first_id()),
        max_deleted_id: snap_id(entries.max_deleted_entry_id),
        entries_added: time(entries.entries_added),
        groups: len64(stream.groups.len()),
    };
    writer.begin_stream(key, expire_at, meta)?;
    for entry in entries.range(StreamId::MIN, StreamId::MAX) {
        writer.stream_entry(snap_id(entry.id), entry.pairs())?;
    }
    for (name, group) in &stream.groups {
        writer.stream_group(StreamGroup {
            name,
            last_delivered: snap_id(group.last_id),
            entries_read: u64::try_from(group.entries_read).ok(),
            pending: len64(group.pel.len()),
            consumers: len64(group.consumers.len()),
        })?;
        for (id, pending) in &group.pel {
            writer.stream_pending(StreamPending {
                id: snap_id(*id),
                consumer: &pending.consumer,
                delivery_time: time(pending.delivery_time),
                delivery_count: pending.delivery_count,
            })?;
        }
        for (name, consumer) in &group.consumers {
            writer.stream_consumer(StreamConsumer {
                name,
                seen_time: time(consumer.seen_time),
                active_time: time(consumer.seen_time),
                pending: len64(consumer.pel.len()),
            })?;
            for id in &consumer.pel {
                writer.consumer_pending(snap_id(*id))?;
            }
        }
    }
    writer.end_collection()
}
