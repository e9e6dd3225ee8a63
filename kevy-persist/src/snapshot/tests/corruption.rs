//! Damaged and hostile files: every cut is refused as a truncation, every
//! flipped byte is detected, hostile lengths are capped before anything
//! is allocated, and crafted files that pass their checksums but break the
//! record grammar or the trailer counts are refused. (`fuzz.rs` feeds the
//! reader arbitrary bytes.)

use proptest::prelude::*;

use super::*;
use crate::snapshot::format::{
    encode_header, BlockHeader, TrailerCounts, BLOCK_DATA, BLOCK_HEADER_LEN, BLOCK_TRAILER,
    HEADER_LEN,
};
use crate::snapshot::record_encode::{encode_record, TAG_HASH_FIELD, TAG_STREAM_ENTRY, TAG_STRING};

/// A model holding every type, for the exhaustive tests.
fn every_type() -> SnapshotModel {
    let id = |ms, seq| StreamId { ms, seq };
    let key = |name: &[u8], expire_at, value| KeyModel {
        key: name.to_vec(),
        expire_at,
        value,
    };
    let b = |s: &str| s.as_bytes().to_vec();
    SnapshotModel {
        aux: vec![(b("kevy-ver"), b("0.1.0"))],
        dbs: vec![
            (
                0,
                vec![
                    key(
                        b"s",
                        Some(1_700_000_000_000),
                        ValueModel::Str(b("hello world")),
                    ),
                    key(
                        b"h",
                        None,
                        ValueModel::Hash(vec![(b("f"), b("v")), (b("g"), b("w"))]),
                    ),
                    key(b"l", None, ValueModel::List(vec![b("a"), b("b"), b("c")])),
                ],
            ),
            (
                9,
                vec![
                    key(b"set", None, ValueModel::Set(vec![b("x"), b("y")])),
                    key(
                        b"z",
                        Some(5),
                        ValueModel::SortedSet(vec![(b("m"), 1.5f64.to_bits())]),
                    ),
                    key(
                        b"st",
                        None,
                        ValueModel::Stream(StreamModel {
                            last_id: id(5, 1),
                            first_id: id(1, 0),
                            max_deleted_id: id(2, 0),
                            entries_added: 4,
                            entries: vec![(id(1, 0), vec![(b("f"), b("v"))]), (id(5, 1), vec![])],
                            groups: vec![GroupModel {
                                name: b("g"),
                                last_delivered: id(5, 1),
                                entries_read: Some(2),
                                pending: vec![(id(1, 0), b("alice"), 1_700_000_000_000, 2)],
                                consumers: vec![(b("alice"), 10, 9, vec![id(1, 0)])],
                            }],
                        }),
                    ),
                ],
            ),
        ],
    }
}

fn small_blocks(codec: Codec) -> WriterOptions {
    WriterOptions {
        codec,
        block_len: 32,
    }
}

#[test]
fn every_truncation_is_refused() {
    for codec in codecs() {
        let (file, _) = encode(&every_type(), small_blocks(codec));
        for len in 0..file.len() {
            match load(&file[..len]) {
                Err(PersistError::SnapshotTruncated { offset, .. }) => {
                    assert!(offset <= len as u64, "cut at {len}, reported at {offset}")
                }
                other => panic!("{codec}: cut at {len} of {}: {other:?}", file.len()),
            }
            assert!(check_snapshot(&file[..len]).is_err());
        }
    }
}

#[test]
fn every_flipped_byte_is_detected() {
    for codec in codecs() {
        let (file, _) = encode(&every_type(), small_blocks(codec));
        for at in 0..file.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut damaged = file.clone();
                damaged[at] ^= mask;
                let err = load(&damaged).expect_err("a flipped byte is detected");
                let offset = err.offset().expect("snapshot errors carry an offset");
                assert!(
                    offset <= at as u64,
                    "{codec}: flip at {at} reported at {offset}: {err}"
                );
            }
        }
    }
}

#[test]
fn bytes_after_the_end_are_refused() {
    let (mut file, _) = encode(&every_type(), WriterOptions::default());
    let end = file.len() as u64;
    file.push(0);
    assert_eq!(
        load(&file).unwrap_err(),
        PersistError::TrailingBytes { offset: end }
    );
}

/// Builds a file from raw record payloads, framed and checksummed as the
/// writer would (so only what the test breaks on purpose is wrong).
pub(super) fn craft(blocks: &[(u8, Vec<u8>)], counts: &TrailerCounts) -> Vec<u8> {
    let mut file = encode_header(Codec::Plain).to_vec();
    for (kind, payload) in blocks {
        file.extend_from_slice(&BlockHeader::for_payload(*kind, payload.len(), payload));
        file.extend_from_slice(payload);
    }
    let trailer = counts.encode();
    file.extend_from_slice(&BlockHeader::for_payload(
        BLOCK_TRAILER,
        trailer.len(),
        &trailer,
    ));
    file.extend_from_slice(&trailer);
    let crc = crc32fast::hash(&file);
    file.extend_from_slice(&crc.to_le_bytes());
    file
}

