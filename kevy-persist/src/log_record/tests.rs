//! Tests of the append-only log framing: round trips, every truncation
//! reads as a torn tail at the right record, every flipped byte is caught.

use proptest::prelude::*;

use super::*;

/// Encodes payloads and returns the log with each record's start.
fn encode_all(payloads: &[Vec<u8>]) -> (Vec<u8>, Vec<usize>) {
    let mut log = Vec::new();
    let mut starts = Vec::new();
    for payload in payloads {
        starts.push(log.len());
        encode_record(payload, &mut log).expect("small payloads fit a record");
    }
    (log, starts)
}

/// Decodes a whole log: the payloads read, then the error that stopped it.
fn decode_all(log: &[u8]) -> (Vec<Vec<u8>>, Option<PersistError>) {
    let mut payloads = Vec::new();
    for item in LogReader::new(log) {
        match item {
            Ok(record) => payloads.push(record.payload.to_vec()),
            Err(err) => return (payloads, Some(err)),
        }
    }
    (payloads, None)
}

#[test]
fn record_layout_is_length_crc_payload() {
    let mut out = Vec::new();
    encode_record(b"*1\r\n$4\r\nPING\r\n", &mut out).expect("fits");
    assert_eq!(&out[..4], &14u32.to_le_bytes());
    assert_eq!(
        &out[4..8],
        &crc32fast::hash(b"*1\r\n$4\r\nPING\r\n").to_le_bytes()
    );
    assert_eq!(&out[8..], b"*1\r\n$4\r\nPING\r\n");
}

#[test]
fn empty_log_and_empty_payload() {
    assert_eq!(decode_all(b""), (vec![], None));
    let (log, _) = encode_all(&[vec![], b"x".to_vec()]);
    assert_eq!(decode_all(&log), (vec![vec![], b"x".to_vec()], None));
}

#[test]
fn reader_reports_offsets_and_stops_after_an_error() {
    let (mut log, starts) = encode_all(&[b"one".to_vec(), b"two".to_vec()]);
    log[starts[1] + RECORD_HEADER_LEN] ^= 0x01;
    let mut reader = LogReader::new(&log);
    assert_eq!(
        reader.next(),
        Some(Ok(LogRecord {
            offset: 0,
            payload: b"one"
        }))
    );
    match reader.next() {
        Some(Err(PersistError::ChecksumMismatch {
            offset,
            expected,
            found,
        })) => {
            assert_eq!(offset, starts[1] as u64);
            assert_eq!(expected, crc32fast::hash(b"two"));
            assert_eq!(found, crc32fast::hash(b"uwo"));
        }
        other => panic!("expected a checksum mismatch, got {other:?}"),
    }
    assert_eq!(reader.position(), starts[1] as u64);
    assert_eq!(reader.next(), None);
}

#[test]
fn errors_read_well() {
    let torn = PersistError::TornTail { offset: 42 };
    assert_eq!(
        torn.to_string(),
        "the append-only log ends inside the record at byte 42 (torn tail)"
    );
    let corrupt = PersistError::ChecksumMismatch {
        offset: 8,
        expected: 0xdeadbeef,
        found: 1,
    };
    assert_eq!(
        corrupt.to_string(),
        "append-only log record at byte 8 is corrupt: crc32 0x00000001 does not match the stored 0xdeadbeef"
    );
}

