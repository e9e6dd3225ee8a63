//! Tests of the stream structure: node-based trimming as Redis does it, and
//! a property test of adds, deletes, walks and exact trims against a plain
//! `BTreeMap` model.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

type Model = BTreeMap<StreamId, Vec<(Vec<u8>, Vec<u8>)>>;

fn limits(max_entries: u64) -> NodeLimits {
    NodeLimits {
        max_bytes: 4096,
        max_entries,
    }
}

fn filled(count: u64, max_entries: u64) -> StreamEntries {
    let mut s = StreamEntries::default();
    for i in 1..=count {
        s.add(
            IdRequest::Exact(StreamId::new(i, 0)),
            &[b"f", b"v"],
            0,
            limits(max_entries),
        )
        .expect("ascending IDs are accepted");
    }
    s
}

fn ids(s: &StreamEntries) -> Vec<u64> {
    s.range(StreamId::MIN, StreamId::MAX)
        .map(|e| e.id.ms)
        .collect()
}

fn check_invariants(s: &StreamEntries) {
    let mut live = 0;
    let mut previous: Option<StreamId> = None;
    for (key, node) in &s.nodes {
        assert!(node.sorted);
        assert!(node.live > 0 || !node.slots.is_empty());
        assert_eq!(node.slots.first().map(|e| e.id), Some(*key));
        for entry in &node.slots {
            assert!(previous.is_none_or(|p| p < entry.id));
            previous = Some(entry.id);
        }
        let counted = node.slots.iter().filter(|e| !e.deleted).count();
        assert_eq!(counted, node.live);
        live += node.live as u64;
    }
    assert_eq!(live, s.len());
    assert!(s.last_live_id().is_none_or(|id| id <= s.last_id));
}

#[test]
fn approximate_trim_removes_whole_nodes_only() {
    // Nodes of 3: [1 2 3] [4 5 6] [7 8 9] [10].
    let mut s = filled(10, 3);
    assert_eq!(s.node_count(), 4);
    let approx = |strategy, limit| Trim {
        strategy,
        approx: true,
        limit,
    };
    assert_eq!(s.trim(approx(TrimStrategy::MaxLen(5), 0)), 3);
    assert_eq!(ids(&s), (4..=10).collect::<Vec<_>>());
    assert_eq!(
        s.trim(approx(TrimStrategy::MinId(StreamId::new(9, 0)), 0)),
        3
    );
    assert_eq!(ids(&s), vec![7, 8, 9, 10]);
    // A limit below a node's size stops before it.
    assert_eq!(s.trim(approx(TrimStrategy::MaxLen(0), 2)), 0);
    assert_eq!(s.trim(approx(TrimStrategy::MaxLen(0), 3)), 3);
    assert_eq!(ids(&s), vec![10]);
    check_invariants(&s);
}

#[test]
fn exact_trim_leaves_tombstones_that_fill_nodes() {
    let mut s = filled(5, 3);
    let exact = |strategy| Trim {
        strategy,
        approx: false,
        limit: 0,
    };
    assert_eq!(s.trim(exact(TrimStrategy::MaxLen(4))), 1);
    assert_eq!(ids(&s), vec![2, 3, 4, 5]);
    // The first node still holds three slots, one a tombstone.
    assert_eq!(s.node_count(), 2);
    assert_eq!(s.trim(exact(TrimStrategy::MinId(StreamId::new(3, 0)))), 1);
    assert_eq!(s.trim(exact(TrimStrategy::MinId(StreamId::new(3, 0)))), 0);
    assert_eq!(ids(&s), vec![3, 4, 5]);
    check_invariants(&s);
}

#[test]
fn minid_uses_the_last_slot_even_when_deleted() {
    // [1 2 3]: delete 3, then MINID 3 cannot remove the node whole (its
    // last slot is 3), so exact trimming deletes 1 and 2 and leaves a
    // node with no live entry.
    let mut s = filled(3, 3);
    assert_eq!(s.delete_many(&[StreamId::new(3, 0)]), 1);
    let minid = Trim {
        strategy: TrimStrategy::MinId(StreamId::new(3, 0)),
        approx: false,
        limit: 0,
    };
    assert_eq!(s.trim(minid), 2);
    assert_eq!((s.len(), s.node_count()), (0, 1));
    // The emptied node is full (3 slots): the next entry opens a new one.
    s.add(
        IdRequest::Exact(StreamId::new(9, 0)),
        &[b"f", b"v"],
        0,
        limits(3),
    )
    .expect("greater ID");
    assert_eq!(s.node_count(), 2);
    check_invariants(&s);
}

