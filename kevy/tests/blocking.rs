//! Blocking commands against the real server binary.
//!
//! - Two-connection (and more) scenarios run against `redis-server` and
//!   kevy (`--threads 1` and `--threads 4`), raw replies compared byte for
//!   byte: one connection blocks, another pushes, the first reads what it
//!   was served. Keys sit on different shards and under `{tag}`s, so both
//!   the inline and the cross-shard paths run.
//! - A stress run: 20 producers and 20 consumers, each consumer blocking on
//!   3 keys of 3 different shards, 100 000 elements, every one received
//!   exactly once.
//! - Timeouts fire; `CLIENT UNBLOCK`, `CLIENT KILL` and a disconnect leave
//!   no waiter behind (`blocked_clients` back to 0, a later push stays in
//!   the list).
//!
//! Without `redis-server` installed the comparisons say so and pass (CI
//! installs it).

mod support;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kevy::slot::SlotTable;
use support::{Client, Value};

/// A connection that keeps replies as raw bytes.
struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, args: &[String]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
        self.stream.write_all(&out).expect("write");
    }

    /// One whole reply, or `<no reply>` after `wait`.
    fn read(&mut self, wait: Duration) -> Vec<u8> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(end) = value_end(&self.buf, 0) {
                return self.buf.drain(..end).collect();
            }
            if Instant::now() > deadline {
                return b"<no reply>".to_vec();
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return b"<closed>".to_vec(),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => {}
            }
        }
    }
}

/// The end of the RESP value at `pos`, or None when incomplete.
fn value_end(buf: &[u8], pos: usize) -> Option<usize> {
    let kind = *buf.get(pos)?;
    let line_end = pos + buf.get(pos..)?.windows(2).position(|w| w == b"\r\n")?;
    let after = line_end + 2;
    let count = std::str::from_utf8(&buf[pos + 1..line_end])
        .ok()
        .and_then(|s| s.parse::<i64>().ok());
    match kind {
        b'$' | b'=' | b'!' => {
            let n = count?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (end <= buf.len()).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = count?;
            let n = if kind == b'%' || kind == b'|' {
                2 * n
            } else {
                n
            };
            let mut at = after;
            for _ in 0..n.max(0) {
                at = value_end(buf, at)?;
            }
            Some(at)
        }
        _ => Some(after),
    }
}

