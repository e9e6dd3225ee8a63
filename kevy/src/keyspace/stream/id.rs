//! Stream entry IDs: a millisecond time and a sequence number, ordered as
//! the 128-bit number `ms << 64 | seq` (Redis's big-endian rax keys sort the
//! same way), parsed and printed exactly as Redis does.
//!
//! Parsing follows `streamGenericParseIDOrReply`: the argument is read as a
//! C string (up to its first NUL byte, at most 127 bytes), `-` and `+` are
//! the smallest and largest IDs unless the caller is strict, a missing
//! sequence takes the caller's default, and each number goes through
//! `string2ull` — the strict `string2ll` first, then glibc's `strtoull`,
//! which accepts leading spaces, a sign and leading zeros (so `1--01` is
//! `1-18446744073709551615`, as in Redis).

use std::fmt;

use crate::resp::num::parse_i64;

/// One stream entry ID.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// The next ID (`streamIncrID`); None after the largest one.
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous ID (`streamDecrID`); None before `0-0`.
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// `ms-seq`, as replies carry it.
    pub fn to_bytes(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// How an ID argument may be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdSyntax {
    /// The sequence an ID written as `ms` alone gets.
    pub missing_seq: u64,
    /// `-` and `+` are refused (`streamParseStrictIDOrReply`).
    pub strict: bool,
    /// `ms-*` is accepted (XADD): the sequence is left to the stream.
    pub seq_star: bool,
}

impl IdSyntax {
    /// Lenient: `-` and `+` allowed, `ms` alone is `ms-<missing_seq>`.
    pub const fn lenient(missing_seq: u64) -> Self {
        IdSyntax {
            missing_seq,
            strict: false,
            seq_star: false,
        }
    }

    /// Strict: `-` and `+` refused, `ms` alone is `ms-0`.
    pub const STRICT: IdSyntax = IdSyntax {
        missing_seq: 0,
        strict: true,
        seq_star: false,
    };

    /// XADD's: strict, and `ms-*` allowed.
    pub const XADD: IdSyntax = IdSyntax {
        missing_seq: 0,
        strict: true,
        seq_star: true,
    };
}

/// A parsed ID argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedId {
    pub id: StreamId,
    /// False for `ms-*`: the sequence is to be generated.
    pub seq_given: bool,
}

/// Parses an ID argument; None is Redis's "Invalid stream ID" error.
pub fn parse_id(arg: &[u8], syntax: IdSyntax) -> Option<ParsedId> {
    if arg.len() > 127 {
        return None;
    }
    let text = c_str(arg);
    if syntax.strict && (text == b"-" || text == b"+") {
        return None;
    }
    let exact = |id| {
        Some(ParsedId {
            id,
            seq_given: true,
        })
    };
    match text {
        b"-" => return exact(StreamId::MIN),
        b"+" => return exact(StreamId::MAX),
        _ => {}
    }
    let (ms_text, seq_text) = match text.iter().position(|&b| b == b'-') {
        Some(dash) => (&text[..dash], Some(&text[dash + 1..])),
        None => (text, None),
    };
    let ms = string2ull(ms_text)?;
    let (seq, seq_given) = match seq_text {
        Some(b"*") if syntax.seq_star => (0, false),
        Some(seq_text) => (string2ull(seq_text)?, true),
        None => (syntax.missing_seq, true),
    };
    Some(ParsedId {
        id: StreamId::new(ms, seq),
        seq_given,
    })
}

/// The bytes C string functions see: up to the first NUL.
fn c_str(arg: &[u8]) -> &[u8] {
    arg.iter()
        .position(|&b| b == 0)
        .map_or(arg, |nul| &arg[..nul])
}

/// Redis's `string2ull`: a strict `string2ll` that must not be negative,
/// else glibc's `strtoull` over the whole string.
fn string2ull(text: &[u8]) -> Option<u64> {
    if let Some(value) = parse_i64(text) {
        return u64::try_from(value).ok();
    }
    strtoull(text)
}

