//! Tests of the chunked list: unit cases for the edges, and property tests
//! running random operation sequences against a `VecDeque` model under
//! several chunk limits (tiny ones force splits and merges constantly).

use std::collections::VecDeque;

use proptest::prelude::*;

use super::{ChunkLimit, ListValue};

fn elements(list: &ListValue) -> Vec<Vec<u8>> {
    list.iter().map(<[u8]>::to_vec).collect()
}

#[test]
fn limits_follow_list_max_listpack_size() {
    assert_eq!(ChunkLimit::from_fill(-2), ChunkLimit::new(8192, usize::MAX));
    assert_eq!(ChunkLimit::from_fill(-1), ChunkLimit::new(4096, usize::MAX));
    assert_eq!(
        ChunkLimit::from_fill(-5),
        ChunkLimit::new(65536, usize::MAX)
    );
    assert_eq!(
        ChunkLimit::from_fill(i64::MIN),
        ChunkLimit::new(65536, usize::MAX)
    );
    assert_eq!(ChunkLimit::from_fill(128), ChunkLimit::new(8192, 128));
    assert_eq!(ChunkLimit::from_config(Some("junk")), ChunkLimit::default());
    assert_eq!(ChunkLimit::from_config(Some("5")), ChunkLimit::new(8192, 5));
}

#[test]
fn encoding_is_quicklist_at_any_size() {
    let mut list = ListValue::default();
    assert_eq!(list.encoding(), "quicklist");
    list.push_back(b"x");
    assert_eq!(list.encoding(), "quicklist");
    for i in 0..1000 {
        list.push_back(format!("element-{i}").as_bytes());
    }
    assert_eq!(list.encoding(), "quicklist");
    assert!(list.chunks.len() > 1);
    list.trim(0, 0);
    assert_eq!(list.encoding(), "quicklist");
}

#[test]
fn chunks_stay_near_their_packed_size() {
    let mut list = ListValue::default();
    for i in 0..100_000u32 {
        if i % 2 == 0 {
            list.push_back(&i.to_le_bytes());
        } else {
            list.push_front(&i.to_le_bytes());
        }
    }
    list.check_invariants();
    // Four bytes of data and two of lengths per element, in 8 KB chunks.
    let packed: usize = list.chunks.iter().map(|c| c.bytes()).sum();
    assert_eq!(packed, 600_000);
    assert!(list.chunks.len() < 100);
    assert_eq!(list.get(50_000), Some(&0u32.to_le_bytes()[..]));
}

#[test]
fn small_lists_carry_no_slack() {
    assert_eq!(std::mem::size_of::<ListValue>(), 56);
    assert_eq!(std::mem::size_of::<super::chunk::Chunk>(), 32);
    let list = ListValue::from_elements(
        ChunkLimit::default(),
        (0..10)
            .map(|i| format!("el{i}:123456").into_bytes())
            .collect::<Vec<_>>()
            .iter()
            .map(|e| &e[..]),
    );
    assert_eq!(list.chunks.len(), 1);
    assert_eq!(list.chunks[0].bytes(), 10 * 12);
    assert_eq!(list.chunks[0].capacity(), 10 * 12);
    let mut pushed_front = ListValue::default();
    for i in 0..10 {
        pushed_front.push_front(format!("el{i}:123456").as_bytes());
    }
    assert_eq!(pushed_front.chunks[0].capacity(), 10 * 12);
    assert_eq!(pushed_front.get(0), Some(&b"el9:123456"[..]));
}

#[test]
fn large_elements_live_alone() {
    let mut list = ListValue::default();
    let big = vec![b'x'; 100_000];
    list.push_back(b"a");
    list.push_back(&big);
    list.push_back(b"b");
    list.insert(1, &big);
    list.set(0, &big);
    list.check_invariants();
    assert_eq!(list.len(), 4);
    assert_eq!(list.get(3), Some(&b"b"[..]));
}

#[test]
fn ranges_run_both_ways() {
    let limit = ChunkLimit::new(16, usize::MAX);
    let items: Vec<Vec<u8>> = (0..50).map(|i| format!("{i}").into_bytes()).collect();
    let list = ListValue::from_elements(limit, items.iter().map(Vec::as_slice));
    let forward: Vec<&[u8]> = list.range(10, 40).collect();
    let mut backward: Vec<&[u8]> = list.range(10, 40).rev().collect();
    backward.reverse();
    assert_eq!(forward, backward);
    assert_eq!(forward.len(), 30);
    assert_eq!(forward[0], b"10");
    assert_eq!(list.range(45, 1000).len(), 5);
    assert_eq!(list.range(60, 70).next(), None);
    let mut both = list.range(0, 3);
    assert_eq!(both.next(), Some(&b"0"[..]));
    assert_eq!(both.next_back(), Some(&b"2"[..]));
    assert_eq!(both.next(), Some(&b"1"[..]));
    assert_eq!(both.next_back(), None);
}

