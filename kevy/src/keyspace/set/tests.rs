//! Model tests of [`SetValue`]: random additions and removals of integer
//! and text members across the intset limit, compared with a `BTreeSet`
//! and Redis's conversion rules.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

const LIMITS: SetLimits = SetLimits {
    max_intset_entries: 16,
};

fn members(set: &SetValue) -> Vec<Vec<u8>> {
    let mut scratch = Vec::new();
    set.iter()
        .map(|m| m.as_bytes(&mut scratch).to_vec())
        .collect()
}

#[test]
fn encodings_follow_redis() {
    assert_eq!(SetValue::for_member(b"12").encoding(), "intset");
    assert_eq!(SetValue::for_member(b"012").encoding(), "hashtable");
    assert_eq!(SetValue::for_member(b"-0").encoding(), "hashtable");
    assert_eq!(SetValue::for_member(b"a").encoding(), "hashtable");

    let mut set = SetValue::for_member(b"1");
    for n in (0..16).rev() {
        set.add(n.to_string().as_bytes(), LIMITS);
    }
    assert_eq!(set.encoding(), "intset");
    let sorted: Vec<Vec<u8>> = (0..16).map(|n: i32| n.to_string().into_bytes()).collect();
    assert_eq!(members(&set), sorted);
    assert!(!set.add(b"3", LIMITS));
    assert_eq!(set.encoding(), "intset");
    assert!(set.add(b"16", LIMITS));
    assert_eq!(set.encoding(), "hashtable");
    assert!(set.contains(b"16"));
    assert!(set.contains_member(Member::Int(7)));

    let mut set = SetValue::for_member(b"1");
    set.add(b"1", LIMITS);
    assert!(set.add(b"x", LIMITS));
    assert_eq!(set.encoding(), "hashtable");
    set.remove(b"x");
    assert_eq!(set.encoding(), "hashtable");
    assert_eq!(members(&set), vec![b"1".to_vec()]);
}

#[test]
fn intset_removal_and_lookup_by_text() {
    let mut set = SetValue::default();
    set.add(b"-5", LIMITS);
    set.add(b"9223372036854775807", LIMITS);
    assert!(set.contains(b"-5"));
    assert!(!set.contains(b"-05"));
    assert!(!set.remove(b"+5"));
    assert!(set.remove(b"-5"));
    assert_eq!(set.member_at(0), Member::Int(i64::MAX));
    set.remove_at(0);
    assert!(set.is_empty());
    assert_eq!(set.encoding(), "intset");
}

fn scan_all(set: &SetValue, count: usize) -> BTreeSet<Vec<u8>> {
    let mut seen = BTreeSet::new();
    let mut cursor = 0;
    let mut scratch = Vec::new();
    loop {
        cursor = set.scan(cursor, count, |m| {
            seen.insert(m.as_bytes(&mut scratch).to_vec());
        });
        if cursor == 0 {
            return seen;
        }
    }
}

fn member() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => (-30i64..30).prop_map(|n| n.to_string().into_bytes()),
        1 => any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        1 => "[a-c0]{1,2}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #[test]
    fn matches_a_set_model(
        first in member(),
        ops in prop::collection::vec((0u8..3, member()), 0..150),
        count in 1usize..6,
    ) {
        let mut set = SetValue::for_member(&first);
        let mut converted = set.encoding() == "hashtable";
        let mut model = BTreeSet::new();
        for (op, m) in ops {
            if op < 2 {
                let is_int = crate::resp::num::parse_i64(&m).is_some();
                prop_assert_eq!(set.add(&m, LIMITS), model.insert(m));
                converted |= !is_int || model.len() > LIMITS.max_intset_entries;
            } else {
                prop_assert_eq!(set.remove(&m), model.remove(&m));
            }
            prop_assert_eq!(set.len(), model.len());
            prop_assert_eq!(set.encoding(), if converted { "hashtable" } else { "intset" });
        }
        let listed = members(&set);
        if !converted {
            let ints: Vec<i64> = listed
                .iter()
                .map(|m| crate::resp::num::parse_i64(m).expect("intset members are integers"))
                .collect();
            prop_assert!(ints.windows(2).all(|w| w[0] < w[1]));
        }
        prop_assert_eq!(listed.into_iter().collect::<BTreeSet<_>>(), model.clone());
        for m in &model {
            prop_assert!(set.contains(m));
        }
        prop_assert_eq!(scan_all(&set, count), model);
    }
}

#[test]
fn values_stay_small() {
    // Every key's entry holds a `Value`: the hashed forms are boxed so a
    // set or hash costs no more inline than a string does.
    assert!(std::mem::size_of::<SetValue>() <= 32);
    assert!(std::mem::size_of::<crate::keyspace::hash::HashValue>() <= 32);
}
