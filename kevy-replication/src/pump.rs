//! The primary side of one replica link: handshake → snapshot chunks →
//! live frames from the backlog, with budgets, caps and heartbeats.
//!
//! Data flow: the I/O layer feeds what the replica sent
//! ([`ReplicaPump::receive`], which answers the `REPLICATE` request and
//! takes `REPLCONF ACK`s), calls [`ReplicaPump::pump`] once per loop
//! iteration (live frames, heartbeats, the timeout), writes
//! [`ReplicaPump::pending_output`] to the socket and reports what it took
//! ([`ReplicaPump::consume_output`], which also counts as a sign of life:
//! a replica reading a long snapshot cannot acknowledge yet), and drains [`PumpEvent`]s: a full
//! sync asks it to freeze a snapshot and push its chunks
//! ([`ReplicaPump::push_snapshot_chunk`] while
//! [`ReplicaPump::snapshot_room`], then [`ReplicaPump::end_snapshot`]).
//!
//! Limits: one `pump` call moves at most `iteration_budget` bytes of
//! frames (always at least one, so a frame larger than the budget still
//! goes); frames are pulled only while the unsent output is below half the
//! `output_cap` (back-pressure); output pushed past the cap closes the link.
//! A replica too slow for the backlog finds its next frame evicted: the
//! link closes with `TooOld` and the replica comes back for a full sync.
//! The same holds for the writes made while a snapshot is sent: they wait
//! in the backlog (not in the link), so a snapshot that takes longer than
//! the backlog can hold ends in a closed link, never in a gap.
//! Frames are never skipped: the link either sends the next one or closes.

use std::collections::VecDeque;

use crate::frame::{self, Codec, CodecSet, PrimaryMessage, ReplicaDecoder, ReplicaMessage};
use crate::handshake::{self, FullSyncReason, HandshakeDecision};
use crate::{ReplId, ReplicationBacklog, ReplicationError};

/// Limits of one replica link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PumpLimits {
    /// Frame bytes one `pump` call may queue.
    pub iteration_budget: usize,
    /// Unsent output that closes the link; frames stop at half of it.
    pub output_cap: usize,
    /// A heartbeat goes out when nothing else was sent for this long.
    pub heartbeat_interval_ms: u64,
    /// A streaming link with no word from the replica for this long is dead.
    pub link_timeout_ms: u64,
}

impl Default for PumpLimits {
    fn default() -> Self {
        PumpLimits {
            iteration_budget: 256 * 1024,
            output_cap: 16 * 1024 * 1024,
            heartbeat_interval_ms: 1_000,
            link_timeout_ms: 60_000,
        }
    }
}

/// What the server must learn from a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PumpEvent {
    /// Partial resume: live frames flow from `offset`.
    Resumed { offset: u64 },
    /// Full sync: freeze a snapshot, push its chunks in `codec`, then call
    /// `end_snapshot` with the offset the snapshot covers.
    SnapshotNeeded {
        codec: Codec,
        reason: FullSyncReason,
    },
    /// The snapshot is sent; live frames flow from `offset`.
    SnapshotSent { offset: u64 },
    /// The replica has applied every write before `offset` (drives `WAIT`,
    /// lag reporting and trimming).
    Acked { offset: u64 },
    /// The link is closed: flush what `pending_output` holds if the socket
    /// takes it, then close the socket.
    Closed { error: ReplicationError },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkState {
    AwaitingRequest,
    Snapshot,
    Streaming { next: u64 },
    Closed,
}

/// One replica link on the primary.
pub struct ReplicaPump {
    limits: PumpLimits,
    codecs: CodecSet,
    state: LinkState,
    decoder: ReplicaDecoder,
    output: Vec<u8>,
    /// Bytes of `output` before this index were taken by the socket.
    output_start: usize,
    events: VecDeque<PumpEvent>,
    replid: Option<ReplId>,
    replica_id: Option<String>,
    /// Codecs the replica accepts.
    replica_codecs: CodecSet,
    acked: Option<u64>,
    /// `WAIT` wants a fresh acknowledgement: the next heartbeat goes at
    /// once and asks for one.
    ack_requested: bool,
    /// When the replica last showed life: it sent something, or its socket
    /// took some of our output (it reads, even if a large backlog of
    /// output delays its acknowledgements).
    last_alive_ms: u64,
    last_sent_ms: u64,
}

