//! Redis's listpack byte format, as `DUMP` payloads carry it for small
//! hashes, sorted sets and list nodes (see `listpack.c`).
//!
//! ```text
//! total bytes (u32 LE) | count (u16 LE) | entry ... | 0xFF
//! entry = encoding byte(s) + data + backlen (1-5 bytes: the size of
//!         encoding + data, 7 bits per byte, read right to left)
//! ```
//!
//! [`ListpackWriter`] appends entries as `lpAppend` does: a string that
//! `string2ll` reads as an `i64` is stored in the smallest integer
//! encoding, so written listpacks are byte-identical to Redis's.
//! [`entries`] reads a listpack from untrusted bytes and checks every
//! length, backlen, the count and the terminator; it never panics.

use crate::resp::num::{parse_i64, push_i64};

const HEADER_LEN: usize = 6;
const TERMINATOR: u8 = 0xFF;
/// The count stored when the real count does not fit 16 bits.
const COUNT_UNKNOWN: u16 = u16::MAX;
const INT16: u8 = 0xF1;
const INT24: u8 = 0xF2;
const INT32: u8 = 0xF3;
const INT64: u8 = 0xF4;
const STR32: u8 = 0xF0;

/// One listpack element: Redis keeps integer-looking strings as integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LpEntry<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl LpEntry<'_> {
    /// The element's string form.
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            LpEntry::Int(n) => {
                let mut out = Vec::with_capacity(20);
                push_i64(&mut out, n);
                out
            }
            LpEntry::Bytes(bytes) => bytes.to_vec(),
        }
    }
}

/// `lpEncodeBacklen`: how many bytes an entry of `len` bytes
/// (encoding + data) takes, written so it can be read backwards.
fn push_backlen(out: &mut Vec<u8>, len: usize) {
    let len = len as u64;
    let groups = match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    };
    for i in (0..groups).rev() {
        let seven = ((len >> (7 * i)) & 127) as u8;
        // Every byte but the first written carries the continuation bit.
        out.push(if i == groups - 1 { seven } else { seven | 128 });
    }
}

/// Builds a listpack entry by entry.
pub struct ListpackWriter {
    bytes: Vec<u8>,
    count: usize,
}

impl Default for ListpackWriter {
    fn default() -> Self {
        let mut bytes = Vec::with_capacity(64);
        bytes.extend_from_slice(&[0; HEADER_LEN]);
        ListpackWriter { bytes, count: 0 }
    }
}

impl ListpackWriter {
    /// Bytes the finished listpack would take (`lpBytes`).
    pub fn byte_len(&self) -> usize {
        self.bytes.len() + 1
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// `lpAppend`: integer-looking strings become integers.
    pub fn push(&mut self, element: &[u8]) {
        match parse_i64(element) {
            Some(n) => self.push_int(n),
            None => self.push_string(element),
        }
    }

    pub fn push_int(&mut self, n: i64) {
        let start = self.bytes.len();
        let out = &mut self.bytes;
        if (0..=127).contains(&n) {
            out.push(n as u8);
        } else if (-4096..=4095).contains(&n) {
            let unsigned = (n as u64) & 0x1FFF;
            out.push(0xC0 | (unsigned >> 8) as u8);
            out.push(unsigned as u8);
        } else if let Ok(v) = i16::try_from(n) {
            out.push(INT16);
            out.extend_from_slice(&v.to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&n) {
            out.push(INT24);
            out.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
        } else if let Ok(v) = i32::try_from(n) {
            out.push(INT32);
            out.extend_from_slice(&v.to_le_bytes());
        } else {
            out.push(INT64);
            out.extend_from_slice(&n.to_le_bytes());
        }
        self.finish_entry(start);
    }

    /// A string kept as bytes, whatever it looks like.
    fn push_string(&mut self, data: &[u8]) {
        let start = self.bytes.len();
        let out = &mut self.bytes;
        let len = data.len();
        if len < 64 {
            out.push(0x80 | len as u8);
        } else if len < 4096 {
            out.push(0xE0 | (len >> 8) as u8);
            out.push(len as u8);
        } else {
            out.push(STR32);
            // Listpacks are capped far below 4 GiB by their u32 header.
            out.extend_from_slice(&(len as u32).to_le_bytes());
        }
        out.extend_from_slice(data);
        self.finish_entry(start);
    }

    fn finish_entry(&mut self, start: usize) {
        let len = self.bytes.len() - start;
        push_backlen(&mut self.bytes, len);
        self.count += 1;
    }

    /// The listpack: header filled in, terminator appended.
    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.push(TERMINATOR);
        let total = u32::try_from(self.bytes.len()).unwrap_or(u32::MAX);
        let count = u16::try_from(self.count).unwrap_or(COUNT_UNKNOWN);
        self.bytes[..4].copy_from_slice(&total.to_le_bytes());
        self.bytes[4..6].copy_from_slice(&count.to_le_bytes());
        self.bytes
    }
}

/// A listpack of `elements` as `lpAppend` builds it.
#[cfg(test)]
pub fn encode<'a>(elements: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut writer = ListpackWriter::default();
    for element in elements {
        writer.push(element);
    }
    writer.finish()
}

