//! Reading a snapshot: bytes in, records out, one at a time.
//!
//! [`SnapshotReader::new`] reads and checks the header (magic, checksum,
//! version, codec compiled in). [`SnapshotReader::next_record`] then
//! returns the next record, pulling blocks from the `std::io::Read` only
//! when the record buffer runs dry: each block's header is checked
//! against [`MAX_BLOCK_LEN`] before anything is allocated, its crc32
//! before it is decoded. A record may span blocks; the reader gathers it
//! (up to `max_record_len`, and never more than the file really holds)
//! and decodes it strictly, then checks its place in the grammar. At the
//! trailer the reader checks that no record or collection is left open,
//! that the counts match, that the whole-file checksum matches and that
//! nothing follows; only then does `next_record` return `Ok(None)`.
//!
//! Records come out before the file's end is verified (that is what
//! streaming means): a loader must treat everything it built as void
//! unless the reader ends with `Ok(None)`. The first error is returned
//! again by every later call.

use std::collections::VecDeque;
use std::io::Read;

use super::codec::BlockDecompressor;
use super::format::{
    decode_header, BlockHeader, Codec, TrailerCounts, BLOCK_DATA, BLOCK_DATA_RAW, BLOCK_HEADER_LEN,
    BLOCK_TRAILER, DEFAULT_MAX_RECORD_LEN, FILE_CHECKSUM_LEN, HEADER_LEN, MAGIC, MAX_BLOCK_LEN,
};
use super::grammar::Grammar;
use super::record::Record;
use super::record_decode::{decode_record, parse_frame, Frame};
use super::writer::SnapshotSummary;
use crate::PersistError;

enum State {
    Reading,
    Finished(SnapshotSummary),
    Failed(PersistError),
}

/// Pulls records from a snapshot. See the module comment.
pub struct SnapshotReader<R: Read> {
    input: R,
    codec: Codec,
    decompressor: BlockDecompressor,
    /// Bytes consumed from `input`: the offset of the next one.
    offset: u64,
    file_crc: crc32fast::Hasher,
    /// Stored payload of the block being read.
    stored: Vec<u8>,
    /// Decoded record bytes; `pending[parsed..]` is still to be read.
    pending: Vec<u8>,
    parsed: usize,
    /// Where each block's bytes start in `pending`, and the block's file
    /// offset, so an error names the block its record started in.
    block_starts: VecDeque<(usize, u64)>,
    grammar: Grammar,
    data_blocks: u64,
    max_record_len: u64,
    state: State,
}

impl<R: Read> SnapshotReader<R> {
    /// Reads and checks the header.
    pub fn new(mut input: R) -> Result<Self, PersistError> {
        let mut header = [0u8; HEADER_LEN];
        let got = read_full(&mut input, &mut header, 0)?;
        if got < HEADER_LEN {
            let magic_prefix = got.min(MAGIC.len());
            if header[..magic_prefix] != MAGIC[..magic_prefix] {
                return Err(PersistError::NotASnapshot);
            }
            return Err(PersistError::SnapshotTruncated {
                offset: 0,
                part: "header",
            });
        }
        let codec = decode_header(&header)?;
        let decompressor =
            BlockDecompressor::new(codec).map_err(|reason| PersistError::MalformedBlock {
                offset: HEADER_LEN as u64,
                reason,
            })?;
        let mut file_crc = crc32fast::Hasher::new();
        file_crc.update(&header);
        Ok(SnapshotReader {
            input,
            codec,
            decompressor,
            offset: HEADER_LEN as u64,
            file_crc,
            stored: Vec::new(),
            pending: Vec::new(),
            parsed: 0,
            block_starts: VecDeque::new(),
            grammar: Grammar::default(),
            data_blocks: 0,
            max_record_len: DEFAULT_MAX_RECORD_LEN,
            state: State::Reading,
        })
    }

