//! Command-level tests of the list family: what the differential suite
//! cannot see yet (encodings, keyspace hit/miss counters, TTLs, the chunk
//! size setting) and hostile arguments that must not panic.

use crate::cmd::test_harness::Harness;

#[test]
fn every_list_is_a_quicklist_as_in_redis_7_0() {
    let mut h = Harness::new();
    h.run("RPUSH small a");
    assert_eq!(h.encoding("small"), "quicklist");
    let many: Vec<String> = (0..1000).map(|i| format!("element-{i}")).collect();
    h.run(&format!("RPUSH big {}", many.join(" ")));
    assert_eq!(h.encoding("big"), "quicklist");
    h.run("LTRIM big 0 1");
    assert_eq!(h.encoding("big"), "quicklist");
    let long = "x".repeat(20_000);
    h.run(&format!("LPUSH huge {long}"));
    assert_eq!(h.encoding("huge"), "quicklist");
}

#[test]
fn keyspace_hits_and_misses_count_reads_only() {
    let mut h = Harness::new();
    h.run("RPUSH l a b c");
    h.set_string("s", "v");
    let counted: &[(&str, (u64, u64))] = &[
        ("LLEN l", (1, 0)),
        ("LLEN nosuch", (0, 1)),
        ("LLEN s", (1, 0)),
        ("LINDEX l 0", (1, 0)),
        ("LINDEX nosuch 0", (0, 1)),
        ("LRANGE l 0 -1", (1, 0)),
        ("LRANGE nosuch 0 -1", (0, 1)),
        ("LRANGE l x 1", (0, 0)),
        ("LPOS l a", (1, 0)),
        ("LPOS nosuch a", (0, 1)),
        ("LPOS l a RANK 0", (0, 0)),
        ("LPUSH l x", (0, 0)),
        ("LPUSHX nosuch x", (0, 0)),
        ("LPOP l", (0, 0)),
        ("RPOP nosuch", (0, 0)),
        ("LSET l 0 y", (0, 0)),
        ("LTRIM l 0 -1", (0, 0)),
        ("LREM l 0 zzz", (0, 0)),
        ("LINSERT l BEFORE y z", (0, 0)),
        ("LMOVE l other LEFT RIGHT", (0, 0)),
        ("RPOPLPUSH other l", (0, 0)),
        ("LMPOP 2 nosuch l LEFT", (0, 0)),
    ];
    h.assert_hits_misses(counted);
}

#[test]
fn edits_keep_the_ttl_and_emptied_lists_are_deleted() {
    let mut h = Harness::new();
    let at = h.now_ms + 100_000;
    h.run("RPUSH l a b c d");
    let now = h.now_ms;
    assert!(h.keyspace.db(0).set_expire(b"l", Some(at), now));
    for keeps in [
        "RPUSH l e",
        "LPUSH l f",
        "LPOP l",
        "RPOP l 1",
        "LSET l 0 x",
        "LINSERT l AFTER x y",
        "LREM l 1 y",
        "LTRIM l 0 -1",
        "LMOVE l l LEFT RIGHT",
    ] {
        assert!(!h.run(keeps).starts_with('-'), "{keeps}");
        assert_eq!(
            h.entry("l").and_then(|e| e.expire_at()),
            Some(at),
            "{keeps}"
        );
    }
    h.run("LPOP l 100");
    assert!(h.entry("l").is_none());
    h.run("RPUSH l a");
    assert_eq!(h.entry("l").and_then(|e| e.expire_at()), None);
    for empties in [
        "LREM l 0 a",
        "LTRIM l 1 0",
        "RPOPLPUSH l other",
        "LMPOP 1 l RIGHT",
    ] {
        h.run("DEL l");
        h.run("RPUSH l a");
        h.run(empties);
        assert!(h.entry("l").is_none(), "{empties}");
    }
}

