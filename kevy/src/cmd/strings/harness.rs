//! Command-level tests of the string and bitmap families: a command line in,
//! its raw reply out, run against an in-memory keyspace with a fixed clock.
//!
//! They check what the differential suite cannot see yet (encodings as
//! `OBJECT ENCODING` reports them, TTLs, keyspace hit/miss counters, a
//! lowered `proto-max-bulk-len`), so they look at the keyspace directly.

use crate::cmd::{errors, lookup, ExecCtx, Handler};
use crate::config::Config;
use crate::keyspace::{Entry, Keyspace, Value};
use crate::random::SplitMix64;
use crate::resp::{OwnedArgv, ReplyBuf};
use crate::shard::ShardStats;

/// One shard's keyspace and counters, driven a command at a time.
pub(in crate::cmd) struct Harness {
    pub keyspace: Keyspace,
    pub stats: ShardStats,
    pub config: Config,
    pub now_ms: u64,
    pub resp3: bool,
    rng: SplitMix64,
}

impl Harness {
    pub fn new() -> Self {
        Harness {
            keyspace: Keyspace::new(16),
            stats: ShardStats::default(),
            config: Config::default(),
            now_ms: 1_700_000_000_000,
            resp3: false,
            rng: SplitMix64::new(7),
        }
    }

    /// Runs one command (arguments split on spaces) and returns its reply.
    pub fn run(&mut self, line: &str) -> String {
        let owned = OwnedArgv::from_slices(line.split(' ').map(str::as_bytes));
        let argv = owned.argv();
        let mut out = Vec::new();
        let spec = lookup(argv.get(0)).expect("tests run known commands");
        let mut reply = ReplyBuf::new(&mut out, self.resp3);
        if !spec.arity_ok(argv.len()) {
            reply.error(&errors::wrong_args(spec.name));
        } else if let Handler::Key(handler) = spec.handler {
            let mut ctx = ExecCtx {
                keyspace: &mut self.keyspace,
                db_index: 0,
                reply,
                now_ms: self.now_ms,
                clock: 1,
                rng: &mut self.rng,
                stats: &mut self.stats,
                config: &self.config,
            };
            handler(&mut ctx, argv);
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn entry(&mut self, key: &str) -> Option<&mut Entry> {
        self.keyspace.db(0).get(key.as_bytes(), self.now_ms)
    }

    /// What `OBJECT ENCODING key` would answer.
    pub fn encoding(&mut self, key: &str) -> &'static str {
        self.entry(key).map_or("none", |e| e.value.encoding())
    }

    /// The key's absolute expiry time.
    pub fn expire_at(&mut self, key: &str) -> Option<u64> {
        self.entry(key).and_then(|e| e.expire_at)
    }

    /// The string value of `key` (None when absent or not a string).
    pub fn value(&mut self, key: &str) -> Option<Vec<u8>> {
        self.entry(key).and_then(|e| match &e.value {
            Value::Str(s) => Some(s.to_vec()),
            _ => None,
        })
    }

    /// (hits, misses) so far.
    pub fn hits_misses(&self) -> (u64, u64) {
        (self.stats.keyspace_hits, self.stats.keyspace_misses)
    }
}

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
    for (line, (hits, misses)) in counted {
        let before = h.hits_misses();
        h.run(line);
        let after = h.hits_misses();
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (*hits, *misses),
            "{line}"
        );
    }
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
