//! `cargo xtask bench`: kevy against `redis-server`, measured in the same
//! run on the same machine with `redis-benchmark`.
//!
//! Flow: build kevy in release, start `redis-server` and kevy side by side
//! on free ports, then for every workload (SET, GET, INCR, MSET, LPUSH,
//! LPOP, SADD, HSET, ZADD, ZRANGE, XADD at pipeline 1 and 16, or those
//! `--workloads` names; see `bench_workloads`) run the same
//! `redis-benchmark` against redis, then against kevy. `--transport
//! mio|polling|glommio|all` picks kevy's backend(s): with `all`, kevy is
//! built with every backend and one kevy per backend runs beside redis, and
//! the table gets a row per server with each backend's throughput also as a
//! ratio to the best backend's. Around each run the server's CPU time is read from
//! `/proc/<pid>/stat`, so the table shows both throughput and CPU seconds
//! per million requests, each as a kevy/redis ratio. Numbers never fail
//! the command: a run that fails shows `n/a` and the table is still printed.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::bench_workloads::{self, Workload};
use crate::server_process::{clock_ticks_per_second, find_on_path, ServerProcess};
use crate::table::Table;
use crate::workspace;

const DEFAULT_REQUESTS: u64 = 200_000;
/// Enough that the servers' CPU time spans tens of 10 ms clock ticks.
const QUICK_REQUESTS: u64 = 50_000;
const DEFAULT_THREADS: u32 = 2;
const CLIENTS: u32 = 50;
const KEYSPACE: u32 = 100_000;
const PIPELINES: [u32; 2] = [1, 16];
/// A benchmark run that takes longer than this is stuck (a server that
/// stopped answering); it is killed and reported as n/a.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

pub struct BenchOptions {
    requests: u64,
    threads: u32,
    workloads: Vec<&'static Workload>,
    /// kevy backends to measure; empty = the default build's default.
    transports: Vec<&'static str>,
}

const TRANSPORTS: [&str; 3] = ["mio", "polling", "glommio"];

fn parse_transports(text: &str) -> Result<Vec<&'static str>, String> {
    if text == "all" {
        return Ok(TRANSPORTS.to_vec());
    }
    text.split(',')
        .map(|name| {
            TRANSPORTS.into_iter().find(|t| *t == name).ok_or_else(|| {
                format!("bench: unknown transport '{name}' (mio, polling, glommio or all)")
            })
        })
        .collect()
}

impl BenchOptions {
    pub fn parse(args: &[String]) -> Result<BenchOptions, String> {
        let mut requests = None;
        let mut threads = DEFAULT_THREADS;
        let mut quick = false;
        let mut workloads: Vec<&'static Workload> = bench_workloads::ALL.iter().collect();
        let mut transports = Vec::new();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => quick = true,
                "--requests" => requests = Some(parse_value(arg, args.next())?),
                "--threads" => threads = parse_value(arg, args.next())?,
                "--transport" => {
                    let list = args.next().ok_or("bench: --transport needs a name")?;
                    transports = parse_transports(list)?;
                }
                "--workloads" => {
                    let list = args.next().ok_or("bench: --workloads needs a list")?;
                    workloads = bench_workloads::select(list)?;
                }
                other => return Err(format!("bench: unknown option '{other}'")),
            }
        }
        let default = if quick {
            QUICK_REQUESTS
        } else {
            DEFAULT_REQUESTS
        };
        let requests = requests.unwrap_or(default);
        if requests == 0 || threads == 0 {
            return Err("bench: --requests and --threads must be at least 1".into());
        }
        Ok(BenchOptions {
            requests,
            threads,
            workloads,
            transports,
        })
    }
}

fn parse_value<T: std::str::FromStr>(flag: &str, value: Option<&String>) -> Result<T, String> {
    value
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("bench: {flag} needs a positive integer"))
}

/// One `redis-benchmark` run against one server.
struct Measurement {
    requests_per_second: Option<f64>,
    cpu_seconds: Option<f64>,
}

