//! A small blocking RESP2 client for filling and querying a server from
//! xtask itself: commands are encoded into one buffer, written as a batch
//! (pipelining), then exactly as many replies are read back. Only what
//! `memory` and the benchmark prefills need: no RESP3, no pub/sub.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How long one reply may take before the server is considered stuck.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Bulk strings and arrays longer than this are treated as a broken reply
/// rather than allocated.
const MAX_REPLY_LEN: usize = 512 * 1024 * 1024;

#[derive(Debug, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

pub struct RespClient {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    pending: Vec<u8>,
    pending_count: usize,
}

impl RespClient {
    pub fn connect(port: u16) -> Result<RespClient, String> {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .map_err(|e| format!("cannot connect to port {port}: {e}"))?;
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|e| format!("socket options: {e}"))?;
        let reader = stream
            .try_clone()
            .map_err(|e| format!("cannot clone the socket: {e}"))?;
        Ok(RespClient {
            writer: stream,
            reader: BufReader::with_capacity(64 * 1024, reader),
            pending: Vec::new(),
            pending_count: 0,
        })
    }

    /// Queues one command; nothing is sent until [`RespClient::flush`].
    pub fn queue<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        encode_command(&mut self.pending, args);
        self.pending_count += 1;
    }

    /// Sends the queued commands and reads their replies; an error reply
    /// from any of them is returned as `Err` (after all were read, so the
    /// connection stays in step).
    pub fn flush(&mut self) -> Result<Vec<Reply>, String> {
        self.writer
            .write_all(&self.pending)
            .map_err(|e| format!("write: {e}"))?;
        self.pending.clear();
        let count = std::mem::take(&mut self.pending_count);
        let mut replies = Vec::with_capacity(count);
        for _ in 0..count {
            replies.push(read_reply(&mut self.reader)?);
        }
        match replies.iter().find_map(|r| match r {
            Reply::Error(message) => Some(message.clone()),
            _ => None,
        }) {
            Some(message) => Err(format!("server replied -{message}")),
            None => Ok(replies),
        }
    }

    /// One command, sent and answered.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, String> {
        self.queue(args);
        let mut replies = self.flush()?;
        replies.pop().ok_or_else(|| "no reply".to_string())
    }
}

pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

pub fn read_reply<R: BufRead>(reader: &mut R) -> Result<Reply, String> {
    let line = read_line(reader)?;
    let (kind, rest) = line.split_at(1);
    let length = || -> Result<i64, String> {
        rest.parse::<i64>()
            .map_err(|_| format!("bad length in reply line '{line}'"))
    };
    match kind {
        "+" => Ok(Reply::Simple(rest.to_string())),
        "-" => Ok(Reply::Error(rest.to_string())),
        ":" => Ok(Reply::Integer(length()?)),
        "$" => match checked_length(length()?)? {
            None => Ok(Reply::Bulk(None)),
            Some(len) => {
                let mut data = vec![0u8; len + 2];
                reader
                    .read_exact(&mut data)
                    .map_err(|e| format!("read: {e}"))?;
                data.truncate(len);
                Ok(Reply::Bulk(Some(data)))
            }
        },
        "*" => match checked_length(length()?)? {
            None => Ok(Reply::Array(None)),
            Some(len) => (0..len)
                .map(|_| read_reply(reader))
                .collect::<Result<Vec<_>, _>>()
                .map(|items| Reply::Array(Some(items))),
        },
        _ => Err(format!("unexpected reply line '{line}'")),
    }
}

fn checked_length(length: i64) -> Result<Option<usize>, String> {
    if length < 0 {
        return Ok(None);
    }
    usize::try_from(length)
        .ok()
        .filter(|len| *len <= MAX_REPLY_LEN)
        .map(Some)
        .ok_or_else(|| format!("reply length {length} out of range"))
}

fn read_line<R: BufRead>(reader: &mut R) -> Result<String, String> {
    let mut line = Vec::new();
    let read = reader
        .read_until(b'\n', &mut line)
        .map_err(|e| format!("read: {e}"))?;
    if read == 0 {
        return Err("connection closed by the server".into());
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    if line.is_empty() {
        return Err("empty reply line".into());
    }
    String::from_utf8(line).map_err(|_| "reply line is not UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_command_as_an_array_of_bulks() {
        let mut out = Vec::new();
        encode_command(&mut out, &["SET", "k", ""]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    }

    #[test]
    fn reads_nested_replies() {
        let mut input: &[u8] = b"*3\r\n+OK\r\n$-1\r\n*2\r\n:5\r\n$2\r\nab\r\n-ERR no\r\n";
        let reply = read_reply(&mut input).expect("well-formed reply");
        assert_eq!(
            reply,
            Reply::Array(Some(vec![
                Reply::Simple("OK".into()),
                Reply::Bulk(None),
                Reply::Array(Some(vec![
                    Reply::Integer(5),
                    Reply::Bulk(Some(b"ab".to_vec()))
                ])),
            ]))
        );
        assert_eq!(
            read_reply(&mut input).expect("error reply"),
            Reply::Error("ERR no".into())
        );
        assert!(read_reply(&mut input).is_err());
    }
}
