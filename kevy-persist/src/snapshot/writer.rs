//! Writing a snapshot: records in, checksummed blocks out.
//!
//! [`SnapshotWriter`] writes the header when created, then takes records
//! one at a time (typed methods, or [`SnapshotWriter::write_record`]),
//! checks their order with the shared grammar, and streams their bytes
//! into a block buffer of `block_len` bytes. Each full buffer becomes one
//! block (compressed per the codec, framed with its lengths and crc32)
//! written straight to the `std::io::Write`, so memory stays at about two
//! blocks however large the snapshot or any one value is.
//! [`SnapshotWriter::finish`] flushes the last block, writes the trailer
//! (counts) and the whole-file checksum, and hands the output back. A
//! writer dropped before `finish` leaves a file every reader refuses (no
//! trailer), which is why the server writes to a temp file and renames.

use std::io::Write;

use super::codec::BlockCompressor;
use super::format::{
    encode_header, BlockHeader, Codec, TrailerCounts, BLOCK_DATA, BLOCK_DATA_RAW, BLOCK_TRAILER,
    DEFAULT_BLOCK_LEN, MAX_BLOCK_LEN, MIN_BLOCK_LEN,
};
use super::grammar::Grammar;
use super::record::{
    Record, StreamConsumer, StreamFields, StreamGroup, StreamId, StreamMeta, StreamPending,
};
use super::record_encode::{encode_record, encode_stream_fields, ByteSink};
use crate::PersistError;

/// How a snapshot is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    pub codec: Codec,
    /// Raw bytes per block, within `MIN_BLOCK_LEN..=MAX_BLOCK_LEN`.
    pub block_len: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            codec: Codec::Plain,
            block_len: DEFAULT_BLOCK_LEN,
        }
    }
}

/// What a finished (written or fully read) snapshot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotSummary {
    pub codec: Codec,
    /// Length of the whole file.
    pub bytes: u64,
    /// Blocks of records (the trailer not included).
    pub data_blocks: u64,
    pub records: u64,
    /// `(db index, keys)` for every database holding keys, ascending.
    pub keys_per_db: Vec<(u32, u64)>,
}

impl SnapshotSummary {
    /// Keys in all databases.
    pub fn keys(&self) -> u64 {
        self.keys_per_db.iter().map(|&(_, keys)| keys).sum()
    }
}

/// Streams a snapshot into `out`. See the module comment.
pub struct SnapshotWriter<W: Write> {
    out: W,
    codec: Codec,
    block_len: usize,
    compressor: BlockCompressor,
    /// Raw bytes of the block being filled; never more than `block_len`.
    raw: Vec<u8>,
    /// Compressed bytes of the block being written.
    stored: Vec<u8>,
    /// Encoded fields of the stream entry being written.
    fields: Vec<u8>,
    /// Bytes written so far: the offset of the next one.
    offset: u64,
    file_crc: crc32fast::Hasher,
    data_blocks: u64,
    grammar: Grammar,
    /// Set by an I/O or compression error: the output is unusable.
    failed: bool,
}

impl<W: Write> SnapshotWriter<W> {
    /// Starts a snapshot with `codec` and the default block size.
    pub fn new(out: W, codec: Codec) -> Result<Self, PersistError> {
        Self::with_options(
            out,
            WriterOptions {
                codec,
                ..WriterOptions::default()
            },
        )
    }

    pub fn with_options(out: W, options: WriterOptions) -> Result<Self, PersistError> {
        if !(MIN_BLOCK_LEN..=MAX_BLOCK_LEN).contains(&options.block_len) {
            return Err(PersistError::SnapshotMisuse {
                reason: "the block length is outside MIN_BLOCK_LEN..=MAX_BLOCK_LEN",
            });
        }
        let compressor = BlockCompressor::new(options.codec)?;
        let mut writer = SnapshotWriter {
            out,
            codec: options.codec,
            block_len: options.block_len,
            compressor,
            raw: Vec::with_capacity(options.block_len),
            stored: Vec::new(),
            fields: Vec::new(),
            offset: 0,
            file_crc: crc32fast::Hasher::new(),
            data_blocks: 0,
            grammar: Grammar::default(),
            failed: false,
        };
        writer.emit(&encode_header(options.codec))?;
        Ok(writer)
    }

