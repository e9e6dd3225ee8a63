//! Unit tests of the primary's per-link pump: resume, full sync, budgets,
//! back-pressure, caps, heartbeats, timeouts and acknowledgements.

use super::*;
use crate::frame::PrimaryDecoder;

fn id(byte: u8) -> ReplId {
    ReplId::from_random_bytes([byte; 20])
}

fn limits() -> PumpLimits {
    PumpLimits {
        iteration_budget: 1_000,
        output_cap: 1_000,
        heartbeat_interval_ms: 100,
        link_timeout_ms: 1_000,
    }
}

fn request(position: Option<(ReplId, u64)>) -> Vec<u8> {
    handshake::build_request(position, "r1", &CodecSet::plain_only())
}

fn backlog_of(frames: usize, size: usize) -> ReplicationBacklog {
    let mut backlog = ReplicationBacklog::new(1 << 20);
    for index in 0..frames {
        backlog
            .append(&vec![b'a' + (index % 26) as u8; size])
            .expect("no overflow");
    }
    backlog
}

/// Takes all output and decodes it.
fn drain(pump: &mut ReplicaPump) -> Vec<PrimaryMessage> {
    let bytes = pump.pending_output().to_vec();
    pump.consume_output(bytes.len(), 0);
    let mut decoder = PrimaryDecoder::default();
    decoder.feed(&bytes);
    let mut out = Vec::new();
    while let Some(message) = decoder.next_message().expect("the pump sends valid frames") {
        out.push(message);
    }
    out
}

fn events(pump: &mut ReplicaPump) -> Vec<PumpEvent> {
    std::iter::from_fn(|| pump.poll_event()).collect()
}

fn write_offsets(messages: &[PrimaryMessage]) -> Vec<u64> {
    messages
        .iter()
        .filter_map(|message| match message {
            PrimaryMessage::Write { offset, .. } => Some(*offset),
            _ => None,
        })
        .collect()
}

#[test]
fn resumes_and_streams_then_takes_acks() {
    let me = id(1);
    let mut backlog = backlog_of(3, 10);
    let mut pump = ReplicaPump::new(limits(), CodecSet::plain_only(), 0);
    pump.receive(&request(Some((me, 10))), &me, &backlog, 0);
    assert_eq!(events(&mut pump), vec![PumpEvent::Resumed { offset: 10 }]);
    pump.pump(&backlog, 0);
    let sent = drain(&mut pump);
    assert_eq!(
        sent[0],
        PrimaryMessage::Ack {
            replid: me,
            offset: 10
        }
    );
    assert_eq!(write_offsets(&sent), vec![10, 20]);
    backlog.append(b"more").expect("no overflow");
    pump.pump(&backlog, 1);
    assert_eq!(write_offsets(&drain(&mut pump)), vec![30]);
    assert_eq!(pump.sent_offset(), Some(34));

    pump.receive(b"REPLCONF ACK 30\r\nREPLCONF ACK 30\r\n", &me, &backlog, 2);
    assert_eq!(events(&mut pump), vec![PumpEvent::Acked { offset: 30 }]);
    assert_eq!(pump.acked_offset(), Some(30));
    // An acknowledgement of what was never sent closes the link.
    pump.receive(b"REPLCONF ACK 35\r\n", &me, &backlog, 3);
    assert!(pump.is_closed());
    assert!(matches!(
        drain(&mut pump).last(),
        Some(PrimaryMessage::Error { .. })
    ));
}

#[test]
fn full_sync_sends_snapshot_then_frames_from_its_offset() {
    let me = id(1);
    let mut backlog = backlog_of(2, 10);
    let mut pump = ReplicaPump::new(limits(), CodecSet::plain_only(), 0);
    pump.receive(&request(Some((id(9), 20))), &me, &backlog, 0);
    assert_eq!(
        events(&mut pump),
        vec![PumpEvent::SnapshotNeeded {
            codec: Codec::Plain,
            reason: FullSyncReason::OtherHistory
        }]
    );
    assert!(pump.snapshot_room());
    pump.push_snapshot_chunk(Codec::Plain, b"state", 1)
        .expect("room");
    assert_eq!(
        pump.push_snapshot_chunk(Codec::Zstd, b"x", 1),
        Err(ReplicationError::NoCommonCodec)
    );
    // Writes during the snapshot are not sent before it ends.
    backlog.append(b"during").expect("no overflow");
    pump.pump(&backlog, 2);
    pump.end_snapshot(20, 3).expect("in a snapshot");
    pump.pump(&backlog, 3);
    let sent = drain(&mut pump);
    assert_eq!(sent[0], PrimaryMessage::SnapshotBegin { replid: me });
    assert_eq!(
        sent[1],
        PrimaryMessage::SnapshotChunk {
            codec: Codec::Plain,
            bytes: b"state".to_vec()
        }
    );
    assert_eq!(sent[2], PrimaryMessage::SnapshotEnd { offset: 20 });
    assert_eq!(write_offsets(&sent), vec![20]);
    assert_eq!(
        events(&mut pump),
        vec![PumpEvent::SnapshotSent { offset: 20 }]
    );
}

