//! Command-level tests of the hash family: encodings and when they change,
//! keyspace hit/miss counters, replies at the edges, checked against what
//! redis-server 7.0.15 answers for the same commands.

use crate::cmd::set::harness::bench;

fn long(n: usize) -> String {
    "x".repeat(n)
}

#[test]
fn conversions_happen_when_redis_converts() {
    let mut b = bench();
    b.set_config("hash-max-listpack-entries", "128");
    let cases: &[(&str, &str)] = &[
        ("HSET a f v", "listpack"),
        (&format!("HSET a f {}", long(64)), "listpack"),
        (&format!("HSET a f {}", long(65)), "hashtable"),
        (&format!("HSET b f v g {}", long(65)), "hashtable"),
        // HSETNX on an existing field converts nothing.
        ("HSET c f v", "listpack"),
        (&format!("HSETNX c f {}", long(65)), "listpack"),
        (&format!("HSETNX c g {}", long(65)), "hashtable"),
        // HINCRBY and HINCRBYFLOAT convert for a long field or result.
        (&format!("HINCRBY d {} 1", long(65)), "hashtable"),
        ("HINCRBYFLOAT e f 1e60", "listpack"),
        ("HINCRBYFLOAT e f 1e70", "hashtable"),
        (&format!("HMSET g {} v", long(65)), "hashtable"),
    ];
    for (line, encoding) in cases {
        let key = &line.split(' ').nth(1).expect("a key")[..1];
        assert!(!b.run(line).starts_with('-'), "{line}");
        assert_eq!(b.encoding(key), *encoding, "after {line}");
    }
    for n in 0..128 {
        b.run(&format!("HSET n f{n} {n}"));
    }
    assert_eq!(b.encoding("n"), "listpack");
    b.run("HSET n f128 x");
    assert_eq!(b.encoding("n"), "hashtable");
    for n in 0..=128 {
        b.run(&format!("HDEL n f{n}"));
    }
    assert!(!b.exists("n"));
    b.set_config("hash-max-listpack-entries", "2");
    b.set_config("hash-max-listpack-value", "3");
    b.run("HSET m a 1 b 2");
    assert_eq!(b.encoding("m"), "listpack");
    b.run("HSET m c 3");
    assert_eq!(b.encoding("m"), "hashtable");
    b.run("HSET p abcd 1");
    assert_eq!(b.encoding("p"), "hashtable");
}

#[test]
fn listpack_replies_keep_insertion_order() {
    let mut b = bench();
    b.run("HSET h z 1 a 2 m 3");
    b.run("HSET h a 4");
    b.run("HDEL h z");
    b.run("HSET h z 5");
    assert_eq!(
        b.run("HGETALL h"),
        "*6\r\n$1\r\na\r\n$1\r\n4\r\n$1\r\nm\r\n$1\r\n3\r\n$1\r\nz\r\n$1\r\n5\r\n"
    );
    assert_eq!(b.run("HKEYS h"), "*3\r\n$1\r\na\r\n$1\r\nm\r\n$1\r\nz\r\n");
    assert_eq!(b.run("HVALS h"), "*3\r\n$1\r\n4\r\n$1\r\n3\r\n$1\r\n5\r\n");
    assert_eq!(
        b.run("HRANDFIELD h 10"),
        "*3\r\n$1\r\na\r\n$1\r\nm\r\n$1\r\nz\r\n"
    );
    assert_eq!(
        b.run("HSCAN h 123 MATCH [az]"),
        "*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n4\r\n$1\r\nz\r\n$1\r\n5\r\n"
    );
}

