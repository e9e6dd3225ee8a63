//! The replication handshake, both sides.
//!
//! Data flow: the replica builds its `REPLICATE FROM <replid> <offset> ID
//! <id> CODEC ...` request ([`build_request`]) from the history and offset
//! it has applied. The primary shard decides ([`decide`]) from its
//! replication id and backlog:
//! - same history, offset a frame boundary inside the backlog → resume
//!   (`+ACK <replid> <offset>`, then live frames from there);
//! - no data, another history, an evicted offset or one inside a frame →
//!   full sync (`+SNAPSHOT <replid>` ...) with a codec both sides know;
//! - same history but an offset ahead of the primary → refusal (`-ERR`),
//!   and the link is dropped: that replica's data is not of this history.
//!
//! The replica then reads the first reply ([`interpret_reply`]).

use crate::frame::{Codec, CodecSet, PrimaryMessage, ReplicaMessage, ReplicateRequest};
use crate::{ReplId, ReplicationBacklog, ReplicationError};

/// Why a replica must take a full sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullSyncReason {
    /// The replica has no data (`? -1`).
    NoData,
    /// The replica follows another history.
    OtherHistory,
    /// The replica's offset was evicted from the backlog.
    Evicted { first: u64 },
    /// The replica's offset falls inside a frame: its data cannot be
    /// trusted to be at a write boundary, so it is replaced.
    Misaligned,
}

/// The primary's answer to a `REPLICATE` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeDecision {
    /// `+ACK`: stream live frames from `offset`.
    Resume { offset: u64 },
    /// `+SNAPSHOT`: send a snapshot in `codec`.
    FullSync {
        codec: Codec,
        reason: FullSyncReason,
    },
    /// `-ERR`: refuse and drop the link.
    Refuse { error: ReplicationError },
}

/// Decides how to serve `request` from a primary of history `replid`
/// whose backlog is `backlog`, able to send snapshots in `codecs`.
pub fn decide(
    request: &ReplicateRequest,
    replid: &ReplId,
    backlog: &ReplicationBacklog,
    codecs: &CodecSet,
) -> HandshakeDecision {
    let reason = match &request.position {
        None => FullSyncReason::NoData,
        Some((asked, _)) if asked != replid => FullSyncReason::OtherHistory,
        Some((_, offset)) => match backlog.read_from(*offset) {
            Ok(_) => return HandshakeDecision::Resume { offset: *offset },
            Err(ReplicationError::TooOld { first, .. }) => FullSyncReason::Evicted { first },
            Err(ReplicationError::Misaligned { .. }) => FullSyncReason::Misaligned,
            Err(error) => return HandshakeDecision::Refuse { error },
        },
    };
    match negotiate_codec(&request.codecs, codecs) {
        Some(codec) => HandshakeDecision::FullSync { codec, reason },
        None => HandshakeDecision::Refuse {
            error: ReplicationError::NoCommonCodec,
        },
    }
}

/// The replica's most preferred codec that the primary can produce.
pub fn negotiate_codec(replica: &CodecSet, primary: &CodecSet) -> Option<Codec> {
    replica.iter().find(|codec| primary.contains(*codec))
}

/// The `-ERR` text (without the dash) a primary sends before dropping a
/// link for `error`.
pub fn error_text(error: &ReplicationError) -> String {
    format!("ERR replication: {error}")
}

/// The encoded `REPLICATE` request of a replica that has applied history
/// `position` (None: no data).
pub fn build_request(
    position: Option<(ReplId, u64)>,
    replica_id: &str,
    codecs: &CodecSet,
) -> Vec<u8> {
    let mut out = Vec::new();
    ReplicaMessage::Replicate(ReplicateRequest {
        position,
        replica_id: replica_id.to_owned(),
        codecs: codecs.clone(),
    })
    .encode(&mut out);
    out
}

/// How the primary answered, as the replica sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeReply {
    /// Live frames follow from `offset`, in history `replid`.
    Resumed { replid: ReplId, offset: u64 },
    /// A snapshot of history `replid` follows.
    FullSync { replid: ReplId },
}

/// Reads the primary's first message after a request for `asked`.
pub fn interpret_reply(
    asked: Option<(ReplId, u64)>,
    reply: &PrimaryMessage,
) -> Result<HandshakeReply, ReplicationError> {
    match reply {
        PrimaryMessage::Ack { replid, offset } => match asked {
            Some((asked_replid, asked_offset))
                if asked_replid == *replid && asked_offset == *offset =>
            {
                Ok(HandshakeReply::Resumed {
                    replid: *replid,
                    offset: *offset,
                })
            }
            Some((asked_replid, asked_offset)) => Err(ReplicationError::ResumeMismatch {
                asked_replid,
                asked_offset,
                found_replid: *replid,
                found_offset: *offset,
            }),
            // Nothing to resume: a resume answer is a protocol error.
            None => Err(ReplicationError::UnexpectedMessage {
                message: "+ACK",
                state: "asking for a full sync",
            }),
        },
        PrimaryMessage::SnapshotBegin { replid } => {
            Ok(HandshakeReply::FullSync { replid: *replid })
        }
        PrimaryMessage::Error { text } => Err(ReplicationError::Refused { text: text.clone() }),
        other => Err(ReplicationError::UnexpectedMessage {
            message: message_name(other),
            state: "waiting for the handshake reply",
        }),
    }
}

