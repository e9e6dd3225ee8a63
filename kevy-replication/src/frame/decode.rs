//! Decoders of the replication byte streams, one per direction.
//!
//! Data flow: the I/O layer feeds whatever a read returned
//! ([`PrimaryDecoder::feed`]); the state machine pulls whole messages
//! ([`PrimaryDecoder::next_message`]) until `Ok(None)` says more bytes are
//! needed. Any split of the bytes across reads decodes the same.
//!
//! Hostile input: an unknown tag, a bad checksum, a length over the limit
//! or a malformed line is an error, and the decoder stays failed (the link
//! must be dropped). A length is checked as soon as the header arrives, and
//! nothing is allocated for a claimed length: the buffer holds only bytes
//! that actually arrived, so it stays within one message plus one read.

use super::*;
use crate::ReplicationError;

/// Where bytes wait until they form a whole message.
#[derive(Default)]
struct InputBuffer {
    bytes: Vec<u8>,
    /// Bytes before `start` are consumed.
    start: usize,
}

impl InputBuffer {
    fn feed(&mut self, input: &[u8]) {
        // Drop consumed bytes before growing, so the buffer never holds
        // more than the unconsumed tail plus this read.
        if self.start > 0 {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
        self.bytes.extend_from_slice(input);
    }

    fn unread(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    fn consume(&mut self, len: usize) {
        self.start += len;
        debug_assert!(self.start <= self.bytes.len());
        if self.start == self.bytes.len() {
            self.bytes.clear();
            self.start = 0;
        }
    }
}

/// Decodes what a primary sends.
pub struct PrimaryDecoder {
    input: InputBuffer,
    max_payload: usize,
    failed: Option<ReplicationError>,
}

impl Default for PrimaryDecoder {
    fn default() -> Self {
        PrimaryDecoder::new(FRAME_PAYLOAD_MAX)
    }
}

impl PrimaryDecoder {
    /// A decoder refusing write frames over `max_payload` bytes (capped at
    /// [`FRAME_PAYLOAD_MAX`]).
    pub fn new(max_payload: usize) -> Self {
        PrimaryDecoder {
            input: InputBuffer::default(),
            max_payload: max_payload.min(FRAME_PAYLOAD_MAX),
            failed: None,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.input.feed(bytes);
    }

    /// The next whole message, `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<PrimaryMessage>, ReplicationError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        match parse_primary(self.input.unread(), self.max_payload) {
            Ok(Some((message, len))) => {
                self.input.consume(len);
                Ok(Some(message))
            }
            Ok(None) => Ok(None),
            Err(error) => {
                self.failed = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Bytes received but not yet decoded (a partial message).
    pub fn buffered(&self) -> usize {
        self.input.unread().len()
    }
}

/// Decodes what a replica sends.
#[derive(Default)]
pub struct ReplicaDecoder {
    input: InputBuffer,
    failed: Option<ReplicationError>,
}

impl ReplicaDecoder {
    pub fn new() -> Self {
        ReplicaDecoder::default()
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.input.feed(bytes);
    }

    /// The next whole message, `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<ReplicaMessage>, ReplicationError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let parsed = match take_line(self.input.unread()) {
            Ok(Some((line, len))) => parse_replica_line(line).map(|message| Some((message, len))),
            Ok(None) => Ok(None),
            Err(error) => Err(error),
        };
        match parsed {
            Ok(Some((message, len))) => {
                self.input.consume(len);
                Ok(Some(message))
            }
            Ok(None) => Ok(None),
            Err(error) => {
                self.failed = Some(error.clone());
                Err(error)
            }
        }
    }

    pub fn buffered(&self) -> usize {
        self.input.unread().len()
    }
}

/// One message from the front of `bytes` and its encoded length.
fn parse_primary(
    bytes: &[u8],
    max_payload: usize,
) -> Result<Option<(PrimaryMessage, usize)>, ReplicationError> {
    let Some(&tag) = bytes.first() else {
        return Ok(None);
    };
    match tag {
        b'+' | b'-' => match take_line(bytes)? {
            Some((line, len)) => parse_primary_line(line).map(|message| Some((message, len))),
            None => Ok(None),
        },
        TAG_WRITE | TAG_TXN_WRITE => parse_write(bytes, max_payload),
        TAG_CHUNK => {
            let Some(frame) = checked_frame(bytes, CHUNK_HEADER, SNAPSHOT_CHUNK_MAX, "chunk")?
            else {
                return Ok(None);
            };
            let codec = Codec::from_wire_tag(bytes[1])
                .ok_or(ReplicationError::UnknownCodecTag { tag: bytes[1] })?;
            let message = PrimaryMessage::SnapshotChunk {
                codec,
                bytes: frame.payload.to_vec(),
            };
            Ok(Some((message, frame.len)))
        }
        TAG_COVERED => {
            let max = COVERED_MAX * 8;
            let Some(frame) = checked_frame(bytes, COVERED_HEADER, max, "covered")? else {
                return Ok(None);
            };
            if frame.payload.len() % 8 != 0 {
                return Err(ReplicationError::MalformedCovered {
                    len: frame.payload.len(),
                });
            }
            let ids = frame
                .payload
                .chunks_exact(8)
                .map(|id| read_u64(id, 0))
                .collect();
            Ok(Some((
                PrimaryMessage::CoveredTransactions { ids },
                frame.len,
            )))
        }
        TAG_PING => {
            if bytes.len() < PING_LEN {
                return Ok(None);
            }
            verify_crc(&bytes[..PING_LEN])?;
            let offset = read_u64(bytes, 1);
            let ack_requested = bytes[9] & PING_FLAG_ACK_REQUESTED != 0;
            let message = PrimaryMessage::Ping {
                offset,
                ack_requested,
            };
            Ok(Some((message, PING_LEN)))
        }
        other => Err(ReplicationError::UnknownFrameTag { tag: other }),
    }
}

fn parse_write(
    bytes: &[u8],
    max_payload: usize,
) -> Result<Option<(PrimaryMessage, usize)>, ReplicationError> {
    let is_txn = bytes[0] == TAG_TXN_WRITE;
    let header = if is_txn {
        TXN_WRITE_HEADER
    } else {
        WRITE_HEADER
    };
    let Some(frame) = checked_frame(bytes, header, max_payload, "write")? else {
        return Ok(None);
    };
    let offset = read_u64(bytes, 1);
    if frame.payload.is_empty() {
        return Err(ReplicationError::EmptyWrite { offset });
    }
    let txn = if is_txn {
        let id = read_u64(bytes, 9);
        let parts = u16::from_le_bytes([bytes[17], bytes[18]]);
        if parts == 0 {
            return Err(ReplicationError::InvalidTxnParts { id });
        }
        Some(TxnMark { id, parts })
    } else {
        None
    };
    let message = PrimaryMessage::Write {
        offset,
        txn,
        bytes: frame.payload.to_vec(),
    };
    Ok(Some((message, frame.len)))
}

struct CheckedFrame<'a> {
    payload: &'a [u8],
    len: usize,
}

/// A frame whose length field ends its header: checks the length against
/// `max` as soon as the header is in, then the crc once the frame is.
fn checked_frame<'a>(
    bytes: &'a [u8],
    header: usize,
    max: usize,
    kind: &'static str,
) -> Result<Option<CheckedFrame<'a>>, ReplicationError> {
    if bytes.len() < header {
        return Ok(None);
    }
    let claimed = u32::from_le_bytes(read_array(bytes, header - 4));
    let payload_len = usize::try_from(claimed).unwrap_or(usize::MAX);
    if payload_len > max {
        return Err(ReplicationError::FrameTooLarge {
            kind,
            len: u64::from(claimed),
            max,
        });
    }
    // Cannot overflow: payload_len <= max <= FRAME_PAYLOAD_MAX.
    let len = header + payload_len + CRC_LEN;
    if bytes.len() < len {
        return Ok(None);
    }
    verify_crc(&bytes[..len])?;
    Ok(Some(CheckedFrame {
        payload: &bytes[header..header + payload_len],
        len,
    }))
}