#[test]
fn nodes_walked_slot_by_slot_after_the_last_id_moved_back() {
    // [5 6 7] with 7 deleted, then MINID 7: a node of tombstones only.
    let mut s = StreamEntries::default();
    for ms in [5, 6, 7] {
        s.add(
            IdRequest::Exact(StreamId::new(ms, 0)),
            &[b"f", b"v"],
            0,
            limits(100),
        )
        .expect("ascending IDs");
    }
    s.delete_many(&[StreamId::new(7, 0)]);
    let minid = |ms| Trim {
        strategy: TrimStrategy::MinId(StreamId::new(ms, 0)),
        approx: false,
        limit: 0,
    };
    assert_eq!(s.trim(minid(7)), 2);
    // XSETID 0, then entries that sort before the node's key join it.
    s.last_id = StreamId::MIN;
    for ms in [1, 2] {
        s.add(
            IdRequest::Exact(StreamId::new(ms, 0)),
            &[b"f", b"v"],
            0,
            limits(100),
        )
        .expect("greater than the last ID");
    }
    assert_eq!(s.node_count(), 1);
    assert_eq!(ids(&s), vec![1, 2]);
    let back: Vec<u64> = s
        .range_rev(StreamId::MIN, StreamId::MAX)
        .map(|e| e.id.ms)
        .collect();
    assert_eq!(back, vec![2, 1]);
    assert!(s.contains(StreamId::new(1, 0)));
    // MINID stops at the first slot not below it, a tombstone here.
    assert_eq!(s.trim(minid(2)), 0);
    assert!(s.delete_many(&[StreamId::new(1, 0)]) == 1);
    assert_eq!(ids(&s), vec![2]);
}

#[test]
fn deleting_the_last_live_entry_of_a_node_removes_it() {
    let mut s = filled(4, 2);
    assert_eq!(s.node_count(), 2);
    assert_eq!(
        s.delete_many(&[StreamId::new(3, 0), StreamId::new(4, 0)]),
        2
    );
    assert_eq!(s.node_count(), 1);
    assert_eq!(s.max_deleted_entry_id, StreamId::new(4, 0));
    // The first node is full again only with 2 slots: a new node opens.
    s.add(
        IdRequest::Exact(StreamId::new(5, 0)),
        &[b"f", b"v"],
        0,
        limits(2),
    )
    .expect("greater ID");
    assert_eq!(s.node_count(), 2);
    assert_eq!(s.first_id(), StreamId::new(1, 0));
}

#[test]
fn ids_are_generated_as_redis_does() {
    let mut s = StreamEntries::default();
    let add = |s: &mut StreamEntries, request, now| s.add(request, &[b"f", b"v"], now, limits(100));
    assert_eq!(
        add(&mut s, IdRequest::Auto, 1000),
        Ok(StreamId::new(1000, 0))
    );
    // The clock went back: same millisecond, next sequence.
    assert_eq!(
        add(&mut s, IdRequest::Auto, 900),
        Ok(StreamId::new(1000, 1))
    );
    assert_eq!(
        add(&mut s, IdRequest::Ms(1000), 0),
        Ok(StreamId::new(1000, 2))
    );
    assert_eq!(
        add(&mut s, IdRequest::Ms(999), 0),
        Err(AddError::NotGreater)
    );
    assert_eq!(
        add(&mut s, IdRequest::Ms(2000), 0),
        Ok(StreamId::new(2000, 0))
    );
    let top = StreamId::new(3000, u64::MAX);
    assert_eq!(add(&mut s, IdRequest::Exact(top), 0), Ok(top));
    assert_eq!(add(&mut s, IdRequest::Ms(3000), 0), Err(AddError::TooLarge));
    assert_eq!(add(&mut s, IdRequest::Auto, 10), Err(AddError::NotGreater));
    assert_eq!(
        add(&mut s, IdRequest::Auto, 3001),
        Ok(StreamId::new(3001, 0))
    );
    assert_eq!(s.entries_added, 6);
}

#[test]
fn nodes_close_on_bytes_too() {
    // Each entry with a 1000-byte value: a node takes four of them.
    let mut s = StreamEntries::default();
    let big = vec![b'x'; 1000];
    for i in 1..=9 {
        s.add(
            IdRequest::Exact(StreamId::new(i, 0)),
            &[b"f", &big],
            0,
            limits(100),
        )
        .expect("ascending IDs");
    }
    assert_eq!(s.node_count(), 3);
}

#[test]
fn read_counters_and_lag() {
    let mut s = filled(5, 100);
    let mut group = ConsumerGroup::new(StreamId::MIN, ENTRIES_READ_UNKNOWN);
    assert_eq!(s.lag(&group), Some(5));
    group.advance(&s, StreamId::new(1, 0));
    assert_eq!((group.entries_read, s.lag(&group)), (1, Some(4)));
    group.advance(&s, StreamId::new(2, 0));
    assert_eq!(group.entries_read, 2);
    // A tombstone ahead makes the counter unknowable.
    s.delete_many(&[StreamId::new(4, 0)]);
    assert_eq!(s.lag(&group), None);
    group.advance(&s, StreamId::new(3, 0));
    assert_eq!(group.entries_read, ENTRIES_READ_UNKNOWN);
    group.advance(&s, StreamId::new(5, 0));
    assert_eq!((group.entries_read, s.lag(&group)), (5, Some(0)));
}

