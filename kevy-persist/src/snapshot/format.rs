//! The fixed parts of the snapshot file: header, block frames, trailer,
//! and the limits that keep a hostile file from making a reader allocate.
//!
//! Everything here is plain byte layout (little-endian, fixed width);
//! the writer and reader do the I/O and call these to build and check the
//! pieces. The layout itself is described in the module comment of
//! [`crate::snapshot`].

use crate::PersistError;

/// First bytes of every snapshot file.
pub const MAGIC: [u8; 8] = *b"KEVYSNAP";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Header: magic, version (u16), codec (u8), reserved (u8), crc32 of the
/// twelve bytes before it.
pub const HEADER_LEN: usize = 16;
/// Block frame header: kind (u8), stored length (u32), raw length (u32),
/// crc32 (u32) of the nine bytes before it and of the payload.
pub const BLOCK_HEADER_LEN: usize = 13;
/// The whole-file checksum after the trailer block.
pub const FILE_CHECKSUM_LEN: usize = 4;

/// Most bytes a block may hold, raw or stored. A reader refuses a block
/// header claiming more before allocating anything, so one block never
/// costs a reader more than this (plus the same again to decompress).
pub const MAX_BLOCK_LEN: usize = 1 << 20;
/// Smallest block size a writer may be configured with (tiny blocks are
/// useful in tests; they only cost frame overhead).
pub const MIN_BLOCK_LEN: usize = 16;
/// Raw bytes per block a writer emits unless told otherwise.
pub const DEFAULT_BLOCK_LEN: usize = 256 << 10;
/// Most bytes one record may take, by default, when read back: two bulk
/// strings at Redis's 512 MiB `proto-max-bulk-len` (a string key and its
/// value) plus headers. A record may span many blocks; the reader buffers
/// at most one record, and only as many bytes as the file really holds.
pub const DEFAULT_MAX_RECORD_LEN: u64 = (1 << 30) + (1 << 16);

/// Block kind: records, encoded with the file's codec.
pub(crate) const BLOCK_DATA: u8 = 1;
/// Block kind: records stored raw although the file's codec compresses
/// (compression did not make this block smaller).
pub(crate) const BLOCK_DATA_RAW: u8 = 2;
/// Block kind: the trailer, always raw, always the last block.
pub(crate) const BLOCK_TRAILER: u8 = 3;

/// How block payloads are encoded; recorded in the header, so a file
/// always says how to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// Payloads stored as they are.
    Plain,
    /// Payloads compressed with zstd, one frame per block (needs the
    /// `zstd` feature to write or read).
    Zstd,
}

impl Codec {
    /// Every codec the format defines, whether compiled in or not.
    pub const ALL: [Codec; 2] = [Codec::Plain, Codec::Zstd];

    pub fn name(self) -> &'static str {
        match self {
            Codec::Plain => "plain",
            Codec::Zstd => "zstd",
        }
    }

    /// Whether this build can write and read the codec.
    pub fn is_compiled_in(self) -> bool {
        match self {
            Codec::Plain => true,
            Codec::Zstd => cfg!(feature = "zstd"),
        }
    }

    pub(crate) fn to_byte(self) -> u8 {
        match self {
            Codec::Plain => 0,
            Codec::Zstd => 1,
        }
    }

    pub(crate) fn from_byte(byte: u8) -> Result<Codec, PersistError> {
        match byte {
            0 => Ok(Codec::Plain),
            1 => Ok(Codec::Zstd),
            found => Err(PersistError::UnknownCodec { found }),
        }
    }

    /// Refuses a codec this build lacks, naming the feature that adds it.
    pub(crate) fn require_compiled_in(self) -> Result<(), PersistError> {
        if self.is_compiled_in() {
            Ok(())
        } else {
            Err(PersistError::CodecNotCompiled {
                codec: self.name(),
                feature: "zstd",
            })
        }
    }
}

impl std::fmt::Display for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

