//! Finds one complete request at the front of an input buffer.
//!
//! Multibulk requests (`*N\r\n$len\r\n...`) record argument ranges into the
//! input buffer itself; inline requests (`SET k v\r\n`) are unquoted into a
//! scratch buffer. Limits and error texts are Redis 7.0's.

use super::inline::split_inline;

/// Redis's `PROTO_INLINE_MAX_SIZE`: the longest inline request, and the
/// longest count line (`*N` / `$N`) we wait for before giving up.
pub const INLINE_MAX_SIZE: usize = 64 * 1024;

/// Size limits a connection enforces while parsing.
#[derive(Clone, Copy, Debug)]
pub struct ParseLimits {
    /// `proto-max-bulk-len`.
    pub max_bulk_len: u64,
    /// The client is not authenticated yet: Redis then accepts only small
    /// multibulk and bulk lengths.
    pub unauthenticated: bool,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bulk_len: 512 * 1024 * 1024,
            unauthenticated: false,
        }
    }
}

/// What [`parse`] found at the front of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// Not a whole request yet; at least `need` bytes in all are needed
    /// before trying again is useful.
    Incomplete { need: usize },
    /// A request of `consumed` bytes whose arguments index the input buffer.
    /// No arguments means an empty request, skipped as Redis does.
    Multibulk { consumed: usize },
    /// A request of `consumed` bytes whose arguments index the scratch buffer.
    Inline { consumed: usize },
}

/// A protocol error: the reply is `-ERR Protocol error: <message>` and the
/// connection is closed after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {message}")]
pub struct ParseError {
    pub message: String,
}

fn error(message: impl Into<String>) -> ParseError {
    ParseError {
        message: message.into(),
    }
}