/// Checks the trailing crc32 of `frame` against the bytes before it.
fn verify_crc(frame: &[u8]) -> Result<(), ReplicationError> {
    let (body, trailer) = frame.split_at(frame.len() - CRC_LEN);
    let expected = u32::from_le_bytes(read_array(trailer, 0));
    let found = crc32fast::hash(body);
    if expected != found {
        return Err(ReplicationError::ChecksumMismatch {
            tag: frame[0],
            expected,
            found,
        });
    }
    Ok(())
}

fn read_array<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(read_array(bytes, at))
}

/// The first CRLF-terminated line (without CRLF) and its length with it.
fn take_line(bytes: &[u8]) -> Result<Option<(&[u8], usize)>, ReplicationError> {
    let window = &bytes[..bytes.len().min(LINE_MAX)];
    match window.windows(2).position(|pair| pair == b"\r\n") {
        Some(end) => Ok(Some((&bytes[..end], end + 2))),
        None if bytes.len() >= LINE_MAX => Err(ReplicationError::LineTooLong { max: LINE_MAX }),
        None => Ok(None),
    }
}

fn malformed(line: &[u8]) -> ReplicationError {
    ReplicationError::MalformedLine {
        line: String::from_utf8_lossy(line).into_owned(),
    }
}

/// A decimal offset as the encoder writes it: digits only, no sign, no
/// leading zero, within u64.
pub(crate) fn parse_offset(text: &[u8]) -> Option<u64> {
    if text.is_empty() || (text.len() > 1 && text[0] == b'0') {
        return None;
    }
    text.iter().try_fold(0u64, |acc, &byte| {
        if !byte.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(byte - b'0'))
    })
}

