//! The snapshot file: a codec between typed records and bytes.
//!
//! kevy's keyspace walks a frozen view of its data and feeds a
//! [`SnapshotWriter`] (strings, hashes, lists, sets, sorted sets and
//! streams, each with its TTL as an absolute unix time in ms, in any
//! number of databases); loading pulls the same records back from a
//! [`SnapshotReader`]. This module knows bytes and records, not commands,
//! and does no file policy: it writes into any `std::io::Write` and reads
//! from any `std::io::Read`.
//!
//! # Layout (all integers little-endian)
//!
//! ```text
//! header   "KEVYSNAP" | version u16 (1) | codec u8 (0 plain, 1 zstd) | 0u8
//!          | crc32 of the previous 12 bytes
//! block*   kind u8 | stored_len u32 | raw_len u32 | crc32 | payload
//!          kind 1: records, encoded with the file's codec
//!          kind 2: records stored raw in a compressed file
//!          crc32 covers kind, both lengths and the payload
//! trailer  a block of kind 3 (raw): data blocks u64 | records u64
//!          | databases u32 | per database: index u32, keys u64
//! checksum crc32 of every byte before it; the file ends here
//! ```
//!
//! Block payloads, decoded and put end to end, are one stream of records
//! (`tag u8 | body length varint | body`, see `record_encode.rs`); a record
//! may straddle blocks, so blocks stay at `block_len` raw bytes (at most
//! [`MAX_BLOCK_LEN`]) however large a value is. A big collection is a
//! begin record (key, TTL, exact item count), one record per item, and an
//! end record, so neither side ever holds it whole.
//!
//! The format evolves by version: a new record type or layout bumps
//! [`FORMAT_VERSION`], and a reader refuses versions (and record tags) it
//! does not know rather than guess.
//!
//! # Guarantees
//!
//! - Every cut of a file is refused: the trailer and checksum must be
//!   read, and nothing may follow them.
//! - Every flipped byte is caught: the header, each block and the trailer
//!   carry crc32s over all their bytes, lengths included, and the file
//!   checksum covers everything else.
//! - A hostile length costs nothing: block lengths are capped at
//!   [`MAX_BLOCK_LEN`] before allocation, records at the reader's
//!   `max_record_len`, and a record is only buffered as its bytes arrive.
//! - Errors name the byte offset of the bad block (see
//!   [`crate::PersistError`]).
//! - A file names its codec; a build without the `zstd` feature refuses a
//!   zstd snapshot with [`crate::PersistError::CodecNotCompiled`].
//!
//! # Shards
//!
//! Records carry keys, never shard numbers, so a snapshot taken with N
//! shards loads into any number of shards: the loader routes each key by
//! its hash. A file is one stream written by one writer; a server with
//! several shards either has them take turns feeding the one writer (each
//! shard's records end with its last key, so parts never interleave inside
//! a key; `SelectDb` may repeat) or writes one file per shard and loads all
//! of them. Either way the format is the same.
//!
//! # Example
//!
//! ```
//! use kevy_persist::snapshot::{Codec, Record, SnapshotReader, SnapshotWriter};
//!
//! let mut writer = SnapshotWriter::new(Vec::new(), Codec::Plain)?;
//! writer.select_db(0)?;
//! writer.string(b"greeting", b"hello", Some(1_900_000_000_000))?;
//! writer.begin_hash(b"user:1", None, 2)?;
//! writer.hash_field(b"name", b"Ada")?;
//! writer.hash_field(b"lang", b"en")?;
//! writer.end_collection()?;
//! let (file, written) = writer.finish()?;
//! assert_eq!(written.keys(), 2);
//!
//! let mut reader = SnapshotReader::new(file.as_slice())?;
//! let mut fields = 0;
//! while let Some(record) = reader.next_record()? {
//!     if let Record::HashField { .. } = record {
//!         fields += 1;
//!     }
//! }
//! assert_eq!(fields, 2);
//! assert_eq!(reader.summary(), Some(&written));
//! # Ok::<(), kevy_persist::PersistError>(())
//! ```

mod check;
mod codec;
mod format;
mod grammar;
mod reader;
mod record;
mod record_decode;
mod record_encode;
mod writer;

pub use check::{check_snapshot, SnapshotContents};
pub use format::{
    Codec, DEFAULT_BLOCK_LEN, DEFAULT_MAX_RECORD_LEN, FORMAT_VERSION, MAGIC, MAX_BLOCK_LEN,
    MIN_BLOCK_LEN,
};
pub use reader::SnapshotReader;
pub use record::{
    Record, StreamConsumer, StreamFields, StreamGroup, StreamId, StreamMeta, StreamPending,
};
pub use writer::{SnapshotSummary, SnapshotWriter, WriterOptions};

#[cfg(test)]
mod tests;