/// glibc's `strtoull(s, &end, 10)` accepted only when it consumed the whole
/// non-empty string without overflow: leading white space, then an optional
/// sign (a minus negates modulo 2^64), then at least one digit.
fn strtoull(text: &[u8]) -> Option<u64> {
    let mut rest = text;
    while let [first, tail @ ..] = rest {
        if matches!(first, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
            rest = tail;
        } else {
            break;
        }
    }
    let negative = match rest.first() {
        Some(b'-') => {
            rest = &rest[1..];
            true
        }
        Some(b'+') => {
            rest = &rest[1..];
            false
        }
        _ => false,
    };
    if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: u64 = 0;
    for &digit in rest {
        value = value
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
    }
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lenient(text: &str) -> Option<StreamId> {
        parse_id(text.as_bytes(), IdSyntax::lenient(0)).map(|p| p.id)
    }

    #[test]
    fn parses_the_forms_redis_accepts() {
        assert_eq!(lenient("1-2"), Some(StreamId::new(1, 2)));
        assert_eq!(lenient("7"), Some(StreamId::new(7, 0)));
        assert_eq!(
            parse_id(b"7", IdSyntax::lenient(u64::MAX)).map(|p| p.id),
            Some(StreamId::new(7, u64::MAX))
        );
        assert_eq!(lenient("-"), Some(StreamId::MIN));
        assert_eq!(lenient("+"), Some(StreamId::MAX));
        assert_eq!(parse_id(b"-", IdSyntax::STRICT), None);
        assert_eq!(parse_id(b"+", IdSyntax::STRICT), None);
        assert_eq!(
            lenient("18446744073709551615-18446744073709551615"),
            Some(StreamId::MAX)
        );
        // strtoull's leniency, reached when string2ll refuses.
        assert_eq!(lenient(" 1"), Some(StreamId::new(1, 0)));
        assert_eq!(lenient("+1"), Some(StreamId::new(1, 0)));
        assert_eq!(lenient("01-1"), Some(StreamId::new(1, 1)));
        assert_eq!(lenient("1--01"), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(lenient("1--0"), Some(StreamId::new(1, 0)));
        // Read as a C string.
        assert_eq!(
            parse_id(b"5\0-3", IdSyntax::STRICT).map(|p| p.id),
            Some(StreamId::new(5, 0))
        );
    }

    #[test]
    fn refuses_what_redis_refuses() {
        for bad in [
            "",
            "(",
            "-5",
            "1-",
            "1-1 ",
            "1--1",
            "a",
            "1-x",
            "18446744073709551616",
            "1-18446744073709551616",
            "-18446744073709551616",
            "1-*",
        ] {
            assert_eq!(lenient(bad), None, "{bad:?}");
        }
        let long = "1".repeat(128);
        assert_eq!(lenient(&long), None);
        assert!(lenient(&"0".repeat(127)).is_some());
    }

    #[test]
    fn sequence_star_only_for_xadd() {
        assert_eq!(
            parse_id(b"5-*", IdSyntax::XADD),
            Some(ParsedId {
                id: StreamId::new(5, 0),
                seq_given: false
            })
        );
        assert_eq!(parse_id(b"5-*", IdSyntax::STRICT), None);
        assert_eq!(parse_id(b"*", IdSyntax::XADD), None);
        assert_eq!(parse_id(b"5-**", IdSyntax::XADD), None);
    }

    #[test]
    fn successor_and_predecessor_stop_at_the_ends() {
        assert_eq!(StreamId::new(1, u64::MAX).next(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::MAX.next(), None);
        assert_eq!(StreamId::new(2, 0).prev(), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(StreamId::MIN.prev(), None);
        assert!(StreamId::new(1, u64::MAX) < StreamId::new(2, 0));
        assert_eq!(
            StreamId::MAX.to_string(),
            "18446744073709551615-18446744073709551615"
        );
    }
}
