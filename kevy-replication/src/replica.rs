//! The replica side of one link to a primary shard: handshake, snapshot in
//! progress, streaming with gap checks, acknowledgements.
//!
//! Data flow: [`ReplicaLink::connect`] queues the `REPLICATE` request; the
//! I/O layer feeds what the primary sends ([`ReplicaLink::receive`]) and
//! calls [`ReplicaLink::tick`] each loop (acks, timeout); it drains
//! [`ReplicaEvent`]s in order — bytes to transmit, snapshot begin/chunks/
//! end, writes to apply, transaction parts for the [`crate::TxnAssembler`]
//! — and reports what it has applied ([`ReplicaLink::mark_applied`]),
//! which is what the acks carry and where a reconnect resumes.
//!
//! Any error (corrupt frame, offset gap, refusal, timeout) leaves the link
//! failed: the caller drops the connection and calls `connect` again. A
//! link lost during a snapshot forgets its position (its data is half
//! replaced), so the next connect asks for a full sync.

use std::collections::VecDeque;

use crate::frame::{Codec, CodecSet, PrimaryDecoder, PrimaryMessage, ReplicaMessage, TxnMark};
use crate::handshake::{self, HandshakeReply};
use crate::{ReplId, ReplicationError, FRAME_PAYLOAD_MAX};

/// Settings of a replica link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaConfig {
    pub replica_id: String,
    /// Snapshot codecs this replica decodes, preferred first.
    pub codecs: CodecSet,
    /// An acknowledgement goes out at least this often while streaming.
    pub ack_interval_ms: u64,
    /// No word from the primary for this long fails the link.
    pub link_timeout_ms: u64,
    /// Largest write frame accepted (at most [`FRAME_PAYLOAD_MAX`]).
    pub max_payload: usize,
}

impl ReplicaConfig {
    pub fn new(replica_id: impl Into<String>) -> Self {
        ReplicaConfig {
            replica_id: replica_id.into(),
            codecs: CodecSet::plain_only(),
            ack_interval_ms: 1_000,
            link_timeout_ms: 60_000,
            max_payload: FRAME_PAYLOAD_MAX,
        }
    }
}

