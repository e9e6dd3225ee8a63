//! RDB serialization of streams as Redis 7.0 writes them
//! (`RDB_TYPE_STREAM_LISTPACKS_2`), for `DUMP` and `RESTORE`:
//!
//! ```text
//! nodes: count, then per node: 16-byte key (master ID, big-endian ms
//!        and seq) as a string, the node's listpack as a string
//! length, last ID, first ID, max deleted ID (ms, seq), entries added
//! groups: count, then per group: name, last ID, entries read,
//!   PEL: count, per entry: 16-byte ID, delivery time (8 bytes LE),
//!        delivery count
//!   consumers: count, per consumer: name, seen time (8 bytes LE),
//!        pending count, 16-byte IDs (owned entries of the group PEL)
//! ```
//!
//! A node's listpack starts with the master entry (live count, deleted
//! count, field count, field names, 0); each entry is flags (1 deleted,
//! 2 same fields as the master), ms and seq deltas from the master ID,
//! then the field count and pairs, or only the values with SAMEFIELDS,
//! then the number of listpack elements the entry took.
//!
//! Writing walks the live entries and cuts them into nodes where `XADD`
//! under the default `stream-node-max-bytes`/`-entries` would, so a
//! stream built by `XADD` alone dumps as Redis dumps it (the stream API
//! does not expose node boundaries or tombstones). Reading rebuilds the
//! stream through `StreamEntries::add`, one node per payload node, then
//! deletes the tombstones and sets the counters; groups are built
//! directly. Anything inconsistent is [`BadFormat`].

use std::collections::BTreeMap;

use super::listpack::{self, ListpackWriter, LpEntry};
use super::rdb::{self, BadFormat, RdbReader};
use crate::keyspace::stream::{
    Consumer, ConsumerGroup, IdRequest, NodeLimits, PendingEntry, StreamEntries, StreamId,
    StreamValue,
};

pub const RDB_TYPE_STREAM_LISTPACKS_2: u8 = 19;

const FLAG_DELETED: i64 = 1;
const FLAG_SAME_FIELDS: i64 = 2;

fn id_key(id: StreamId) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&id.ms.to_be_bytes());
    key[8..].copy_from_slice(&id.seq.to_be_bytes());
    key
}

fn write_id(out: &mut Vec<u8>, id: StreamId) {
    rdb::write_length(out, id.ms);
    rdb::write_length(out, id.seq);
}

/// Bytes of a listpack integer element for the node counters.
fn counter_size(n: usize) -> usize {
    let mut probe = ListpackWriter::default();
    let before = probe.byte_len();
    probe.push_int(n as i64);
    probe.byte_len() - before
}

/// One node being filled: its master ID and fields, the live entries'
/// listpack elements after the master entry, and their count.
struct NodeBuilder<'a> {
    master_id: StreamId,
    master_fields: Vec<&'a [u8]>,
    body: ListpackWriter,
    elements: Vec<Element<'a>>,
    entries: usize,
}

#[derive(Clone, Copy)]
enum Element<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl<'a> NodeBuilder<'a> {
    fn new(master_id: StreamId, pairs: &[(&'a [u8], &'a [u8])]) -> Self {
        NodeBuilder {
            master_id,
            master_fields: pairs.iter().map(|(field, _)| *field).collect(),
            body: ListpackWriter::default(),
            elements: Vec::new(),
            entries: 0,
        }
    }

    fn push(&mut self, element: Element<'a>) {
        match element {
            Element::Int(n) => self.body.push_int(n),
            Element::Str(s) => self.body.push(s),
        }
        self.elements.push(element);
    }

    /// `lpBytes` of the node's listpack as it stands.
    fn listpack_bytes(&self) -> usize {
        let master = {
            let mut probe = ListpackWriter::default();
            probe.push_int(self.master_fields.len() as i64);
            self.master_fields.iter().for_each(|f| probe.push(f));
            probe.push_int(0);
            probe.byte_len() - ListpackWriter::default().byte_len()
        };
        self.body.byte_len() + counter_size(self.entries) + counter_size(0) + master
    }