/// A short name of a message, for errors.
pub fn message_name(message: &PrimaryMessage) -> &'static str {
    match message {
        PrimaryMessage::Ack { .. } => "+ACK",
        PrimaryMessage::SnapshotBegin { .. } => "+SNAPSHOT",
        PrimaryMessage::SnapshotChunk { .. } => "snapshot chunk",
        PrimaryMessage::SnapshotEnd { .. } => "+SNAPSHOT_END",
        PrimaryMessage::Write { .. } => "write frame",
        PrimaryMessage::Ping { .. } => "heartbeat",
        PrimaryMessage::CoveredTransactions { .. } => "covered transactions",
        PrimaryMessage::Error { .. } => "-ERR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::ReplicaDecoder;

    fn id(byte: u8) -> ReplId {
        ReplId::from_random_bytes([byte; 20])
    }

    fn request(position: Option<(ReplId, u64)>) -> ReplicateRequest {
        ReplicateRequest {
            position,
            replica_id: "r1".into(),
            codecs: CodecSet::new(&[Codec::Zstd, Codec::Plain]),
        }
    }

    fn backlog() -> ReplicationBacklog {
        let mut backlog = ReplicationBacklog::new(6);
        for bytes in [b"aaa", b"bbb", b"ccc"] {
            backlog.append(bytes).expect("no overflow");
        }
        backlog // holds 3..9
    }

    #[test]
    fn decides_resume_full_sync_or_refusal() {
        let (me, backlog, plain) = (id(1), backlog(), CodecSet::plain_only());
        let decide = |position| decide(&request(position), &me, &backlog, &plain);
        let full = |reason| HandshakeDecision::FullSync {
            codec: Codec::Plain,
            reason,
        };
        assert_eq!(
            decide(Some((me, 3))),
            HandshakeDecision::Resume { offset: 3 }
        );
        assert_eq!(
            decide(Some((me, 9))),
            HandshakeDecision::Resume { offset: 9 }
        );
        assert_eq!(decide(None), full(FullSyncReason::NoData));
        assert_eq!(decide(Some((id(2), 3))), full(FullSyncReason::OtherHistory));
        // Another history far ahead is still a full sync, not a refusal.
        assert_eq!(
            decide(Some((id(2), 99))),
            full(FullSyncReason::OtherHistory)
        );
        assert_eq!(
            decide(Some((me, 0))),
            full(FullSyncReason::Evicted { first: 3 })
        );
        assert_eq!(decide(Some((me, 4))), full(FullSyncReason::Misaligned));
        assert_eq!(
            decide(Some((me, 10))),
            HandshakeDecision::Refuse {
                error: ReplicationError::Future {
                    requested: 10,
                    next: 9
                }
            }
        );
    }

    #[test]
    fn codec_follows_the_replica_preference_within_the_primary_set() {
        let both = CodecSet::new(&[Codec::Plain, Codec::Zstd]);
        let zstd_first = CodecSet::new(&[Codec::Zstd, Codec::Plain]);
        assert_eq!(negotiate_codec(&zstd_first, &both), Some(Codec::Zstd));
        assert_eq!(
            negotiate_codec(&zstd_first, &CodecSet::plain_only()),
            Some(Codec::Plain)
        );
        let zstd_only = CodecSet::new(&[Codec::Zstd]);
        assert_eq!(negotiate_codec(&zstd_only, &CodecSet::plain_only()), None);
        let mut only_zstd = request(None);
        only_zstd.codecs = zstd_only;
        assert_eq!(
            decide(&only_zstd, &id(1), &backlog(), &CodecSet::plain_only()),
            HandshakeDecision::Refuse {
                error: ReplicationError::NoCommonCodec
            }
        );
    }

    #[test]
    fn request_round_trips_and_reply_is_checked() {
        let bytes = build_request(Some((id(7), 42)), "replica-1", &CodecSet::plain_only());
        assert_eq!(
            bytes,
            format!("REPLICATE FROM {} 42 ID replica-1 CODEC plain\r\n", id(7)).into_bytes()
        );
        let mut decoder = ReplicaDecoder::new();
        decoder.feed(&bytes);
        let Ok(Some(ReplicaMessage::Replicate(parsed))) = decoder.next_message() else {
            panic!("request decodes");
        };
        assert_eq!(parsed.position, Some((id(7), 42)));

        let asked = Some((id(7), 42));
        let ack = PrimaryMessage::Ack {
            replid: id(7),
            offset: 42,
        };
        assert_eq!(
            interpret_reply(asked, &ack),
            Ok(HandshakeReply::Resumed {
                replid: id(7),
                offset: 42
            })
        );
        assert!(matches!(
            interpret_reply(Some((id(7), 41)), &ack),
            Err(ReplicationError::ResumeMismatch { .. })
        ));
        assert!(interpret_reply(None, &ack).is_err());
        let refused = PrimaryMessage::Error {
            text: "ERR nope".into(),
        };
        assert_eq!(
            interpret_reply(asked, &refused),
            Err(ReplicationError::Refused {
                text: "ERR nope".into()
            })
        );
        assert!(interpret_reply(
            asked,
            &PrimaryMessage::Ping {
                offset: 1,
                ack_requested: false
            }
        )
        .is_err());
    }
}
