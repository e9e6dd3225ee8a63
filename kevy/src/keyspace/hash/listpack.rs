//! The compact form of a small hash, Redis's `listpack` encoding: every
//! field and value packed into one byte vector, in insertion order.
//!
//! Each string is a LEB128 length followed by its bytes; a pair is its
//! field then its value. There is no index: lookups walk the pairs,
//! skipping a string by its length, which is fast at the sizes this form
//! is kept for (`hash-max-listpack-entries`, `hash-max-listpack-value`)
//! and costs no per-entry allocation. New fields go to the end and updated
//! values stay in place, so iteration order is the order Redis replies in.

use crate::keyspace::cow_bytes::CowBytes;

/// Pairs packed end to end. There is no count beside them: counting
/// walks the strings' lengths (at most `hash-max-listpack-entries` pairs),
/// which keeps a small hash 24 bytes inside the value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PackedPairs {
    /// Shared with a snapshot's view once large (see `CowBytes`).
    bytes: CowBytes,
}

/// Bytes `data` takes packed: its LEB128 length, then itself.
fn encoded_len(data: &[u8]) -> usize {
    let significant_bits = usize::BITS - data.len().leading_zeros();
    significant_bits.max(1).div_ceil(7) as usize + data.len()
}

fn push_string(out: &mut Vec<u8>, data: &[u8]) {
    let mut len = data.len();
    while len >= 0x80 {
        out.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(data);
}

/// The string starting at `at` and the offset after it. `at` must be the
/// start of a string written by [`push_string`].
fn read_string(bytes: &[u8], mut at: usize) -> (&[u8], usize) {
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let byte = bytes[at];
        at += 1;
        len |= usize::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            break;
        }
        shift += 7;
    }
    (&bytes[at..at + len], at + len)
}

/// Where a pair sits: its start, where its value starts, and its end.
struct Span {
    start: usize,
    value: usize,
    end: usize,
}

impl PackedPairs {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        let mut at = 0;
        let mut pairs = 0;
        while at < self.bytes.len() {
            let (_, value) = read_string(&self.bytes, at);
            at = read_string(&self.bytes, value).1;
            pairs += 1;
        }
        pairs
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Bytes used, for the size guard of conversions.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    pub fn iter(&self) -> Pairs<'_> {
        Pairs {
            bytes: &self.bytes,
            at: 0,
            left: self.len(),
        }
    }

    fn find(&self, field: &[u8]) -> Option<Span> {
        let mut at = 0;
        while at < self.bytes.len() {
            let (name, value) = read_string(&self.bytes, at);
            let (_, end) = read_string(&self.bytes, value);
            if name == field {
                return Some(Span {
                    start: at,
                    value,
                    end,
                });
            }
            at = end;
        }
        None
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.find(field)
            .map(|span| read_string(&self.bytes, span.value).0)
    }

    /// Sets `field` to `value`; true when the field is new (appended).
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self.find(field) {
            Some(span) => {
                let mut encoded = Vec::with_capacity(value.len() + 2);
                push_string(&mut encoded, value);
                self.bytes.splice(span.value..span.end, encoded);
                self.bytes.settle();
                false
            }
            None => {
                // Grow by about what is needed (plus an eighth), not by
                // doubling: small hashes are many, and their slack adds up.
                let needed = encoded_len(field) + encoded_len(value);
                if self.bytes.capacity() - self.bytes.len() < needed {
                    let slack = self.bytes.len() / 8;
                    self.bytes.reserve_exact(needed + slack);
                }
                push_string(&mut self.bytes, field);
                push_string(&mut self.bytes, value);
                self.bytes.settle();
                true
            }
        }
    }

    /// Removes `field`; false when absent.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self.find(field) {
            Some(span) => {
                self.bytes.drain(span.start..span.end);
                if self.bytes.capacity() > 2 * self.bytes.len() + 64 {
                    let keep = self.bytes.len() + self.bytes.len() / 4;
                    self.bytes.shrink_to(keep);
                    self.bytes.settle();
                }
                true
            }
            None => false,
        }
    }
}

/// Field/value pairs in order.
#[derive(Clone)]
pub struct Pairs<'a> {
    bytes: &'a [u8],
    at: usize,
    left: usize,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let (field, value_at) = read_string(self.bytes, self.at);
        let (value, end) = read_string(self.bytes, value_at);
        self.at = end;
        self.left -= 1;
        Some((field, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Pairs<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encoded_lengths_match_what_is_written() {
        for len in [0, 1, 127, 128, 300, 16_383, 16_384, 70_000] {
            let data = vec![b'x'; len];
            let mut out = Vec::new();
            push_string(&mut out, &data);
            assert_eq!(encoded_len(&data), out.len(), "{len}");
        }
    }

    #[test]
    fn keeps_insertion_order_and_updates_in_place() {
        let mut pairs = PackedPairs::default();
        assert!(pairs.set(b"a", b"1"));
        assert!(pairs.set(b"b", &[b'x'; 300]));
        assert!(pairs.set(b"", b""));
        assert!(!pairs.set(b"a", b"one"));
        let all: Vec<_> = pairs.iter().collect();
        assert_eq!(
            all,
            vec![
                (&b"a"[..], &b"one"[..]),
                (&b"b"[..], &[b'x'; 300][..]),
                (&b""[..], &b""[..])
            ]
        );
        assert_eq!(pairs.get(b"b").map(<[u8]>::len), Some(300));
        assert!(pairs.remove(b"b"));
        assert!(!pairs.remove(b"b"));
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs.get(b""), Some(&b""[..]));
        assert_eq!(pairs.get(b"zz"), None);
    }

    proptest! {
        #[test]
        fn behaves_like_an_ordered_map(
            ops in prop::collection::vec(
                (0u8..3, 0u8..20, prop::collection::vec(any::<u8>(), 0..200)),
                0..200,
            )
        ) {
            let mut pairs = PackedPairs::default();
            let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            for (op, field, value) in ops {
                let field = vec![b'f'; field as usize];
                let at = model.iter().position(|(f, _)| *f == field);
                if op < 2 {
                    prop_assert_eq!(pairs.set(&field, &value), at.is_none());
                    match at {
                        Some(i) => model[i].1 = value,
                        None => model.push((field, value)),
                    }
                } else {
                    prop_assert_eq!(pairs.remove(&field), at.is_some());
                    if let Some(i) = at {
                        model.remove(i);
                    }
                }
            }
            prop_assert_eq!(pairs.len(), model.len());
            let all: Vec<(Vec<u8>, Vec<u8>)> =
                pairs.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            prop_assert_eq!(all, model);
        }
    }
}
