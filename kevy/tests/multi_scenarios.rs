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

#[path = "multi_scenarios/no_change_watch.rs"]
mod no_change_watch;
use no_change_watch::NO_CHANGE_WATCH;

/// Commands gathering from every shard inside `MULTI`, and `PUBLISH`
/// delivering at `EXEC`.
const GATHERING_IN_MULTI: &[Scenario] = &[
    &[
        "A SET a 1",
        "A SET b 2",
        "A MULTI",
        "A DBSIZE",
        "A SET c 3",
        "A DBSIZE",
        "A DEL a",
        "A DBSIZE",
        "A EXEC",
    ],
    &[
        "A MULTI",
        "A SET a 1",
        "A SET b 2",
        "A FLUSHALL",
        "A SET c 3",
        "A GET a",
        "A DBSIZE",
        "A EXEC",
        "A DBSIZE",
        "A GET c",
    ],
    &[
        "A SELECT 2",
        "A SET x 1",
        "A SELECT 0",
        "A MULTI",
        "A SET a 1",
        "A FLUSHDB",
        "A SET b 2",
        "A KEYS *",
        "A SELECT 2",
        "A DBSIZE",
        "A FLUSHDB ASYNC",
        "A DBSIZE",
        "A EXEC",
        "A DBSIZE",
        "A SELECT 0",
        "A DBSIZE",
    ],
    &[
        "A SET a 1",
        "A MULTI",
        "A SWAPDB 0 1",
        "A GET a",
        "A SET b 2",
        "A SELECT 1",
        "A GET a",
        "A GET b",
        "A SWAPDB 0 1",
        "A GET b",
        "A EXEC",
        "A GET a",
        "A GET b",
    ],
    &[
        "A MULTI",
        "A SET onlykey v",
        "A RANDOMKEY",
        "A KEYS *",
        "A KEYS nomatch*",
        "A DEL onlykey",
        "A RANDOMKEY",
        "A DBSIZE",
        "A EXEC",
    ],
    &[
        "A MULTI",
        "A SET k v",
        "A SCAN notanumber",
        "A EXEC",
        "A GET k",
    ],
    &[
        "S SUBSCRIBE ch",
        "A MULTI",
        "A SET a 1",
        "A PUBLISH ch m1",
        "A SET b 2",
        "A PUBLISH ch m2",
        "A PUBLISH nobody m3",
        "A PUBSUB NUMSUB ch nobody",
        "A EXEC",
        "!drain S",
        "A MGET a b",
    ],
    &[
        "A MULTI",
        "A CONFIG SET maxmemory-policy allkeys-lru",
        "A CONFIG GET maxmemory-policy",
        "A SET a 1",
        "A CONFIG SET maxmemory-policy nosuchpolicy",
        "A CLIENT KILL ADDR 1.2.3.4:5",
        "A CONFIG SET maxmemory-policy noeviction",
        "A EXEC",
        "A CONFIG GET maxmemory-policy",
    ],
    // Gathering commands pipelined after other commands, and after other
    // transactions.
    &[
        "A SET a 1",
        "A MULTI",
        "A PUBLISH ch x",
        "A DBSIZE",
        "A PUBLISH ch y",
        "A EXEC",
        "A MULTI",
        "A DBSIZE",
        "A EXEC",
    ],
];

/// `SUBSCRIBE` and friends inside `MULTI`, in RESP2 and RESP3.
const SUBSCRIBE_IN_MULTI: &[Scenario] = &[
    &[
        "A MULTI",
        "A SUBSCRIBE c1 c2",
        "A PSUBSCRIBE p*",
        "A SET k v",
        "~A PUBLISH c1 m",
        "~A EXEC",
        "B PUBLISH c1 fromb",
        "~A GET k",
        "~A PUNSUBSCRIBE",
        "~A UNSUBSCRIBE c1",
        "~A UNSUBSCRIBE c2",
        "A GET k",
    ],
    &[
        "A MULTI",
        "A SET k v",
        "A SSUBSCRIBE s1",
        "A SUBSCRIBE c1",
        "~A EXEC",
        "~A SPUBLISH s1 x",
        "B SPUBLISH s1 x",
        "B PUBLISH c1 y",
        "~A UNSUBSCRIBE",
        "A GET k",
    ],
    &[
        "-A HELLO 3",
        "A MULTI",
        "A SUBSCRIBE c1",
        "A SSUBSCRIBE s1",
        "A SET k v",
        "A PUBLISH c1 own",
        "~A EXEC",
        "B PUBLISH c1 fromb",
        "~A GET k",
    ],
    // Subscribed, a RESP2 client cannot start a transaction; a refused
    // `EXEC` says so as Redis does.
    &[
        "A PSUBSCRIBE p*",
        "~A MULTI",
        "~A EXEC",
        "~A PUNSUBSCRIBE",
        "A EXEC",
    ],
    &[
        "A MULTI",
        "A SUBSCRIBE c1",
        "A UNSUBSCRIBE c1",
        "A SUBSCRIBE c2",
        "A SET x 1",
        "A SET y 2",
        "A SET z 3",
        "~A EXEC",
        "~A UNSUBSCRIBE",
        "A MGET x y z",
    ],
];

