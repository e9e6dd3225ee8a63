//! Command-level tests of the sorted-set family: a command line in, its
//! raw reply out, against an in-memory keyspace. They check what the
//! differential suite cannot see (encodings, keyspace hit/miss counters,
//! TTLs of stored results) and a few replies in both protocols.

use crate::cmd::test_harness::{Harness, NOW};
use crate::keyspace::{RString, Value};

fn members(n: usize, prefix: &str) -> String {
    (0..n)
        .map(|i| format!("{i} {prefix}{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn encodings_follow_redis() {
    let mut h = Harness::new();
    h.run(&format!("ZADD z {}", members(128, "m")));
    assert_eq!(h.encoding("z"), "listpack");
    h.run("ZADD z 1 m1");
    assert_eq!(h.encoding("z"), "listpack", "updates never convert");
    h.run("ZADD z 500 extra");
    assert_eq!(h.encoding("z"), "skiplist");
    h.run("ZREMRANGEBYRANK z 0 -5");
    assert_eq!(h.run("ZCARD z"), ":4\r\n");
    assert_eq!(h.encoding("z"), "skiplist", "never converts back");
    let long = "x".repeat(65);
    h.run(&format!("ZADD l 1 {long}"));
    assert_eq!(h.encoding("l"), "skiplist");
    h.run("ZADD small 1 a 2 b");
    // Stored results are compact when they fit.
    h.run("ZUNIONSTORE u 2 z small");
    assert_eq!(h.encoding("u"), "listpack");
    h.run("ZUNIONSTORE u2 2 l small");
    assert_eq!(h.encoding("u2"), "skiplist");
    h.run("ZRANGESTORE r z 0 -1");
    assert_eq!(h.encoding("r"), "listpack");
    h.run(&format!("ZADD big {}", members(200, "b")));
    h.run("ZRANGESTORE r big 0 -1");
    assert_eq!(h.encoding("r"), "skiplist");
    h.run("ZDIFFSTORE d 1 big");
    assert_eq!(h.encoding("d"), "skiplist");
    h.run("ZINTERSTORE i 2 big big");
    assert_eq!(h.encoding("i"), "skiplist");
    h.run("ZRANGESTORE r big 0 9");
    assert_eq!(h.encoding("r"), "listpack");
}

#[test]
fn limits_come_from_the_configuration() {
    let mut h = Harness::new();
    h.set_config("zset-max-listpack-entries", "2");
    h.run("ZADD z 1 a 2 b");
    assert_eq!(h.encoding("z"), "listpack");
    h.run("ZADD z 3 c");
    assert_eq!(h.encoding("z"), "skiplist");
    h.set_config("zset-max-listpack-entries", "0");
    h.run("ZADD y 1 a");
    assert_eq!(h.encoding("y"), "skiplist");
    h.set_config("zset-max-listpack-entries", "128");
    h.set_config("zset-max-listpack-value", "3");
    h.run("ZADD w 1 abcd");
    assert_eq!(h.encoding("w"), "skiplist");
    h.run("ZADD v 1 abc");
    assert_eq!(h.encoding("v"), "listpack");
}

#[test]
fn scores_print_per_encoding() {
    let mut h = Harness::new();
    h.run("ZADD lp -0 a 1e17 b 2.5 c");
    assert_eq!(h.run("ZSCORE lp a"), "$1\r\n0\r\n");
    assert_eq!(h.run("ZADD lp INCR -0 n"), "$2\r\n-0\r\n");
    assert_eq!(
        h.run("ZSCAN lp 0"),
        "*2\r\n$1\r\n0\r\n*8\r\n$1\r\na\r\n$1\r\n0\r\n$1\r\nn\r\n$1\r\n0\r\n$1\r\nc\r\n$3\r\n2.5\r\n$1\r\nb\r\n$18\r\n100000000000000000\r\n"
    );
    h.set_config("zset-max-listpack-entries", "0");
    h.run("ZADD sl -0 a 1e17 b");
    assert_eq!(h.run("ZSCORE sl a"), "$2\r\n-0\r\n");
    let scan = h.run("ZSCAN sl 0");
    assert!(
        scan.contains("$5\r\n1e+17\r\n") && scan.contains("$2\r\n-0\r\n"),
        "{scan}"
    );
}

#[test]
fn keyspace_hits_and_misses_count_reads_only() {
    let mut h = Harness::new();
    h.run("ZADD z 1 a");
    let counted: &[(&str, (u64, u64))] = &[
        ("ZSCORE z a", (1, 0)),
        ("ZSCORE nosuch a", (0, 1)),
        ("ZMSCORE z a b", (1, 0)),
        ("ZRANGE z 0 -1", (1, 0)),
        ("ZRANK nosuch a", (0, 1)),
        ("ZCARD z", (1, 0)),
        ("ZSCAN z 0", (1, 0)),
        ("ZRANDMEMBER nosuch", (0, 1)),
        ("ZUNION 3 z nosuch z", (2, 1)),
        ("ZUNIONSTORE d 2 z nosuch", (1, 1)),
        ("ZRANGESTORE d2 z 0 -1", (1, 0)),
        ("ZADD z 2 b", (0, 0)),
        ("ZINCRBY z 1 a", (0, 0)),
        ("ZREM z nosuch", (0, 0)),
        ("ZPOPMIN nosuch", (0, 0)),
        ("ZMPOP 1 nosuch MIN", (0, 0)),
        ("ZREMRANGEBYRANK nosuch 0 1", (0, 0)),
    ];
    h.assert_hits_misses(counted);
}

#[test]
fn stored_results_replace_the_destination_and_its_ttl() {
    let mut h = Harness::new();
    h.run("ZADD z 1 a");
    h.keyspace
        .db(0)
        .set(b"d", Value::Str(RString::from_client(b"v")), false, 0);
    h.keyspace.db(0).set_expire(b"d", Some(NOW + 10_000), NOW);
    assert_eq!(h.run("ZUNIONSTORE d 1 z"), ":1\r\n");
    assert_eq!(h.run("ZRANGE d 0 -1"), "*1\r\n$1\r\na\r\n");
    assert_eq!(
        h.keyspace.db(0).get(b"d", NOW).and_then(|e| e.expire_at()),
        None
    );
    assert_eq!(h.run("ZINTERSTORE d 2 z nosuch"), ":0\r\n");
    assert_eq!(h.encoding("d"), "none");
}

#[test]
fn emptied_sets_are_deleted() {
    let mut h = Harness::new();
    for (setup, empty) in [
        ("ZADD z 1 a", "ZREM z a"),
        ("ZADD z 1 a", "ZPOPMAX z 5"),
        ("ZADD z 1 a", "ZMPOP 1 z MIN"),
        ("ZADD z 1 a", "ZREMRANGEBYSCORE z -inf +inf"),
        ("ZADD z 1 a", "ZREMRANGEBYLEX z - +"),
        ("ZADD z 1 a", "ZREMRANGEBYRANK z 0 0"),
    ] {
        h.run(setup);
        h.run(empty);
        assert_eq!(h.encoding("z"), "none", "{empty}");
    }
    assert_eq!(h.run("ZADD z XX 1 a"), ":0\r\n");
    assert_eq!(h.encoding("z"), "none");
}

#[test]
fn resp3_shapes() {
    let mut h = Harness::new();
    h.resp3 = true;
    h.run("ZADD z 1 a 2.5 b");
    assert_eq!(h.run("ZSCORE z b"), ",2.5\r\n");
    assert_eq!(h.run("ZSCORE z nosuch"), "_\r\n");
    assert_eq!(
        h.run("ZRANGE z 0 -1 WITHSCORES"),
        "*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n"
    );
    assert_eq!(h.run("ZPOPMIN z"), "*2\r\n$1\r\na\r\n,1\r\n");
    assert_eq!(h.run("ZPOPMIN z 1"), "*1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n");
    assert_eq!(h.run("ZMPOP 1 z MIN"), "_\r\n");
    assert_eq!(h.run("ZADD z INCR inf x"), ",inf\r\n");
}

#[test]
fn hostile_arguments_do_not_panic() {
    let mut h = Harness::new();
    h.run(&format!("ZADD z {}", members(300, "m")));
    for line in [
        "ZRANGE z -9223372036854775808 9223372036854775807",
        "ZRANGEBYSCORE z -inf +inf LIMIT 9223372036854775807 9223372036854775807",
        "ZRANGEBYSCORE z -inf +inf LIMIT -9223372036854775808 -9223372036854775808",
        "ZREVRANGEBYLEX z + - LIMIT 5 -1",
        "ZREMRANGEBYRANK z 9223372036854775807 -9223372036854775808",
        "ZUNION 9223372036854775807 z",
        "ZMPOP 9223372036854775807 z MIN",
        "ZMPOP 1 z MIN COUNT 9223372036854775807",
        "ZRANDMEMBER z -9223372036854775808",
        "ZRANDMEMBER z 9223372036854775807 WITHSCORES",
        "ZRANDMEMBER z 4611686018427387903",
        "ZSCAN z 18446744073709551615 COUNT 9223372036854775807",
        "ZPOPMIN z 9223372036854775807",
        "ZINTERCARD 1 z LIMIT 9223372036854775807",
    ] {
        assert!(!h.run(line).is_empty(), "{line}");
    }
    assert_eq!(h.encoding("z"), "none");
}

#[test]
fn writes_in_place_keep_the_ttl() {
    let mut h = Harness::new();
    h.run("ZADD z 1 a 2 b 3 c 4 d 5 e");
    h.keyspace.db(0).set_expire(b"z", Some(NOW + 10_000), NOW);
    for line in [
        "ZADD z 9 f",
        "ZINCRBY z 1 a",
        "ZREM z b",
        "ZPOPMIN z",
        "ZMPOP 1 z MAX",
        "ZREMRANGEBYRANK z 0 0",
        "ZRANGESTORE z z 0 -1",
    ] {
        let ttl = h.keyspace.db(0).get(b"z", NOW).and_then(|e| e.expire_at());
        assert_eq!(ttl, Some(NOW + 10_000), "before {line}");
        h.run(line);
    }
    // ZRANGESTORE replaced the value and its TTL, as Redis's setKey does.
    assert_eq!(
        h.keyspace.db(0).get(b"z", NOW).and_then(|e| e.expire_at()),
        None
    );
}
