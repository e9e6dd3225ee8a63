//! The parts of Redis's RDB object serialization that `DUMP` and `RESTORE`
//! use: length prefixes and strings, written as `rdb.c` writes them (so a
//! payload is byte-identical to Redis's) and read as it reads them.
//!
//! A string is written as: a small integer encoding (`0xC0` 8-bit, `0xC1`
//! 16-bit, `0xC2` 32-bit, little-endian) when it is the canonical decimal
//! form of a 32-bit integer; LZF (`0xC3`, compressed length, original
//! length, data) when longer than 20 bytes and compression saves at least
//! 5 bytes; otherwise a length and the bytes.

use super::lzf;
use crate::keyspace::RString;
use crate::resp::num::{parse_i64, push_i64};

const RDB_6BITLEN: u8 = 0;
const RDB_14BITLEN: u8 = 1;
const RDB_ENCVAL: u8 = 3;
const RDB_32BITLEN: u8 = 0x80;
const RDB_64BITLEN: u8 = 0x81;
const RDB_ENC_INT8: u64 = 0;
const RDB_ENC_INT16: u64 = 1;
const RDB_ENC_INT32: u64 = 2;
const RDB_ENC_LZF: u64 = 3;
/// Redis does not try to compress strings this short.
const LZF_MIN_LEN: usize = 21;
/// Redis writes integer-looking strings this long or shorter as integers
/// when they fit 32 bits.
const INT_TRY_MAX_LEN: usize = 11;

/// The payload does not hold a well-formed object (`ERR Bad data format`).
#[derive(Debug, PartialEq, Eq)]
pub struct BadFormat;