/// Every reply and push that arrives until the connection stays quiet.
fn read_all(conn: &mut raw::Raw) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let value = conn.read(Duration::from_millis(150));
        if value == b"<no reply>" {
            return out;
        }
        out.extend_from_slice(&value);
    }
}

/// Transactions spanning shards that move or copy keys between databases.
const OTHER_DATABASES: &[Scenario] = &[
    &[
        "A SET a 1",
        "A MULTI",
        "A MOVE a 1",
        "A SET b 2",
        "A EXEC",
        "A GET a",
        "A SELECT 1",
        "A GET a",
    ],
    &[
        "A SET a 1",
        "A SELECT 1",
        "A SET a old",
        "A SELECT 0",
        "A MULTI",
        "A MOVE a 1",
        "A COPY a z DB 2",
        "A SET b 2",
        "A EXEC",
        "A SELECT 1",
        "A GET a",
        "A SELECT 2",
        "A GET z",
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
        // `~A`: read everything that arrives; `-A`: send, read, record nothing.
        let (mode, step) = match step.split_at(1) {
            ("~", rest) => ('~', rest),
            ("-", rest) => ('-', rest),
            _ => (' ', *step),
        };
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
            if mode == '~' {
                read_all(&mut conns[conn])
            } else {
                conns[conn].read(Duration::from_secs(5))
            }
        };
        if mode == '-' {
            continue;
        }
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

#[test]
fn transactions_moving_keys_between_databases_as_in_redis() {
    compare("the MULTI comparisons are", OTHER_DATABASES);
}

#[test]
fn gathering_commands_inside_multi_as_in_redis() {
    compare("the MULTI comparisons are", GATHERING_IN_MULTI);
}

#[test]
fn subscribing_inside_multi_as_in_redis() {
    compare("the MULTI comparisons are", SUBSCRIBE_IN_MULTI);
}

/// Replies that differ run to run (`INFO`, `CLIENT LIST`) keep their place
/// in the `EXEC` array among the others, on one and several shards.
#[test]
fn info_and_client_list_inside_multi_take_their_place() {
    for shards in [1, 4] {
        let server = support::kevy(shards);
        let mut client = support::Client::connect(server.port);
        for command in [
            &["MULTI"][..],
            &["SET", "a", "1"],
            &["INFO", "keyspace"],
            &["SET", "b", "2"],
            &["CLIENT", "LIST"],
            &["MGET", "a", "b"],
            &["INFO", "nosuchsection"],
        ] {
            client.call(command);
        }
        let reply = client.call(&["EXEC"]);
        let items = reply.items();
        assert_eq!(items.len(), 6, "{shards} shards: {reply:?}");
        assert_eq!(items[0], support::Value::Simple("OK".into()));
        assert!(items[1].text().starts_with("# Keyspace"), "{:?}", items[1]);
        assert_eq!(items[2], support::Value::Simple("OK".into()));
        assert!(items[3].text().contains("id="), "{:?}", items[3]);
        let values: Vec<String> = items[4].items().iter().map(|v| v.text()).collect();
        assert_eq!(values, ["1", "2"]);
        assert_eq!(items[5], support::Value::Bulk(Vec::new()));
        assert_eq!(
            client.call(&["PING"]),
            support::Value::Simple("PONG".into())
        );
    }
}

/// A transaction reading every shard (`DBSIZE`, `KEYS`) sees another
/// transaction's writes to three shards all or not at all.
#[test]
fn whole_server_reads_inside_multi_are_atomic() {
    let server = support::kevy(4);
    let port = server.port;
    let writer = std::thread::spawn(move || {
        let mut client = support::Client::connect(port);
        for round in 0..300 {
            client.call(&["MULTI"]);
            if round % 2 == 0 {
                for key in ["a", "b", "c"] {
                    client.call(&["SET", key, "1"]);
                }
            } else {
                client.call(&["DEL", "a", "b", "c"]);
            }
            let reply = client.call(&["EXEC"]);
            assert!(!reply.items().is_empty(), "{reply:?}");
        }
    });
    let mut client = support::Client::connect(port);
    let mut seen = [0usize; 2];
    for _ in 0..300 {
        client.call(&["MULTI"]);
        client.call(&["DBSIZE"]);
        client.call(&["KEYS", "*"]);
        let reply = client.call(&["EXEC"]);
        let items = reply.items();
        let size = items[0].text();
        assert!(
            size == "0" || size == "3",
            "half a transaction seen: {reply:?}"
        );
        assert_eq!(items[1].items().len().to_string(), size, "{reply:?}");
        seen[usize::from(size == "3")] += 1;
    }
    writer.join().expect("the writer finished");
    eprintln!("empty {} times, full {} times", seen[0], seen[1]);
}
