//! The wire messages between a primary shard and a replica, and their
//! encoding. Decoding (from any split of bytes) lives in `frame/decode.rs`.
//!
//! Data flow: the primary's pump encodes [`PrimaryMessage`]s into a link's
//! output (handshake replies and snapshot markers as text lines, snapshot
//! chunks, writes and heartbeats as checksummed binary frames); the replica
//! encodes [`ReplicaMessage`]s (its `REPLICATE` request and `REPLCONF ACK`
//! acknowledgements, text lines). Each side decodes the other's stream with
//! [`PrimaryDecoder`] / [`ReplicaDecoder`].
//!
//! Layout (integers little-endian; `crc` is crc32 of every byte of the
//! frame before it, tag included):
//! - `+ACK <replid> <offset>\r\n`, `+SNAPSHOT <replid>\r\n`,
//!   `+SNAPSHOT_END <offset>\r\n`, `-ERR <text>\r\n` (primary → replica);
//! - `REPLICATE FROM <replid>|? <offset>|-1 ID <id> [CODEC a,b] ...\r\n`
//!   and `REPLCONF ACK <offset>\r\n` (replica → primary); unknown
//!   `KEY value` pairs after `ID` are ignored so later capabilities can be
//!   added without breaking older primaries;
//! - `W offset:u64 len:u32 payload crc:u32` — one applied write;
//! - `T offset:u64 txn:u64 parts:u16 len:u32 payload crc:u32` — one shard's
//!   part of a cross-shard atomic write;
//! - `C codec:u8 len:u32 payload crc:u32` — one snapshot chunk (opaque);
//! - `X len:u32 ids:u64* crc:u32` — the cross-shard transactions whose
//!   part on this shard the snapshot already holds (sent just before
//!   `+SNAPSHOT_END`): a replica must not wait for those parts, since the
//!   shards of a primary freeze their snapshots at different moments;
//! - `P offset:u64 flags:u8 crc:u32` — heartbeat carrying the primary's
//!   offset; flag bit 0 asks the replica to acknowledge at once (for
//!   `WAIT`); other bits are ignored, for later use.
//!
//! Text lines are not checksummed; they are parsed strictly, and a
//! corrupted offset in one is caught by the gap check on the next frame or
//! by the primary's check of the replica's acknowledgements.

mod decode;

pub use decode::{PrimaryDecoder, ReplicaDecoder};

use crate::replid::ReplId;

/// Longest text line (handshake, snapshot markers, errors, acks), CRLF
/// included. A longer line is an error, not a growing buffer.
pub const LINE_MAX: usize = 1024;
/// Largest payload of one write frame (Redis's `proto-max-bulk-len` is
/// 512 MiB for one argument; a write frame holds a whole command).
pub const FRAME_PAYLOAD_MAX: usize = 512 * 1024 * 1024;
/// Largest snapshot chunk, after compression.
pub const SNAPSHOT_CHUNK_MAX: usize = 256 * 1024;
/// Longest replica id in a `REPLICATE` request.
pub const REPLICA_ID_MAX: usize = 64;

pub(crate) const TAG_WRITE: u8 = b'W';
pub(crate) const TAG_TXN_WRITE: u8 = b'T';
pub(crate) const TAG_CHUNK: u8 = b'C';
pub(crate) const TAG_PING: u8 = b'P';
pub(crate) const TAG_COVERED: u8 = b'X';
pub(crate) const COVERED_HEADER: usize = 1 + 4;
/// Most transaction ids one `X` frame may list.
pub const COVERED_MAX: usize = 1 << 20;
pub(crate) const WRITE_HEADER: usize = 1 + 8 + 4;
pub(crate) const TXN_WRITE_HEADER: usize = 1 + 8 + 8 + 2 + 4;
pub(crate) const CHUNK_HEADER: usize = 1 + 1 + 4;
pub(crate) const PING_LEN: usize = 1 + 8 + 1 + 4;
pub(crate) const PING_FLAG_ACK_REQUESTED: u8 = 1;
pub(crate) const CRC_LEN: usize = 4;

/// How a snapshot chunk's bytes are encoded (the codec itself lives in the
/// snapshot layer; here it is a tag negotiated in the handshake).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    Plain,
    Zstd,
}

impl Codec {
    pub const ALL: [Codec; 2] = [Codec::Plain, Codec::Zstd];

