//! Shared by the integration tests that talk to a real server: a small
//! hand-written RESP3 client that keeps reply types, and starting a server
//! process (kevy or redis-server) on a free port, killed on drop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Verbatim(String),
    Null,
    Array(Vec<Value>),
    Set(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Other(String),
}

impl Value {
    pub fn text(&self) -> String {
        match self {
            Value::Simple(s) | Value::Error(s) | Value::Verbatim(s) | Value::Other(s) => s.clone(),
            Value::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            Value::Int(n) => n.to_string(),
            other => format!("{other:?}"),
        }
    }

    pub fn items(&self) -> &[Value] {
        match self {
            Value::Array(items) | Value::Set(items) => items,
            _ => &[],
        }
    }
}

pub struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Client {
            reader: BufReader::new(stream),
        }
    }

    pub fn send(&mut self, args: &[&str]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
        self.reader.get_mut().write_all(&out).expect("write");
    }

    pub fn call(&mut self, args: &[&str]) -> Value {
        self.send(args);
        self.read().expect("a reply")
    }

    pub fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).ok()?;
        if n == 0 {
            return None;
        }
        Some(line.trim_end_matches("\r\n").to_string())
    }

    pub fn read(&mut self) -> Option<Value> {
        let line = self.line()?;
        let (kind, rest) = line.split_at(1);
        let count = || rest.parse::<i64>().unwrap_or(-1);
        Some(match kind {
            "+" => Value::Simple(rest.to_string()),
            "-" => Value::Error(rest.to_string()),
            ":" => Value::Int(count()),
            "_" => Value::Null,
            "$" | "=" => {
                if count() < 0 {
                    return Some(Value::Null);
                }
                let mut data = vec![0; count() as usize + 2];
                self.reader.read_exact(&mut data).ok()?;
                data.truncate(data.len() - 2);
                if kind == "=" {
                    Value::Verbatim(String::from_utf8_lossy(&data[4..]).into_owned())
                } else {
                    Value::Bulk(data)
                }
            }
            "*" | "~" => {
                if count() < 0 {
                    return Some(Value::Null);
                }
                let mut items = Vec::new();
                for _ in 0..count() {
                    items.push(self.read()?);
                }
                if kind == "*" {
                    Value::Array(items)
                } else {
                    Value::Set(items)
                }
            }
            "%" => {
                let mut pairs = Vec::new();
                for _ in 0..count() {
                    pairs.push((self.read()?, self.read()?));
                }
                Value::Map(pairs)
            }
            _ => Value::Other(line.clone()),
        })
    }
}

pub struct ServerProcess {
    pub child: Child,
    pub port: u16,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn start(program: &str, args: &[&str]) -> ServerProcess {
    let port = free_port();
    let child = Command::new(program)
        .arg("--port")
        .arg(port.to_string())
        .args(args)
        .current_dir(private_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{program} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    ServerProcess { child, port }
}

/// A working directory of this test process's own, so a server started
/// without `--dir` never loads a `dump.rdb` another program left behind.
pub fn private_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kevy-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a working directory");
    dir
}

/// Starts kevy on a port the kernel picks (`--port 0`), returning the
/// child and the port read from its "listening on" log line. Picking a
/// free port first and passing it would race with other tests doing the
/// same; the log then keeps draining so the server never blocks on it.
pub fn spawn_kevy(mut command: Command) -> (Child, u16) {
    let mut child = command
        .args(["--port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start kevy: {e}"));
    let stdout = child.stdout.take().expect("stdout was piped");
    let mut lines = BufReader::new(stdout);
    let mut line = String::new();
    let port = loop {
        line.clear();
        let n = lines.read_line(&mut line).expect("kevy's log is readable");
        assert!(n > 0, "kevy exited before listening");
        if let Some((_, addrs)) = line.split_once("listening on ") {
            let first = addrs.split_whitespace().next().unwrap_or_default();
            let port = first.rsplit(':').next().and_then(|p| p.parse().ok());
            break port.expect("the log line names the bound port");
        }
    };
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    (child, port)
}

/// Starts kevy with `shards` shards, no save points, in a directory of
/// this test process's own (so no snapshot left by anyone is loaded).
pub fn kevy(shards: usize) -> ServerProcess {
    let dir = std::env::temp_dir().join(format!("kevy-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("the temp dir is writable");
    let mut command = Command::new(env!("CARGO_BIN_EXE_kevy"));
    command
        .args(["--threads", &shards.to_string(), "--save", ""])
        .current_dir(dir);
    let (child, port) = spawn_kevy(command);
    ServerProcess { child, port }
}

/// A redis-server to compare with, or None (with a loud message naming the
/// comparison that is skipped) when it is not installed.
pub fn redis_server_or_skip(what: &str) -> Option<ServerProcess> {
    let found = Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        eprintln!("\n!!! redis-server is not installed: {what} SKIPPED.\n");
        return None;
    }
    Some(start("redis-server", &["--save", "", "--appendonly", "no"]))
}

/// Runs every scenario on redis-server and on kevy with 1 and 4 shards
/// (each server flushed first) and lists where kevy's result differs.
/// Runs a scenario on kevy up to three times until it gives `expected`:
/// the comparisons read replies within quiet periods, which a heavily
/// loaded machine can overrun once; a real difference repeats every time.
pub fn like_redis<R: PartialEq>(expected: &R, mut run: impl FnMut() -> R) -> R {
    let mut got = run();
    for _ in 0..2 {
        if &got == expected {
            break;
        }
        got = run();
    }
    got
}

pub fn differences_from_redis<S: std::fmt::Debug, R: PartialEq + std::fmt::Debug>(
    redis: &ServerProcess,
    scenarios: &[S],
    flush: impl Fn(u16),
    run: impl Fn(u16, &S) -> R,
) -> Vec<String> {
    let kevy_one = kevy(1);
    let kevy_four = kevy(4);
    let mut failures = Vec::new();
    for scenario in scenarios {
        flush(redis.port);
        let expected = run(redis.port, scenario);
        for (server, name) in [(&kevy_one, "1 shard"), (&kevy_four, "4 shards")] {
            let got = like_redis(&expected, || {
                flush(server.port);
                run(server.port, scenario)
            });
            if got != expected {
                failures.push(format!(
                    "{name}: {scenario:?}\n  redis: {expected:?}\n  kevy:  {got:?}"
                ));
            }
        }
    }
    failures
}
