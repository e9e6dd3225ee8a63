//! `DUMP` payloads in Redis's format, so that a value dumped by Redis
//! restores into kevy and the other way round:
//!
//! ```text
//! +-------------+---------------------------+------------------------+
//! | type | data | RDB version (2 bytes, LE) | CRC-64 of all before (LE) |
//! +-------------+---------------------------+------------------------+
//! ```
//!
//! The object is RDB-serialized (see [`super::rdb`]; collections in
//! `rdb_write.rs` and `rdb_read.rs`, streams in `rdb_stream.rs`, their
//! listpack and intset blobs in `listpack.rs` and `intset.rs`). Each value
//! type is one arm in [`write_value`] and [`read_value`]; object types kevy
//! cannot read are `ERR Bad data format`.

#[path = "intset.rs"]
mod intset;
#[path = "listpack.rs"]
mod listpack;
#[path = "rdb_read.rs"]
mod rdb_read;
#[cfg(test)]
#[path = "rdb_samples.rs"]
mod rdb_samples;
#[path = "rdb_stream.rs"]
mod rdb_stream;
#[path = "rdb_write.rs"]
mod rdb_write;

use super::crc64::crc64;
use super::rdb::{self, BadFormat, RdbReader};
use crate::config::Config;
use crate::keyspace::list::ChunkLimit;
use crate::keyspace::Value;
pub use rdb_read::LoadLimits;

/// The RDB version Redis 7.0 writes; payloads up to it are accepted.
pub const RDB_VERSION: u16 = 10;
const RDB_TYPE_STRING: u8 = 0;
/// Version and checksum.
const FOOTER_LEN: usize = 10;

/// A value type whose RDB serialization is not written yet.
#[derive(Debug, PartialEq, Eq)]
pub struct NotSerializable(pub &'static str);

fn write_value(out: &mut Vec<u8>, value: &Value) -> Result<(), NotSerializable> {
    match value {
        Value::Str(s) => {
            out.push(RDB_TYPE_STRING);
            rdb::write_string(out, s);
        }
        Value::Hash(hash) => rdb_write::write_hash(out, hash),
        Value::Set(set) => rdb_write::write_set(out, set),
        Value::ZSet(zset) => rdb_write::write_zset(out, zset),
        Value::List(list) => rdb_write::write_list(out, list),
        Value::Stream(stream) => rdb_stream::write_stream(out, stream),
        #[allow(unreachable_patterns)]
        other => return Err(NotSerializable(other.type_name())),
    }
    Ok(())
}

fn read_value(reader: &mut RdbReader, limits: &LoadLimits) -> Result<Value, BadFormat> {
    match reader.byte()? {
        RDB_TYPE_STRING => Ok(Value::Str(reader.string()?)),
        rdb_stream::RDB_TYPE_STREAM_LISTPACKS_2 => {
            rdb_stream::read_stream(reader).map(|s| Value::Stream(Box::new(s)))
        }
        kind => rdb_read::read_collection(reader, kind, limits).unwrap_or(Err(BadFormat)),
    }
}

impl LoadLimits {
    /// The encoding limits in the configuration, as commands read them.
    // RESTORE loads with the defaults until it passes its configuration.
    pub fn from_config(config: &Config) -> Self {
        LoadLimits {
            hash: crate::cmd::hash::hash_limits(config),
            set: crate::cmd::set::set_limits(config),
            zset: crate::cmd::zset::limits(config),
            list: ChunkLimit::from_config(config.get("list-max-listpack-size")),
        }
    }
}

/// `createDumpPayload`: the serialized value, the version and the checksum.
pub fn create(value: &Value) -> Result<Vec<u8>, NotSerializable> {
    let mut out = Vec::new();
    write_value(&mut out, value)?;
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// `verifyDumpPayload`: a version this server can read and a matching
/// checksum.
pub fn verify(payload: &[u8]) -> bool {
    if payload.len() < FOOTER_LEN {
        return false;
    }
    let footer = &payload[payload.len() - FOOTER_LEN..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION {
        return false;
    }
    let (body, crc) = payload.split_at(payload.len() - 8);
    crc64(0, body).to_le_bytes() == crc
}

/// The value of a verified payload. Like Redis, the object is read from the
/// whole payload, footer included, and bytes after it are ignored.
/// Collections get the encodings of the default configuration (tests).
#[cfg(test)]
pub fn load(payload: &[u8]) -> Result<Value, BadFormat> {
    load_with(payload, &LoadLimits::default())
}

/// [`load`] with the configured encoding limits.
pub fn load_with(payload: &[u8], limits: &LoadLimits) -> Result<Value, BadFormat> {
    read_value(&mut RdbReader::new(payload), limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::RString;

    fn with_footer(body: &[u8], version: u16) -> Vec<u8> {
        let mut out = body.to_vec();
        out.extend_from_slice(&version.to_le_bytes());
        let crc = crc64(0, &out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    #[test]
    fn round_trips_and_verifies() {
        for text in [&b"hello"[..], b"42", b"", &[b'z'; 1000]] {
            let value = Value::Str(RString::from_client(text));
            let payload = create(&value).expect("strings serialize");
            assert!(verify(&payload));
            assert_eq!(load(&payload), Ok(value));
        }
    }

    #[test]
    fn versions_and_checksums_are_checked() {
        assert!(verify(&with_footer(b"\x00\x01a", 10)));
        assert!(verify(&with_footer(b"\x00\x01a", 0)));
        assert!(!verify(&with_footer(b"\x00\x01a", 11)));
        let mut corrupt = with_footer(b"\x00\x01a", 10);
        corrupt[2] = b'b';
        assert!(!verify(&corrupt));
        assert!(!verify(b"123456789"));
    }

    #[test]
    fn reads_into_the_footer_as_redis_does() {
        // A truncated string takes its last byte from the version.
        let payload = with_footer(b"\x00\x05hell", 10);
        assert_eq!(
            load(&payload),
            Ok(Value::Str(RString::from_client(b"hell\n")))
        );
        // Trailing bytes after the object are ignored.
        let payload = with_footer(b"\x00\x01aXYZ", 10);
        assert_eq!(load(&payload), Ok(Value::Str(RString::from_client(b"a"))));
        // Types kevy does not read.
        assert_eq!(load(&with_footer(b"\x0f\x01\x01a", 10)), Err(BadFormat));
    }

    proptest::proptest! {
        #[test]
        fn any_string_round_trips(data in proptest::collection::vec(proptest::num::u8::ANY, 0..2000)) {
            let value = Value::Str(RString::from_client(&data));
            proptest::prop_assert_eq!(load(&create(&value).expect("strings serialize")), Ok(value));
        }

        #[test]
        fn arbitrary_payloads_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            // Mostly strings (type 0), the type kevy reads.
            let mut body = body;
            if body.first().is_some_and(|&t| t < 128) {
                body[0] = 0;
            }
            let payload = with_footer(&body, 10);
            proptest::prop_assert!(verify(&payload));
            let _ = load(&payload);
        }
    }
}