    pub fn name(self) -> &'static str {
        match self {
            Codec::Plain => "plain",
            Codec::Zstd => "zstd",
        }
    }

    pub fn from_name(name: &[u8]) -> Option<Codec> {
        Codec::ALL
            .into_iter()
            .find(|codec| name.eq_ignore_ascii_case(codec.name().as_bytes()))
    }

    pub(crate) fn wire_tag(self) -> u8 {
        match self {
            Codec::Plain => 0,
            Codec::Zstd => 1,
        }
    }

    pub(crate) fn from_wire_tag(tag: u8) -> Option<Codec> {
        Codec::ALL.into_iter().find(|codec| codec.wire_tag() == tag)
    }
}

/// A set of codecs, in order of preference (most preferred first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodecSet(Vec<Codec>);

impl CodecSet {
    /// Codecs in preference order; duplicates are dropped.
    pub fn new(codecs: &[Codec]) -> Self {
        let mut set = Vec::new();
        for codec in codecs {
            if !set.contains(codec) {
                set.push(*codec);
            }
        }
        CodecSet(set)
    }

    pub fn plain_only() -> Self {
        CodecSet(vec![Codec::Plain])
    }

    pub fn contains(&self, codec: Codec) -> bool {
        self.0.contains(&codec)
    }

    pub fn iter(&self) -> impl Iterator<Item = Codec> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Marks a write as one shard's part of a cross-shard atomic write: the
/// replica applies the parts of transaction `id` as one step once all
/// `parts` shard streams have delivered theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxnMark {
    pub id: u64,
    /// How many shard streams carry a part (at least 1).
    pub parts: u16,
}

/// What the replica sends to open a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicateRequest {
    /// The history and offset the replica has applied, or `None` for a
    /// replica without data (sent as `? -1`).
    pub position: Option<(ReplId, u64)>,
    pub replica_id: String,
    /// Snapshot codecs the replica can decode, preferred first. An absent
    /// `CODEC` capability means plain only.
    pub codecs: CodecSet,
}

/// Everything a primary sends on a replication link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrimaryMessage {
    /// `+ACK`: partial resume; live frames follow from `offset`.
    Ack {
        replid: ReplId,
        offset: u64,
    },
    /// `+SNAPSHOT`: a full sync of history `replid` begins.
    SnapshotBegin {
        replid: ReplId,
    },
    SnapshotChunk {
        codec: Codec,
        bytes: Vec<u8>,
    },
    /// `+SNAPSHOT_END`: the snapshot holds every write before `offset`;
    /// live frames follow from there.
    SnapshotEnd {
        offset: u64,
    },
    /// One applied write occupying `offset .. offset + bytes.len()`.
    Write {
        offset: u64,
        txn: Option<TxnMark>,
        bytes: Vec<u8>,
    },
    /// Heartbeat; `offset` is the primary's next offset (for lag);
    /// `ack_requested` asks for an acknowledgement now.
    Ping {
        offset: u64,
        ack_requested: bool,
    },
    /// `X`: transactions whose part on this shard the snapshot holds.
    CoveredTransactions {
        ids: Vec<u64>,
    },
    /// `-ERR ...`: the primary refuses or closes the link.
    Error {
        text: String,
    },
}

/// Everything a replica sends on a replication link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaMessage {
    Replicate(ReplicateRequest),
    /// `REPLCONF ACK`: every write before `offset` is applied.
    Ack {
        offset: u64,
    },
}

impl PrimaryMessage {
    /// Appends the encoding of this message to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            PrimaryMessage::Ack { replid, offset } => {
                encode_line(out, &format!("+ACK {replid} {offset}"))
            }
            PrimaryMessage::SnapshotBegin { replid } => {
                encode_line(out, &format!("+SNAPSHOT {replid}"))
            }
            PrimaryMessage::SnapshotChunk { codec, bytes } => encode_chunk(out, *codec, bytes),
            PrimaryMessage::SnapshotEnd { offset } => {
                encode_line(out, &format!("+SNAPSHOT_END {offset}"))
            }
            PrimaryMessage::Write { offset, txn, bytes } => encode_write(out, *offset, *txn, bytes),
            PrimaryMessage::Ping {
                offset,
                ack_requested,
            } => encode_ping(out, *offset, *ack_requested),
            PrimaryMessage::CoveredTransactions { ids } => encode_covered(out, ids),
            PrimaryMessage::Error { text } => encode_error(out, text),
        }
    }
}

