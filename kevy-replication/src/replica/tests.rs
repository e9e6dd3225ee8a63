//! Unit tests of the replica's per-link state machine: handshake replies,
//! snapshot, streaming with gap checks, acknowledgements and timeouts.

use super::*;
use crate::frame;

fn id(byte: u8) -> ReplId {
    ReplId::from_random_bytes([byte; 20])
}

fn config() -> ReplicaConfig {
    ReplicaConfig {
        ack_interval_ms: 100,
        link_timeout_ms: 1_000,
        ..ReplicaConfig::new("r1")
    }
}

fn events(link: &mut ReplicaLink) -> Vec<ReplicaEvent> {
    std::iter::from_fn(|| link.poll_event()).collect()
}

fn encode(messages: &[PrimaryMessage]) -> Vec<u8> {
    let mut out = Vec::new();
    for message in messages {
        message.encode(&mut out);
    }
    out
}

fn write(offset: u64, bytes: &[u8]) -> PrimaryMessage {
    PrimaryMessage::Write {
        offset,
        txn: None,
        bytes: bytes.to_vec(),
    }
}

#[test]
fn resume_stream_and_acknowledge() {
    let mut link = ReplicaLink::new(config(), Some((id(1), 10)));
    link.connect(0);
    let sent = events(&mut link);
    let [ReplicaEvent::Transmit { bytes }] = sent.as_slice() else {
        panic!("a request, got {sent:?}");
    };
    assert_eq!(
        *bytes,
        handshake::build_request(Some((id(1), 10)), "r1", &CodecSet::plain_only())
    );
    let stream = encode(&[
        PrimaryMessage::Ack {
            replid: id(1),
            offset: 10,
        },
        write(10, b"abc"),
        PrimaryMessage::Ping {
            offset: 20,
            ack_requested: false,
        },
    ]);
    // Byte by byte: any split decodes the same.
    for byte in &stream {
        link.receive(std::slice::from_ref(byte), 5)
            .expect("valid stream");
    }
    assert_eq!(
        events(&mut link),
        vec![
            ReplicaEvent::Resumed {
                replid: id(1),
                offset: 10
            },
            ReplicaEvent::Apply {
                offset: 10,
                bytes: b"abc".to_vec()
            },
        ]
    );
    assert_eq!(link.lag(), Some(7));
    assert!(link.mark_applied(13));
    assert!(!link.mark_applied(14), "not delivered yet");
    link.tick(50).expect("alive");
    assert!(events(&mut link).is_empty(), "not due yet");
    link.tick(100).expect("alive");
    assert_eq!(
        events(&mut link),
        vec![ReplicaEvent::Transmit {
            bytes: b"REPLCONF ACK 13\r\n".to_vec()
        }]
    );
    assert_eq!(link.applied(), Some((id(1), 13)));
}

#[test]
fn full_sync_then_stream() {
    let mut link = ReplicaLink::new(config(), Some((id(9), 3)));
    link.connect(0);
    events(&mut link);
    let stream = encode(&[
        PrimaryMessage::SnapshotBegin { replid: id(1) },
        PrimaryMessage::SnapshotChunk {
            codec: Codec::Plain,
            bytes: b"state".to_vec(),
        },
        PrimaryMessage::Ping {
            offset: 40,
            ack_requested: false,
        },
        PrimaryMessage::SnapshotEnd { offset: 40 },
        write(40, b"w"),
    ]);
    link.receive(&stream, 1).expect("valid stream");
    assert_eq!(
        events(&mut link),
        vec![
            ReplicaEvent::SnapshotBegin { replid: id(1) },
            ReplicaEvent::SnapshotChunk {
                codec: Codec::Plain,
                bytes: b"state".to_vec()
            },
            ReplicaEvent::SnapshotEnd { offset: 40 },
            ReplicaEvent::Apply {
                offset: 40,
                bytes: b"w".to_vec()
            },
        ]
    );
    assert_eq!(link.applied(), None, "nothing applied until marked");
    assert!(link.mark_applied(40));
    assert!(link.mark_applied(41));
    assert_eq!(link.applied(), Some((id(1), 41)));
}

#[test]
fn a_link_lost_mid_snapshot_forgets_its_position() {
    let mut link = ReplicaLink::new(config(), Some((id(1), 3)));
    link.connect(0);
    link.receive(
        &encode(&[PrimaryMessage::SnapshotBegin { replid: id(2) }]),
        0,
    )
    .expect("valid");
    link.disconnected();
    let seen = events(&mut link);
    assert_eq!(seen.last(), Some(&ReplicaEvent::SnapshotAborted));
    link.connect(1);
    let Some(ReplicaEvent::Transmit { bytes }) = link.poll_event() else {
        panic!("a request");
    };
    assert!(bytes.starts_with(b"REPLICATE FROM ? -1"));
}

