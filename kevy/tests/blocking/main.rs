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

mod raw;
mod stress;
#[path = "../support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use raw::Raw;
use support::{Client, Value};

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
    // A key arriving in the database by MOVE or SWAPDB serves its waiters.
    &[
        "B RPUSH k v",
        "A SELECT 1",
        "A& BLPOP k 0",
        "B SWAPDB 0 1",
        "A<",
    ],
    &[
        "B RPUSH k v",
        "A SELECT 1",
        "A& BLPOP k 0",
        "B MOVE k 1",
        "A<",
    ],
    // One push of several elements serves several clients, in order.
    &[
        "A& BLPOP q 0",
        "C& BLPOP q 0",
        "B RPUSH q 1 2 3",
        "A<",
        "C<",
        "B LRANGE q 0 -1",
    ],
    // Databases are apart.
    &[
        "A SELECT 1",
        "A& BLPOP k 0",
        "B RPUSH k v0",
        "B SELECT 1",
        "B RPUSH k v1",
        "A<",
        "B SELECT 0",
        "B LLEN k",
    ],
    &[
        "A~ HELLO 3",
        "A& BLMPOP 0 1 l3 LEFT COUNT 2",
        "B RPUSH l3 a b c",
        "A<",
        "A BLMPOP 0.01 1 none RIGHT",
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
    // A group reader is told when its stream or its group disappears.
    &[
        "B XGROUP CREATE gd g $ MKSTREAM",
        "A& XREADGROUP GROUP g c BLOCK 0 STREAMS gd >",
        "B DEL gd",
        "A<",
    ],
    &[
        "B XGROUP CREATE gd g $ MKSTREAM",
        "A& XREADGROUP GROUP g c BLOCK 0 STREAMS gd >",
        "B XGROUP DESTROY gd g",
        "A<",
    ],
    &[
        "B XGROUP CREATE gd g $ MKSTREAM",
        "A& XREADGROUP GROUP g c BLOCK 0 STREAMS gd >",
        "B SET gd x",
        "A<",
    ],
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
    support::redis_server_or_skip("the blocking scenarios are")
}

fn flush(port: u16) {
    Client::connect(port).call(&["FLUSHALL"]);
}

#[test]
fn same_bytes_as_redis_with_several_connections() {
    let Some(redis) = redis_server() else {
        return;
    };
    let failures = support::differences_from_redis(&redis, SCENARIOS, flush, |port, steps| {
        run_scenario(port, steps)
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

pub(crate) fn blocked_clients(client: &mut Client) -> i64 {
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
    let list = control.call(&["CLIENT", "LIST"]).text();
    let line = list
        .lines()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .expect("the blocked client is listed");
    assert!(
        line.contains(" flags=b ") && line.contains(" cmd=blpop "),
        "{line}"
    );
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