fn records(list: &[Record<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for record in list {
        encode_record(record, &mut out).expect("a Vec sink never fails");
    }
    out
}

pub(super) fn counts(
    data_blocks: u64,
    records: u64,
    keys_per_db: Vec<(u32, u64)>,
) -> TrailerCounts {
    TrailerCounts {
        data_blocks,
        records,
        keys_per_db,
    }
}

#[test]
fn crafted_files_load_when_sound() {
    let payload = records(&[
        Record::SelectDb { index: 2 },
        Record::String {
            key: b"k",
            expire_at: None,
            value: b"v",
        },
    ]);
    let file = craft(&[(BLOCK_DATA, payload)], &counts(1, 2, vec![(2, 1)]));
    assert_eq!(load(&file).expect("sound").1.keys_per_db, vec![(2, 1)]);
}

#[test]
fn hostile_block_lengths_are_capped_before_allocating() {
    for (stored_len, raw_len) in [
        (u32::MAX, 10),
        (10, u32::MAX),
        (MAX_BLOCK_LEN as u32 + 1, 0),
    ] {
        let mut file = encode_header(Codec::Plain).to_vec();
        file.push(BLOCK_DATA);
        file.extend_from_slice(&stored_len.to_le_bytes());
        file.extend_from_slice(&raw_len.to_le_bytes());
        file.extend_from_slice(&[0; 4]);
        assert_eq!(
            load(&file).unwrap_err(),
            PersistError::BlockTooLarge {
                offset: HEADER_LEN as u64,
                len: u64::from(stored_len.max(raw_len)),
                limit: MAX_BLOCK_LEN as u64,
            }
        );
    }
}

#[test]
fn hostile_record_lengths_are_capped() {
    // A record claiming 1 TiB: refused from its frame header alone.
    let mut payload = vec![TAG_STRING];
    payload.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
    let file = craft(&[(BLOCK_DATA, payload)], &counts(1, 0, vec![]));
    assert_eq!(
        load(&file).unwrap_err(),
        PersistError::SnapshotRecordTooLarge {
            offset: HEADER_LEN as u64,
            len: 1 << 40,
            limit: DEFAULT_MAX_RECORD_LEN,
        }
    );

    // A record claiming 256 MiB, under the limit, in a tiny file: the
    // reader buffers only what is there and reports the cut record.
    let mut payload = vec![TAG_STRING];
    payload.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x01, b'k']);
    let file = craft(&[(BLOCK_DATA, payload)], &counts(1, 0, vec![]));
    let mut reader = SnapshotReader::new(file.as_slice()).expect("valid header");
    let err = reader.next_record().unwrap_err();
    assert!(
        matches!(err, PersistError::MalformedRecord { offset: 16, .. }),
        "{err}"
    );
    assert!(reader.buffered_capacity() < 1024);
    assert_eq!(reader.next_record().unwrap_err(), err, "errors repeat");

    // The reader's own limit applies to sound files too.
    let (file, _) = encode(&every_type(), WriterOptions::default());
    let err = SnapshotReader::new(file.as_slice())
        .expect("valid header")
        .with_max_record_len(8)
        .for_each(|_| Ok::<(), PersistError>(()))
        .unwrap_err();
    assert!(
        matches!(err, PersistError::SnapshotRecordTooLarge { limit: 8, .. }),
        "{err}"
    );
}

#[test]
fn hostile_counts_allocate_nothing() {
    // A stream entry claiming 2^60 field pairs in a few bytes.
    let mut entry = vec![TAG_STREAM_ENTRY, 11, 1, 0];
    entry.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]);
    let mut payload = records(&[
        Record::SelectDb { index: 0 },
        Record::StreamBegin {
            key: b"s",
            expire_at: None,
            meta: StreamMeta {
                entries: 1,
                ..StreamMeta::default()
            },
        },
    ]);
    payload.extend_from_slice(&entry);
    let file = craft(&[(BLOCK_DATA, payload)], &counts(1, 3, vec![(0, 1)]));
    let err = load(&file).unwrap_err();
    assert_eq!(
        err,
        PersistError::MalformedRecord {
            offset: 16,
            reason: "a stream entry claims more fields than its record holds"
        }
    );

    // A hash claiming u64::MAX fields that the file never delivers.
    let payload = records(&[
        Record::SelectDb { index: 0 },
        Record::HashBegin {
            key: b"h",
            expire_at: None,
            fields: u64::MAX,
        },
    ]);
    let file = craft(&[(BLOCK_DATA, payload)], &counts(1, 2, vec![(0, 1)]));
    let trailer_offset = file.len() as u64 - 4 - 20 - 12 - BLOCK_HEADER_LEN as u64;
    assert_eq!(
        load(&file).unwrap_err(),
        PersistError::MalformedRecord {
            offset: trailer_offset,
            reason: "the records end inside an open collection, before the trailer"
        }
    );
}

