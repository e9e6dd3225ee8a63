//! The reader side of a snapshot: records from a [`SnapshotReader`] built
//! back into values and placed in the keyspace of the shard that owns
//! each key, so a snapshot taken with N shards loads into any number.
//!
//! Values are built through each type's own insertion paths with the
//! configured encoding limits, so they take the encoding a command would
//! have given them. A key already expired at load time is dropped, as
//! Redis does when it loads an RDB file as a primary. The reader checks
//! every block and record checksum and the record grammar, so the first
//! bad byte stops the load with an error naming its offset; the caller
//! never keeps a partial load.

use std::io::Read;

use kevy_persist::snapshot::{Record, SnapshotReader, SnapshotSummary, StreamMeta};
use kevy_persist::PersistError;

use crate::keyspace::hash::{HashLimits, HashValue};
use crate::keyspace::list::{ChunkLimit, ListValue};
use crate::keyspace::set::{SetLimits, SetValue};
use crate::keyspace::stream::{
    Consumer, ConsumerGroup, IdRequest, NodeLimits, PendingEntry, StreamId, StreamValue,
    ENTRIES_READ_UNKNOWN,
};
use crate::keyspace::zset::{Limits as ZSetLimits, ZSetValue};
use crate::keyspace::{Keyspace, RString, Value};
use crate::slot::SlotTable;

/// The configured encoding limits loaded values are built with.
#[derive(Clone, Copy, Debug, Default)]
pub struct ValueLimits {
    pub hash: HashLimits,
    pub set: SetLimits,
    pub zset: ZSetLimits,
    pub list: ChunkLimit,
    pub stream: NodeLimits,
}

/// What a load put in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    pub keys: u64,
    pub expired_skipped: u64,
    pub summary: Option<SnapshotSummary>,
}

/// A collection whose items are still arriving.
struct Building {
    key: Vec<u8>,
    expire_at: Option<u64>,
    value: Value,
    /// The stream group whose pending entries and consumers follow.
    group: Option<(Box<[u8]>, ConsumerGroup)>,
    /// The consumer whose pending ids follow.
    consumer: Option<(Box<[u8]>, Consumer)>,
    /// A stream's counters, applied once its entries are in.
    stream_meta: Option<StreamMeta>,
}

fn malformed(reader_offset: u64, reason: &'static str) -> PersistError {
    PersistError::MalformedRecord {
        offset: reader_offset,
        reason,
    }
}

fn kevy_id(id: kevy_persist::snapshot::StreamId) -> StreamId {
    StreamId {
        ms: id.ms,
        seq: id.seq,
    }
}

