//! Reading logs back: every truncation point loads fully or truncates to
//! the last whole record; flipped bytes are refused with the offset of
//! the damaged record; nothing panics on any bytes.

use proptest::prelude::*;

use super::*;
use crate::aof::entry::{encode_entry, TxnTag};
use crate::log_record::encode_record;

/// A log of `commands` (one entry each) and each record's start.
fn log_of(commands: &[Vec<u8>]) -> (Vec<u8>, Vec<u64>) {
    let mut log = Vec::new();
    let mut starts = Vec::new();
    let mut payload = Vec::new();
    for (i, command) in commands.iter().enumerate() {
        payload.clear();
        let txn = (i % 3 == 2).then_some(TxnTag {
            run: 9,
            id: i as u64,
            parts: 2,
        });
        encode_entry(
            &LogEntry {
                db: (i % 4) as u32,
                txn,
                commands: command,
            },
            &mut payload,
        );
        starts.push(log.len() as u64);
        encode_record(&payload, &mut log).expect("small payloads fit a record");
    }
    (log, starts)
}

fn commands() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 1..120), 1..16)
}

#[test]
fn a_clean_log_reads_whole() {
    let (log, starts) = log_of(&[
        b"*1\r\n$4\r\nPING\r\n".to_vec(),
        b"x".to_vec(),
        b"y".to_vec(),
    ]);
    let (entries, summary) = read_log(&log).expect("sound");
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[1].0, starts[1]);
    assert_eq!(entries[1].1.db, 1);
    assert_eq!(entries[2].1.txn.map(|t| t.id), Some(2));
    assert_eq!(summary.tail, LogTail::Clean);
    assert_eq!(summary.sound_bytes, log.len() as u64);
    assert_eq!(summary.txn_parts, 1);
}

#[test]
fn a_zero_filled_tail_is_torn_at_its_start() {
    let (mut log, _) = log_of(&[b"a".to_vec()]);
    let end = log.len() as u64;
    log.extend_from_slice(&[0; 4096]);
    let (entries, summary) = read_log(&log).expect("torn, not corrupt");
    assert_eq!(entries.len(), 1);
    assert_eq!(summary.tail, LogTail::Torn { offset: end });
}

#[test]
fn an_empty_record_in_the_middle_is_malformed() {
    let mut log = Vec::new();
    encode_record(b"", &mut log).expect("fits");
    let (tail, _) = log_of(&[b"a".to_vec()]);
    log.extend_from_slice(&tail);
    assert_eq!(
        read_log(&log).map(|(e, _)| e.len()),
        Err(PersistError::MalformedEntry {
            offset: 0,
            reason: "an empty payload"
        })
    );
}

proptest! {
    #[test]
    fn every_truncation_loads_fully_or_to_the_last_whole_record(
        commands in commands(),
        cut_seed in any::<prop::sample::Index>(),
    ) {
        let (log, starts) = log_of(&commands);
        let cut = cut_seed.index(log.len() + 1);
        let (entries, summary) = read_log(&log[..cut]).expect("a cut log is torn, never corrupt");
        let whole = starts.iter().filter(|&&s| s < cut as u64).count()
            - usize::from(!starts.contains(&(cut as u64)) && cut != log.len());
        prop_assert_eq!(entries.len(), whole);
        for ((_, entry), command) in entries.iter().zip(&commands) {
            prop_assert_eq!(entry.commands, command.as_slice());
        }
        if starts.contains(&(cut as u64)) || cut == log.len() {
            prop_assert_eq!(summary.tail, LogTail::Clean);
        } else {
            prop_assert_eq!(summary.tail, LogTail::Torn { offset: starts[whole] });
        }
    }

    #[test]
    fn a_flipped_byte_before_the_last_record_is_refused(
        commands in commands().prop_filter("two records", |c| c.len() >= 2),
        at_seed in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let (mut log, starts) = log_of(&commands);
        let last = *starts.last().expect("at least two records") as usize;
        let at = at_seed.index(last);
        log[at] ^= flip;
        let damaged = starts.iter().rposition(|&s| s as usize <= at).expect("byte 0 starts a record");
        match read_log(&log) {
            Err(err) => prop_assert_eq!(err.offset(), Some(starts[damaged])),
            Ok((_, summary)) => prop_assert!(false, "flip at {} read as {:?}", at, summary),
        }
    }

    #[test]
    fn any_bytes_read_or_fail_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok((entries, summary)) = read_log(&bytes) {
            prop_assert_eq!(entries.len() as u64, summary.entries);
        }
    }
}
