//! Differential suite: every script in `tests/differential/*.redis` runs
//! against a real `redis-server` and against kevy (`--threads 1` and
//! `--threads 4`); the raw RESP reply of every command must be identical,
//! byte for byte.
//!
//! Script lines are commands in redis-cli's quoting. Directives:
//! - `# ...` is a comment;
//! - `!sort CMD ...` compares the reply's top-level elements as a sorted
//!   list (order is unspecified, as for KEYS or SMEMBERS);
//! - `!type CMD ...` compares only the reply's RESP type and, for arrays,
//!   its length (values that differ by nature: TIME, RANDOMKEY, CLIENT ID);
//! - `!sleep MS` waits (for expiry tests).
//!
//! When `redis-server` is not installed the suite says so on stderr and
//! passes without comparing: CI installs it, so CI always compares.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct ServerProcess {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("kevy-diff-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("temp dir is creatable");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("server on port {port} did not start");
}

/// Starts redis-server on a free port; retried when another process took
/// the port between the pick and the bind (the server then exits).
fn start_redis(program: &str, args: &[String], tag: &str) -> ServerProcess {
    for _ in 0..5 {
        let dir = TempDir::new(tag);
        let port = free_port();
        let mut child = Command::new(program)
            .args(["--port", &port.to_string()])
            .args(args)
            .current_dir(&dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        wait_ready(port);
        std::thread::sleep(Duration::from_millis(50));
        if matches!(child.try_wait(), Ok(None)) {
            return ServerProcess {
                child,
                port,
                _dir: dir,
            };
        }
    }
    panic!("{program} could not keep a port");
}

/// Starts kevy on a port it binds itself (see `support::spawn_kevy`).
fn start_kevy(args: &[String], tag: &str) -> ServerProcess {
    let dir = TempDir::new(tag);
    let mut command = Command::new(env!("CARGO_BIN_EXE_kevy"));
    command.args(args).current_dir(&dir.0);
    let (child, port) = support::spawn_kevy(command);
    ServerProcess {
        child,
        port,
        _dir: dir,
    }
}

fn redis_server_path() -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file())
        .map(|p| p.to_string_lossy().into_owned())
}

/// Splits a script line with redis-cli's quoting rules.
fn split_line(line: &str) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let mut arg = Vec::new();
        let quote = match bytes[i] {
            b'"' | b'\'' => {
                i += 1;
                Some(bytes[i - 1])
            }
            _ => None,
        };
        loop {
            if i >= bytes.len() {
                if quote.is_some() {
                    return None;
                }
                break;
            }
            let c = bytes[i];
            match quote {
                None if c == b' ' => break,
                Some(q) if c == q => {
                    i += 1;
                    break;
                }
                Some(b'"') if c == b'\\' && i + 1 < bytes.len() => {
                    i += 1;
                    match bytes[i] {
                        b'n' => arg.push(b'\n'),
                        b'r' => arg.push(b'\r'),
                        b't' => arg.push(b'\t'),
                        b'x' if i + 2 < bytes.len() => {
                            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                            arg.push(u8::from_str_radix(hex, 16).ok()?);
                            i += 2;
                        }
                        other => arg.push(other),
                    }
                }
                _ => arg.push(c),
            }
            i += 1;
        }
        args.push(arg);
    }
    Some(args)
}

fn encode(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The end of the RESP value at `pos`, or None when incomplete.
fn value_end(buf: &[u8], pos: usize) -> Option<usize> {
    let kind = *buf.get(pos)?;
    let line_end = pos + buf.get(pos..)?.windows(2).position(|w| w == b"\r\n")?;
    let after = line_end + 2;
    let count = || {
        std::str::from_utf8(&buf[pos + 1..line_end])
            .ok()?
            .parse::<i64>()
            .ok()
    };
    match kind {
        b'$' | b'=' | b'!' => {
            let n = count()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (end <= buf.len()).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = count()?;
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

fn elements(reply: &[u8]) -> Vec<Vec<u8>> {
    let Some(line_end) = reply.windows(2).position(|w| w == b"\r\n") else {
        return Vec::new();
    };
    let mut at = line_end + 2;
    let mut out = Vec::new();
    while at < reply.len() {
        match value_end(reply, at) {
            Some(end) => {
                out.push(reply[at..end].to_vec());
                at = end;
            }
            None => break,
        }
    }
    out
}

struct Client {
    port: u16,
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        Client {
            port,
            stream,
            buf: Vec::new(),
        }
    }

    fn call(&mut self, args: &[Vec<u8>]) -> Vec<u8> {
        if self.stream.write_all(&encode(args)).is_err() {
            *self = Client::connect(self.port);
            if self.stream.write_all(&encode(args)).is_err() {
                return b"<write failed>".to_vec();
            }
        }
        loop {
            if let Some(end) = value_end(&self.buf, 0) {
                return self.buf.drain(..end).collect();
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    *self = Client::connect(self.port);
                    return b"<connection closed>".to_vec();
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => {
                    *self = Client::connect(self.port);
                    return b"<timeout>".to_vec();
                }
            }
        }
    }
}

fn normalize(mode: &str, reply: Vec<u8>) -> Vec<u8> {
    match mode {
        "sort" => {
            let mut items = elements(&reply);
            items.sort();
            let header_end = reply
                .windows(2)
                .position(|w| w == b"\r\n")
                .map(|p| p + 2)
                .unwrap_or(0);
            let mut out = reply[..header_end].to_vec();
            for item in items {
                out.extend(item);
            }
            out
        }
        "type" => {
            let mut out = vec![reply.first().copied().unwrap_or(b'?')];
            if matches!(out[0], b'*' | b'%' | b'~') {
                out.extend_from_slice(
                    &reply[1..reply.windows(2).position(|w| w == b"\r\n").unwrap_or(1)],
                );
            }
            out
        }
        _ => reply,
    }
}

fn run_script(path: &Path, redis: &mut Client, kevy: &mut Client) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("script is readable");
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut failures = Vec::new();
    for client in [&mut *redis, &mut *kevy] {
        client.call(&[b"FLUSHALL".to_vec()]);
    }
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (mode, command) = match line.split_once(' ') {
            Some((directive, rest)) if directive.starts_with('!') => (&directive[1..], rest),
            _ => ("exact", line),
        };
        if mode == "sleep" {
            std::thread::sleep(Duration::from_millis(command.trim().parse().unwrap_or(0)));
            continue;
        }
        let Some(args) = split_line(command) else {
            failures.push(format!("{name}:{}: cannot parse line", number + 1));
            continue;
        };
        let expected = normalize(mode, redis.call(&args));
        let actual = normalize(mode, kevy.call(&args));
        if expected != actual {
            failures.push(format!(
                "{name}:{}: {command}\n    redis: {}\n    kevy:  {}",
                number + 1,
                String::from_utf8_lossy(&expected).escape_debug(),
                String::from_utf8_lossy(&actual).escape_debug()
            ));
        }
    }
    failures
}

fn scripts() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential");
    let filter = std::env::var("KEVY_DIFF_SCRIPT").ok();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/differential exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "redis"))
        .filter(|p| {
            filter
                .as_ref()
                .is_none_or(|f| p.to_string_lossy().contains(f.as_str()))
        })
        .collect();
    paths.sort();
    paths
}

