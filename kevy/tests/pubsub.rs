//! Pub/Sub with several connections, compared with redis-server: the same
//! steps (publishers and subscribers on their own connections) run against
//! redis-server and kevy (`--threads 1` and `4`); every byte each
//! connection receives must be identical. Skipped, with a notice, when
//! redis-server is not installed. Load and output limits are tested in
//! `pubsub_load.rs`.

#[path = "support/quiet_conn.rs"]
mod quiet_conn;
mod support;

use quiet_conn::Raw;

use std::time::Duration;

use support::{like_redis, ServerProcess};

fn redis_server() -> Option<ServerProcess> {
    support::redis_server_or_skip("the Pub/Sub differential tests are")
}

fn kevy(threads: usize) -> ServerProcess {
    support::kevy(threads)
}

/// One step of a scenario: connection `conn` sends commands, then every
/// connection's received bytes are collected (compared unless `setup`).
struct Step {
    conn: usize,
    commands: &'static [&'static [&'static str]],
    setup: bool,
}

const fn step(conn: usize, commands: &'static [&'static [&'static str]]) -> Step {
    Step {
        conn,
        commands,
        setup: false,
    }
}

const fn setup(conn: usize, commands: &'static [&'static [&'static str]]) -> Step {
    Step {
        conn,
        commands,
        setup: true,
    }
}

/// Runs a scenario on `port`, returning what each connection received at
/// each step.
fn run_scenario(port: u16, conns: usize, steps: &[Step]) -> Vec<Vec<Vec<u8>>> {
    let mut raws: Vec<Raw> = (0..conns).map(|_| Raw::connect(port)).collect();
    let mut seen = Vec::new();
    for step in steps {
        for command in step.commands {
            raws[step.conn].send(command);
        }
        let received: Vec<Vec<u8>> = raws
            .iter_mut()
            // Generous: a loaded machine may be slow to answer.
            .map(|r| r.drain(Duration::from_millis(150)))
            .collect();
        seen.push(if step.setup { Vec::new() } else { received });
    }
    seen
}

fn compare(name: &str, conns: usize, steps: &[Step]) {
    let Some(redis) = redis_server() else {
        return;
    };
    let expected = run_scenario(redis.port, conns, steps);
    for threads in [1, 4] {
        let server = kevy(threads);
        let actual = like_redis(&expected, || {
            // A repeated run starts from an empty server, as the first did.
            let mut admin = Raw::connect(server.port);
            admin.send(&["FLUSHALL"]);
            admin.drain(Duration::from_millis(50));
            admin.send(&["CONFIG", "SET", "notify-keyspace-events", ""]);
            admin.drain(Duration::from_millis(50));
            run_scenario(server.port, conns, steps)
        });
        for (index, (want, got)) in expected.iter().zip(&actual).enumerate() {
            for (conn, (w, g)) in want.iter().zip(got).enumerate() {
                assert_eq!(
                    String::from_utf8_lossy(w),
                    String::from_utf8_lossy(g),
                    "{name}, --threads {threads}, step {index}, connection {conn}"
                );
            }
        }
    }
}

#[test]
fn publish_reaches_channel_pattern_and_shard_subscribers() {
    compare(
        "channels",
        3,
        &[
            step(0, &[&["SUBSCRIBE", "news", "sport"], &["PSUBSCRIBE", "n*"]]),
            step(
                1,
                &[&["SSUBSCRIBE", "{t}a", "{u}b"], &["SUBSCRIBE", "news"]],
            ),
            step(
                2,
                &[
                    &["PUBLISH", "news", "one"],
                    &["PUBLISH", "sport", "two"],
                    &["PUBLISH", "nothing", "three"],
                    &["PUBLISH", "other", "four"],
                    &["SPUBLISH", "{t}a", "five"],
                    &["SPUBLISH", "{u}b", "six"],
                    &["SPUBLISH", "news", "seven"],
                    &["PUBSUB", "NUMSUB", "news", "sport", "n*", "none"],
                    &["PUBSUB", "SHARDNUMSUB", "{t}a", "{u}b", "news"],
                    &["PUBSUB", "NUMPAT"],
                ],
            ),
            step(0, &[&["UNSUBSCRIBE", "news"], &["PING", "still"]]),
            step(
                2,
                &[&["PUBLISH", "news", "eight"], &["PUBLISH", "sport", "nine"]],
            ),
            step(0, &[&["PUNSUBSCRIBE"], &["UNSUBSCRIBE"], &["PING"]]),
            step(1, &[&["RESET"]]),
            step(
                2,
                &[
                    &["PUBLISH", "news", "ten"],
                    &["SPUBLISH", "{t}a", "eleven"],
                    &["PUBSUB", "NUMSUB", "news", "sport"],
                    &["PUBSUB", "NUMPAT"],
                    &["PUBSUB", "CHANNELS"],
                    &["PUBSUB", "SHARDCHANNELS"],
                ],
            ),
        ],
    );
}

#[test]
fn resp3_subscribers_get_pushes_between_their_replies() {
    compare(
        "resp3",
        2,
        &[
            setup(0, &[&["HELLO", "3"]]),
            step(
                0,
                &[
                    &["SUBSCRIBE", "news"],
                    &["PSUBSCRIBE", "ne*"],
                    &["SSUBSCRIBE", "{x}s"],
                    &["SET", "k1", "v"],
                ],
            ),
            step(
                1,
                &[
                    &["PUBLISH", "news", "one"],
                    &["SPUBLISH", "{x}s", "two"],
                    &["PUBLISH", "newt", "three"],
                ],
            ),
            // Replies from other shards and messages, pipelined together.
            step(
                0,
                &[
                    &["GET", "k1"],
                    &["GET", "k2"],
                    &["MGET", "k1", "k2", "k3"],
                    &["PUBLISH", "news", "self"],
                    &["PING"],
                ],
            ),
            step(1, &[&["PUBLISH", "news", "four"]]),
            step(0, &[&["UNSUBSCRIBE"], &["PUNSUBSCRIBE"], &["SUNSUBSCRIBE"]]),
            step(1, &[&["PUBLISH", "news", "five"]]),
        ],
    );
}

#[test]
fn subscribed_mode_refuses_other_commands() {
    compare(
        "subscribed mode",
        2,
        &[
            step(0, &[&["SUBSCRIBE", "a"]]),
            step(
                0,
                &[
                    &["GET", "k"],
                    &["PUBLISH", "a", "x"],
                    &["PUBSUB", "NUMSUB", "a"],
                    &["PUBSUB", "nosuch"],
                    &["PING"],
                    &["PING", "x"],
                ],
            ),
            step(
                1,
                &[&["PUBLISH", "a", "from-1"], &["PUBSUB", "NUMSUB", "a"]],
            ),
            step(0, &[&["QUIT"]]),
            step(1, &[&["PUBLISH", "a", "gone"], &["PUBSUB", "NUMSUB", "a"]]),
        ],
    );
}

#[test]
fn keyspace_notifications_for_generic_and_string_commands() {
    // Keys share one hash tag: events raised on one shard keep their order
    // (events of keys on different shards may interleave differently).
    compare(
        "keyspace notifications",
        2,
        &[
            step(
                0,
                &[
                    &["CONFIG", "SET", "notify-keyspace-events", "KEA"],
                    &["CONFIG", "GET", "notify-keyspace-events"],
                    &["CONFIG", "SET", "notify-keyspace-events", "Kx"],
                    &["CONFIG", "GET", "notify-keyspace-events"],
                    &["CONFIG", "SET", "notify-keyspace-events", "bad"],
                    &["CONFIG", "GET", "notify-keyspace-events"],
                    &["CONFIG", "SET", "notify-keyspace-events", "Eg$lshzxetdK"],
                    &["CONFIG", "GET", "notify-keyspace-events"],
                ],
            ),
            step(1, &[&["PSUBSCRIBE", "__key*"]]),
            step(
                0,
                &[
                    &["SET", "{t}a", "1"],
                    &["SET", "{t}b", "2", "EX", "100"],
                    &["DEL", "{t}a", "{t}b", "{t}c"],
                    &["SET", "{t}a", "1"],
                    &["EXPIRE", "{t}a", "100"],
                    &["PERSIST", "{t}a"],
                    &["PERSIST", "{t}a"],
                    &["INCR", "{t}a"],
                    &["INCRBYFLOAT", "{t}a", "1.5"],
                    &["APPEND", "{t}a", "x"],
                    &["SETRANGE", "{t}a", "0", "y"],
                    &["RENAME", "{t}a", "{t}b"],
                    &["RENAMENX", "{t}b", "{t}b"],
                    &["MSET", "{t}k1", "1", "{t}k2", "2"],
                    &["SETEX", "{t}s", "10", "v"],
                    &["GETDEL", "{t}s"],
                    &["GETEX", "{t}k1", "EX", "10"],
                    &["GETEX", "{t}k1", "PERSIST"],
                    &["EXPIRE", "{t}k1", "-1"],
                    &["COPY", "{t}k2", "{t}c"],
                    &["UNLINK", "{t}k2", "{t}c"],
                    &["SETNX", "{t}k2", "v"],
                    &["SETNX", "{t}k2", "v"],
                    &["SET", "{t}q", "v", "NX"],
                    &["SET", "{t}q", "v", "NX"],
                    &["PEXPIRE", "{t}q", "0"],
                ],
            ),
            step(
                0,
                &[
                    &["INCRBY", "{t}n", "0"],
                    &["DECR", "{t}n"],
                    &["LPUSH", "{t}l", "a", "b"],
                    &["RPUSH", "{t}l", "c"],
                    &["LPUSHX", "{t}none", "a"],
                    &["LSET", "{t}l", "0", "z"],
                    &["LINSERT", "{t}l", "BEFORE", "nothere", "x"],
                    &["LINSERT", "{t}l", "BEFORE", "z", "x"],
                    &["LREM", "{t}l", "0", "nothere"],
                    &["LTRIM", "{t}l", "0", "1"],
                    &["LPOP", "{t}l"],
                    &["RPOP", "{t}l"],
                    &["RPOP", "{t}l"],
                    &["HSET", "{t}h", "f", "1", "g", "2"],
                    &["HSET", "{t}h", "f", "3"],
                    &["HSETNX", "{t}h", "f", "4"],
                    &["HINCRBY", "{t}h", "n", "0"],
                    &["HINCRBYFLOAT", "{t}h", "n", "1.5"],
                    &["HDEL", "{t}h", "nothere"],
                    &["HDEL", "{t}h", "f", "g", "n"],
                    &["SADD", "{t}s", "a", "b"],
                    &["SADD", "{t}s", "a"],
                    &["SREM", "{t}s", "nothere"],
                    &["SREM", "{t}s", "a"],
                    &["SPOP", "{t}s"],
                    &["ZADD", "{t}z", "1", "a", "2", "b"],
                    &["ZADD", "{t}z", "5", "a"],
                    &["ZINCRBY", "{t}z", "1", "b"],
                    &["ZREM", "{t}z", "nothere"],
                    &["ZREM", "{t}z", "a", "b"],
                    &["XADD", "{t}x", "1-1", "f", "v"],
                    &["XADD", "{t}x", "1-1", "f", "v"],
                    &["XDEL", "{t}x", "1-1"],
                    &["XTRIM", "{t}x", "MAXLEN", "0"],
                    &["HSET", "{t}wrong", "f", "v"],
                    &["LPUSH", "{t}wrong", "a"],
                ],
            ),
            step(
                0,
                &[
                    &["CONFIG", "SET", "notify-keyspace-events", "Kg"],
                    &["SET", "{t}z", "1"],
                    &["DEL", "{t}z"],
                    &["CONFIG", "SET", "notify-keyspace-events", "E$"],
                    &["SET", "{t}z", "1"],
                    &["DEL", "{t}z"],
                    &["CONFIG", "SET", "notify-keyspace-events", ""],
                    &["SET", "{t}z", "1"],
                    &["DEL", "{t}z"],
                ],
            ),
        ],
    );
}
