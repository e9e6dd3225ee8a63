//! Command-level tests of the set family: encodings, keyspace hit/miss
//! counters, replies at the edges, checked against what redis-server
//! 7.0.15 answers for the same commands.

use super::harness::bench;

fn ints(from: i64, to: i64) -> String {
    (from..=to)
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn encodings_follow_redis() {
    let mut b = bench();
    b.run("SADD i 3 1 2");
    assert_eq!(b.encoding("i"), "intset");
    assert_eq!(
        b.run("SMEMBERS i"),
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    b.run("SADD t a 1");
    assert_eq!(b.encoding("t"), "hashtable");
    b.run("SREM t a");
    assert_eq!(b.encoding("t"), "hashtable");
    b.run(&format!("SADD big {}", ints(0, 511)));
    assert_eq!(b.encoding("big"), "intset");
    b.run("SADD big 512");
    assert_eq!(b.encoding("big"), "hashtable");
    b.set_config("set-max-intset-entries", "2");
    b.run("SADD small 1 2");
    assert_eq!(b.encoding("small"), "intset");
    b.run("SADD small 3");
    assert_eq!(b.encoding("small"), "hashtable");
}

#[test]
fn stored_results_are_built_as_in_redis() {
    let mut b = bench();
    b.run("SADD s1 1 2 3");
    b.run("SADD s2 1 2 3 a");
    b.run("SADD s3 a b c 1 2 3");
    b.run("SREM s3 a b c");
    let cases = [
        ("SINTERSTORE d s2 s1", ":3\r\n", "intset"),
        ("SINTERSTORE d s2 s2", ":4\r\n", "hashtable"),
        ("SINTERSTORE d s3 s3", ":3\r\n", "intset"),
        ("SUNIONSTORE d s3", ":3\r\n", "intset"),
        ("SDIFFSTORE d s3", ":3\r\n", "intset"),
        ("SUNIONSTORE d s1 s2", ":4\r\n", "hashtable"),
    ];
    for (line, reply, encoding) in cases {
        assert_eq!(b.run(line), reply, "{line}");
        assert_eq!(b.encoding("d"), encoding, "{line}");
    }
    // SDIFF's choice of algorithm shows in the encoding of its result.
    b.run(&format!("SADD big {}", ints(0, 599)));
    b.run(&format!("SADD r12 {}", ints(0, 99)));
    b.run(&format!("SADD r1 {}", ints(0, 49)));
    b.run(&format!("SADD r2 {}", ints(50, 99)));
    assert_eq!(b.run("SDIFFSTORE e big r12"), ":500\r\n");
    assert_eq!(b.encoding("e"), "intset");
    assert_eq!(b.run("SDIFFSTORE e big r1 r2"), ":500\r\n");
    assert_eq!(b.encoding("e"), "hashtable");
}

#[test]
fn store_replaces_any_value_and_its_ttl() {
    let mut b = bench();
    b.run("SADD s 1");
    b.run("SADD d x");
    b.set_expire_at("d", b.now_ms + 10_000);
    assert_eq!(b.run("SUNIONSTORE d s"), ":1\r\n");
    assert_eq!(b.expire_at("d"), None);
    assert_eq!(b.run("SINTERSTORE d s nosuch"), ":0\r\n");
    assert!(!b.exists("d"));
    // The destination may be one of the sources.
    b.run("SADD a 1 2 3");
    b.run("SADD c 2 3 4");
    assert_eq!(b.run("SINTERSTORE a a c"), ":2\r\n");
    assert_eq!(b.run("SMEMBERS a"), "*2\r\n$1\r\n2\r\n$1\r\n3\r\n");
    assert_eq!(b.run("SDIFFSTORE a a a"), ":0\r\n");
    assert!(!b.exists("a"));
}

#[test]
fn empty_sets_are_deleted() {
    let mut b = bench();
    b.run("SADD s a b");
    assert_eq!(b.run("SREM s a b c"), ":2\r\n");
    assert!(!b.exists("s"));
    b.run("SADD s 1");
    assert_eq!(b.run("SPOP s"), "$1\r\n1\r\n");
    assert!(!b.exists("s"));
    b.run("SADD s 1 2");
    assert_eq!(b.run("SPOP s 5"), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert!(!b.exists("s"));
    b.run("SADD s 1");
    assert_eq!(b.run("SMOVE s t 1"), ":1\r\n");
    assert!(!b.exists("s"));
    assert_eq!(b.encoding("t"), "intset");
    assert_eq!(b.run("SMOVE t t 1"), ":1\r\n");
    assert_eq!(b.run("SMOVE t t 2"), ":0\r\n");
}

#[test]
fn keyspace_hits_and_misses_count_reads_only() {
    let mut b = bench();
    b.run("SADD a 1 2 3");
    b.run("SET str x");
    let cases: &[(&str, (u64, u64))] = &[
        ("SCARD a", (1, 0)),
        ("SCARD nosuch", (0, 1)),
        ("SISMEMBER a 1", (1, 0)),
        ("SMISMEMBER nosuch 1 2", (0, 1)),
        ("SMEMBERS a", (1, 0)),
        ("SRANDMEMBER a", (1, 0)),
        ("SRANDMEMBER nosuch 3", (0, 1)),
        ("SSCAN a 0", (1, 0)),
        ("SINTER a nosuch a", (2, 1)),
        ("SINTER nosuch str a", (1, 1)),
        ("SINTERCARD 2 a nosuch", (1, 1)),
        ("SUNION a nosuch", (1, 1)),
        ("SDIFF a a", (2, 0)),
        ("SINTERSTORE d a nosuch", (0, 0)),
        ("SUNIONSTORE d a nosuch", (0, 0)),
        ("SDIFFSTORE d a nosuch", (0, 0)),
        ("SADD a 4", (0, 0)),
        ("SREM a 4", (0, 0)),
        ("SMOVE a b 1", (0, 0)),
        ("SPOP a 1", (0, 0)),
        // Popping everything replies through SUNION, which counts a hit.
        ("SPOP a 10", (1, 0)),
    ];
    for (line, expected) in cases {
        assert_eq!(b.hits_misses_of(line), *expected, "{line}");
    }
}

#[test]
fn operands_are_put_back_after_errors() {
    let mut b = bench();
    b.run("SADD a 1 2");
    b.run("SADD c 2");
    b.run("SET str x");
    let wrongtype = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    assert_eq!(b.run("SINTER a c str"), wrongtype);
    assert_eq!(b.run("SUNIONSTORE d a str"), wrongtype);
    assert_eq!(b.run("SINTER a a c"), "~1\r\n$1\r\n2\r\n".replace('~', "*"));
    assert_eq!(b.run("SCARD a"), ":2\r\n");
    assert_eq!(b.run("SCARD c"), ":1\r\n");
}

#[test]
fn random_counts_at_the_edges() {
    let mut b = bench();
    b.run("SADD s 1 2 3");
    let out_of_range = "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n";
    assert_eq!(b.run("SRANDMEMBER s -9223372036854775808"), out_of_range);
    assert_eq!(
        b.run("SRANDMEMBER nosuch -9223372036854775808"),
        out_of_range
    );
    assert!(b
        .run("SRANDMEMBER s -9223372036854775807")
        .starts_with("-ERR value is out of range, the reply"));
    assert_eq!(
        b.run("SRANDMEMBER s -2").len(),
        "*2\r\n$1\r\n1\r\n$1\r\n1\r\n".len()
    );
    assert_eq!(b.run("SRANDMEMBER s 0"), "*0\r\n");
    assert_eq!(
        b.run("SRANDMEMBER s 9223372036854775807"),
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    let two = b.run("SRANDMEMBER s 2");
    assert!(two.starts_with("*2\r\n"));
    assert_ne!(two[4..11], two[11..]);
    assert_eq!(
        b.run("SPOP s -1"),
        "-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(b.run("SPOP s 0"), "*0\r\n");
    assert_eq!(b.run("SPOP s 1 2"), "-ERR syntax error\r\n");
    assert!(b.run("SPOP s 2").starts_with("*2\r\n"));
    assert_eq!(b.run("SCARD s"), ":1\r\n");
}

#[test]
fn replies_to_negative_counts_stay_within_proto_max_bulk_len() {
    let mut b = bench();
    b.config.proto_max_bulk_len = 100;
    b.run(&format!("SADD s {}", "m".repeat(50)));
    let too_large = "-ERR value is out of range, the reply would exceed proto-max-bulk-len\r\n";
    assert!(b.run("SRANDMEMBER s -1").starts_with("*1\r\n$50\r\n"));
    assert_eq!(b.run("SRANDMEMBER s -2"), too_large);
    assert_eq!(b.run("SRANDMEMBER s -17"), too_large);
    b.run(&format!("HSET h f {}", "v".repeat(30)));
    assert!(b.run("HRANDFIELD h -2 WITHVALUES").starts_with("*4\r\n"));
    assert_eq!(b.run("HRANDFIELD h -3 WITHVALUES"), too_large);
    assert_eq!(b.run("HRANDFIELD h -9 WITHVALUES"), too_large);
}

#[test]
fn big_sets_pop_and_sample_without_repeats() {
    let mut b = bench();
    b.run(&format!("SADD s {}", ints(0, 999)));
    for line in ["SRANDMEMBER s 700", "SRANDMEMBER s 10", "SPOP s 700"] {
        let reply = b.run(line);
        let mut members: Vec<&str> = reply.split("\r\n").skip(2).step_by(2).collect();
        members.pop();
        let count = members.len();
        members.sort();
        members.dedup();
        assert_eq!(members.len(), count, "{line}");
    }
    assert_eq!(b.run("SCARD s"), ":300\r\n");
}

#[test]
fn scans_walk_big_sets_with_a_cursor() {
    let mut b = bench();
    b.run(&format!("SADD s {}", ints(0, 999)));
    let mut cursor = "0".to_string();
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let reply = b.run(&format!("SSCAN s {cursor} COUNT 50 MATCH *7*"));
        let lines: Vec<&str> = reply.split("\r\n").collect();
        cursor = lines[2].to_string();
        seen.extend(lines[4..].iter().skip(1).step_by(2).map(|s| s.to_string()));
        if cursor == "0" {
            break;
        }
    }
    seen.remove("");
    let expected: std::collections::BTreeSet<String> = (0..1000)
        .map(|n: i32| n.to_string())
        .filter(|s| s.contains('7'))
        .collect();
    assert_eq!(seen, expected);
}

#[test]
fn resp3_replies() {
    let mut b = bench();
    b.resp3 = true;
    b.run("SADD s 1 2");
    assert_eq!(b.run("SMEMBERS s"), "~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(b.run("SMEMBERS nosuch"), "~0\r\n");
    assert_eq!(b.run("SRANDMEMBER nosuch"), "_\r\n");
    assert_eq!(b.run("SRANDMEMBER s 5"), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(b.run("SPOP nosuch 2"), "~0\r\n");
    assert_eq!(b.run("SMISMEMBER s 1 3"), "*2\r\n:1\r\n:0\r\n");
    assert_eq!(b.run("SINTERCARD 1 s"), ":2\r\n");
}
