//! Operations on strings seen as bit arrays, free of any keyspace: range
//! resolution for BITCOUNT/BITPOS, counting, searching and BITOP's
//! combination. Bit 0 is the most significant bit of the first byte, as in
//! Redis.

/// Whether BITCOUNT/BITPOS ranges count bytes or bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Unit {
    Byte,
    Bit,
}

/// Redis's range rule for BITCOUNT and BITPOS over `len` units: negative
/// indexes count from the end, both ends are clamped into the string.
/// None when the range is empty.
pub(super) fn resolve_range(len: i64, start: i64, end: i64) -> Option<(i64, i64)> {
    let from_end = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (start, end) = (from_end(start), from_end(end).min(len - 1));
    (start <= end).then_some((start, end))
}

/// Set bits in the inclusive range `[start, end]` of `unit`s, already
/// resolved against `data`.
pub(super) fn count_ones(data: &[u8], unit: Unit, start: i64, end: i64) -> u64 {
    let (first, last) = match unit {
        Unit::Byte => (start as usize, end as usize),
        Unit::Bit => ((start >> 3) as usize, (end >> 3) as usize),
    };
    let mut count: u64 = data[first..=last]
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum();
    if unit == Unit::Bit {
        // Take away the bits of the edge bytes that lie outside the range.
        let before = !(0xffu8 >> (start & 7));
        let after = 0xffu8.checked_shr(1 + (end & 7) as u32).unwrap_or(0);
        count -= u64::from((data[first] & before).count_ones());
        count -= u64::from((data[last] & after).count_ones());
    }
    count
}

/// The first bit equal to `bit` among bit positions `[from, to]` of `data`
/// (both within it), or None.
pub(super) fn find_bit(data: &[u8], bit: bool, from: u64, to: u64) -> Option<u64> {
    let (first, last) = ((from >> 3) as usize, (to >> 3) as usize);
    // Looking for a 1 in `b`, or for a 1 in `!b` when looking for a 0.
    let wanted = |b: u8| if bit { b } else { !b };
    let in_range = |index: usize| {
        let mut mask = 0xffu8;
        if index == first {
            mask &= 0xff >> (from & 7);
        }
        if index == last {
            mask &= !(0xffu8.checked_shr(1 + (to & 7) as u32).unwrap_or(0));
        }
        mask
    };
    let hit = |index: usize, byte: u8| {
        let bits = wanted(byte) & in_range(index);
        (bits != 0).then(|| index as u64 * 8 + u64::from(bits.leading_zeros()))
    };
    if let Some(pos) = hit(first, data[first]) {
        return Some(pos);
    }
    if last > first + 1 {
        // Whole bytes in between: skip those with nothing to find.
        let skip = if bit { 0x00 } else { 0xff };
        let middle = &data[first + 1..last];
        if let Some(offset) = middle.iter().position(|&b| b != skip) {
            let index = first + 1 + offset;
            return hit(index, data[index]);
        }
    }
    if last > first {
        return hit(last, data[last]);
    }
    None
}

/// BITOP's operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// Combines `sources` byte by byte into a string as long as the longest;
/// shorter sources count as zero-padded. NOT takes one source.
pub(super) fn combine(op: BitOp, sources: &[Vec<u8>]) -> Vec<u8> {
    let longest = sources.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = vec![0u8; longest];
    let Some((head, rest)) = sources.split_first() else {
        return out;
    };
    out[..head.len()].copy_from_slice(head);
    for src in rest {
        match op {
            BitOp::And => {
                out.iter_mut().zip(src).for_each(|(o, s)| *o &= s);
                out[src.len()..].fill(0);
            }
            BitOp::Or => out.iter_mut().zip(src).for_each(|(o, s)| *o |= s),
            BitOp::Xor => out.iter_mut().zip(src).for_each(|(o, s)| *o ^= s),
            BitOp::Not => {}
        }
    }
    if op == BitOp::Not {
        out.iter_mut().for_each(|o| *o = !*o);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The naive definitions the fast code must agree with.
    fn bit_at(data: &[u8], pos: u64) -> bool {
        data[(pos >> 3) as usize] & (0x80 >> (pos & 7)) != 0
    }

    #[test]
    fn ranges_resolve_like_redis() {
        assert_eq!(resolve_range(6, 0, -1), Some((0, 5)));
        assert_eq!(resolve_range(6, -2, -1), Some((4, 5)));
        assert_eq!(resolve_range(6, 1, 100), Some((1, 5)));
        assert_eq!(resolve_range(6, -100, -100), Some((0, 0)));
        assert_eq!(resolve_range(6, 4, 2), None);
        assert_eq!(resolve_range(0, 0, -1), None);
        assert_eq!(resolve_range(48, i64::MIN, i64::MAX), Some((0, 47)));
    }

    #[test]
    fn counts_match_a_naive_count() {
        let data = b"foobar\xff\x00\x81";
        let bits = data.len() as i64 * 8;
        for start in 0..bits {
            for end in start..bits {
                let naive = (start..=end).filter(|&p| bit_at(data, p as u64)).count() as u64;
                assert_eq!(
                    count_ones(data, Unit::Bit, start, end),
                    naive,
                    "{start}..={end}"
                );
            }
        }
        assert_eq!(count_ones(b"foobar", Unit::Byte, 0, 5), 26);
        assert_eq!(count_ones(b"foobar", Unit::Byte, 1, 1), 6);
    }

    #[test]
    fn searches_match_a_naive_search() {
        let data = b"\x00\xff\xf0\x00\x00\x00\x0f\xff\xff\x7f";
        let bits = data.len() as u64 * 8;
        for bit in [false, true] {
            for from in 0..bits {
                for to in from..bits {
                    let naive = (from..=to).find(|&p| bit_at(data, p) == bit);
                    assert_eq!(find_bit(data, bit, from, to), naive, "{bit} {from}..={to}");
                }
            }
        }
    }

    #[test]
    fn combines_with_zero_padding() {
        let a = b"\xff\x0f\xaa".to_vec();
        let b = b"\x0f".to_vec();
        assert_eq!(
            combine(BitOp::And, &[a.clone(), b.clone()]),
            b"\x0f\x00\x00"
        );
        assert_eq!(combine(BitOp::Or, &[b.clone(), a.clone()]), b"\xff\x0f\xaa");
        assert_eq!(
            combine(BitOp::Xor, &[a.clone(), b.clone()]),
            b"\xf0\x0f\xaa"
        );
        assert_eq!(combine(BitOp::Not, &[a]), b"\x00\xf0\x55");
        assert_eq!(combine(BitOp::And, &[vec![], b]), b"\x00");
        assert!(combine(BitOp::Or, &[vec![], vec![]]).is_empty());
    }
}
