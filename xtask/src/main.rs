//! `cargo xtask <command>`: the repository's chores, in Rust rather than in
//! shell scripts (the alias lives in `.cargo/config.toml`).
//!
//! - `bench`  — kevy against `redis-server` with `redis-benchmark`, both
//!   measured in the same run: throughput and CPU per request, as ratios;
//! - `memory` — kevy against `redis-server`: memory used by N keys of each
//!   kind of value, filled by pipelined RESP from xtask itself;
//! - `matrix` — build kevy for every feature combination in
//!   `ci/matrix.txt` and run the `tests/matrix` suite against each binary;
//! - `ci`     — format check, clippy, the workspace tests, then the matrix.
//!
//! Each command module returns `Result<(), String>`; an `Err` is printed
//! here and turns into a non-zero exit status.

mod bench;
mod bench_persist;
mod bench_workloads;
mod ci;
mod matrix;
mod memory;
mod resp_client;
mod server_process;
mod table;
mod workspace;

use std::process::ExitCode;

const USAGE: &str = "Usage: cargo xtask <command> [options]

Commands:
  bench   [--requests N] [--threads T] [--quick] [--workloads a,b,c]
          [--transport mio|polling|glommio|all]
          kevy against redis-server with redis-benchmark (SET, GET, INCR,
          MSET, LPUSH, LPOP, SADD, HSET, ZADD, ZRANGE, XADD at pipeline 1
          and 16; --workloads picks some, e.g. lpush,zrange): throughput
          and CPU per 1M requests. Defaults: --requests 200000,
          --threads 2; --quick uses 50000 requests unless --requests is
          given.
  bench persist [--keys N] [--threads T] [--quick]
          SAVE time, snapshot size and load time of N keys of mixed types
          (kevy plain and zstd beside redis-server's RDB), and SET
          throughput with appendonly yes under appendfsync everysec and
          always beside redis-server. Default --keys 1000000.
  memory  [--keys N] [--quick]
          kevy (--threads 2) against redis-server: memory growth (INFO
          used_memory and process RSS) for N keys of each kind (strings,
          hashes, lists, sets, sorted sets), a fresh server per kind.
          Default --keys 1000000; --quick uses 100000.
  matrix  build kevy for every feature combination in ci/matrix.txt and run
          the tests/matrix suite against each build.
  ci      cargo fmt --check, clippy (-D warnings), cargo test --workspace,
          then the matrix.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let result = match command.as_str() {
        "bench" if rest.first().map(String::as_str) == Some("persist") => {
            bench_persist::PersistOptions::parse(&rest[1..])
                .and_then(|options| bench_persist::run(&options))
        }
        "bench" => bench::BenchOptions::parse(rest).and_then(|options| bench::run(&options)),
        "memory" => memory::MemoryOptions::parse(rest).and_then(|options| memory::run(&options)),
        "matrix" => no_options(rest).and_then(|()| matrix::run()),
        "ci" => no_options(rest).and_then(|()| ci::run()),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command '{other}'\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn no_options(rest: &[String]) -> Result<(), String> {
    match rest.first() {
        None => Ok(()),
        Some(arg) => Err(format!("unexpected argument '{arg}'\n\n{USAGE}")),
    }
}