fn find_crlf_line(buf: &[u8], from: usize) -> Option<usize> {
    // Redis looks for '\r' and then requires the '\n' to be present.
    let pos = memchr(b'\r', &buf[from..])? + from;
    if pos + 1 < buf.len() {
        Some(pos)
    } else {
        None
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Parses one request from `buf`. On success `args` holds the argument
/// ranges (into `buf` or `scratch`, as the frame says).
pub fn parse(
    buf: &[u8],
    limits: &ParseLimits,
    args: &mut Vec<(u32, u32)>,
    scratch: &mut Vec<u8>,
) -> Result<Frame, ParseError> {
    args.clear();
    if buf.is_empty() {
        return Ok(Frame::Incomplete { need: 1 });
    }
    if buf[0] == b'*' {
        parse_multibulk(buf, limits, args)
    } else {
        parse_inline(buf, args, scratch)
    }
}

fn parse_inline(
    buf: &[u8],
    args: &mut Vec<(u32, u32)>,
    scratch: &mut Vec<u8>,
) -> Result<Frame, ParseError> {
    let Some(newline) = memchr(b'\n', buf) else {
        if buf.len() > INLINE_MAX_SIZE {
            return Err(error("too big inline request"));
        }
        return Ok(Frame::Incomplete {
            need: buf.len() + 1,
        });
    };
    let mut line = &buf[..newline];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    scratch.clear();
    if !split_inline(line, scratch, args) {
        return Err(error("unbalanced quotes in request"));
    }
    Ok(Frame::Inline {
        consumed: newline + 1,
    })
}

fn parse_count(buf: &[u8], start: usize, end: usize) -> Option<i64> {
    super::num::parse_i64(&buf[start..end])
}

fn parse_multibulk(
    buf: &[u8],
    limits: &ParseLimits,
    args: &mut Vec<(u32, u32)>,
) -> Result<Frame, ParseError> {
    let Some(line_end) = find_crlf_line(buf, 1) else {
        if buf.len() > INLINE_MAX_SIZE {
            return Err(error("too big mbulk count string"));
        }
        return Ok(Frame::Incomplete {
            need: buf.len() + 1,
        });
    };
    let count = match parse_count(buf, 1, line_end) {
        Some(n) if n <= i64::from(i32::MAX) => n,
        _ => return Err(error("invalid multibulk length")),
    };
    if count > 10 && limits.unauthenticated {
        return Err(error("unauthenticated multibulk length"));
    }
    let mut pos = line_end + 2;
    if count <= 0 {
        return Ok(Frame::Multibulk { consumed: pos });
    }
    // Reserve lazily: a hostile count must not allocate up front.
    args.reserve((count as usize).min(1024));
    for _ in 0..count {
        if pos >= buf.len() {
            return Ok(Frame::Incomplete { need: pos + 1 });
        }
        let Some(line_end) = find_crlf_line(buf, pos) else {
            if buf.len() - pos > INLINE_MAX_SIZE {
                return Err(error("too big bulk count string"));
            }
            return Ok(Frame::Incomplete {
                need: buf.len() + 1,
            });
        };
        if buf[pos] != b'$' {
            return Err(error(format!(
                "expected '$', got '{}'",
                char::from(buf[pos])
            )));
        }
        let len = match parse_count(buf, pos + 1, line_end) {
            Some(n) if n >= 0 && (n as u64) <= limits.max_bulk_len => n as usize,
            _ => return Err(error("invalid bulk length")),
        };
        if len > 16384 && limits.unauthenticated {
            return Err(error("unauthenticated bulk length"));
        }
        let data_start = line_end + 2;
        // Redis skips the two bytes after the data without checking them.
        let next = data_start + len + 2;
        if next > buf.len() {
            return Ok(Frame::Incomplete { need: next });
        }
        if data_start + len > u32::MAX as usize {
            return Err(error("invalid bulk length"));
        }
        args.push((data_start as u32, (data_start + len) as u32));
        pos = next;
    }
    Ok(Frame::Multibulk { consumed: pos })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8]) -> (Result<Frame, ParseError>, Vec<Vec<u8>>) {
        let mut args = Vec::new();
        let mut scratch = Vec::new();
        let frame = parse(input, &ParseLimits::default(), &mut args, &mut scratch);
        let source: &[u8] = match frame {
            Ok(Frame::Inline { .. }) => &scratch,
            _ => input,
        };
        let list = args
            .iter()
            .map(|&(s, e)| source[s as usize..e as usize].to_vec())
            .collect();
        (frame, list)
    }

    #[test]
    fn multibulk_and_incomplete() {
        let (frame, args) = run(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nrest");
        assert_eq!(frame, Ok(Frame::Multibulk { consumed: 20 }));
        assert_eq!(args, vec![b"GET".to_vec(), b"k".to_vec()]);
        let (frame, _) = run(b"*2\r\n$3\r\nGET\r\n$10\r\nk");
        assert_eq!(frame, Ok(Frame::Incomplete { need: 30 }));
    }

    #[test]
    fn errors_as_redis_words_them() {
        assert_eq!(
            run(b"*x\r\n").0.unwrap_err().to_string(),
            "Protocol error: invalid multibulk length"
        );
        assert_eq!(
            run(b"*1\r\n+x\r\n").0.unwrap_err().to_string(),
            "Protocol error: expected '$', got '+'"
        );
        assert_eq!(
            run(b"*1\r\n$-1\r\n").0.unwrap_err().to_string(),
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            run(b"SET \"a\r\n").0.unwrap_err().to_string(),
            "Protocol error: unbalanced quotes in request"
        );
        let big = vec![b'a'; INLINE_MAX_SIZE + 1];
        assert_eq!(
            run(&big).0.unwrap_err().to_string(),
            "Protocol error: too big inline request"
        );
    }

    #[test]
    fn inline_with_quotes() {
        let (frame, args) = run(b"set \"a b\" 'c\\'d' \"\\x41\"\r\n");
        assert_eq!(frame, Ok(Frame::Inline { consumed: 25 }));
        assert_eq!(
            args,
            vec![
                b"set".to_vec(),
                b"a b".to_vec(),
                b"c'd".to_vec(),
                b"A".to_vec()
            ]
        );
    }
}