#[test]
fn the_chunk_size_setting_is_read_when_a_list_is_created() {
    let mut h = Harness::new();
    h.config
        .set_runtime("list-max-listpack-size", "1")
        .expect("a valid setting");
    h.run("RPUSH tiny a b c d e f g h");
    h.run("LINSERT tiny BEFORE d x");
    h.run("LSET tiny 0 y");
    assert_eq!(
        h.list("tiny"),
        Some(
            ["y", "b", "c", "x", "d", "e", "f", "g", "h"]
                .map(String::from)
                .to_vec()
        )
    );
    assert_eq!(h.chunks("tiny"), 9);
    h.config
        .set_runtime("list-max-listpack-size", "-5")
        .expect("a valid setting");
    h.run("LMOVE tiny roomy RIGHT LEFT");
    h.run("RPUSH roomy a b c d e f g");
    assert_eq!(h.chunks("roomy"), 1);
    // An existing list keeps the setting it was created with.
    h.run("RPUSH tiny i");
    assert_eq!(h.chunks("tiny"), 9);
}

#[test]
fn resp3_nulls() {
    let mut h = Harness::new();
    h.resp3 = true;
    h.run("RPUSH l a");
    assert_eq!(h.run("LPOP nosuch"), "_\r\n");
    assert_eq!(h.run("LPOP nosuch 2"), "_\r\n");
    assert_eq!(h.run("LPOP l 0"), "*0\r\n");
    assert_eq!(h.run("LINDEX l 5"), "_\r\n");
    assert_eq!(h.run("LPOS l b"), "_\r\n");
    assert_eq!(h.run("LMPOP 1 nosuch LEFT"), "_\r\n");
    assert_eq!(h.run("LMOVE nosuch l LEFT LEFT"), "_\r\n");
    h.resp3 = false;
    assert_eq!(h.run("LPOP nosuch 2"), "*-1\r\n");
    assert_eq!(h.run("LMPOP 1 nosuch LEFT"), "*-1\r\n");
}

#[test]
fn hostile_numbers_do_not_panic() {
    let mut h = Harness::new();
    h.run("RPUSH l a b c");
    let min = i64::MIN;
    let max = i64::MAX;
    for line in [
        format!("LINDEX l {min}"),
        format!("LINDEX l {max}"),
        format!("LSET l {min} x"),
        format!("LRANGE l {min} {max}"),
        format!("LRANGE l {max} {min}"),
        format!("LTRIM l {min} {max}"),
        format!("LREM l {min} zzz"),
        format!("LPOS l a RANK {min} COUNT {max} MAXLEN {max}"),
        format!("LPOS l a RANK {max}"),
        format!("LPOP l {max}"),
        "RPUSH l a b c".to_string(),
        format!("RPOP l {max}"),
        "RPUSH l a b c".to_string(),
        format!("LMPOP {max} l LEFT"),
        format!("LMPOP 1 l LEFT COUNT {max}"),
    ] {
        let reply = h.run(&line);
        assert!(!reply.is_empty(), "{line}");
    }
    assert_eq!(h.list("l"), None);
}

#[test]
fn an_empty_stored_list_is_handled_without_panicking() {
    use crate::keyspace::Value;
    let mut h = Harness::new();
    for line in [
        "LPOP e",
        "RPOP e 2",
        "LMOVE e d LEFT RIGHT",
        "LMPOP 1 e LEFT",
        "LRANGE e 0 -1",
        "LINDEX e -1",
        "LSET e 0 x",
        "LINSERT e BEFORE a b",
        "LPOS e a COUNT 0",
        "LREM e 0 a",
        "LTRIM e 0 -1",
        "SORT e",
    ] {
        let empty = Value::List(Box::default());
        h.keyspace.db(0).set(b"e", empty, false, 1);
        assert!(!h.run(line).is_empty(), "{line}");
    }
}

#[test]
fn lmpop_keys_follow_numkeys() {
    use crate::resp::OwnedArgv;
    let keys_of = |line: &str| {
        let owned = OwnedArgv::from_slices(line.split(' ').map(str::as_bytes));
        let mut out = Vec::new();
        super::lmpop_keys(owned.argv(), &mut out);
        out
    };
    assert_eq!(keys_of("LMPOP 2 a b LEFT"), [2, 3]);
    assert_eq!(keys_of("LMPOP 1 a LEFT COUNT 2"), [2]);
    assert!(keys_of("LMPOP 3 a b LEFT").is_empty());
    assert!(keys_of("LMPOP 0 a LEFT").is_empty());
    assert!(keys_of("LMPOP x a LEFT").is_empty());
    assert!(keys_of("LMPOP 9223372036854775807 a LEFT").is_empty());
    assert!(keys_of("LMPOP 1").is_empty());
}