/// `rdbSaveLen`: 6-bit, 14-bit, 32-bit or 64-bit big-endian lengths.
pub fn write_length(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8 | (RDB_6BITLEN << 6));
    } else if len < 1 << 14 {
        out.push(((len >> 8) as u8) | (RDB_14BITLEN << 6));
        out.push(len as u8);
    } else if len <= u64::from(u32::MAX) {
        out.push(RDB_32BITLEN);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(RDB_64BITLEN);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// `rdbEncodeInteger`: the special encoding of a value that fits 32 bits.
fn write_small_integer(out: &mut Vec<u8>, value: i64) -> bool {
    let header = |enc: u64| (RDB_ENCVAL << 6) | enc as u8;
    if let Ok(v) = i8::try_from(value) {
        out.push(header(RDB_ENC_INT8));
        out.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = i16::try_from(value) {
        out.push(header(RDB_ENC_INT16));
        out.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = i32::try_from(value) {
        out.push(header(RDB_ENC_INT32));
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// `rdbSaveLongLongAsStringObject`: an integer-encoded string value.
fn write_integer_string(out: &mut Vec<u8>, value: i64) {
    if !write_small_integer(out, value) {
        let mut digits = Vec::with_capacity(20);
        push_i64(&mut digits, value);
        write_length(out, digits.len() as u64);
        out.extend_from_slice(&digits);
    }
}

/// `rdbTryIntegerEncoding`: writes `bytes` as an integer when they are the
/// canonical form of one that fits 32 bits.
fn try_write_as_integer(out: &mut Vec<u8>, bytes: &[u8]) -> bool {
    let Some(value) = parse_i64(bytes) else {
        return false;
    };
    let mut canonical = Vec::with_capacity(20);
    push_i64(&mut canonical, value);
    canonical == bytes && write_small_integer(out, value)
}

/// `rdbSaveRawString`.
pub fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.len() <= INT_TRY_MAX_LEN && try_write_as_integer(out, bytes) {
        return;
    }
    if bytes.len() >= LZF_MIN_LEN {
        if let Some(packed) = lzf::compress(bytes, bytes.len() - 4) {
            out.push((RDB_ENCVAL << 6) | RDB_ENC_LZF as u8);
            write_length(out, packed.len() as u64);
            write_length(out, bytes.len() as u64);
            out.extend_from_slice(&packed);
            return;
        }
    }
    write_length(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// `rdbSaveStringObject`.
pub fn write_string(out: &mut Vec<u8>, value: &RString) {
    match value {
        RString::Int(n) => write_integer_string(out, *n),
        RString::Bytes { data, .. } => write_bytes(out, data),
    }
}

/// Reads RDB-encoded data from a byte slice; every read past the end is
/// [`BadFormat`].
pub struct RdbReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> RdbReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        RdbReader { data, pos: 0 }
    }

    pub fn byte(&mut self) -> Result<u8, BadFormat> {
        let byte = *self.data.get(self.pos).ok_or(BadFormat)?;
        self.pos += 1;
        Ok(byte)
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], BadFormat> {
        let n = usize::try_from(n).map_err(|_| BadFormat)?;
        let end = self.pos.checked_add(n).ok_or(BadFormat)?;
        let bytes = self.data.get(self.pos..end).ok_or(BadFormat)?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], BadFormat> {
        self.take(N as u64)?.try_into().map_err(|_| BadFormat)
    }

    /// `rdbLoadLen`: a length, or (second field true) the number of a
    /// special encoding.
    pub fn length(&mut self) -> Result<(u64, bool), BadFormat> {
        let first = self.byte()?;
        match first >> 6 {
            RDB_ENCVAL => Ok((u64::from(first & 0x3f), true)),
            RDB_6BITLEN => Ok((u64::from(first & 0x3f), false)),
            RDB_14BITLEN => {
                let low = self.byte()?;
                Ok(((u64::from(first & 0x3f) << 8) | u64::from(low), false))
            }
            _ if first == RDB_32BITLEN => Ok((u64::from(u32::from_be_bytes(self.array()?)), false)),
            _ if first == RDB_64BITLEN => Ok((u64::from_be_bytes(self.array()?), false)),
            _ => Err(BadFormat),
        }
    }

    /// `rdbLoadEncodedStringObject` followed by `tryObjectEncoding`, as
    /// Redis loads a string value.
    pub fn string(&mut self) -> Result<RString, BadFormat> {
        Ok(RString::from_client(&self.bytes()?))
    }

    /// Bytes left to read: bounds any count read from the payload.
    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// A count of items that each take at least one byte: larger counts
    /// cannot be honest, and must not size an allocation.
    pub fn count(&mut self) -> Result<usize, BadFormat> {
        let (count, encoded) = self.length()?;
        let count = usize::try_from(count).map_err(|_| BadFormat)?;
        if encoded || count > self.remaining() {
            return Err(BadFormat);
        }
        Ok(count)
    }

    /// `rdbLoadBinaryDoubleValue`: 8 bytes, little-endian.
    pub fn binary_double(&mut self) -> Result<f64, BadFormat> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// `rdbGenericLoadStringObject` with `RDB_LOAD_PLAIN`: the bytes of a
    /// string in any of its encodings (integers as their decimal text).
    pub fn bytes(&mut self) -> Result<Vec<u8>, BadFormat> {
        let (len, encoded) = self.length()?;
        if !encoded {
            return Ok(self.take(len)?.to_vec());
        }
        let integer = match len {
            RDB_ENC_INT8 => i64::from(i8::from_le_bytes(self.array()?)),
            RDB_ENC_INT16 => i64::from(i16::from_le_bytes(self.array()?)),
            RDB_ENC_INT32 => i64::from(i32::from_le_bytes(self.array()?)),
            RDB_ENC_LZF => {
                // Redis reads both lengths without checking for the special
                // encoding flag.
                let (packed_len, _) = self.length()?;
                let (len, _) = self.length()?;
                let packed = self.take(packed_len)?;
                let len = usize::try_from(len).map_err(|_| BadFormat)?;
                // `lzf_decompress` returns 0 on error, which Redis compares
                // with the expected length like any other result.
                let data = lzf::decompress(packed, len).unwrap_or_default();
                if data.len() != len {
                    return Err(BadFormat);
                }
                return Ok(data);
            }
            _ => return Err(BadFormat),
        };
        let mut digits = Vec::with_capacity(20);
        push_i64(&mut digits, integer);
        Ok(digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(value: &RString) -> Vec<u8> {
        let mut out = Vec::new();
        write_string(&mut out, value);
        out
    }

    #[test]
    fn lengths_use_the_smallest_form() {
        let cases: &[(u64, &[u8])] = &[
            (5, b"\x05"),
            (63, b"\x3f"),
            (64, b"\x40\x40"),
            (16383, b"\x7f\xff"),
            (16384, b"\x80\x00\x00\x40\x00"),
            (1 << 32, b"\x81\x00\x00\x00\x01\x00\x00\x00\x00"),
        ];
        for &(len, bytes) in cases {
            let mut out = Vec::new();
            write_length(&mut out, len);
            assert_eq!(out, bytes, "length {len}");
            assert_eq!(RdbReader::new(bytes).length(), Ok((len, false)));
        }
        assert_eq!(RdbReader::new(b"\xc3").length(), Ok((3, true)));
        assert_eq!(RdbReader::new(b"\x82").length(), Err(BadFormat));
    }

    #[test]
    fn strings_encode_as_redis_does() {
        // Bytes from `DUMP` in redis-server 7.0.15, without type and footer.
        let cases: &[(&[u8], &[u8])] = &[
            (b"0", b"\xc0\x00"),
            (b"127", b"\xc0\x7f"),
            (b"-128", b"\xc0\x80"),
            (b"128", b"\xc1\x80\x00"),
            (b"-129", b"\xc1\x7f\xff"),
            (b"32768", b"\xc2\x00\x80\x00\x00"),
            (b"-32769", b"\xc2\xff\x7f\xff\xff"),
            (b"2147483647", b"\xc2\xff\xff\xff\x7f"),
            (b"2147483648", b"\x0a2147483648"),
            (b"-2147483649", b"\x0b-2147483649"),
            (b"12345678901", b"\x0b12345678901"),
            (b"007", b"\x03007"),
            (b"-0", b"\x02-0"),
            (b"", b"\x00"),
            (b"aaaaaaaaaaaaaaaaaaaa", b"\x14aaaaaaaaaaaaaaaaaaaa"),
            (b"aaaaaaaaaaaaaaaaaaaaa", b"\xc3\x06\x15\x01aa\xe0\x0a\x00"),
            (
                b"abcdefghijklmnopqrstuvwxyz",
                b"\x1aabcdefghijklmnopqrstuvwxyz",
            ),
        ];
        for &(text, bytes) in cases {
            let client = RString::from_client(text);
            assert_eq!(
                encoded(&client),
                bytes,
                "{:?}",
                String::from_utf8_lossy(text)
            );
            let plain = RString::plain(text.to_vec());
            assert_eq!(
                encoded(&plain),
                bytes,
                "plain {:?}",
                String::from_utf8_lossy(text)
            );
            assert_eq!(RdbReader::new(bytes).string(), Ok(client));
        }
    }

    #[test]
    fn loading_applies_the_int_encoding() {
        assert_eq!(RdbReader::new(b"\x03123").string(), Ok(RString::Int(123)));
        assert_eq!(RdbReader::new(b"\xc0\x05").string(), Ok(RString::Int(5)));
    }

    #[test]
    fn malformed_strings_are_rejected() {
        for bad in [
            &b"\xc4"[..],
            b"\xc0",
            b"\xc2\x00\x00",
            b"\x05hell",
            b"\xc3\x02\x05\x01aa",
            b"\xc3\x06\x14\x01aa\xe0\x0a\x00",
            b"\x81\xff\xff\xff\xff\xff\xff\xff\xff",
        ] {
            assert_eq!(RdbReader::new(bad).string(), Err(BadFormat), "{bad:?}");
        }
        // An empty LZF string is valid whatever the compressed bytes say.
        assert_eq!(
            RdbReader::new(b"\xc3\x00\x00").string(),
            Ok(RString::from_client(b""))
        );
        assert_eq!(
            RdbReader::new(b"\xc3\x01\x00\x00").string(),
            Ok(RString::from_client(b""))
        );
    }
}
