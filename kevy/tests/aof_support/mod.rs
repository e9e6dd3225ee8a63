//! Shared by the append-only log tests: starting the real `kevy` binary
//! in a directory of its own with its log captured, killing it with
//! SIGKILL, and a small pipelining client that reports a dead server as
//! an error instead of panicking (the crash tests kill servers under it).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kevy-aof-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

/// A kevy process and everything it logged so far.
pub struct Kevy {
    pub child: Child,
    pub port: u16,
    pub log: Arc<Mutex<String>>,
}

impl Kevy {
    /// Starts kevy in `dir` with `--threads shards` and `args`, no save
    /// points unless `args` set some.
    pub fn start(dir: &Path, shards: usize, args: &[&str]) -> Kevy {
        match Kevy::try_start(dir, shards, args) {
            Ok(kevy) => kevy,
            Err(log) => panic!("kevy did not start:\n{log}"),
        }
    }

    /// As [`Kevy::start`]; a kevy that exits before listening gives its log.
    pub fn try_start(dir: &Path, shards: usize, args: &[&str]) -> Result<Kevy, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kevy"))
            .args([
                "--port",
                "0",
                "--threads",
                &shards.to_string(),
                "--save",
                "",
            ])
            .args(["--dir", &dir.to_string_lossy()])
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kevy runs");
        let log = Arc::new(Mutex::new(String::new()));
        let mut lines = BufReader::new(child.stdout.take().expect("stdout piped"));
        let mut line = String::new();
        let port = loop {
            line.clear();
            if lines.read_line(&mut line).unwrap_or(0) == 0 {
                let mut err = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    let _ = stderr.read_to_string(&mut err);
                }
                let _ = child.wait();
                let mut all = log.lock().expect("log").clone();
                all.push_str(&err);
                return Err(all);
            }
            log.lock().expect("log").push_str(&line);
            if let Some((_, addrs)) = line.split_once("listening on ") {
                let first = addrs.split_whitespace().next().unwrap_or_default();
                break first
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("a port");
            }
        };
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while lines.read_line(&mut line).unwrap_or(0) > 0 {
                sink.lock().expect("log").push_str(&line);
                line.clear();
            }
        });
        Ok(Kevy { child, port, log })
    }

    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn conn(&self) -> Conn {
        Conn::connect(self.port).expect("kevy accepts")
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self) {
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("kevy did not exit");
    }
}

impl Drop for Kevy {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A pipelining RESP2 client that never panics on a dead server.
pub struct Conn {
    reader: BufReader<TcpStream>,
}

/// A reply: the first line, and the bulk strings of an array or a bulk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Line(String),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

impl Reply {
    pub fn int(&self) -> i64 {
        match self {
            Reply::Line(line) if line.starts_with(':') => line[1..].parse().unwrap_or(-1),
            Reply::Bulk(Some(bytes)) => String::from_utf8_lossy(bytes).parse().unwrap_or(-1),
            Reply::Bulk(None) => 0,
            other => panic!("not an integer: {other:?}"),
        }
    }

    pub fn text(&self) -> String {
        match self {
            Reply::Line(line) => line.clone(),
            Reply::Bulk(Some(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
            other => format!("{other:?}"),
        }
    }

    pub fn items(&self) -> Vec<String> {
        match self {
            Reply::Array(items) => items.iter().map(Reply::text).collect(),
            other => panic!("not an array: {other:?}"),
        }
    }
}

pub fn encode(args: &[&[u8]], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

impl Conn {
    pub fn connect(port: u16) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        Ok(Conn {
            reader: BufReader::new(stream),
        })
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.reader.get_mut().write_all(bytes)
    }

    pub fn read(&mut self) -> std::io::Result<Reply> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end_matches("\r\n").to_string();
        match line.as_bytes().first() {
            Some(b'$') => {
                let len: i64 = line[1..].parse().unwrap_or(-1);
                if len < 0 {
                    return Ok(Reply::Bulk(None));
                }
                let mut data = vec![0; len as usize + 2];
                self.reader.read_exact(&mut data)?;
                data.truncate(len as usize);
                Ok(Reply::Bulk(Some(data)))
            }
            Some(b'*') => {
                let len: i64 = line[1..].parse().unwrap_or(-1);
                let mut items = Vec::new();
                for _ in 0..len.max(0) {
                    items.push(self.read()?);
                }
                Ok(Reply::Array(items))
            }
            _ => Ok(Reply::Line(line)),
        }
    }

    pub fn call(&mut self, args: &[&str]) -> std::io::Result<Reply> {
        let mut out = Vec::new();
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        encode(&args, &mut out);
        self.send_raw(&out)?;
        self.read()
    }

    /// `call` for a server that must be alive.
    pub fn ok(&mut self, args: &[&str]) -> Reply {
        let reply = self.call(args).expect("the server answers");
        assert!(
            !matches!(&reply, Reply::Line(l) if l.starts_with('-')),
            "{args:?} failed: {reply:?}"
        );
        reply
    }
}

/// Runs kevy expecting it to refuse to start: its exit code and output.
pub fn start_refused(dir: &Path, shards: usize, args: &[&str]) -> String {
    match Kevy::try_start(dir, shards, args) {
        Ok(_) => panic!("kevy started"),
        Err(log) => log,
    }
}

/// Every key of db 0 with its `DUMP` and `PEXPIRETIME`, sorted.
pub fn contents(conn: &mut Conn) -> Vec<(String, String, i64)> {
    let keys = conn.ok(&["KEYS", "*"]).items();
    let mut all: Vec<(String, String, i64)> = keys
        .into_iter()
        .map(|key| {
            let dump = format!("{:?}", conn.ok(&["DUMP", &key]));
            let expiry = conn.ok(&["PEXPIRETIME", &key]).int();
            (key, dump, expiry)
        })
        .collect();
    all.sort();
    all
}
