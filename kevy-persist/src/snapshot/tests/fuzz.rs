//! Fuzz-style property tests: the reader, fed arbitrary bytes (behind a
//! valid header or not, randomly edited snapshots, garbage records inside
//! valid framing), returns errors and never panics. `check_snapshot`
//! drives the whole reader, so it stands in for `kevy check-snapshot`.

use proptest::prelude::*;

use super::corruption::{counts, craft};
use super::*;
use crate::snapshot::format::{encode_header, BLOCK_DATA};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn arbitrary_bytes_never_panic(tail in prop::collection::vec(any::<u8>(), 0..2000), plain in any::<bool>()) {
        let mut file = encode_header(if plain { Codec::Plain } else { Codec::Zstd }).to_vec();
        file.extend_from_slice(&tail);
        let _ = check_snapshot(file.as_slice());
        let _ = check_snapshot(tail.as_slice());
    }

    #[test]
    fn arbitrary_edits_of_a_snapshot_never_panic(
        model in snapshot(),
        options in options(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let (mut file, _) = encode(&model, options);
        for (at, byte) in edits {
            let at = at.index(file.len());
            file[at] = byte;
        }
        let len = cut.index(file.len() + 1);
        let _ = load(&file[..len]);
    }

    #[test]
    fn arbitrary_record_payloads_never_panic(payload in prop::collection::vec(any::<u8>(), 0..400)) {
        // Valid framing and checksums around garbage records: only the
        // record decoder and grammar stand between it and the loader.
        let file = craft(&[(BLOCK_DATA, payload)], &counts(1, 0, vec![]));
        let _ = load(&file);
    }
}

#[cfg(feature = "zstd")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Garbage (or real zstd frames of garbage) in a checksummed zstd
    /// block with any stated raw length: refused, never a panic, never
    /// more than the capped raw length allocated.
    #[test]
    fn arbitrary_zstd_blocks_never_panic(
        garbage in prop::collection::vec(any::<u8>(), 0..400),
        compress in any::<bool>(),
        raw_len in 0usize..=crate::snapshot::MAX_BLOCK_LEN,
    ) {
        use crate::snapshot::format::BlockHeader;
        let payload = if compress {
            zstd::bulk::compress(&garbage, 1).expect("compresses")
        } else {
            garbage
        };
        let mut file = encode_header(Codec::Zstd).to_vec();
        file.extend_from_slice(&BlockHeader::for_payload(BLOCK_DATA, raw_len, &payload));
        file.extend_from_slice(&payload);
        let _ = check_snapshot(file.as_slice());
    }
}
