//! Redis's intset byte format, as `DUMP` payloads carry a set of integers
//! (`RDB_TYPE_SET_INTSET`, see `intset.c`):
//!
//! ```text
//! width in bytes (u32 LE: 2, 4 or 8) | count (u32 LE) | members (LE, ascending)
//! ```
//!
//! [`encode`] writes the narrowest width that holds every member, as an
//! intset built by `SADD` has; [`decode`] checks the width, the length and
//! that members strictly ascend (no duplicates), and never panics.

/// The intset is malformed.
#[derive(Debug, PartialEq, Eq)]
pub struct BadIntset;

const HEADER_LEN: usize = 8;

/// The bytes a member takes for a set holding these members.
fn width_for(members: &[i64]) -> usize {
    let fits = |lo: i64, hi: i64| members.iter().all(|n| (lo..=hi).contains(n));
    if fits(i64::from(i16::MIN), i64::from(i16::MAX)) {
        2
    } else if fits(i64::from(i32::MIN), i64::from(i32::MAX)) {
        4
    } else {
        8
    }
}

/// The intset of `members`, which must ascend.
pub fn encode(members: &[i64]) -> Vec<u8> {
    debug_assert!(members.windows(2).all(|w| w[0] < w[1]), "members ascend");
    let width = width_for(members);
    let mut out = Vec::with_capacity(HEADER_LEN + width * members.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(members.len() as u32).to_le_bytes());
    for &n in members {
        out.extend_from_slice(&n.to_le_bytes()[..width]);
    }
    out
}

/// The members of the intset `data` (exactly its bytes), ascending.
pub fn decode(data: &[u8]) -> Result<Vec<i64>, BadIntset> {
    let header = data.get(..HEADER_LEN).ok_or(BadIntset)?;
    let width = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let count = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err(BadIntset);
    }
    let body = &data[HEADER_LEN..];
    if count.checked_mul(width) != Some(body.len()) {
        return Err(BadIntset);
    }
    let members: Vec<i64> = body
        .chunks_exact(width)
        .map(|bytes| {
            let mut wide = [0u8; 8];
            wide[..width].copy_from_slice(bytes);
            let shift = 64 - 8 * width as u32;
            (i64::from_le_bytes(wide) << shift) >> shift
        })
        .collect();
    if !members.windows(2).all(|w| w[0] < w[1]) {
        return Err(BadIntset);
    }
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_what_redis_dumps() {
        // `SADD si 5 -3 100 70000 1` in redis-server 7.0.15: 32-bit members.
        let data = b"\x04\x00\x00\x00\x05\x00\x00\x00\xfd\xff\xff\xff\x01\x00\x00\x00\x05\x00\x00\x00\x64\x00\x00\x00\x70\x11\x01\x00";
        assert_eq!(decode(data), Ok(vec![-3, 1, 5, 100, 70000]));
        assert_eq!(encode(&[-3, 1, 5, 100, 70000]), data.to_vec());
    }

    #[test]
    fn malformed_intsets_are_rejected() {
        for bad in [
            &b""[..],
            b"\x02\x00\x00\x00\x01\x00\x00",
            b"\x03\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00",
            b"\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00",
            b"\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\x01\x00",
            b"\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x01\x00",
            b"\x02\x00\x00\x00\xff\xff\xff\xff",
        ] {
            assert_eq!(decode(bad), Err(BadIntset), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn round_trips(members in prop::collection::btree_set(
            prop_oneof![any::<i16>().prop_map(i64::from), any::<i32>().prop_map(i64::from), any::<i64>()],
            0..60,
        )) {
            let members: Vec<i64> = members.into_iter().collect();
            prop_assert_eq!(decode(&encode(&members)), Ok(members));
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..100)) {
            let _ = decode(&data);
        }
    }
}
