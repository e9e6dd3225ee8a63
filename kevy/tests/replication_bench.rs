//! Replication measurements (not a test: `#[ignore]`d, run by hand):
//!
//! ```text
//! cargo test -p kevy --release --features zstd --test replication_bench -- --ignored --nocapture
//! ```
//!
//! In one run, on this machine: the time for a replica to full-sync 1 M
//! keys and the bytes its links carried, for kevy (plain and zstd chunks)
//! beside a redis-server replica of a redis-server primary (diskless sync,
//! no delay, so both stream the dataset); the primary's p99 GET latency
//! while the replica syncs against idle; and the replication lag under a
//! paced load of 50 k writes/s (the time from a marker write on the
//! primary to its appearance on the replica). Numbers are printed, never
//! asserted: benchmarks do not fail builds.

mod replication_support;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use replication_support::*;
use support::{Client, ServerProcess, Value};

const KEYS: usize = 1_000_000;

/// SETs `count` keys of 32-byte values, pipelined in batches.
fn fill(port: u16, count: usize) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let value = "x".repeat(32);
    let mut replies = vec![0u8; 1 << 16];
    let batch = 5_000;
    let mut start = 0;
    while start < count {
        let end = (start + batch).min(count);
        let mut out = Vec::with_capacity(batch * 64);
        for i in start..end {
            let key = format!("key:{i:07}");
            out.extend_from_slice(
                format!(
                    "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
                    key.len(),
                    value.len()
                )
                .as_bytes(),
            );
        }
        stream.write_all(&out).expect("write");
        let mut seen = 0;
        while seen < end - start {
            let n = stream.read(&mut replies).expect("read");
            assert!(n > 0, "the server closed");
            seen += replies[..n].iter().filter(|&&b| b == b'\n').count();
        }
        start = end;
    }
}

fn link_up(port: u16) -> bool {
    Client::connect(port)
        .call(&["INFO", "replication"])
        .text()
        .contains("master_link_status:up")
}

fn dbsize(port: u16) -> i64 {
    match Client::connect(port).call(&["DBSIZE"]) {
        Value::Int(n) => n,
        _ => -1,
    }
}

