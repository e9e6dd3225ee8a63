//! The bodies of the fuzz targets (`kevy-persist/fuzz/`), kept in the
//! crate so the fuzzer and the stable replay of its corpus
//! (`fuzz_replay.rs`) run exactly the same code. Each takes arbitrary
//! bytes, runs a decoder to its end and checks what must hold of any
//! answer; a panic here is a bug found.

use crate::aof::{read_log, walk_log, LogTail, Manifest};
use crate::log_record::{LogReader, RECORD_HEADER_LEN};
use crate::snapshot::SnapshotReader;
use crate::PersistError;

/// Pulls every record of a snapshot; the reader's position never moves
/// backwards and never passes the input's end.
pub fn snapshot_reader(data: &[u8]) {
    let Ok(mut reader) = SnapshotReader::new(data) else {
        return;
    };
    let mut last = reader.position();
    while let Ok(Some(_)) = reader.next_record() {
        let now = reader.position();
        assert!(now >= last && now <= data.len() as u64);
        last = now;
    }
}

/// `check_snapshot`: an error names an offset inside the input.
pub fn check_snapshot(data: &[u8]) {
    if let Err(err) = crate::snapshot::check_snapshot(data) {
        if let Some(offset) = err.offset() {
            assert!(offset <= data.len() as u64, "{err} past the end");
        }
    }
}

/// Reads a log: the framing and the entry layer agree, a torn tail's
/// offset is a record boundary inside the input, and an error's offset
/// points at a record start inside the input.
pub fn log_reader(data: &[u8]) {
    let mut frames = 0u64;
    let mut reader = LogReader::new(data);
    for record in reader.by_ref() {
        match record {
            Ok(record) => {
                assert!(
                    record.offset + RECORD_HEADER_LEN as u64 + record.payload.len() as u64
                        <= data.len() as u64
                );
                frames += 1;
            }
            Err(err) => {
                assert!(err.offset().is_some_and(|o| o < data.len() as u64));
                break;
            }
        }
    }
    match read_log(data) {
        Ok((entries, summary)) => {
            assert_eq!(entries.len() as u64, summary.entries);
            assert!(summary.entries <= frames);
            match summary.tail {
                LogTail::Clean => assert_eq!(summary.sound_bytes, data.len() as u64),
                LogTail::Torn { offset } => {
                    assert!(offset < data.len() as u64);
                    assert!(summary.sound_bytes <= offset);
                    // What is before the tail reads back clean.
                    let head = &data[..offset as usize];
                    let again = walk_log(head, |_, _| {}).expect("the sound prefix reads back");
                    assert_eq!(again.tail, LogTail::Clean);
                    assert_eq!(again.entries, summary.entries);
                }
            }
        }
        Err(err) => match err {
            PersistError::ChecksumMismatch { offset, .. }
            | PersistError::CorruptLength { offset, .. }
            | PersistError::MalformedEntry { offset, .. } => assert!(offset < data.len() as u64),
            other => panic!("a log read failed with an error of another format: {other}"),
        },
    }
}

/// Parses a manifest; one that parses writes back to text that parses to
/// the same manifest.
pub fn manifest(data: &[u8]) {
    if let Ok(manifest) = Manifest::parse(data) {
        let again =
            Manifest::parse(manifest.to_text().as_bytes()).expect("a written manifest parses");
        assert_eq!(again, manifest);
    }
}
