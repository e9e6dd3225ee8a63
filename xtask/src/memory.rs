//! `cargo xtask memory`: how much memory kevy and `redis-server` use for
//! the same data, measured in the same run.
//!
//! Flow: build kevy in release; then for each kind of value (small
//! strings, hashes, lists, sets, sorted sets) and for each server, start
//! a fresh server, read its empty baseline (`used_memory` from
//! `INFO memory`, `VmRSS` from `/proc/<pid>/status`), fill it with N keys
//! of that kind by pipelined RESP from this process (batches of
//! [`BATCH`] commands), read both figures again and stop the server. The
//! table shows the growth of each, per key and as a kevy/redis ratio.
//!
//! Why a fresh server per kind rather than FLUSHALL between kinds: neither
//! server gives freed pages back to the kernel reliably (allocator caches,
//! fragmentation), so after FLUSHALL the RSS of the next kind would depend
//! on what the previous kind left behind, and differently for the two
//! allocators. Starting from an empty process makes every row measure the
//! same thing: the cost of N keys of one kind over an idle server.
//! Numbers never fail the command: a figure that cannot be read is `n/a`.

use std::path::Path;
use std::time::Instant;

use crate::resp_client::{Reply, RespClient};
use crate::server_process::{find_on_path, ServerProcess};
use crate::table::Table;
use crate::workspace;

const DEFAULT_KEYS: u64 = 1_000_000;
const QUICK_KEYS: u64 = 100_000;
const KEVY_THREADS: &str = "2";
/// Commands per pipelined batch: large enough to keep both servers busy,
/// small enough that a batch's replies stay in a few socket buffers.
const BATCH: u64 = 1000;
/// Fields, elements or members per aggregate key.
const ELEMENTS: usize = 10;
const MB: f64 = 1024.0 * 1024.0;

#[derive(Clone, Copy)]
enum Kind {
    String,
    Hash,
    List,
    Set,
    SortedSet,
}

const KINDS: [Kind; 5] = [
    Kind::String,
    Kind::Hash,
    Kind::List,
    Kind::Set,
    Kind::SortedSet,
];

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::String => "string (10 B)",
            Kind::Hash => "hash (10 fields)",
            Kind::List => "list (10 elements)",
            Kind::Set => "set (10 members)",
            Kind::SortedSet => "zset (10 members)",
        }
    }

    /// The command that creates key number `i`. Values are short and not
    /// integers, so neither server can pick an integer encoding.
    fn command(self, i: u64) -> Vec<String> {
        match self {
            Kind::String => vec!["SET".into(), format!("key:{i}"), format!("v{i:09}")],
            Kind::Hash => ["HSET".into(), format!("hash:{i}")]
                .into_iter()
                .chain((0..ELEMENTS).flat_map(|j| [format!("f:{j}"), format!("val{j}:{i}")]))
                .collect(),
            Kind::List => ["RPUSH".into(), format!("list:{i}")]
                .into_iter()
                .chain((0..ELEMENTS).map(|j| format!("el{j}:{i}")))
                .collect(),
            Kind::Set => ["SADD".into(), format!("set:{i}")]
                .into_iter()
                .chain((0..ELEMENTS).map(|j| format!("m{j}:{i}")))
                .collect(),
            Kind::SortedSet => ["ZADD".into(), format!("zset:{i}")]
                .into_iter()
                .chain((0..ELEMENTS).flat_map(|j| [j.to_string(), format!("m{j}:{i}")]))
                .collect(),
        }
    }
}

pub struct MemoryOptions {
    keys: u64,
}

impl MemoryOptions {
    pub fn parse(args: &[String]) -> Result<MemoryOptions, String> {
        let mut keys = None;
        let mut quick = false;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => quick = true,
                "--keys" => {
                    keys = Some(
                        args.next()
                            .and_then(|v| v.parse::<u64>().ok())
                            .filter(|n| *n > 0)
                            .ok_or("memory: --keys needs a positive integer")?,
                    )
                }
                other => return Err(format!("memory: unknown option '{other}'")),
            }
        }
        let default = if quick { QUICK_KEYS } else { DEFAULT_KEYS };
        Ok(MemoryOptions {
            keys: keys.unwrap_or(default),
        })
    }
}

/// Growth of one server's memory after one fill.
struct Growth {
    used_memory: Option<u64>,
    resident: Option<u64>,
}

