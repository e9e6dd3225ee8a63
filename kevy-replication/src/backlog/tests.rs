//! Unit and property tests of the replication backlog: offsets are
//! contiguous, eviction keeps the budget (and the newest frame), and every
//! retained byte reads back from every retained frame boundary.

use proptest::prelude::*;

use super::*;

fn read_all(
    backlog: &ReplicationBacklog,
    offset: u64,
) -> Result<Vec<(u64, Vec<u8>)>, ReplicationError> {
    backlog
        .read_from(offset)
        .map(|frames| frames.map(|f| (f.offset, f.bytes.to_vec())).collect())
}

#[test]
fn offsets_count_bytes() {
    let mut backlog = ReplicationBacklog::new(100);
    assert_eq!(backlog.append(b"abc"), Ok(0..3));
    assert_eq!(backlog.append(b"de"), Ok(3..5));
    assert_eq!(backlog.append(b""), Ok(5..5));
    assert_eq!(backlog.next_offset(), 5);
    assert_eq!(read_all(&backlog, 3), Ok(vec![(3, b"de".to_vec())]));
    assert_eq!(read_all(&backlog, 5), Ok(vec![]));
}

#[test]
fn errors_name_the_offsets() {
    let mut backlog = ReplicationBacklog::starting_at(4, 10);
    backlog.append(b"aaa").expect("no overflow");
    backlog.append(b"bbb").expect("no overflow");
    assert_eq!(
        read_all(&backlog, 10),
        Err(ReplicationError::TooOld {
            requested: 10,
            first: 13
        })
    );
    assert_eq!(
        read_all(&backlog, 17),
        Err(ReplicationError::Future {
            requested: 17,
            next: 16
        })
    );
    assert_eq!(
        read_all(&backlog, 14),
        Err(ReplicationError::Misaligned {
            requested: 14,
            frame_start: 13
        })
    );
}

#[test]
fn the_newest_frame_stays_over_budget() {
    let mut backlog = ReplicationBacklog::new(4);
    backlog.append(b"ab").expect("no overflow");
    backlog.append(b"0123456789").expect("no overflow");
    assert_eq!(backlog.frame_count(), 1);
    assert_eq!(backlog.stored_bytes(), 10);
    assert_eq!(read_all(&backlog, 2), Ok(vec![(2, b"0123456789".to_vec())]));
    backlog.append(b"c").expect("no overflow");
    assert_eq!(read_all(&backlog, 12), Ok(vec![(12, b"c".to_vec())]));
}

#[test]
fn shrinking_the_budget_evicts() {
    let mut backlog = ReplicationBacklog::new(100);
    for _ in 0..10 {
        backlog.append(b"0123456789").expect("no overflow");
    }
    backlog.set_budget(25);
    assert_eq!(backlog.frame_count(), 2);
    assert_eq!(backlog.first_offset(), 80);
}

#[test]
fn offset_overflow_is_an_error() {
    let mut backlog = ReplicationBacklog::starting_at(10, u64::MAX - 2);
    assert_eq!(backlog.append(b"ab"), Ok(u64::MAX - 2..u64::MAX));
    assert_eq!(
        backlog.append(b"c"),
        Err(ReplicationError::OffsetOverflow {
            next: u64::MAX,
            len: 1
        })
    );
    assert_eq!(backlog.next_offset(), u64::MAX);
}

proptest! {
    #[test]
    fn offsets_are_contiguous_and_retained_bytes_read_back(
        budget in 0usize..400,
        start in 0u64..1_000_000,
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..60),
    ) {
        let mut backlog = ReplicationBacklog::starting_at(budget, start);
        // Every frame ever appended, with its offset.
        let mut history: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut expected_next = start;
        for bytes in frames {
            let range = backlog.append(&bytes).expect("no overflow near zero");
            prop_assert_eq!(range.start, expected_next);
            prop_assert_eq!(range.end - range.start, bytes.len() as u64);
            expected_next = range.end;
            if !bytes.is_empty() {
                history.push((range.start, bytes));
            }
            prop_assert_eq!(backlog.next_offset(), expected_next);

            // The budget holds unless only the newest frame is left.
            prop_assert!(backlog.stored_bytes() <= budget || backlog.frame_count() == 1);
            // Eviction is minimal: the newest evicted frame would not have fit.
            let first = backlog.first_offset();
            let retained: Vec<_> = history.iter().filter(|(o, _)| *o >= first).cloned().collect();
            prop_assert_eq!(retained.len(), backlog.frame_count());
            let retained_bytes: usize = retained.iter().map(|(_, b)| b.len()).sum();
            prop_assert_eq!(retained_bytes, backlog.stored_bytes());
            if let Some((_, evicted)) = history.iter().rev().find(|(o, _)| *o < first) {
                prop_assert!(retained_bytes + evicted.len() > budget);
            }
            // The newest frame is always there.
            if let Some(newest) = history.last() {
                prop_assert!(newest.0 >= first);
            }

            // Every retained boundary reads back the retained suffix.
            for (index, (offset, _)) in retained.iter().enumerate() {
                prop_assert_eq!(read_all(&backlog, *offset), Ok(retained[index..].to_vec()));
            }
            prop_assert_eq!(read_all(&backlog, expected_next), Ok(vec![]));
            prop_assert_eq!(
                read_all(&backlog, expected_next + 1),
                Err(ReplicationError::Future { requested: expected_next + 1, next: expected_next })
            );
            // Evicted boundaries are too old; offsets inside frames misaligned.
            for (offset, bytes) in &history {
                if *offset < first {
                    prop_assert_eq!(
                        read_all(&backlog, *offset),
                        Err(ReplicationError::TooOld { requested: *offset, first })
                    );
                } else if bytes.len() > 1 {
                    prop_assert_eq!(
                        read_all(&backlog, offset + 1),
                        Err(ReplicationError::Misaligned { requested: offset + 1, frame_start: *offset })
                    );
                }
            }
        }
    }
}
