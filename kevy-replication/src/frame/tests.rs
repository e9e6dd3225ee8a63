//! Tests of the wire messages: exact layouts, hostile input, and property
//! tests that any message sequence decodes the same across any split of
//! its bytes and that corruption of a binary frame is detected.

use proptest::prelude::*;

use super::*;
use crate::ReplicationError;

fn id(byte: u8) -> ReplId {
    ReplId::from_random_bytes([byte; 20])
}

fn decode_all(bytes: &[u8]) -> (Vec<PrimaryMessage>, Result<(), ReplicationError>) {
    let mut decoder = PrimaryDecoder::default();
    decoder.feed(bytes);
    let mut out = Vec::new();
    loop {
        match decoder.next_message() {
            Ok(Some(message)) => out.push(message),
            Ok(None) => return (out, Ok(())),
            Err(error) => return (out, Err(error)),
        }
    }
}

#[test]
fn lines_are_exact() {
    let mut out = Vec::new();
    PrimaryMessage::Ack {
        replid: id(1),
        offset: 7,
    }
    .encode(&mut out);
    PrimaryMessage::SnapshotEnd { offset: 0 }.encode(&mut out);
    encode_error(&mut out, "ERR bad\r\nthing");
    let text = format!("+ACK {} 7\r\n+SNAPSHOT_END 0\r\n-ERR bad  thing\r\n", id(1));
    assert_eq!(out, text.as_bytes());
    let mut ack = Vec::new();
    ReplicaMessage::Ack { offset: 12 }.encode(&mut ack);
    assert_eq!(ack, b"REPLCONF ACK 12\r\n");
}

#[test]
fn write_frame_layout_and_length() {
    let mut out = Vec::new();
    encode_write(&mut out, 5, None, b"xy");
    assert_eq!(out[0], b'W');
    assert_eq!(&out[1..9], &5u64.to_le_bytes());
    assert_eq!(&out[9..13], &2u32.to_le_bytes());
    assert_eq!(&out[13..15], b"xy");
    assert_eq!(&out[15..], &crc32fast::hash(&out[..15]).to_le_bytes());
    assert_eq!(out.len(), write_frame_len(2, None));
    let mark = Some(TxnMark { id: 9, parts: 2 });
    let mut txn = Vec::new();
    encode_write(&mut txn, 5, mark, b"xy");
    assert_eq!(txn.len(), write_frame_len(2, mark));
}

#[test]
fn hostile_input_is_an_error_not_a_panic() {
    let (_, result) = decode_all(b"?garbage");
    assert_eq!(result, Err(ReplicationError::UnknownFrameTag { tag: b'?' }));

    // A length claiming 4 GiB is refused from the header alone.
    let mut huge = vec![TAG_WRITE];
    huge.extend_from_slice(&0u64.to_le_bytes());
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    let (_, result) = decode_all(&huge);
    assert!(matches!(
        result,
        Err(ReplicationError::FrameTooLarge { kind: "write", .. })
    ));

    // A chunk over the chunk limit likewise.
    let mut chunk = vec![TAG_CHUNK, 0];
    chunk.extend_from_slice(&(SNAPSHOT_CHUNK_MAX as u32 + 1).to_le_bytes());
    assert!(matches!(
        decode_all(&chunk).1,
        Err(ReplicationError::FrameTooLarge { kind: "chunk", .. })
    ));

    // A line that never ends.
    let (_, result) = decode_all(&[b'+'; LINE_MAX + 1]);
    assert_eq!(result, Err(ReplicationError::LineTooLong { max: LINE_MAX }));

    // Malformed lines.
    for line in [
        "+ACK zz 1\r\n".to_string(),
        format!("+ACK {} 01\r\n", id(1)),
        format!("+ACK {} 18446744073709551616\r\n", id(1)),
        "+SNAPSHOT_END -1\r\n".to_string(),
        "+HELLO\r\n".to_string(),
    ] {
        assert!(
            matches!(
                decode_all(line.as_bytes()).1,
                Err(ReplicationError::MalformedLine { .. })
            ),
            "{line:?}"
        );
    }

    // Empty writes and zero-part transactions cannot come from a backlog.
    let mut empty = vec![TAG_WRITE];
    empty.extend_from_slice(&3u64.to_le_bytes());
    empty.extend_from_slice(&0u32.to_le_bytes());
    let crc = crc32fast::hash(&empty);
    empty.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(
        decode_all(&empty).1,
        Err(ReplicationError::EmptyWrite { offset: 3 })
    );
}

