//! Reading one incremental log back: framed records (`log_record`)
//! decoded into entries ([`super::entry`]), and how the log ends.
//!
//! A log either ends cleanly after its last record, or with a torn tail:
//! the last append cut short by a crash (the frame is incomplete), or a
//! zero-filled tail (a power loss can leave the blocks of an unfinished
//! append allocated and zeroed). Both come back as [`LogTail::Torn`] with
//! the offset to truncate to. Anything else (a record that fails its
//! checksum, a damaged length with sound records behind it, a sound
//! record that is not an entry) is an error naming the offset: it is
//! never skipped.

use super::entry::{decode_entry, LogEntry};
use crate::log_record::LogReader;
use crate::PersistError;

/// How a log ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTail {
    /// After its last whole record.
    Clean,
    /// Inside a record that starts at `offset`: truncating the log to
    /// `offset` keeps every whole record.
    Torn { offset: u64 },
}

/// Counts of a log walked by [`walk_log`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSummary {
    pub entries: u64,
    /// Entries that are parts of cross-shard writes.
    pub txn_parts: u64,
    /// Bytes of whole records (the log's length when it ends cleanly).
    pub sound_bytes: u64,
    pub tail: LogTail,
}

/// Walks every entry of `log` in order, calling `visit(offset, entry)`.
pub fn walk_log<'a>(
    log: &'a [u8],
    mut visit: impl FnMut(u64, LogEntry<'a>),
) -> Result<LogSummary, PersistError> {
    let mut summary = LogSummary {
        entries: 0,
        txn_parts: 0,
        sound_bytes: 0,
        tail: LogTail::Clean,
    };
    let mut reader = LogReader::new(log);
    for item in reader.by_ref() {
        match item {
            Ok(record) => {
                if record.payload.is_empty() && is_zero_filled(log, record.offset) {
                    summary.tail = LogTail::Torn {
                        offset: record.offset,
                    };
                    return Ok(summary);
                }
                let entry = decode_entry(record.payload, record.offset)?;
                summary.entries += 1;
                summary.txn_parts += u64::from(entry.txn.is_some());
                visit(record.offset, entry);
                summary.sound_bytes = record.offset
                    + crate::log_record::RECORD_HEADER_LEN as u64
                    + record.payload.len() as u64;
            }
            Err(PersistError::TornTail { offset }) => {
                summary.tail = LogTail::Torn { offset };
                return Ok(summary);
            }
            Err(err) => return Err(err),
        }
    }
    Ok(summary)
}

/// True when every byte from `offset` on is zero.
fn is_zero_filled(log: &[u8], offset: u64) -> bool {
    usize::try_from(offset)
        .ok()
        .and_then(|at| log.get(at..))
        .is_some_and(|rest| rest.iter().all(|&b| b == 0))
}

/// Every entry of `log` with its offset, and how the log ends.
pub fn read_log(log: &[u8]) -> Result<(Vec<(u64, LogEntry<'_>)>, LogSummary), PersistError> {
    let mut entries = Vec::new();
    let summary = walk_log(log, |offset, entry| entries.push((offset, entry)))?;
    Ok((entries, summary))
}

#[cfg(test)]
mod tests;
