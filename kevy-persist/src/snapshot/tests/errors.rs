//! Error texts (what `kevy check-snapshot` and the server's log show),
//! the writer refusing sequences the reader would refuse, and the codec a
//! build lacks being named rather than misread.

use super::*;
use crate::snapshot::format::encode_header;

#[test]
fn snapshot_error_texts() {
    let cases = [
        (PersistError::NotASnapshot, "not a kevy snapshot: the file does not start with the snapshot magic"),
        (
            PersistError::UnsupportedVersion { found: 7, supported: 1 },
            "snapshot format version 7 is not supported (this build reads version 1)",
        ),
        (PersistError::UnknownCodec { found: 9 }, "snapshot names unknown codec 9"),
        (
            PersistError::CodecNotCompiled { codec: "zstd", feature: "zstd" },
            "snapshot uses the zstd codec, but this build was compiled without the `zstd` feature",
        ),
        (
            PersistError::HeaderChecksumMismatch { expected: 0xdeadbeef, found: 1 },
            "snapshot header is corrupt: crc32 0x00000001 does not match the stored 0xdeadbeef",
        ),
        (
            PersistError::SnapshotTruncated { offset: 16, part: "block payload" },
            "snapshot is truncated: it ends inside the block payload at byte 16",
        ),
        (
            PersistError::BlockTooLarge { offset: 16, len: 4294967295, limit: 1048576 },
            "snapshot block at byte 16 claims 4294967295 bytes, over the 1048576-byte block limit",
        ),
        (
            PersistError::BlockChecksumMismatch { offset: 29, expected: 2, found: 3 },
            "snapshot block at byte 29 is corrupt: crc32 0x00000003 does not match the stored 0x00000002",
        ),
        (
            PersistError::MalformedBlock { offset: 16, reason: "unknown block kind 9".into() },
            "snapshot block at byte 16 is malformed: unknown block kind 9",
        ),
        (
            PersistError::SnapshotRecordTooLarge { offset: 16, len: 1 << 40, limit: 64 },
            "snapshot record in the block at byte 16 claims 1099511627776 bytes, over the 64-byte record limit",
        ),
        (
            PersistError::MalformedRecord { offset: 16, reason: "unknown record tag" },
            "snapshot record in the block at byte 16 is malformed: unknown record tag",
        ),
        (
            PersistError::TrailerMismatch { offset: 40, what: "keys in database 3".into(), expected: 2, found: 1 },
            "snapshot trailer at byte 40 counts 2 keys in database 3, but the file holds 1",
        ),
        (
            PersistError::FileChecksumMismatch { offset: 80, expected: 1, found: 2 },
            "snapshot file checksum at byte 80 does not match: crc32 0x00000002 computed, 0x00000001 stored",
        ),
        (PersistError::TrailingBytes { offset: 84 }, "snapshot has unexpected bytes after its end at byte 84"),
        (
            PersistError::SnapshotMisuse { reason: "a sorted set score is NaN" },
            "snapshot writer misuse: a sorted set score is NaN",
        ),
        (
            PersistError::Compression { reason: "out of memory".into() },
            "snapshot compression failed: out of memory",
        ),
        (
            PersistError::io(12, &std::io::Error::new(std::io::ErrorKind::StorageFull, "disk full")),
            "I/O error at byte 12 of the snapshot: disk full",
        ),
    ];
    for (err, text) in cases {
        assert_eq!(err.to_string(), text);
    }
}

