//! The writer side of a snapshot: a shard's keyspace turned into typed
//! records for a [`SnapshotWriter`].
//!
//! [`freeze`] takes a frozen, copy-on-write view of a keyspace on the
//! shard thread: a handle on each slot page of each database, so it costs
//! a count increment per page of 128 keys and copies no key and no value.
//! [`write_frozen`] feeds the view to a writer on any thread while the
//! shard keeps serving; the shard's first write to a page the view still
//! holds copies that page (and later, a large value the view still holds,
//! or the list chunk being written), never the whole shard. `SAVE` writes
//! straight from the keyspace with [`write_keyspace`]; `BGSAVE` freezes,
//! then writes on a thread of its own. Keys expired at the freeze are left
//! out.

use std::io::Write;

use kevy_persist::snapshot::{
    SnapshotWriter, StreamConsumer, StreamGroup, StreamId as SnapId, StreamMeta, StreamPending,
};
use kevy_persist::PersistError;

use crate::keyspace::stream::{StreamId, StreamValue};
use crate::keyspace::{FrozenDb, Keyspace, Value};

/// One shard's keys, by database, as they were at one instant.
#[derive(Default)]
pub struct FrozenShard {
    dbs: Vec<(u32, FrozenDb)>,
    /// The freeze time: keys expired by then are not written.
    now_ms: u64,
}

impl FrozenShard {
    /// Live keys in the view (a walk over it: for tests and reports, not
    /// for the shard thread).
    pub fn keys(&self) -> usize {
        self.dbs
            .iter()
            .map(|(_, db)| db.iter_live(self.now_ms).count())
            .sum()
    }
}

/// Freezes every non-empty database of `keyspace` (see the module
/// comment for what it costs and what later writes cost).
pub fn freeze(keyspace: &Keyspace, now_ms: u64) -> FrozenShard {
    let dbs = keyspace
        .dbs
        .iter()
        .enumerate()
        .filter(|(_, db)| !db.is_empty())
        .map(|(index, db)| {
            let index = u32::try_from(index).expect("databases are configured below u32::MAX");
            (index, db.freeze())
        })
        .collect();
    FrozenShard { dbs, now_ms }
}

/// Writes a frozen shard's live keys.
pub fn write_frozen<W: Write>(
    writer: &mut SnapshotWriter<W>,
    frozen: &FrozenShard,
) -> Result<(), PersistError> {
    for (index, db) in &frozen.dbs {
        let mut live = db.iter_live(frozen.now_ms).peekable();
        if live.peek().is_none() {
            continue;
        }
        writer.select_db(*index)?;
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
