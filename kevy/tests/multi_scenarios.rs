//! Transactions with several connections, compared with redis-server byte
//! for byte on kevy `--threads 1` and `4`:
//! - writes that change nothing but still count as modifying a watched key
//!   in Redis (`HSET` of the same value, a `*STORE` giving the same result),
//!   run alone, in a transaction on one shard, or coordinated across shards;
//! - commands that gather from every shard inside `MULTI` (`INFO`,
//!   `PUBLISH`, `DBSIZE`, `FLUSHALL`, `KEYS`, ...);
//! - `SUBSCRIBE` and friends inside `MULTI`.
//!
//! A step is `A CMD args` (connection A sends and reads one reply), `S CMD`
//! (a subscriber sends, the reply is read with whatever else arrives),
//! `!sleep MS`, or `!drain S` (what S received since). Keys without a
//! `{tag}` land on different shards. Skipped with a notice when
//! redis-server is not installed.

#[path = "support/quiet_conn.rs"]
mod quiet_conn;
#[path = "blocking/raw.rs"]
mod raw;
mod support;

use std::time::Duration;

type Scenario = &'static [&'static str];

/// Writes that change no value: Redis signals some as modifications (the
/// watch fails) and not others (the transaction runs).
const NO_CHANGE_WATCH: &[Scenario] = &[
    &[
        "A HSET h f v",
        "A WATCH h",
        "B HSET h f v",
        "A MULTI",
        "A HGET h f",
        "A EXEC",
    ],
    &[
        "A SADD s m",
        "A WATCH s",
        "B SADD s m",
        "A MULTI",
        "A SCARD s",
        "A EXEC",
    ],
    &[
        "A SET n 5",
        "A WATCH n",
        "B INCRBY n 0",
        "A MULTI",
        "A GET n",
        "A EXEC",
    ],
    &[
        "A HSET h n 5",
        "A WATCH h",
        "B HINCRBY h n 0",
        "A MULTI",
        "A HGET h n",
        "A EXEC",
    ],
    &[
        "A SET s ab",
        "A WATCH s",
        "B APPEND s \"\"",
        "A MULTI",
        "A GET s",
        "A EXEC",
    ],
    &[
        "A SET s ab",
        "A WATCH s",
        "B SETRANGE s 0 a",
        "A MULTI",
        "A GET s",
        "A EXEC",
    ],
    &[
        "A SET s ab",
        "A WATCH s",
        "B SETRANGE s 0 \"\"",
        "A MULTI",
        "A GET s",
        "A EXEC",
    ],
    &[
        "A SET s ab",
        "A WATCH s",
        "B GETSET s ab",
        "A MULTI",
        "A GET s",
        "A EXEC",
    ],
    &[
        "A SETBIT b 1 1",
        "A WATCH b",
        "B SETBIT b 1 1",
        "A MULTI",
        "A GET b",
        "A EXEC",
    ],
    &[
        "A RPUSH l x",
        "A WATCH l",
        "B LREM l 0 y",
        "A MULTI",
        "A LLEN l",
        "A EXEC",
    ],
    &[
        "A RPUSH l x",
        "A WATCH l",
        "B LSET l 0 x",
        "A MULTI",
        "A LLEN l",
        "A EXEC",
    ],
    &[
        "A HSET h f v",
        "A WATCH h",
        "B HDEL h g",
        "A MULTI",
        "A HLEN h",
        "A EXEC",
    ],
    &[
        "A ZADD z 1 m",
        "A WATCH z",
        "B ZADD z 1 m",
        "A MULTI",
        "A ZCARD z",
        "A EXEC",
    ],
    &[
        "A ZADD z 1 m",
        "A WATCH z",
        "B ZINCRBY z 0 m",
        "A MULTI",
        "A ZCARD z",
        "A EXEC",
    ],
    &[
        "A SET k v",
        "A WATCH k",
        "B PERSIST k",
        "A MULTI",
        "A GET k",
        "A EXEC",
    ],
    &[
        "A SET k v",
        "A WATCH k",
        "B RENAME k k",
        "A MULTI",
        "A GET k",
        "A EXEC",
    ],
    // Stores giving the result the key held, on one shard and across.
    &[
        "A SADD {s}a x",
        "A SINTERSTORE {s}d {s}a",
        "A WATCH {s}d",
        "B SINTERSTORE {s}d {s}a",
        "A MULTI",
        "A SCARD {s}d",
        "A EXEC",
    ],
    &[
        "A SADD a x",
        "A SINTERSTORE d a",
        "A WATCH d",
        "B SINTERSTORE d a",
        "A MULTI",
        "A SCARD d",
        "A EXEC",
    ],
    &[
        "A RPUSH l 2 1",
        "A SORT l STORE d",
        "A WATCH d",
        "B SORT l STORE d",
        "A MULTI",
        "A LLEN d",
        "A EXEC",
    ],
    &[
        "A MSET a 1 b 2",
        "A WATCH a",
        "B MSET a 1 b 2",
        "A MULTI",
        "A GET a",
        "A EXEC",
    ],
    // Transactions: on the key's shard, and coordinated across shards.
    &[
        "A HSET h f v",
        "A WATCH h",
        "B MULTI",
        "B HSET h f v",
        "B EXEC",
        "A MULTI",
        "A HGET h f",
        "A EXEC",
    ],
    &[
        "A HSET h f v",
        "A WATCH h",
        "B MULTI",
        "B HSET h f v",
        "B SET other 1",
        "B SET more 1",
        "B EXEC",
        "A MULTI",
        "A HGET h f",
        "A EXEC",
    ],
    &[
        "A SADD s m",
        "A WATCH s",
        "B MULTI",
        "B SADD s m",
        "B SET other 1",
        "B SET more 1",
        "B EXEC",
        "A MULTI",
        "A SCARD s",
        "A EXEC",
    ],
    &[
        "A SET n 1",
        "A WATCH n",
        "B MULTI",
        "B INCR n",
        "B DECR n",
        "B SET other 1",
        "B EXEC",
        "A MULTI",
        "A GET n",
        "A EXEC",
    ],
];

