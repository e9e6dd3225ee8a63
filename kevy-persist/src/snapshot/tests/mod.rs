//! Tests of the snapshot format. This file holds the shared pieces: a
//! plain model of a snapshot's contents, a writer of the model through
//! the typed writer API, a loader that rebuilds the model from records
//! the way a keyspace would, and proptest strategies for models.

use proptest::prelude::*;

use super::*;
use crate::PersistError;

mod corruption;
mod errors;
mod fuzz;
mod roundtrip;

pub(super) type Bytes = Vec<u8>;

#[derive(Debug, Clone, PartialEq)]
pub(super) struct GroupModel {
    pub name: Bytes,
    pub last_delivered: StreamId,
    pub entries_read: Option<u64>,
    /// id, consumer, delivery time, delivery count.
    pub pending: Vec<(StreamId, Bytes, u64, u64)>,
    /// name, seen time, active time, pending ids.
    pub consumers: Vec<(Bytes, u64, u64, Vec<StreamId>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct StreamModel {
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    pub entries: Vec<(StreamId, Vec<(Bytes, Bytes)>)>,
    pub groups: Vec<GroupModel>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum ValueModel {
    Str(Bytes),
    Hash(Vec<(Bytes, Bytes)>),
    List(Vec<Bytes>),
    Set(Vec<Bytes>),
    /// Scores as bits, so -0.0 and 0.0 differ and equality is exact.
    SortedSet(Vec<(Bytes, u64)>),
    Stream(StreamModel),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct KeyModel {
    pub key: Bytes,
    pub expire_at: Option<u64>,
    pub value: ValueModel,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct SnapshotModel {
    pub aux: Vec<(Bytes, Bytes)>,
    /// Databases in the order they were selected (an index may repeat).
    pub dbs: Vec<(u32, Vec<KeyModel>)>,
}

impl SnapshotModel {
    pub fn keys(&self) -> u64 {
        self.dbs.iter().map(|(_, keys)| keys.len() as u64).sum()
    }
}

pub(super) fn write_model<W: std::io::Write>(
    writer: &mut SnapshotWriter<W>,
    model: &SnapshotModel,
) -> Result<(), PersistError> {
    for (name, value) in &model.aux {
        writer.aux(name, value)?;
    }
    for (db, keys) in &model.dbs {
        writer.select_db(*db)?;
        for key in keys {
            write_key(writer, key)?;
        }
    }
    Ok(())
}

fn write_key<W: std::io::Write>(
    w: &mut SnapshotWriter<W>,
    key: &KeyModel,
) -> Result<(), PersistError> {
    let (k, ttl) = (&key.key[..], key.expire_at);
    match &key.value {
        ValueModel::Str(value) => return w.string(k, value, ttl),
        ValueModel::Hash(fields) => {
            w.begin_hash(k, ttl, fields.len() as u64)?;
            for (field, value) in fields {
                w.hash_field(field, value)?;
            }
        }
        ValueModel::List(items) => {
            w.begin_list(k, ttl, items.len() as u64)?;
            for item in items {
                w.list_item(item)?;
            }
        }
        ValueModel::Set(members) => {
            w.begin_set(k, ttl, members.len() as u64)?;
            for member in members {
                w.set_member(member)?;
            }
        }
        ValueModel::SortedSet(members) => {
            w.begin_sorted_set(k, ttl, members.len() as u64)?;
            for (member, bits) in members {
                w.sorted_set_member(member, f64::from_bits(*bits))?;
            }
        }
        ValueModel::Stream(stream) => write_stream(w, k, ttl, stream)?,
    }
    w.end_collection()
}

fn write_stream<W: std::io::Write>(
    w: &mut SnapshotWriter<W>,
    key: &[u8],
    ttl: Option<u64>,
    s: &StreamModel,
) -> Result<(), PersistError> {
    let meta = StreamMeta {
        entries: s.entries.len() as u64,
        last_id: s.last_id,
        first_id: s.first_id,
        max_deleted_id: s.max_deleted_id,
        entries_added: s.entries_added,
        groups: s.groups.len() as u64,
    };
    w.begin_stream(key, ttl, meta)?;
    for (id, fields) in &s.entries {
        w.stream_entry(*id, fields.iter().map(|(f, v)| (f, v)))?;
    }
    for g in &s.groups {
        w.stream_group(StreamGroup {
            name: &g.name,
            last_delivered: g.last_delivered,
            entries_read: g.entries_read,
            pending: g.pending.len() as u64,
            consumers: g.consumers.len() as u64,
        })?;
        for (id, consumer, delivery_time, delivery_count) in &g.pending {
            w.stream_pending(StreamPending {
                id: *id,
                consumer,
                delivery_time: *delivery_time,
                delivery_count: *delivery_count,
            })?;
        }
        for (name, seen_time, active_time, ids) in &g.consumers {
            w.stream_consumer(StreamConsumer {
                name,
                seen_time: *seen_time,
                active_time: *active_time,
                pending: ids.len() as u64,
            })?;
            for id in ids {
                w.consumer_pending(*id)?;
            }
        }
    }
    Ok(())
}

/// Writes a model into a fresh file.
pub(super) fn encode(model: &SnapshotModel, options: WriterOptions) -> (Vec<u8>, SnapshotSummary) {
    let mut writer = SnapshotWriter::with_options(Vec::new(), options).expect("valid options");
    write_model(&mut writer, model).expect("a model is a valid record sequence");
    writer.finish().expect("writing into a Vec cannot fail")
}

/// Rebuilds a model from a file, as a keyspace loader would.
pub(super) fn load(file: &[u8]) -> Result<(SnapshotModel, SnapshotSummary), PersistError> {
    let mut model = SnapshotModel::default();
    let mut open: Option<KeyModel> = None;
    let summary = SnapshotReader::new(file)?.for_each(|record| {
        apply(&mut model, &mut open, record);
        Ok::<(), PersistError>(())
    })?;
    assert!(open.is_none(), "the reader ends only between keys");
    Ok((model, summary))
}

fn apply(model: &mut SnapshotModel, open: &mut Option<KeyModel>, record: Record<'_>) {
    let key_model = |value| KeyModel {
        key: record.key().expect("key records have keys").to_vec(),
        expire_at: record.expire_at(),
        value,
    };
    match record {
        Record::Aux { name, value } => model.aux.push((name.to_vec(), value.to_vec())),
        Record::SelectDb { index } => model.dbs.push((index, Vec::new())),
        Record::String { value, .. } => {
            let key = key_model(ValueModel::Str(value.to_vec()));
            model.dbs.last_mut().expect("a db is selected").1.push(key);
        }
        Record::HashBegin { .. } => *open = Some(key_model(ValueModel::Hash(Vec::new()))),
        Record::ListBegin { .. } => *open = Some(key_model(ValueModel::List(Vec::new()))),
        Record::SetBegin { .. } => *open = Some(key_model(ValueModel::Set(Vec::new()))),
        Record::SortedSetBegin { .. } => *open = Some(key_model(ValueModel::SortedSet(Vec::new()))),
        Record::StreamBegin { meta, .. } => {
            *open = Some(key_model(ValueModel::Stream(StreamModel {
                last_id: meta.last_id,
                first_id: meta.first_id,
                max_deleted_id: meta.max_deleted_id,
                entries_added: meta.entries_added,
                entries: Vec::new(),
                groups: Vec::new(),
            })))
        }
        Record::HashField { field, value } => match open {
            Some(KeyModel {
                value: ValueModel::Hash(h),
                ..
            }) => h.push((field.to_vec(), value.to_vec())),
            _ => panic!("a hash field outside a hash passed the grammar"),
        },
        Record::ListItem { item } | Record::SetMember { member: item } => match open {
            Some(KeyModel {
                value: ValueModel::List(items) | ValueModel::Set(items),
                ..
            }) => items.push(item.to_vec()),
            _ => panic!("an item outside its collection passed the grammar"),
        },
        Record::SortedSetMember { member, score } => match open {
            Some(KeyModel {
                value: ValueModel::SortedSet(z),
                ..
            }) => z.push((member.to_vec(), score.to_bits())),
            _ => panic!("a member outside a sorted set passed the grammar"),
        },
        Record::StreamEntry { id, fields } => {
            let pairs = fields.iter().map(|(f, v)| (f.to_vec(), v.to_vec()));
            open_stream(open).entries.push((id, pairs.collect()));
        }
        Record::StreamGroup(g) => open_stream(open).groups.push(GroupModel {
            name: g.name.to_vec(),
            last_delivered: g.last_delivered,
            entries_read: g.entries_read,
            pending: Vec::new(),
            consumers: Vec::new(),
        }),
        Record::StreamPending(p) => open_group(open).pending.push((
            p.id,
            p.consumer.to_vec(),
            p.delivery_time,
            p.delivery_count,
        )),
        Record::StreamConsumer(c) => open_group(open).consumers.push((
            c.name.to_vec(),
            c.seen_time,
            c.active_time,
            Vec::new(),
        )),
        Record::StreamConsumerPending { id } => open_group(open)
            .consumers
            .last_mut()
            .expect("the grammar puts pending ids after their consumer")
            .3
            .push(id),
        Record::CollectionEnd => {
            let key = open
                .take()
                .expect("the grammar closes only open collections");
            model.dbs.last_mut().expect("a db is selected").1.push(key);
        }
    }
}

fn open_stream(open: &mut Option<KeyModel>) -> &mut StreamModel {
    match open {
        Some(KeyModel {
            value: ValueModel::Stream(stream),
            ..
        }) => stream,
        _ => panic!("the grammar allows stream parts only inside a stream"),
    }
}

fn open_group(open: &mut Option<KeyModel>) -> &mut GroupModel {
    open_stream(open)
        .groups
        .last_mut()
        .expect("the grammar puts group parts after their group")
}

// ---- strategies ----

pub(super) fn bytes() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 0..8),
        1 => prop::collection::vec(any::<u8>(), 0..300),
    ]
}

fn id() -> impl Strategy<Value = StreamId> {
    (any::<u64>(), any::<u64>()).prop_map(|(ms, seq)| StreamId { ms, seq })
}

fn group() -> impl Strategy<Value = GroupModel> {
    (
        bytes(),
        id(),
        any::<Option<u64>>(),
        prop::collection::vec((id(), bytes(), any::<u64>(), any::<u64>()), 0..3),
        prop::collection::vec(
            (
                bytes(),
                any::<u64>(),
                any::<u64>(),
                prop::collection::vec(id(), 0..3),
            ),
            0..3,
        ),
    )
        .prop_map(
            |(name, last_delivered, entries_read, pending, consumers)| GroupModel {
                name,
                last_delivered,
                entries_read,
                pending,
                consumers,
            },
        )
}

fn stream() -> impl Strategy<Value = StreamModel> {
    (
        (id(), id(), id(), any::<u64>()),
        prop::collection::vec(
            (id(), prop::collection::vec((bytes(), bytes()), 0..3)),
            0..4,
        ),
        prop::collection::vec(group(), 0..3),
    )
        .prop_map(
            |((last_id, first_id, max_deleted_id, entries_added), entries, groups)| StreamModel {
                last_id,
                first_id,
                max_deleted_id,
                entries_added,
                entries,
                groups,
            },
        )
}

fn score_bits() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<f64>().prop_filter("scores are never NaN", |s| !s.is_nan()),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
    ]
    .prop_map(f64::to_bits)
}

