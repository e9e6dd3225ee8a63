//! The byte size Redis's listpack encoding gives each element of a stream
//! node, so that nodes fill up and close exactly where Redis's do.
//!
//! Redis closes a stream node when `stream-node-max-bytes` would be reached,
//! counting the listpack's bytes; approximate trimming then removes whole
//! nodes only. Node boundaries are visible to clients (`XTRIM ~` results,
//! `XINFO STREAM` radix-tree counts), so kevy computes the same sizes
//! without storing listpacks: an element is its encoding header and data
//! plus a back-length of 1 to 5 bytes; strings that read as a 64-bit
//! integer (`lpStringToInt64`, the strict `string2ll`) are stored as
//! integers of 1 to 9 bytes.

use crate::resp::num::parse_i64;

/// Listpack header (total bytes, element count) plus the end marker.
pub const LISTPACK_OVERHEAD: u64 = 6 + 1;

/// Bytes of an integer element.
pub fn int_size(value: i64) -> u64 {
    let encoded = match value {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8_388_608..=8_388_607 => 4,
        -2_147_483_648..=2_147_483_647 => 5,
        _ => 9,
    };
    encoded + backlen_size(encoded)
}

/// Bytes of a string element (integers are encoded as such).
pub fn str_size(data: &[u8]) -> u64 {
    if let Some(value) = parse_i64(data) {
        return int_size(value);
    }
    let len = data.len() as u64;
    let encoded = match len {
        0..=63 => 1 + len,
        64..=4095 => 2 + len,
        _ => 5 + len,
    };
    encoded + backlen_size(encoded)
}

/// Bytes of the back-length that follows an element of `encoded` bytes.
fn backlen_size(encoded: u64) -> u64 {
    match encoded {
        0..=127 => 1,
        128..=16_382 => 2,
        16_383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_take_the_smallest_encoding() {
        assert_eq!(int_size(0), 2);
        assert_eq!(int_size(127), 2);
        assert_eq!(int_size(128), 3);
        assert_eq!(int_size(-1), 3);
        assert_eq!(int_size(-4097), 4);
        assert_eq!(int_size(40_000), 5);
        assert_eq!(int_size(10_000_000), 6);
        assert_eq!(int_size(i64::MAX), 10);
        assert_eq!(int_size(i64::MIN), 10);
    }

    #[test]
    fn strings_that_look_like_integers_are_integers() {
        assert_eq!(str_size(b"5"), 2);
        assert_eq!(str_size(b"05"), 4);
        assert_eq!(str_size(b""), 2);
        assert_eq!(str_size(&[b'a'; 63]), 65);
        assert_eq!(str_size(&[b'a'; 64]), 66 + 1);
        assert_eq!(str_size(&[b'a'; 126]), 128 + 2);
        assert_eq!(str_size(&[b'a'; 4096]), 4101 + 2);
        assert_eq!(str_size(&[b'a'; 20_000]), 20_005 + 3);
    }
}
