//! What the replication tests share: starting kevy primaries and replicas
//! (on a fixed port when a restart must find them again), a write load
//! over every data type, and waiting for a replica to match its primary
//! (`DEBUG DIGEST`, kevy's order-independent dataset digest).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Client, ServerProcess, Value};

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kevy-repl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

/// Starts kevy in `dir` on `port` (0: the kernel picks), with `args`.
pub fn kevy_on(dir: &Path, port: u16, shards: usize, args: &[&str]) -> ServerProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kevy"))
        .args(["--threads", &shards.to_string(), "--save", ""])
        .args(["--dir", &dir.to_string_lossy()])
        .args(args)
        .args(["--port", &port.to_string()])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kevy starts");
    let stdout = child.stdout.take().expect("stdout was piped");
    let mut lines = BufReader::new(stdout);
    let mut line = String::new();
    let port = loop {
        line.clear();
        let n = lines.read_line(&mut line).expect("kevy's log is readable");
        assert!(n > 0, "kevy exited before listening");
        if let Some((_, addrs)) = line.split_once("listening on ") {
            let first = addrs.split_whitespace().next().unwrap_or_default();
            break first
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("the log line names the port");
        }
    };
    // The log is kept beside the data, for a failing test to be read.
    let log_path = dir.join(format!("kevy-{port}.log"));
    std::thread::spawn(move || match std::fs::File::create(log_path) {
        Ok(mut file) => std::io::copy(&mut lines, &mut file),
        Err(_) => std::io::copy(&mut lines, &mut std::io::sink()),
    });
    ServerProcess { child, port }
}

pub fn replica_of(dir: &Path, primary: u16, shards: usize, args: &[&str]) -> ServerProcess {
    let port = primary.to_string();
    let mut all = vec!["--replicaof", "127.0.0.1", &port];
    all.extend_from_slice(args);
    kevy_on(dir, 0, shards, &all)
}

pub fn ok(client: &mut Client, args: &[&str]) -> Value {
    let reply = client.call(args);
    assert!(
        !matches!(reply, Value::Error(_)),
        "{args:?} failed: {reply:?}"
    );
    reply
}

pub fn digest(port: u16) -> i64 {
    match Client::connect(port).call(&["DEBUG", "DIGEST"]) {
        Value::Int(n) => n,
        other => panic!("DEBUG DIGEST replied {other:?}"),
    }
}

/// One field of `INFO replication`.
pub fn info_field(port: u16, name: &str) -> Option<String> {
    let text = Client::connect(port).call(&["INFO", "replication"]).text();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}:")).map(str::to_string))
}

pub fn info_number(port: u16, name: &str) -> u64 {
    info_field(port, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("INFO replication has no number {name}"))
}

/// Waits until `replica`'s digest equals `primary`'s.
pub fn wait_converged(primary: u16, replica: u16, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let (want, got) = (digest(primary), digest(replica));
        if want == got {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "replica {replica} did not converge: digest {got} vs primary {want}; link {:?}, error {:?}",
            info_field(replica, "master_link_status"),
            info_field(replica, "kevy_last_link_error"),
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until `replica`'s link is up.
pub fn wait_link_up(replica: u16, within: Duration) {
    let deadline = Instant::now() + within;
    while info_field(replica, "master_link_status").as_deref() != Some("up") {
        assert!(
            Instant::now() < deadline,
            "link of {replica} not up: {:?}",
            info_field(replica, "kevy_last_link_error")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A deterministic pseudo-random sequence (no dependency).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// `count` writes of every data type (plain, cross-shard, transactions,
/// TTLs, deletions), pipelined in batches; replies are read and errors
/// such as WRONGTYPE are fine (they write nothing).
pub fn write_load(port: u16, seed: u64, count: usize) {
    let mut client = Client::connect(port);
    let mut rng = Lcg(seed);
    let mut sent = 0;
    while sent < count {
        let batch = 50.min(count - sent);
        let mut commands: Vec<Vec<String>> = Vec::new();
        for _ in 0..batch {
            commands.extend(one_write(&mut rng));
        }
        for command in &commands {
            let args: Vec<&str> = command.iter().map(String::as_str).collect();
            client.send(&args);
        }
        for _ in &commands {
            client.read().expect("a reply");
        }
        sent += batch;
    }
}

fn one_write(rng: &mut Lcg) -> Vec<Vec<String>> {
    let k = |rng: &mut Lcg, kind: &str| format!("{kind}:{}", rng.below(40));
    let n = |rng: &mut Lcg| rng.below(1000).to_string();
    let v = |parts: &[&str]| parts.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let choice = rng.below(20);
    let (a, b, c) = (k(rng, "s"), k(rng, "s"), n(rng));
    match choice {
        0 => vec![v(&["SET", &a, &c])],
        1 => vec![v(&["INCRBY", &k(rng, "n"), &c])],
        2 => vec![v(&["SET", &a, &c, "PX", "60000"])],
        3 => vec![v(&["HSET", &k(rng, "h"), &c, &n(rng), "f", &c])],
        4 => vec![v(&["RPUSH", &k(rng, "l"), &c, &n(rng)])],
        5 => vec![v(&["LPOP", &k(rng, "l")])],
        6 => vec![v(&["SADD", &k(rng, "set"), &c, &n(rng)])],
        7 => vec![v(&["SPOP", &k(rng, "set")])],
        8 => vec![v(&["ZADD", &k(rng, "z"), &c, &n(rng)])],
        9 => vec![v(&["ZINCRBY", &k(rng, "z"), "1.5", &c])],
        10 => vec![v(&["XADD", &k(rng, "x"), "*", "f", &c])],
        11 => vec![v(&["DEL", &a, &b])],
        12 => vec![v(&["MSET", &a, &c, &b, &c])],
        13 => vec![v(&["RENAME", &a, &b])],
        14 => vec![v(&["EXPIRE", &k(rng, "h"), "120"])],
        15 => vec![
            v(&["MULTI"]),
            v(&["INCR", &k(rng, "n")]),
            v(&["SET", &a, &c]),
            v(&["EXEC"]),
        ],
        16 => vec![
            v(&["SELECT", "3"]),
            v(&["SET", &a, &c]),
            v(&["SELECT", "0"]),
        ],
        17 => vec![v(&[
            "SUNIONSTORE",
            &k(rng, "set"),
            &k(rng, "set"),
            &k(rng, "set"),
        ])],
        18 => vec![v(&["APPEND", &a, "x"])],
        _ => vec![v(&["LMOVE", &k(rng, "l"), &k(rng, "l"), "LEFT", "RIGHT"])],
    }
}
