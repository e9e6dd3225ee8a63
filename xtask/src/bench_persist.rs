//! `cargo xtask bench persist`: persistence beside redis-server, in the
//! same run on the same machine.
//!
//! 1. Snapshots: 1 M keys of mixed types (60 % strings, 10 % each
//!    hashes, lists, sets and sorted sets of 5 items, 5 % of all keys
//!    with a TTL) written into kevy (plain and zstd snapshots) and
//!    redis-server; the time of `SAVE`, the file's size, and the time a
//!    restart takes until the server answers (the load).
//! 2. The append-only log: `SET` throughput from redis-benchmark (50
//!    clients, pipeline 1) with `appendonly yes` and `appendfsync
//!    everysec`, then `always`, kevy beside redis-server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::resp_client::{Reply, RespClient};
use crate::server_process::{find_on_path, ServerProcess};
use crate::table::Table;
use crate::workspace;

const CLIENTS: u32 = 50;
const SET_REQUESTS: u64 = 200_000;
const BATCH: u64 = 1000;

pub struct PersistOptions {
    keys: u64,
    threads: usize,
}

impl PersistOptions {
    pub fn parse(args: &[String]) -> Result<PersistOptions, String> {
        let mut options = PersistOptions {
            keys: 1_000_000,
            threads: 2,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let value = || -> Result<u64, String> {
                args.clone()
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or(format!("bench persist: {arg} needs a number"))
            };
            match arg.as_str() {
                "--keys" => options.keys = value()?,
                "--threads" => options.threads = value()? as usize,
                "--quick" => options.keys = 100_000,
                other => return Err(format!("bench persist: unknown option '{other}'")),
            }
            if arg != "--quick" {
                args.next();
            }
        }
        Ok(options)
    }
}

