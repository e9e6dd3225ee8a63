//! The payload of one append-only log record: a log entry.
//!
//! An entry is one atomic unit of writes of one shard: the database it
//! applies to, the RESP bytes of its commands, and, when it is one shard's
//! part of a write that spanned shards, the tag that ties the parts
//! together. Layout (after the record frame of `log_record`):
//!
//! ```text
//! kind: u8            1 = write, 2 = part of a cross-shard write
//! db: u32 LE
//! [run: u64 LE | id: u64 LE | parts: u16 LE]   only for kind 2
//! commands: the rest, at least one byte of RESP
//! ```
//!
//! Each entry names its database, so an entry read alone (after a
//! truncation, or by a tool) needs no `SELECT` state. `run` is drawn at
//! random when a server starts writing the log: a transaction id is
//! unique within one run of the server only, so `(run, id)` names one
//! cross-shard write across every log of a set.

use crate::PersistError;

const KIND_WRITE: u8 = 1;
const KIND_TXN_PART: u8 = 2;
const TXN_TAG_LEN: usize = 8 + 8 + 2;

/// Which cross-shard write an entry is one part of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxnTag {
    /// The run of the server that wrote it (random per start).
    pub run: u64,
    /// The transaction's id within that run.
    pub id: u64,
    /// How many shards hold a part, this one included.
    pub parts: u16,
}

/// One entry read back (borrowing the log's bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEntry<'a> {
    pub db: u32,
    pub txn: Option<TxnTag>,
    /// RESP of one or more commands, applied as one unit.
    pub commands: &'a [u8],
}

/// Appends the payload of `entry` to `out` (the caller frames it).
pub fn encode_entry(entry: &LogEntry<'_>, out: &mut Vec<u8>) {
    out.reserve(1 + 4 + TXN_TAG_LEN + entry.commands.len());
    match entry.txn {
        None => {
            out.push(KIND_WRITE);
            out.extend_from_slice(&entry.db.to_le_bytes());
        }
        Some(tag) => {
            out.push(KIND_TXN_PART);
            out.extend_from_slice(&entry.db.to_le_bytes());
            out.extend_from_slice(&tag.run.to_le_bytes());
            out.extend_from_slice(&tag.id.to_le_bytes());
            out.extend_from_slice(&tag.parts.to_le_bytes());
        }
    }
    out.extend_from_slice(entry.commands);
}

/// Decodes the payload of the record at `offset`.
pub fn decode_entry(payload: &[u8], offset: u64) -> Result<LogEntry<'_>, PersistError> {
    let bad = |reason| PersistError::MalformedEntry { offset, reason };
    let (&kind, rest) = payload.split_first().ok_or(bad("an empty payload"))?;
    let (db, rest) = rest
        .split_first_chunk::<4>()
        .ok_or(bad("the database field is cut short"))?;
    let db = u32::from_le_bytes(*db);
    let (txn, commands) = match kind {
        KIND_WRITE => (None, rest),
        KIND_TXN_PART => {
            let (tag, commands) = rest
                .split_first_chunk::<TXN_TAG_LEN>()
                .ok_or(bad("the transaction tag is cut short"))?;
            let (run, tag) = tag.split_at(8);
            let (id, parts) = tag.split_at(8);
            let word = |bytes: &[u8]| {
                u64::from_le_bytes(
                    bytes
                        .try_into()
                        .expect("the tag splits into 8 + 8 + 2 bytes"),
                )
            };
            let parts = u16::from_le_bytes(
                parts
                    .try_into()
                    .expect("the tag splits into 8 + 8 + 2 bytes"),
            );
            if parts < 2 {
                return Err(bad("a cross-shard write of fewer than two parts"));
            }
            let tag = TxnTag {
                run: word(run),
                id: word(id),
                parts,
            };
            (Some(tag), commands)
        }
        _ => return Err(bad("an unknown entry kind")),
    };
    if commands.is_empty() {
        return Err(bad("an entry without commands"));
    }
    Ok(LogEntry { db, txn, commands })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_of_a_plain_write() {
        let mut out = Vec::new();
        encode_entry(
            &LogEntry {
                db: 3,
                txn: None,
                commands: b"*1\r\n$4\r\nPING\r\n",
            },
            &mut out,
        );
        assert_eq!(&out[..5], &[1, 3, 0, 0, 0]);
        assert_eq!(&out[5..], b"*1\r\n$4\r\nPING\r\n");
    }

    #[test]
    fn malformed_entries_are_refused_with_their_offset() {
        let cases: [&[u8]; 5] = [
            b"",
            b"\x01\x00\x00",
            b"\x01\x00\x00\x00\x00",
            b"\x09\x00\x00\x00\x00x",
            b"\x02\x00\x00\x00\x00\x01\x02",
        ];
        for payload in cases {
            match decode_entry(payload, 77) {
                Err(PersistError::MalformedEntry { offset: 77, .. }) => {}
                other => panic!("{payload:?} gave {other:?}"),
            }
        }
        let mut one_part = Vec::new();
        encode_entry(
            &LogEntry {
                db: 0,
                txn: Some(TxnTag {
                    run: 1,
                    id: 2,
                    parts: 1,
                }),
                commands: b"x",
            },
            &mut one_part,
        );
        assert!(decode_entry(&one_part, 0).is_err());
    }

    proptest! {
        #[test]
        fn entries_round_trip(
            db in any::<u32>(),
            txn in proptest::option::of((any::<u64>(), any::<u64>(), 2u16..)),
            commands in proptest::collection::vec(any::<u8>(), 1..100),
        ) {
            let entry = LogEntry {
                db,
                txn: txn.map(|(run, id, parts)| TxnTag { run, id, parts }),
                commands: &commands,
            };
            let mut out = Vec::new();
            encode_entry(&entry, &mut out);
            prop_assert_eq!(decode_entry(&out, 0), Ok(entry));
        }

        #[test]
        fn any_bytes_decode_or_fail_cleanly(payload in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_entry(&payload, 0);
        }
    }
}