#[test]
fn the_decoder_stays_failed() {
    let mut decoder = PrimaryDecoder::default();
    decoder.feed(b"?");
    assert!(decoder.next_message().is_err());
    let mut ping = Vec::new();
    encode_ping(&mut ping, 1, false);
    decoder.feed(&ping);
    assert!(decoder.next_message().is_err());
}

#[test]
fn replica_requests_parse_strictly_and_skip_unknown_capabilities() {
    let parse = |line: &str| {
        let mut decoder = ReplicaDecoder::new();
        decoder.feed(line.as_bytes());
        decoder.next_message()
    };
    let line = format!(
        "replicate from {} 10 id r-1 CODEC lz9,zstd TLS yes\r\n",
        id(3)
    );
    let Ok(Some(ReplicaMessage::Replicate(request))) = parse(&line) else {
        panic!("parses");
    };
    assert_eq!(request.position, Some((id(3), 10)));
    assert_eq!(request.codecs, CodecSet::new(&[Codec::Zstd]));
    let Ok(Some(ReplicaMessage::Replicate(fresh))) = parse("REPLICATE FROM ? -1 ID r\r\n") else {
        panic!("parses");
    };
    assert_eq!(fresh.position, None);
    assert_eq!(fresh.codecs, CodecSet::plain_only());
    for bad in [
        "REPLICATE FROM ? 0 ID r\r\n",
        "REPLICATE FROM ? -1 ID r CODEC\r\n",
        "REPLICATE FROM ? -1 ID bad/id\r\n",
        "REPLCONF ACK -5\r\n",
        "PING\r\n",
    ] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(parse("REPLCONF ACK 5"), Ok(None));
}

fn arb_replid() -> impl Strategy<Value = ReplId> {
    any::<[u8; 20]>().prop_map(ReplId::from_random_bytes)
}

fn arb_codec() -> impl Strategy<Value = Codec> {
    prop_oneof![Just(Codec::Plain), Just(Codec::Zstd)]
}

fn arb_binary_message() -> impl Strategy<Value = PrimaryMessage> {
    prop_oneof![
        (arb_codec(), prop::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(codec, bytes)| PrimaryMessage::SnapshotChunk { codec, bytes }),
        (
            any::<u64>(),
            prop::option::of((any::<u64>(), 1u16..)),
            prop::collection::vec(any::<u8>(), 1..64)
        )
            .prop_map(|(offset, txn, bytes)| PrimaryMessage::Write {
                offset,
                txn: txn.map(|(id, parts)| TxnMark { id, parts }),
                bytes,
            }),
        (any::<u64>(), any::<bool>()).prop_map(|(offset, ack_requested)| PrimaryMessage::Ping {
            offset,
            ack_requested
        }),
    ]
}

fn arb_message() -> impl Strategy<Value = PrimaryMessage> {
    prop_oneof![
        4 => arb_binary_message(),
        1 => (arb_replid(), any::<u64>())
            .prop_map(|(replid, offset)| PrimaryMessage::Ack { replid, offset }),
        1 => arb_replid().prop_map(|replid| PrimaryMessage::SnapshotBegin { replid }),
        1 => any::<u64>().prop_map(|offset| PrimaryMessage::SnapshotEnd { offset }),
        1 => "[ -~]{0,40}".prop_map(|text| PrimaryMessage::Error { text }),
    ]
}