    /// Caps the bytes one record may take (default
    /// [`DEFAULT_MAX_RECORD_LEN`]); a longer one is refused.
    pub fn with_max_record_len(mut self, max_record_len: u64) -> Self {
        self.max_record_len = max_record_len;
        self
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Bytes consumed from the input so far.
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// What the file held, once `next_record` returned `Ok(None)`.
    pub fn summary(&self) -> Option<&SnapshotSummary> {
        match &self.state {
            State::Finished(summary) => Some(summary),
            _ => None,
        }
    }

    /// The next record; `Ok(None)` once the whole file is read and
    /// verified.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, PersistError> {
        match &self.state {
            State::Reading => {}
            State::Finished(_) => return Ok(None),
            State::Failed(err) => return Err(err.clone()),
        }
        let (tag, body_start, end) = loop {
            let frame = parse_frame(&self.pending[self.parsed..], self.max_record_len);
            match frame {
                Ok(Frame::Complete {
                    tag,
                    body_start,
                    end,
                }) => break (tag, self.parsed + body_start, self.parsed + end),
                Ok(Frame::Incomplete) => match self.pull_block() {
                    Ok(true) => {}
                    Ok(false) => return Ok(None),
                    Err(err) => return Err(self.fail(err)),
                },
                Ok(Frame::TooLarge { len }) => {
                    let err = PersistError::SnapshotRecordTooLarge {
                        offset: self.record_block_offset(),
                        len,
                        limit: self.max_record_len,
                    };
                    return Err(self.fail(err));
                }
                Err(reason) => {
                    let offset = self.record_block_offset();
                    return Err(self.fail(PersistError::MalformedRecord { offset, reason }));
                }
            }
        };
        let offset = self.record_block_offset();
        self.parsed = end;
        // Errors below set `state` directly: `record` borrows `pending`,
        // and only disjoint fields may change while it lives.
        let verdict = decode_record(tag, &self.pending[body_start..end])
            .and_then(|record| self.grammar.accept(&record).map(|()| record));
        match verdict {
            Ok(record) => Ok(Some(record)),
            Err(reason) => {
                let err = PersistError::MalformedRecord { offset, reason };
                self.state = State::Failed(err.clone());
                Err(err)
            }
        }
    }

