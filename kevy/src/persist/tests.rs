//! Property tests of the keyspace's snapshot writer and loader: any
//! keyspace of any types saved by N shards and loaded into M shards holds
//! the same keys, values and TTLs, each on the shard that owns it; a
//! damaged file is refused with an offset, never a panic.

use std::collections::BTreeMap;

use kevy_persist::snapshot::{Codec, SnapshotWriter};
use proptest::prelude::*;

use super::load::{load_snapshot, ValueLimits};
use super::save::{freeze, write_frozen, write_keyspace};
use crate::keyspace::hash::HashValue;
use crate::keyspace::list::ListValue;
use crate::keyspace::set::SetValue;
use crate::keyspace::stream::{
    Consumer, ConsumerGroup, IdRequest, PendingEntry, StreamId, StreamValue,
};
use crate::keyspace::zset::ZSetValue;
use crate::keyspace::{Keyspace, RString, Value};
use crate::slot::SlotTable;

const DATABASES: usize = 4;
const NOW: u64 = 1_700_000_000_000;

#[derive(Debug, Clone)]
enum Spec {
    Str(Vec<u8>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
    Stream(Vec<Vec<(Vec<u8>, Vec<u8>)>>, u8),
}

fn bytes() -> impl Strategy<Value = Vec<u8>> + Clone {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..12),
        (0i64..100_000).prop_map(|n| n.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 50..80),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    let pairs = || proptest::collection::vec((bytes(), bytes()), 1..20);
    prop_oneof![
        bytes().prop_map(Spec::Str),
        pairs().prop_map(Spec::Hash),
        proptest::collection::vec(bytes(), 1..40).prop_map(Spec::List),
        proptest::collection::vec(bytes(), 1..40).prop_map(Spec::Set),
        proptest::collection::vec((bytes(), -1e9f64..1e9), 1..40).prop_map(Spec::ZSet),
        (proptest::collection::vec(pairs(), 0..8), any::<u8>())
            .prop_map(|(entries, groups)| Spec::Stream(entries, groups)),
    ]
}

fn build(spec: &Spec) -> Option<Value> {
    let limits = ValueLimits::default();
    Some(match spec {
        Spec::Str(data) => Value::Str(RString::from_client(data)),
        Spec::Hash(pairs) => {
            let mut hash = HashValue::default();
            for (f, v) in pairs {
                hash.set(f, v, limits.hash);
            }
            Value::Hash(hash)
        }
        Spec::List(items) => {
            let mut list = ListValue::new(limits.list);
            items.iter().for_each(|i| list.push_back(i));
            Value::List(Box::new(list))
        }
        Spec::Set(members) => {
            let mut set = SetValue::default();
            for m in members {
                set.add(m, limits.set);
            }
            Value::Set(set)
        }
        Spec::ZSet(members) => {
            let mut zset = ZSetValue::new();
            for (m, score) in members {
                if zset.score(m).is_none() {
                    zset.insert(m, *score, limits.zset);
                }
            }
            Value::ZSet(zset)
        }
        Spec::Stream(entries, groups) => {
            let mut stream = StreamValue::default();
            let mut ids = Vec::new();
            for (n, pairs) in entries.iter().enumerate() {
                let flat: Vec<&[u8]> = pairs.iter().flat_map(|(f, v)| [&f[..], &v[..]]).collect();
                let id = StreamId {
                    ms: 1000 + n as u64,
                    seq: u64::from(*groups % 3),
                };
                stream
                    .entries
                    .add(IdRequest::Exact(id), &flat, NOW, limits.stream)
                    .ok()?;
                ids.push(id);
            }
            stream.entries.entries_added += i64::from(*groups % 5);
            for g in 0..(*groups % 3) {
                let mut group = ConsumerGroup::new(
                    ids.first().copied().unwrap_or_default(),
                    if g == 0 { -1 } else { i64::from(g) },
                );
                for (c, id) in ids.iter().enumerate().take(usize::from(*groups % 4)) {
                    let name: Box<[u8]> = format!("c{}", c % 2).into_bytes().into();
                    group.pel.insert(
                        *id,
                        PendingEntry {
                            consumer: name.clone(),
                            delivery_time: 5 + c as i64,
                            delivery_count: 1 + c as u64,
                        },
                    );
                    group
                        .consumers
                        .entry(name)
                        .or_insert(Consumer {
                            seen_time: 77,
                            pel: Default::default(),
                        })
                        .pel
                        .insert(*id);
                }
                group.consumers.insert(
                    b"idle".to_vec().into(),
                    Consumer {
                        seen_time: 9,
                        pel: Default::default(),
                    },
                );
                stream
                    .groups
                    .insert(format!("g{g}").into_bytes().into(), group);
            }
            Value::Stream(Box::new(stream))
        }
    })
}