#[test]
fn increments_check_in_redis_order() {
    let mut b = bench();
    b.run("SET str x");
    b.run("HSET h s abc i inf n 10");
    let cases: &[(&str, &str)] = &[
        (
            "HINCRBY str f x",
            "-ERR value is not an integer or out of range",
        ),
        (
            "HINCRBY str f 1",
            "-WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
        ("HINCRBY h s 1", "-ERR hash value is not an integer"),
        (
            "HINCRBY h n 9223372036854775807",
            "-ERR increment or decrement would overflow",
        ),
        ("HINCRBY h n -5", ":5"),
        ("HINCRBYFLOAT str f x", "-ERR value is not a valid float"),
        ("HINCRBYFLOAT str f inf", "-ERR value is NaN or Infinity"),
        (
            "HINCRBYFLOAT str f 1",
            "-WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
        ("HINCRBYFLOAT h s 1", "-ERR hash value is not a float"),
        (
            "HINCRBYFLOAT h i 1",
            "-ERR increment would produce NaN or Infinity",
        ),
        ("HINCRBYFLOAT h n 0.1", "$3\r\n5.1"),
        ("HINCRBYFLOAT h new 3.0e3", "$4\r\n3000"),
        ("HINCRBYFLOAT h2 f -0.5", "$4\r\n-0.5"),
    ];
    for (line, reply) in cases {
        assert_eq!(b.run(line), format!("{reply}\r\n"), "{line}");
    }
    assert_eq!(b.run("HGET h n"), "$3\r\n5.1\r\n");
}

#[test]
fn errors_leave_no_empty_hash() {
    let mut b = bench();
    assert_eq!(
        b.run("HSET h f"),
        "-ERR wrong number of arguments for 'hset' command\r\n"
    );
    assert_eq!(
        b.run("HMSET h f v g"),
        "-ERR wrong number of arguments for 'hmset' command\r\n"
    );
    assert!(!b.exists("h"));
    assert_eq!(b.run("HDEL h f"), ":0\r\n");
    b.run("HSET h f v");
    b.set_expire_at("h", b.now_ms + 5000);
    assert_eq!(b.run("HSET h g w"), ":1\r\n");
    assert_eq!(b.expire_at("h"), Some(b.now_ms + 5000));
    assert_eq!(b.run("HDEL h f g f"), ":2\r\n");
    assert!(!b.exists("h"));
}

#[test]
fn keyspace_hits_and_misses_count_reads_only() {
    let mut b = bench();
    b.run("HSET h f v");
    let cases: &[(&str, (u64, u64))] = &[
        ("HGET h f", (1, 0)),
        ("HGET nosuch f", (0, 1)),
        ("HMGET h f g", (1, 0)),
        ("HLEN nosuch", (0, 1)),
        ("HSTRLEN h f", (1, 0)),
        ("HEXISTS h g", (1, 0)),
        ("HKEYS h", (1, 0)),
        ("HVALS h", (1, 0)),
        ("HGETALL nosuch", (0, 1)),
        ("HRANDFIELD h", (1, 0)),
        ("HRANDFIELD nosuch 2 WITHVALUES", (0, 1)),
        ("HRANDFIELD nosuch x", (0, 0)),
        ("HSCAN h 0", (1, 0)),
        ("HSCAN h x", (0, 0)),
        ("HSET h g 1", (0, 0)),
        ("HSETNX h g 1", (0, 0)),
        ("HINCRBY h g 1", (0, 0)),
        ("HINCRBYFLOAT h g 1", (0, 0)),
        ("HDEL h g", (0, 0)),
    ];
    for (line, expected) in cases {
        assert_eq!(b.hits_misses_of(line), *expected, "{line}");
    }
}

#[test]
fn random_fields_at_the_edges() {
    let mut b = bench();
    b.run("HSET h a 1 b 2 c 3");
    let cases: &[(&str, &str)] = &[
        ("HRANDFIELD h -9223372036854775808", "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
        ("HRANDFIELD h -4611686018427387904 WITHVALUES", "-ERR value is out of range"),
        ("HRANDFIELD h 4611686018427387904 WITHVALUES", "-ERR value is out of range"),
        ("HRANDFIELD h 1 WITHVALUE", "-ERR syntax error"),
        ("HRANDFIELD h 1 WITHVALUES x", "-ERR syntax error"),
        ("HRANDFIELD h x WITHVALUES", "-ERR value is not an integer or out of range"),
        ("HRANDFIELD h 0", "*0"),
        ("HRANDFIELD nosuch -3", "*0"),
        ("HRANDFIELD nosuch", "$-1"),
    ];
    for (line, reply) in cases {
        assert_eq!(b.run(line), format!("{reply}\r\n"), "{line}");
    }
    assert!(b
        .run("HRANDFIELD h -4611686018427387903 WITHVALUES")
        .starts_with("-ERR value is out of range, the reply"));
    let picks = b.run("HRANDFIELD h -5 WITHVALUES");
    assert!(picks.starts_with("*10\r\n"));
    let distinct = b.run("HRANDFIELD h 2 WITHVALUES");
    assert!(distinct.starts_with("*4\r\n"));
}

#[test]
fn big_hashes_scan_with_a_cursor() {
    let mut b = bench();
    for n in 0..600 {
        b.run(&format!("HSET h f{n} v{n}"));
    }
    let mut cursor = "0".to_string();
    let mut seen = std::collections::BTreeMap::new();
    let mut calls = 0;
    loop {
        let reply = b.run(&format!("HSCAN h {cursor} COUNT 20"));
        let lines: Vec<&str> = reply.split("\r\n").collect();
        cursor = lines[2].to_string();
        let items: Vec<&str> = lines[4..].iter().skip(1).step_by(2).copied().collect();
        for pair in items.chunks(2) {
            if let [field, value] = pair {
                seen.insert(field.to_string(), value.to_string());
            }
        }
        calls += 1;
        if cursor == "0" {
            break;
        }
    }
    assert!(calls > 10);
    assert_eq!(seen.len(), 600);
    assert_eq!(seen.get("f42").map(String::as_str), Some("v42"));
}

#[test]
fn resp3_replies() {
    let mut b = bench();
    b.resp3 = true;
    b.run("HSET h f v");
    assert_eq!(b.run("HGETALL h"), "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(b.run("HGETALL nosuch"), "%0\r\n");
    assert_eq!(b.run("HKEYS nosuch"), "*0\r\n");
    assert_eq!(b.run("HGET h g"), "_\r\n");
    assert_eq!(b.run("HMGET nosuch a"), "*1\r\n_\r\n");
    assert_eq!(
        b.run("HRANDFIELD h 1 WITHVALUES"),
        "*1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
    assert_eq!(
        b.run("HRANDFIELD h -2 WITHVALUES"),
        "*2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
}
