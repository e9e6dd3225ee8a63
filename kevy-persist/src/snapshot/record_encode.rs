//! Records to bytes (the layout of a record, shared with the decoder).
//!
//! A record is framed as `tag (u8) | body length (varint) | body`.
//! Integers in bodies are LEB128 varints (u64, at most 10 bytes), byte
//! strings are a varint length then the bytes, a TTL is `0` or `1` then a
//! varint, a score is the f64's 8 bytes LE, a stream id two varints.
//! Frames ignore block boundaries: the writer streams a record's bytes
//! into as many blocks as it needs, so a 512 MiB value never sits in one
//! block; the reader gathers a frame's bytes before decoding it.
//!
//! Encoding goes through [`ByteSink`] twice per record: once into a
//! [`LenCounter`] to learn the body length for the frame header, once into
//! the writer. Decoding, in [`super::record_decode`], is strict.

use super::record::{Record, StreamId};
use crate::PersistError;

pub(crate) const TAG_AUX: u8 = 1;
pub(crate) const TAG_SELECT_DB: u8 = 2;
pub(crate) const TAG_STRING: u8 = 3;
pub(crate) const TAG_HASH_BEGIN: u8 = 4;
pub(crate) const TAG_HASH_FIELD: u8 = 5;
pub(crate) const TAG_LIST_BEGIN: u8 = 6;
pub(crate) const TAG_LIST_ITEM: u8 = 7;
pub(crate) const TAG_SET_BEGIN: u8 = 8;
pub(crate) const TAG_SET_MEMBER: u8 = 9;
pub(crate) const TAG_ZSET_BEGIN: u8 = 10;
pub(crate) const TAG_ZSET_MEMBER: u8 = 11;
pub(crate) const TAG_STREAM_BEGIN: u8 = 12;
pub(crate) const TAG_STREAM_ENTRY: u8 = 13;
pub(crate) const TAG_STREAM_GROUP: u8 = 14;
pub(crate) const TAG_STREAM_PENDING: u8 = 15;
pub(crate) const TAG_STREAM_CONSUMER: u8 = 16;
pub(crate) const TAG_STREAM_CONSUMER_PENDING: u8 = 17;
pub(crate) const TAG_COLLECTION_END: u8 = 18;

/// Longest LEB128 encoding of a u64.
pub(crate) const MAX_VARINT_LEN: usize = 10;

/// Where encoded bytes go.
pub(crate) trait ByteSink {
    fn put(&mut self, bytes: &[u8]) -> Result<(), PersistError>;
}

/// Counts bytes instead of storing them.
#[derive(Default)]
pub(crate) struct LenCounter(pub u64);

impl ByteSink for LenCounter {
    fn put(&mut self, bytes: &[u8]) -> Result<(), PersistError> {
        self.0 = self.0.saturating_add(bytes.len() as u64);
        Ok(())
    }
}

impl ByteSink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), PersistError> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

fn put_varint(sink: &mut impl ByteSink, mut value: u64) -> Result<(), PersistError> {
    let mut buf = [0u8; MAX_VARINT_LEN];
    let mut len = 0;
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            buf[len] = low;
            len += 1;
            break;
        }
        buf[len] = low | 0x80;
        len += 1;
    }
    sink.put(&buf[..len])
}

fn put_bytes(sink: &mut impl ByteSink, bytes: &[u8]) -> Result<(), PersistError> {
    put_varint(sink, bytes.len() as u64)?;
    sink.put(bytes)
}

/// A TTL or any other optional number: `0`, or `1` then the varint.
fn put_optional(sink: &mut impl ByteSink, value: Option<u64>) -> Result<(), PersistError> {
    match value {
        None => sink.put(&[0]),
        Some(value) => {
            sink.put(&[1])?;
            put_varint(sink, value)
        }
    }
}

fn put_id(sink: &mut impl ByteSink, id: StreamId) -> Result<(), PersistError> {
    put_varint(sink, id.ms)?;
    put_varint(sink, id.seq)
}

/// Appends stream field/value pairs in their encoded form.
pub(crate) fn encode_stream_fields<F, V>(
    pairs: impl IntoIterator<Item = (F, V)>,
    out: &mut Vec<u8>,
) -> u64
where
    F: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let mut count = 0u64;
    for (field, value) in pairs {
        put_bytes(out, field.as_ref()).expect("a Vec sink never fails");
        put_bytes(out, value.as_ref()).expect("a Vec sink never fails");
        count += 1;
    }
    count
}