pub fn run(options: &BenchOptions) -> Result<(), String> {
    let redis_server = find_on_path("redis-server");
    let redis_benchmark = find_on_path("redis-benchmark");
    let (Some(redis_server), Some(redis_benchmark)) = (redis_server, redis_benchmark) else {
        return Err("bench needs `redis-server` and `redis-benchmark` on PATH \
                    (Debian: apt-get install redis-server redis-tools)"
            .into());
    };
    let mut build = vec!["build", "--release", "-p", "kevy"];
    let features = options.transports.join(",");
    if !options.transports.is_empty() {
        build.extend(["--features", &features]);
    }
    workspace::run_cargo(&build)?;
    let kevy_bin = workspace::target_dir().join("release").join("kevy");
    let ticks = clock_ticks_per_second();

    let save_off = ["--save", "", "--appendonly", "no"];
    let mut redis = ServerProcess::start("redis-server", &redis_server, &save_off)?;
    let threads = options.threads.to_string();
    let mut kevys = Vec::new();
    let backends: Vec<Option<&str>> = if options.transports.is_empty() {
        vec![None]
    } else {
        options.transports.iter().map(|t| Some(*t)).collect()
    };
    for backend in backends {
        // No snapshots during a run, as for redis-server.
        let mut args = vec!["--threads", threads.as_str(), "--save", ""];
        if let Some(backend) = backend {
            args.extend(["--transport", backend]);
        }
        let label = match backend {
            None => "kevy",
            Some("mio") => "kevy-mio",
            Some("polling") => "kevy-polling",
            Some(_) => "kevy-glommio",
        };
        let server = ServerProcess::start(label, &kevy_bin, &args)?;
        println!(
            "{label} (--threads {}) on port {}",
            options.threads, server.port
        );
        kevys.push(server);
    }
    println!(
        "redis-server on port {}; {} requests per run, {CLIENTS} clients, {KEYSPACE} random keys",
        redis.port, options.requests
    );

    let mut rows = Vec::new();
    for workload in &options.workloads {
        for pipeline in PIPELINES {
            let mut run = |server: &mut ServerProcess| {
                measure(
                    server,
                    &redis_benchmark,
                    workload,
                    pipeline,
                    options.requests,
                    ticks,
                )
            };
            let on_redis = run(&mut redis);
            let on_kevys: Vec<Measurement> = kevys.iter_mut().map(&mut run).collect();
            rows.push((workload.name.to_uppercase(), pipeline, on_redis, on_kevys));
        }
    }
    let per_million = |m: &Measurement| {
        m.cpu_seconds
            .map(|cpu| cpu * 1_000_000.0 / options.requests as f64)
    };
    println!();
    if kevys.len() == 1 {
        print!("{}", side_by_side(&rows, per_million));
    } else {
        let names: Vec<&str> = kevys.iter().map(|k| k.name).collect();
        print!("{}", per_backend(&rows, &names, per_million));
    }
    println!(
        "\nrps: requests per second as redis-benchmark reports it (an MSET request sets 10 keys);\n\
         cpu s/1M: the server's user+system CPU seconds per million requests; ratios are kevy/redis."
    );
    Ok(())
}

/// (workload, pipeline, redis's measurement, each kevy's measurement).
type Row = (String, u32, Measurement, Vec<Measurement>);

/// One kevy: a line per workload with redis and kevy side by side.
fn side_by_side(rows: &[Row], per_million: impl Fn(&Measurement) -> Option<f64>) -> String {
    let mut table = Table::new(&[
        "workload",
        "pipeline",
        "redis rps",
        "kevy rps",
        "kevy/redis",
        "redis cpu s/1M",
        "kevy cpu s/1M",
        "cpu kevy/redis",
    ]);
    for (name, pipeline, on_redis, on_kevys) in rows {
        let on_kevy = &on_kevys[0];
        let (redis_cpu, kevy_cpu) = (per_million(on_redis), per_million(on_kevy));
        table.push(vec![
            name.clone(),
            pipeline.to_string(),
            format_number(on_redis.requests_per_second, 0),
            format_number(on_kevy.requests_per_second, 0),
            format_ratio(on_kevy.requests_per_second, on_redis.requests_per_second),
            format_number(redis_cpu, 3),
            format_number(kevy_cpu, 3),
            format_ratio(kevy_cpu, redis_cpu),
        ]);
    }
    table.render()
}

