//! Replication of kevy: what a primary shard keeps so that replicas can
//! follow it, and (as it lands) the stream between primary and replica.
//!
//! Today this crate holds the [`ReplicationBacklog`]: every write a shard
//! applies is appended as one frame (its RESP bytes) at a monotonic byte
//! offset; a replica that reconnects asks to continue from the offset it
//! has applied and gets the frames from there, or learns that it must do a
//! full sync (its offset was evicted) or drop the link (its offset is ahead
//! of the primary). The crate deals in bytes and offsets only, never in
//! command semantics.

mod backlog;

pub use backlog::{BacklogFrame, ReplicationBacklog};

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
}
