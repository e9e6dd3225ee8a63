//! Bytes back to records: finding a frame in the reader's buffer
//! (without decoding it, so a record split over blocks is gathered
//! first) and decoding a complete body strictly: every field in range,
//! nothing left over, no NaN score, counts that fit the bytes present.
//! The layout is described in [`super::record_encode`].

use super::record::{
    Record, StreamConsumer, StreamFields, StreamGroup, StreamId, StreamMeta, StreamPending,
};
use super::record_encode::*;

/// Where the next frame in a buffer stands.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A whole frame: its tag and body at `body_start..end`.
    Complete {
        tag: u8,
        body_start: usize,
        end: usize,
    },
    /// More bytes are needed.
    Incomplete,
    /// The frame claims a body longer than the reader accepts.
    TooLarge { len: u64 },
}

/// Finds the frame at the start of `buf` without decoding its body.
pub(crate) fn parse_frame(buf: &[u8], max_body_len: u64) -> Result<Frame, &'static str> {
    let Some((&tag, rest)) = buf.split_first() else {
        return Ok(Frame::Incomplete);
    };
    let mut cursor = Cursor::new(rest);
    let len = match cursor.varint() {
        Ok(len) => len,
        Err(_) if rest.len() < MAX_VARINT_LEN && rest.iter().all(|b| b & 0x80 != 0) => {
            return Ok(Frame::Incomplete)
        }
        Err(reason) => return Err(reason),
    };
    if len > max_body_len {
        return Ok(Frame::TooLarge { len });
    }
    let body_start = 1 + cursor.pos;
    let available = (buf.len() - body_start) as u64;
    if available < len {
        return Ok(Frame::Incomplete);
    }
    let end = body_start + usize::try_from(len).expect("len <= available, a usize");
    Ok(Frame::Complete {
        tag,
        body_start,
        end,
    })
}

/// Reads the fields of one body, strictly.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    fn u8(&mut self) -> Result<u8, &'static str> {
        let byte = *self
            .buf
            .get(self.pos)
            .ok_or("the body ends inside a field")?;
        self.pos += 1;
        Ok(byte)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, &'static str> {
        let mut value = 0u64;
        for i in 0..MAX_VARINT_LEN {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            if i == MAX_VARINT_LEN - 1 && byte > 1 {
                return Err("a varint overflows 64 bits");
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint overflows 64 bits")
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], &'static str> {
        let len = self.varint()?;
        let rest = &self.buf[self.pos..];
        let len = usize::try_from(len)
            .ok()
            .filter(|&len| len <= rest.len())
            .ok_or("a byte string runs past the end of its record")?;
        self.pos += len;
        Ok(&rest[..len])
    }

    fn optional(&mut self) -> Result<Option<u64>, &'static str> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.varint()?)),
            _ => Err("an optional number's flag is neither 0 nor 1"),
        }
    }

    fn id(&mut self) -> Result<StreamId, &'static str> {
        Ok(StreamId {
            ms: self.varint()?,
            seq: self.varint()?,
        })
    }

    fn score(&mut self) -> Result<f64, &'static str> {
        let end = self.pos + 8;
        let raw = self
            .buf
            .get(self.pos..end)
            .ok_or("the body ends inside a score")?;
        self.pos = end;
        let mut bits = [0u8; 8];
        bits.copy_from_slice(raw);
        let score = f64::from_bits(u64::from_le_bytes(bits));
        if score.is_nan() {
            return Err("a sorted set score is NaN");
        }
        Ok(score)
    }

    fn stream_fields(&mut self) -> Result<StreamFields<'a>, &'static str> {
        let count = self.varint()?;
        let start = self.pos;
        // Each pair takes at least two bytes, so a count larger than the
        // rest of the body is refused before looping over it.
        if count > (self.buf.len() - start) as u64 / 2 {
            return Err("a stream entry claims more fields than its record holds");
        }
        for _ in 0..count {
            self.bytes()?;
            self.bytes()?;
        }
        Ok(StreamFields {
            count,
            encoded: &self.buf[start..self.pos],
        })
    }

    fn finish<T>(self, value: T) -> Result<T, &'static str> {
        if self.pos == self.buf.len() {
            Ok(value)
        } else {
            Err("a record has bytes after its last field")
        }
    }
}

/// Decodes the body of a frame with `tag`.
pub(crate) fn decode_record(tag: u8, body: &[u8]) -> Result<Record<'_>, &'static str> {
    let mut c = Cursor::new(body);
    let record = match tag {
        TAG_AUX => Record::Aux {
            name: c.bytes()?,
            value: c.bytes()?,
        },
        TAG_SELECT_DB => Record::SelectDb {
            index: u32::try_from(c.varint()?).map_err(|_| "a database index exceeds u32")?,
        },
        TAG_STRING => Record::String {
            key: c.bytes()?,
            expire_at: c.optional()?,
            value: c.bytes()?,
        },
        TAG_HASH_BEGIN => Record::HashBegin {
            key: c.bytes()?,
            expire_at: c.optional()?,
            fields: c.varint()?,
        },
        TAG_HASH_FIELD => Record::HashField {
            field: c.bytes()?,
            value: c.bytes()?,
        },
        TAG_LIST_BEGIN => Record::ListBegin {
            key: c.bytes()?,
            expire_at: c.optional()?,
            items: c.varint()?,
        },
        TAG_LIST_ITEM => Record::ListItem { item: c.bytes()? },
        TAG_SET_BEGIN => Record::SetBegin {
            key: c.bytes()?,
            expire_at: c.optional()?,
            members: c.varint()?,
        },
        TAG_SET_MEMBER => Record::SetMember { member: c.bytes()? },
        TAG_ZSET_BEGIN => Record::SortedSetBegin {
            key: c.bytes()?,
            expire_at: c.optional()?,
            members: c.varint()?,
        },
        TAG_ZSET_MEMBER => Record::SortedSetMember {
            member: c.bytes()?,
            score: c.score()?,
        },
        TAG_STREAM_BEGIN => Record::StreamBegin {
            key: c.bytes()?,
            expire_at: c.optional()?,
            meta: StreamMeta {
                entries: c.varint()?,
                last_id: c.id()?,
                first_id: c.id()?,
                max_deleted_id: c.id()?,
                entries_added: c.varint()?,
                groups: c.varint()?,
            },
        },
        TAG_STREAM_ENTRY => Record::StreamEntry {
            id: c.id()?,
            fields: c.stream_fields()?,
        },
        TAG_STREAM_GROUP => Record::StreamGroup(StreamGroup {
            name: c.bytes()?,
            last_delivered: c.id()?,
            entries_read: c.optional()?,
            pending: c.varint()?,
            consumers: c.varint()?,
        }),
        TAG_STREAM_PENDING => Record::StreamPending(StreamPending {
            id: c.id()?,
            consumer: c.bytes()?,
            delivery_time: c.varint()?,
            delivery_count: c.varint()?,
        }),
        TAG_STREAM_CONSUMER => Record::StreamConsumer(StreamConsumer {
            name: c.bytes()?,
            seen_time: c.varint()?,
            active_time: c.varint()?,
            pending: c.varint()?,
        }),
        TAG_STREAM_CONSUMER_PENDING => Record::StreamConsumerPending { id: c.id()? },
        TAG_COLLECTION_END => Record::CollectionEnd,
        _ => return Err("unknown record tag"),
    };
    c.finish(record)
}
