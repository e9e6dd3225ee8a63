//! Loading the collection types from RDB objects, as Redis 7.0's
//! `rdbLoadObject` reads what `DUMP` writes (see `rdb_write.rs`) and the
//! plain forms older servers write.
//!
//! Every count is bounded by the bytes left in the payload before it sizes
//! anything; duplicates, empty collections, bad listpacks and intsets are
//! [`BadFormat`] (Redis replies `ERR Bad data format` for them). Values are
//! built through the type's own insertion paths with the configured limits,
//! so they take the encoding a command would have given them.

use std::collections::HashSet;

use super::intset;
use super::listpack::{self, LpEntry};
use super::rdb::{BadFormat, RdbReader};
use super::rdb_write::*;
use crate::keyspace::hash::{HashLimits, HashValue};
use crate::keyspace::list::{ChunkLimit, ListValue};
use crate::keyspace::set::{SetLimits, SetValue};
use crate::keyspace::zset::{entry_order, Limits as ZSetLimits, ZSetValue};
use crate::keyspace::Value;
use crate::resp::num::parse_f64;

/// The configured encoding limits a loaded value is built with.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadLimits {
    pub hash: HashLimits,
    pub set: SetLimits,
    pub zset: ZSetLimits,
    pub list: ChunkLimit,
}

/// A collection object of type `kind`; `None` when `kind` is not one.
pub fn read_collection(
    reader: &mut RdbReader,
    kind: u8,
    limits: &LoadLimits,
) -> Option<Result<Value, BadFormat>> {
    let value = match kind {
        RDB_TYPE_HASH => read_hash_pairs(reader, limits.hash).map(Value::Hash),
        RDB_TYPE_HASH_LISTPACK => read_hash_listpack(reader, limits.hash).map(Value::Hash),
        RDB_TYPE_SET => read_set_members(reader, limits.set).map(Value::Set),
        RDB_TYPE_SET_INTSET => read_intset(reader, limits.set).map(Value::Set),
        RDB_TYPE_ZSET | RDB_TYPE_ZSET_2 => {
            read_zset_pairs(reader, kind == RDB_TYPE_ZSET_2, limits.zset).map(Value::ZSet)
        }
        RDB_TYPE_ZSET_LISTPACK => read_zset_listpack(reader, limits.zset).map(Value::ZSet),
        RDB_TYPE_LIST => read_plain_list(reader, limits.list).map(|l| Value::List(Box::new(l))),
        RDB_TYPE_LIST_QUICKLIST_2 => {
            read_quicklist(reader, limits.list).map(|l| Value::List(Box::new(l)))
        }
        _ => return None,
    };
    Some(value)
}

/// A listpack's entries; an empty one is an empty key.
fn decode_listpack(bytes: &[u8]) -> Result<Vec<LpEntry<'_>>, BadFormat> {
    let entries = listpack::entries(bytes).map_err(|_| BadFormat)?;
    if entries.is_empty() {
        return Err(BadFormat);
    }
    Ok(entries)
}

/// A hash built pair by pair: a table from the start when the count is
/// over the listpack limit, as `rdbLoadObject` does.
fn build_hash(
    count: usize,
    pairs: impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), BadFormat>>,
    limits: HashLimits,
) -> Result<HashValue, BadFormat> {
    if count == 0 {
        return Err(BadFormat);
    }
    let mut hash = HashValue::default();
    if count > limits.max_listpack_entries {
        hash.convert_to_table();
    }
    for pair in pairs {
        let (field, value) = pair?;
        if !hash.set(&field, &value, limits) {
            return Err(BadFormat);
        }
    }
    Ok(hash)
}

fn read_hash_pairs(reader: &mut RdbReader, limits: HashLimits) -> Result<HashValue, BadFormat> {
    let count = reader.count()?;
    let mut left = count;
    let mut pairs = Vec::with_capacity(count.min(1024));
    while left > 0 {
        pairs.push(Ok((reader.bytes()?, reader.bytes()?)));
        left -= 1;
    }
    build_hash(count, pairs.into_iter(), limits)
}

fn read_hash_listpack(reader: &mut RdbReader, limits: HashLimits) -> Result<HashValue, BadFormat> {
    let bytes = reader.bytes()?;
    let entries = decode_listpack(&bytes)?;
    if entries.len() % 2 != 0 {
        return Err(BadFormat);
    }
    let pairs = entries
        .chunks_exact(2)
        .map(|pair| Ok((pair[0].to_vec(), pair[1].to_vec())));
    build_hash(entries.len() / 2, pairs, limits)
}

