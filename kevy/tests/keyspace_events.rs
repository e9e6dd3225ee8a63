//! Keyspace notifications compared with redis-server: a subscriber listens
//! on `__key*` while another connection runs commands one at a time; after
//! each command the reply and every event the subscriber received are
//! recorded, and the transcript must equal redis-server's byte for byte,
//! on kevy `--threads 1` and `4`. Keys without a `{tag}` land on different
//! shards, so commands moving data between keys run coordinated there.
//! Skipped, with a notice, when redis-server is not installed.
//!
//! Class strings avoid `A` together with `n`: `CONFIG SET` keeps the
//! canonical text Redis prints, which drops `n` next to `A`, and kevy
//! reads its flags back from that text.

#[path = "support/quiet_conn.rs"]
mod quiet_conn;
#[path = "blocking/raw.rs"]
mod raw;
mod support;

use std::time::Duration;

/// Every class Redis 7.0 has but `A`'s `d` (modules), plus new keys.
const EVERY_CLASS: &str = "KEg$lshzxetn";

struct Scenario {
    name: &'static str,
    classes: &'static str,
    /// Run first, events not compared.
    setup: &'static [&'static str],
    /// `CMD args...` (split on spaces), or `!sleep MS`.
    steps: &'static [&'static str],
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "lists moving between keys",
        classes: EVERY_CLASS,
        setup: &[],
        steps: &[
            "RPUSH s a b c",
            "LMOVE s d LEFT RIGHT",
            "LMOVE s d RIGHT LEFT",
            "RPOPLPUSH d s",
            "LMOVE d d LEFT LEFT",
            "LMOVE s {s}x LEFT LEFT",
            "LMOVE s {s}x LEFT LEFT",
            "LMOVE nosuch d LEFT LEFT",
            "SET str 1",
            "LMOVE str d LEFT LEFT",
            "LMOVE d str LEFT LEFT",
            "RPUSH l a b c d",
            "LMPOP 2 nosuch l LEFT COUNT 2",
            "LMPOP 2 nosuch l RIGHT COUNT 5",
            "LMPOP 1 nosuch LEFT",
        ],
    },
    Scenario {
        name: "sets and sorted sets stored and moved",
        classes: EVERY_CLASS,
        setup: &[],
        steps: &[
            "SADD s1 a b",
            "SADD s2 b",
            "SMOVE s1 s2 a",
            "SMOVE s1 s2 b",
            "SMOVE s2 s2 a",
            "SMOVE nosuch s2 a",
            "SMOVE s2 s3 a",
            "SADD o1 1 2",
            "SADD o2 2 3",
            "SINTERSTORE dst o1 o2",
            "SINTERSTORE dst o1 nosuch",
            "SINTERSTORE dst o1 nosuch",
            "SUNIONSTORE dst o1 o2",
            "SDIFFSTORE dst o1 o1",
            "SDIFFSTORE dst o1 o2",
            "SINTERSTORE {o1}d o1 {o1}x",
            "ZADD z1 1 a 2 b",
            "ZADD z2 1 b",
            "ZUNIONSTORE zd 2 z1 z2",
            "ZINTERSTORE zd 2 z1 z2",
            "ZINTERSTORE zd 2 z1 nosuch",
            "ZDIFFSTORE zd 1 z1",
            "ZRANGESTORE zr z1 0 -1",
            "ZRANGESTORE zr z1 5 6",
            "SET str v",
            "SUNIONSTORE dst str",
            "SPOP o2 1",
            "SPOP o2 5",
            "SPOP o2 1",
        ],
    },
    Scenario {
        name: "renames, copies, moves, sorts and bit operations",
        classes: EVERY_CLASS,
        setup: &[],
        steps: &[
            "SET r1 v",
            "RENAME r1 r2",
            "SET r3 v",
            "RENAME r2 r3",
            "RENAME r3 r3",
            "RENAMENX r3 r4",
            "SET r5 v",
            "RENAMENX r4 r5",
            "RENAME nosuch r5",
            "COPY r4 r6",
            "COPY r4 r6",
            "COPY r4 r6 REPLACE",
            "COPY r4 r6 DB 2",
            "MOVE r6 1",
            "MOVE r6 1",
            "SELECT 1",
            "RENAME r6 r7",
            "MOVE r7 0",
            "SELECT 0",
            "RPUSH l 3 1 2",
            "SORT l STORE ls",
            "SORT nosuch STORE ls",
            "SORT l BY nosort STORE ls",
            "SORT l STORE {l}s",
            "SORT l",
            "SET b1 abc",
            "BITOP AND bd b1 b1",
            "BITOP AND bd nosuch",
            "BITOP AND bd nosuch",
            "SETBIT bits 3 1",
            "SETBIT bits 3 1",
            "SETBIT bits 100 0",
            "SETBIT bits 3 0",
        ],
    },
    Scenario {
        name: "multi-key commands spanning shards",
        classes: EVERY_CLASS,
        setup: &[],
        steps: &[
            "MSET a 1 b 2 c 3",
            "MSET a 1 a 2",
            "MSETNX a 1 x 2",
            "MSETNX x 1 y 2",
            "DEL a b nosuch c a",
            "UNLINK x y",
            "MGET a b",
            "EXISTS a b",
        ],
    },
    Scenario {
        name: "data-type edits",
        classes: EVERY_CLASS,
        setup: &[],
        steps: &[
            "SETRANGE s 0 abc",
            "SETRANGE s 0 \"\"",
            "SETRANGE none 0 \"\"",
            "APPEND s x",
            "INCRBY n 0",
            "SET k v EX 100",
            "SET k v KEEPTTL",
            "SET k v GET",
            "SET k2 v NX GET",
            "SET k2 w NX GET",
            "GETSET k3 v",
            "ZADD z 1 a 2 b 3 c 4 d 5 e 6 f",
            "ZADD z INCR 1 a",
            "ZADD z NX INCR 1 a",
            "ZINCRBY z 1 b",
            "ZPOPMIN z",
            "ZPOPMAX z 2",
            "ZPOPMIN nosuch",
            "ZREMRANGEBYSCORE z 0 0",
            "ZREMRANGEBYSCORE z 0 3",
            "ZREMRANGEBYRANK z 0 0",
            "ZREMRANGEBYLEX z - +",
            "ZADD z2 1 a",
            "ZMPOP 2 nosuch z2 MIN",
            "ZMPOP 1 z2 MAX",
            "XADD x 1-1 f v",
            "XADD x MAXLEN 1 2-1 f v",
            "XADD x MAXLEN = 5 3-1 f v",
            "XADD x NOMKSTREAM MAXLEN 0 4-1 f v",
            "XADD nosuch NOMKSTREAM * f v",
            "XTRIM x MAXLEN 0",
            "XSETID x 10-1",
            "XGROUP CREATE x g $",
            "XGROUP CREATE x g $",
            "XGROUP CREATECONSUMER x g c1",
            "XGROUP CREATECONSUMER x g c1",
            "XADD x 11-1 f v",
            "XREADGROUP GROUP g c2 COUNT 1 STREAMS x >",
            "XREADGROUP GROUP g c2 COUNT 1 STREAMS x >",
            "XCLAIM x g c3 0 11-1",
            "XAUTOCLAIM x g c4 0 0",
            "XAUTOCLAIM x g c4 0 0",
            "XGROUP DELCONSUMER x g c1",
            "XGROUP DELCONSUMER x g c1",
            "XGROUP SETID x g 0",
            "XGROUP DESTROY x g",
            "XGROUP DESTROY x g",
            "XGROUP CREATE ns g $ MKSTREAM",
            "HSET h f v",
            "HSET h f v",
            "SADD st a",
            "SADD st a",
        ],
    },
    Scenario {
        name: "transactions spanning shards",
        classes: EVERY_CLASS,
        setup: &[],
        steps: &[
            "MULTI",
            "SET a 1",
            "LPUSH b x",
            "RENAME a c",
            "LMOVE b d LEFT LEFT",
            "HSET h f v",
            "EXEC",
            "MULTI",
            "SET {t}a 1",
            "INCR {t}a",
            "DEL {t}a {t}b",
            "EXEC",
            "MULTI",
            "SELECT 3",
            "SET a 1",
            "EXPIRE a 100",
            "SET b 2",
            "SELECT 0",
            "DEL c d",
            "EXEC",
        ],
    },
    Scenario {
        name: "expired keys",
        classes: EVERY_CLASS,
        setup: &[],
        // Expiry times are long enough for the events to come during the
        // sleeps, whether the sweep or a lookup finds the keys.
        steps: &[
            "SET a v PX 150",
            "!sleep 400",
            "SET c v PX 150",
            "!sleep 400",
            "SET c w",
            "SET d v PX 150",
            "!sleep 400",
            "GET d",
        ],
    },
    Scenario {
        name: "expired events need class x",
        classes: "KEg$",
        setup: &[],
        steps: &["SET a v PX 150", "!sleep 400", "SET a w", "GET a"],
    },
    Scenario {
        name: "classes: generic and lists",
        classes: "Kgl",
        setup: &["SADD s1 a", "SADD o a"],
        steps: &[
            "RPUSH l a b",
            "LMOVE l m LEFT RIGHT",
            "LMOVE l m LEFT RIGHT",
            "SMOVE s1 s2 a",
            "SORT m STORE ms",
            "SINTERSTORE is o",
            "RENAME ms mt",
            "COPY mt mu",
            "SET str v",
        ],
    },
    Scenario {
        name: "classes: sets, sorted sets and new keys",
        classes: "Eszn",
        setup: &["SADD o a", "ZADD z 1 a"],
        steps: &[
            "SADD s1 a",
            "SMOVE s1 s2 a",
            "SINTERSTORE is o",
            "ZUNIONSTORE zu 1 z",
            "ZRANGESTORE zr z 0 -1",
            "SORT o ALPHA STORE so",
            "SET str v",
        ],
    },
    Scenario {
        name: "classes: strings and streams",
        classes: "K$t",
        setup: &["SET b v"],
        steps: &[
            "BITOP OR d b",
            "SETBIT d 1 1",
            "XADD x 1-1 f v",
            "XGROUP CREATE x g $",
            "XSETID x 5-1",
            "LPUSH l a",
        ],
    },
];

