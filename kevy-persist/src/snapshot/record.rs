//! The typed records a snapshot is made of.
//!
//! A snapshot's payload is one stream of records. Keys come as one
//! record (`String`) or as a collection: a `*Begin` record with the key,
//! its TTL and the exact number of items, then that many item records,
//! then `CollectionEnd`. A stream nests further: after its entries come
//! its consumer groups, each followed by its pending entries and its
//! consumers, each consumer followed by the ids it has pending. So a hash
//! of ten million fields is written and read one field at a time.
//!
//! Records borrow their bytes: the writer takes them from the caller, the
//! reader hands out slices of its buffer that live until the next read.
//! [`super::record_encode`] and [`super::record_decode`] turn records
//! into bytes and back;
//! [`super::grammar`] checks their order.

/// A stream entry id, `ms-seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

/// Everything a stream holds besides its entries and groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamMeta {
    /// Number of `StreamEntry` records that follow (the stream's length).
    pub entries: u64,
    pub last_id: StreamId,
    /// The first entry's id as Redis records it (0-0 when empty).
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    /// Entries ever added (XINFO's `entries-added`).
    pub entries_added: u64,
    /// Number of `StreamGroup` records that follow the entries.
    pub groups: u64,
}

/// A consumer group; followed by `pending` `StreamPending` records and
/// then `consumers` `StreamConsumer` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamGroup<'a> {
    pub name: &'a [u8],
    pub last_delivered: StreamId,
    /// `None` when Redis would report it as unknown (its -1).
    pub entries_read: Option<u64>,
    pub pending: u64,
    pub consumers: u64,
}

/// One entry of a group's pending entries list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamPending<'a> {
    pub id: StreamId,
    pub consumer: &'a [u8],
    /// Unix ms of the last delivery.
    pub delivery_time: u64,
    pub delivery_count: u64,
}

/// A consumer of a group; followed by `pending` `StreamConsumerPending`
/// records (the ids of its pending entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamConsumer<'a> {
    pub name: &'a [u8],
    /// Unix ms of its last attempted interaction.
    pub seen_time: u64,
    /// Unix ms of its last successful interaction.
    pub active_time: u64,
    pub pending: u64,
}

/// The field/value pairs of one stream entry, kept in their encoded form
/// (checked when the record was decoded or built), so reading an entry
/// allocates nothing.
#[derive(Clone, Copy)]
pub struct StreamFields<'a> {
    pub(crate) count: u64,
    /// `count` pairs, each field and value as varint length + bytes.
    pub(crate) encoded: &'a [u8],
}

impl<'a> StreamFields<'a> {
    /// Number of field/value pairs.
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let mut cursor = super::record_decode::Cursor::new(self.encoded);
        (0..self.count).map(move |_| {
            let field = cursor
                .bytes()
                .expect("stream fields are validated when the record is built or decoded");
            let value = cursor
                .bytes()
                .expect("stream fields are validated when the record is built or decoded");
            (field, value)
        })
    }
}

impl PartialEq for StreamFields<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for StreamFields<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One record of a snapshot. `expire_at` is an absolute unix time in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Record<'a> {
    /// Metadata about the snapshot (server version, replication offset,
    /// creation time...): allowed between keys, never inside one.
    Aux {
        name: &'a [u8],
        value: &'a [u8],
    },
    /// The keys that follow belong to database `index`.
    SelectDb {
        index: u32,
    },
    String {
        key: &'a [u8],
        expire_at: Option<u64>,
        value: &'a [u8],
    },
    HashBegin {
        key: &'a [u8],
        expire_at: Option<u64>,
        fields: u64,
    },
    HashField {
        field: &'a [u8],
        value: &'a [u8],
    },
    ListBegin {
        key: &'a [u8],
        expire_at: Option<u64>,
        items: u64,
    },
    ListItem {
        item: &'a [u8],
    },
    SetBegin {
        key: &'a [u8],
        expire_at: Option<u64>,
        members: u64,
    },
    SetMember {
        member: &'a [u8],
    },
    SortedSetBegin {
        key: &'a [u8],
        expire_at: Option<u64>,
        members: u64,
    },
    /// A member and its score; the score is never NaN.
    SortedSetMember {
        member: &'a [u8],
        score: f64,
    },
    StreamBegin {
        key: &'a [u8],
        expire_at: Option<u64>,
        meta: StreamMeta,
    },
    StreamEntry {
        id: StreamId,
        fields: StreamFields<'a>,
    },
    StreamGroup(StreamGroup<'a>),
    StreamPending(StreamPending<'a>),
    StreamConsumer(StreamConsumer<'a>),
    StreamConsumerPending {
        id: StreamId,
    },
    /// Closes the collection opened by the last `*Begin` record.
    CollectionEnd,
}

impl Record<'_> {
    /// The key, for records that start a key (a string or a collection).
    pub fn key(&self) -> Option<&[u8]> {
        match *self {
            Record::String { key, .. }
            | Record::HashBegin { key, .. }
            | Record::ListBegin { key, .. }
            | Record::SetBegin { key, .. }
            | Record::SortedSetBegin { key, .. }
            | Record::StreamBegin { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The TTL of a record that starts a key.
    pub fn expire_at(&self) -> Option<u64> {
        match *self {
            Record::String { expire_at, .. }
            | Record::HashBegin { expire_at, .. }
            | Record::ListBegin { expire_at, .. }
            | Record::SetBegin { expire_at, .. }
            | Record::SortedSetBegin { expire_at, .. }
            | Record::StreamBegin { expire_at, .. } => expire_at,
            _ => None,
        }
    }
}