/// The listpack is malformed.
#[derive(Debug, PartialEq, Eq)]
pub struct BadListpack;

fn le_uint(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// Sign-extends the low `bits` of `value`.
fn signed(value: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((value << shift) as i64) >> shift
}

/// Reads one entry at the start of `data`: the entry and its total size
/// (backlen included).
fn read_entry(data: &[u8]) -> Result<(LpEntry<'_>, usize), BadListpack> {
    let first = *data.first().ok_or(BadListpack)?;
    let get = |range: std::ops::Range<usize>| data.get(range).ok_or(BadListpack);
    let (entry, len) = if first & 0x80 == 0 {
        (LpEntry::Int(i64::from(first)), 1)
    } else if first & 0xC0 == 0x80 {
        let len = usize::from(first & 0x3F);
        (LpEntry::Bytes(get(1..1 + len)?), 1 + len)
    } else if first & 0xE0 == 0xC0 {
        let raw =
            (u64::from(first & 0x1F) << 8) | u64::from(*get(1..2)?.first().ok_or(BadListpack)?);
        (LpEntry::Int(signed(raw, 13)), 2)
    } else if first & 0xF0 == 0xE0 {
        let len = (usize::from(first & 0x0F) << 8) | usize::from(get(1..2)?[0]);
        (LpEntry::Bytes(get(2..2 + len)?), 2 + len)
    } else {
        match first {
            INT16 => (LpEntry::Int(signed(le_uint(get(1..3)?), 16)), 3),
            INT24 => (LpEntry::Int(signed(le_uint(get(1..4)?), 24)), 4),
            INT32 => (LpEntry::Int(signed(le_uint(get(1..5)?), 32)), 5),
            INT64 => (LpEntry::Int(signed(le_uint(get(1..9)?), 64)), 9),
            STR32 => {
                let len = usize::try_from(le_uint(get(1..5)?)).map_err(|_| BadListpack)?;
                let end = len.checked_add(5).ok_or(BadListpack)?;
                (LpEntry::Bytes(get(5..end)?), end)
            }
            _ => return Err(BadListpack),
        }
    };
    let mut backlen = Vec::with_capacity(5);
    push_backlen(&mut backlen, len);
    let end = len + backlen.len();
    if get(len..end)? != backlen.as_slice() {
        return Err(BadListpack);
    }
    Ok((entry, end))
}

/// Every entry of the listpack `data` (exactly the listpack's bytes), after
/// checking the header, each entry, the count and the terminator.
pub fn entries(data: &[u8]) -> Result<Vec<LpEntry<'_>>, BadListpack> {
    if data.len() < HEADER_LEN + 1 {
        return Err(BadListpack);
    }
    let total = le_uint(&data[..4]);
    let count = le_uint(&data[4..6]);
    if total != data.len() as u64 || data[data.len() - 1] != TERMINATOR {
        return Err(BadListpack);
    }
    let body = &data[HEADER_LEN..data.len() - 1];
    // Every entry takes at least two bytes, which bounds the allocation.
    let mut out = Vec::with_capacity((count as usize).min(body.len() / 2));
    let mut at = 0;
    while at < body.len() {
        let (entry, size) = read_entry(&body[at..])?;
        out.push(entry);
        at += size;
    }
    if count != u64::from(COUNT_UNKNOWN) && count != out.len() as u64 {
        return Err(BadListpack);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decoded(data: &[u8]) -> Vec<Vec<u8>> {
        entries(data)
            .expect("a valid listpack")
            .into_iter()
            .map(LpEntry::to_vec)
            .collect()
    }

    #[test]
    fn integers_take_the_smallest_encoding() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"0", b"\x00\x01"),
            (b"127", b"\x7f\x01"),
            (b"128", b"\xc0\x80\x02"),
            (b"-1", b"\xdf\xff\x02"),
            (b"-4096", b"\xd0\x00\x02"),
            (b"4096", b"\xf1\x00\x10\x03"),
            (b"-32768", b"\xf1\x00\x80\x03"),
            (b"100000", b"\xf2\xa0\x86\x01\x04"),
            (b"-100000", b"\xf2\x60\x79\xfe\x04"),
            (b"70000", b"\xf2\x70\x11\x01\x04"),
            (b"5000000000", b"\xf4\x00\xf2\x05\x2a\x01\x00\x00\x00\x09"),
            (b"2147483647", b"\xf3\xff\xff\xff\x7f\x05"),
            (b"007", b"\x83007\x04"),
            (b"-0", b"\x82-0\x03"),
            (b"", b"\x80\x01"),
        ];
        for &(text, entry) in cases {
            let packed = encode([text]);
            assert_eq!(&packed[HEADER_LEN..packed.len() - 1], entry, "{text:?}");
            assert_eq!(decoded(&packed), vec![text.to_vec()]);
        }
    }

    #[test]
    fn long_strings_and_backlens() {
        for len in [63, 64, 126, 127, 200, 4095, 4096, 16383, 20000] {
            let text = vec![b'x'; len];
            let packed = encode([text.as_slice()]);
            assert_eq!(decoded(&packed), vec![text]);
        }
    }

    #[test]
    fn a_hash_listpack_from_redis_reads() {
        // The listpack inside `DUMP` of `HSET hs f1 v1 f2 42 num -7 ...`.
        let packed = b"\x36\x00\x00\x00\x0c\x00\x82f1\x03\x82v1\x03\x82f2\x03\x2a\x01\x83num\x04\xdf\xf9\x02\x83big\x04\xf2\xa0\x86\x01\x04\x83neg\x04\xf2\x60\x79\xfe\x04\x81e\x02\x80\x01\xff";
        let fields: Vec<&[u8]> = vec![
            b"f1", b"v1", b"f2", b"42", b"num", b"-7", b"big", b"100000", b"neg", b"-100000", b"e",
            b"",
        ];
        assert_eq!(encode(fields.iter().copied()), packed.to_vec());
        assert_eq!(
            decoded(packed),
            fields.iter().map(|f| f.to_vec()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn malformed_listpacks_are_rejected() {
        let good = encode([&b"ab"[..], b"300"]);
        let mut bad_total = good.clone();
        bad_total[0] += 1;
        let mut bad_count = good.clone();
        bad_count[4] = 3;
        let mut bad_end = good.clone();
        *bad_end.last_mut().expect("not empty") = 0;
        let mut bad_backlen = good.clone();
        bad_backlen[HEADER_LEN + 3] = 9;
        for bad in [
            bad_total,
            bad_count,
            bad_end,
            bad_backlen,
            vec![],
            vec![7, 0, 0, 0, 0, 0],
        ] {
            assert_eq!(entries(&bad), Err(BadListpack), "{bad:?}");
        }
        assert_eq!(entries(&encode([])), Ok(vec![]));
    }

    proptest! {
        #[test]
        fn round_trips(elements in prop::collection::vec(
            prop_oneof![
                prop::collection::vec(any::<u8>(), 0..100),
                any::<i64>().prop_map(|n| n.to_string().into_bytes()),
                (-5000i64..5000).prop_map(|n| n.to_string().into_bytes()),
            ],
            0..50,
        )) {
            let packed = encode(elements.iter().map(Vec::as_slice));
            prop_assert_eq!(decoded(&packed), elements);
        }

        #[test]
        fn arbitrary_bytes_never_panic(mut data in prop::collection::vec(any::<u8>(), 0..300)) {
            if data.len() > HEADER_LEN {
                // Mostly right totals and terminators, so entries are read.
                let len = data.len() as u32;
                data[..4].copy_from_slice(&len.to_le_bytes());
                let last = data.len() - 1;
                data[last] = TERMINATOR;
            }
            let _ = entries(&data);
        }
    }
}