/// What the replica must do, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaEvent {
    /// Bytes for the primary (the request, acknowledgements).
    Transmit {
        bytes: Vec<u8>,
    },
    /// Partial resume: writes follow from `offset`.
    Resumed {
        replid: ReplId,
        offset: u64,
    },
    /// A full sync of history `replid` begins: start loading a fresh state.
    SnapshotBegin {
        replid: ReplId,
    },
    SnapshotChunk {
        codec: Codec,
        bytes: Vec<u8>,
    },
    /// The snapshot is complete and holds every write before `offset`.
    SnapshotEnd {
        offset: u64,
    },
    /// Transactions whose part on this stream the snapshot holds (comes
    /// before `SnapshotEnd`): give them to the `TxnAssembler`.
    CoveredTransactions {
        ids: Vec<u64>,
    },
    /// The link broke during a snapshot: discard what was loaded.
    SnapshotAborted,
    /// Apply one write occupying `offset .. offset + bytes.len()`.
    Apply {
        offset: u64,
        bytes: Vec<u8>,
    },
    /// One part of a cross-shard transaction, for the transaction assembler.
    TransactionPart {
        offset: u64,
        mark: TxnMark,
        bytes: Vec<u8>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkState {
    Disconnected,
    AwaitingReply { asked: Option<(ReplId, u64)> },
    Snapshot { replid: ReplId },
    Streaming { replid: ReplId, next: u64 },
    Failed,
}

/// One replica's link to one primary shard.
pub struct ReplicaLink {
    config: ReplicaConfig,
    state: LinkState,
    decoder: PrimaryDecoder,
    events: VecDeque<ReplicaEvent>,
    /// History and offset applied: where a reconnect resumes.
    applied: Option<(ReplId, u64)>,
    /// History and offset of the last event handed out (`>= applied`).
    delivered: Option<(ReplId, u64)>,
    primary_offset: Option<u64>,
    /// The primary asked for an acknowledgement (for `WAIT`).
    ack_requested: bool,
    last_heard_ms: u64,
    last_ack_ms: u64,
}

impl ReplicaLink {
    /// A link of a replica whose data is at `applied` (None: no data).
    pub fn new(config: ReplicaConfig, applied: Option<(ReplId, u64)>) -> Self {
        ReplicaLink {
            decoder: PrimaryDecoder::new(config.max_payload),
            config,
            state: LinkState::Disconnected,
            events: VecDeque::new(),
            applied,
            delivered: applied,
            primary_offset: None,
            ack_requested: false,
            last_heard_ms: 0,
            last_ack_ms: 0,
        }
    }

    /// Starts a connection: queues the request for the primary.
    pub fn connect(&mut self, now_ms: u64) {
        self.disconnected();
        self.decoder = PrimaryDecoder::new(self.config.max_payload);
        self.delivered = self.applied;
        self.state = LinkState::AwaitingReply {
            asked: self.applied,
        };
        self.last_heard_ms = now_ms;
        self.last_ack_ms = now_ms;
        let bytes =
            handshake::build_request(self.applied, &self.config.replica_id, &self.config.codecs);
        self.events.push_back(ReplicaEvent::Transmit { bytes });
    }

    /// The connection is gone (closed, failed or timed out).
    pub fn disconnected(&mut self) {
        if let LinkState::Snapshot { .. } = self.state {
            self.abort_snapshot();
        }
        self.state = LinkState::Disconnected;
    }

    fn abort_snapshot(&mut self) {
        self.applied = None;
        self.delivered = None;
        self.events.push_back(ReplicaEvent::SnapshotAborted);
    }

    fn fail(&mut self, error: ReplicationError) -> ReplicationError {
        if let LinkState::Snapshot { .. } = self.state {
            self.abort_snapshot();
        }
        self.state = LinkState::Failed;
        error
    }

    /// Takes bytes from the primary. An error fails the link.
    pub fn receive(&mut self, bytes: &[u8], now_ms: u64) -> Result<(), ReplicationError> {
        match self.state {
            LinkState::Disconnected | LinkState::Failed => {
                return Err(ReplicationError::LinkClosed)
            }
            _ => {}
        }
        self.last_heard_ms = now_ms;
        self.decoder.feed(bytes);
        loop {
            let message = match self.decoder.next_message() {
                Ok(Some(message)) => message,
                Ok(None) => return Ok(()),
                Err(error) => return Err(self.fail(error)),
            };
            if let Err(error) = self.handle(message) {
                return Err(self.fail(error));
            }
        }
    }

    fn handle(&mut self, message: PrimaryMessage) -> Result<(), ReplicationError> {
        match (self.state, message) {
            (_, PrimaryMessage::Error { text }) => Err(ReplicationError::Refused { text }),
            (LinkState::AwaitingReply { asked }, reply) => {
                match handshake::interpret_reply(asked, &reply)? {
                    HandshakeReply::Resumed { replid, offset } => {
                        self.state = LinkState::Streaming {
                            replid,
                            next: offset,
                        };
                        self.events
                            .push_back(ReplicaEvent::Resumed { replid, offset });
                    }
                    HandshakeReply::FullSync { replid } => {
                        // The data is about to be replaced: until the
                        // snapshot is applied there is nothing to resume.
                        self.applied = None;
                        self.delivered = None;
                        self.state = LinkState::Snapshot { replid };
                        self.events
                            .push_back(ReplicaEvent::SnapshotBegin { replid });
                    }
                }
                Ok(())
            }
            (LinkState::Snapshot { .. }, PrimaryMessage::SnapshotChunk { codec, bytes }) => {
                if !self.config.codecs.contains(codec) {
                    return Err(ReplicationError::NoCommonCodec);
                }
                self.events
                    .push_back(ReplicaEvent::SnapshotChunk { codec, bytes });
                Ok(())
            }
            (LinkState::Snapshot { replid }, PrimaryMessage::SnapshotEnd { offset }) => {
                self.state = LinkState::Streaming {
                    replid,
                    next: offset,
                };
                self.delivered = Some((replid, offset));
                self.events.push_back(ReplicaEvent::SnapshotEnd { offset });
                Ok(())
            }
            (LinkState::Snapshot { .. }, PrimaryMessage::CoveredTransactions { ids }) => {
                self.events
                    .push_back(ReplicaEvent::CoveredTransactions { ids });
                Ok(())
            }
            (LinkState::Snapshot { .. }, PrimaryMessage::Ping { offset, .. }) => {
                self.primary_offset = Some(offset);
                Ok(())
            }
            (
                LinkState::Streaming { replid, next },
                PrimaryMessage::Write { offset, txn, bytes },
            ) => {
                if offset != next {
                    return Err(ReplicationError::OffsetGap {
                        expected: next,
                        found: offset,
                    });
                }
                let end = offset.checked_add(bytes.len() as u64).ok_or(
                    ReplicationError::OffsetOverflow {
                        next: offset,
                        len: bytes.len(),
                    },
                )?;
                self.state = LinkState::Streaming { replid, next: end };
                self.delivered = Some((replid, end));
                self.primary_offset = Some(self.primary_offset.map_or(end, |seen| seen.max(end)));
                self.events.push_back(match txn {
                    None => ReplicaEvent::Apply { offset, bytes },
                    Some(mark) => ReplicaEvent::TransactionPart {
                        offset,
                        mark,
                        bytes,
                    },
                });
                Ok(())
            }
            (
                LinkState::Streaming { next, .. },
                PrimaryMessage::Ping {
                    offset,
                    ack_requested,
                },
            ) => {
                if offset < next {
                    return Err(ReplicationError::PrimaryOffsetWentBack {
                        primary: offset,
                        received: next,
                    });
                }
                self.primary_offset = Some(offset);
                // Acknowledged at the next tick, after the caller has
                // applied (and marked) what came before the request.
                self.ack_requested |= ack_requested;
                Ok(())
            }
            (state, message) => Err(ReplicationError::UnexpectedMessage {
                message: handshake::message_name(&message),
                state: match state {
                    LinkState::Disconnected | LinkState::Failed => "disconnected",
                    LinkState::AwaitingReply { .. } => "waiting for the handshake reply",
                    LinkState::Snapshot { .. } => "receiving a snapshot",
                    LinkState::Streaming { .. } => "streaming",
                },
            }),
        }
    }

    /// The caller has applied every event up to `offset` (the end of an
    /// `Apply`/part, or a `SnapshotEnd` offset once the snapshot is
    /// loaded). Offsets outside what was delivered are ignored.
    pub fn mark_applied(&mut self, offset: u64) -> bool {
        let Some((replid, delivered)) = self.delivered else {
            return false;
        };
        let floor = match self.applied {
            Some((applied_replid, applied)) if applied_replid == replid => applied,
            // Another (or no) history applied so far: the snapshot's end
            // is the first valid point, and it is <= delivered.
            _ => 0,
        };
        if offset < floor || offset > delivered {
            return false;
        }
        self.applied = Some((replid, offset));
        true
    }

    /// One loop iteration: an acknowledgement when due, the timeout check.
    pub fn tick(&mut self, now_ms: u64) -> Result<(), ReplicationError> {
        let idle_ms = now_ms.saturating_sub(self.last_heard_ms);
        match self.state {
            LinkState::Disconnected | LinkState::Failed => return Ok(()),
            _ if idle_ms > self.config.link_timeout_ms => {
                return Err(self.fail(ReplicationError::LinkTimeout { idle_ms }))
            }
            LinkState::Streaming { replid, .. } => {
                let due = self.ack_requested
                    || now_ms.saturating_sub(self.last_ack_ms) >= self.config.ack_interval_ms;
                if let (true, Some((applied_replid, offset))) = (due, self.applied) {
                    if applied_replid == replid {
                        self.queue_ack(offset, now_ms);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Queues an acknowledgement now (for a prompt `WAIT`).
    pub fn ack_now(&mut self, now_ms: u64) {
        if let (LinkState::Streaming { replid, .. }, Some((applied_replid, offset))) =
            (self.state, self.applied)
        {
            if applied_replid == replid {
                self.queue_ack(offset, now_ms);
            }
        }
    }

    fn queue_ack(&mut self, offset: u64, now_ms: u64) {
        let mut bytes = Vec::new();
        ReplicaMessage::Ack { offset }.encode(&mut bytes);
        self.events.push_back(ReplicaEvent::Transmit { bytes });
        self.last_ack_ms = now_ms;
        self.ack_requested = false;
    }

    pub fn poll_event(&mut self) -> Option<ReplicaEvent> {
        self.events.pop_front()
    }

    /// History and offset applied: what a restart with this data resumes.
    pub fn applied(&self) -> Option<(ReplId, u64)> {
        self.applied
    }

    /// How far the replica trails the primary's last announced offset.
    pub fn lag(&self) -> Option<u64> {
        let (_, delivered) = self.delivered?;
        Some(self.primary_offset?.saturating_sub(delivered))
    }

    pub fn is_streaming(&self) -> bool {
        matches!(self.state, LinkState::Streaming { .. })
    }

    pub fn is_failed(&self) -> bool {
        self.state == LinkState::Failed
    }
}

#[cfg(test)]
mod tests;