/// Feeds `bytes` cut at `cuts` (positions, any order) and decodes.
fn decode_split(bytes: &[u8], cuts: &[usize]) -> Result<Vec<PrimaryMessage>, ReplicationError> {
    let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
    cuts.push(0);
    cuts.push(bytes.len());
    cuts.sort_unstable();
    let mut decoder = PrimaryDecoder::default();
    let mut out = Vec::new();
    for pair in cuts.windows(2) {
        decoder.feed(&bytes[pair[0]..pair[1]]);
        while let Some(message) = decoder.next_message()? {
            out.push(message);
        }
    }
    assert_eq!(decoder.buffered(), 0, "whole messages leave nothing behind");
    Ok(out)
}

proptest! {
    #[test]
    fn any_sequence_decodes_across_any_split(
        messages in prop::collection::vec(arb_message(), 0..20),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut bytes = Vec::new();
        for message in &messages {
            message.encode(&mut bytes);
        }
        prop_assert_eq!(decode_split(&bytes, &cuts), Ok(messages));
    }

    #[test]
    fn replica_messages_round_trip_across_any_split(
        acks in prop::collection::vec(any::<u64>(), 0..10),
        position in prop::option::of((arb_replid(), any::<u64>())),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut messages = vec![ReplicaMessage::Replicate(ReplicateRequest {
            position,
            replica_id: "replica:7".into(),
            codecs: CodecSet::new(&[Codec::Zstd, Codec::Plain]),
        })];
        messages.extend(acks.into_iter().map(|offset| ReplicaMessage::Ack { offset }));
        let mut bytes = Vec::new();
        for message in &messages {
            message.encode(&mut bytes);
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
        cuts.extend([0, bytes.len()]);
        cuts.sort_unstable();
        let mut decoder = ReplicaDecoder::new();
        let mut decoded = Vec::new();
        for pair in cuts.windows(2) {
            decoder.feed(&bytes[pair[0]..pair[1]]);
            while let Some(message) = decoder.next_message().expect("valid input") {
                decoded.push(message);
            }
        }
        prop_assert_eq!(decoded, messages);
    }

    /// Flipping any bits of one byte of a stream of binary frames never
    /// yields a wrong message: what decodes is a prefix of the originals,
    /// then an error or an incomplete tail.
    #[test]
    fn corruption_of_binary_frames_is_detected(
        messages in prop::collection::vec(arb_binary_message(), 1..10),
        position in any::<usize>(),
        flip in 1u8..,
    ) {
        let mut bytes = Vec::new();
        for message in &messages {
            message.encode(&mut bytes);
        }
        let position = position % bytes.len();
        bytes[position] ^= flip;
        let (decoded, result) = decode_all(&bytes);
        prop_assert!(decoded.len() < messages.len() || result.is_err());
        prop_assert_eq!(&decoded[..], &messages[..decoded.len()]);
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_all(&bytes);
        let mut decoder = ReplicaDecoder::new();
        decoder.feed(&bytes);
        while let Ok(Some(_)) = decoder.next_message() {}
    }
}

#[test]
fn covered_transactions_round_trip_and_are_checked() {
    let message = PrimaryMessage::CoveredTransactions {
        ids: vec![1, u64::MAX, 1 << 48 | 7],
    };
    let mut bytes = Vec::new();
    message.encode(&mut bytes);
    let mut decoder = PrimaryDecoder::default();
    decoder.feed(&bytes);
    assert_eq!(decoder.next_message(), Ok(Some(message)));
    // A flipped id byte is caught by the crc.
    bytes[6] ^= 1;
    let mut decoder = PrimaryDecoder::default();
    decoder.feed(&bytes);
    assert!(matches!(
        decoder.next_message(),
        Err(ReplicationError::ChecksumMismatch { .. })
    ));
}