#[test]
fn header_problems_are_named() {
    assert_eq!(
        load(b"").unwrap_err(),
        PersistError::SnapshotTruncated {
            offset: 0,
            part: "header"
        }
    );
    assert_eq!(
        load(b"KEVY").unwrap_err(),
        PersistError::SnapshotTruncated {
            offset: 0,
            part: "header"
        }
    );
    assert_eq!(load(b"REDIS0011").unwrap_err(), PersistError::NotASnapshot);
    assert_eq!(load(b"RE").unwrap_err(), PersistError::NotASnapshot);

    let mut header = encode_header(Codec::Plain);
    header[8] = 2;
    let crc = crc32fast::hash(&header[..12]);
    header[12..].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(
        load(&header).unwrap_err(),
        PersistError::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    );

    let mut header = encode_header(Codec::Plain);
    header[10] = 7;
    let crc = crc32fast::hash(&header[..12]);
    header[12..].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(
        load(&header).unwrap_err(),
        PersistError::UnknownCodec { found: 7 }
    );

    let mut header = encode_header(Codec::Plain);
    header[10] = 1;
    assert!(matches!(
        load(&header).unwrap_err(),
        PersistError::HeaderChecksumMismatch { .. }
    ));
}

#[cfg(not(feature = "zstd"))]
#[test]
fn a_build_without_zstd_names_the_feature() {
    let not_compiled = PersistError::CodecNotCompiled {
        codec: "zstd",
        feature: "zstd",
    };
    assert_eq!(load(&encode_header(Codec::Zstd)).unwrap_err(), not_compiled);
    assert_eq!(
        check_snapshot(&encode_header(Codec::Zstd)[..]).unwrap_err(),
        not_compiled
    );
    assert_eq!(
        SnapshotWriter::new(Vec::new(), Codec::Zstd).err(),
        Some(not_compiled)
    );
    assert!(!Codec::Zstd.is_compiled_in());
}

#[cfg(feature = "zstd")]
#[test]
fn a_build_with_zstd_reads_zstd_headers() {
    assert!(Codec::Zstd.is_compiled_in());
    let header = encode_header(Codec::Zstd);
    let reader = SnapshotReader::new(&header[..]).expect("zstd is compiled in");
    assert_eq!(reader.codec(), Codec::Zstd);
}

fn misuse(reason: &'static str) -> PersistError {
    PersistError::SnapshotMisuse { reason }
}

#[test]
fn the_writer_refuses_what_the_reader_would() {
    let mut w = SnapshotWriter::new(Vec::new(), Codec::Plain).expect("plain");
    assert_eq!(
        w.string(b"k", b"v", None),
        Err(misuse("a key before any database was selected"))
    );
    assert_eq!(
        w.hash_field(b"f", b"v"),
        Err(misuse("a collection item outside any collection"))
    );
    assert_eq!(
        w.end_collection(),
        Err(misuse("a collection end with no collection open"))
    );
    w.select_db(0).expect("in order");
    w.begin_set(b"s", None, 1).expect("in order");
    assert_eq!(
        w.list_item(b"x"),
        Err(misuse("a record of another kind inside an open collection"))
    );
    assert_eq!(
        w.end_collection(),
        Err(misuse("a collection ends before all the items it declared"))
    );
    w.set_member(b"m").expect("in order");
    assert_eq!(
        w.set_member(b"n"),
        Err(misuse("a collection holds more items than it declared"))
    );
    w.end_collection().expect("in order");
    w.begin_sorted_set(b"z", None, 1).expect("in order");
    assert_eq!(
        w.sorted_set_member(b"m", f64::NAN),
        Err(misuse("a sorted set score is NaN"))
    );
    w.sorted_set_member(b"m", 1.0).expect("in order");
    // Refused calls change nothing: the file is still sound.
    w.end_collection().expect("in order");
    let (file, summary) = w.finish().expect("Vec");
    assert_eq!(summary.keys(), 2);
    load(&file).expect("the refused calls left no trace");
}