/// Splits a step into arguments (`""` is an empty argument).
fn args(step: &str) -> Vec<String> {
    step.split(' ')
        .map(|a| {
            if a == "\"\"" {
                String::new()
            } else {
                a.to_string()
            }
        })
        .collect()
}

fn run(port: u16, scenario: &Scenario) -> Vec<String> {
    let mut commands = raw::Raw::connect(port);
    let mut subscriber = quiet_conn::Raw::connect(port);
    let quiet = Duration::from_millis(40);
    for setup in ["FLUSHALL"].iter().chain(scenario.setup) {
        commands.send(&args(setup));
        commands.read(Duration::from_secs(5));
    }
    let classes = ["CONFIG", "SET", "notify-keyspace-events", scenario.classes];
    commands.send(&classes.map(String::from));
    commands.read(Duration::from_secs(5));
    subscriber.send(&["PSUBSCRIBE", "__key*"]);
    subscriber.drain(Duration::from_millis(100));
    let mut transcript = Vec::new();
    for step in scenario.steps {
        let reply = match step.strip_prefix("!sleep ") {
            Some(ms) => {
                std::thread::sleep(Duration::from_millis(ms.parse().expect("ms")));
                Vec::new()
            }
            None => {
                commands.send(&args(step));
                commands.read(Duration::from_secs(5))
            }
        };
        // `SPOP` picks at random: only its events are compared.
        let reply = if step.starts_with("SPOP") {
            Vec::new()
        } else {
            reply
        };
        let events = subscriber.drain(quiet);
        transcript.push(format!(
            "{step} => {} | {}",
            String::from_utf8_lossy(&reply).replace("\r\n", " "),
            String::from_utf8_lossy(&events)
                .replace("*4\r\n$8\r\npmessage\r\n$6\r\n__key*\r\n", "")
                .replace("\r\n", " ")
        ));
    }
    let off = ["CONFIG", "SET", "notify-keyspace-events", ""];
    commands.send(&off.map(String::from));
    commands.read(Duration::from_secs(5));
    transcript
}

/// The steps whose transcript differs, one line each side.
fn differing_steps(expected: &[String], got: &[String]) -> String {
    let mut out = String::new();
    for (want, have) in expected.iter().zip(got).filter(|(w, h)| w != h) {
        out.push_str(&format!("\n  redis: {want:?}\n  kevy:  {have:?}"));
    }
    out
}

#[test]
fn keyspace_events_same_bytes_as_redis() {
    let Some(redis) = support::redis_server_or_skip("the keyspace notification comparisons are")
    else {
        return;
    };
    let servers = [
        (support::kevy(1), "1 shard"),
        (support::kevy(4), "4 shards"),
    ];
    let mut failures = Vec::new();
    for scenario in SCENARIOS {
        let expected = run(redis.port, scenario);
        for (server, shards) in &servers {
            let got = support::like_redis(&expected, || run(server.port, scenario));
            if got != expected {
                let steps = differing_steps(&expected, &got);
                failures.push(format!("{shards}, {}:{steps}", scenario.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