fn read_set_members(reader: &mut RdbReader, limits: SetLimits) -> Result<SetValue, BadFormat> {
    let count = reader.count()?;
    if count == 0 {
        return Err(BadFormat);
    }
    let mut set = SetValue::default();
    if count > limits.max_intset_entries {
        set.convert_to_table();
    }
    for _ in 0..count {
        if !set.add(&reader.bytes()?, limits) {
            return Err(BadFormat);
        }
    }
    Ok(set)
}

fn read_intset(reader: &mut RdbReader, limits: SetLimits) -> Result<SetValue, BadFormat> {
    let members = intset::decode(&reader.bytes()?).map_err(|_| BadFormat)?;
    if members.is_empty() {
        return Err(BadFormat);
    }
    let mut set = SetValue::default();
    let mut digits = Vec::with_capacity(20);
    for n in members {
        digits.clear();
        crate::resp::num::push_i64(&mut digits, n);
        set.add(&digits, limits);
    }
    Ok(set)
}

/// Entries in any order with distinct members, as a sorted set.
fn build_zset(
    mut entries: Vec<(Box<[u8]>, f64)>,
    limits: ZSetLimits,
) -> Result<ZSetValue, BadFormat> {
    if entries.is_empty() {
        return Err(BadFormat);
    }
    let mut seen = HashSet::with_capacity(entries.len());
    if !entries.iter().all(|(member, _)| seen.insert(&**member)) {
        return Err(BadFormat);
    }
    drop(seen);
    entries.sort_by(|a, b| entry_order((a.1, &a.0), (b.1, &b.0)));
    Ok(ZSetValue::from_sorted(entries, limits))
}

/// `rdbLoadDoubleValue`: a length byte (253 NaN, 254 +inf, 255 -inf),
/// then that many bytes of text.
fn read_text_double(reader: &mut RdbReader) -> Result<f64, BadFormat> {
    match reader.byte()? {
        253 => Ok(f64::NAN),
        254 => Ok(f64::INFINITY),
        255 => Ok(f64::NEG_INFINITY),
        len => {
            let mut text = Vec::with_capacity(usize::from(len));
            for _ in 0..len {
                text.push(reader.byte()?);
            }
            parse_f64(&text).ok_or(BadFormat)
        }
    }
}

fn read_zset_pairs(
    reader: &mut RdbReader,
    binary: bool,
    limits: ZSetLimits,
) -> Result<ZSetValue, BadFormat> {
    let count = reader.count()?;
    let mut entries = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let member = reader.bytes()?.into_boxed_slice();
        let score = if binary {
            reader.binary_double()?
        } else {
            read_text_double(reader)?
        };
        if score.is_nan() {
            return Err(BadFormat);
        }
        entries.push((member, score));
    }
    build_zset(entries, limits)
}

fn read_zset_listpack(reader: &mut RdbReader, limits: ZSetLimits) -> Result<ZSetValue, BadFormat> {
    let bytes = reader.bytes()?;
    let entries = decode_listpack(&bytes)?;
    if entries.len() % 2 != 0 {
        return Err(BadFormat);
    }
    let mut pairs = Vec::with_capacity(entries.len() / 2);
    for pair in entries.chunks_exact(2) {
        let score = match pair[1] {
            LpEntry::Int(n) => n as f64,
            LpEntry::Bytes(text) => parse_f64(text).ok_or(BadFormat)?,
        };
        pairs.push((pair[0].to_vec().into_boxed_slice(), score));
    }
    build_zset(pairs, limits)
}

fn read_plain_list(reader: &mut RdbReader, limit: ChunkLimit) -> Result<ListValue, BadFormat> {
    let count = reader.count()?;
    if count == 0 {
        return Err(BadFormat);
    }
    let mut list = ListValue::new(limit);
    for _ in 0..count {
        list.push_back(&reader.bytes()?);
    }
    Ok(list)
}