/// Scenario steps: `A& CMD` sends on connection A without reading (it
/// blocks), `B CMD` sends on B and reads its reply, `A<` reads A's reply,
/// `!sleep MS` waits, `A~ CMD` reads a reply without comparing it. `$ID_A`
/// in a command is A's client id (read by `A CLIENT ID`).
const SCENARIOS: &[&[&str]] = &[
    // A key that already has data is served at once, first key first.
    &[
        "B RPUSH b 1",
        "B RPUSH c 2",
        "A BLPOP a b c 0",
        "A BRPOP c b 0",
    ],
    // A push to one of the watched keys (on another shard) serves it.
    &["A& BLPOP a b c 0", "B RPUSH c x y", "A<", "B LRANGE c 0 -1"],
    &[
        "A& BRPOP {t}a {t}b 0",
        "B LPUSH {t}b 1 2",
        "A<",
        "B LLEN {t}b",
    ],
    // First come, first served on one key.
    &[
        "A& BLPOP q 0",
        "C& BLPOP q 0",
        "B RPUSH q first",
        "A<",
        "B RPUSH q second",
        "C<",
        "B LLEN q",
    ],
    // Moves, within a shard and across shards (with 4 shards `src`/`dst`,
    // `s2`/`d2` and `e`/`r` live on different shards).
    &[
        "A& BLMOVE src dst LEFT RIGHT 0",
        "B RPUSH src e1 e2",
        "A<",
        "B LRANGE dst 0 -1",
        "B LRANGE src 0 -1",
    ],
    &[
        "A& BLMOVE {m}src {m}dst RIGHT LEFT 0",
        "B RPUSH {m}src e1 e2",
        "A<",
        "B LRANGE {m}dst 0 -1",
    ],
    &[
        "A& BRPOPLPUSH s2 d2 0",
        "B RPUSH s2 z",
        "A<",
        "B LRANGE d2 0 -1",
    ],
    &[
        "A& BLMPOP 0 2 a b RIGHT COUNT 2",
        "B RPUSH b 1 2 3",
        "A<",
        "B LRANGE b 0 -1",
    ],
    // Sorted sets.
    &[
        "A& BZPOPMIN z1 z2 0",
        "B ZADD z2 2 two 1 one",
        "A<",
        "B ZRANGE z2 0 -1",
    ],
    &["A& BZPOPMAX z1 z2 0", "B ZADD z1 2 two 1 one", "A<"],
    &[
        "A& BZMPOP 0 2 z1 z2 MAX COUNT 5",
        "B ZADD z2 2 two 1 one 3 three",
        "A<",
    ],
    &[
        "B ZADD z3 1 a",
        "A BZPOPMIN z0 z3 0",
        "A~ HELLO 3",
        "A BZPOPMIN z3 0.05",
        "A BZPOPMIN z0 0.05",
    ],
    // Streams: `$` is "after the last entry at the time of the call".
    &[
        "B XADD s 1-1 f v",
        "A& XREAD BLOCK 0 STREAMS s $",
        "B XADD s 2-1 g w",
        "A<",
    ],
    &[
        "A& XREAD COUNT 1 BLOCK 0 STREAMS s1 s2 0 $",
        "B XADD s2 5-5 a b",
        "A<",
    ],
    &["A XREAD BLOCK 50 STREAMS nos $"],
    &[
        "B XGROUP CREATE gs grp $ MKSTREAM",
        "A& XREADGROUP GROUP grp c1 BLOCK 0 STREAMS gs >",
        "B XADD gs 3-1 k v",
        "A<",
        "B XPENDING gs grp",
    ],
    &["A XREADGROUP GROUP nogrp c BLOCK 10 STREAMS nokey >"],
    // Timeouts and errors.
    &[
        "A BLPOP nothing 0.05",
        "A BLMOVE nothing d LEFT LEFT 0.05",
        "A BZMPOP 0.05 1 z9 MIN",
    ],
    &[
        "A BLPOP k -1",
        "A BLPOP k abc",
        "A BLPOP k inf",
        "A BLMPOP 0 0 k LEFT",
        "A BLMPOP -1 1 k LEFT",
    ],
    &[
        "A XREAD BLOCK -1 STREAMS s $",
        "A XREAD BLOCK x STREAMS s $",
    ],
    &["B SET str v", "A BLPOP nothing str 0", "A BZPOPMIN str 0"],
    // CLIENT UNBLOCK, both ways, and a pipeline behind a blocked call.
    &[
        "A CLIENT ID",
        "A& BLPOP u 0",
        "B CLIENT UNBLOCK $ID_A",
        "A<",
        "B CLIENT UNBLOCK $ID_A",
    ],
    &[
        "A CLIENT ID",
        "A& BLPOP u 0",
        "B CLIENT UNBLOCK $ID_A ERROR",
        "A<",
        "B CLIENT UNBLOCK $ID_A FOO",
    ],
    &["A& BLPOP p 0", "A& PING", "B RPUSH p 1", "A<", "A<"],
    // Several streams with data at the call: all are served at once.
    &[
        "B XADD x1 1-1 a b",
        "B XADD x2 1-1 c d",
        "A XREAD BLOCK 0 STREAMS x1 x2 x3 0 0 0",
    ],
    &[
        "B RPUSH r r1",
        "A& BLMOVE r r RIGHT LEFT 0",
        "A<",
        "A& BLMOVE e r RIGHT LEFT 0",
        "B RPUSH e 9",
        "A<",
        "B LRANGE r 0 -1",
    ],
    &[
        "A& BLPOP d d 0",
        "B RPUSH d 1",
        "A<",
        "B RPUSH m 1 2",
        "A BLMPOP 0 3 n m d LEFT COUNT 5",
    ],
    &[
        "A~ HELLO 3",
        "A BLPOP none 0.01",
        "A& BLPOP t3 0",
        "B RPUSH t3 v",
        "A<",
        "A XREAD BLOCK 10 STREAMS none $",
    ],
    &[
        "B DEL w",
        "A& BLPOP w 0",
        "B SET w str",
        "B DEL w",
        "B RPUSH w ok",
        "A<",
    ],
];

