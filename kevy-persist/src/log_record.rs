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
//! - a complete record fails its checksum → [`PersistError::ChecksumMismatch`].
//!
//! A length field corrupted to point past the end of the log looks exactly
//! like a torn tail: the format cannot tell them apart, so a caller that
//! finds a torn tail far from where its last fsync left the file should be
//! suspicious before truncating.

use crate::PersistError;

/// Bytes before a record's payload: length and checksum.
pub const RECORD_HEADER_LEN: usize = 8;

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
            return Err(torn);
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