fn tag_of(record: &Record<'_>) -> u8 {
    match record {
        Record::Aux { .. } => TAG_AUX,
        Record::SelectDb { .. } => TAG_SELECT_DB,
        Record::String { .. } => TAG_STRING,
        Record::HashBegin { .. } => TAG_HASH_BEGIN,
        Record::HashField { .. } => TAG_HASH_FIELD,
        Record::ListBegin { .. } => TAG_LIST_BEGIN,
        Record::ListItem { .. } => TAG_LIST_ITEM,
        Record::SetBegin { .. } => TAG_SET_BEGIN,
        Record::SetMember { .. } => TAG_SET_MEMBER,
        Record::SortedSetBegin { .. } => TAG_ZSET_BEGIN,
        Record::SortedSetMember { .. } => TAG_ZSET_MEMBER,
        Record::StreamBegin { .. } => TAG_STREAM_BEGIN,
        Record::StreamEntry { .. } => TAG_STREAM_ENTRY,
        Record::StreamGroup(_) => TAG_STREAM_GROUP,
        Record::StreamPending(_) => TAG_STREAM_PENDING,
        Record::StreamConsumer(_) => TAG_STREAM_CONSUMER,
        Record::StreamConsumerPending { .. } => TAG_STREAM_CONSUMER_PENDING,
        Record::CollectionEnd => TAG_COLLECTION_END,
    }
}

fn encode_body(record: &Record<'_>, sink: &mut impl ByteSink) -> Result<(), PersistError> {
    match *record {
        Record::Aux { name, value } => {
            put_bytes(sink, name)?;
            put_bytes(sink, value)
        }
        Record::SelectDb { index } => put_varint(sink, u64::from(index)),
        Record::String {
            key,
            expire_at,
            value,
        } => {
            put_bytes(sink, key)?;
            put_optional(sink, expire_at)?;
            put_bytes(sink, value)
        }
        Record::HashBegin {
            key,
            expire_at,
            fields: len,
        }
        | Record::ListBegin {
            key,
            expire_at,
            items: len,
        }
        | Record::SetBegin {
            key,
            expire_at,
            members: len,
        }
        | Record::SortedSetBegin {
            key,
            expire_at,
            members: len,
        } => {
            put_bytes(sink, key)?;
            put_optional(sink, expire_at)?;
            put_varint(sink, len)
        }
        Record::HashField { field, value } => {
            put_bytes(sink, field)?;
            put_bytes(sink, value)
        }
        Record::ListItem { item: bytes } | Record::SetMember { member: bytes } => {
            put_bytes(sink, bytes)
        }
        Record::SortedSetMember { member, score } => {
            put_bytes(sink, member)?;
            sink.put(&score.to_bits().to_le_bytes())
        }
        Record::StreamBegin {
            key,
            expire_at,
            meta,
        } => {
            put_bytes(sink, key)?;
            put_optional(sink, expire_at)?;
            put_varint(sink, meta.entries)?;
            put_id(sink, meta.last_id)?;
            put_id(sink, meta.first_id)?;
            put_id(sink, meta.max_deleted_id)?;
            put_varint(sink, meta.entries_added)?;
            put_varint(sink, meta.groups)
        }
        Record::StreamEntry { id, fields } => {
            put_id(sink, id)?;
            put_varint(sink, fields.count)?;
            sink.put(fields.encoded)
        }
        Record::StreamGroup(group) => {
            put_bytes(sink, group.name)?;
            put_id(sink, group.last_delivered)?;
            put_optional(sink, group.entries_read)?;
            put_varint(sink, group.pending)?;
            put_varint(sink, group.consumers)
        }
        Record::StreamPending(pending) => {
            put_id(sink, pending.id)?;
            put_bytes(sink, pending.consumer)?;
            put_varint(sink, pending.delivery_time)?;
            put_varint(sink, pending.delivery_count)
        }
        Record::StreamConsumer(consumer) => {
            put_bytes(sink, consumer.name)?;
            put_varint(sink, consumer.seen_time)?;
            put_varint(sink, consumer.active_time)?;
            put_varint(sink, consumer.pending)
        }
        Record::StreamConsumerPending { id } => put_id(sink, id),
        Record::CollectionEnd => Ok(()),
    }
}

/// Writes one framed record into `sink`; returns the frame's length.
pub(crate) fn encode_record(
    record: &Record<'_>,
    sink: &mut impl ByteSink,
) -> Result<u64, PersistError> {
    let mut body = LenCounter::default();
    encode_body(record, &mut body)?;
    let mut header = LenCounter::default();
    put_varint(&mut header, body.0)?;
    sink.put(&[tag_of(record)])?;
    put_varint(sink, body.0)?;
    encode_body(record, sink)?;
    Ok(1 + header.0 + body.0)
}
