//! The per-shard replication backlog: a bounded byte budget of frames at
//! monotonic offsets.
//!
//! Data flow: the shard appends the RESP bytes of every applied write
//! ([`ReplicationBacklog::append`]) and gets the offset range the frame
//! occupies; a replica resuming from offset `o` reads the frames from `o`
//! ([`ReplicationBacklog::read_from`]). Offsets count bytes, as Redis's
//! replication offset does, so frame `n + 1` starts where frame `n` ends.
//!
//! Limits: the stored payload bytes stay within the budget, except that
//! the newest frame is always kept, even alone over budget, so a replica
//! that is only one write behind can always resume. Eviction drops the
//! oldest frames first.
//!
//! A frame may carry a [`TxnMark`] when it is one shard's part of a
//! cross-shard atomic write; the mark travels with the frame to replicas.

use std::collections::VecDeque;
use std::ops::Range;

use crate::frame::{TxnMark, FRAME_PAYLOAD_MAX};
use crate::ReplicationError;

/// A frame read back from the backlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogFrame<'a> {
    /// The offset of the frame's first byte.
    pub offset: u64,
    /// The RESP bytes of the write.
    pub bytes: &'a [u8],
    /// Set when the write is one part of a cross-shard transaction.
    pub txn: Option<TxnMark>,
}

struct StoredFrame {
    offset: u64,
    bytes: Box<[u8]>,
    txn: Option<TxnMark>,
}

impl StoredFrame {
    fn end(&self) -> u64 {
        // Cannot overflow: `append` checked `offset + len` before storing.
        self.offset + self.bytes.len() as u64
    }
}

/// Frames of applied writes at monotonic byte offsets, within a byte budget.
pub struct ReplicationBacklog {
    frames: VecDeque<StoredFrame>,
    /// Payload bytes the backlog may hold (the newest frame excepted).
    budget: usize,
    /// Payload bytes held now.
    stored: usize,
    /// The offset the next appended frame gets.
    next_offset: u64,
}

impl ReplicationBacklog {
    /// An empty backlog whose first frame starts at offset 0.
    pub fn new(budget: usize) -> Self {
        Self::starting_at(budget, 0)
    }

    /// An empty backlog continuing a history at `next_offset` (a restarted
    /// or promoted primary keeps counting where its history stands).
    pub fn starting_at(budget: usize, next_offset: u64) -> Self {
        ReplicationBacklog {
            frames: VecDeque::new(),
            budget,
            stored: 0,
            next_offset,
        }
    }

    /// Appends one frame and returns the offsets it occupies. An empty
    /// frame carries nothing to replicate: it is not stored and its range
    /// is empty. A frame over [`FRAME_PAYLOAD_MAX`] is refused.
    pub fn append(&mut self, bytes: &[u8]) -> Result<Range<u64>, ReplicationError> {
        self.append_marked(bytes, None)
    }

    /// Appends one frame that may be a part of a cross-shard transaction.
    pub fn append_marked(
        &mut self,
        bytes: &[u8],
        txn: Option<TxnMark>,
    ) -> Result<Range<u64>, ReplicationError> {
        // The wire cannot carry a larger frame; refusing it here keeps the
        // pump from ever meeting one.
        if bytes.len() > FRAME_PAYLOAD_MAX {
            return Err(ReplicationError::FrameTooLarge {
                kind: "write",
                len: bytes.len() as u64,
                max: FRAME_PAYLOAD_MAX,
            });
        }
        let start = self.next_offset;
        let end = u64::try_from(bytes.len())
            .ok()
            .and_then(|len| start.checked_add(len))
            .ok_or(ReplicationError::OffsetOverflow {
                next: start,
                len: bytes.len(),
            })?;
        if bytes.is_empty() {
            return Ok(start..start);
        }
        self.frames.push_back(StoredFrame {
            offset: start,
            bytes: bytes.into(),
            txn,
        });
        self.stored += bytes.len();
        self.next_offset = end;
        self.evict_over_budget();
        Ok(start..end)
    }

    /// Drops the oldest frames until the budget holds, keeping the newest.
    fn evict_over_budget(&mut self) {
        while self.stored > self.budget && self.frames.len() > 1 {
            if let Some(oldest) = self.frames.pop_front() {
                self.stored -= oldest.bytes.len();
            }
        }
    }

    /// Changes the budget (as `CONFIG SET repl-backlog-size` would),
    /// evicting at once when it shrank.
    pub fn set_budget(&mut self, budget: usize) {
        self.budget = budget;
        self.evict_over_budget();
    }

    /// The frames from `offset` on, oldest first.
    ///
    /// `offset` must be a frame boundary between the oldest retained frame
    /// and the next offset (inclusive: reading from the next offset yields
    /// nothing, the replica is up to date).
    pub fn read_from(
        &self,
        offset: u64,
    ) -> Result<impl Iterator<Item = BacklogFrame<'_>> + '_, ReplicationError> {
        if offset > self.next_offset {
            return Err(ReplicationError::Future {
                requested: offset,
                next: self.next_offset,
            });
        }
        let first = self.first_offset();
        if offset < first {
            return Err(ReplicationError::TooOld {
                requested: offset,
                first,
            });
        }
        let start = match self.frames.binary_search_by_key(&offset, |f| f.offset) {
            Ok(index) => index,
            // Past every frame start: either the next offset itself (the
            // frames all end before it) or inside the last frame.
            Err(index) => {
                let containing = index.checked_sub(1).and_then(|i| self.frames.get(i));
                match containing {
                    Some(frame) if offset < frame.end() => {
                        return Err(ReplicationError::Misaligned {
                            requested: offset,
                            frame_start: frame.offset,
                        })
                    }
                    _ => index,
                }
            }
        };
        Ok(self.frames.range(start..).map(|frame| BacklogFrame {
            offset: frame.offset,
            bytes: &frame.bytes,
            txn: frame.txn,
        }))
    }

    /// The offset of the oldest retained byte (the next offset when empty).
    pub fn first_offset(&self) -> u64 {
        self.frames
            .front()
            .map_or(self.next_offset, |frame| frame.offset)
    }

    /// The offset the next frame will get: the primary's replication offset.
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// Payload bytes held.
    pub fn stored_bytes(&self) -> usize {
        self.stored
    }

    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Frames held.
    pub fn frame_count(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

#[cfg(test)]
mod tests;
