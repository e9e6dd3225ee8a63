//! A raw test connection for Pub/Sub tests: sends commands, and collects
//! every byte that arrives until the connection stays quiet (pushed
//! messages come without a request).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    out
}

/// A raw connection: bytes in, bytes out, nothing interpreted.
pub struct Raw {
    pub stream: TcpStream,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Raw { stream }
    }

    pub fn send(&mut self, args: &[&str]) {
        self.stream.write_all(&encode(args)).expect("write");
    }

    /// Everything received until the connection stays quiet for `quiet`.
    pub fn drain(&mut self, quiet: Duration) -> Vec<u8> {
        self.stream
            .set_read_timeout(Some(quiet))
            .expect("read timeout");
        let mut out = Vec::new();
        let mut chunk = [0u8; 65536];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(_) => break,
            }
        }
        out
    }
}