/// Several backends: a line per server, each kevy also against the best
/// backend's throughput on that workload.
fn per_backend(
    rows: &[Row],
    names: &[&str],
    per_million: impl Fn(&Measurement) -> Option<f64>,
) -> String {
    let mut table = Table::new(&[
        "workload",
        "pipeline",
        "server",
        "rps",
        "rps/redis",
        "rps/best",
        "cpu s/1M",
        "cpu/redis",
    ]);
    for (name, pipeline, on_redis, on_kevys) in rows {
        let redis_cpu = per_million(on_redis);
        table.push(vec![
            name.clone(),
            pipeline.to_string(),
            "redis-server".into(),
            format_number(on_redis.requests_per_second, 0),
            String::new(),
            String::new(),
            format_number(redis_cpu, 3),
            String::new(),
        ]);
        let best = on_kevys
            .iter()
            .filter_map(|m| m.requests_per_second)
            .fold(None, |best: Option<f64>, rps| {
                Some(best.map_or(rps, |b| b.max(rps)))
            });
        for (on_kevy, server) in on_kevys.iter().zip(names) {
            let kevy_cpu = per_million(on_kevy);
            table.push(vec![
                String::new(),
                String::new(),
                server.to_string(),
                format_number(on_kevy.requests_per_second, 0),
                format_ratio(on_kevy.requests_per_second, on_redis.requests_per_second),
                format_ratio(on_kevy.requests_per_second, best),
                format_number(kevy_cpu, 3),
                format_ratio(kevy_cpu, redis_cpu),
            ]);
        }
    }
    table.render()
}

fn measure(
    server: &mut ServerProcess,
    redis_benchmark: &Path,
    workload: &Workload,
    pipeline: u32,
    requests: u64,
    ticks: f64,
) -> Measurement {
    let name = workload.name;
    if !server.is_alive() {
        eprintln!("{} is no longer running", server.name);
        return Measurement {
            requests_per_second: None,
            cpu_seconds: None,
        };
    }
    if let Err(message) = workload.prefill(server.port, requests) {
        eprintln!(
            "{} {name}: preparing the data failed: {message}",
            server.name
        );
    }
    let cpu_before = server.cpu_seconds(ticks);
    let output = run_benchmark(redis_benchmark, server.port, workload, pipeline, requests);
    let cpu_after = server.cpu_seconds(ticks);
    let requests_per_second = match output {
        Ok(csv) => parse_rps(&csv).or_else(|| {
            eprintln!(
                "{} {name} -P {pipeline}: no result in redis-benchmark's output:\n{csv}",
                server.name
            );
            None
        }),
        Err(message) => {
            eprintln!("{} {name} -P {pipeline}: {message}", server.name);
            None
        }
    };
    let cpu_seconds = match (cpu_before, cpu_after) {
        (Some(before), Some(after)) if requests_per_second.is_some() => Some(after - before),
        _ => None,
    };
    Measurement {
        requests_per_second,
        cpu_seconds,
    }
}

