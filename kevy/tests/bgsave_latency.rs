//! What a `BGSAVE` costs the clients of a loaded server: an ignored
//! measurement, kevy beside redis-server in the same run.
//!
//! Each server (kevy with 2 shards, then redis-server, whose `BGSAVE`
//! forks) gets the same 1 M keys of mixed types (60 % strings, 10 % each
//! hashes, lists and sets, 5 % sorted sets, 5 % streams, one key in
//! twenty with a TTL), loaded by pipelined RESP. A client then sends
//! `GET`s of random string keys one at a time and times each round trip,
//! through several rounds of: one second idle, then a `BGSAVE` until
//! `rdb_bgsave_in_progress` drops back to 0. Printed per server: each
//! `BGSAVE` reply time (kevy: every shard's freeze of its copy-on-write
//! view, plus the hop to the other shard; redis: the fork), each save's
//! duration, p50/p99/max of the `GET`s in the idle windows and during the
//! saves, and `used_memory` before, at its peak during and after the
//! saves (redis's does not show the fork's copied pages). Run with
//! `cargo test -p kevy --release --test bgsave_latency -- --ignored --nocapture`
//! (`KEVY_BGSAVE_KEYS` and `KEVY_BGSAVE_ROUNDS` change the key count and
//! the rounds; `KEVY_BGSAVE_BIN` runs another kevy binary, to compare).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{free_port, spawn_kevy};

const DEFAULT_KEYS: u64 = 1_000_000;
/// Commands per pipelined batch while loading.
const BATCH: u64 = 2000;
/// How long each idle sample runs before a save starts.
const IDLE: Duration = Duration::from_secs(1);
/// Saves per server (`KEVY_BGSAVE_ROUNDS` changes it): one save gives few
/// samples on a busy machine.
const DEFAULT_ROUNDS: usize = 5;
/// A save that takes longer than this has hung.
const SAVE_TIMEOUT: Duration = Duration::from_secs(300);

/// A server process killed (and its directory removed) on drop.
struct Server {
    name: &'static str,
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kevy-bgsave-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

fn start_kevy() -> Server {
    let dir = temp_dir("kevy");
    // Another build (an older one, to compare) when named.
    let binary = std::env::var_os("KEVY_BGSAVE_BIN").unwrap_or(env!("CARGO_BIN_EXE_kevy").into());
    let mut command = Command::new(binary);
    command
        .args(["--threads", "2", "--save", ""])
        .args(["--dir", &dir.to_string_lossy()])
        .current_dir(&dir);
    let (child, port) = spawn_kevy(command);
    Server {
        name: "kevy (2 shards)",
        child,
        port,
        dir,
    }
}

fn start_redis() -> Option<Server> {
    let dir = temp_dir("redis");
    let port = free_port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--dir", &dir.to_string_lossy()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(child) = child else {
        eprintln!("\n!!! redis-server is not installed: its column is SKIPPED.\n");
        return None;
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(Server {
        name: "redis-server (fork)",
        child,
        port,
        dir,
    })
}

/// A connection that sends pipelined RESP and reads the replies back as
/// lines (enough for the replies used here: no nested arrays).
struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn connect(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        Conn {
            reader: BufReader::new(stream),
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("write");
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read");
        assert!(n > 0, "the server closed the connection");
        line.truncate(line.trim_end().len());
        line
    }

    /// One reply: a simple string or integer without its type byte, or a
    /// bulk string's text; errors panic.
    fn reply(&mut self) -> String {
        let line = self.line();
        match line.as_bytes().first() {
            Some(b'-') => panic!("error reply: {line}"),
            Some(b'$') => {
                let len: i64 = line[1..].parse().expect("a bulk length");
                if len < 0 {
                    return String::new();
                }
                let mut data = vec![0; len as usize + 2];
                self.reader.read_exact(&mut data).expect("bulk data");
                data.truncate(len as usize);
                String::from_utf8_lossy(&data).into_owned()
            }
            Some(b'+' | b':') => line[1..].to_string(),
            _ => line,
        }
    }

    fn call(&mut self, args: &[&str]) -> String {
        self.write(&encode(args));
        self.reply()
    }
}

fn encode_into(out: &mut Vec<u8>, args: &[&str]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
}

fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(&mut out, args);
    out
}

