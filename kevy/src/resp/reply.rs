//! Reply encoding for RESP2 and RESP3.
//!
//! [`ReplyBuf`] appends to a byte vector (a connection's output or a
//! cross-shard reply message) and picks the framing for the connection's
//! protocol: a null is `$-1` / `*-1` in RESP2 and `_` in RESP3, a map is a
//! flat array in RESP2 and `%` in RESP3, and so on.

use super::num::push_i64;

/// Writes replies in one protocol version into a byte vector.
pub struct ReplyBuf<'a> {
    pub out: &'a mut Vec<u8>,
    pub resp3: bool,
}

impl<'a> ReplyBuf<'a> {
    pub fn new(out: &'a mut Vec<u8>, resp3: bool) -> Self {
        ReplyBuf { out, resp3 }
    }

    fn header(&mut self, kind: u8, n: i64) {
        self.out.push(kind);
        push_i64(self.out, n);
        self.out.extend_from_slice(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.out.extend_from_slice(b"+OK\r\n");
    }

    pub fn simple(&mut self, s: &str) {
        self.out.push(b'+');
        self.out.extend_from_slice(s.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// An error reply; `msg` is the whole text after `-` (for example
    /// `ERR syntax error` or `WRONGTYPE ...`). Newlines are replaced by
    /// spaces, as Redis does, so the frame stays valid.
    pub fn error(&mut self, msg: &str) {
        self.out.push(b'-');
        self.out.extend(
            msg.bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.out.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len() as i64);
        self.out.extend_from_slice(data);
        self.out.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of `n`.
    pub fn bulk_i64(&mut self, n: i64) {
        let mut digits = Vec::with_capacity(20);
        push_i64(&mut digits, n);
        self.bulk(&digits);
    }

    /// A verbatim string in RESP3 (`=len\r\ntxt:...`), a bulk string in RESP2.
    pub fn verbatim(&mut self, data: &[u8]) {
        if self.resp3 {
            self.header(b'=', data.len() as i64 + 4);
            self.out.extend_from_slice(b"txt:");
            self.out.extend_from_slice(data);
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.bulk(data);
        }
    }

    /// A null bulk string.
    pub fn null(&mut self) {
        if self.resp3 {
            self.out.extend_from_slice(b"_\r\n");
        } else {
            self.out.extend_from_slice(b"$-1\r\n");
        }
    }

    /// A null array (for example a `SET ... GET` that found nothing in
    /// some commands, or a timed-out blocking pop).
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.out.extend_from_slice(b"_\r\n");
        } else {
            self.out.extend_from_slice(b"*-1\r\n");
        }
    }

    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map of `n` pairs: `%n` in RESP3, an array of `2n` in RESP2.
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'%', n as i64);
        } else {
            self.header(b'*', 2 * n as i64);
        }
    }

    /// A set of `n` elements: `~n` in RESP3, an array in RESP2.
    pub fn set(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'~', n as i64);
        } else {
            self.header(b'*', n as i64);
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, value: bool) {
        if self.resp3 {
            self.out
                .extend_from_slice(if value { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(i64::from(value));
        }
    }

    pub fn bulks<'b>(&mut self, items: impl ExactSizeIterator<Item = &'b [u8]>) {
        self.array(items.len());
        for item in items {
            self.bulk(item);
        }
    }

    /// Raw, already encoded bytes (a reply produced on another shard).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }
}
