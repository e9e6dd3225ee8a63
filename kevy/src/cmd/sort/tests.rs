//! Command-level tests of SORT: key positions for routing, keyspace
//! hit/miss counting of the sorted key and of pattern keys, STORE's TTL
//! handling, and the placeholder behaviour for types without an accessor.

use super::sort_keys;
use crate::cmd::test_harness::Harness;
use crate::keyspace::set::SetValue;
use crate::keyspace::Value;
use crate::resp::OwnedArgv;

fn keys_of(line: &str) -> Vec<usize> {
    let owned = OwnedArgv::from_slices(line.split(' ').map(str::as_bytes));
    let mut out = Vec::new();
    sort_keys(owned.argv(), &mut out);
    out
}

#[test]
fn keys_are_the_sorted_key_and_the_last_store() {
    assert_eq!(keys_of("SORT l"), [1]);
    assert_eq!(keys_of("SORT l STORE d"), [1, 3]);
    assert_eq!(keys_of("SORT l STORE a BY w_* GET store STORE b"), [1, 9]);
    assert_eq!(keys_of("SORT l LIMIT store 1 GET store BY store"), [1]);
    assert_eq!(keys_of("SORT l STORE"), [1]);
}

#[test]
fn pattern_lookups_count_as_reads() {
    let mut h = Harness::new();
    h.run("RPUSH l 3 1 2");
    h.set_string("w_1", "5");
    let counted: &[(&str, (u64, u64))] = &[
        ("SORT l", (1, 0)),
        ("SORT nosuch", (0, 1)),
        ("SORT l STORE d", (1, 0)),
        ("SORT l BY w_*", (2, 2)),
        ("SORT l BY nosort", (1, 0)),
        ("SORT l GET #", (1, 0)),
        ("SORT l GET nostar", (1, 0)),
        ("SORT l BY nosort GET w_* LIMIT 0 1", (1, 1)),
        ("SORT l LIMIT x 1", (0, 0)),
    ];
    h.assert_hits_misses(counted);
}

#[test]
fn store_replaces_the_destination_and_its_ttl() {
    let mut h = Harness::new();
    h.run("RPUSH l b a");
    h.set_string("d", "old");
    let now = h.now_ms;
    assert!(h.keyspace.db(0).set_expire(b"d", Some(now + 5000), now));
    assert_eq!(h.run("SORT l ALPHA STORE d"), ":2\r\n");
    assert_eq!(h.list("d"), Some(vec!["a".to_string(), "b".to_string()]));
    assert_eq!(h.entry("d").and_then(|e| e.expire_at()), None);
    assert_eq!(h.encoding("d"), "quicklist");
    assert_eq!(h.run("SORT l ALPHA LIMIT 0 0 STORE d"), ":0\r\n");
    assert!(h.entry("d").is_none());
}

#[test]
fn sets_without_an_accessor_sort_as_empty() {
    let mut h = Harness::new();
    let set = Value::Set(SetValue::default());
    h.keyspace.db(0).set(b"s", set, false, 1);
    assert_eq!(h.run("SORT s"), "*0\r\n");
    assert_eq!(h.run("SORT s BY nosort STORE d"), ":0\r\n");
}

#[test]
fn hostile_limits_do_not_panic() {
    let mut h = Harness::new();
    h.run("RPUSH l 5 3 1 4 2 9 8 7 6 0");
    let (min, max) = (i64::MIN, i64::MAX);
    for line in [
        format!("SORT l LIMIT {min} {max}"),
        format!("SORT l LIMIT {max} {min}"),
        format!("SORT l LIMIT {max} {max} BY w_*"),
        format!("SORT l LIMIT {min} {min} BY nosort DESC"),
        format!("SORT l LIMIT 9 {max} BY w_* ALPHA"),
        format!("SORT nosuch LIMIT {min} {max} BY w_* STORE d"),
    ] {
        assert!(!h.run(&line).is_empty(), "{line}");
    }
    assert_eq!(h.run("SORT l LIMIT 8 5"), "*2\r\n$1\r\n8\r\n$1\r\n9\r\n");
}