fn signed(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// Reads a whole snapshot from `input` into `shards` (one keyspace per
/// shard, each owning the keys `slots` gives it). On error the keyspaces
/// hold a partial load and must be dropped by the caller.
pub fn load_snapshot(
    input: impl Read,
    shards: &mut [Keyspace],
    slots: &SlotTable,
    limits: ValueLimits,
    now_ms: u64,
) -> Result<LoadReport, PersistError> {
    let mut reader = SnapshotReader::new(input)?;
    let mut report = LoadReport {
        keys: 0,
        expired_skipped: 0,
        summary: None,
    };
    let mut db: Option<usize> = None;
    let mut building: Option<Building> = None;
    loop {
        let offset = reader.position();
        let Some(record) = reader.next_record()? else {
            break;
        };
        let bad = |reason| malformed(offset, reason);
        let mut place = |key: Vec<u8>, value: Value, expire_at: Option<u64>| {
            let index = db.ok_or(bad("a key before any database"))?;
            if expire_at.is_some_and(|at| at <= now_ms) {
                report.expired_skipped += 1;
                return Ok(());
            }
            let shard = slots.shard_of(&key);
            let keyspace = shards.get_mut(shard).ok_or(bad("no shard"))?;
            let target = keyspace
                .dbs
                .get_mut(index)
                .ok_or(bad("a database beyond the configured number"))?;
            if target.contains(&key, now_ms) {
                return Err(bad("a key appears twice"));
            }
            target.insert_new(key.into(), value, expire_at, 0);
            report.keys += 1;
            Ok(())
        };
        match record {
            Record::Aux { .. } => {}
            Record::SelectDb { index } => {
                db = Some(usize::try_from(index).map_err(|_| bad("database index"))?);
            }
            Record::String {
                key,
                expire_at,
                value,
            } => place(
                key.to_vec(),
                Value::Str(RString::from_client(value)),
                expire_at,
            )?,
            Record::HashBegin {
                key,
                expire_at,
                fields,
            } => {
                let mut hash = HashValue::default();
                if fields > limits.hash.max_listpack_entries as u64 {
                    hash.convert_to_table();
                }
                building = Some(Building::new(key, expire_at, Value::Hash(hash)));
            }
            Record::ListBegin { key, expire_at, .. } => {
                let list = ListValue::new(limits.list);
                building = Some(Building::new(key, expire_at, Value::List(Box::new(list))));
            }
            Record::SetBegin {
                key,
                expire_at,
                members,
            } => {
                let mut set = SetValue::default();
                if members > limits.set.max_intset_entries as u64 {
                    set.convert_to_table();
                }
                building = Some(Building::new(key, expire_at, Value::Set(set)));
            }
            Record::SortedSetBegin { key, expire_at, .. } => {
                building = Some(Building::new(key, expire_at, Value::ZSet(ZSetValue::new())));
            }
            Record::StreamBegin {
                key,
                expire_at,
                meta,
            } => {
                let stream = StreamValue::default();
                let mut open = Building::new(key, expire_at, Value::Stream(Box::new(stream)));
                open.stream_meta = Some(meta);
                building = Some(open);
            }
            Record::CollectionEnd => {
                let mut done = building.take().ok_or(bad("an end outside a collection"))?;
                done.close_group();
                done.finish_stream();
                place(done.key, done.value, done.expire_at)?;
            }
            item => {
                let open = building
                    .as_mut()
                    .ok_or(bad("an item outside a collection"))?;
                open.add(item, &limits).map_err(bad)?;
            }
        }
    }
    if building.is_some() {
        return Err(malformed(reader.position(), "a collection never ends"));
    }
    report.summary = reader.summary().cloned();
    Ok(report)
}

impl Building {
    fn new(key: &[u8], expire_at: Option<u64>, value: Value) -> Self {
        Building {
            key: key.to_vec(),
            expire_at,
            value,
            group: None,
            consumer: None,
            stream_meta: None,
        }
    }

    /// Files the open consumer into its group.
    fn close_consumer(&mut self) {
        if let (Some((_, group)), Some((name, consumer))) = (&mut self.group, self.consumer.take())
        {
            group.consumers.insert(name, consumer);
        }
    }

    /// Files the open group into the stream.
    fn close_group(&mut self) {
        self.close_consumer();
        if let (Value::Stream(stream), Some((name, group))) = (&mut self.value, self.group.take()) {
            stream.groups.insert(name, group);
        }
    }

    /// Applies a stream's saved counters (the entries are all in: adding
    /// them moved the counters).
    fn finish_stream(&mut self) {
        if let (Value::Stream(stream), Some(meta)) = (&mut self.value, self.stream_meta.take()) {
            stream.entries.last_id = kevy_id(meta.last_id);
            stream.entries.max_deleted_entry_id = kevy_id(meta.max_deleted_id);
            stream.entries.entries_added = signed(meta.entries_added);
        }
    }

    fn add(&mut self, item: Record<'_>, limits: &ValueLimits) -> Result<(), &'static str> {
        const WRONG: &str = "an item of another type than its collection";
        match (item, &mut self.value) {
            (Record::HashField { field, value }, Value::Hash(hash)) => {
                if !hash.set(field, value, limits.hash) {
                    return Err("a hash field appears twice");
                }
            }
            (Record::ListItem { item }, Value::List(list)) => list.push_back(item),
            (Record::SetMember { member }, Value::Set(set)) => {
                if !set.add(member, limits.set) {
                    return Err("a set member appears twice");
                }
            }
            (Record::SortedSetMember { member, score }, Value::ZSet(zset)) => {
                if zset.score(member).is_some() {
                    return Err("a sorted set member appears twice");
                }
                zset.insert(member, score, limits.zset);
            }
            (Record::StreamEntry { id, fields }, Value::Stream(stream)) => {
                let pairs: Vec<&[u8]> = fields.iter().flat_map(|(f, v)| [f, v]).collect();
                stream
                    .entries
                    .add(IdRequest::Exact(kevy_id(id)), &pairs, 0, limits.stream)
                    .map_err(|_| "stream entries out of order")?;
            }
            (Record::StreamGroup(group), Value::Stream(_)) => {
                self.close_group();
                let entries_read = group
                    .entries_read
                    .and_then(|n| i64::try_from(n).ok())
                    .unwrap_or(ENTRIES_READ_UNKNOWN);
                self.group = Some((
                    group.name.into(),
                    ConsumerGroup::new(kevy_id(group.last_delivered), entries_read),
                ));
            }
            (Record::StreamPending(pending), Value::Stream(_)) => {
                let (_, group) = self.group.as_mut().ok_or("pending entry outside a group")?;
                group.pel.insert(
                    kevy_id(pending.id),
                    PendingEntry {
                        consumer: pending.consumer.into(),
                        delivery_time: signed(pending.delivery_time),
                        delivery_count: pending.delivery_count,
                    },
                );
            }
            (Record::StreamConsumer(consumer), Value::Stream(_)) => {
                self.close_consumer();
                self.consumer = Some((
                    consumer.name.into(),
                    Consumer {
                        seen_time: signed(consumer.seen_time),
                        pel: Default::default(),
                    },
                ));
            }
            (Record::StreamConsumerPending { id }, Value::Stream(_)) => {
                let (_, consumer) = self
                    .consumer
                    .as_mut()
                    .ok_or("consumer pending id outside a consumer")?;
                consumer.pel.insert(kevy_id(id));
            }
            _ => return Err(WRONG),
        }
        Ok(())
    }
}