#[derive(Clone, Debug)]
enum Op {
    Add {
        ms_step: u64,
        seq: u64,
        fields: Vec<(u8, u8)>,
    },
    Delete(usize),
    Range(u64, u64),
    TrimMaxLen(u64),
    TrimMinId(u64),
    ApproxMaxLen(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..3, 0u64..4, prop::collection::vec((0u8..3, any::<u8>()), 1..4))
            .prop_map(|(ms_step, seq, fields)| Op::Add { ms_step, seq, fields }),
        2 => any::<usize>().prop_map(Op::Delete),
        1 => (0u64..60, 0u64..60).prop_map(|(a, b)| Op::Range(a, b)),
        1 => (0u64..20).prop_map(Op::TrimMaxLen),
        1 => (0u64..60).prop_map(Op::TrimMinId),
        1 => (0u64..20).prop_map(Op::ApproxMaxLen),
    ]
}

fn pairs_of(entry: EntryRef<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
    entry
        .pairs()
        .map(|(f, v)| (f.to_vec(), v.to_vec()))
        .collect()
}

proptest! {
    #[test]
    fn behaves_like_an_ordered_map(ops in prop::collection::vec(op(), 1..120), max_entries in 1u64..6) {
        let mut s = StreamEntries::default();
        let mut model = Model::new();
        let mut ms = 1;
        for op in ops {
            match op {
                Op::Add { ms_step, seq, fields } => {
                    ms += ms_step;
                    let id = StreamId::new(ms, seq);
                    let strings: Vec<Vec<u8>> = fields
                        .iter()
                        .flat_map(|&(f, v)| [vec![b'a' + f], vec![v]])
                        .collect();
                    let refs: Vec<&[u8]> = strings.iter().map(Vec::as_slice).collect();
                    let last = s.last_id;
                    let result = s.add(IdRequest::Exact(id), &refs, 0, limits(max_entries));
                    prop_assert_eq!(result.is_ok(), id > last);
                    if result.is_ok() {
                        let pairs = strings.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect();
                        model.insert(id, pairs);
                    }
                }
                Op::Delete(pick) => {
                    if !model.is_empty() {
                        let id = *model.keys().nth(pick % model.len()).expect("in range");
                        prop_assert_eq!(s.delete_many(&[id]), 1);
                        model.remove(&id);
                        prop_assert_eq!(s.delete_many(&[id]), 0);
                    }
                }
                Op::Range(a, b) => {
                    let (start, end) = (StreamId::new(a, 0), StreamId::new(b, u64::MAX));
                    let got: Vec<_> = s.range(start, end).map(|e| (e.id, pairs_of(e))).collect();
                    let want: Vec<_> = model.range(start..=end.max(start)).filter(|(id, _)| **id <= end).map(|(id, p)| (*id, p.clone())).collect();
                    prop_assert_eq!(&got, &want);
                    let mut back: Vec<_> = s.range_rev(start, end).map(|e| (e.id, pairs_of(e))).collect();
                    back.reverse();
                    prop_assert_eq!(back, want);
                }
                Op::TrimMaxLen(maxlen) => {
                    let deleted = s.trim(Trim { strategy: TrimStrategy::MaxLen(maxlen), approx: false, limit: 0 });
                    let expected = (model.len() as u64).saturating_sub(maxlen);
                    prop_assert_eq!(deleted, expected);
                    for _ in 0..expected {
                        model.pop_first();
                    }
                }
                Op::TrimMinId(min) => {
                    let min = StreamId::new(min, 0);
                    let deleted = s.trim(Trim { strategy: TrimStrategy::MinId(min), approx: false, limit: 0 });
                    let before = model.len();
                    model.retain(|id, _| *id >= min);
                    prop_assert_eq!(deleted, (before - model.len()) as u64);
                }
                Op::ApproxMaxLen(maxlen) => {
                    let before = model.len() as u64;
                    let deleted = s.trim(Trim { strategy: TrimStrategy::MaxLen(maxlen), approx: true, limit: 0 });
                    // Never below maxlen, never more than exact trimming.
                    prop_assert!(deleted <= before.saturating_sub(maxlen));
                    for _ in 0..deleted {
                        model.pop_first();
                    }
                }
            }
            check_invariants(&s);
            prop_assert_eq!(s.len(), model.len() as u64);
            prop_assert_eq!(s.first_id(), model.keys().next().copied().unwrap_or(StreamId::MIN));
            prop_assert_eq!(s.last_live_id(), model.keys().next_back().copied());
        }
    }
}
