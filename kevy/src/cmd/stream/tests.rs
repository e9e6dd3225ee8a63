//! Command-level tests of the stream family with a fixed clock: the replies
//! that carry times (XPENDING idle, XINFO CONSUMERS idle, XINFO STREAM
//! FULL delivery and seen times), `*` IDs, keyspace hit/miss counters and
//! node settings — what the differential suite can only compare by type.

use crate::cmd::test_harness::Harness;

/// A RESP2 integer reply.
fn int(n: i64) -> String {
    format!(":{n}\r\n")
}

/// A RESP2 bulk string reply.
fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

#[test]
fn auto_ids_follow_the_clock_and_never_go_back() {
    let mut h = Harness::new();
    assert_eq!(h.run("XADD s * f v"), bulk("1700000000000-0"));
    assert_eq!(h.run("XADD s * f v"), bulk("1700000000000-1"));
    h.now_ms -= 5000;
    assert_eq!(h.run("XADD s * f v"), bulk("1700000000000-2"));
    h.now_ms += 6000;
    assert_eq!(h.run("XADD s * f v"), bulk("1700000001000-0"));
    assert_eq!(h.run("XADD s 1700000001000-* f v"), bulk("1700000001000-1"));
}

#[test]
fn pending_idle_times_follow_the_clock() {
    let mut h = Harness::new();
    h.setup(&["XADD s 1-1 f v", "XADD s 1-2 f v", "XGROUP CREATE s g 0"]);
    h.setup(&["XREADGROUP GROUP g alice COUNT 1 STREAMS s >"]);
    h.advance(1000);
    h.setup(&["XREADGROUP GROUP g bob STREAMS s >"]);
    h.advance(500);
    assert_eq!(
        h.run("XPENDING s g - + 10"),
        "*2\r\n*4\r\n$3\r\n1-1\r\n$5\r\nalice\r\n:1500\r\n:1\r\n\
         *4\r\n$3\r\n1-2\r\n$3\r\nbob\r\n:500\r\n:1\r\n"
    );
    assert_eq!(
        h.run("XPENDING s g IDLE 1000 - + 10 alice")
            .matches("1-1")
            .count(),
        1
    );
    assert_eq!(h.run("XPENDING s g IDLE 1501 - + 10"), "*0\r\n");
    assert_eq!(
        h.run("XPENDING s g IDLE 600 - + 10").matches("*4").count(),
        1
    );
    // A history read delivers again: time reset, count incremented.
    h.setup(&["XREADGROUP GROUP g alice STREAMS s 0"]);
    assert_eq!(
        h.run("XPENDING s g - 1-1 1"),
        "*1\r\n*4\r\n$3\r\n1-1\r\n$5\r\nalice\r\n:0\r\n:2\r\n"
    );
}

#[test]
fn consumers_are_seen_when_they_read_or_claim() {
    let mut h = Harness::new();
    h.setup(&["XADD s 1-1 f v", "XGROUP CREATE s g 0"]);
    h.setup(&["XGROUP CREATECONSUMER s g idler"]);
    h.advance(250);
    h.setup(&["XREADGROUP GROUP g reader STREAMS s >"]);
    h.advance(100);
    // Neither XPENDING nor XINFO refresh a consumer.
    h.setup(&["XPENDING s g - + 10 idler"]);
    assert_eq!(
        h.run("XINFO CONSUMERS s g"),
        "*2\r\n*6\r\n$4\r\nname\r\n$5\r\nidler\r\n$7\r\npending\r\n:0\r\n$4\r\nidle\r\n:350\r\n\
         *6\r\n$4\r\nname\r\n$6\r\nreader\r\n$7\r\npending\r\n:1\r\n$4\r\nidle\r\n:100\r\n"
    );
    // XCLAIM refreshes the claiming consumer; a claim of nothing does not.
    h.setup(&["XCLAIM s g idler 0 9-9"]);
    assert!(h.run("XINFO CONSUMERS s g").contains(":350\r\n"));
    h.setup(&["XCLAIM s g idler 0 1-1 JUSTID"]);
    assert_eq!(h.run("XINFO CONSUMERS s g").matches(":0\r\n").count(), 2);
}

#[test]
fn full_info_shows_delivery_and_seen_times() {
    let mut h = Harness::new();
    h.setup(&["XADD s 1-1 f v", "XGROUP CREATE s g 0"]);
    h.setup(&["XREADGROUP GROUP g c STREAMS s >"]);
    let at = h.now_ms;
    h.advance(42);
    let full = h.run("XINFO STREAM s FULL");
    assert!(full.contains(&format!(
        "$7\r\npending\r\n*1\r\n*4\r\n$3\r\n1-1\r\n$1\r\nc\r\n:{at}\r\n:1\r\n"
    )));
    assert!(full.contains(&format!(
        "$9\r\nseen-time\r\n:{at}\r\n$9\r\npel-count\r\n:1\r\n$7\r\npending\r\n*1\r\n*3\r\n$3\r\n1-1\r\n:{at}\r\n:1\r\n"
    )));
}