pub fn run(options: &MemoryOptions) -> Result<(), String> {
    let Some(redis_server) = find_on_path("redis-server") else {
        return Err("memory needs `redis-server` on PATH \
                    (Debian: apt-get install redis-server)"
            .into());
    };
    workspace::run_cargo(&["build", "--release", "-p", "kevy"])?;
    let kevy = workspace::target_dir().join("release").join("kevy");
    println!(
        "{} keys per kind; a fresh redis-server (--save '' --appendonly no) and kevy \
         (--threads {KEVY_THREADS} --save '') for every kind",
        options.keys
    );

    let mut table = Table::new(&[
        "kind",
        "keys",
        "redis used MB",
        "kevy used MB",
        "redis RSS MB",
        "kevy RSS MB",
        "RSS kevy/redis",
        "redis B/key",
        "kevy B/key",
    ]);
    for kind in KINDS {
        let on_redis = measure_fresh(
            "redis-server",
            &redis_server,
            &["--save", "", "--appendonly", "no"],
            kind,
            options.keys,
        );
        let on_kevy = measure_fresh(
            "kevy",
            &kevy,
            &["--threads", KEVY_THREADS, "--save", ""],
            kind,
            options.keys,
        );
        let per_key = |bytes: Option<u64>| bytes.map(|b| b as f64 / options.keys as f64);
        table.push(vec![
            kind.label().into(),
            options.keys.to_string(),
            megabytes(on_redis.used_memory),
            megabytes(on_kevy.used_memory),
            megabytes(on_redis.resident),
            megabytes(on_kevy.resident),
            ratio(on_kevy.resident, on_redis.resident),
            number(per_key(on_redis.resident)),
            number(per_key(on_kevy.resident)),
        ]);
    }
    println!();
    print!("{}", table.render());
    println!(
        "\nused MB: growth of INFO memory's used_memory (bytes allocated and not freed: redis\n\
         counts its allocator's size classes, kevy the sizes asked for);\n\
         RSS MB: growth of the process's VmRSS over the empty server; B/key: RSS growth per key."
    );
    Ok(())
}

/// Starts `program`, fills it with `keys` keys of `kind` and returns how
/// much its memory grew; failures are reported and leave `n/a` figures.
fn measure_fresh(
    name: &'static str,
    program: &Path,
    args: &[&str],
    kind: Kind,
    keys: u64,
) -> Growth {
    let unknown = Growth {
        used_memory: None,
        resident: None,
    };
    let server = match ServerProcess::start(name, program, args) {
        Ok(server) => server,
        Err(message) => {
            eprintln!("{name}: {message}");
            return unknown;
        }
    };
    let result = RespClient::connect(server.port).and_then(|mut client| {
        let used_before = used_memory(&mut client);
        let resident_before = server.resident_bytes();
        let started = Instant::now();
        fill(&mut client, kind, keys)?;
        let used_after = used_memory(&mut client);
        let resident_after = server.resident_bytes();
        println!(
            "{name}: {} filled in {:.1} s",
            kind.label(),
            started.elapsed().as_secs_f64()
        );
        Ok(Growth {
            used_memory: growth(used_before, used_after),
            resident: growth(resident_before, resident_after),
        })
    });
    result.unwrap_or_else(|message| {
        eprintln!("{name} {}: {message}", kind.label());
        unknown
    })
}

fn fill(client: &mut RespClient, kind: Kind, keys: u64) -> Result<(), String> {
    let mut next = 0;
    while next < keys {
        let end = (next + BATCH).min(keys);
        for i in next..end {
            client.queue(&kind.command(i));
        }
        client.flush()?;
        next = end;
    }
    Ok(())
}

/// `used_memory` from `INFO memory`, or None when the server does not say.
fn used_memory(client: &mut RespClient) -> Option<u64> {
    match client.call(&["INFO", "memory"]) {
        Ok(Reply::Bulk(Some(text))) => info_field(&String::from_utf8_lossy(&text), "used_memory"),
        _ => None,
    }
}

fn info_field(info: &str, field: &str) -> Option<u64> {
    info.lines().find_map(|line| {
        let (name, value) = line.trim_end().split_once(':')?;
        (name == field).then(|| value.parse().ok()).flatten()
    })
}

fn growth(before: Option<u64>, after: Option<u64>) -> Option<u64> {
    Some(after?.saturating_sub(before?))
}

fn megabytes(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "n/a".into(), |b| format!("{:.1}", b as f64 / MB))
}

fn number(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".into(), |v| format!("{v:.0}"))
}

fn ratio(numerator: Option<u64>, denominator: Option<u64>) -> String {
    match (numerator, denominator) {
        (Some(n), Some(d)) if d > 0 => format!("{:.2}", n as f64 / d as f64),
        _ => "n/a".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_field_from_info_text() {
        let info = "# Memory\r\nused_memory:871264\r\nused_memory_human:850.84K\r\n";
        assert_eq!(info_field(info, "used_memory"), Some(871_264));
        assert_eq!(info_field(info, "used_memory_rss"), None);
    }

    #[test]
    fn commands_have_the_promised_shape() {
        assert_eq!(Kind::String.command(7), ["SET", "key:7", "v000000007"]);
        assert_eq!(Kind::Hash.command(1).len(), 2 + 2 * ELEMENTS);
        assert_eq!(Kind::List.command(1).len(), 2 + ELEMENTS);
        assert_eq!(Kind::Set.command(1).len(), 2 + ELEMENTS);
        assert_eq!(Kind::SortedSet.command(1).len(), 2 + 2 * ELEMENTS);
    }

    #[test]
    fn quick_and_explicit_key_counts() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let parse = |list: &[&str]| MemoryOptions::parse(&args(list)).map(|o| o.keys);
        assert_eq!(parse(&[]), Ok(DEFAULT_KEYS));
        assert_eq!(parse(&["--quick"]), Ok(QUICK_KEYS));
        assert_eq!(parse(&["--quick", "--keys", "5"]), Ok(5));
        assert!(parse(&["--keys", "0"]).is_err());
    }

    #[test]
    fn growth_never_goes_negative() {
        assert_eq!(growth(Some(10), Some(4)), Some(0));
        assert_eq!(growth(None, Some(4)), None);
    }
}
