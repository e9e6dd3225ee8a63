//! Tests of transaction assembly: unit cases, and a property test that a
//! model primary's writes and transactions over several shard streams,
//! delivered in any interleaving with streams reset and re-delivered, come
//! out once each, in each stream's order, with every transaction whole.

use super::*;

fn steps(assembler: &mut TxnAssembler) -> Vec<ApplyStep> {
    std::iter::from_fn(|| assembler.poll_step()).collect()
}

fn apply(stream: usize, offset: u64, bytes: &[u8]) -> ApplyStep {
    ApplyStep::Apply {
        stream,
        offset,
        bytes: bytes.to_vec(),
    }
}

fn part(stream: usize, offset: u64, bytes: &[u8]) -> TxnPart {
    TxnPart {
        stream,
        offset,
        bytes: bytes.to_vec(),
    }
}

#[test]
fn a_transaction_waits_for_all_parts_and_holds_later_writes() {
    let mut assembler = TxnAssembler::new(3, 1_000);
    let mark = Some(TxnMark { id: 7, parts: 2 });
    assembler.push(0, 0, None, b"a".to_vec()).expect("ok");
    assembler.push(0, 1, mark, b"t0".to_vec()).expect("ok");
    assembler.push(0, 3, None, b"after".to_vec()).expect("ok");
    assembler.push(1, 0, None, b"b".to_vec()).expect("ok");
    assert_eq!(
        steps(&mut assembler),
        vec![apply(0, 0, b"a"), apply(1, 0, b"b")]
    );
    assert_eq!(assembler.held_bytes(), 7);
    assembler.push(1, 1, mark, b"t1".to_vec()).expect("ok");
    assert_eq!(
        steps(&mut assembler),
        vec![
            ApplyStep::ApplyTransaction {
                id: 7,
                parts: vec![part(0, 1, b"t0"), part(1, 1, b"t1")]
            },
            apply(0, 3, b"after"),
        ]
    );
    assert_eq!(assembler.held_bytes(), 0);
}

#[test]
fn one_part_transactions_pass_at_once() {
    let mut assembler = TxnAssembler::new(1, 10);
    let mark = Some(TxnMark { id: 1, parts: 1 });
    assembler.push(0, 5, mark, b"x".to_vec()).expect("ok");
    assert_eq!(
        steps(&mut assembler),
        vec![ApplyStep::ApplyTransaction {
            id: 1,
            parts: vec![part(0, 5, b"x")]
        }]
    );
}

#[test]
fn inconsistent_or_oversized_input_is_an_error() {
    let mut assembler = TxnAssembler::new(2, 4);
    let two = Some(TxnMark { id: 1, parts: 2 });
    assembler.push(0, 0, two, b"x".to_vec()).expect("ok");
    assert_eq!(
        assembler.push(0, 1, two, b"y".to_vec()),
        Err(ReplicationError::TxnInconsistent { id: 1 })
    );
    assert_eq!(
        assembler.push(1, 0, Some(TxnMark { id: 1, parts: 3 }), b"y".to_vec()),
        Err(ReplicationError::TxnTooManyParts {
            id: 1,
            parts: 3,
            streams: 2
        })
    );
    assert!(matches!(
        assembler.push(0, 1, None, b"long".to_vec()),
        Err(ReplicationError::TxnHoldOverflow { .. })
    ));
    assert!(matches!(
        assembler.push(5, 0, None, b"z".to_vec()),
        Err(ReplicationError::UnknownStream { .. })
    ));
}

#[test]
fn a_reset_stream_drops_its_held_parts_and_takes_them_again() {
    let mut assembler = TxnAssembler::new(2, 100);
    let mark = Some(TxnMark { id: 3, parts: 2 });
    assembler.push(0, 0, mark, b"p0".to_vec()).expect("ok");
    assembler.push(0, 2, None, b"w".to_vec()).expect("ok");
    assembler.reset_stream(0);
    assert_eq!(assembler.held_bytes(), 0);
    assembler.push(1, 0, mark, b"p1".to_vec()).expect("ok");
    assert!(steps(&mut assembler).is_empty());
    assembler
        .push(0, 0, mark, b"p0".to_vec())
        .expect("redelivered");
    assert!(matches!(
        steps(&mut assembler).as_slice(),
        [ApplyStep::ApplyTransaction { id: 3, .. }]
    ));
}

use proptest::prelude::*;

const STREAMS: usize = 3;

/// What the model primary does: a write on one shard, or a transaction
/// over a set of shards (which it locks, so it lands in each stream at
/// the same point of the global order).
#[derive(Debug, Clone)]
enum Op {
    Write(usize),
    Txn(Vec<usize>),
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..STREAMS).prop_map(Op::Write),
        prop::sample::subsequence((0..STREAMS).collect::<Vec<_>>(), 1..=STREAMS).prop_map(Op::Txn),
    ]
}

