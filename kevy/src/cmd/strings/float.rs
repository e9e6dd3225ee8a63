//! INCRBYFLOAT's arithmetic, byte-exact with Redis.
//!
//! Redis parses both operands with `strtold`, adds them as C `long double`
//! (80-bit extended precision on x86-64, so 0.1 + 0.2 prints as `0.3`) and
//! prints the sum with `"%.17Lf"` minus trailing zeros. Rust has no such
//! type, so `csrc/longdouble.c` (compiled by `build.rs`) does exactly those
//! steps; this module is its safe face.

use std::os::raw::{c_char, c_int};

extern "C" {
    /// `current + increment` (current absent when NULL), printed into
    /// `out`; returns 0 and sets `*out_len`, 1 when an operand is not a
    /// number, 2 when the sum is NaN or infinite. Reads exactly the given
    /// lengths; writes at most `out_cap` bytes.
    fn kevy_incrbyfloat(
        current: *const u8,
        current_len: usize,
        increment: *const u8,
        increment_len: usize,
        out: *mut c_char,
        out_cap: usize,
        out_len: *mut usize,
    ) -> c_int;
}

/// Redis's `MAX_LONG_DOUBLE_CHARS`: the print buffer; the largest finite
/// `long double` prints in under 5000 bytes.
const PRINT_BUFFER: usize = 5 * 1024;

/// The outcome of one INCRBYFLOAT.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::cmd) enum Sum {
    /// The new value's text.
    Text(Vec<u8>),
    /// The stored value or the increment is not a float.
    NotFloat,
    NanOrInfinity,
}

/// `current + increment` as Redis computes and prints it; an absent
/// current value counts as 0.
pub(in crate::cmd) fn add(current: Option<&[u8]>, increment: &[u8]) -> Sum {
    let mut out = [0u8; PRINT_BUFFER];
    let mut out_len = 0usize;
    let (current_ptr, current_len) = match current {
        Some(bytes) => (bytes.as_ptr(), bytes.len()),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: every pointer comes from a live slice or array that outlives
    // the call, each with its true length; the C side reads at most those
    // lengths (copying the operands into its own NUL-terminated buffers),
    // writes at most `out.len()` bytes into `out`, and keeps no pointer.
    let status = unsafe {
        kevy_incrbyfloat(
            current_ptr,
            current_len,
            increment.as_ptr(),
            increment.len(),
            out.as_mut_ptr().cast::<c_char>(),
            out.len(),
            &mut out_len,
        )
    };
    match status {
        0 => Sum::Text(out[..out_len.min(out.len())].to_vec()),
        2 => Sum::NanOrInfinity,
        _ => Sum::NotFloat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(current: Option<&str>, increment: &str) -> Sum {
        add(current.map(str::as_bytes), increment.as_bytes())
    }

    fn text(s: &str) -> Sum {
        Sum::Text(s.as_bytes().to_vec())
    }

    #[test]
    fn sums_print_as_redis_does() {
        assert_eq!(sum(Some("10.5"), "0.1"), text("10.6"));
        assert_eq!(sum(Some("0.1"), "0.2"), text("0.3"));
        assert_eq!(sum(None, "3.0e3"), text("3000"));
        assert_eq!(sum(Some("5.0e3"), "-5.0e3"), text("0"));
        assert_eq!(sum(Some("-0.0"), "0"), text("0"));
        assert_eq!(sum(Some("1"), "-1.5"), text("-0.5"));
        assert_eq!(sum(Some("5"), "0x10"), text("21"));
        assert_eq!(sum(None, "1e-20"), text("0"));
    }

    #[test]
    fn rejects_what_redis_rejects() {
        for bad in ["", " 1", "1 ", "abc", "nan", "1e99999", "1e-99999", "1\0"] {
            assert_eq!(sum(None, bad), Sum::NotFloat, "{bad:?}");
            assert_eq!(sum(Some(bad), "1"), Sum::NotFloat, "{bad:?}");
        }
        assert_eq!(sum(Some("inf"), "1"), Sum::NanOrInfinity);
        assert_eq!(sum(Some("1e4932"), "1e4932"), Sum::NanOrInfinity);
        assert_eq!(sum(None, &"1".repeat(PRINT_BUFFER)), Sum::NotFloat);
    }
}