#[test]
fn records_out_of_order_are_refused() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            records(&[Record::String {
                key: b"k",
                expire_at: None,
                value: b"v",
            }]),
            "a key before any database was selected",
        ),
        (
            records(&[Record::HashField {
                field: b"f",
                value: b"v",
            }]),
            "a collection item outside any collection",
        ),
        (
            vec![TAG_HASH_FIELD, 2, 5, 0],
            "a byte string runs past the end of its record",
        ),
        (vec![99, 0], "unknown record tag"),
        (
            records(&[Record::SelectDb { index: 0 }, Record::CollectionEnd]),
            "a collection end with no collection open",
        ),
    ];
    for (payload, reason) in cases {
        let file = craft(&[(BLOCK_DATA, payload)], &counts(1, 1, vec![]));
        assert_eq!(
            load(&file).unwrap_err(),
            PersistError::MalformedRecord { offset: 16, reason }
        );
    }
}

#[test]
fn trailer_counts_must_match() {
    let payload = records(&[
        Record::SelectDb { index: 1 },
        Record::String {
            key: b"k",
            expire_at: None,
            value: b"v",
        },
    ]);
    let mismatch = |trailer: TrailerCounts, what: &str, expected, found| {
        let file = craft(&[(BLOCK_DATA, payload.clone())], &trailer);
        let offset = file.len() as u64 - 4 - trailer.encode().len() as u64 - 13;
        assert_eq!(
            load(&file).unwrap_err(),
            PersistError::TrailerMismatch {
                offset,
                what: what.to_string(),
                expected,
                found,
            }
        );
    };
    mismatch(counts(2, 2, vec![(1, 1)]), "data blocks", 2, 1);
    mismatch(counts(1, 3, vec![(1, 1)]), "records", 3, 2);
    mismatch(counts(1, 2, vec![(1, 2)]), "keys in database 1", 2, 1);
    mismatch(counts(1, 2, vec![(0, 1)]), "keys in database 0", 1, 0);
    mismatch(counts(1, 2, vec![]), "keys in database 1", 0, 1);
}

#[test]
fn unknown_block_kinds_and_bad_lengths_are_malformed() {
    let file = craft(&[(9, vec![1, 2, 3])], &counts(1, 0, vec![]));
    assert_eq!(
        load(&file).unwrap_err(),
        PersistError::MalformedBlock {
            offset: 16,
            reason: "unknown block kind 9".into()
        }
    );
    // A raw block whose raw length disagrees with what it stores.
    let mut file = encode_header(Codec::Plain).to_vec();
    file.extend_from_slice(&BlockHeader::for_payload(BLOCK_DATA, 5, b"abc"));
    file.extend_from_slice(b"abc");
    assert_eq!(
        load(&file).unwrap_err(),
        PersistError::MalformedBlock {
            offset: 16,
            reason: "the block stores 3 bytes but states 5 raw bytes".into()
        }
    );
}

#[cfg(feature = "zstd")]
#[test]
fn a_zstd_block_that_decodes_to_another_length_is_malformed() {
    let raw = records(&[Record::SelectDb { index: 0 }; 40]);
    let compressed = zstd::bulk::compress(&raw, 3).expect("compresses");
    let mut file = encode_header(Codec::Zstd).to_vec();
    file.extend_from_slice(&BlockHeader::for_payload(
        BLOCK_DATA,
        raw.len() - 1,
        &compressed,
    ));
    file.extend_from_slice(&compressed);
    let err = load(&file).unwrap_err();
    assert!(
        matches!(err, PersistError::MalformedBlock { offset: 16, .. }),
        "{err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_cut_of_any_snapshot_is_refused(model in snapshot(), options in options(), cut in any::<prop::sample::Index>()) {
        let (file, _) = encode(&model, options);
        let len = cut.index(file.len());
        let refused = matches!(load(&file[..len]), Err(PersistError::SnapshotTruncated { .. }));
        prop_assert!(refused);
    }

    #[test]
    fn any_flip_in_any_snapshot_is_detected(
        model in snapshot(),
        options in options(),
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let (mut file, _) = encode(&model, options);
        let at = at.index(file.len());
        file[at] ^= mask;
        let err = load(&file);
        prop_assert!(err.is_err());
        prop_assert!(err.unwrap_err().offset().is_some_and(|offset| offset <= at as u64));
    }
}