fn run_scenario(port: u16, steps: &[&str]) -> Vec<String> {
    let mut conns: Vec<Raw> = (0..3).map(|_| Raw::connect(port)).collect();
    let mut id_a = String::new();
    let mut transcript = Vec::new();
    for step in steps {
        if let Some(ms) = step.strip_prefix("!sleep ") {
            std::thread::sleep(Duration::from_millis(ms.parse().expect("ms")));
            continue;
        }
        let conn = usize::from(step.as_bytes()[0] - b'A');
        let rest = step[1..].trim_start();
        if rest == "<" {
            let reply = conns[conn].read(Duration::from_secs(5));
            transcript.push(format!("{step} => {}", String::from_utf8_lossy(&reply)));
            continue;
        }
        let (pending, command) = match rest.strip_prefix('&') {
            Some(command) => (true, command.trim_start()),
            None => (false, rest),
        };
        // `A~ CMD`: read the reply but do not compare it (HELLO's client id).
        let (ignored, command) = match command.strip_prefix('~') {
            Some(command) => (true, command.trim_start()),
            None => (false, command),
        };
        let args: Vec<String> = command
            .split_whitespace()
            .map(|w| {
                if w == "$ID_A" {
                    id_a.clone()
                } else {
                    w.to_string()
                }
            })
            .collect();
        conns[conn].send(&args);
        if pending {
            // Let the call park (and its arms reach every shard).
            std::thread::sleep(Duration::from_millis(60));
            continue;
        }
        let reply = conns[conn].read(Duration::from_secs(5));
        if command == "CLIENT ID" {
            id_a = String::from_utf8_lossy(&reply[1..reply.len() - 2]).into_owned();
            continue;
        }
        if ignored {
            continue;
        }
        transcript.push(format!("{step} => {}", String::from_utf8_lossy(&reply)));
    }
    transcript
}

fn redis_server() -> Option<support::ServerProcess> {
    let found = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        eprintln!("redis-server is not installed: blocking scenarios not compared");
        return None;
    }
    Some(support::start(
        "redis-server",
        &["--save", "", "--appendonly", "no"],
    ))
}

fn flush(port: u16) {
    Client::connect(port).call(&["FLUSHALL"]);
}