#[test]
fn claims_set_delivery_times() {
    let mut h = Harness::new();
    h.setup(&["XADD s 1-1 f v", "XGROUP CREATE s g 0"]);
    h.setup(&["XREADGROUP GROUP g c STREAMS s >"]);
    h.setup(&["XCLAIM s g d 0 1-1 IDLE 700 JUSTID"]);
    assert!(h
        .run("XPENDING s g - + 10")
        .contains("$1\r\nd\r\n:700\r\n:1\r\n"));
    // Too recent for a one-second minimum: not claimed.
    assert_eq!(h.run("XCLAIM s g e 1000 1-1 JUSTID"), "*0\r\n");
    h.advance(300);
    assert_eq!(h.run("XCLAIM s g e 1000 1-1 JUSTID"), "*1\r\n$3\r\n1-1\r\n");
    // TIME in the future means now; in the past, that time.
    let past = h.now_ms - 5000;
    h.setup(&[&format!(
        "XCLAIM s g e 0 1-1 TIME {past} RETRYCOUNT 9 JUSTID"
    )]);
    assert!(h.run("XPENDING s g - + 10").contains(":5000\r\n:9\r\n"));
    h.setup(&["XCLAIM s g e 0 1-1 TIME 99999999999999 JUSTID"]);
    assert!(h.run("XPENDING s g - + 10").contains(":0\r\n:9\r\n"));
    // XAUTOCLAIM honours the minimum idle time and resets the clock.
    h.advance(2000);
    assert_eq!(
        h.run("XAUTOCLAIM s g f 2500 0 JUSTID"),
        "*3\r\n$3\r\n0-0\r\n*0\r\n*0\r\n"
    );
    assert_eq!(
        h.run("XAUTOCLAIM s g f 2000 0"),
        "*3\r\n$3\r\n0-0\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*0\r\n"
    );
    assert!(h
        .run("XPENDING s g - + 10")
        .contains("$1\r\nf\r\n:0\r\n:10\r\n"));
}

#[test]
fn reads_count_keyspace_hits_and_misses() {
    let mut h = Harness::new();
    h.setup(&["XADD s 1-1 f v", "XGROUP CREATE s g 0"]);
    let counted: &[(&str, (u64, u64))] = &[
        ("XLEN s", (1, 0)),
        ("XLEN nosuch", (0, 1)),
        ("XRANGE s - +", (1, 0)),
        ("XREVRANGE nosuch + -", (0, 1)),
        // Two passes over the keys, as Redis's xreadCommand does.
        ("XREAD STREAMS s nosuch 0 0", (2, 2)),
        ("XREAD STREAMS s x", (1, 0)),
        ("XREADGROUP GROUP g c STREAMS s >", (2, 0)),
        ("XINFO STREAM s", (1, 0)),
        ("XINFO HELP", (0, 0)),
        ("XACK s g 1-1", (1, 0)),
        ("XPENDING nosuch g", (0, 1)),
        ("XCLAIM s g c 0 1-1", (1, 0)),
        ("XAUTOCLAIM nosuch g c 0 0 foo", (0, 1)),
        ("XADD s 2-1 f v", (0, 0)),
        ("XTRIM s MAXLEN 5", (0, 0)),
        ("XDEL s 9-9", (0, 0)),
        ("XSETID s 9-9", (0, 0)),
        ("XGROUP CREATE s g2 0", (0, 0)),
    ];
    for (line, (hits, misses)) in counted {
        let before = (h.stats.keyspace_hits, h.stats.keyspace_misses);
        h.run(line);
        let after = (h.stats.keyspace_hits, h.stats.keyspace_misses);
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (*hits, *misses),
            "{line}"
        );
    }
}

/// The handler itself never waits (the shard core parks calls that may):
/// with nothing to serve, `BLOCK` replies nil, as inside `MULTI`.
#[test]
fn block_without_anything_to_serve_replies_nil_here() {
    let mut h = Harness::new();
    h.setup(&["XADD s 1-1 f v", "XGROUP CREATE s g $"]);
    assert_eq!(h.run("XREAD BLOCK 0 STREAMS s $"), "*-1\r\n");
    assert!(h.run("XREAD BLOCK 10 STREAMS s 0").starts_with("*1\r\n"));
    assert_eq!(h.run("XREADGROUP GROUP g c BLOCK 5 STREAMS s >"), "*-1\r\n");
    assert_eq!(
        h.run("XREAD BLOCK -1 STREAMS s $"),
        "-ERR timeout is negative\r\n"
    );
    assert_eq!(h.run("XREAD STREAMS s $"), "*-1\r\n");
}

#[test]
fn node_settings_come_from_the_configuration() {
    let mut h = Harness::new();
    h.config
        .set_runtime("stream-node-max-entries", "2")
        .expect("a valid setting");
    for i in 1..=5 {
        h.setup(&[&format!("XADD s {i} f v")]);
    }
    assert!(h
        .run("XINFO STREAM s")
        .contains("radix-tree-keys\r\n:3\r\n"));
    // `~` without LIMIT deletes at most 100 entries per node size.
    assert_eq!(h.run("XTRIM s MAXLEN ~ 0"), int(5));
    h.config
        .set_runtime("stream-node-max-bytes", "1")
        .expect("a valid setting");
    h.setup(&["XADD t 1 f v", "XADD t 2 f v"]);
    assert!(h
        .run("XINFO STREAM t")
        .contains("radix-tree-keys\r\n:2\r\n"));
}