    /// Reads every record into `visit`, then returns the summary. The
    /// visitor's own errors stop the read and come back as they are.
    pub fn for_each<E: From<PersistError>>(
        mut self,
        mut visit: impl FnMut(Record<'_>) -> Result<(), E>,
    ) -> Result<SnapshotSummary, E> {
        while let Some(record) = self.next_record()? {
            visit(record)?;
        }
        Ok(self
            .summary()
            .cloned()
            .expect("next_record returns None only after verifying the trailer"))
    }

    /// Bytes the reader holds in its buffers (for tests of its bound).
    #[cfg(test)]
    pub(crate) fn buffered_capacity(&self) -> usize {
        self.pending.capacity() + self.stored.capacity()
    }

    fn fail(&mut self, err: PersistError) -> PersistError {
        self.state = State::Failed(err.clone());
        err
    }

    /// File offset of the block holding `pending[parsed]`.
    fn record_block_offset(&self) -> u64 {
        self.block_starts
            .iter()
            .rev()
            .find(|&&(start, _)| start <= self.parsed)
            .map_or(self.offset, |&(_, offset)| offset)
    }

    /// Drops the bytes already read from `pending`.
    fn compact(&mut self) {
        if self.parsed == 0 {
            return;
        }
        let parsed = self.parsed;
        self.pending.drain(..parsed);
        self.parsed = 0;
        while self.block_starts.len() > 1 && self.block_starts[1].0 <= parsed {
            self.block_starts.pop_front();
        }
        for (start, _) in self.block_starts.iter_mut() {
            *start = start.saturating_sub(parsed);
        }
    }

    /// Reads the next block: true when it added record bytes, false when
    /// it was the trailer and the file is verified to its end.
    fn pull_block(&mut self) -> Result<bool, PersistError> {
        self.compact();
        let block_offset = self.offset;
        let mut header = [0u8; BLOCK_HEADER_LEN];
        self.read_part(&mut header, block_offset, "next block header")?;
        let header = BlockHeader::parse(&header);
        for len in [header.stored_len, header.raw_len] {
            if len as usize > MAX_BLOCK_LEN {
                return Err(PersistError::BlockTooLarge {
                    offset: block_offset,
                    len: u64::from(len),
                    limit: MAX_BLOCK_LEN as u64,
                });
            }
        }
        let mut stored = std::mem::take(&mut self.stored);
        stored.resize(header.stored_len as usize, 0);
        let read = self.read_part(&mut stored, block_offset, "block payload");
        let result = read.and_then(|()| self.accept_block(block_offset, &header, &stored));
        self.stored = stored;
        result
    }

    fn accept_block(
        &mut self,
        offset: u64,
        header: &BlockHeader,
        stored: &[u8],
    ) -> Result<bool, PersistError> {
        let found = header.computed_crc(stored);
        if found != header.crc {
            return Err(PersistError::BlockChecksumMismatch {
                offset,
                expected: header.crc,
                found,
            });
        }
        let malformed = |reason: String| PersistError::MalformedBlock { offset, reason };
        let compressed = header.kind == BLOCK_DATA && self.codec != Codec::Plain;
        let raw_len = header.raw_len as usize;
        if !compressed && stored.len() != raw_len {
            return Err(malformed(format!(
                "the block stores {} bytes but states {raw_len} raw bytes",
                stored.len()
            )));
        }
        match header.kind {
            BLOCK_DATA | BLOCK_DATA_RAW => {
                let start = self.pending.len();
                if compressed {
                    self.decompressor
                        .decompress(stored, raw_len, &mut self.pending)
                        .map_err(malformed)?;
                } else {
                    self.pending.extend_from_slice(stored);
                }
                self.block_starts.push_back((start, offset));
                self.data_blocks += 1;
                Ok(true)
            }
            BLOCK_TRAILER => {
                self.finish_at_trailer(offset, stored)?;
                Ok(false)
            }
            kind => Err(malformed(format!("unknown block kind {kind}"))),
        }
    }

    fn finish_at_trailer(&mut self, offset: u64, body: &[u8]) -> Result<(), PersistError> {
        if self.parsed < self.pending.len() {
            return Err(PersistError::MalformedRecord {
                offset: self.record_block_offset(),
                reason: "the records end inside a record, before the trailer",
            });
        }
        if !self.grammar.is_between_keys() {
            return Err(PersistError::MalformedRecord {
                offset,
                reason: "the records end inside an open collection, before the trailer",
            });
        }
        let counts =
            TrailerCounts::decode(body).map_err(|reason| PersistError::MalformedBlock {
                offset,
                reason: reason.to_string(),
            })?;
        let mismatch = |what: String, expected: u64, found: u64| PersistError::TrailerMismatch {
            offset,
            what,
            expected,
            found,
        };
        if counts.data_blocks != self.data_blocks {
            return Err(mismatch(
                "data blocks".into(),
                counts.data_blocks,
                self.data_blocks,
            ));
        }
        if counts.records != self.grammar.records() {
            return Err(mismatch(
                "records".into(),
                counts.records,
                self.grammar.records(),
            ));
        }
        let found_keys = self.grammar.keys_per_db();
        if counts.keys_per_db != found_keys {
            let keys_in = |list: &[(u32, u64)], db: u32| {
                list.iter().find(|&&(d, _)| d == db).map_or(0, |&(_, k)| k)
            };
            let db = counts
                .keys_per_db
                .iter()
                .chain(&found_keys)
                .map(|&(db, _)| db)
                .find(|&db| keys_in(&counts.keys_per_db, db) != keys_in(&found_keys, db))
                // Same counts listed differently (a repeated database or
                // a zero entry): report the first listed database.
                .unwrap_or_else(|| counts.keys_per_db.first().map_or(0, |&(db, _)| db));
            return Err(mismatch(
                format!("keys in database {db}"),
                keys_in(&counts.keys_per_db, db),
                keys_in(&found_keys, db),
            ));
        }
        let checksum_offset = self.offset;
        let computed = self.file_crc.clone().finalize();
        let mut stored_crc = [0u8; FILE_CHECKSUM_LEN];
        let got = read_full(&mut self.input, &mut stored_crc, checksum_offset)?;
        if got < FILE_CHECKSUM_LEN {
            return Err(PersistError::SnapshotTruncated {
                offset: checksum_offset,
                part: "file checksum",
            });
        }
        self.offset += FILE_CHECKSUM_LEN as u64;
        let stored_crc = u32::from_le_bytes(stored_crc);
        if stored_crc != computed {
            return Err(PersistError::FileChecksumMismatch {
                offset: checksum_offset,
                expected: stored_crc,
                found: computed,
            });
        }
        let mut extra = [0u8; 1];
        if read_full(&mut self.input, &mut extra, self.offset)? != 0 {
            return Err(PersistError::TrailingBytes {
                offset: self.offset,
            });
        }
        self.state = State::Finished(SnapshotSummary {
            codec: self.codec,
            bytes: self.offset,
            data_blocks: self.data_blocks,
            records: self.grammar.records(),
            keys_per_db: found_keys,
        });
        Ok(())
    }

    /// Reads exactly `buf.len()` bytes of the part starting at
    /// `part_offset`, counting them into the file checksum.
    fn read_part(
        &mut self,
        buf: &mut [u8],
        part_offset: u64,
        part: &'static str,
    ) -> Result<(), PersistError> {
        let got = read_full(&mut self.input, buf, self.offset)?;
        if got < buf.len() {
            return Err(PersistError::SnapshotTruncated {
                offset: part_offset,
                part,
            });
        }
        self.file_crc.update(buf);
        self.offset += buf.len() as u64;
        Ok(())
    }
}

/// Fills `buf` unless the input ends first; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8], offset: u64) -> Result<usize, PersistError> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(PersistError::io(offset + filled as u64, &err)),
        }
    }
    Ok(filled)
}