#[test]
fn a_damaged_length_before_sound_records_is_corruption_not_a_torn_tail() {
    let (mut log, starts) = encode_all(&[b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]);
    log[starts[1] + 2] = 0x7f;
    let (decoded, error) = decode_all(&log);
    assert_eq!(decoded, vec![b"one".to_vec()]);
    match error {
        Some(PersistError::CorruptLength {
            offset,
            next_record,
            ..
        }) => {
            assert_eq!(offset, starts[1] as u64);
            assert_eq!(next_record, starts[2] as u64);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn a_zero_filled_tail_is_not_taken_for_sound_records() {
    let (mut log, _) = encode_all(&[b"one".to_vec()]);
    let cut = log.len();
    log.extend_from_slice(&[0x40, 0, 0, 0, 1, 2, 3, 4]);
    log.extend_from_slice(&[0; 32]);
    let (decoded, error) = decode_all(&log);
    assert_eq!(decoded, vec![b"one".to_vec()]);
    assert_eq!(error, Some(PersistError::TornTail { offset: cut as u64 }));
}

fn payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..20)
}

proptest! {
    #[test]
    fn records_round_trip(payloads in payloads()) {
        let (log, starts) = encode_all(&payloads);
        let mut reader = LogReader::new(&log);
        for (payload, start) in payloads.iter().zip(&starts) {
            let record = reader.next().expect("one record per payload").expect("intact");
            prop_assert_eq!(record.offset, *start as u64);
            prop_assert_eq!(record.payload, payload.as_slice());
        }
        prop_assert!(reader.next().is_none());
        prop_assert_eq!(reader.position(), log.len() as u64);
    }

    #[test]
    fn any_truncation_is_a_torn_tail_at_its_record(
        payloads in payloads().prop_filter("something to cut", |p| !p.is_empty()),
        cut_seed in any::<prop::sample::Index>(),
    ) {
        let (log, starts) = encode_all(&payloads);
        let cut = cut_seed.index(log.len() + 1);
        let (decoded, error) = decode_all(&log[..cut]);
        // Records wholly before the cut read back; the one the cut falls in
        // is reported as torn at its start.
        let whole = starts
            .iter()
            .zip(&payloads)
            .take_while(|(start, payload)| *start + RECORD_HEADER_LEN + payload.len() <= cut)
            .count();
        prop_assert_eq!(&decoded[..], &payloads[..whole]);
        if starts.contains(&cut) || cut == log.len() {
            prop_assert_eq!(error, None);
        } else {
            prop_assert_eq!(error, Some(PersistError::TornTail { offset: starts[whole] as u64 }));
        }
    }

    #[test]
    fn any_flipped_byte_is_detected(
        payloads in payloads().prop_filter("something to flip", |p| !p.is_empty()),
        at_seed in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let (mut log, starts) = encode_all(&payloads);
        let at = at_seed.index(log.len());
        log[at] ^= flip;
        let (decoded, error) = decode_all(&log);
        // Records before the damaged one still read back intact.
        let damaged = starts.iter().rposition(|start| *start <= at).expect("byte 0 starts a record");
        prop_assert_eq!(&decoded[..damaged], &payloads[..damaged]);
        let offset = starts[damaged] as u64;
        let in_length_field = at < starts[damaged] + 4;
        match error {
            Some(PersistError::ChecksumMismatch { offset: at_record, .. }) => {
                prop_assert_eq!(at_record, offset);
            }
            // A length corrupted to run past the end: corruption when a
            // sound record follows it, else it is the last non-empty record
            // and reads as a torn tail (the format cannot tell them apart).
            Some(PersistError::CorruptLength { offset: at_record, next_record, .. })
                if in_length_field =>
            {
                prop_assert_eq!(at_record, offset);
                let next_sound = starts[damaged + 1..]
                    .iter()
                    .zip(&payloads[damaged + 1..])
                    .find(|(_, p)| !p.is_empty())
                    .map(|(start, _)| *start as u64);
                prop_assert!(next_record > offset);
                prop_assert!(next_sound.is_some_and(|n| next_record <= n));
            }
            Some(PersistError::TornTail { offset: at_record }) if in_length_field => {
                prop_assert_eq!(at_record, offset);
                prop_assert!(
                    payloads[damaged + 1..].iter().all(Vec::is_empty),
                    "a sound record after the damaged one was not found"
                );
            }
            other => prop_assert!(false, "flip at byte {} not detected: {:?}", at, other),
        }
    }
}