/// A fresh redis-server and a fresh kevy with `threads` shards, to compare;
/// None, with a loud notice, when redis-server is not installed.
fn start_pair(threads: usize, tag: &str, skipped: &str) -> Option<(ServerProcess, ServerProcess)> {
    let Some(redis_path) = redis_server_path() else {
        eprintln!("\n!!! redis-server is not installed: {skipped} is SKIPPED.\n!!! Install it (apt-get install redis-server) to compare kevy with Redis.\n");
        return None;
    };
    let redis = start_redis(
        &redis_path,
        &[
            "--save".into(),
            "".into(),
            "--appendonly".into(),
            "no".into(),
        ],
        &format!("redis{tag}"),
    );
    let kevy = start_kevy(
        &["--threads".into(), threads.to_string()],
        &format!("kevy{tag}"),
    );
    Some((redis, kevy))
}

/// Fails the test with every difference found, under `heading`.
fn assert_no_differences(failures: &[String], heading: &str) {
    assert!(
        failures.is_empty(),
        "{} {heading}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn differential(threads: usize) {
    let Some((redis, kevy)) = start_pair(threads, "", "the differential suite") else {
        return;
    };
    let mut failures = Vec::new();
    for script in scripts() {
        let mut redis_client = Client::connect(redis.port);
        let mut kevy_client = Client::connect(kevy.port);
        failures.extend(run_script(&script, &mut redis_client, &mut kevy_client));
    }
    assert_no_differences(&failures, &format!("differences with --threads {threads}"));
}

/// Raw inputs, malformed ones included, whose whole response (until the
/// server closes the connection or goes quiet) must match Redis's.
const RAW_CASES: &[&[u8]] = &[
    b"PING\r\n",
    b"\r\n\r\n  PING  \r\nECHO   \"a b\"\r\n",
    b"ECHO \"\\x41\\n\" 'x'\r\n",
    b"ECHO \"unbalanced\r\nPING\r\n",
    b"ECHO \"a\"b\r\n",
    b"*0\r\n*-1\r\nPING\r\n",
    b"*1\r\n$4\r\nPINGXXPING\r\n",
    b"*1\r\n+PING\r\n",
    b"*x\r\nPING\r\n",
    b"*3000000000\r\n",
    b"*1\r\n$-5\r\n",
    b"*1\r\n$536870913\r\n",
    b"*2\r\n$4\r\nECHO\r\n$x\r\n",
    b"*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n*1\r\n$4\r\nPING\r\n",
    b"*1\r\n$4\r\nQUIT\r\nPING\r\n",
    b"NOSUCH \"x\" y\r\n",
    b"set k v\r\nget k\r\ndel k\r\n",
];

fn raw_exchange(port: u16, input: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(150)))
        .expect("timeout");
    stream.write_all(input).expect("write");
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            out.extend_from_slice(b"<closed>");
            break;
        }
        out.extend_from_slice(&chunk[..n]);
    }
    out
}

fn raw_differential(threads: usize) {
    let Some((redis, kevy)) = start_pair(threads, "-raw", "the raw protocol comparison") else {
        return;
    };
    let mut failures = Vec::new();
    for case in RAW_CASES {
        let expected = raw_exchange(redis.port, case);
        let actual = raw_exchange(kevy.port, case);
        if expected != actual {
            failures.push(format!(
                "input {}\n    redis: {}\n    kevy:  {}",
                String::from_utf8_lossy(case).escape_debug(),
                String::from_utf8_lossy(&expected).escape_debug(),
                String::from_utf8_lossy(&actual).escape_debug()
            ));
        }
    }
    assert_no_differences(&failures, "raw protocol differences");
}

#[test]
fn same_wire_behaviour_as_redis_on_raw_input() {
    raw_differential(1);
    raw_differential(3);
}

#[test]
fn same_replies_as_redis_on_one_shard() {
    differential(1);
}

#[test]
fn same_replies_as_redis_on_four_shards() {
    differential(4);
}
