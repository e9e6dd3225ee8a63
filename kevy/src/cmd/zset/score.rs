//! Scores as Redis 7.0 reads and prints them.
//!
//! Reading goes through the C library's `strtod`, as Redis does, so every
//! form it accepts (`inf`, `+inf`, `-Infinity`, hexadecimal, `.5`) and
//! refuses (`nan`, spaces, trailing bytes) matches:
//! - [`parse_score`] is `getDoubleFromObject` (`string2d`): the whole
//!   argument, no leading space, no overflow or underflow to zero;
//! - [`parse_bound`] is `zslParseRange`'s reading of one end of a score
//!   interval: an optional `(`, then `strtod` up to the C string's end,
//!   with leading spaces and out-of-range values allowed.
//!
//! Printing is `addReplyDouble`: `%.17g` (by `snprintf`, so digits round
//! as the C library rounds them) in a bulk string for RESP2 and a `,`
//! double for RESP3, `inf`/`-inf` spelled out. `ZSCAN` of a listpack
//! prints scores as the listpack stores them ([`push_listpack_score`]).

use std::os::raw::c_char;

use crate::resp::num::push_i64;
use crate::resp::ReplyBuf;

/// C's `isspace` in the "C" locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

pub(super) use crate::resp::num::c_str;

/// `strtod` on `text` (which holds no NUL): the value and how many bytes
/// it consumed.
fn strtod(text: &[u8]) -> (f64, usize) {
    let mut c_text = Vec::with_capacity(text.len() + 1);
    c_text.extend_from_slice(text);
    c_text.push(0);
    let start = c_text.as_ptr().cast::<c_char>();
    let mut end: *mut c_char = std::ptr::null_mut();
    // SAFETY: `c_text` is NUL-terminated and outlives the call; strtod
    // reads up to that NUL, stores in `end` a pointer into `c_text` and
    // keeps nothing.
    let value = unsafe { libc::strtod(start, &mut end) };
    let consumed = (end as usize).saturating_sub(start as usize);
    (value, consumed.min(text.len()))
}

/// True when strtod reported `ERANGE` with an infinite or zero result:
/// an overflow (infinity from digits, not from an `inf` literal) or an
/// underflow to zero (zero from a mantissa with a nonzero digit).
fn out_of_range(text: &[u8], value: f64) -> bool {
    let unsigned = text
        .strip_prefix(b"-")
        .or(text.strip_prefix(b"+"))
        .unwrap_or(text);
    if value.is_infinite() {
        return !unsigned
            .first()
            .is_some_and(|b| b.eq_ignore_ascii_case(&b'i'));
    }
    if value != 0.0 {
        return false;
    }
    let (digits, exponent_mark, hex) = match unsigned {
        [b'0', b'x' | b'X', rest @ ..] => (rest, b'p', true),
        _ => (unsigned, b'e', false),
    };
    digits
        .iter()
        .take_while(|b| !b.eq_ignore_ascii_case(&exponent_mark))
        .any(|&b| {
            if hex {
                b.is_ascii_hexdigit() && b != b'0'
            } else {
                (b'1'..=b'9').contains(&b)
            }
        })
}

/// Redis's `getDoubleFromObject`: a score, an increment or a weight.
pub(super) fn parse_score(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || is_c_space(arg[0]) || arg.contains(&0) {
        return None;
    }
    let (value, consumed) = strtod(arg);
    if consumed != arg.len() || value.is_nan() || out_of_range(arg, value) {
        return None;
    }
    Some(value)
}

/// One end of a score interval (`zslParseRange`): the value and whether
/// it is exclusive (`(` prefix).
pub(super) fn parse_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let text = c_str(arg);
    let (text, exclusive) = match text.strip_prefix(b"(") {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let (value, consumed) = strtod(text);
    (consumed == text.len() && !value.is_nan()).then_some((value, exclusive))
}

pub(super) use crate::resp::num::push_g17 as push_score;

/// Redis's `double2ll`: the integer a listpack stores for an integral
/// score within ±2^62.
fn listpack_integer(score: f64) -> Option<i64> {
    let limit = (i64::MAX / 2) as f64;
    if !(-limit..=limit).contains(&score) {
        return None;
    }
    let integer = score as i64;
    (integer as f64 == score).then_some(integer)
}

/// A score as a listpack holds it: integral scores as integers, others
/// as `%.17g` text (what `ZSCAN` returns for listpack sets).
pub(super) fn push_listpack_score(out: &mut Vec<u8>, score: f64) {
    match listpack_integer(score) {
        Some(integer) => push_i64(out, integer),
        None => push_score(out, score),
    }
}

/// `addReplyDouble`.
pub(super) fn reply_score(reply: &mut ReplyBuf, score: f64) {
    let mut text = Vec::with_capacity(32);
    push_score(&mut text, score);
    if reply.resp3 {
        reply.raw(b",");
        reply.raw(&text);
        reply.raw(b"\r\n");
    } else {
        reply.bulk(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(score: f64) -> String {
        let mut out = Vec::new();
        push_score(&mut out, score);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn prints_like_percent_17g() {
        assert_eq!(text(1.5), "1.5");
        assert_eq!(text(0.1), "0.10000000000000001");
        assert_eq!(text(1e20), "1e+20");
        assert_eq!(text(3.0), "3");
        assert_eq!(text(-0.0), "-0");
        assert_eq!(text(f64::INFINITY), "inf");
        assert_eq!(text(f64::NEG_INFINITY), "-inf");
        assert_eq!(text(5e-324), "4.9406564584124654e-324");
        assert_eq!(text(-1.7976931348623157e308), "-1.7976931348623157e+308");
    }

    #[test]
    fn listpack_scores_keep_integers() {
        let lp = |s: f64| {
            let mut out = Vec::new();
            push_listpack_score(&mut out, s);
            String::from_utf8(out).unwrap_or_default()
        };
        assert_eq!(lp(1e17), "100000000000000000");
        assert_eq!(lp(4611686018427387904.0), "4611686018427387904");
        assert_eq!(lp(9223372036854775807.0), "9.2233720368547758e+18");
        assert_eq!(lp(-0.0), "0");
        assert_eq!(lp(2.5), "2.5");
        assert_eq!(lp(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn reads_like_string2d() {
        let ok = |s: &str| parse_score(s.as_bytes());
        assert_eq!(ok("1.5"), Some(1.5));
        assert_eq!(ok("0x10"), Some(16.0));
        assert_eq!(ok(".5"), Some(0.5));
        assert_eq!(ok("5."), Some(5.0));
        assert_eq!(ok("+inf"), Some(f64::INFINITY));
        assert_eq!(ok("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(ok("1e-310"), Some(1e-310));
        assert_eq!(ok("0e-999"), Some(0.0));
        for bad in [
            "",
            " 1",
            "1 ",
            "abc",
            "nan",
            "-nan",
            "1e400",
            "-1e400",
            "1e-400",
            "0x1p-2000",
            "1_0",
            "1\0",
        ] {
            assert_eq!(ok(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn reads_bounds_like_zsl_parse_range() {
        let b = |s: &str| parse_bound(s.as_bytes());
        assert_eq!(b("(1.5"), Some((1.5, true)));
        assert_eq!(b(""), Some((0.0, false)));
        assert_eq!(b("("), Some((0.0, true)));
        assert_eq!(b(" 1"), Some((1.0, false)));
        assert_eq!(b("1e400"), Some((f64::INFINITY, false)));
        assert_eq!(b("2\0junk"), Some((2.0, false)));
        assert_eq!(b("1 "), None);
        assert_eq!(b("nan"), None);
        assert_eq!(b("[1"), None);
    }
}
