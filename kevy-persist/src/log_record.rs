//! Record framing of the append-only log.
//!
//! A record is `len: u32 LE | crc: u32 LE | payload (len bytes)`, where
//! `crc` is the crc32 (IEEE, `crc32fast`) of the payload. The payload is
//! the RESP bytes of one applied write; this module never looks inside.
//!
//! Writing: [`encode_record`] appends one record to a buffer the caller
//! flushes. Reading: [`LogReader`] walks a byte slice and yields records
//! in order. It stops at the first problem with one error:
//! - the slice ends inside a record (header or payload incomplete) →
//!   [`PersistError::TornTail`] at the record's start, where a recovering
//!   server truncates;
//! - a complete record fails its checksum → [`PersistError::ChecksumMismatch`];
//! - a record whose length runs past the end while a whole, checksummed
//!   record starts somewhere after it → [`PersistError::CorruptLength`]:
//!   its length field was damaged, and truncating there would silently
//!   drop the intact records behind it.
//!
//! The last rule is a search: a length flip in the middle of a log would
//! otherwise look exactly like a torn tail. A real torn tail holds part of
//! one append, so the search is short; it only counts records of at least
//! one byte (a zero-filled tail, which a power loss can leave, reads as
//! empty records of crc 0) and stops after [`RESYNC_HASH_BUDGET`] bytes of
//! checksumming, after which the tail is reported as torn. A partly
//! written payload that itself contains a whole framed record (a value
//! that is a kevy log) would be taken for corruption: the start is then
//! refused rather than data dropped.

use crate::PersistError;

/// Bytes before a record's payload: length and checksum.
pub const RECORD_HEADER_LEN: usize = 8;

/// Bytes of checksumming the search for a record after a would-be torn
/// tail may spend (see the module comment) before it gives up and reports
/// the tail as torn: bounds the cost of a hostile or huge damaged log.
pub const RESYNC_HASH_BUDGET: usize = 64 << 20;

/// Appends one record holding `payload` to `out`.
pub fn encode_record(payload: &[u8], out: &mut Vec<u8>) -> Result<(), PersistError> {
    let len = u32::try_from(payload.len())
        .map_err(|_| PersistError::RecordTooLarge { len: payload.len() })?;
    out.reserve(RECORD_HEADER_LEN + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// One record read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRecord<'a> {
    /// Where the record (its header) starts in the log.
    pub offset: u64,
    pub payload: &'a [u8],
}

/// Reads records from a log held in memory, front to back.
pub struct LogReader<'a> {
    log: &'a [u8],
    /// Start of the next record: the length of the intact prefix so far.
    position: usize,
    /// Set once an error was yielded; the reader then yields nothing more.
    failed: bool,
}

impl<'a> LogReader<'a> {
    pub fn new(log: &'a [u8]) -> Self {
        LogReader {
            log,
            position: 0,
            failed: false,
        }
    }

    /// Bytes of the log read as intact records so far. After the reader
    /// ends without error this is the whole log; after an error it is
    /// the offset of the bad record.
    pub fn position(&self) -> u64 {
        self.position as u64
    }

    fn next_record(&mut self) -> Result<Option<LogRecord<'a>>, PersistError> {
        let start = self.position;
        let rest = &self.log[start..];
        if rest.is_empty() {
            return Ok(None);
        }
        let torn = PersistError::TornTail {
            offset: start as u64,
        };
        let Some((header, after_header)) = rest.split_first_chunk::<RECORD_HEADER_LEN>() else {
            return Err(torn);
        };
        let (len, crc) = header.split_at(4);
        let len = u32::from_le_bytes(len.try_into().expect("the header splits into 4 + 4 bytes"));
        let expected =
            u32::from_le_bytes(crc.try_into().expect("the header splits into 4 + 4 bytes"));
        // u32 always fits usize on the 32- and 64-bit targets kevy runs on;
        // a length that does not is past any slice end, hence torn.
        let Some(payload) = usize::try_from(len)
            .ok()
            .and_then(|len| after_header.get(..len))
        else {
            return Err(match whole_record_after(self.log, start + 1) {
                Some(next_record) => PersistError::CorruptLength {
                    offset: start as u64,
                    claimed: u64::from(len),
                    next_record: next_record as u64,
                },
                None => torn,
            });
        };
        let found = crc32fast::hash(payload);
        if found != expected {
            return Err(PersistError::ChecksumMismatch {
                offset: start as u64,
                expected,
                found,
            });
        }
        self.position = start + RECORD_HEADER_LEN + payload.len();
        Ok(Some(LogRecord {
            offset: start as u64,
            payload,
        }))
    }
}

/// The start of the first whole record of at least one byte at or after
/// `from`, if one is found within the checksum budget.
fn whole_record_after(log: &[u8], from: usize) -> Option<usize> {
    let mut budget = RESYNC_HASH_BUDGET;
    let last_header = log.len().checked_sub(RECORD_HEADER_LEN)?;
    for at in from..=last_header {
        let header = &log[at..at + RECORD_HEADER_LEN];
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let room = log.len() - at - RECORD_HEADER_LEN;
        if len == 0 || len > room {
            continue;
        }
        if len > budget {
            return None;
        }
        budget -= len;
        let expected = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let payload = &log[at + RECORD_HEADER_LEN..at + RECORD_HEADER_LEN + len];
        if crc32fast::hash(payload) == expected {
            return Some(at);
        }
    }
    None
}

impl<'a> Iterator for LogReader<'a> {
    type Item = Result<LogRecord<'a>, PersistError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_record() {
            Ok(record) => record.map(Ok),
            Err(err) => {
                self.failed = true;
                Some(Err(err))
            }
        }
    }
}

impl std::iter::FusedIterator for LogReader<'_> {}

#[cfg(test)]
mod tests;
