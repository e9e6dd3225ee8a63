//! `kevy check-snapshot FILE`'s engine: read a whole snapshot, verify
//! every block, record and checksum, and count what it holds. The first
//! problem stops the walk and comes back as the [`PersistError`] naming
//! the bad block's offset; a sound file comes back as
//! [`SnapshotContents`], whose `Display` is the tool's report.

use std::fmt;
use std::io::Read;

use super::reader::SnapshotReader;
use super::record::Record;
use super::writer::SnapshotSummary;
use crate::PersistError;

/// What a verified snapshot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotContents {
    pub summary: SnapshotSummary,
    pub strings: u64,
    pub hashes: u64,
    pub lists: u64,
    pub sets: u64,
    pub sorted_sets: u64,
    pub streams: u64,
    /// Keys with a TTL.
    pub keys_with_ttl: u64,
    /// Items of collections: hash fields, list items, set and sorted set
    /// members, stream entries.
    pub items: u64,
    pub stream_groups: u64,
    pub aux_fields: u64,
}

/// Reads `input` to its end and verifies it; see the module comment.
pub fn check_snapshot(input: impl Read) -> Result<SnapshotContents, PersistError> {
    let reader = SnapshotReader::new(input)?;
    let mut contents = SnapshotContents {
        summary: SnapshotSummary {
            codec: reader.codec(),
            bytes: 0,
            data_blocks: 0,
            records: 0,
            keys_per_db: Vec::new(),
        },
        strings: 0,
        hashes: 0,
        lists: 0,
        sets: 0,
        sorted_sets: 0,
        streams: 0,
        keys_with_ttl: 0,
        items: 0,
        stream_groups: 0,
        aux_fields: 0,
    };
    let summary = reader.for_each(|record| {
        contents.count(&record);
        Ok::<(), PersistError>(())
    })?;
    contents.summary = summary;
    Ok(contents)
}

impl SnapshotContents {
    fn count(&mut self, record: &Record<'_>) {
        if record.expire_at().is_some() {
            self.keys_with_ttl += 1;
        }
        let counter = match record {
            Record::Aux { .. } => &mut self.aux_fields,
            Record::String { .. } => &mut self.strings,
            Record::HashBegin { .. } => &mut self.hashes,
            Record::ListBegin { .. } => &mut self.lists,
            Record::SetBegin { .. } => &mut self.sets,
            Record::SortedSetBegin { .. } => &mut self.sorted_sets,
            Record::StreamBegin { .. } => &mut self.streams,
            Record::StreamGroup(_) => &mut self.stream_groups,
            Record::HashField { .. }
            | Record::ListItem { .. }
            | Record::SetMember { .. }
            | Record::SortedSetMember { .. }
            | Record::StreamEntry { .. } => &mut self.items,
            Record::SelectDb { .. }
            | Record::StreamPending(_)
            | Record::StreamConsumer(_)
            | Record::StreamConsumerPending { .. }
            | Record::CollectionEnd => return,
        };
        *counter += 1;
    }
}

impl fmt::Display for SnapshotContents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.summary;
        writeln!(
            f,
            "snapshot OK: {} bytes, codec {}, {} data blocks, {} records",
            s.bytes, s.codec, s.data_blocks, s.records
        )?;
        writeln!(f, "keys: {} ({} with a TTL)", s.keys(), self.keys_with_ttl)?;
        for &(db, keys) in &s.keys_per_db {
            writeln!(f, "db{db}: {keys} keys")?;
        }
        writeln!(
            f,
            "types: {} strings, {} hashes, {} lists, {} sets, {} sorted sets, {} streams",
            self.strings, self.hashes, self.lists, self.sets, self.sorted_sets, self.streams
        )?;
        write!(
            f,
            "collection items: {}, stream groups: {}, aux fields: {}",
            self.items, self.stream_groups, self.aux_fields
        )
    }
}