fn is_string_key(i: u64) -> bool {
    i % 20 < 12
}

/// The command that creates key `i` (see the module comment for the mix).
fn command(i: u64, out: &mut Vec<u8>) {
    let key = format!("k:{i}");
    let v = |j: u64| format!("item-{j}-{i}");
    match i % 20 {
        5 => encode_into(out, &["SET", &key, &v(0), "PX", "86400000"]),
        0..=11 => encode_into(out, &["SET", &key, &v(0)]),
        12 | 13 => encode_into(
            out,
            &[
                "HSET",
                &key,
                "a",
                &v(1),
                "b",
                &v(2),
                "c",
                &v(3),
                "d",
                &v(4),
                "e",
                &v(5),
            ],
        ),
        14 | 15 => encode_into(out, &["RPUSH", &key, &v(1), &v(2), &v(3), &v(4), &v(5)]),
        16 | 17 => encode_into(out, &["SADD", &key, &v(1), &v(2), &v(3), &v(4), &v(5)]),
        18 => encode_into(
            out,
            &[
                "ZADD",
                &key,
                "1",
                &v(1),
                "2",
                &v(2),
                "3",
                &v(3),
                "4",
                &v(4),
                "5",
                &v(5),
            ],
        ),
        _ => encode_into(out, &["XADD", &key, "*", "f", &v(1), "g", &v(2)]),
    }
}

fn load(port: u16, keys: u64) {
    let mut conn = Conn::connect(port);
    let mut batch = Vec::new();
    let mut i = 0;
    while i < keys {
        batch.clear();
        let end = (i + BATCH).min(keys);
        for n in i..end {
            command(n, &mut batch);
        }
        conn.write(&batch);
        for _ in i..end {
            conn.reply();
        }
        i = end;
    }
}

fn info_field(conn: &mut Conn, section: &str, field: &str) -> Option<u64> {
    conn.call(&["INFO", section]).lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name == field).then(|| value.trim().parse().ok()).flatten()
    })
}

/// `used_memory` once it stops falling: the save's thread frees its
/// view after the save is reported done.
fn settled_used_memory(conn: &mut Conn) -> u64 {
    let mut last = info_field(conn, "memory", "used_memory").unwrap_or(0);
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        let now = info_field(conn, "memory", "used_memory").unwrap_or(0);
        if now >= last {
            return now;
        }
        last = now;
    }
    last
}

/// Times single GETs of random string keys until `stop`; each sample is
/// (start, round trip).
fn sample_gets(port: u16, keys: u64, stop: Arc<AtomicBool>) -> Vec<(Instant, Duration)> {
    let mut conn = Conn::connect(port);
    let mut samples = Vec::with_capacity(1 << 20);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    while !stop.load(Ordering::Relaxed) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut i = state % keys;
        while !is_string_key(i) {
            i = (i + 1) % keys;
        }
        let request = encode(&["GET", &format!("k:{i}")]);
        let start = Instant::now();
        conn.write(&request);
        let value = conn.reply();
        samples.push((start, start.elapsed()));
        assert!(value.starts_with("item-0-"), "GET k:{i} replied {value:?}");
    }
    samples
}

