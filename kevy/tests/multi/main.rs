//! Transactions against the real server binary.
//!
//! - Two-connection `WATCH` scenarios run against `redis-server` and kevy
//!   (`--threads 1` and `--threads 4`), raw replies compared byte for byte:
//!   A watches, B (or A itself) writes, A's `EXEC` succeeds or returns null.
//!   Keys sit under `{tag}`s and on different shards.
//! - A bank (`bank`): transfers between accounts on every shard never
//!   change the total any reader sees; `WATCH`-based increments count
//!   exactly.
//! - A throughput comparison with redis-server (`bench`, ignored).
//!
//! Without `redis-server` installed the comparisons say so and pass.

mod bank;
mod bench;
#[path = "../blocking/raw.rs"]
mod raw;
#[path = "../support/mod.rs"]
mod support;

use std::time::Duration;

use raw::Raw;
use support::Client;

/// Scenario steps: `A CMD` sends on connection A and reads its reply;
/// `!sleep MS` waits.
const SCENARIOS: &[&[&str]] = &[
    // Another client's write to a watched key aborts EXEC.
    &[
        "A WATCH a",
        "B SET a 1",
        "A MULTI",
        "A SET b 2",
        "A EXEC",
        "B GET b",
    ],
    &[
        "A WATCH {t}a",
        "B SET {t}a 1",
        "A MULTI",
        "A SET {t}b 2",
        "A EXEC",
        "B GET {t}b",
    ],
    // Writes to unwatched keys do not.
    &[
        "A WATCH a",
        "B SET c 1",
        "A MULTI",
        "A SET b 2",
        "A EXEC",
        "B GET b",
    ],
    // Several watched keys over several shards; one changes.
    &[
        "A WATCH a b c d",
        "B INCR d",
        "A MULTI",
        "A INCR a",
        "A INCR {t}x",
        "A EXEC",
        "B MGET a d {t}x",
    ],
    &[
        "A WATCH a b c d",
        "B INCR e",
        "A MULTI",
        "A INCR a",
        "A INCR {t}x",
        "A EXEC",
        "B MGET a d {t}x",
    ],
    // Deleting, expiring, renaming, pushing.
    &[
        "B SET a 1",
        "A WATCH a",
        "B DEL a",
        "A MULTI",
        "A GET a",
        "A EXEC",
    ],
    &[
        "B SET a 1",
        "A WATCH a",
        "B EXPIRE a 100",
        "A MULTI",
        "A GET a",
        "A EXEC",
    ],
    &[
        "B SET a 1",
        "A WATCH a",
        "B PEXPIRE a 50",
        "!sleep 120",
        "A MULTI",
        "A GET a",
        "A EXEC",
    ],
    &[
        "B SET x 1",
        "A WATCH a",
        "B RENAME x a",
        "A MULTI",
        "A GET a",
        "A EXEC",
    ],
    &["A WATCH l", "B RPUSH l v", "A MULTI", "A LLEN l", "A EXEC"],
    &[
        "B SET a v",
        "A WATCH a",
        "B SET a v",
        "A MULTI",
        "A GET a",
        "A EXEC",
    ],
    // Writes that change nothing leave the watch intact.
    &[
        "A WATCH a",
        "B DEL a",
        "B EXPIRE a 10",
        "A MULTI",
        "A GET a",
        "A EXEC",
    ],
    // Whole-database commands.
    &[
        "B SET a 1",
        "A WATCH a",
        "B FLUSHDB",
        "A MULTI",
        "A GET a",
        "A EXEC",
    ],
    &["A WATCH a", "B FLUSHALL", "A MULTI", "A GET a", "A EXEC"],
    &[
        "B SET a 1",
        "A WATCH a",
        "B SWAPDB 0 1",
        "A MULTI",
        "A GET a",
        "A EXEC",
        "B SWAPDB 0 1",
    ],
    // Another client's transaction writes a watched key.
    &[
        "A WATCH a",
        "B MULTI",
        "B SET a 1",
        "B SET b 1",
        "B EXEC",
        "A MULTI",
        "A GET a",
        "A EXEC",
    ],
    // The watch is dropped by EXEC, DISCARD and UNWATCH.
    &[
        "A WATCH a",
        "A MULTI",
        "A EXEC",
        "B SET a 1",
        "A MULTI",
        "A GET a",
        "A EXEC",
    ],
    &[
        "A WATCH a",
        "A MULTI",
        "A DISCARD",
        "B SET a 1",
        "A MULTI",
        "A GET a",
        "A EXEC",
    ],
    &[
        "A WATCH a b",
        "A UNWATCH",
        "B SET a 1",
        "A MULTI",
        "A GET a",
        "A EXEC",
    ],
    // A blocked client served from a watched key touches it.
    &[
        "B RPUSH q x",
        "A WATCH q",
        "C BLPOP q 1",
        "A MULTI",
        "A LLEN q",
        "A EXEC",
    ],
    // A watch in another database.
    &[
        "A SELECT 1",
        "A WATCH a",
        "B SET a 1",
        "A MULTI",
        "A GET a",
        "A EXEC",
    ],
    &[
        "A SELECT 1",
        "A WATCH a",
        "B SELECT 1",
        "B SET a 1",
        "A MULTI",
        "A GET a",
        "A EXEC",
    ],
];

fn run_scenario(port: u16, steps: &[&str]) -> Vec<String> {
    let mut conns: Vec<Raw> = (0..3).map(|_| Raw::connect(port)).collect();
    let mut transcript = Vec::new();
    for step in steps {
        if let Some(ms) = step.strip_prefix("!sleep ") {
            std::thread::sleep(Duration::from_millis(ms.parse().expect("ms")));
            continue;
        }
        let conn = usize::from(step.as_bytes()[0] - b'A');
        let args: Vec<String> = step[1..].split_whitespace().map(String::from).collect();
        conns[conn].send(&args);
        let reply = conns[conn].read(Duration::from_secs(5));
        transcript.push(format!("{step} => {}", String::from_utf8_lossy(&reply)));
    }
    transcript
}

pub(crate) fn redis_server() -> Option<support::ServerProcess> {
    support::redis_server_or_skip("the transaction scenarios are")
}

fn flush(port: u16) {
    let mut client = Client::connect(port);
    client.call(&["SELECT", "1"]);
    client.call(&["FLUSHALL"]);
}

#[test]
fn watch_scenarios_same_bytes_as_redis() {
    let Some(redis) = redis_server() else {
        return;
    };
    let failures = support::differences_from_redis(&redis, SCENARIOS, flush, |port, steps| {
        run_scenario(port, steps)
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