/// A value's contents as comparable text, independent of its encoding.
fn canonical(value: &Value) -> String {
    let mut scratch = Vec::new();
    match value {
        Value::Str(s) => format!("str {:?}", s.as_bytes(&mut scratch)),
        Value::Hash(h) => {
            let map: BTreeMap<_, _> = h.iter().collect();
            format!("hash {map:?}")
        }
        Value::List(l) => format!("list {:?}", l.iter().collect::<Vec<_>>()),
        Value::Set(s) => {
            let mut members: Vec<Vec<u8>> = s.iter().map(|m| m.to_vec()).collect();
            members.sort();
            format!("set {members:?}")
        }
        Value::ZSet(z) => format!("zset {:?}", z.iter().collect::<Vec<_>>()),
        Value::Stream(s) => {
            let entries: Vec<_> = s
                .entries
                .range(StreamId::MIN, StreamId::MAX)
                .map(|e| (e.id, e.pairs().collect::<Vec<_>>()))
                .collect();
            format!(
                "stream {entries:?} last {:?} deleted {:?} added {} groups {:?}",
                s.entries.last_id,
                s.entries.max_deleted_entry_id,
                s.entries.entries_added,
                s.groups
            )
        }
    }
}

type Contents = BTreeMap<(usize, Vec<u8>), (String, Option<u64>)>;

fn contents(shards: &[Keyspace], slots: &SlotTable) -> Contents {
    let mut all = BTreeMap::new();
    for (shard, keyspace) in shards.iter().enumerate() {
        for (db, keys) in keyspace.dbs.iter().enumerate() {
            for entry in keys.iter_live(NOW) {
                let key = entry.key.as_bytes().to_vec();
                assert_eq!(
                    slots.shard_of(&key),
                    shard,
                    "a key on a shard that does not own it"
                );
                all.insert((db, key), (canonical(&entry.value), entry.expire_at()));
            }
        }
    }
    all
}

fn keyspaces(
    keys: &[(usize, Vec<u8>, Spec, Option<u64>)],
    shards: usize,
) -> (Vec<Keyspace>, SlotTable) {
    let slots = SlotTable::new(shards);
    let mut out: Vec<Keyspace> = (0..shards).map(|_| Keyspace::new(DATABASES)).collect();
    for (db, key, spec, ttl) in keys {
        let Some(value) = build(spec) else { continue };
        let target = out[slots.shard_of(key)].db(*db);
        if !target.contains(key, NOW) {
            target.insert_new(key.as_slice().into(), value, ttl.map(|t| NOW + t), 0);
        }
    }
    (out, slots)
}

fn save(shards: &[Keyspace], codec: Codec, frozen: bool) -> Vec<u8> {
    let mut writer = SnapshotWriter::new(Vec::new(), codec).expect("a Vec accepts every write");
    for keyspace in shards {
        if frozen {
            write_frozen(&mut writer, &freeze(keyspace, NOW)).expect("writing into a Vec");
        } else {
            write_keyspace(&mut writer, keyspace, NOW).expect("writing into a Vec");
        }
    }
    writer.finish().expect("finishing into a Vec").0
}

fn load(
    file: &[u8],
    shards: usize,
) -> Result<(Vec<Keyspace>, SlotTable), kevy_persist::PersistError> {
    let slots = SlotTable::new(shards);
    let mut out: Vec<Keyspace> = (0..shards).map(|_| Keyspace::new(DATABASES)).collect();
    load_snapshot(file, &mut out, &slots, ValueLimits::default(), NOW)?;
    Ok((out, slots))
}

fn keyspace_specs() -> impl Strategy<Value = Vec<(usize, Vec<u8>, Spec, Option<u64>)>> {
    proptest::collection::vec(
        (
            0..DATABASES,
            proptest::collection::vec(any::<u8>(), 0..10),
            spec(),
            proptest::option::of(1u64..1_000_000),
        ),
        0..30,
    )
}

fn codecs() -> Vec<Codec> {
    if cfg!(feature = "zstd") {
        vec![Codec::Plain, Codec::Zstd]
    } else {
        vec![Codec::Plain]
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn saved_keyspaces_load_equal_into_any_shard_count(
        keys in keyspace_specs(),
        saved_with in 1usize..5,
        loaded_into in 1usize..5,
        frozen in any::<bool>(),
    ) {
        let (shards, slots) = keyspaces(&keys, saved_with);
        let before = contents(&shards, &slots);
        for codec in codecs() {
            let file = save(&shards, codec, frozen);
            let (loaded, loaded_slots) = load(&file, loaded_into).expect("a saved file loads");
            prop_assert_eq!(&before, &contents(&loaded, &loaded_slots));
        }
    }

    #[test]
    fn damaged_files_are_refused_with_an_offset(
        keys in keyspace_specs(),
        cut in any::<prop::sample::Index>(),
        flip in any::<u8>(),
    ) {
        let (shards, _) = keyspaces(&keys, 2);
        let file = save(&shards, Codec::Plain, false);
        let at = cut.index(file.len());
        let truncated = load(&file[..at], 3).err().expect("a cut file is refused");
        prop_assert!(truncated.offset().is_some());
        let mut flipped = file.clone();
        flipped[at] ^= flip.max(1);
        let err = load(&flipped, 3).err().expect("a flipped byte is refused");
        prop_assert!(err.offset().is_some());
    }
}

#[test]
fn expired_keys_are_not_loaded() {
    let (shards, _) = keyspaces(&[(0, b"k".to_vec(), Spec::Str(b"v".to_vec()), Some(5))], 1);
    let file = save(&shards, Codec::Plain, false);
    let slots = SlotTable::new(1);
    let mut out = vec![Keyspace::new(DATABASES)];
    let report = load_snapshot(
        &file[..],
        &mut out,
        &slots,
        ValueLimits::default(),
        NOW + 10,
    )
    .expect("the file is sound");
    assert_eq!((report.keys, report.expired_skipped), (0, 1));
}