fn parse_primary_line(line: &[u8]) -> Result<PrimaryMessage, ReplicationError> {
    if let Some(text) = line.strip_prefix(b"-") {
        return Ok(PrimaryMessage::Error {
            text: String::from_utf8_lossy(text).into_owned(),
        });
    }
    let words: Vec<&[u8]> = line.split(|&byte| byte == b' ').collect();
    let message = match words.as_slice() {
        [b"+ACK", replid, offset] => ReplId::parse(replid)
            .zip(parse_offset(offset))
            .map(|(replid, offset)| PrimaryMessage::Ack { replid, offset }),
        [b"+SNAPSHOT", replid] => {
            ReplId::parse(replid).map(|replid| PrimaryMessage::SnapshotBegin { replid })
        }
        [b"+SNAPSHOT_END", offset] => {
            parse_offset(offset).map(|offset| PrimaryMessage::SnapshotEnd { offset })
        }
        _ => None,
    };
    message.ok_or_else(|| malformed(line))
}

fn parse_replica_line(line: &[u8]) -> Result<ReplicaMessage, ReplicationError> {
    let words: Vec<&[u8]> = line.split(|&byte| byte == b' ').collect();
    let is = |word: &[u8], expected: &str| word.eq_ignore_ascii_case(expected.as_bytes());
    match words.as_slice() {
        [replconf, ack, offset] if is(replconf, "REPLCONF") && is(ack, "ACK") => {
            parse_offset(offset)
                .map(|offset| ReplicaMessage::Ack { offset })
                .ok_or_else(|| malformed(line))
        }
        [replicate, from, replid, offset, id_word, id, options @ ..]
            if is(replicate, "REPLICATE") && is(from, "FROM") && is(id_word, "ID") =>
        {
            parse_request(replid, offset, id, options)
                .map(ReplicaMessage::Replicate)
                .ok_or_else(|| malformed(line))
        }
        _ => Err(malformed(line)),
    }
}

fn parse_request(
    replid: &[u8],
    offset: &[u8],
    id: &[u8],
    options: &[&[u8]],
) -> Option<ReplicateRequest> {
    let position = if replid == b"?" && offset == b"-1" {
        None
    } else {
        Some((ReplId::parse(replid)?, parse_offset(offset)?))
    };
    let id_ok = !id.is_empty()
        && id.len() <= REPLICA_ID_MAX
        && id
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if !id_ok || options.len() % 2 != 0 {
        return None;
    }
    let mut codecs = None;
    for pair in options.chunks_exact(2) {
        // Unknown capabilities and codec names are skipped: a newer
        // replica may offer what this primary does not know yet.
        if pair[0].eq_ignore_ascii_case(b"CODEC") {
            let known: Vec<Codec> = pair[1]
                .split(|&byte| byte == b',')
                .filter_map(Codec::from_name)
                .collect();
            codecs = Some(CodecSet::new(&known));
        }
    }
    Some(ReplicateRequest {
        position,
        replica_id: String::from_utf8(id.to_vec()).ok()?,
        codecs: codecs.unwrap_or_else(CodecSet::plain_only),
    })
}
