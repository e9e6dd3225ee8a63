//! Round trips: whatever is written reads back equal, with both codecs
//! and any block size; summaries and `check_snapshot` count it right;
//! large values and collections stream through bounded buffers.

use proptest::prelude::*;

use super::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_snapshot_reads_back_equal(model in snapshot(), options in options()) {
        let (file, written) = encode(&model, options);
        let (read, summary) = load(&file).expect("a written snapshot reads back");
        prop_assert_eq!(&read, &model);
        prop_assert_eq!(&summary, &written);
        prop_assert_eq!(summary.bytes, file.len() as u64);
        prop_assert_eq!(summary.keys(), model.keys());
        prop_assert_eq!(summary.codec, options.codec);
    }

    #[test]
    fn copying_records_reproduces_the_file(model in snapshot(), options in options()) {
        let (file, _) = encode(&model, options);
        let mut reader = SnapshotReader::new(file.as_slice()).expect("valid header");
        let mut copy = SnapshotWriter::with_options(Vec::new(), options).expect("valid options");
        while let Some(record) = reader.next_record().expect("valid file") {
            copy.write_record(&record).expect("records read are in order");
        }
        let (copied, _) = copy.finish().expect("writing into a Vec cannot fail");
        prop_assert_eq!(copied, file);
    }

    #[test]
    fn check_counts_what_was_written(model in snapshot(), options in options()) {
        let (file, written) = encode(&model, options);
        let contents = check_snapshot(file.as_slice()).expect("a written snapshot checks out");
        let keys = model.dbs.iter().flat_map(|(_, keys)| keys);
        let count = |pred: fn(&ValueModel) -> bool| keys.clone().filter(|k| pred(&k.value)).count() as u64;
        prop_assert_eq!(contents.strings, count(|v| matches!(v, ValueModel::Str(_))));
        prop_assert_eq!(contents.hashes, count(|v| matches!(v, ValueModel::Hash(_))));
        prop_assert_eq!(contents.lists, count(|v| matches!(v, ValueModel::List(_))));
        prop_assert_eq!(contents.sets, count(|v| matches!(v, ValueModel::Set(_))));
        prop_assert_eq!(contents.sorted_sets, count(|v| matches!(v, ValueModel::SortedSet(_))));
        prop_assert_eq!(contents.streams, count(|v| matches!(v, ValueModel::Stream(_))));
        prop_assert_eq!(contents.keys_with_ttl, keys.clone().filter(|k| k.expire_at.is_some()).count() as u64);
        prop_assert_eq!(contents.aux_fields, model.aux.len() as u64);
        prop_assert_eq!(contents.summary, written);
    }
}

#[test]
fn empty_snapshot_round_trips() {
    for codec in codecs() {
        let (file, summary) = encode(
            &SnapshotModel::default(),
            WriterOptions {
                codec,
                ..WriterOptions::default()
            },
        );
        assert_eq!(summary.data_blocks, 0);
        assert_eq!(summary.records, 0);
        let (model, read) = load(&file).expect("an empty snapshot is valid");
        assert_eq!(model, SnapshotModel::default());
        assert_eq!(read, summary);
    }
}

#[test]
fn keys_per_db_merge_repeated_selections() {
    let key = |name: &[u8]| KeyModel {
        key: name.to_vec(),
        expire_at: None,
        value: ValueModel::Str(b"v".to_vec()),
    };
    let model = SnapshotModel {
        aux: vec![],
        dbs: vec![
            (3, vec![key(b"a"), key(b"b")]),
            (0, vec![key(b"c")]),
            (3, vec![key(b"d")]),
            (15, vec![]),
        ],
    };
    let (file, summary) = encode(&model, WriterOptions::default());
    assert_eq!(summary.keys_per_db, vec![(0, 1), (3, 3)]);
    let contents = check_snapshot(file.as_slice()).expect("valid");
    assert_eq!(
        contents.to_string(),
        format!(
            "snapshot OK: {} bytes, codec plain, 1 data blocks, 8 records\n\
             keys: 4 (0 with a TTL)\ndb0: 1 keys\ndb3: 3 keys\n\
             types: 4 strings, 0 hashes, 0 lists, 0 sets, 0 sorted sets, 0 streams\n\
             collection items: 0, stream groups: 0, aux fields: 0",
            file.len()
        )
    );
}