    /// `streamAppendItem`'s entry layout.
    fn append(&mut self, id: StreamId, pairs: &[(&'a [u8], &'a [u8])]) {
        let same = pairs.len() == self.master_fields.len()
            && pairs
                .iter()
                .zip(&self.master_fields)
                .all(|(p, m)| p.0 == *m);
        let flags = if same { FLAG_SAME_FIELDS } else { 0 };
        self.push(Element::Int(flags));
        self.push(Element::Int(id.ms.wrapping_sub(self.master_id.ms) as i64));
        self.push(Element::Int(id.seq.wrapping_sub(self.master_id.seq) as i64));
        if !same {
            self.push(Element::Int(pairs.len() as i64));
        }
        for &(field, value) in pairs {
            if !same {
                self.push(Element::Str(field));
            }
            self.push(Element::Str(value));
        }
        let mut lp_count = pairs.len() as i64 + 3;
        if !same {
            lp_count += pairs.len() as i64 + 1;
        }
        self.push(Element::Int(lp_count));
        self.entries += 1;
    }

    fn finish(self, out: &mut Vec<u8>) {
        let mut packed = ListpackWriter::default();
        packed.push_int(self.entries as i64);
        packed.push_int(0);
        packed.push_int(self.master_fields.len() as i64);
        self.master_fields.iter().for_each(|f| packed.push(f));
        packed.push_int(0);
        for element in self.elements {
            match element {
                Element::Int(n) => packed.push_int(n),
                Element::Str(s) => packed.push(s),
            }
        }
        rdb::write_bytes(out, &id_key(self.master_id));
        rdb::write_bytes(out, &packed.finish());
    }
}

fn write_nodes(out: &mut Vec<u8>, entries: &StreamEntries) {
    let limits = NodeLimits::default();
    let mut body = Vec::new();
    let mut nodes = 0u64;
    let mut current: Option<NodeBuilder> = None;
    for entry in entries.range(StreamId::MIN, StreamId::MAX) {
        let pairs: Vec<(&[u8], &[u8])> = entry.pairs().collect();
        let total_len: usize = pairs.iter().map(|(f, v)| f.len() + v.len()).sum();
        if let Some(node) = current.as_mut() {
            let fits = (node.listpack_bytes() + total_len) < limits.max_bytes as usize
                && (node.entries as u64) < limits.max_entries;
            if fits {
                node.append(entry.id, &pairs);
                continue;
            }
        }
        if let Some(full) = current.take() {
            full.finish(&mut body);
            nodes += 1;
        }
        let mut node = NodeBuilder::new(entry.id, &pairs);
        node.append(entry.id, &pairs);
        current = Some(node);
    }
    if let Some(last) = current {
        last.finish(&mut body);
        nodes += 1;
    }
    rdb::write_length(out, nodes);
    out.extend_from_slice(&body);
}

/// `rdbSaveObject` for a stream.
pub fn write_stream(out: &mut Vec<u8>, stream: &StreamValue) {
    out.push(RDB_TYPE_STREAM_LISTPACKS_2);
    let entries = &stream.entries;
    write_nodes(out, entries);
    rdb::write_length(out, entries.len());
    write_id(out, entries.last_id);
    write_id(out, entries.first_id());
    write_id(out, entries.max_deleted_entry_id);
    rdb::write_length(out, entries.entries_added as u64);
    rdb::write_length(out, stream.groups.len() as u64);
    for (name, group) in &stream.groups {
        rdb::write_bytes(out, name);
        write_id(out, group.last_id);
        rdb::write_length(out, group.entries_read as u64);
        rdb::write_length(out, group.pel.len() as u64);
        for (id, pending) in &group.pel {
            out.extend_from_slice(&id_key(*id));
            out.extend_from_slice(&pending.delivery_time.to_le_bytes());
            rdb::write_length(out, pending.delivery_count);
        }
        rdb::write_length(out, group.consumers.len() as u64);
        for (name, consumer) in &group.consumers {
            rdb::write_bytes(out, name);
            out.extend_from_slice(&consumer.seen_time.to_le_bytes());
            rdb::write_length(out, consumer.pel.len() as u64);
            for id in &consumer.pel {
                out.extend_from_slice(&id_key(*id));
            }
        }
    }
}