#[test]
fn resp3_replies() {
    let mut h = Harness::new();
    h.resp3 = true;
    h.setup(&["XADD s 1-1 f v", "XGROUP CREATE s g 0"]);
    assert_eq!(
        h.run("XREAD STREAMS s nosuch 0 0"),
        "%1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
    assert_eq!(h.run("XREAD STREAMS s $"), "_\r\n");
    assert_eq!(h.run("XPENDING s g"), "*4\r\n:0\r\n_\r\n_\r\n_\r\n");
    assert_eq!(h.run("XADD n NOMKSTREAM * f v"), "_\r\n");
    assert_eq!(
        h.run("XINFO GROUPS s"),
        "*1\r\n%6\r\n$4\r\nname\r\n$1\r\ng\r\n$9\r\nconsumers\r\n:0\r\n$7\r\npending\r\n:0\r\n\
         $17\r\nlast-delivered-id\r\n$3\r\n0-0\r\n$12\r\nentries-read\r\n_\r\n$3\r\nlag\r\n:1\r\n"
    );
}

/// Every group's PEL and its consumers' PELs agree.
fn check_groups(h: &mut Harness) {
    let now = h.now_ms;
    for entry in h.keyspace.db(0).iter_live(now) {
        let crate::keyspace::Value::Stream(stream) = &entry.value else {
            continue;
        };
        for group in stream.groups.values() {
            for (id, pending) in &group.pel {
                let owner = group.consumers.get(&pending.consumer);
                assert!(
                    owner.is_some_and(|c| c.pel.contains(id)),
                    "{id} has its owner"
                );
            }
            for consumer in group.consumers.values() {
                for id in &consumer.pel {
                    assert!(group.pel.contains_key(id), "{id} is in the group PEL");
                }
            }
        }
    }
}

const COMMAND_NAMES: &[&str] = &[
    "XADD",
    "XTRIM",
    "XDEL",
    "XLEN",
    "XSETID",
    "XRANGE",
    "XREVRANGE",
    "XREAD",
    "XREADGROUP",
    "XGROUP",
    "XACK",
    "XPENDING",
    "XCLAIM",
    "XAUTOCLAIM",
    "XINFO",
];

const TOKENS: &[&str] = &[
    "s",
    "t",
    "str",
    "g",
    "c",
    "d",
    "f",
    "v",
    "0",
    "1",
    "1-1",
    "1-2",
    "2-0",
    "-",
    "+",
    "$",
    ">",
    "*",
    "(1",
    "(0-0",
    "1-*",
    "x",
    "-1",
    "5",
    "100",
    "9223372036854775807",
    "-9223372036854775808",
    "576460752303423488",
    "18446744073709551615-18446744073709551615",
    "(18446744073709551615-18446744073709551615",
    "18446744073709551615-*",
    "1--01",
    "MAXLEN",
    "MINID",
    "~",
    "=",
    "LIMIT",
    "NOMKSTREAM",
    "COUNT",
    "BLOCK",
    "STREAMS",
    "GROUP",
    "NOACK",
    "IDLE",
    "TIME",
    "RETRYCOUNT",
    "FORCE",
    "JUSTID",
    "LASTID",
    "FULL",
    "ENTRIESREAD",
    "MKSTREAM",
    "ENTRIESADDED",
    "MAXDELETEDID",
    "CREATE",
    "SETID",
    "DESTROY",
    "CREATECONSUMER",
    "DELCONSUMER",
    "HELP",
    "STREAM",
    "GROUPS",
    "CONSUMERS",
];

proptest::proptest! {
    /// Any mix of arguments gives a reply, never a panic, and keeps the
    /// PELs consistent.
    #[test]
    fn arbitrary_commands_never_panic(
        commands in proptest::collection::vec(
            (0..COMMAND_NAMES.len(), proptest::collection::vec(0..TOKENS.len(), 0..9), 0u64..3000),
            1..40,
        ),
        node_entries in 1u64..4,
    ) {
        let mut h = Harness::new();
        h.config
            .set_runtime("stream-node-max-entries", &node_entries.to_string())
            .expect("a valid setting");
        h.setup(&["SET str x", "XADD s 1-1 f v", "XADD s 1-2 f v", "XGROUP CREATE s g 0"]);
        for (name, args, advance) in commands {
            let mut line = COMMAND_NAMES[name].to_string();
            for token in args {
                line.push(' ');
                line.push_str(TOKENS[token]);
            }
            h.advance(advance);
            let reply = h.run(&line);
            proptest::prop_assert!(!reply.is_empty(), "{} gave no reply", line);
            check_groups(&mut h);
        }
    }
}
