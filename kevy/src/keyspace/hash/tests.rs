//! Model tests of [`HashValue`]: random writes across the conversion
//! thresholds, compared with an insertion-ordered model and Redis's
//! conversion rules.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

const LIMITS: HashLimits = HashLimits {
    max_listpack_entries: 8,
    max_listpack_value: 10,
};

fn all_pairs(hash: &HashValue) -> Vec<(Vec<u8>, Vec<u8>)> {
    hash.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()
}

#[test]
fn converts_on_count_and_length_and_never_back() {
    let mut hash = HashValue::default();
    for n in 0..8u8 {
        assert!(hash.set(&[b'a' + n], b"v", LIMITS));
    }
    assert_eq!(hash.encoding(), "listpack");
    assert!(hash.set(b"z", b"v", LIMITS));
    assert_eq!(hash.encoding(), "hashtable");
    for n in 0..9u8 {
        hash.remove(&[b'a' + n]);
    }
    hash.remove(b"z");
    assert!(hash.is_empty());
    assert_eq!(hash.encoding(), "hashtable");

    let mut hash = HashValue::default();
    hash.set(b"f", b"0123456789", LIMITS);
    assert_eq!(hash.encoding(), "listpack");
    hash.set(b"f", b"0123456789+", LIMITS);
    assert_eq!(hash.encoding(), "hashtable");
    assert_eq!(hash.get(b"f"), Some(&b"0123456789+"[..]));

    let mut hash = HashValue::default();
    hash.set(b"f", b"v", LIMITS);
    hash.prepare_for([&b"g"[..], &b"01234567890"[..]].into_iter(), LIMITS);
    assert_eq!(hash.encoding(), "hashtable");
    assert_eq!(all_pairs(&hash), vec![(b"f".to_vec(), b"v".to_vec())]);
}

#[test]
fn listpack_keeps_insertion_order() {
    let mut hash = HashValue::default();
    for field in ["c", "a", "b"] {
        hash.set(field.as_bytes(), b"1", LIMITS);
    }
    hash.set(b"a", b"2", LIMITS);
    hash.remove(b"c");
    hash.set(b"c", b"3", LIMITS);
    let fields: Vec<_> = hash.iter().map(|(f, _)| f.to_vec()).collect();
    assert_eq!(fields, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    let picked: Vec<_> = hash.pairs_at(&[0, 2, 2]).map(|(f, _)| f.to_vec()).collect();
    assert_eq!(picked, vec![b"a".to_vec(), b"c".to_vec(), b"c".to_vec()]);
}

fn scan_all(hash: &HashValue, count: usize) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut seen = BTreeMap::new();
    let mut cursor = 0;
    loop {
        cursor = hash.scan(cursor, count, |f, v| {
            seen.insert(f.to_vec(), v.to_vec());
        });
        if cursor == 0 {
            return seen;
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Set(u8, usize),
    Remove(u8),
    Prepare(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..14, 0usize..13).prop_map(|(f, len)| Op::Set(f, len)),
        2 => (0u8..14).prop_map(Op::Remove),
        1 => (0usize..13).prop_map(Op::Prepare),
    ]
}

proptest! {
    #[test]
    fn matches_an_ordered_model(ops in prop::collection::vec(op(), 0..120), count in 1usize..5) {
        let mut hash = HashValue::default();
        let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut converted = false;
        for op in ops {
            match op {
                Op::Set(f, len) => {
                    let field = vec![b'a' + f];
                    let value = vec![b'v'; len];
                    converted |= len > LIMITS.max_listpack_value;
                    let at = model.iter().position(|(k, _)| *k == field);
                    prop_assert_eq!(hash.set(&field, &value, LIMITS), at.is_none());
                    match at {
                        Some(i) => model[i].1 = value,
                        None => model.push((field, value)),
                    }
                    converted |= model.len() > LIMITS.max_listpack_entries;
                }
                Op::Remove(f) => {
                    let at = model.iter().position(|(k, _)| *k == [b'a' + f]);
                    prop_assert_eq!(hash.remove(&[b'a' + f]), at.is_some());
                    if let Some(i) = at {
                        model.remove(i);
                    }
                }
                Op::Prepare(len) => {
                    let value = vec![b'p'; len];
                    converted |= len > LIMITS.max_listpack_value;
                    hash.prepare_for([&value[..]].into_iter(), LIMITS);
                }
            }
            prop_assert_eq!(hash.len(), model.len());
            prop_assert_eq!(hash.encoding(), if converted { "hashtable" } else { "listpack" });
        }
        if converted {
            let mut sorted = all_pairs(&hash);
            sorted.sort();
            let mut expected = model.clone();
            expected.sort();
            prop_assert_eq!(sorted, expected);
        } else {
            prop_assert_eq!(all_pairs(&hash), model.clone());
        }
        for (field, value) in &model {
            prop_assert_eq!(hash.get(field), Some(&value[..]));
        }
        prop_assert_eq!(scan_all(&hash, count), model.into_iter().collect::<BTreeMap<_, _>>());
    }
}