#[test]
fn the_writer_checks_stream_structure() {
    let meta = StreamMeta {
        entries: 1,
        groups: 1,
        ..StreamMeta::default()
    };
    let group = StreamGroup {
        name: b"g",
        last_delivered: StreamId::default(),
        entries_read: None,
        pending: 1,
        consumers: 1,
    };
    let consumer = StreamConsumer {
        name: b"c",
        seen_time: 1,
        active_time: 1,
        pending: 1,
    };
    let pending = StreamPending {
        id: StreamId { ms: 1, seq: 0 },
        consumer: b"c",
        delivery_time: 1,
        delivery_count: 1,
    };
    let mut w = SnapshotWriter::new(Vec::new(), Codec::Plain).expect("plain");
    w.select_db(0).expect("in order");
    w.begin_stream(b"s", None, meta).expect("in order");
    assert_eq!(
        w.stream_group(group),
        Err(misuse(
            "a consumer group before the previous part of its stream ended"
        ))
    );
    w.stream_entry(StreamId { ms: 1, seq: 0 }, [(b"f", b"v")])
        .expect("in order");
    assert_eq!(
        w.stream_entry(StreamId { ms: 2, seq: 0 }, [(b"f", b"v")]),
        Err(misuse("a stream holds more entries than it declared"))
    );
    w.stream_group(group).expect("in order");
    assert_eq!(
        w.stream_consumer(consumer),
        Err(misuse(
            "a consumer before the previous part of its group ended"
        ))
    );
    w.stream_pending(pending).expect("in order");
    w.stream_consumer(consumer).expect("in order");
    assert_eq!(
        w.end_collection(),
        Err(misuse("a stream ends before all the parts it declared"))
    );
    w.consumer_pending(pending.id).expect("in order");
    assert_eq!(
        w.consumer_pending(pending.id),
        Err(misuse("a consumer holds more pending ids than it declared"))
    );
    w.end_collection().expect("in order");
    load(&w.finish().expect("Vec").0).expect("sound");
}

#[test]
fn finishing_with_an_open_collection_is_refused() {
    let mut w = SnapshotWriter::new(Vec::new(), Codec::Plain).expect("plain");
    w.select_db(0).expect("in order");
    w.begin_list(b"l", None, 0).expect("in order");
    assert_eq!(
        w.finish().err(),
        Some(misuse(
            "the snapshot is finished with a collection still open"
        ))
    );
}

#[test]
fn block_length_is_bounded() {
    for block_len in [0, MIN_BLOCK_LEN - 1, MAX_BLOCK_LEN + 1] {
        let options = WriterOptions {
            codec: Codec::Plain,
            block_len,
        };
        assert_eq!(
            SnapshotWriter::with_options(Vec::new(), options).err(),
            Some(misuse(
                "the block length is outside MIN_BLOCK_LEN..=MAX_BLOCK_LEN"
            ))
        );
    }
}

/// A `Write` that fails after `budget` bytes.
struct FailingSink {
    budget: usize,
}

impl std::io::Write for FailingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() > self.budget {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "disk full",
            ));
        }
        self.budget -= buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_carry_the_offset_and_poison_the_writer() {
    let options = WriterOptions {
        codec: Codec::Plain,
        block_len: MIN_BLOCK_LEN,
    };
    let mut w =
        SnapshotWriter::with_options(FailingSink { budget: 20 }, options).expect("header fits");
    w.select_db(0).expect("in order");
    let err = w
        .string(b"key", b"a value longer than a block", None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            PersistError::Io {
                offset: 16,
                kind: std::io::ErrorKind::StorageFull,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        w.select_db(1),
        Err(misuse("the writer failed earlier; its output is unusable"))
    );
    assert_eq!(
        w.finish().err(),
        Some(misuse("the writer failed earlier; its output is unusable"))
    );
}

/// A `Read` that fails after handing out `budget` bytes.
struct FailingSource<'a> {
    data: &'a [u8],
    budget: usize,
}

impl std::io::Read for FailingSource<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.budget == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "link down",
            ));
        }
        let n = buf.len().min(self.budget).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.budget -= n;
        Ok(n)
    }
}

#[test]
fn read_errors_carry_the_offset() {
    let (file, _) = encode(&SnapshotModel::default(), WriterOptions::default());
    let source = FailingSource {
        data: &file,
        budget: 20,
    };
    let err = SnapshotReader::new(source)
        .expect("header")
        .for_each(|_| Ok::<(), PersistError>(()))
        .unwrap_err();
    assert_eq!(
        err,
        PersistError::Io {
            offset: 20,
            kind: std::io::ErrorKind::BrokenPipe,
            message: "link down".into()
        }
    );
}