/// A `Write` that keeps nothing and remembers its largest single write.
#[derive(Default)]
struct MeasuringSink {
    bytes: u64,
    largest_write: usize,
}

impl std::io::Write for MeasuringSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes += buf.len() as u64;
        self.largest_write = self.largest_write.max(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_large_hash_streams_through_bounded_buffers() {
    const FIELDS: u64 = 200_000;
    for codec in codecs() {
        let options = WriterOptions {
            codec,
            block_len: 64 << 10,
        };
        let mut writer = SnapshotWriter::with_options(Vec::new(), options).expect("valid options");
        writer.select_db(0).expect("in order");
        writer.begin_hash(b"big", None, FIELDS).expect("in order");
        for i in 0..FIELDS {
            writer
                .hash_field(format!("field:{i}").as_bytes(), &i.to_le_bytes())
                .expect("in order");
        }
        writer.end_collection().expect("in order");
        let (file, summary) = writer.finish().expect("writing into a Vec cannot fail");
        assert!(summary.data_blocks > 10, "the hash spans many blocks");

        let mut reader = SnapshotReader::new(file.as_slice()).expect("valid header");
        let mut fields = 0u64;
        let mut largest_buffer = 0;
        while let Some(record) = reader.next_record().expect("valid file") {
            if let Record::HashField { field, .. } = record {
                assert_eq!(field, format!("field:{fields}").as_bytes());
                fields += 1;
            }
            largest_buffer = largest_buffer.max(reader.buffered_capacity());
        }
        assert_eq!(fields, FIELDS);
        assert!(
            largest_buffer <= 4 * (64 << 10),
            "the reader holds about a block, not the hash: {largest_buffer} bytes"
        );
    }
}

#[test]
fn writer_output_is_written_block_by_block() {
    let mut writer = SnapshotWriter::with_options(
        MeasuringSink::default(),
        WriterOptions {
            codec: Codec::Plain,
            block_len: 4096,
        },
    )
    .expect("valid options");
    writer.select_db(0).expect("in order");
    // One value of 1 MiB: written in 4 KiB blocks, never as a whole.
    let value = vec![7u8; 1 << 20];
    writer.string(b"big", &value, None).expect("in order");
    let (sink, summary) = writer.finish().expect("the sink never fails");
    assert!(sink.largest_write <= 4096 + 13, "{}", sink.largest_write);
    assert_eq!(sink.bytes, summary.bytes);
    assert!(summary.data_blocks >= 256);
}

#[test]
fn a_value_larger_than_a_block_round_trips() {
    for codec in codecs() {
        let value: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let model = SnapshotModel {
            aux: vec![(b"kevy-ver".to_vec(), b"0.1.0".to_vec())],
            dbs: vec![(
                0,
                vec![KeyModel {
                    key: b"k".to_vec(),
                    expire_at: Some(1_700_000_000_000),
                    value: ValueModel::Str(value),
                }],
            )],
        };
        let options = WriterOptions {
            codec,
            block_len: MIN_BLOCK_LEN,
        };
        let (file, _) = encode(&model, options);
        assert_eq!(load(&file).expect("valid").0, model);
    }
}

#[cfg(feature = "zstd")]
#[test]
fn zstd_compresses_and_stores_incompressible_blocks_raw() {
    let repetitive = vec![b'a'; 100_000];
    let options = WriterOptions {
        codec: Codec::Zstd,
        block_len: 4096,
    };
    let mut writer = SnapshotWriter::with_options(Vec::new(), options).expect("valid");
    writer.select_db(0).expect("in order");
    writer.string(b"k", &repetitive, None).expect("in order");
    let (file, _) = writer.finish().expect("Vec");
    assert!(
        file.len() < 10_000,
        "zstd shrinks repetitive data: {}",
        file.len()
    );

    // Random bytes do not compress: blocks are stored raw, never larger.
    let mut state = 0x9e3779b97f4a7c15u64;
    let noise: Vec<u8> = (0..100_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let mut writer = SnapshotWriter::with_options(Vec::new(), options).expect("valid");
    writer.select_db(0).expect("in order");
    writer.string(b"k", &noise, None).expect("in order");
    let (file, summary) = writer.finish().expect("Vec");
    assert!(file.len() < 100_000 + 13 * summary.data_blocks as usize + 200);
    let (model, _) = load(&file).expect("valid");
    assert_eq!(model.dbs[0].1[0].value, ValueModel::Str(noise));
}