impl ReplicaPump {
    /// A link that waits for the replica's request; `codecs` are the
    /// snapshot codecs this primary can produce.
    pub fn new(limits: PumpLimits, codecs: CodecSet, now_ms: u64) -> Self {
        ReplicaPump {
            limits,
            codecs,
            state: LinkState::AwaitingRequest,
            decoder: ReplicaDecoder::new(),
            output: Vec::new(),
            output_start: 0,
            events: VecDeque::new(),
            replid: None,
            replica_id: None,
            replica_codecs: CodecSet::plain_only(),
            acked: None,
            ack_requested: false,
            last_alive_ms: now_ms,
            last_sent_ms: now_ms,
        }
    }

    /// Takes bytes from the replica; `replid` and `backlog` are the
    /// primary shard's current history and backlog.
    pub fn receive(
        &mut self,
        bytes: &[u8],
        replid: &ReplId,
        backlog: &ReplicationBacklog,
        now_ms: u64,
    ) {
        if self.state == LinkState::Closed {
            return;
        }
        self.last_alive_ms = now_ms;
        self.decoder.feed(bytes);
        while self.state != LinkState::Closed {
            match self.decoder.next_message() {
                Ok(Some(message)) => self.handle(message, replid, backlog, now_ms),
                Ok(None) => break,
                Err(error) => self.close(error, true),
            }
        }
    }

    fn handle(
        &mut self,
        message: ReplicaMessage,
        replid: &ReplId,
        backlog: &ReplicationBacklog,
        now_ms: u64,
    ) {
        match (message, self.state) {
            (ReplicaMessage::Replicate(request), LinkState::AwaitingRequest) => {
                self.replica_id = Some(request.replica_id.clone());
                self.replica_codecs = request.codecs.clone();
                self.replid = Some(*replid);
                match handshake::decide(&request, replid, backlog, &self.codecs) {
                    HandshakeDecision::Resume { offset } => {
                        PrimaryMessage::Ack {
                            replid: *replid,
                            offset,
                        }
                        .encode(&mut self.output);
                        self.start_streaming(offset, now_ms);
                        self.events.push_back(PumpEvent::Resumed { offset });
                    }
                    HandshakeDecision::FullSync { codec, reason } => {
                        PrimaryMessage::SnapshotBegin { replid: *replid }.encode(&mut self.output);
                        self.last_sent_ms = now_ms;
                        self.state = LinkState::Snapshot;
                        self.events
                            .push_back(PumpEvent::SnapshotNeeded { codec, reason });
                    }
                    HandshakeDecision::Refuse { error } => self.close(error, true),
                }
            }
            (ReplicaMessage::Ack { offset }, LinkState::Streaming { next }) => {
                let low = self.acked.unwrap_or(0);
                if offset < low || offset > next {
                    let error = ReplicationError::InvalidAck {
                        acked: offset,
                        low,
                        high: next,
                    };
                    return self.close(error, true);
                }
                if offset > low {
                    self.acked = Some(offset);
                    self.events.push_back(PumpEvent::Acked { offset });
                }
            }
            (message, state) => {
                let error = ReplicationError::UnexpectedMessage {
                    message: match message {
                        ReplicaMessage::Replicate(_) => "REPLICATE",
                        ReplicaMessage::Ack { .. } => "REPLCONF ACK",
                    },
                    state: match state {
                        LinkState::AwaitingRequest => "waiting for REPLICATE",
                        LinkState::Snapshot => "sending a snapshot",
                        LinkState::Streaming { .. } => "streaming",
                        LinkState::Closed => "closed",
                    },
                };
                self.close(error, true);
            }
        }
    }

