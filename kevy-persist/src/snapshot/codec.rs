//! Block payload compression, per the file's [`Codec`].
//!
//! The writer hands each raw block to [`BlockCompressor::compress`], which
//! says whether the stored bytes are encoded or raw (a block compression
//! does not shrink is stored raw, so a stored block is never larger than
//! its raw bytes and one limit bounds both). The reader hands each stored
//! payload to [`BlockDecompressor::decompress`] with the raw length from
//! the block header, which caps how much it may produce. Without the
//! `zstd` feature the zstd paths do not exist: the header check refuses a
//! zstd file before any block is read.

use super::format::Codec;
use crate::PersistError;

/// zstd level used by the writer: zstd's default, a good speed/ratio
/// balance for snapshots taken while serving.
#[cfg(feature = "zstd")]
const ZSTD_LEVEL: i32 = 3;

pub(crate) struct BlockCompressor {
    #[cfg(feature = "zstd")]
    zstd: Option<zstd::bulk::Compressor<'static>>,
}

impl BlockCompressor {
    pub(crate) fn new(codec: Codec) -> Result<Self, PersistError> {
        codec.require_compiled_in()?;
        Ok(BlockCompressor {
            #[cfg(feature = "zstd")]
            zstd: match codec {
                Codec::Plain => None,
                Codec::Zstd => Some(zstd::bulk::Compressor::new(ZSTD_LEVEL).map_err(|err| {
                    PersistError::Compression {
                        reason: err.to_string(),
                    }
                })?),
            },
        })
    }

    /// Encodes `raw` into `out` (cleared first); returns false when `out`
    /// holds nothing and the block is to be stored raw.
    pub(crate) fn compress(&mut self, raw: &[u8], out: &mut Vec<u8>) -> Result<bool, PersistError> {
        out.clear();
        #[cfg(feature = "zstd")]
        if let Some(zstd) = self.zstd.as_mut() {
            out.reserve(zstd::zstd_safe::compress_bound(raw.len()));
            zstd.compress_to_buffer(raw, out)
                .map_err(|err| PersistError::Compression {
                    reason: err.to_string(),
                })?;
            return Ok(out.len() < raw.len());
        }
        let _ = raw;
        Ok(false)
    }
}

pub(crate) struct BlockDecompressor {
    #[cfg(feature = "zstd")]
    zstd: Option<zstd::bulk::Decompressor<'static>>,
}

impl BlockDecompressor {
    /// A decompressor for a codec that passed the header check (so it is
    /// compiled in).
    pub(crate) fn new(codec: Codec) -> Result<Self, String> {
        #[cfg(not(feature = "zstd"))]
        debug_assert_eq!(
            codec,
            Codec::Plain,
            "the header check refuses codecs not compiled in"
        );
        Ok(BlockDecompressor {
            #[cfg(feature = "zstd")]
            zstd: match codec {
                Codec::Plain => None,
                Codec::Zstd => {
                    Some(zstd::bulk::Decompressor::new().map_err(|err| err.to_string())?)
                }
            },
        })
    }

    /// Appends the decoded `stored` bytes to `out`; they must come to
    /// exactly `raw_len` bytes (which the caller capped).
    pub(crate) fn decompress(
        &mut self,
        stored: &[u8],
        raw_len: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        #[cfg(feature = "zstd")]
        if let Some(zstd) = self.zstd.as_mut() {
            let start = out.len();
            out.resize(start + raw_len, 0);
            let written = zstd
                .decompress_to_buffer(stored, &mut out[start..])
                .map_err(|err| format!("zstd could not decode the block: {err}"));
            let written = match written {
                Ok(written) => written,
                Err(reason) => {
                    out.truncate(start);
                    return Err(reason);
                }
            };
            out.truncate(start + written);
            if written != raw_len {
                return Err(format!(
                    "the block decodes to {written} bytes, not the {raw_len} its header states"
                ));
            }
            return Ok(());
        }
        let _ = (raw_len, out);
        Err(format!(
            "a compressed block of {} bytes in a file whose codec stores blocks raw",
            stored.len()
        ))
    }
}