impl ReplicaMessage {
    /// Appends the encoding of this message to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ReplicaMessage::Replicate(request) => {
                let mut line = String::from("REPLICATE FROM ");
                match &request.position {
                    Some((replid, offset)) => line.push_str(&format!("{replid} {offset}")),
                    None => line.push_str("? -1"),
                }
                line.push_str(" ID ");
                line.push_str(&request.replica_id);
                if !request.codecs.is_empty() {
                    let names: Vec<&str> = request.codecs.iter().map(Codec::name).collect();
                    line.push_str(" CODEC ");
                    line.push_str(&names.join(","));
                }
                encode_line(out, &line);
            }
            ReplicaMessage::Ack { offset } => encode_line(out, &format!("REPLCONF ACK {offset}")),
        }
    }
}

fn encode_line(out: &mut Vec<u8>, line: &str) {
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends `-<text>\r\n`; CR and LF in `text` become spaces and the line
/// is cut to [`LINE_MAX`] so the peer can always parse it.
pub fn encode_error(out: &mut Vec<u8>, text: &str) {
    let mut line = String::with_capacity(text.len() + 1);
    line.push('-');
    for ch in text.chars() {
        if line.len() + ch.len_utf8() > LINE_MAX - 2 {
            break;
        }
        line.push(if ch == '\r' || ch == '\n' { ' ' } else { ch });
    }
    encode_line(out, &line);
}

/// Appends a write frame. `bytes` must be non-empty and at most
/// [`FRAME_PAYLOAD_MAX`] (the backlog never holds anything else).
pub fn encode_write(out: &mut Vec<u8>, offset: u64, txn: Option<TxnMark>, bytes: &[u8]) {
    assert!(
        !bytes.is_empty() && bytes.len() <= FRAME_PAYLOAD_MAX,
        "write frames hold 1..=FRAME_PAYLOAD_MAX bytes"
    );
    let start = out.len();
    match txn {
        None => {
            out.push(TAG_WRITE);
            out.extend_from_slice(&offset.to_le_bytes());
        }
        Some(mark) => {
            out.push(TAG_TXN_WRITE);
            out.extend_from_slice(&offset.to_le_bytes());
            out.extend_from_slice(&mark.id.to_le_bytes());
            out.extend_from_slice(&mark.parts.to_le_bytes());
        }
    }
    push_payload_and_crc(out, start, bytes);
}

/// Appends a snapshot chunk frame; `bytes` holds at most
/// [`SNAPSHOT_CHUNK_MAX`] bytes.
pub fn encode_chunk(out: &mut Vec<u8>, codec: Codec, bytes: &[u8]) {
    assert!(
        bytes.len() <= SNAPSHOT_CHUNK_MAX,
        "snapshot chunks hold at most SNAPSHOT_CHUNK_MAX bytes"
    );
    let start = out.len();
    out.push(TAG_CHUNK);
    out.push(codec.wire_tag());
    push_payload_and_crc(out, start, bytes);
}

/// Appends a covered-transactions frame; at most [`COVERED_MAX`] ids.
pub fn encode_covered(out: &mut Vec<u8>, ids: &[u64]) {
    assert!(
        ids.len() <= COVERED_MAX,
        "covered frames list at most COVERED_MAX ids"
    );
    let start = out.len();
    out.push(TAG_COVERED);
    let bytes: Vec<u8> = ids.iter().flat_map(|id| id.to_le_bytes()).collect();
    push_payload_and_crc(out, start, &bytes);
}

pub fn encode_ping(out: &mut Vec<u8>, offset: u64, ack_requested: bool) {
    let start = out.len();
    out.push(TAG_PING);
    out.extend_from_slice(&offset.to_le_bytes());
    out.push(if ack_requested {
        PING_FLAG_ACK_REQUESTED
    } else {
        0
    });
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

fn push_payload_and_crc(out: &mut Vec<u8>, start: usize, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("payload lengths are checked against u32 limits");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Bytes a write frame of `payload_len` bytes takes on the wire.
pub fn write_frame_len(payload_len: usize, txn: Option<TxnMark>) -> usize {
    let header = if txn.is_some() {
        TXN_WRITE_HEADER
    } else {
        WRITE_HEADER
    };
    header + payload_len + CRC_LEN
}

/// Bytes a snapshot chunk frame of `payload_len` bytes takes on the wire.
pub fn chunk_frame_len(payload_len: usize) -> usize {
    CHUNK_HEADER + payload_len + CRC_LEN
}

#[cfg(test)]
mod tests;