/// A plain (not specially encoded) RDB length.
fn plain_length(reader: &mut RdbReader) -> Result<u64, BadFormat> {
    match reader.length()? {
        (n, false) => Ok(n),
        _ => Err(BadFormat),
    }
}

fn read_id(reader: &mut RdbReader) -> Result<StreamId, BadFormat> {
    Ok(StreamId::new(plain_length(reader)?, plain_length(reader)?))
}

fn raw<const N: usize>(reader: &mut RdbReader) -> Result<[u8; N], BadFormat> {
    let mut bytes = [0u8; N];
    for byte in &mut bytes {
        *byte = reader.byte()?;
    }
    Ok(bytes)
}

fn raw_id(reader: &mut RdbReader) -> Result<StreamId, BadFormat> {
    let key = raw::<16>(reader)?;
    id_from_key(&key)
}

fn id_from_key(key: &[u8]) -> Result<StreamId, BadFormat> {
    let (ms, seq) = key.split_at(8);
    let ms: [u8; 8] = ms.try_into().map_err(|_| BadFormat)?;
    let seq: [u8; 8] = seq.try_into().map_err(|_| BadFormat)?;
    Ok(StreamId::new(
        u64::from_be_bytes(ms),
        u64::from_be_bytes(seq),
    ))
}

fn raw_time(reader: &mut RdbReader) -> Result<i64, BadFormat> {
    Ok(i64::from_le_bytes(raw::<8>(reader)?))
}

/// Reads a node's listpack elements in order.
struct Elements<'a> {
    items: std::vec::IntoIter<LpEntry<'a>>,
}

impl<'a> Elements<'a> {
    fn next(&mut self) -> Result<LpEntry<'a>, BadFormat> {
        self.items.next().ok_or(BadFormat)
    }

    fn int(&mut self) -> Result<i64, BadFormat> {
        match self.next()? {
            LpEntry::Int(n) => Ok(n),
            LpEntry::Bytes(_) => Err(BadFormat),
        }
    }

    fn count(&mut self) -> Result<usize, BadFormat> {
        usize::try_from(self.int()?).map_err(|_| BadFormat)
    }
}

/// Loads one node into `entries`, returning the IDs of its tombstones.
fn read_node(
    entries: &mut StreamEntries,
    key: &[u8],
    packed: &[u8],
) -> Result<Vec<StreamId>, BadFormat> {
    if key.len() != 16 {
        return Err(BadFormat);
    }
    let master_id = id_from_key(key)?;
    let items = listpack::entries(packed).map_err(|_| BadFormat)?;
    if items.is_empty() {
        return Err(BadFormat);
    }
    let mut elements = Elements {
        items: items.into_iter(),
    };
    let live = elements.count()?;
    let deleted = elements.count()?;
    let master_count = elements.count()?;
    let mut master_fields = Vec::with_capacity(master_count.min(packed.len()));
    for _ in 0..master_count {
        master_fields.push(elements.next()?.to_vec());
    }
    if elements.int()? != 0 {
        return Err(BadFormat);
    }
    let mut tombstones = Vec::new();
    let mut seen = 0usize;
    let mut first = true;
    while let Some(flags) = elements.items.next() {
        let LpEntry::Int(flags) = flags else {
            return Err(BadFormat);
        };
        let ms = master_id.ms.wrapping_add(elements.int()? as u64);
        let seq = master_id.seq.wrapping_add(elements.int()? as u64);
        let id = StreamId::new(ms, seq);
        let same = flags & FLAG_SAME_FIELDS != 0;
        let pair_count = if same {
            master_fields.len()
        } else {
            elements.count()?
        };
        let mut strings: Vec<Vec<u8>> = Vec::with_capacity(pair_count.min(packed.len()) * 2);
        for at in 0..pair_count {
            let field = match master_fields.get(at) {
                Some(name) if same => name.clone(),
                _ => elements.next()?.to_vec(),
            };
            strings.push(field);
            strings.push(elements.next()?.to_vec());
        }
        let expected_lp_count =
            pair_count as i64 + 3 + if same { 0 } else { pair_count as i64 + 1 };
        if elements.int()? != expected_lp_count {
            return Err(BadFormat);
        }
        let pairs: Vec<&[u8]> = strings.iter().map(|s| &s[..]).collect();
        // The node's first entry opens a new kevy node; the rest follow
        // it there whatever its size.
        let limits = NodeLimits {
            max_bytes: 0,
            max_entries: u64::from(first),
        };
        entries
            .add(IdRequest::Exact(id), &pairs, 0, limits)
            .map_err(|_| BadFormat)?;
        first = false;
        seen += 1;
        if flags & FLAG_DELETED != 0 {
            tombstones.push(id);
        }
    }
    if seen == 0
        || seen != live.checked_add(deleted).ok_or(BadFormat)?
        || tombstones.len() != deleted
    {
        return Err(BadFormat);
    }
    Ok(tombstones)
}

