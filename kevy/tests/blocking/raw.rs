//! A test connection that keeps replies as raw RESP bytes, to compare
//! kevy's with redis-server's byte for byte.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A connection that keeps replies as raw bytes.
pub struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, args: &[String]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
        self.stream.write_all(&out).expect("write");
    }

    /// One whole reply, or `<no reply>` after `wait`.
    pub fn read(&mut self, wait: Duration) -> Vec<u8> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(end) = value_end(&self.buf, 0) {
                return self.buf.drain(..end).collect();
            }
            if Instant::now() > deadline {
                return b"<no reply>".to_vec();
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return b"<closed>".to_vec(),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => {}
            }
        }
    }
}

/// The end of the RESP value at `pos`, or None when incomplete.
fn value_end(buf: &[u8], pos: usize) -> Option<usize> {
    let kind = *buf.get(pos)?;
    let line_end = pos + buf.get(pos..)?.windows(2).position(|w| w == b"\r\n")?;
    let after = line_end + 2;
    let count = std::str::from_utf8(&buf[pos + 1..line_end])
        .ok()
        .and_then(|s| s.parse::<i64>().ok());
    match kind {
        b'$' | b'=' | b'!' => {
            let n = count?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (end <= buf.len()).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = count?;
            let n = if kind == b'%' || kind == b'|' {
                2 * n
            } else {
                n
            };
            let mut at = after;
            for _ in 0..n.max(0) {
                at = value_end(buf, at)?;
            }
            Some(at)
        }
        _ => Some(after),
    }
}