/// Waits until `replica` is up and holds `keys` keys; returns the time.
fn time_sync(replica: u16, keys: i64, started: Instant) -> Duration {
    loop {
        if link_up(replica) && dbsize(replica) == keys {
            return started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(300), "no sync");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// GET latencies (µs) on `port` while `running`, one request at a time.
fn sample_gets(port: u16, running: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<u64>> {
    std::thread::spawn(move || {
        let mut client = Client::connect(port);
        let mut samples = Vec::new();
        let mut i = 0u64;
        while running.load(Ordering::Relaxed) {
            i = i.wrapping_add(7919);
            let key = format!("key:{:07}", i % KEYS as u64);
            let started = Instant::now();
            client.call(&["GET", &key]);
            samples.push(started.elapsed().as_micros() as u64);
        }
        samples
    })
}

fn p99(mut samples: Vec<u64>) -> (u64, usize) {
    samples.sort_unstable();
    let n = samples.len();
    (samples.get(n * 99 / 100).copied().unwrap_or(0), n)
}

fn idle_p99(port: u16) -> (u64, usize) {
    let running = Arc::new(AtomicBool::new(true));
    let sampler = sample_gets(port, running.clone());
    std::thread::sleep(Duration::from_secs(2));
    running.store(false, Ordering::Relaxed);
    p99(sampler.join().expect("sampler"))
}

fn log_bytes(dir: &std::path::Path, port: u16) -> u64 {
    let log = std::fs::read_to_string(dir.join(format!("kevy-{port}.log"))).unwrap_or_default();
    log.lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once(" sent to ")?;
            let (_, bytes) = rest.split_once('(')?;
            bytes.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum()
}

struct SyncResult {
    seconds: f64,
    bytes: u64,
    p99_idle: u64,
    p99_sync: u64,
}

fn kevy_sync(codec: &str) -> SyncResult {
    let dir = temp_dir(&format!("bench-{codec}"));
    let primary = kevy_on(&dir, 0, 2, &["--repl-snapshot-compression", codec]);
    fill(primary.port, KEYS);
    let (p99_idle, _) = idle_p99(primary.port);
    let running = Arc::new(AtomicBool::new(true));
    let sampler = sample_gets(primary.port, running.clone());
    let started = Instant::now();
    let replica = replica_of(
        &dir,
        primary.port,
        2,
        &["--repl-snapshot-compression", codec],
    );
    let took = time_sync(replica.port, KEYS as i64, started);
    running.store(false, Ordering::Relaxed);
    let (p99_sync, _) = p99(sampler.join().expect("sampler"));
    SyncResult {
        seconds: took.as_secs_f64(),
        bytes: log_bytes(&dir, primary.port),
        p99_idle,
        p99_sync,
    }
}

fn redis_sync() -> Option<SyncResult> {
    let primary = support::redis_server_or_skip("the redis-server replication comparison")?;
    let mut client = Client::connect(primary.port);
    for setting in [
        ["repl-diskless-sync", "yes"],
        ["repl-diskless-sync-delay", "0"],
    ] {
        client.call(&["CONFIG", "SET", setting[0], setting[1]]);
    }
    fill(primary.port, KEYS);
    let (p99_idle, _) = idle_p99(primary.port);
    let running = Arc::new(AtomicBool::new(true));
    let sampler = sample_gets(primary.port, running.clone());
    let started = Instant::now();
    let port = primary.port.to_string();
    // A disk-loading replica writes the received RDB as dump.rdb in its
    // directory: its own, or every later redis-server started in the
    // shared temp directory would load it.
    let dir = temp_dir("bench-redis-replica");
    let dir_arg = dir.to_string_lossy().into_owned();
    let replica: ServerProcess = support::start(
        "redis-server",
        &[
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &dir_arg,
            "--replicaof",
            "127.0.0.1",
            &port,
        ],
    );
    let took = time_sync(replica.port, KEYS as i64, started);
    running.store(false, Ordering::Relaxed);
    let (p99_sync, _) = p99(sampler.join().expect("sampler"));
    let stats = Client::connect(primary.port)
        .call(&["INFO", "stats"])
        .text();
    let bytes = stats
        .lines()
        .find_map(|l| l.strip_prefix("total_net_repl_output_bytes:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    drop(replica);
    let _ = std::fs::remove_dir_all(&dir);
    Some(SyncResult {
        seconds: took.as_secs_f64(),
        bytes,
        p99_idle,
        p99_sync,
    })
}

/// Marker delays (ms) under a paced load of `rate` writes per second.
fn lag_under_load(rate: u64, seconds: u64) -> (Vec<f64>, u64) {
    let dir = temp_dir("bench-lag");
    let primary = kevy_on(&dir, 0, 2, &[]);
    let replica = replica_of(&dir, primary.port, 2, &[]);
    wait_link_up(replica.port, Duration::from_secs(10));
    let running = Arc::new(AtomicBool::new(true));
    let writer = {
        let running = running.clone();
        let port = primary.port;
        std::thread::spawn(move || {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            let mut sink = vec![0u8; 1 << 16];
            let tick = Duration::from_millis(10);
            let per_tick = (rate / 100) as usize;
            let started = Instant::now();
            let mut sent = 0u64;
            let mut n = 0u64;
            while running.load(Ordering::Relaxed) {
                let mut out = Vec::new();
                for _ in 0..per_tick {
                    n += 1;
                    let key = format!("load:{}", n % 100_000);
                    out.extend_from_slice(
                        format!(
                            "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$8\r\nabcdefgh\r\n",
                            key.len()
                        )
                        .as_bytes(),
                    );
                }
                stream.write_all(&out).expect("write");
                let mut seen = 0;
                while seen < per_tick {
                    let got = stream.read(&mut sink).expect("read");
                    seen += sink[..got].iter().filter(|&&b| b == b'\n').count();
                }
                sent += per_tick as u64;
                let due = tick * (sent / per_tick as u64) as u32;
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            sent as f64 / started.elapsed().as_secs_f64()
        })
    };
    let mut delays = Vec::new();
    let mut primary_client = Client::connect(primary.port);
    let mut replica_client = Client::connect(replica.port);
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut marker = 0;
    while Instant::now() < end {
        marker += 1;
        let key = format!("marker:{marker}");
        primary_client.call(&["SET", &key, "1"]);
        let written = Instant::now();
        while replica_client.call(&["EXISTS", &key]) != Value::Int(1) {
            assert!(written.elapsed() < Duration::from_secs(30), "marker lost");
        }
        delays.push(written.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(50));
    }
    running.store(false, Ordering::Relaxed);
    let achieved = writer.join().expect("writer");
    (delays, achieved as u64)
}

#[test]
#[ignore]
fn replication_measurements() {
    let plain = kevy_sync("none");
    let zstd = cfg!(feature = "zstd").then(|| kevy_sync("zstd"));
    let redis = redis_sync();
    println!("\nFull sync of {KEYS} keys (32-byte values), primary and replica with 2 shards:");
    println!("| server | sync time | link bytes | primary GET p99 idle | p99 during sync |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, r: &SyncResult| {
        println!(
            "| {name} | {:.2} s | {:.1} MB | {} µs | {} µs |",
            r.seconds,
            r.bytes as f64 / 1e6,
            r.p99_idle,
            r.p99_sync
        )
    };
    row("kevy (plain chunks)", &plain);
    if let Some(zstd) = &zstd {
        row("kevy (zstd chunks)", zstd);
    }
    if let Some(redis) = &redis {
        row("redis-server 7.0 (diskless)", redis);
    }
    let (mut delays, achieved) = lag_under_load(50_000, 10);
    delays.sort_by(f64::total_cmp);
    let at = |q: usize| delays.get(delays.len() * q / 100).copied().unwrap_or(0.0);
    println!(
        "\nReplication lag at {achieved} writes/s (target 50000), {} markers: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        delays.len(),
        at(50),
        at(99),
        delays.last().copied().unwrap_or(0.0)
    );
}