fn read_group(reader: &mut RdbReader) -> Result<ConsumerGroup, BadFormat> {
    let last_id = read_id(reader)?;
    let entries_read = plain_length(reader)? as i64;
    let mut group = ConsumerGroup::new(last_id, entries_read);
    let pel_count = reader.count()?;
    let mut deliveries: BTreeMap<StreamId, (i64, u64)> = BTreeMap::new();
    for _ in 0..pel_count {
        let id = raw_id(reader)?;
        let time = raw_time(reader)?;
        let count = plain_length(reader)?;
        if deliveries.insert(id, (time, count)).is_some() {
            return Err(BadFormat);
        }
    }
    let consumers = reader.count()?;
    for _ in 0..consumers {
        let name = reader.bytes()?;
        let seen_time = raw_time(reader)?;
        let owned = reader.count()?;
        let mut consumer = Consumer {
            seen_time,
            pel: Default::default(),
        };
        for _ in 0..owned {
            let id = raw_id(reader)?;
            let (delivery_time, delivery_count) = deliveries.remove(&id).ok_or(BadFormat)?;
            consumer.pel.insert(id);
            group.pel.insert(
                id,
                PendingEntry {
                    consumer: name.clone().into_boxed_slice(),
                    delivery_time,
                    delivery_count,
                },
            );
        }
        if group
            .consumers
            .insert(name.into_boxed_slice(), consumer)
            .is_some()
        {
            return Err(BadFormat);
        }
    }
    // Every pending entry has an owner.
    if !deliveries.is_empty() {
        return Err(BadFormat);
    }
    Ok(group)
}

/// `rdbLoadObject` for `RDB_TYPE_STREAM_LISTPACKS_2` (the type byte read).
pub fn read_stream(reader: &mut RdbReader) -> Result<StreamValue, BadFormat> {
    let nodes = reader.count()?;
    let mut entries = StreamEntries::default();
    let mut tombstones = Vec::new();
    for _ in 0..nodes {
        let key = reader.bytes()?;
        let packed = reader.bytes()?;
        tombstones.extend(read_node(&mut entries, &key, &packed)?);
    }
    for id in tombstones {
        entries.delete(id);
    }
    let length = plain_length(reader)?;
    let last_id = read_id(reader)?;
    let _first_id = read_id(reader)?;
    let max_deleted = read_id(reader)?;
    let entries_added = plain_length(reader)? as i64;
    if length != entries.len() || entries.last_live_id().is_some_and(|id| id > last_id) {
        return Err(BadFormat);
    }
    entries.last_id = last_id;
    entries.max_deleted_entry_id = max_deleted;
    entries.entries_added = entries_added;
    let mut stream = StreamValue {
        entries,
        groups: BTreeMap::new(),
    };
    let groups = reader.count()?;
    for _ in 0..groups {
        let name = reader.bytes()?;
        let group = read_group(reader)?;
        if stream
            .groups
            .insert(name.into_boxed_slice(), group)
            .is_some()
        {
            return Err(BadFormat);
        }
    }
    Ok(stream)
}

#[cfg(test)]
#[path = "rdb_stream_tests.rs"]
mod tests;