#[test]
fn budget_back_pressure_and_oversized_frames() {
    let me = id(1);
    let backlog = backlog_of(20, 100); // each frame is 117 bytes on the wire
    let mut pump = ReplicaPump::new(
        PumpLimits {
            iteration_budget: 300,
            ..limits()
        },
        CodecSet::plain_only(),
        0,
    );
    pump.receive(&request(Some((me, 0))), &me, &backlog, 0);
    pump.consume_output(pump.pending_output().len(), 0);
    pump.pump(&backlog, 0);
    // Two frames fit the per-iteration budget of 300 bytes.
    assert_eq!(pump.sent_offset(), Some(200));
    pump.pump(&backlog, 0);
    pump.pump(&backlog, 0);
    // Back-pressure: nothing more is pulled at half the cap (500 bytes).
    let pending = pump.pending_output().len();
    assert!((500..=1_000).contains(&pending), "{pending}");
    let stalled = pump.sent_offset();
    pump.pump(&backlog, 0);
    assert_eq!(pump.sent_offset(), stalled);
    assert_eq!(write_offsets(&drain(&mut pump)).len(), 5);
    pump.pump(&backlog, 0);
    assert_eq!(pump.sent_offset(), Some(700));

    // A frame larger than the cap still goes, alone.
    let mut big = ReplicationBacklog::new(1 << 20);
    big.append(&[7u8; 5_000]).expect("no overflow");
    let mut pump = ReplicaPump::new(limits(), CodecSet::plain_only(), 0);
    pump.receive(&request(Some((me, 0))), &me, &big, 0);
    pump.consume_output(pump.pending_output().len(), 0);
    pump.pump(&big, 0);
    assert_eq!(pump.sent_offset(), Some(5_000));
    assert!(!pump.is_closed());
}

#[test]
fn an_evicted_next_frame_closes_the_link() {
    let me = id(1);
    let mut backlog = ReplicationBacklog::new(50);
    backlog.append(&[1u8; 40]).expect("no overflow");
    let mut pump = ReplicaPump::new(limits(), CodecSet::plain_only(), 0);
    pump.receive(&request(Some((me, 0))), &me, &backlog, 0);
    // The replica reads nothing; the backlog moves on.
    for _ in 0..10 {
        pump.pump(&backlog, 0);
        backlog.append(&[2u8; 40]).expect("no overflow");
    }
    pump.pump(&backlog, 0);
    assert!(pump.is_closed());
    let closed = events(&mut pump).pop();
    assert!(matches!(
        closed,
        Some(PumpEvent::Closed {
            error: ReplicationError::TooOld { .. }
        })
    ));
}

#[test]
fn refusals_and_protocol_errors_close_with_an_error_line() {
    let me = id(1);
    let backlog = backlog_of(1, 10);
    let mut pump = ReplicaPump::new(limits(), CodecSet::plain_only(), 0);
    pump.receive(&request(Some((me, 11))), &me, &backlog, 0);
    assert!(pump.is_closed());
    let sent = drain(&mut pump);
    let [PrimaryMessage::Error { text }] = sent.as_slice() else {
        panic!("one error line, got {sent:?}");
    };
    assert_eq!(
        text,
        "ERR replication: offset 11 is beyond the primary's next offset 10"
    );

    let mut pump = ReplicaPump::new(limits(), CodecSet::plain_only(), 0);
    pump.receive(b"REPLCONF ACK 1\r\n", &me, &backlog, 0);
    assert!(pump.is_closed());
    let mut pump = ReplicaPump::new(limits(), CodecSet::plain_only(), 0);
    pump.receive(b"\x00\x01garbage\r\n", &me, &backlog, 0);
    assert!(pump.is_closed());
}

#[test]
fn heartbeats_when_quiet_and_timeout_when_the_replica_is_silent() {
    let me = id(1);
    let backlog = backlog_of(1, 10);
    let mut pump = ReplicaPump::new(limits(), CodecSet::plain_only(), 0);
    pump.receive(&request(Some((me, 10))), &me, &backlog, 0);
    drain(&mut pump);
    pump.pump(&backlog, 50);
    assert!(drain(&mut pump).is_empty());
    pump.pump(&backlog, 100);
    assert_eq!(
        drain(&mut pump),
        vec![PrimaryMessage::Ping {
            offset: 10,
            ack_requested: false
        }]
    );
    pump.receive(b"REPLCONF ACK 10\r\n", &me, &backlog, 900);
    pump.pump(&backlog, 1_800);
    assert!(!pump.is_closed());
    pump.pump(&backlog, 1_901);
    assert!(pump.is_closed());
}

#[test]
fn pushing_chunks_past_the_cap_closes_the_link() {
    let me = id(1);
    let backlog = backlog_of(0, 0);
    let mut pump = ReplicaPump::new(limits(), CodecSet::plain_only(), 0);
    pump.receive(&request(None), &me, &backlog, 0);
    let chunk = [0u8; 450];
    pump.push_snapshot_chunk(Codec::Plain, &chunk, 0)
        .expect("room");
    assert!(!pump.snapshot_room());
    pump.push_snapshot_chunk(Codec::Plain, &chunk, 0)
        .expect("still under the hard cap");
    assert!(matches!(
        pump.push_snapshot_chunk(Codec::Plain, &chunk, 0),
        Err(ReplicationError::OutputCapExceeded { .. })
    ));
    assert!(pump.is_closed());
    assert_eq!(
        pump.push_snapshot_chunk(Codec::Plain, &chunk, 0),
        Err(ReplicationError::NoSnapshotInProgress)
    );
}

#[test]
fn wait_asks_for_an_acknowledgement_at_once() {
    let me = id(1);
    let backlog = backlog_of(1, 10);
    let mut pump = ReplicaPump::new(limits(), CodecSet::plain_only(), 0);
    pump.receive(&request(Some((me, 0))), &me, &backlog, 0);
    drain(&mut pump);
    pump.request_ack();
    pump.pump(&backlog, 1);
    let sent = drain(&mut pump);
    assert_eq!(write_offsets(&sent), vec![0]);
    assert_eq!(
        sent.last(),
        Some(&PrimaryMessage::Ping {
            offset: 10,
            ack_requested: true
        })
    );
    pump.pump(&backlog, 2);
    assert!(drain(&mut pump).is_empty(), "asked once");
}