struct Percentiles {
    count: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn percentiles(mut times: Vec<Duration>) -> Percentiles {
    assert!(!times.is_empty(), "no samples");
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    Percentiles {
        count: times.len(),
        p50: at(0.50),
        p99: at(0.99),
        max: at(1.0),
    }
}

struct Measured {
    /// `BGSAVE` reply times, one per round, sorted.
    replies: Vec<Duration>,
    /// Save durations, one per round, sorted.
    saves: Vec<Duration>,
    idle: Percentiles,
    during: Percentiles,
    /// `used_memory` before the first save, its peak during any, and
    /// after the last.
    memory: (u64, u64, u64),
}

/// One round: an idle window, then a `BGSAVE` until it is done. Returns
/// the idle window, the save window and the reply time.
fn save_round(control: &mut Conn, peak: &mut u64) -> ([Instant; 2], [Instant; 2], Duration) {
    let idle_from = Instant::now();
    std::thread::sleep(IDLE);
    let started = Instant::now();
    let reply = control.call(&["BGSAVE"]);
    let replied = started.elapsed();
    assert!(reply.starts_with("Background saving"), "BGSAVE: {reply}");
    loop {
        let used = info_field(control, "memory", "used_memory").unwrap_or(0);
        *peak = (*peak).max(used);
        if info_field(control, "persistence", "rdb_bgsave_in_progress") == Some(0) {
            break;
        }
        assert!(started.elapsed() < SAVE_TIMEOUT, "BGSAVE did not finish");
        std::thread::sleep(Duration::from_millis(5));
    }
    let ended = Instant::now();
    let status = control.call(&["INFO", "persistence"]);
    assert!(
        status.contains("rdb_last_bgsave_status:ok"),
        "the save succeeded"
    );
    // Let the save's thread free its view before the next idle window.
    settled_used_memory(control);
    ([idle_from, started], [started, ended], replied)
}

fn measure(server: &Server, keys: u64, rounds: usize) -> Measured {
    let loading = Instant::now();
    load(server.port, keys);
    eprintln!(
        "{}: {keys} keys loaded in {:.1} s",
        server.name,
        loading.elapsed().as_secs_f64()
    );
    let mut control = Conn::connect(server.port);
    let before = settled_used_memory(&mut control);
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (port, stop) = (server.port, stop.clone());
        std::thread::spawn(move || sample_gets(port, keys, stop))
    };
    let mut peak = before;
    let mut windows = Vec::new();
    let mut replies = Vec::new();
    for _ in 0..rounds {
        let (idle, during, reply) = save_round(&mut control, &mut peak);
        windows.push((idle, during));
        replies.push(reply);
    }
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.join().expect("the sampler ends");
    let after = settled_used_memory(&mut control);
    let within = |window: [Instant; 2]| {
        samples
            .iter()
            .filter(move |(at, _)| *at >= window[0] && *at < window[1])
            .map(|(_, t)| *t)
    };
    let idle = windows.iter().flat_map(|(idle, _)| within(*idle)).collect();
    let during = windows
        .iter()
        .flat_map(|(_, during)| within(*during))
        .collect();
    let mut saves: Vec<Duration> = windows.iter().map(|(_, d)| d[1] - d[0]).collect();
    saves.sort();
    replies.sort();
    Measured {
        replies,
        saves,
        idle: percentiles(idle),
        during: percentiles(during),
        memory: (before, peak, after),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

#[test]
#[ignore = "a measurement: loads 1 M keys into kevy and redis-server"]
fn measure_get_latency_during_bgsave() {
    let keys = std::env::var("KEVY_BGSAVE_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_KEYS);
    let rounds = std::env::var("KEVY_BGSAVE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ROUNDS);
    let mut rows = Vec::new();
    {
        let kevy = start_kevy();
        rows.push((kevy.name, measure(&kevy, keys, rounds)));
    }
    if let Some(redis) = start_redis() {
        rows.push((redis.name, measure(&redis, keys, rounds)));
    }
    println!("\n{keys} keys, {rounds} saves each; GET round trips from one client; times in ms");
    for (name, m) in &rows {
        let list = |times: &[Duration]| times.iter().map(|t| ms(*t)).collect::<Vec<_>>().join(" ");
        println!("{name}");
        println!("  BGSAVE reply (the pause): {}", list(&m.replies));
        println!("  save duration:            {}", list(&m.saves));
        println!(
            "  GET idle:   p50 {}  p99 {}  max {}  ({} samples)",
            ms(m.idle.p50),
            ms(m.idle.p99),
            ms(m.idle.max),
            m.idle.count
        );
        println!(
            "  GET during: p50 {}  p99 {}  max {}  ({} samples); p99 during/idle {:.2}",
            ms(m.during.p50),
            ms(m.during.p99),
            ms(m.during.max),
            m.during.count,
            m.during.p99.as_secs_f64() / m.idle.p99.as_secs_f64()
        );
        println!(
            "  used_memory MB: before {}  peak during {}  after {}",
            mb(m.memory.0),
            mb(m.memory.1),
            mb(m.memory.2)
        );
    }
}