#[test]
fn equality_ignores_chunking() {
    let items = [&b"a"[..], b"bb", b"ccc", b"dddd"];
    let tight = ListValue::from_elements(ChunkLimit::new(8, usize::MAX), items);
    let loose = ListValue::from_elements(ChunkLimit::default(), items);
    assert_ne!(tight.chunks.len(), loose.chunks.len());
    assert_eq!(tight, loose);
    assert_eq!(format!("{tight:?}"), r#"["a", "bb", "ccc", "dddd"]"#);
}

#[derive(Clone, Debug)]
enum Op {
    PushFront(Vec<u8>),
    PushBack(Vec<u8>),
    PopFront,
    PopBack,
    Insert(usize, Vec<u8>),
    Set(usize, Vec<u8>),
    Remove(Vec<u8>, usize, bool),
    Trim(usize, usize),
    DropFront(usize),
    DropBack(usize),
    Range(usize, usize, bool),
    Get(usize),
}

fn element() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(&b"abc"[..]), 0..3),
        1 => prop::collection::vec(any::<u8>(), 0..200),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let index = 0usize..80;
    prop_oneof![
        3 => element().prop_map(Op::PushFront),
        3 => element().prop_map(Op::PushBack),
        1 => Just(Op::PopFront),
        1 => Just(Op::PopBack),
        2 => (index.clone(), element()).prop_map(|(i, e)| Op::Insert(i, e)),
        2 => (index.clone(), element()).prop_map(|(i, e)| Op::Set(i, e)),
        1 => (element(), 0usize..4, any::<bool>()).prop_map(|(e, n, t)| Op::Remove(e, n, t)),
        1 => (index.clone(), index.clone()).prop_map(|(s, e)| Op::Trim(s, e)),
        1 => (0usize..5).prop_map(Op::DropFront),
        1 => (0usize..5).prop_map(Op::DropBack),
        2 => (index.clone(), index.clone(), any::<bool>()).prop_map(|(s, e, r)| Op::Range(s, e, r)),
        2 => index.prop_map(Op::Get),
    ]
}

fn limit() -> impl Strategy<Value = ChunkLimit> {
    prop_oneof![
        Just(ChunkLimit::from_fill(-2)),
        Just(ChunkLimit::from_fill(0)),
        Just(ChunkLimit::from_fill(1)),
        Just(ChunkLimit::from_fill(3)),
        (1usize..64).prop_map(|bytes| ChunkLimit::new(bytes, usize::MAX)),
    ]
}

/// Applies `op` to both the list and the model, comparing what they say.
fn apply(list: &mut ListValue, model: &mut VecDeque<Vec<u8>>, op: &Op) {
    match op {
        Op::PushFront(e) => {
            list.push_front(e);
            model.push_front(e.clone());
        }
        Op::PushBack(e) => {
            list.push_back(e);
            model.push_back(e.clone());
        }
        Op::PopFront => assert_eq!(list.pop_front(), model.pop_front()),
        Op::PopBack => assert_eq!(list.pop_back(), model.pop_back()),
        Op::Insert(i, e) => {
            let i = (*i).min(model.len());
            list.insert(i, e);
            model.insert(i, e.clone());
        }
        Op::Set(i, e) => {
            let in_range = *i < model.len();
            assert_eq!(list.set(*i, e), in_range);
            if in_range {
                model[*i] = e.clone();
            }
        }
        Op::Remove(e, limit, from_tail) => {
            let removed = list.remove_matching(e, *limit, *from_tail);
            let mut expected = 0;
            let positions: Vec<usize> = if *from_tail {
                (0..model.len()).rev().collect()
            } else {
                (0..model.len()).collect()
            };
            let mut doomed = Vec::new();
            for p in positions {
                if model[p] == *e && (*limit == 0 || expected < *limit) {
                    doomed.push(p);
                    expected += 1;
                }
            }
            doomed.sort_unstable();
            for p in doomed.into_iter().rev() {
                model.remove(p);
            }
            assert_eq!(removed, expected);
        }
        Op::Trim(s, e) => {
            if !model.is_empty() {
                let end = (*e).min(model.len() - 1);
                let start = (*s).min(end);
                list.trim(start, end);
                model.truncate(end + 1);
                model.drain(..start);
            }
        }
        Op::DropFront(n) => {
            list.drop_front(*n);
            model.drain(..(*n).min(model.len()));
        }
        Op::DropBack(n) => {
            list.drop_back(*n);
            model.truncate(model.len().saturating_sub(*n));
        }
        Op::Range(s, e, reverse) => {
            let end = (*e).min(model.len());
            let expected: Vec<&[u8]> = if s < &end {
                model.range(*s..end).map(Vec::as_slice).collect()
            } else {
                Vec::new()
            };
            let iter = list.range(*s, *e);
            assert_eq!(iter.len(), expected.len());
            if *reverse {
                let got: Vec<&[u8]> = iter.rev().collect();
                assert!(got.iter().eq(expected.iter().rev()));
            } else {
                assert_eq!(iter.collect::<Vec<_>>(), expected);
            }
        }
        Op::Get(i) => assert_eq!(list.get(*i), model.get(*i).map(Vec::as_slice)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn behaves_like_a_deque(limit in limit(), ops in prop::collection::vec(op(), 0..120)) {
        let mut list = ListValue::new(limit);
        let mut model = VecDeque::new();
        for op in &ops {
            apply(&mut list, &mut model, op);
            list.check_invariants();
            prop_assert_eq!(list.len(), model.len());
        }
        prop_assert_eq!(elements(&list), model.iter().cloned().collect::<Vec<_>>());
        let clone = list.clone();
        prop_assert!(clone == list);
    }
}
