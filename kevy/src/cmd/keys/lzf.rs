//! LZF, the compression Redis applies to strings in RDB files and `DUMP`
//! payloads, ported from liblzf 3.6 (`lzf_c.c`, `lzf_d.c`) with its default
//! settings (`HLOG` 16, `VERY_FAST`), which is what Debian's redis-server
//! 7.0.15 links, so compressed output is byte-identical to it. (Some
//! versions of the copy in Redis's source tree also refuse matches that
//! start fewer than 5 bytes from the end, so a Redis built from source may
//! compress the last bytes differently; every variant decodes the same.)
//!
//! Format: `000LLLLL` + L+1 literal bytes; `LLLooooo oooooooo` a back
//! reference of L+2 bytes at distance o+1; `111ooooo LLLLLLLL oooooooo` the
//! same with length L+9.
//!
//! One difference from the C code: liblzf leaves its hash table
//! uninitialised (stack garbage, which its bounds checks make harmless);
//! here it starts empty for every call.

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// The compressor's hash table: the last input position seen for each hash
/// of 3 bytes. It is large (64Ki slots), so one table per thread is reused;
/// each entry carries the number of the call that wrote it, which empties
/// the table for a new call without clearing it.
struct HashTable {
    entries: Vec<u64>,
    call: u32,
}

impl HashTable {
    fn start_call(&mut self) {
        if self.entries.is_empty() {
            self.entries = vec![0; HSIZE];
        }
        self.call = self.call.wrapping_add(1);
        if self.call == 0 {
            // Numbers wrapped: entries of old calls could look current.
            self.entries.fill(0);
            self.call = 1;
        }
    }

    /// Stores `position` for `slot`, returning what was there in this call.
    fn replace(&mut self, slot: usize, position: usize) -> Option<usize> {
        let previous = self.entries[slot];
        self.insert(slot, position);
        ((previous >> 32) as u32 == self.call).then_some(previous as u32 as usize)
    }

    fn insert(&mut self, slot: usize, position: usize) {
        self.entries[slot] = (u64::from(self.call) << 32) | position as u64;
    }
}

thread_local! {
    static TABLE: std::cell::RefCell<HashTable> = const {
        std::cell::RefCell::new(HashTable { entries: Vec::new(), call: 0 })
    };
}

fn first(input: &[u8], at: usize) -> u32 {
    (u32::from(input[at]) << 8) | u32::from(input[at + 1])
}

fn next(hval: u32, input: &[u8], at: usize) -> u32 {
    (hval << 8) | u32::from(input[at + 2])
}