    /// Writes one record, after checking it may come next.
    pub fn write_record(&mut self, record: &Record<'_>) -> Result<(), PersistError> {
        if self.failed {
            return Err(PersistError::SnapshotMisuse {
                reason: "the writer failed earlier; its output is unusable",
            });
        }
        if let Record::SortedSetMember { score, .. } = record {
            if score.is_nan() {
                return Err(PersistError::SnapshotMisuse {
                    reason: "a sorted set score is NaN",
                });
            }
        }
        self.grammar
            .accept(record)
            .map_err(|reason| PersistError::SnapshotMisuse { reason })?;
        encode_record(record, self).map(|_| ())
    }

    pub fn aux(&mut self, name: &[u8], value: &[u8]) -> Result<(), PersistError> {
        self.write_record(&Record::Aux { name, value })
    }

    /// The keys written next belong to database `index`.
    pub fn select_db(&mut self, index: u32) -> Result<(), PersistError> {
        self.write_record(&Record::SelectDb { index })
    }

    pub fn string(
        &mut self,
        key: &[u8],
        value: &[u8],
        expire_at: Option<u64>,
    ) -> Result<(), PersistError> {
        self.write_record(&Record::String {
            key,
            expire_at,
            value,
        })
    }

    /// Opens a hash of exactly `fields` fields: that many `hash_field`
    /// calls follow, then `end_collection`.
    pub fn begin_hash(
        &mut self,
        key: &[u8],
        expire_at: Option<u64>,
        fields: u64,
    ) -> Result<(), PersistError> {
        self.write_record(&Record::HashBegin {
            key,
            expire_at,
            fields,
        })
    }

    pub fn hash_field(&mut self, field: &[u8], value: &[u8]) -> Result<(), PersistError> {
        self.write_record(&Record::HashField { field, value })
    }

    /// Opens a list of exactly `items` items, head first.
    pub fn begin_list(
        &mut self,
        key: &[u8],
        expire_at: Option<u64>,
        items: u64,
    ) -> Result<(), PersistError> {
        self.write_record(&Record::ListBegin {
            key,
            expire_at,
            items,
        })
    }

    pub fn list_item(&mut self, item: &[u8]) -> Result<(), PersistError> {
        self.write_record(&Record::ListItem { item })
    }

    pub fn begin_set(
        &mut self,
        key: &[u8],
        expire_at: Option<u64>,
        members: u64,
    ) -> Result<(), PersistError> {
        self.write_record(&Record::SetBegin {
            key,
            expire_at,
            members,
        })
    }

    pub fn set_member(&mut self, member: &[u8]) -> Result<(), PersistError> {
        self.write_record(&Record::SetMember { member })
    }

    pub fn begin_sorted_set(
        &mut self,
        key: &[u8],
        expire_at: Option<u64>,
        members: u64,
    ) -> Result<(), PersistError> {
        self.write_record(&Record::SortedSetBegin {
            key,
            expire_at,
            members,
        })
    }

    /// A member and its score (NaN is refused).
    pub fn sorted_set_member(&mut self, member: &[u8], score: f64) -> Result<(), PersistError> {
        self.write_record(&Record::SortedSetMember { member, score })
    }

    /// Opens a stream: `meta.entries` entries follow, then `meta.groups`
    /// groups (each with its pending entries and consumers), then
    /// `end_collection`.
    pub fn begin_stream(
        &mut self,
        key: &[u8],
        expire_at: Option<u64>,
        meta: StreamMeta,
    ) -> Result<(), PersistError> {
        self.write_record(&Record::StreamBegin {
            key,
            expire_at,
            meta,
        })
    }