/// Runs redis-benchmark to completion (or [`RUN_TIMEOUT`]) and returns its
/// standard output.
fn run_benchmark(
    redis_benchmark: &Path,
    port: u16,
    workload: &Workload,
    pipeline: u32,
    requests: u64,
) -> Result<String, String> {
    let mut child = Command::new(redis_benchmark)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-c", &CLIENTS.to_string(), "-n", &requests.to_string()])
        .args(["-r", &KEYSPACE.to_string(), "-P", &pipeline.to_string()])
        .args(["-q", "--csv"])
        .args(workload.arguments())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run redis-benchmark: {e}"))?;
    // Both pipes are drained on their own threads so a chatty run (errors
    // on every request) cannot fill a pipe and stall while we wait.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("redis-benchmark did not finish in {RUN_TIMEOUT:?}"));
            }
            Err(e) => return Err(format!("waiting for redis-benchmark: {e}")),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if status.success() {
        Ok(stdout)
    } else {
        // redis-benchmark prints the server's error on stdout, after the
        // CSV header; keep only what explains the failure.
        let explanation: Vec<&str> = stderr
            .lines()
            .chain(stdout.lines())
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("\"test\""))
            .collect();
        Err(format!(
            "redis-benchmark failed ({status}): {}",
            explanation.join(" / ")
        ))
    }
}

/// Reads a child's pipe to its end on a thread of its own.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut text);
        }
        String::from_utf8_lossy(&text).into_owned()
    })
}

/// The rps column of redis-benchmark's `--csv` output: a header line
/// `"test","rps",...` then `"SET","123456.78",...`.
fn parse_rps(csv: &str) -> Option<f64> {
    csv.lines()
        .filter(|line| !line.starts_with("\"test\""))
        .find_map(|line| {
            let field = line.split(',').nth(1)?;
            field.trim().trim_matches('"').parse::<f64>().ok()
        })
}

fn format_number(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(v) => format!("{v:.decimals$}"),
        None => "n/a".into(),
    }
}

fn format_ratio(numerator: Option<f64>, denominator: Option<f64>) -> String {
    match (numerator, denominator) {
        (Some(n), Some(d)) if d > 0.0 => format!("{:.2}", n / d),
        _ => "n/a".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rps_from_csv() {
        let csv =
            "\"test\",\"rps\",\"avg_latency_ms\"\n\"MSET (10 keys)\",\"37105.75\",\"1.210\"\n";
        assert_eq!(parse_rps(csv), Some(37105.75));
        assert_eq!(parse_rps("\"test\",\"rps\"\n"), None);
    }

    #[test]
    fn quick_lowers_the_default_but_not_an_explicit_count() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let quick = BenchOptions::parse(&args(&["--quick"])).expect("valid options");
        assert!(quick.transports.is_empty());
        let all = BenchOptions::parse(&args(&["--transport", "all"])).expect("valid");
        assert_eq!(all.transports, ["mio", "polling", "glommio"]);
        let two = BenchOptions::parse(&args(&["--transport", "mio,glommio"])).expect("valid");
        assert_eq!(two.transports, ["mio", "glommio"]);
        assert!(BenchOptions::parse(&args(&["--transport", "uring"])).is_err());
        assert_eq!(quick.requests, QUICK_REQUESTS);
        let explicit =
            BenchOptions::parse(&args(&["--quick", "--requests", "5", "--threads", "3"]))
                .expect("valid options");
        assert_eq!((explicit.requests, explicit.threads), (5, 3));
        assert!(BenchOptions::parse(&args(&["--threads"])).is_err());
        assert_eq!(quick.workloads.len(), bench_workloads::ALL.len());
        let some = BenchOptions::parse(&args(&["--workloads", "zrange,lpop"])).expect("valid");
        let names: Vec<&str> = some.workloads.iter().map(|w| w.name).collect();
        assert_eq!(names, ["lpop", "zrange"]);
        assert!(BenchOptions::parse(&args(&["--workloads", "bogus"])).is_err());
    }

    #[test]
    fn ratios_need_both_sides() {
        assert_eq!(format_ratio(Some(3.0), Some(2.0)), "1.50");
        assert_eq!(format_ratio(None, Some(2.0)), "n/a");
        assert_eq!(format_ratio(Some(1.0), Some(0.0)), "n/a");
    }
}