fn scratch(name: &str) -> Result<PathBuf, String> {
    let dir =
        std::env::temp_dir().join(format!("kevy-bench-persist-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// Writes `keys` keys of mixed types, pipelined.
fn populate(port: u16, keys: u64) -> Result<(), String> {
    let mut client = RespClient::connect(port)?;
    for start in (0..keys).step_by(BATCH as usize) {
        for n in start..(start + BATCH).min(keys) {
            let key = format!("key:{n}");
            match n % 10 {
                0 => client.queue(&[
                    "HSET", &key, "a", "1", "b", "2", "c", "3", "d", "4", "e", "5",
                ]),
                1 => client.queue(&["RPUSH", &key, "a", "b", "c", "d", "e"]),
                2 => client.queue(&["SADD", &key, "a", "b", "c", "d", "e"]),
                3 => client.queue(&[
                    "ZADD", &key, "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
                ]),
                _ => client.queue(&["SET", &key, &format!("value-{n}-{}", "x".repeat(20))]),
            }
            if n % 20 == 0 {
                client.queue(&["EXPIRE", &key, "100000"]);
            }
        }
        client.flush()?;
    }
    Ok(())
}

fn dbsize(port: u16) -> Result<i64, String> {
    match RespClient::connect(port)?.call(&["DBSIZE"])? {
        Reply::Integer(n) => Ok(n),
        other => Err(format!("DBSIZE replied {other:?}")),
    }
}

/// (SAVE seconds, file bytes, load seconds) of one server.
fn snapshot_round(
    name: &'static str,
    program: &Path,
    args: &[&str],
    file: &str,
    keys: u64,
) -> Result<(f64, u64, f64), String> {
    let dir = scratch(name)?;
    let dir_text = dir.to_string_lossy().into_owned();
    let mut all: Vec<&str> = vec!["--dir", &dir_text, "--save", "", "--appendonly", "no"];
    all.extend_from_slice(args);
    let server = ServerProcess::start(name, program, &all)?;
    populate(server.port, keys)?;
    let expected = dbsize(server.port)?;
    let started = Instant::now();
    RespClient::connect(server.port)?.call(&["SAVE"])?;
    let save = started.elapsed().as_secs_f64();
    drop(server);
    let size = std::fs::metadata(dir.join(file))
        .map(|m| m.len())
        .unwrap_or(0);
    let started = Instant::now();
    let server = ServerProcess::start(name, program, &all)?;
    let load = started.elapsed().as_secs_f64();
    let loaded = dbsize(server.port)?;
    if loaded != expected {
        return Err(format!("{name} loaded {loaded} keys of {expected}"));
    }
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
    Ok((save, size, load))
}

/// SET requests per second with the log on under `fsync`.
fn set_throughput(
    name: &'static str,
    program: &Path,
    benchmark: &Path,
    args: &[&str],
    fsync: &str,
) -> Result<f64, String> {
    let dir = scratch(&format!("{name}-{fsync}"))?;
    let dir_text = dir.to_string_lossy().into_owned();
    let mut all: Vec<&str> = vec![
        "--dir",
        &dir_text,
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        fsync,
    ];
    all.extend_from_slice(args);
    let server = ServerProcess::start(name, program, &all)?;
    let output = Command::new(benchmark)
        .args(["-p", &server.port.to_string(), "-t", "set", "-q", "--csv"])
        .args([
            "-c",
            &CLIENTS.to_string(),
            "-n",
            &SET_REQUESTS.to_string(),
            "-r",
            "100000",
        ])
        .output()
        .map_err(|e| format!("redis-benchmark: {e}"))?;
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
    let csv = String::from_utf8_lossy(&output.stdout);
    csv.lines()
        .filter(|l| l.starts_with("\"SET\""))
        .find_map(|l| l.split(',').nth(1)?.trim_matches('"').parse().ok())
        .ok_or(format!("no SET result from redis-benchmark: {csv}"))
}

pub fn run(options: &PersistOptions) -> Result<(), String> {
    let (Some(redis_server), Some(benchmark)) = (
        find_on_path("redis-server"),
        find_on_path("redis-benchmark"),
    ) else {
        return Err("bench persist needs redis-server and redis-benchmark on PATH".into());
    };
    workspace::run_cargo(&["build", "--release", "-p", "kevy", "--features", "zstd"])?;
    let kevy = workspace::target_dir().join("release").join("kevy");
    let threads = options.threads.to_string();
    let kevy_args = ["--threads", threads.as_str()];
    println!(
        "{} keys of mixed types; kevy --threads {}",
        options.keys, options.threads
    );

    let mut table = Table::new(&["snapshot", "SAVE s", "size MB", "load s"]);
    let rounds: [(&'static str, &Path, Vec<&str>, &str); 3] = [
        ("redis-server (RDB)", &redis_server, vec![], "dump.rdb"),
        ("kevy (plain)", &kevy, kevy_args.to_vec(), "dump.rdb"),
        (
            "kevy (zstd)",
            &kevy,
            [kevy_args.as_slice(), &["--snapshot-compression", "zstd"]].concat(),
            "dump.rdb",
        ),
    ];
    for (name, program, args, file) in rounds {
        let (save, size, load) = snapshot_round(name, program, &args, file, options.keys)?;
        table.push(vec![
            name.to_string(),
            format!("{save:.2}"),
            format!("{:.1}", size as f64 / 1e6),
            format!("{load:.2}"),
        ]);
    }
    print!("{}", table.render());

    let mut table = Table::new(&["appendfsync", "redis SET/s", "kevy SET/s", "kevy/redis"]);
    for fsync in ["everysec", "always"] {
        let redis = set_throughput("redis-server", &redis_server, &benchmark, &[], fsync)?;
        let on_kevy = set_throughput("kevy", &kevy, &benchmark, &kevy_args, fsync)?;
        table.push(vec![
            fsync.to_string(),
            format!("{redis:.0}"),
            format!("{on_kevy:.0}"),
            format!("{:.2}", on_kevy / redis),
        ]);
    }
    println!();
    print!("{}", table.render());
    println!(
        "\nSAVE: the reply time of SAVE; load: from the restart until the server answers PING \
         with every key loaded; SET/s: redis-benchmark, {CLIENTS} clients, pipeline 1, \
         {SET_REQUESTS} requests, appendonly yes."
    );
    Ok(())
}