/// Runs one scenario on `port`: the transcript of every step.
fn run(port: u16, steps: &Scenario) -> Vec<String> {
    let mut conns: Vec<raw::Raw> = (0..3).map(|_| raw::Raw::connect(port)).collect();
    let mut subscriber = quiet_conn::Raw::connect(port);
    let mut transcript = Vec::new();
    for step in steps.iter() {
        if let Some(ms) = step.strip_prefix("!sleep ") {
            std::thread::sleep(Duration::from_millis(ms.parse().expect("ms")));
            continue;
        }
        let (who, command) = step.split_at(1);
        let args: Vec<String> = command
            .split_whitespace()
            .map(|a| {
                if a == "\"\"" {
                    String::new()
                } else {
                    a.to_string()
                }
            })
            .collect();
        let reply = if who == "!" {
            subscriber.drain(Duration::from_millis(150))
        } else if who == "S" {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            subscriber.send(&args);
            subscriber.drain(Duration::from_millis(150))
        } else {
            let conn = usize::from(who.as_bytes()[0] - b'A');
            conns[conn].send(&args);
            conns[conn].read(Duration::from_secs(5))
        };
        transcript.push(format!("{step} => {}", String::from_utf8_lossy(&reply)));
    }
    transcript
}

fn flush(port: u16) {
    let mut conn = raw::Raw::connect(port);
    for command in [["SELECT", "1"], ["FLUSHALL", "SYNC"]] {
        conn.send(&command.map(String::from));
        conn.read(Duration::from_secs(5));
    }
}

fn compare(what: &str, scenarios: &[Scenario]) {
    let Some(redis) = support::redis_server_or_skip(what) else {
        return;
    };
    let failures = support::differences_from_redis(&redis, scenarios, flush, run);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn writes_changing_nothing_touch_watched_keys_as_in_redis() {
    compare("the WATCH comparisons are", NO_CHANGE_WATCH);
}
