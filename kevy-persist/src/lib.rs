//! Persistence of kevy: the on-disk formats, as codecs over bytes.
//!
//! The formats here know nothing of kevy's commands; the log set's files
//! and fsync policy live in [`aof`], the snapshot file's temp files and
//! renames in the server:
//! - [`log_record`]: the framing of the append-only log. Every applied
//!   write is appended as one record (its RESP bytes behind a length and a
//!   crc32); reading the log back tells a torn tail (a crash cut the last
//!   append short: truncate and go on) from corruption in the middle
//!   (report it, never skip it).
//! - [`snapshot`]: the snapshot file. A writer turns typed records
//!   (strings, hashes, lists, sets, sorted sets, streams with their
//!   consumer groups, TTLs, any number of databases) into checksummed,
//!   optionally zstd-compressed blocks pushed into any `std::io::Write`;
//!   a reader pulls them back from any `std::io::Read` one record at a
//!   time with bounded memory; [`snapshot::check_snapshot`] walks a file
//!   and reports its contents or its first bad block.
//!
//! - [`aof`]: the append-only log as files: the manifest of a log set
//!   (base snapshot plus one incremental log per shard), log entries,
//!   the appender with its fsync policies, reading a log back.
//!
//! Every error of the crate is one [`PersistError`]; snapshot errors carry
//! the byte offset of the bad part of the file.

pub mod aof;
#[doc(hidden)]
pub mod fuzz_entry;
#[cfg(test)]
mod fuzz_replay;
pub mod log_record;
pub mod snapshot;

pub use log_record::{encode_record, LogReader, LogRecord, RECORD_HEADER_LEN};

/// What can go wrong reading or writing persisted data.
///
/// `Clone + Eq` so readers can hand the same error back on every later
/// call and tests can compare errors; I/O errors are therefore kept as
/// their kind and message rather than as `std::io::Error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersistError {
    /// The log ends inside a record: the last append was cut short (a
    /// crash). Everything before `offset` is intact; truncating the log to
    /// `offset` recovers it.
    #[error("the append-only log ends inside the record at byte {offset} (torn tail)")]
    TornTail { offset: u64 },
    /// A complete record whose payload does not match its checksum:
    /// corruption, which must be reported rather than skipped.
    #[error(
        "append-only log record at byte {offset} is corrupt: \
         crc32 {found:#010x} does not match the stored {expected:#010x}"
    )]
    ChecksumMismatch {
        offset: u64,
        expected: u32,
        found: u32,
    },
    /// A record whose length runs past the end of the log although a whole
    /// record starts at `next_record`: the length field is damaged (a torn
    /// tail never has a sound record after it), so the log is corrupt.
    #[error(
        "append-only log record at byte {offset} is corrupt: its length {claimed} runs \
         past the end of the log, but a sound record starts at byte {next_record}"
    )]
    CorruptLength {
        offset: u64,
        claimed: u64,
        next_record: u64,
    },
    /// A record whose frame is sound but whose payload is not a log entry
    /// (unknown kind, cut fields, no commands).
    #[error("append-only log record at byte {offset} is malformed: {reason}")]
    MalformedEntry { offset: u64, reason: &'static str },
    /// The manifest of a log set cannot be parsed or names an impossible
    /// set of files.
    #[error("append-only log manifest is invalid at line {line}: {reason}")]
    MalformedManifest { line: usize, reason: String },
    /// A payload longer than a record's 32-bit length field can describe.
    #[error("a record payload of {len} bytes exceeds the 4 GiB record limit")]
    RecordTooLarge { len: usize },

    /// The file does not start with the snapshot magic.
    #[error("not a kevy snapshot: the file does not start with the snapshot magic")]
    NotASnapshot,
    /// A snapshot written by a newer (or unknown) format version.
    #[error(
        "snapshot format version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedVersion { found: u16, supported: u16 },
    /// The header's codec byte names no codec this format defines.
    #[error("snapshot names unknown codec {found}")]
    UnknownCodec { found: u8 },
    /// The snapshot uses a codec this build was compiled without.
    #[error("snapshot uses the {codec} codec, but this build was compiled without the `{feature}` feature")]
    CodecNotCompiled {
        codec: &'static str,
        feature: &'static str,
    },
    /// The fixed header does not match its own checksum.
    #[error("snapshot header is corrupt: crc32 {found:#010x} does not match the stored {expected:#010x}")]
    HeaderChecksumMismatch { expected: u32, found: u32 },
    /// The file ends before the part that starts at `offset` is complete
    /// (every snapshot ends with a trailer and a file checksum, so any cut
    /// is caught).
    #[error("snapshot is truncated: it ends inside the {part} at byte {offset}")]
    SnapshotTruncated { offset: u64, part: &'static str },
    /// A block header claims more bytes than any block may hold: refused
    /// before allocating.
    #[error(
        "snapshot block at byte {offset} claims {len} bytes, over the {limit}-byte block limit"
    )]
    BlockTooLarge { offset: u64, len: u64, limit: u64 },
    /// A block (header or payload) does not match its checksum.
    #[error(
        "snapshot block at byte {offset} is corrupt: \
         crc32 {found:#010x} does not match the stored {expected:#010x}"
    )]
    BlockChecksumMismatch {
        offset: u64,
        expected: u32,
        found: u32,
    },
    /// A block whose checksum holds but whose contents make no sense
    /// (unknown kind, lengths that disagree, undecompressible payload).
    #[error("snapshot block at byte {offset} is malformed: {reason}")]
    MalformedBlock { offset: u64, reason: String },
    /// A record (starting in the block at `offset`) longer than the
    /// reader's record limit: refused before buffering it.
    #[error("snapshot record in the block at byte {offset} claims {len} bytes, over the {limit}-byte record limit")]
    SnapshotRecordTooLarge { offset: u64, len: u64, limit: u64 },
    /// A record (starting in the block at `offset`) that cannot be decoded
    /// or is out of place (an item outside its collection, a wrong count).
    #[error("snapshot record in the block at byte {offset} is malformed: {reason}")]
    MalformedRecord { offset: u64, reason: &'static str },
    /// The trailer's counts disagree with what the file holds.
    #[error(
        "snapshot trailer at byte {offset} counts {expected} {what}, but the file holds {found}"
    )]
    TrailerMismatch {
        offset: u64,
        what: String,
        expected: u64,
        found: u64,
    },
    /// The whole-file checksum (stored at `offset`) does not match.
    #[error(
        "snapshot file checksum at byte {offset} does not match: \
         crc32 {found:#010x} computed, {expected:#010x} stored"
    )]
    FileChecksumMismatch {
        offset: u64,
        expected: u32,
        found: u32,
    },
    /// Bytes after the file checksum, where the file should end.
    #[error("snapshot has unexpected bytes after its end at byte {offset}")]
    TrailingBytes { offset: u64 },
    /// The writer was driven out of order (a bug in the caller, not in a
    /// file): an item outside its collection, a wrong count, a key before
    /// any database, or use after an earlier error.
    #[error("snapshot writer misuse: {reason}")]
    SnapshotMisuse { reason: &'static str },
    /// The compressor failed while writing.
    #[error("snapshot compression failed: {reason}")]
    Compression { reason: String },
    /// Reading or writing the underlying stream failed at `offset`.
    #[error("I/O error at byte {offset} of the snapshot: {message}")]
    Io {
        offset: u64,
        kind: std::io::ErrorKind,
        message: String,
    },
}

