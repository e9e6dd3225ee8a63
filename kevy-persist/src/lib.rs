//! Persistence of kevy: the on-disk formats, as codecs over bytes.
//!
//! Today this crate holds the framing of the append-only log
//! ([`log_record`]): every applied write is appended as one record (its
//! RESP bytes behind a length and a crc32), and reading the log back tells
//! a torn tail (a crash cut the last append short: truncate and go on)
//! from corruption in the middle (report it, never skip it). The snapshot
//! format lands here next. No file I/O happens in the codecs; the server
//! owns files, fsync policy and renames.

pub mod log_record;

pub use log_record::{encode_record, LogReader, LogRecord, RECORD_HEADER_LEN};

/// What can go wrong reading or writing persisted data.
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
    /// A payload longer than a record's 32-bit length field can describe.
    #[error("a record payload of {len} bytes exceeds the 4 GiB record limit")]
    RecordTooLarge { len: usize },
}