    /// One stream entry with its field/value pairs.
    pub fn stream_entry<F, V>(
        &mut self,
        id: StreamId,
        pairs: impl IntoIterator<Item = (F, V)>,
    ) -> Result<(), PersistError>
    where
        F: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let mut encoded = std::mem::take(&mut self.fields);
        encoded.clear();
        let count = encode_stream_fields(pairs, &mut encoded);
        let fields = StreamFields {
            count,
            encoded: &encoded,
        };
        let result = self.write_record(&Record::StreamEntry { id, fields });
        self.fields = encoded;
        result
    }

    pub fn stream_group(&mut self, group: StreamGroup<'_>) -> Result<(), PersistError> {
        self.write_record(&Record::StreamGroup(group))
    }

    pub fn stream_pending(&mut self, pending: StreamPending<'_>) -> Result<(), PersistError> {
        self.write_record(&Record::StreamPending(pending))
    }

    pub fn stream_consumer(&mut self, consumer: StreamConsumer<'_>) -> Result<(), PersistError> {
        self.write_record(&Record::StreamConsumer(consumer))
    }

    pub fn consumer_pending(&mut self, id: StreamId) -> Result<(), PersistError> {
        self.write_record(&Record::StreamConsumerPending { id })
    }

    /// Closes the collection opened last.
    pub fn end_collection(&mut self) -> Result<(), PersistError> {
        self.write_record(&Record::CollectionEnd)
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.offset
    }

    /// Writes the last block, the trailer and the file checksum, flushes,
    /// and returns the output with a summary of what was written.
    pub fn finish(mut self) -> Result<(W, SnapshotSummary), PersistError> {
        if self.failed {
            return Err(PersistError::SnapshotMisuse {
                reason: "the writer failed earlier; its output is unusable",
            });
        }
        if !self.grammar.is_between_keys() {
            return Err(PersistError::SnapshotMisuse {
                reason: "the snapshot is finished with a collection still open",
            });
        }
        if !self.raw.is_empty() {
            self.emit_data_block()?;
        }
        let counts = TrailerCounts {
            data_blocks: self.data_blocks,
            records: self.grammar.records(),
            keys_per_db: self.grammar.keys_per_db(),
        };
        let trailer = counts.encode();
        self.emit(&BlockHeader::for_payload(
            BLOCK_TRAILER,
            trailer.len(),
            &trailer,
        ))?;
        self.emit(&trailer)?;
        let file_crc = self.file_crc.clone().finalize();
        self.emit(&file_crc.to_le_bytes())?;
        let offset = self.offset;
        self.out
            .flush()
            .map_err(|err| PersistError::io(offset, &err))?;
        let summary = SnapshotSummary {
            codec: self.codec,
            bytes: self.offset,
            data_blocks: counts.data_blocks,
            records: counts.records,
            keys_per_db: counts.keys_per_db,
        };
        Ok((self.out, summary))
    }

    /// Frames the filled block buffer and writes it.
    fn emit_data_block(&mut self) -> Result<(), PersistError> {
        let compressed = match self.compressor.compress(&self.raw, &mut self.stored) {
            Ok(compressed) => compressed,
            Err(err) => {
                self.failed = true;
                return Err(err);
            }
        };
        let raw = std::mem::take(&mut self.raw);
        let stored = std::mem::take(&mut self.stored);
        let (kind, payload) = match (self.codec, compressed) {
            (Codec::Plain, _) => (BLOCK_DATA, &raw),
            (_, true) => (BLOCK_DATA, &stored),
            (_, false) => (BLOCK_DATA_RAW, &raw),
        };
        let header = BlockHeader::for_payload(kind, raw.len(), payload);
        let result = self.emit(&header).and_then(|()| self.emit(payload));
        self.raw = raw;
        self.raw.clear();
        self.stored = stored;
        self.data_blocks += 1;
        result
    }

    /// Writes bytes to the output, counting them into the file checksum.
    fn emit(&mut self, bytes: &[u8]) -> Result<(), PersistError> {
        if let Err(err) = self.out.write_all(bytes) {
            self.failed = true;
            return Err(PersistError::io(self.offset, &err));
        }
        self.file_crc.update(bytes);
        self.offset += bytes.len() as u64;
        Ok(())
    }
}

impl<W: Write> ByteSink for SnapshotWriter<W> {
    /// Record bytes go into the block buffer; every time it fills, it is
    /// written out as a block.
    fn put(&mut self, mut bytes: &[u8]) -> Result<(), PersistError> {
        while !bytes.is_empty() {
            let room = self.block_len - self.raw.len();
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            self.raw.extend_from_slice(now);
            bytes = rest;
            if self.raw.len() == self.block_len {
                self.emit_data_block()?;
            }
        }
        Ok(())
    }
}