fn read_quicklist(reader: &mut RdbReader, limit: ChunkLimit) -> Result<ListValue, BadFormat> {
    let nodes = reader.count()?;
    let mut list = ListValue::new(limit);
    for _ in 0..nodes {
        let (container, encoded) = reader.length()?;
        if encoded {
            return Err(BadFormat);
        }
        let data = reader.bytes()?;
        match container {
            CONTAINER_PLAIN => list.push_back(&data),
            CONTAINER_PACKED => {
                // Redis skips empty nodes and fails only if the list ends
                // up empty.
                let entries = listpack::entries(&data).map_err(|_| BadFormat)?;
                let mut scratch = Vec::new();
                for entry in entries {
                    match entry {
                        LpEntry::Bytes(bytes) => list.push_back(bytes),
                        LpEntry::Int(n) => {
                            scratch.clear();
                            crate::resp::num::push_i64(&mut scratch, n);
                            list.push_back(&scratch);
                        }
                    }
                }
            }
            _ => return Err(BadFormat),
        }
    }
    if list.is_empty() {
        return Err(BadFormat);
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::dump::payload::listpack::ListpackWriter;

    fn read(body: &[u8]) -> Result<Value, BadFormat> {
        let mut reader = RdbReader::new(&body[1..]);
        read_collection(&mut reader, body[0], &LoadLimits::default()).unwrap_or(Err(BadFormat))
    }

    fn listpack(items: &[&[u8]]) -> Vec<u8> {
        let mut packed = ListpackWriter::default();
        items.iter().for_each(|item| packed.push(item));
        let bytes = packed.finish();
        let mut out = vec![bytes.len() as u8];
        out.extend_from_slice(&bytes);
        out
    }

    #[test]
    fn malformed_collections_are_bad_format() {
        let with = |kind: u8, rest: &[u8]| [&[kind][..], rest].concat();
        for bad in [
            // Duplicate hash fields, set members and sorted-set members.
            b"\x04\x02\x01f\x01v\x01f\x01w".to_vec(),
            b"\x02\x02\x01a\x01a".to_vec(),
            [&b"\x05\x02\x01a"[..], &[0; 8], b"\x01a", &[0; 8]].concat(),
            with(RDB_TYPE_HASH_LISTPACK, &listpack(&[b"f", b"v", b"f", b"w"])),
            with(RDB_TYPE_ZSET_LISTPACK, &listpack(&[b"m", b"1", b"m", b"2"])),
            // Odd pair lists, empty collections, NaN and bad scores.
            with(RDB_TYPE_HASH_LISTPACK, &listpack(&[b"f", b"v", b"g"])),
            with(RDB_TYPE_HASH_LISTPACK, &listpack(&[])),
            with(RDB_TYPE_ZSET_LISTPACK, &listpack(&[b"m", b"x"])),
            b"\x02\x00".to_vec(),
            b"\x04\x00".to_vec(),
            [&b"\x05\x01\x01a"[..], &f64::NAN.to_le_bytes()].concat(),
            b"\x03\x01\x01a\xfd".to_vec(),
            // Unsorted intsets, unknown quicklist containers, empty lists.
            b"\x0b\x0c\x02\x00\x00\x00\x02\x00\x00\x00\x05\x00\x01\x00".to_vec(),
            with(
                RDB_TYPE_LIST_QUICKLIST_2,
                &[&b"\x01\x03"[..], &listpack(&[b"a"])].concat(),
            ),
            with(
                RDB_TYPE_LIST_QUICKLIST_2,
                &[&b"\x01\x02"[..], &listpack(&[])].concat(),
            ),
            // Counts larger than the payload.
            b"\x02\x80\xff\xff\xff\xff".to_vec(),
        ] {
            assert_eq!(read(&bad), Err(BadFormat), "{bad:?}");
        }
    }

    #[test]
    fn plain_forms_read() {
        let Ok(Value::List(list)) = read(b"\x01\x02\x01a\xc0\x07") else {
            panic!("a plain list reads");
        };
        assert_eq!(list.iter().collect::<Vec<_>>(), vec![&b"a"[..], b"7"]);
        let Ok(Value::ZSet(zset)) = read(b"\x03\x02\x01a\x031.5\x01b\xfe") else {
            panic!("a text-score sorted set reads");
        };
        assert_eq!(zset.score(b"a"), Some(1.5));
        assert_eq!(zset.score(b"b"), Some(f64::INFINITY));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_objects_never_panic(
            kind in proptest::sample::select(vec![1u8, 2, 3, 4, 5, 11, 16, 17, 18]),
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
        ) {
            let _ = read(&[&[kind][..], &body].concat());
        }
    }
}
