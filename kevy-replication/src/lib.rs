//! Replication of kevy, as sans-IO protocol pieces: bytes and offsets in,
//! bytes and typed events out, time passed in as a value. No sockets, no
//! threads and no command semantics live here.
//!
//! Data flow, primary side: every write a shard applies is appended to its
//! [`ReplicationBacklog`] (RESP bytes at a monotonic byte offset, optionally
//! marked as one part of a cross-shard transaction). Each replica link has
//! a [`ReplicaPump`]: it reads the replica's `REPLICATE` request, decides
//! ([`handshake::decide`]) between a partial resume, a full sync and a
//! refusal, streams snapshot chunks the caller produces, then live frames
//! from the backlog within byte budgets, with heartbeats; the replica's
//! acknowledgements come back as the link's acknowledged offset.
//!
//! Replica side: a [`ReplicaLink`] per primary shard builds the request,
//! decodes the primary's stream ([`frame`]), checks checksums and offset
//! gaps and emits [`ReplicaEvent`]s; a [`TxnAssembler`] across the links
//! holds transaction parts until every part has arrived and then releases
//! them as one step.
//!
//! Both sides in one loop, with the sockets replaced by byte vectors (a
//! server runs each half on its own connection, with real time):
//!
//! ```
//! use kevy_replication::*;
//!
//! // Primary shard: a history id, a backlog, one pump per replica link.
//! let replid = ReplId::generate();
//! let mut backlog = ReplicationBacklog::new(1 << 20);
//! backlog.append(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n").unwrap();
//! let mut pump = ReplicaPump::new(PumpLimits::default(), CodecSet::plain_only(), 0);
//!
//! // Replica: one link per primary shard; no data yet, so a full sync.
//! let mut link = ReplicaLink::new(ReplicaConfig::new("replica-1"), None);
//! link.connect(0);
//!
//! let mut applied = Vec::new();
//! for now in 0..10 {
//!     // Replica -> primary.
//!     while let Some(event) = link.poll_event() {
//!         match event {
//!             ReplicaEvent::Transmit { bytes } => pump.receive(&bytes, &replid, &backlog, now),
//!             ReplicaEvent::SnapshotEnd { offset } => assert!(link.mark_applied(offset)),
//!             ReplicaEvent::Apply { offset, bytes } => {
//!                 applied.push(bytes.clone());
//!                 link.mark_applied(offset + bytes.len() as u64);
//!             }
//!             _ => {} // snapshot begin/chunks: load them; parts: a TxnAssembler
//!         }
//!     }
//!     // Primary: serve the handshake's decision, then frames.
//!     while let Some(event) = pump.poll_event() {
//!         if let PumpEvent::SnapshotNeeded { codec, .. } = event {
//!             let frozen_at = backlog.next_offset();
//!             pump.push_snapshot_chunk(codec, b"(the snapshot's bytes)", now).unwrap();
//!             pump.end_snapshot(frozen_at, now).unwrap();
//!         }
//!     }
//!     if now == 5 {
//!         backlog.append(b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n").unwrap();
//!     }
//!     pump.pump(&backlog, now);
//!     // Primary -> replica (a socket would take part of it).
//!     let out = pump.pending_output().to_vec();
//!     pump.consume_output(out.len(), now);
//!     link.receive(&out, now).unwrap();
//!     link.tick(now).unwrap();
//! }
//! assert_eq!(applied, vec![b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n".to_vec()]);
//! assert_eq!(link.applied(), Some((replid, backlog.next_offset())));
//! ```

mod backlog;
pub mod frame;
pub mod handshake;
mod pump;
mod replica;
mod replid;
mod txn;

pub use backlog::{BacklogFrame, ReplicationBacklog};
pub use frame::{
    Codec, CodecSet, PrimaryDecoder, PrimaryMessage, ReplicaDecoder, ReplicaMessage,
    ReplicateRequest, TxnMark, COVERED_MAX, FRAME_PAYLOAD_MAX, SNAPSHOT_CHUNK_MAX,
};
pub use handshake::{HandshakeDecision, HandshakeReply};
pub use pump::{PumpEvent, PumpLimits, ReplicaPump};
pub use replica::{ReplicaConfig, ReplicaEvent, ReplicaLink};
pub use replid::ReplId;
pub use txn::{ApplyStep, TxnAssembler, TxnPart};