fn value() -> impl Strategy<Value = ValueModel> {
    let items = || prop::collection::vec(bytes(), 0..6);
    prop_oneof![
        3 => bytes().prop_map(ValueModel::Str),
        1 => prop::collection::vec((bytes(), bytes()), 0..6).prop_map(ValueModel::Hash),
        1 => items().prop_map(ValueModel::List),
        1 => items().prop_map(ValueModel::Set),
        1 => prop::collection::vec((bytes(), score_bits()), 0..6).prop_map(ValueModel::SortedSet),
        1 => stream().prop_map(ValueModel::Stream),
    ]
}

fn key() -> impl Strategy<Value = KeyModel> {
    (bytes(), any::<Option<u64>>(), value()).prop_map(|(key, expire_at, value)| KeyModel {
        key,
        expire_at,
        value,
    })
}

pub(super) fn snapshot() -> impl Strategy<Value = SnapshotModel> {
    (
        prop::collection::vec((bytes(), bytes()), 0..3),
        prop::collection::vec(
            (
                prop_oneof![4 => 0u32..16, 1 => any::<u32>()],
                prop::collection::vec(key(), 0..6),
            ),
            0..4,
        ),
    )
        .prop_map(|(aux, dbs)| SnapshotModel { aux, dbs })
}

/// The codecs this build can write.
pub(super) fn codecs() -> Vec<Codec> {
    Codec::ALL
        .into_iter()
        .filter(|c| c.is_compiled_in())
        .collect()
}

pub(super) fn options() -> impl Strategy<Value = WriterOptions> {
    (
        prop::sample::select(codecs()),
        prop_oneof![
            MIN_BLOCK_LEN..64usize,
            64usize..4096,
            Just(DEFAULT_BLOCK_LEN),
            Just(MAX_BLOCK_LEN),
        ],
    )
        .prop_map(|(codec, block_len)| WriterOptions { codec, block_len })
}
