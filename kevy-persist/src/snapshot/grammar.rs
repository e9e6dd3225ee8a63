//! The order records must come in, checked the same way on both sides:
//! the writer refuses to write a sequence the reader would refuse (its
//! caller has a bug), and the reader refuses a file that breaks it (the
//! file was crafted or damaged in a way its checksums did not show).
//!
//! Rules: `Aux` and `SelectDb` only between keys; a key only after a
//! database was selected; after a `*Begin` exactly the declared number of
//! items of that type, then `CollectionEnd`. A stream's `StreamBegin`
//! declares its entries and groups; each group declares its pending
//! entries and consumers, each consumer its pending ids, and they follow
//! in that order (entries, then per group: pending, consumers each with
//! its ids). The grammar also counts records and keys per database, the
//! numbers the trailer carries.

use std::collections::BTreeMap;

use super::record::Record;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemKind {
    HashField,
    ListItem,
    SetMember,
    SortedSetMember,
}

/// How far into an open stream the records are; every count is what is
/// still to come.
#[derive(Debug, Clone, Copy, Default)]
struct StreamProgress {
    entries: u64,
    groups: u64,
    group_pending: u64,
    group_consumers: u64,
    consumer_pending: u64,
}

impl StreamProgress {
    fn group_done(&self) -> bool {
        self.group_pending == 0 && self.group_consumers == 0 && self.consumer_pending == 0
    }
}

#[derive(Debug, Clone, Copy)]
enum Open {
    Nothing,
    Items { kind: ItemKind, left: u64 },
    Stream(StreamProgress),
}

#[derive(Debug, Clone)]
pub(crate) struct Grammar {
    open: Open,
    db: Option<u32>,
    keys_per_db: BTreeMap<u32, u64>,
    records: u64,
}

impl Default for Grammar {
    fn default() -> Self {
        Grammar {
            open: Open::Nothing,
            db: None,
            keys_per_db: BTreeMap::new(),
            records: 0,
        }
    }
}

fn take_one(left: &mut u64, beyond: &'static str) -> Result<(), &'static str> {
    *left = left.checked_sub(1).ok_or(beyond)?;
    Ok(())
}

impl Grammar {
    /// Checks that `record` may come next and advances past it.
    pub(crate) fn accept(&mut self, record: &Record<'_>) -> Result<(), &'static str> {
        match self.open {
            Open::Nothing => self.accept_between_keys(record)?,
            Open::Items { kind, ref mut left } => {
                let item = match record {
                    Record::HashField { .. } => Some(ItemKind::HashField),
                    Record::ListItem { .. } => Some(ItemKind::ListItem),
                    Record::SetMember { .. } => Some(ItemKind::SetMember),
                    Record::SortedSetMember { .. } => Some(ItemKind::SortedSetMember),
                    _ => None,
                };
                match (item, record) {
                    (Some(item), _) if item == kind => {
                        take_one(left, "a collection holds more items than it declared")?
                    }
                    (_, Record::CollectionEnd) if *left == 0 => self.open = Open::Nothing,
                    (_, Record::CollectionEnd) => {
                        return Err("a collection ends before all the items it declared")
                    }
                    _ => return Err("a record of another kind inside an open collection"),
                }
            }
            Open::Stream(ref mut stream) => {
                if Self::accept_in_stream(stream, record)? {
                    self.open = Open::Nothing;
                }
            }
        }
        self.records += 1;
        Ok(())
    }

    fn accept_between_keys(&mut self, record: &Record<'_>) -> Result<(), &'static str> {
        let open = match *record {
            Record::Aux { .. } => return Ok(()),
            Record::SelectDb { index } => {
                self.db = Some(index);
                return Ok(());
            }
            Record::String { .. } => Open::Nothing,
            Record::HashBegin { fields, .. } => Open::Items {
                kind: ItemKind::HashField,
                left: fields,
            },
            Record::ListBegin { items, .. } => Open::Items {
                kind: ItemKind::ListItem,
                left: items,
            },
            Record::SetBegin { members, .. } => Open::Items {
                kind: ItemKind::SetMember,
                left: members,
            },
            Record::SortedSetBegin { members, .. } => Open::Items {
                kind: ItemKind::SortedSetMember,
                left: members,
            },
            Record::StreamBegin { meta, .. } => Open::Stream(StreamProgress {
                entries: meta.entries,
                groups: meta.groups,
                ..StreamProgress::default()
            }),
            Record::CollectionEnd => return Err("a collection end with no collection open"),
            _ => return Err("a collection item outside any collection"),
        };
        let db = self.db.ok_or("a key before any database was selected")?;
        let keys = self.keys_per_db.entry(db).or_insert(0);
        *keys = keys.saturating_add(1);
        self.open = open;
        Ok(())
    }

    /// Advances an open stream; true when `record` closed it.
    fn accept_in_stream(
        stream: &mut StreamProgress,
        record: &Record<'_>,
    ) -> Result<bool, &'static str> {
        match *record {
            Record::StreamEntry { .. } => take_one(
                &mut stream.entries,
                "a stream holds more entries than it declared",
            )?,
            Record::StreamGroup(group) => {
                if stream.entries != 0 || !stream.group_done() {
                    return Err("a consumer group before the previous part of its stream ended");
                }
                take_one(
                    &mut stream.groups,
                    "a stream holds more groups than it declared",
                )?;
                stream.group_pending = group.pending;
                stream.group_consumers = group.consumers;
            }
            Record::StreamPending(_) => {
                if stream.entries != 0 {
                    return Err("a pending entry among a stream's entries");
                }
                take_one(
                    &mut stream.group_pending,
                    "a group holds more pending entries than it declared",
                )?;
            }
            Record::StreamConsumer(consumer) => {
                if stream.group_pending != 0 || stream.consumer_pending != 0 {
                    return Err("a consumer before the previous part of its group ended");
                }
                take_one(
                    &mut stream.group_consumers,
                    "a group holds more consumers than it declared",
                )?;
                stream.consumer_pending = consumer.pending;
            }
            Record::StreamConsumerPending { .. } => take_one(
                &mut stream.consumer_pending,
                "a consumer holds more pending ids than it declared",
            )?,
            Record::CollectionEnd => {
                if stream.entries != 0 || stream.groups != 0 || !stream.group_done() {
                    return Err("a stream ends before all the parts it declared");
                }
                return Ok(true);
            }
            _ => return Err("a record of another kind inside an open stream"),
        }
        Ok(false)
    }

    /// True between keys: no collection is open.
    pub(crate) fn is_between_keys(&self) -> bool {
        matches!(self.open, Open::Nothing)
    }

    pub(crate) fn records(&self) -> u64 {
        self.records
    }

    /// `(db, keys)` for every database that holds keys, ascending.
    pub(crate) fn keys_per_db(&self) -> Vec<(u32, u64)> {
        self.keys_per_db
            .iter()
            .map(|(&db, &keys)| (db, keys))
            .collect()
    }
}
