//! Command-level tests of the string and bitmap families: a command line in,
//! its raw reply out, run against an in-memory keyspace with a fixed clock.
//!
//! They check what the differential suite cannot see yet (encodings as
//! `OBJECT ENCODING` reports them, TTLs, keyspace hit/miss counters, a
//! lowered `proto-max-bulk-len`), so they look at the keyspace directly.

use crate::cmd::errors;
use crate::cmd::test_harness::Harness;

#[test]
fn encodings_follow_redis() {
    let mut h = Harness::new();
    let long = "x".repeat(45);
    let cases: &[(&str, &str, &str)] = &[
        ("SET k 123", "k", "int"),
        ("SET k 0123", "k", "embstr"),
        (&format!("SET k {long}"), "k", "raw"),
        ("SETNX n 5", "n", "int"),
        ("GETSET n abc", "n", "embstr"),
        ("MSET m1 7 m2 x", "m1", "int"),
        ("MSETNX m3 -8 m4 y", "m3", "int"),
        ("SETEX e 100 42", "e", "int"),
        ("APPEND a1 42", "a1", "int"),
        ("APPEND a1 ", "a1", "raw"),
        ("SET r 12", "r", "int"),
        ("SETRANGE r 0 ", "r", "int"),
        ("SETRANGE r 0 3", "r", "raw"),
        ("INCR r", "r", "int"),
        ("SETRANGE sr 2 ab", "sr", "raw"),
        ("SETBIT b 3 1", "b", "raw"),
        ("SET b2 1", "b2", "int"),
        ("SETBIT b2 0 0", "b2", "raw"),
        ("INCRBYFLOAT f 1.5", "f", "embstr"),
        ("INCRBYFLOAT f 1e50", "f", "raw"),
        ("INCRBYFLOAT g 3", "g", "embstr"),
        ("BITOP OR d k", "d", "raw"),
    ];
    for (line, key, encoding) in cases {
        h.run(line);
        assert_eq!(h.encoding(key), *encoding, "after {line}");
    }
}

#[test]
fn ttls_are_kept_or_cleared_as_in_redis() {
    let mut h = Harness::new();
    let now = h.now_ms;
    h.run("SET k 1 EX 100");
    assert_eq!(h.expire_at("k"), Some(now + 100_000));
    for keeps in [
        "INCR k",
        "INCRBY k 5",
        "DECR k",
        "INCRBYFLOAT k 0.5",
        "APPEND k x",
        "SETRANGE k 0 9",
        "SETBIT k 1 1",
        "SET k v KEEPTTL",
        "GETEX k",
    ] {
        assert!(!h.run(keeps).starts_with('-'), "{keeps}");
        assert_eq!(h.expire_at("k"), Some(now + 100_000), "after {keeps}");
    }
    for (sets, at) in [
        ("SET k v PX 5", now + 5),
        ("SET k v EXAT 1800000000", 1_800_000_000_000),
        ("SET k v PXAT 1800000000001", 1_800_000_000_001),
        ("PSETEX k 7 v", now + 7),
        ("GETEX k EX 3", now + 3000),
        ("GETEX k PXAT 1800000000002", 1_800_000_000_002),
    ] {
        h.run(sets);
        assert_eq!(h.expire_at("k"), Some(at), "after {sets}");
    }
    for clears in ["GETEX k PERSIST", "SET k v", "GETSET k w", "BITOP NOT k k"] {
        h.run("SET k 1 EX 100");
        h.run(clears);
        assert_eq!(h.expire_at("k"), None, "after {clears}");
    }
    h.run("SET k v");
    assert_eq!(h.run("GETEX k PXAT 1"), "$1\r\nv\r\n");
    assert_eq!(h.value("k"), None);
}

#[test]
fn keyspace_hits_and_misses_count_reads_only() {
    let mut h = Harness::new();
    h.run("SET a 1");
    let counted: &[(&str, (u64, u64))] = &[
        ("GET a", (1, 0)),
        ("GET nosuch", (0, 1)),
        ("MGET a nosuch a", (2, 1)),
        ("SET a 2 GET", (1, 0)),
        ("GETSET a 3", (1, 0)),
        ("GETEX a", (1, 0)),
        ("STRLEN nosuch", (0, 1)),
        ("GETRANGE a 0 1", (1, 0)),
        ("GETBIT a 0", (1, 0)),
        ("BITCOUNT a", (1, 0)),
        ("BITPOS nosuch 1", (0, 1)),
        ("LCS a nosuch", (1, 1)),
        ("BITOP OR d a nosuch", (1, 1)),
        ("GETDEL d", (1, 0)),
        ("INCR a", (0, 0)),
        ("INCRBYFLOAT a 1", (0, 0)),
        ("APPEND a 1", (0, 0)),
        ("SETRANGE a 0 1", (0, 0)),
        ("SETBIT a 0 1", (0, 0)),
        ("SET a 1 NX", (0, 0)),
        ("MSETNX a 1", (0, 0)),
    ];
    h.assert_hits_misses(counted);
}

#[test]
fn growth_is_bounded_by_proto_max_bulk_len() {
    let mut h = Harness::new();
    h.config.proto_max_bulk_len = 100;
    let too_long = format!("-{}\r\n", errors::STRING_TOO_LONG);
    assert_eq!(h.run("SETRANGE k 99 x"), ":100\r\n");
    assert_eq!(h.run("SETRANGE k 100 x"), too_long);
    assert_eq!(h.run("SETRANGE k 99 xy"), too_long);
    assert_eq!(h.run("SETRANGE new 100 x"), too_long);
    assert_eq!(h.run("SETRANGE k 500 "), ":100\r\n");
    assert_eq!(h.run("APPEND k x"), too_long);
    assert_eq!(h.run("APPEND small x"), ":1\r\n");
    let bit_offset = format!("-{}\r\n", errors::BIT_OFFSET);
    assert_eq!(h.run("SETBIT b 799 1"), ":0\r\n");
    assert_eq!(h.run("SETBIT b 800 1"), bit_offset);
    assert_eq!(h.run("GETBIT b 800"), bit_offset);
    assert_eq!(h.value("b").map(|v| v.len()), Some(100));
    // A 6 x 6 table of u32 is 144 bytes.
    h.run("SET x abcde");
    h.run("SET y abcde");
    assert_eq!(
        h.run("LCS x y"),
        "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n"
    );
    h.config.proto_max_bulk_len = 100_000;
    assert_eq!(h.run("LCS x y LEN"), ":5\r\n");
}

#[test]
fn resp3_replies() {
    let mut h = Harness::new();
    h.resp3 = true;
    h.run("SET a ohmytext");
    h.run("SET b mynewtext");
    assert_eq!(h.run("GET nosuch"), "_\r\n");
    assert_eq!(h.run("SET a x NX"), "_\r\n");
    assert_eq!(h.run("GETRANGE nosuch 0 1"), "$0\r\n\r\n");
    assert_eq!(
        h.run("LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN"),
        "%2\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n"
    );
}
