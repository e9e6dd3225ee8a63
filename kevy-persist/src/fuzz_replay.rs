//! Stable-Rust replay of the fuzz targets: every input of the fuzz corpus
//! (`fuzz/corpus/<target>/`, grown by `cargo +nightly fuzz run`) and a
//! stream of random and mutated inputs go through the same bodies
//! ([`crate::fuzz_entry`]), so CI, which has no nightly, covers them.

use std::path::PathBuf;

use proptest::prelude::*;

use crate::fuzz_entry;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 4] = [
    ("snapshot_reader", fuzz_entry::snapshot_reader),
    ("check_snapshot", fuzz_entry::check_snapshot),
    ("log_reader", fuzz_entry::log_reader),
    ("manifest", fuzz_entry::manifest),
];

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn the_fuzz_corpus_replays_without_panic() {
    let mut replayed = 0;
    for (name, target) in TARGETS {
        for path in corpus(name) {
            let bytes = std::fs::read(&path).expect("corpus files are readable");
            target(&bytes);
            replayed += 1;
        }
    }
    // The corpus is committed; an empty one means it went missing.
    assert!(replayed > 0, "no fuzz corpus found under fuzz/corpus");
}

/// A sound log and a sound manifest to mutate.
fn seeds() -> (Vec<u8>, Vec<u8>) {
    use crate::aof::{encode_entry, LogEntry, TxnTag};
    let mut log = Vec::new();
    for i in 0..6u64 {
        let mut payload = Vec::new();
        encode_entry(
            &LogEntry {
                db: (i % 2) as u32,
                txn: (i == 3).then_some(TxnTag {
                    run: 1,
                    id: i,
                    parts: 2,
                }),
                commands: b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
            },
            &mut payload,
        );
        crate::encode_record(&payload, &mut log).expect("fits");
    }
    let manifest =
        b"file a.1.base.rdb seq 1 type b\nfile a.1.incr.0.aof seq 1 type i shard 0\n".to_vec();
    (log, manifest)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        for (_, target) in TARGETS {
            target(&bytes);
        }
    }

    #[test]
    fn mutated_logs_and_manifests_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let (log, manifest) = seeds();
        for mut input in [log, manifest] {
            for (at, byte) in &edits {
                let at = at.index(input.len());
                input[at] = *byte;
            }
            let len = cut.index(input.len() + 1);
            fuzz_entry::log_reader(&input[..len]);
            fuzz_entry::manifest(&input[..len]);
        }
    }
}