impl PersistError {
    /// The byte offset the error points at (the bad record, block or
    /// field), when it has one.
    pub fn offset(&self) -> Option<u64> {
        match *self {
            PersistError::TornTail { offset }
            | PersistError::ChecksumMismatch { offset, .. }
            | PersistError::CorruptLength { offset, .. }
            | PersistError::MalformedEntry { offset, .. }
            | PersistError::SnapshotTruncated { offset, .. }
            | PersistError::BlockTooLarge { offset, .. }
            | PersistError::BlockChecksumMismatch { offset, .. }
            | PersistError::MalformedBlock { offset, .. }
            | PersistError::SnapshotRecordTooLarge { offset, .. }
            | PersistError::MalformedRecord { offset, .. }
            | PersistError::TrailerMismatch { offset, .. }
            | PersistError::FileChecksumMismatch { offset, .. }
            | PersistError::TrailingBytes { offset }
            | PersistError::Io { offset, .. } => Some(offset),
            PersistError::HeaderChecksumMismatch { .. }
            | PersistError::NotASnapshot
            | PersistError::UnsupportedVersion { .. }
            | PersistError::UnknownCodec { .. }
            | PersistError::CodecNotCompiled { .. } => Some(0),
            PersistError::RecordTooLarge { .. }
            | PersistError::MalformedManifest { .. }
            | PersistError::SnapshotMisuse { .. }
            | PersistError::Compression { .. } => None,
        }
    }

    /// Wraps an I/O error met at `offset` of the snapshot stream.
    pub(crate) fn io(offset: u64, err: &std::io::Error) -> Self {
        PersistError::Io {
            offset,
            kind: err.kind(),
            message: err.to_string(),
        }
    }
}