/// What can go wrong in replication.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicationError {
    /// The requested offset was evicted from the backlog: the replica
    /// must do a full sync.
    #[error("offset {requested} is no longer in the backlog, which starts at {first}")]
    TooOld { requested: u64, first: u64 },
    /// The requested offset is beyond what the primary has written: the
    /// replica follows another history, or is corrupt; drop the link.
    #[error("offset {requested} is beyond the primary's next offset {next}")]
    Future { requested: u64, next: u64 },
    /// The requested offset falls inside a frame; replicas apply whole
    /// frames, so only frame boundaries are valid resume points.
    #[error("offset {requested} falls inside the frame that starts at {frame_start}")]
    Misaligned { requested: u64, frame_start: u64 },
    /// Appending would overflow the 64-bit offset counter.
    #[error("appending {len} bytes at offset {next} overflows the replication offset")]
    OffsetOverflow { next: u64, len: usize },

    // --- decoding the byte streams ---
    /// A frame's checksum does not match its bytes: the stream is corrupt.
    #[error("checksum mismatch in a '{}' frame: expected {expected:#010x}, found {found:#010x}", char::from(*tag))]
    ChecksumMismatch { tag: u8, expected: u32, found: u32 },
    #[error("unknown frame tag {tag:#04x}")]
    UnknownFrameTag { tag: u8 },
    #[error("unknown snapshot codec tag {tag}")]
    UnknownCodecTag { tag: u8 },
    /// A length field claims more than the limit for its kind of frame.
    #[error("{kind} frame of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        kind: &'static str,
        len: u64,
        max: usize,
    },
    #[error("a covered-transactions frame of {len} bytes is not a list of 8-byte ids")]
    MalformedCovered { len: usize },
    #[error("empty write frame at offset {offset}")]
    EmptyWrite { offset: u64 },
    #[error("transaction {id} claims zero parts")]
    InvalidTxnParts { id: u64 },
    #[error("line longer than {max} bytes")]
    LineTooLong { max: usize },
    #[error("malformed line: {line:?}")]
    MalformedLine { line: String },

    // --- protocol state ---
    /// A message that is valid on the wire arrived when the link's state
    /// does not allow it.
    #[error("unexpected {message} while {state}")]
    UnexpectedMessage {
        message: &'static str,
        state: &'static str,
    },
    /// A write frame does not start where the previous one ended.
    #[error("offset gap: expected a frame at {expected}, got one at {found}")]
    OffsetGap { expected: u64, found: u64 },
    /// The primary resumed another history or offset than requested.
    #[error("the primary resumed {found_replid} at {found_offset}, not {asked_replid} at {asked_offset}")]
    ResumeMismatch {
        asked_replid: ReplId,
        asked_offset: u64,
        found_replid: ReplId,
        found_offset: u64,
    },
    /// The primary's heartbeat names an offset behind what it already sent.
    #[error("the primary's offset {primary} is behind the received offset {received}")]
    PrimaryOffsetWentBack { primary: u64, received: u64 },
    /// The primary answered with an error line.
    #[error("the primary refused: {text}")]
    Refused { text: String },
    /// A replica acknowledged an offset the primary never sent, or one
    /// below an earlier acknowledgement.
    #[error("acknowledged offset {acked} is outside {low}..={high}")]
    InvalidAck { acked: u64, low: u64, high: u64 },
    /// Replica and primary share no snapshot codec.
    #[error("no snapshot codec in common")]
    NoCommonCodec,
    /// Snapshot chunks were pushed on a link that is not sending a snapshot.
    #[error("no snapshot in progress on this link")]
    NoSnapshotInProgress,
    #[error("snapshot chunk of {len} bytes exceeds the limit of {max}")]
    ChunkTooLarge { len: usize, max: usize },
    /// Nothing arrived from the peer within the link timeout.
    #[error("no traffic from the peer for {idle_ms} ms")]
    LinkTimeout { idle_ms: u64 },
    /// The link's unsent output grew past its hard cap.
    #[error("link output of {pending} bytes exceeds the cap of {cap}")]
    OutputCapExceeded { pending: usize, cap: usize },
    /// The link is closed; it must be reconnected.
    #[error("the link is closed")]
    LinkClosed,

    // --- transaction assembly ---
    #[error("stream {stream} is not one of the {streams} streams")]
    UnknownStream { stream: usize, streams: usize },
    /// Parts of one transaction disagree on how many parts it has, or one
    /// stream delivered two parts of it.
    #[error("inconsistent parts for transaction {id}")]
    TxnInconsistent { id: u64 },
    /// A transaction claims more parts than there are streams.
    #[error("transaction {id} claims {parts} parts over {streams} streams")]
    TxnTooManyParts { id: u64, parts: u16, streams: usize },
    /// Held items waiting for transaction parts exceed the limit.
    #[error("{held} bytes held waiting for transaction parts exceed the limit of {max}")]
    TxnHoldOverflow { held: usize, max: usize },
}