    fn start_streaming(&mut self, offset: u64, now_ms: u64) {
        self.state = LinkState::Streaming { next: offset };
        self.acked = Some(offset);
        // The replica's acknowledgements start now; a long snapshot must
        // not count against it.
        self.last_alive_ms = now_ms;
        self.last_sent_ms = now_ms;
    }

    /// Whether the snapshot producer may push another chunk now.
    pub fn snapshot_room(&self) -> bool {
        self.state == LinkState::Snapshot
            && self.pending_len() < (self.limits.output_cap / 2).max(1)
    }

    /// Queues one snapshot chunk. Pushing past the output cap closes the
    /// link (the producer should wait for [`Self::snapshot_room`]).
    pub fn push_snapshot_chunk(
        &mut self,
        codec: Codec,
        bytes: &[u8],
        now_ms: u64,
    ) -> Result<(), ReplicationError> {
        if self.state != LinkState::Snapshot {
            return Err(ReplicationError::NoSnapshotInProgress);
        }
        if bytes.len() > frame::SNAPSHOT_CHUNK_MAX {
            return Err(ReplicationError::ChunkTooLarge {
                len: bytes.len(),
                max: frame::SNAPSHOT_CHUNK_MAX,
            });
        }
        if !self.replica_codecs.contains(codec) {
            return Err(ReplicationError::NoCommonCodec);
        }
        frame::encode_chunk(&mut self.output, codec, bytes);
        self.last_sent_ms = now_ms;
        self.enforce_cap()
    }

    /// Ends the snapshot, which holds every write before `ack_offset`;
    /// live frames follow from there.
    pub fn end_snapshot(&mut self, ack_offset: u64, now_ms: u64) -> Result<(), ReplicationError> {
        self.end_snapshot_covering(ack_offset, &[], now_ms)
    }

    /// [`Self::end_snapshot`], telling the replica which cross-shard
    /// transactions the snapshot holds this shard's part of (the ids the
    /// backlog marks before `ack_offset`): their parts on other shards
    /// may arrive as frames, and must not wait for this one.
    pub fn end_snapshot_covering(
        &mut self,
        ack_offset: u64,
        covered: &[u64],
        now_ms: u64,
    ) -> Result<(), ReplicationError> {
        if self.state != LinkState::Snapshot {
            return Err(ReplicationError::NoSnapshotInProgress);
        }
        for ids in covered.chunks(frame::COVERED_MAX) {
            frame::encode_covered(&mut self.output, ids);
        }
        PrimaryMessage::SnapshotEnd { offset: ack_offset }.encode(&mut self.output);
        self.start_streaming(ack_offset, now_ms);
        self.events
            .push_back(PumpEvent::SnapshotSent { offset: ack_offset });
        self.enforce_cap()
    }

    /// One loop iteration: checks the timeout, queues live frames within
    /// the budgets and a heartbeat when the link was quiet.
    pub fn pump(&mut self, backlog: &ReplicationBacklog, now_ms: u64) {
        let idle_ms = now_ms.saturating_sub(self.last_alive_ms);
        let watched = matches!(
            self.state,
            LinkState::AwaitingRequest | LinkState::Streaming { .. }
        );
        if watched && idle_ms > self.limits.link_timeout_ms {
            return self.close(ReplicationError::LinkTimeout { idle_ms }, true);
        }
        if let LinkState::Streaming { next } = self.state {
            match self.queue_frames(backlog, next) {
                Ok(next) => self.state = LinkState::Streaming { next },
                Err(error) => return self.close(error, true),
            }
            if self.output.len() > self.output_start {
                self.last_sent_ms = self.last_sent_ms.max(now_ms);
            }
        }
        let streaming_or_snapshot = matches!(
            self.state,
            LinkState::Streaming { .. } | LinkState::Snapshot
        );
        let quiet = now_ms.saturating_sub(self.last_sent_ms) >= self.limits.heartbeat_interval_ms;
        let room = self.pending_len() + frame::PING_LEN <= self.limits.output_cap;
        let asking = self.ack_requested && matches!(self.state, LinkState::Streaming { .. });
        if (asking || streaming_or_snapshot && quiet) && room {
            frame::encode_ping(&mut self.output, backlog.next_offset(), asking);
            self.last_sent_ms = now_ms;
            self.ack_requested &= !asking;
        }
    }