#[test]
fn same_bytes_as_redis_with_several_connections() {
    let Some(redis) = redis_server() else {
        return;
    };
    let kevy_one = support::kevy(1);
    let kevy_four = support::kevy(4);
    let mut failures = Vec::new();
    for steps in SCENARIOS {
        flush(redis.port);
        let expected = run_scenario(redis.port, steps);
        for (server, name) in [(&kevy_one, "1 shard"), (&kevy_four, "4 shards")] {
            flush(server.port);
            let got = run_scenario(server.port, steps);
            if got != expected {
                failures.push(format!(
                    "{name}: {steps:?}\n  redis: {expected:?}\n  kevy:  {got:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn blocked_clients(client: &mut Client) -> i64 {
    let info = client.call(&["INFO", "clients"]).text();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO clients has blocked_clients")
}

/// Polls until `blocked_clients` is `want` (generous bound).
fn wait_blocked(client: &mut Client, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = blocked_clients(client);
        if now == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "blocked_clients stays {now}, want {want}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn timeouts_fire() {
    let server = support::kevy(4);
    let mut client = Client::connect(server.port);
    for command in [
        &["BLPOP", "a", "b", "c", "0.1"][..],
        &["BZPOPMIN", "z", "y", "0.1"],
        &["BLMOVE", "s", "d", "LEFT", "LEFT", "0.1"],
        &["XREAD", "BLOCK", "100", "STREAMS", "x", "y", "$", "$"],
    ] {
        let started = Instant::now();
        assert_eq!(client.call(command), Value::Null, "{command:?}");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(95),
            "{command:?} took {took:?}"
        );
        assert!(took < Duration::from_secs(3), "{command:?} took {took:?}");
    }
    assert_eq!(blocked_clients(&mut client), 0);
}

#[test]
fn unblock_kill_and_disconnect_leave_no_waiter() {
    let server = support::kevy(4);
    let mut control = Client::connect(server.port);
    // CLIENT UNBLOCK.
    let mut blocked = Client::connect(server.port);
    let id = blocked.call(&["CLIENT", "ID"]).text();
    blocked.send(&["BLPOP", "k1", "k2", "k3", "0"]);
    wait_blocked(&mut control, 1);
    assert_eq!(control.call(&["CLIENT", "UNBLOCK", &id]), Value::Int(1));
    assert_eq!(blocked.read(), Some(Value::Null));
    wait_blocked(&mut control, 0);
    // CLIENT KILL.
    let mut killed = Client::connect(server.port);
    let id = killed.call(&["CLIENT", "ID"]).text();
    killed.send(&["BLPOP", "k1", "k2", "k3", "0"]);
    wait_blocked(&mut control, 1);
    assert_eq!(control.call(&["CLIENT", "KILL", "ID", &id]), Value::Int(1));
    wait_blocked(&mut control, 0);
    // Disconnect.
    let gone = Client::connect(server.port);
    let mut gone = gone;
    gone.send(&["BZPOPMIN", "z1", "z2", "0"]);
    wait_blocked(&mut control, 1);
    drop(gone);
    wait_blocked(&mut control, 0);
    // Nobody is left waiting: pushes stay where they are.
    for key in ["k1", "k2", "k3"] {
        control.call(&["RPUSH", key, "v"]);
    }
    control.call(&["ZADD", "z1", "1", "m"]);
    std::thread::sleep(Duration::from_millis(50));
    for key in ["k1", "k2", "k3"] {
        assert_eq!(control.call(&["LLEN", key]), Value::Int(1), "{key}");
    }
    assert_eq!(control.call(&["ZCARD", "z1"]), Value::Int(1));
}

const PRODUCERS: usize = 20;
const CONSUMERS: usize = 20;
const ELEMENTS: usize = 100_000;
/// Elements per push command.
const PUSH_BATCH: usize = 10;

/// `count` keys per shard of a `shards`-shard kevy, by shard.
fn keys_by_shard(shards: usize, count: usize) -> Vec<Vec<String>> {
    let table = SlotTable::new(shards);
    let mut by_shard = vec![Vec::new(); shards];
    let mut n = 0;
    while by_shard.iter().any(|keys| keys.len() < count) {
        let key = format!("stress:{n}");
        let shard = table.shard_of(key.as_bytes());
        if by_shard[shard].len() < count {
            by_shard[shard].push(key);
        }
        n += 1;
    }
    by_shard
}

#[test]
fn stress_every_element_received_exactly_once() {
    let shards = 4;
    let server = support::kevy(shards);
    let port = server.port;
    let by_shard = keys_by_shard(shards, 3);
    // Consumer i waits on one key of each of three different shards; every
    // key is watched by several consumers.
    let consumer_keys: Vec<Vec<String>> = (0..CONSUMERS)
        .map(|i| {
            (0..3)
                .map(|j| by_shard[(i + j) % shards][(i / shards + j) % 3].clone())
                .collect()
        })
        .collect();
    let watched: HashSet<String> = consumer_keys.iter().flatten().cloned().collect();
    let keys: Vec<String> = watched.into_iter().collect();
    let received = Arc::new(Mutex::new(Vec::with_capacity(ELEMENTS)));
    let count = Arc::new(AtomicUsize::new(0));
    let consumers: Vec<_> = consumer_keys
        .into_iter()
        .map(|watch| {
            let received = received.clone();
            let count = count.clone();
            std::thread::spawn(move || {
                let mut client = Client::connect(port);
                let mut mine = Vec::new();
                while count.load(Ordering::SeqCst) < ELEMENTS {
                    let reply = client.call(&["BLPOP", &watch[0], &watch[1], &watch[2], "0.2"]);
                    if let Value::Array(items) = reply {
                        mine.push(items[1].text());
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                }
                received.lock().expect("no panics holding it").extend(mine);
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let keys = keys.clone();
            std::thread::spawn(move || {
                let mut client = Client::connect(port);
                let per_producer = ELEMENTS / PRODUCERS;
                for batch in 0..per_producer / PUSH_BATCH {
                    let key = &keys[(p * 7 + batch) % keys.len()];
                    let elements: Vec<String> = (0..PUSH_BATCH)
                        .map(|i| format!("{p}:{}", batch * PUSH_BATCH + i))
                        .collect();
                    let mut args = vec!["RPUSH", key.as_str()];
                    args.extend(elements.iter().map(String::as_str));
                    client.call(&args);
                }
            })
        })
        .collect();
    for producer in producers {
        producer.join().expect("producer");
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while count.load(Ordering::SeqCst) < ELEMENTS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    for consumer in consumers {
        consumer.join().expect("consumer");
    }
    let received = received.lock().expect("consumers are done");
    let unique: HashSet<&String> = received.iter().collect();
    assert_eq!(
        unique.len(),
        received.len(),
        "an element was received twice"
    );
    assert_eq!(received.len(), ELEMENTS, "elements were lost");
    let mut control = Client::connect(port);
    for key in &keys {
        assert_eq!(control.call(&["LLEN", key]), Value::Int(0));
    }
    assert_eq!(blocked_clients(&mut control), 0);
}