#[test]
fn gaps_corruption_refusals_and_silence_fail_the_link() {
    type Check = fn(&ReplicationError) -> bool;
    let cases: Vec<(Vec<u8>, Check)> = vec![
        (encode(&[write(11, b"x")]), |e| {
            matches!(
                e,
                ReplicationError::OffsetGap {
                    expected: 10,
                    found: 11
                }
            )
        }),
        (encode(&[write(10, b"xy"), write(11, b"z")]), |e| {
            matches!(
                e,
                ReplicationError::OffsetGap {
                    expected: 12,
                    found: 11
                }
            )
        }),
        (
            encode(&[PrimaryMessage::Ping {
                offset: 9,
                ack_requested: false,
            }]),
            |e| matches!(e, ReplicationError::PrimaryOffsetWentBack { .. }),
        ),
        (encode(&[PrimaryMessage::SnapshotEnd { offset: 10 }]), |e| {
            matches!(e, ReplicationError::UnexpectedMessage { .. })
        }),
        (
            encode(&[PrimaryMessage::Error {
                text: "ERR gone".into(),
            }]),
            |e| matches!(e, ReplicationError::Refused { .. }),
        ),
        (
            {
                let mut bytes = encode(&[write(10, b"abc")]);
                bytes[14] ^= 1;
                bytes
            },
            |e| matches!(e, ReplicationError::ChecksumMismatch { .. }),
        ),
    ];
    for (bytes, expected) in cases {
        let mut link = ReplicaLink::new(config(), Some((id(1), 10)));
        link.connect(0);
        let ack = encode(&[PrimaryMessage::Ack {
            replid: id(1),
            offset: 10,
        }]);
        link.receive(&ack, 0).expect("valid");
        let error = link.receive(&bytes, 0).expect_err("fails");
        assert!(expected(&error), "{error:?}");
        assert!(link.is_failed());
        assert_eq!(link.receive(&ack, 0), Err(ReplicationError::LinkClosed));
    }

    let mut link = ReplicaLink::new(config(), None);
    link.connect(0);
    link.tick(1_000).expect("not yet");
    assert!(matches!(
        link.tick(1_001),
        Err(ReplicationError::LinkTimeout { idle_ms: 1_001 })
    ));
}

#[test]
fn resume_answers_must_match_the_request() {
    let mut link = ReplicaLink::new(config(), Some((id(1), 10)));
    link.connect(0);
    let wrong = encode(&[PrimaryMessage::Ack {
        replid: id(1),
        offset: 12,
    }]);
    assert!(matches!(
        link.receive(&wrong, 0),
        Err(ReplicationError::ResumeMismatch { .. })
    ));
    let mut link = ReplicaLink::new(config(), None);
    link.connect(0);
    let mut chunk = Vec::new();
    frame::encode_chunk(&mut chunk, Codec::Plain, b"x");
    assert!(matches!(
        link.receive(&chunk, 0),
        Err(ReplicationError::UnexpectedMessage { .. })
    ));
}

#[test]
fn transaction_parts_are_handed_to_the_assembler() {
    let mut link = ReplicaLink::new(config(), Some((id(1), 0)));
    link.connect(0);
    events(&mut link);
    let mark = TxnMark { id: 4, parts: 2 };
    let stream = encode(&[
        PrimaryMessage::Ack {
            replid: id(1),
            offset: 0,
        },
        PrimaryMessage::Write {
            offset: 0,
            txn: Some(mark),
            bytes: b"part".to_vec(),
        },
    ]);
    link.receive(&stream, 0).expect("valid");
    assert_eq!(
        events(&mut link).pop(),
        Some(ReplicaEvent::TransactionPart {
            offset: 0,
            mark,
            bytes: b"part".to_vec()
        })
    );
}

#[test]
fn an_ack_request_is_answered_at_the_next_tick() {
    let mut link = ReplicaLink::new(config(), Some((id(1), 0)));
    link.connect(0);
    let stream = encode(&[
        PrimaryMessage::Ack {
            replid: id(1),
            offset: 0,
        },
        write(0, b"ab"),
        PrimaryMessage::Ping {
            offset: 2,
            ack_requested: true,
        },
    ]);
    link.receive(&stream, 1).expect("valid");
    events(&mut link);
    assert!(link.mark_applied(2));
    link.tick(2).expect("alive");
    assert_eq!(
        events(&mut link),
        vec![ReplicaEvent::Transmit {
            bytes: b"REPLCONF ACK 2\r\n".to_vec()
        }]
    );
    link.tick(3).expect("alive");
    assert!(events(&mut link).is_empty(), "answered once");
}

mod hostile {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// A valid beginning followed by anything: no panic, and every
        /// write handed out is one the primary sent, at its offset.
        #[test]
        fn garbage_after_a_valid_start_never_panics_or_misapplies(
            resume in any::<bool>(),
            valid_writes in 0usize..5,
            garbage in prop::collection::vec(any::<u8>(), 0..200),
            split in 1usize..50,
        ) {
            let mut link = ReplicaLink::new(config(), resume.then_some((id(1), 0)));
            link.connect(0);
            let mut messages = vec![if resume {
                PrimaryMessage::Ack { replid: id(1), offset: 0 }
            } else {
                PrimaryMessage::SnapshotBegin { replid: id(1) }
            }];
            if !resume {
                messages.push(PrimaryMessage::SnapshotEnd { offset: 0 });
            }
            let sent: Vec<Vec<u8>> = (0..valid_writes).map(|n| format!("w{n}").into_bytes()).collect();
            let mut offset = 0;
            for bytes in &sent {
                messages.push(write(offset, bytes));
                offset += bytes.len() as u64;
            }
            let mut stream = encode(&messages);
            stream.extend_from_slice(&garbage);
            for piece in stream.chunks(split) {
                if link.receive(piece, 1).is_err() {
                    break;
                }
            }
            let mut expected_offset = 0;
            let mut index = 0;
            for event in events(&mut link) {
                if let ReplicaEvent::Apply { offset, bytes } = event {
                    // Garbage may hold a valid frame by chance only if its
                    // crc matches; the gap check still pins its offset.
                    prop_assert_eq!(offset, expected_offset);
                    if index < sent.len() {
                        prop_assert_eq!(&bytes, &sent[index]);
                    }
                    expected_offset += bytes.len() as u64;
                    index += 1;
                }
            }
            prop_assert!(index >= sent.len());
        }
    }
}