    /// Queues frames from `next`; returns the new next offset.
    fn queue_frames(
        &mut self,
        backlog: &ReplicationBacklog,
        mut next: u64,
    ) -> Result<u64, ReplicationError> {
        let half_cap = (self.limits.output_cap / 2).max(1);
        let mut queued = 0usize;
        for stored in backlog.read_from(next)? {
            let pending = self.pending_len();
            let len = frame::write_frame_len(stored.bytes.len(), stored.txn);
            let over_budget = queued > 0 && queued + len > self.limits.iteration_budget;
            // A frame alone may exceed the cap; otherwise stay within it.
            let over_cap = pending > 0 && pending + len > self.limits.output_cap;
            if pending >= half_cap || over_budget || over_cap {
                break;
            }
            frame::encode_write(&mut self.output, stored.offset, stored.txn, stored.bytes);
            queued += len;
            // Cannot overflow: the backlog checked offset + len on append.
            next = stored.offset + stored.bytes.len() as u64;
        }
        Ok(next)
    }

    /// Asks the replica to acknowledge at once (for `WAIT`); the request
    /// goes with the next [`Self::pump`], behind the frames it queues.
    pub fn request_ack(&mut self) {
        self.ack_requested = true;
    }

    fn enforce_cap(&mut self) -> Result<(), ReplicationError> {
        let pending = self.pending_len();
        if pending > self.limits.output_cap {
            let error = ReplicationError::OutputCapExceeded {
                pending,
                cap: self.limits.output_cap,
            };
            self.close(error.clone(), false);
            return Err(error);
        }
        Ok(())
    }

    fn close(&mut self, error: ReplicationError, tell_replica: bool) {
        if self.state == LinkState::Closed {
            return;
        }
        if tell_replica {
            frame::encode_error(&mut self.output, &handshake::error_text(&error));
        }
        self.state = LinkState::Closed;
        self.events.push_back(PumpEvent::Closed { error });
    }

    /// Bytes to write to the socket.
    pub fn pending_output(&self) -> &[u8] {
        &self.output[self.output_start..]
    }

    /// The socket took `len` bytes of [`Self::pending_output`].
    pub fn consume_output(&mut self, len: usize, now_ms: u64) {
        if len > 0 {
            self.last_alive_ms = self.last_alive_ms.max(now_ms);
        }
        self.output_start = (self.output_start + len).min(self.output.len());
        if self.output_start == self.output.len() {
            self.output.clear();
            self.output_start = 0;
        } else if self.output_start > self.output.len() / 2 {
            self.output.drain(..self.output_start);
            self.output_start = 0;
        }
    }

    fn pending_len(&self) -> usize {
        self.output.len() - self.output_start
    }

    pub fn poll_event(&mut self) -> Option<PumpEvent> {
        self.events.pop_front()
    }

    pub fn is_closed(&self) -> bool {
        self.state == LinkState::Closed
    }

    /// The offset up to which the replica has acknowledged applying.
    pub fn acked_offset(&self) -> Option<u64> {
        self.acked
    }

    /// The offset of the next frame this link will send, when streaming.
    pub fn sent_offset(&self) -> Option<u64> {
        match self.state {
            LinkState::Streaming { next } => Some(next),
            _ => None,
        }
    }

    /// The history this link serves, once the handshake is done.
    pub fn replid(&self) -> Option<ReplId> {
        self.replid
    }

    pub fn replica_id(&self) -> Option<&str> {
        self.replica_id.as_deref()
    }
}

#[cfg(test)]
mod tests;
