//! Applying a replicated write whose keys span this replica's shards
//! through the server's own transactions.
//!
//! Data flow: the dispatcher hands the commands of such a write (rare: the
//! replica runs another shard count than its primary and one command names
//! keys that are on one primary shard but on several replica shards). They
//! go, wrapped in `MULTI` ... `EXEC`, over a connection to this server's
//! own client port, so the shard locks make them atomic for every reader
//! exactly as a client's transaction. The connection identifies itself
//! with a secret only the runner knows (`REPLCONF KEVY-APPLIER`), which
//! exempts it from `-READONLY`. Its writes are recorded by the shards as
//! any client's, so this server's own replicas get them too.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::shard::gather_value_end;

/// A lazily opened connection to this server.
pub struct LocalApplier {
    addr: SocketAddr,
    password: Option<Vec<u8>>,
    secret: String,
    stream: Option<TcpStream>,
}

fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

impl LocalApplier {
    pub fn new(addr: SocketAddr, password: Option<Vec<u8>>, secret: String) -> Self {
        LocalApplier {
            addr,
            password,
            secret,
            stream: None,
        }
    }

    fn connect(&mut self) -> Result<&mut TcpStream, String> {
        if self.stream.is_none() {
            let stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))
                .map_err(|e| format!("cannot connect to the local server at {}: {e}", self.addr))?;
            let _ = stream.set_nodelay(true);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
            let mut setup = Vec::new();
            if let Some(password) = &self.password {
                command(&mut setup, &[b"AUTH", password]);
            }
            command(
                &mut setup,
                &[b"REPLCONF", b"KEVY-APPLIER", self.secret.as_bytes()],
            );
            let expected = 1 + usize::from(self.password.is_some());
            let mut stream = stream;
            exchange(&mut stream, &setup, expected)?;
            self.stream = Some(stream);
        }
        self.stream
            .as_mut()
            .ok_or_else(|| "no local connection".to_string())
    }

    /// Runs `commands` (database, RESP bytes) as one transaction.
    pub fn apply(&mut self, commands: &[(usize, &[u8])]) -> Result<(), String> {
        let mut out = Vec::new();
        let db = commands.first().map_or(0, |(db, _)| *db);
        command(&mut out, &[b"SELECT", db.to_string().as_bytes()]);
        command(&mut out, &[b"MULTI"]);
        let mut current = db;
        let mut replies = 3;
        for (db, bytes) in commands {
            if *db != current {
                command(&mut out, &[b"SELECT", db.to_string().as_bytes()]);
                current = *db;
                replies += 1;
            }
            out.extend_from_slice(bytes);
            replies += 1;
        }
        command(&mut out, &[b"EXEC"]);
        let result = self
            .connect()
            .and_then(|stream| exchange(stream, &out, replies));
        if result.is_err() {
            self.stream = None;
        }
        result.map(|_| ())
    }
}

/// Writes `request` and reads `replies` RESP replies; an error reply to a
/// setup command is an error.
fn exchange(stream: &mut TcpStream, request: &[u8], replies: usize) -> Result<Vec<u8>, String> {
    stream
        .write_all(request)
        .map_err(|e| format!("local connection: {e}"))?;
    let mut input = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut pos = 0;
    let mut seen = 0;
    while seen < replies {
        match gather_value_end(&input, pos) {
            Some(end) => {
                if input.get(pos) == Some(&b'-') {
                    let text = String::from_utf8_lossy(&input[pos..end]).trim().to_string();
                    return Err(format!("the local server refused: {text}"));
                }
                pos = end;
                seen += 1;
            }
            None => {
                let n = stream
                    .read(&mut chunk)
                    .map_err(|e| format!("local connection: {e}"))?;
                if n == 0 {
                    return Err("the local connection closed".into());
                }
                input.extend_from_slice(&chunk[..n]);
            }
        }
    }
    Ok(input)
}