struct Item {
    offset: u64,
    txn: Option<TxnMark>,
    bytes: Vec<u8>,
}

/// Each stream's items, in the order the primary appended them.
fn streams_of(ops: &[Op]) -> Vec<Vec<Item>> {
    let mut streams: Vec<Vec<Item>> = (0..STREAMS).map(|_| Vec::new()).collect();
    let mut next = [0u64; STREAMS];
    for (index, op) in ops.iter().enumerate() {
        let (shards, txn) = match op {
            Op::Write(shard) => (vec![*shard], None),
            Op::Txn(shards) => {
                let parts = u16::try_from(shards.len()).expect("at most STREAMS parts");
                (
                    shards.clone(),
                    Some(TxnMark {
                        id: index as u64,
                        parts,
                    }),
                )
            }
        };
        for shard in shards {
            let bytes = format!("op{index}@{shard}").into_bytes();
            streams[shard].push(Item {
                offset: next[shard],
                txn,
                bytes: bytes.clone(),
            });
            next[shard] += bytes.len() as u64;
        }
    }
    streams
}

proptest! {
    #[test]
    fn any_interleaving_with_resets_applies_each_item_once_in_order(
        ops in prop::collection::vec(arb_op(), 0..40),
        schedule in prop::collection::vec((0u8..10, 0..STREAMS), 0..200),
    ) {
        let streams = streams_of(&ops);
        let mut assembler = TxnAssembler::new(STREAMS, 1 << 20);
        let mut delivered = [0usize; STREAMS];
        let mut applied = [0usize; STREAMS];
        // The given schedule, then round-robin delivery until done.
        let tail = (0..).map(|n: usize| (0u8, n % STREAMS));
        for (action, stream) in schedule.into_iter().chain(tail) {
            if (0..STREAMS).all(|s| applied[s] == streams[s].len()) {
                break;
            }
            if action == 9 {
                // The link reconnected: it delivers again from what was applied.
                assembler.reset_stream(stream);
                delivered[stream] = applied[stream];
            } else if let Some(item) = streams[stream].get(delivered[stream]) {
                assembler
                    .push(stream, item.offset, item.txn, item.bytes.clone())
                    .expect("a consistent primary's stream is accepted");
                delivered[stream] += 1;
            }
            while let Some(step) = assembler.poll_step() {
                let parts = match step {
                    ApplyStep::Apply { stream, offset, bytes } => {
                        let item = &streams[stream][applied[stream]];
                        prop_assert!(item.txn.is_none());
                        vec![(stream, offset, bytes, None)]
                    }
                    ApplyStep::ApplyTransaction { id, parts } => {
                        let mark = streams[parts[0].stream][applied[parts[0].stream]].txn;
                        prop_assert_eq!(mark.map(|m| (m.id, usize::from(m.parts))), Some((id, parts.len())));
                        parts.into_iter().map(|p| (p.stream, p.offset, p.bytes, Some(id))).collect()
                    }
                };
                for (stream, offset, bytes, id) in parts {
                    // Exactly the next item of that stream: none lost,
                    // repeated or reordered.
                    let item = &streams[stream][applied[stream]];
                    prop_assert_eq!((offset, &bytes), (item.offset, &item.bytes));
                    prop_assert_eq!(id, item.txn.map(|m| m.id));
                    applied[stream] += 1;
                }
            }
        }
        prop_assert_eq!(assembler.held_bytes(), 0);
    }
}

#[test]
fn a_part_frozen_into_another_streams_snapshot_does_not_hold_the_stream() {
    let mut assembler = TxnAssembler::new(2, 1 << 20);
    let mark = TxnMark { id: 9, parts: 2 };
    // Stream 1's snapshot holds its part of transaction 9; stream 0's part
    // arrives as a frame, before or after stream 1 says so.
    assembler.push(0, 0, Some(mark), b"a".to_vec()).unwrap();
    assembler.push(0, 1, None, b"b".to_vec()).unwrap();
    assert_eq!(assembler.poll_step(), None, "held for stream 1's part");
    assembler.covered_by_snapshot(1, &[9]);
    assert!(matches!(
        assembler.poll_step(),
        Some(ApplyStep::ApplyTransaction { id: 9, ref parts }) if parts.len() == 1
    ));
    assert!(matches!(
        assembler.poll_step(),
        Some(ApplyStep::Apply { .. })
    ));
    // Covered first, part later: released at once.
    assembler.covered_by_snapshot(1, &[10]);
    let mark = TxnMark { id: 10, parts: 2 };
    assembler.push(0, 2, Some(mark), b"c".to_vec()).unwrap();
    assert!(matches!(
        assembler.poll_step(),
        Some(ApplyStep::ApplyTransaction { id: 10, .. })
    ));
}