pub(crate) fn encode_header(codec: Codec) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..8].copy_from_slice(&MAGIC);
    header[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[10] = codec.to_byte();
    header[11] = 0;
    let crc = crc32fast::hash(&header[..12]);
    header[12..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Checks a header read from a file and returns its codec. The magic is
/// checked first (a different file type says so, not "corrupt"), then
/// the checksum, then version and codec.
pub(crate) fn decode_header(header: &[u8; HEADER_LEN]) -> Result<Codec, PersistError> {
    if header[..8] != MAGIC {
        return Err(PersistError::NotASnapshot);
    }
    let expected = read_u32(header, 12);
    let found = crc32fast::hash(&header[..12]);
    if expected != found {
        return Err(PersistError::HeaderChecksumMismatch { expected, found });
    }
    let version = u16::from_le_bytes([header[8], header[9]]);
    if version != FORMAT_VERSION {
        return Err(PersistError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let codec = Codec::from_byte(header[10])?;
    codec.require_compiled_in()?;
    Ok(codec)
}

/// The fields of a block frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockHeader {
    pub kind: u8,
    pub stored_len: u32,
    pub raw_len: u32,
    pub crc: u32,
}

impl BlockHeader {
    /// Builds the frame header of `payload`; the crc covers the kind, both
    /// lengths and the payload, so a flipped length is caught too.
    pub(crate) fn for_payload(kind: u8, raw_len: usize, payload: &[u8]) -> [u8; BLOCK_HEADER_LEN] {
        let stored_len =
            u32::try_from(payload.len()).expect("block payloads are capped at MAX_BLOCK_LEN");
        let raw_len = u32::try_from(raw_len).expect("block payloads are capped at MAX_BLOCK_LEN");
        let mut header = [0u8; BLOCK_HEADER_LEN];
        header[0] = kind;
        header[1..5].copy_from_slice(&stored_len.to_le_bytes());
        header[5..9].copy_from_slice(&raw_len.to_le_bytes());
        let crc = block_crc(&header[..9], payload);
        header[9..].copy_from_slice(&crc.to_le_bytes());
        header
    }

    pub(crate) fn parse(header: &[u8; BLOCK_HEADER_LEN]) -> BlockHeader {
        BlockHeader {
            kind: header[0],
            stored_len: read_u32(header, 1),
            raw_len: read_u32(header, 5),
            crc: read_u32(header, 9),
        }
    }

    /// The crc this header and `payload` should carry.
    pub(crate) fn computed_crc(&self, payload: &[u8]) -> u32 {
        let mut fields = [0u8; 9];
        fields[0] = self.kind;
        fields[1..5].copy_from_slice(&self.stored_len.to_le_bytes());
        fields[5..9].copy_from_slice(&self.raw_len.to_le_bytes());
        block_crc(&fields, payload)
    }
}

fn block_crc(fields: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(fields);
    hasher.update(payload);
    hasher.finalize()
}

/// What the trailer counts: the reader recounts and compares.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TrailerCounts {
    pub data_blocks: u64,
    pub records: u64,
    /// `(db index, keys)` for every database holding keys, ascending.
    pub keys_per_db: Vec<(u32, u64)>,
}

/// Trailer body: data blocks (u64), records (u64), database count (u32),
/// then per database index (u32) and keys (u64).
const TRAILER_FIXED_LEN: usize = 20;
const TRAILER_DB_LEN: usize = 12;

impl TrailerCounts {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(TRAILER_FIXED_LEN + TRAILER_DB_LEN * self.keys_per_db.len());
        out.extend_from_slice(&self.data_blocks.to_le_bytes());
        out.extend_from_slice(&self.records.to_le_bytes());
        let dbs = u32::try_from(self.keys_per_db.len()).expect("database indexes are u32");
        out.extend_from_slice(&dbs.to_le_bytes());
        for &(db, keys) in &self.keys_per_db {
            out.extend_from_slice(&db.to_le_bytes());
            out.extend_from_slice(&keys.to_le_bytes());
        }
        out
    }

    pub(crate) fn decode(body: &[u8]) -> Result<TrailerCounts, &'static str> {
        if body.len() < TRAILER_FIXED_LEN {
            return Err("the trailer is shorter than its fixed fields");
        }
        let dbs = read_u32(body, 16) as usize;
        let expected_len = dbs
            .checked_mul(TRAILER_DB_LEN)
            .and_then(|len| len.checked_add(TRAILER_FIXED_LEN));
        if expected_len != Some(body.len()) {
            return Err("the trailer's length disagrees with its database count");
        }
        let keys_per_db = (0..dbs)
            .map(|i| {
                let at = TRAILER_FIXED_LEN + i * TRAILER_DB_LEN;
                (read_u32(body, at), read_u64(body, at + 4))
            })
            .collect();
        Ok(TrailerCounts {
            data_blocks: read_u64(body, 0),
            records: read_u64(body, 8),
            keys_per_db,
        })
    }
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}