fn slot(hval: u32) -> usize {
    ((hval >> (3 * 8 - HLOG)).wrapping_sub(hval.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

/// Output under construction with the C code's pointer arithmetic: `op`
/// may point one past the bytes written (a reserved run header).
struct Out {
    bytes: Vec<u8>,
    op: usize,
    limit: usize,
}

impl Out {
    fn put(&mut self, at: usize, byte: u8) {
        if self.bytes.len() <= at {
            self.bytes.resize(at + 1, 0);
        }
        self.bytes[at] = byte;
    }

    fn push(&mut self, byte: u8) {
        self.put(self.op, byte);
        self.op += 1;
    }

    /// Writes the header of the literal run of `lit` bytes that ends at `op`.
    fn close_run(&mut self, lit: usize) {
        self.put(self.op - lit - 1, (lit as u8).wrapping_sub(1));
    }
}

/// Compresses `input` into at most `max_out` bytes; None when the result
/// would not fit (or the input is empty), as `lzf_compress` returning 0.
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    // Positions are stored in 32 bits, as liblzf's offsets are.
    if input.is_empty() || max_out == 0 || u32::try_from(input.len()).is_err() {
        return None;
    }
    TABLE.with(|table| {
        let mut table = table.borrow_mut();
        table.start_call();
        compress_with(&mut table, input, max_out)
    })
}

fn compress_with(table: &mut HashTable, input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let in_len = input.len();
    let mut out = Out {
        bytes: Vec::with_capacity(max_out),
        op: 1, // start run
        limit: max_out,
    };
    let mut lit = 0usize;
    let mut ip = 0usize;
    let mut hval = if in_len >= 2 { first(input, 0) } else { 0 };
    while ip + 2 < in_len {
        hval = next(hval, input, ip);
        let hslot = slot(hval);
        let reference = table.replace(hslot, ip);
        let matched = reference.filter(|&r| {
            ip.checked_sub(r + 1).is_some_and(|off| off < MAX_OFF)
                && r > 0
                && input[r..r + 3] == input[ip..ip + 3]
        });
        if let Some(r) = matched {
            let off = ip - r - 1;
            let mut len = 2usize;
            let maxlen = (in_len - ip - len).min(MAX_REF);
            if out.op + 3 + 1 >= out.limit && out.op - usize::from(lit == 0) + 3 + 1 >= out.limit {
                return None;
            }
            // Stop the literal run; undo it if it is empty.
            out.close_run(lit);
            out.op -= usize::from(lit == 0);
            // The C code compares 16 bytes unrolled first when at least 17
            // remain, which can carry `len` one past `maxlen`; kept as is so
            // the output matches.
            let mut mismatch = false;
            if maxlen > 16 {
                for _ in 0..16 {
                    len += 1;
                    if input[r + len] != input[ip + len] {
                        mismatch = true;
                        break;
                    }
                }
            }
            if !mismatch {
                loop {
                    len += 1;
                    if !(len < maxlen && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2; // now the number of octets minus one
            ip += 1;
            if len < 7 {
                out.push(((off >> 8) + (len << 5)) as u8);
            } else {
                out.push(((off >> 8) + (7 << 5)) as u8);
                out.push((len - 7) as u8);
            }
            out.push(off as u8);
            lit = 0;
            out.op += 1; // start run
            ip += len + 1;
            if ip + 2 >= in_len {
                break;
            }
            // VERY_FAST: re-hash the last two positions of the match.
            ip -= 2;
            hval = first(input, ip);
            hval = next(hval, input, ip);
            table.insert(slot(hval), ip);
            ip += 1;
            hval = next(hval, input, ip);
            table.insert(slot(hval), ip);
            ip += 1;
        } else {
            if out.op >= out.limit {
                return None;
            }
            lit += 1;
            out.push(input[ip]);
            ip += 1;
            if lit == MAX_LIT {
                out.close_run(lit);
                lit = 0;
                out.op += 1;
            }
        }
    }
    if out.op + 3 > out.limit {
        return None;
    }
    while ip < in_len {
        lit += 1;
        out.push(input[ip]);
        ip += 1;
        if lit == MAX_LIT {
            out.close_run(lit);
            lit = 0;
            out.op += 1;
        }
    }
    out.close_run(lit);
    out.op -= usize::from(lit == 0);
    out.bytes.truncate(out.op);
    out.bytes.resize(out.op, 0);
    Some(out.bytes)
}

/// Decompresses `input` into at most `out_len` bytes, as `lzf_decompress`:
/// None where the C function returns 0 (output too small, input truncated,
/// a reference before the start). The caller compares the length it gets
/// with the one it expected.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    // Never allocate more than the input can expand to: at most 264 bytes
    // per 2-byte reference.
    let mut out = Vec::with_capacity(out_len.min(input.len().saturating_mul(132)));
    let mut ip = 0usize;
    // The C loop is a do-while: with empty input it reads one (garbage)
    // control byte, and every path then returns 0.
    if input.is_empty() {
        return None;
    }
    while ip < input.len() {
        let ctrl = usize::from(input[ip]);
        ip += 1;
        if ctrl < (1 << 5) {
            let run = ctrl + 1;
            if out.len() + run > out_len || ip + run > input.len() {
                return None;
            }
            out.extend_from_slice(&input[ip..ip + run]);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if ip >= input.len() {
                return None;
            }
            if len == 7 {
                len += usize::from(input[ip]);
                ip += 1;
                if ip >= input.len() {
                    return None;
                }
            }
            let distance = ((ctrl & 0x1f) << 8) + 1 + usize::from(input[ip]);
            ip += 1;
            if out.len() + len + 2 > out_len || distance > out.len() {
                return None;
            }
            // Byte by byte: the source may overlap what is being written.
            let start = out.len() - distance;
            for i in 0..len + 2 {
                let byte = out[start + i];
                out.push(byte);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_output() {
        // From `DUMP` in redis-server 7.0.15 (after the 0xC3 header and the
        // two lengths).
        assert_eq!(
            compress(&[b'a'; 21], 17).unwrap(),
            b"\x01aa\xe0\x0a\x00".to_vec()
        );
        assert_eq!(
            compress(&[b'x'; 100], 96).unwrap(),
            b"\x01xx\xe0\x57\x00\x01xx".to_vec()
        );
        // A match may start 3 bytes before the end.
        assert_eq!(
            compress(b"aaababaaababbaaaaaababbbb", 21).unwrap(),
            b"\x03aaab\x20\x01\x60\x05\x40\x06\x20\x00\x20\x0f\x20\x00".to_vec()
        );
    }

    #[test]
    fn round_trips() {
        let mut samples: Vec<Vec<u8>> = vec![
            b"abcabcabcabcabcabcabcabcabcabcabcabc".to_vec(),
            (0..5000u32).map(|i| (i % 251) as u8).collect(),
            (0..3000u32).map(|i| (i * 7 % 13) as u8).collect(),
            vec![0u8; 100_000],
        ];
        let mut x = 12345u32;
        samples.push(
            (0..4000)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 24) as u8 & 0x0f
                })
                .collect(),
        );
        for sample in samples {
            let packed = compress(&sample, sample.len() - 4).expect("compressible");
            assert!(packed.len() < sample.len() - 4);
            assert_eq!(decompress(&packed, sample.len()).unwrap(), sample);
        }
    }

    #[test]
    fn incompressible_input_does_not_fit() {
        let sample: Vec<u8> = (0..=255u8).collect();
        assert!(compress(&sample, sample.len() - 4).is_none());
        assert!(compress(b"", 10).is_none());
    }

    #[test]
    fn rejects_corrupt_input() {
        // A reference before the start of the output.
        assert!(decompress(b"\x20\x05", 10).is_none());
        // A literal run longer than the input.
        assert!(decompress(b"\x05ab", 10).is_none());
        // Output larger than announced.
        assert!(decompress(b"\x02abc", 2).is_none());
        // Truncated back reference.
        assert!(decompress(b"\x00a\xe0", 100).is_none());
        assert!(decompress(b"", 0).is_none());
        // A huge announced length allocates nothing unreasonable.
        assert_eq!(decompress(b"\x00a", usize::MAX).unwrap(), b"a".to_vec());
    }

    proptest::proptest! {
        #[test]
        fn compress_then_decompress_is_identity(data in proptest::collection::vec(0u8..4, 0..3000)) {
            if let Some(packed) = compress(&data, data.len() + 64) {
                proptest::prop_assert_eq!(decompress(&packed, data.len()), Some(data));
            }
        }

        #[test]
        fn decompress_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..300), len in 0usize..5000) {
            if let Some(out) = decompress(&data, len) {
                proptest::prop_assert!(out.len() <= len);
            }
        }
    }
}
