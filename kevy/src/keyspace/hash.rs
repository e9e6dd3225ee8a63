//! The hash value type: field → value maps, in Redis's two encodings.
//!
//! A new hash is a `listpack` ([`PackedPairs`]: one packed byte vector in
//! insertion order). It becomes a `hashtable` ([`ScanTable`]) when it gets
//! more fields than `hash-max-listpack-entries` or a field or value longer
//! than `hash-max-listpack-value`, at the moments Redis converts
//! (`hashTypeTryConversion` before a multi-field write, `hashTypeSet` for
//! each pair), and never converts back. Commands pass the limits in as
//! [`HashLimits`], read from the configuration once per command.

mod listpack;
pub(crate) mod table;
#[cfg(test)]
mod tests;

pub use listpack::PackedPairs;
use table::{Keyed, ScanTable};

use super::shared::Shared;

/// Redis's `LISTPACK_MAX_SAFETY_SIZE`: a listpack never grows past 1 GiB.
const LISTPACK_MAX_BYTES: usize = 1 << 30;

/// When a listpack hash must become a hashtable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashLimits {
    /// `hash-max-listpack-entries`.
    pub max_listpack_entries: usize,
    /// `hash-max-listpack-value`.
    pub max_listpack_value: usize,
}

impl Default for HashLimits {
    fn default() -> Self {
        HashLimits {
            // Redis 7.0's built-in default (its sample redis.conf says 128).
            max_listpack_entries: 512,
            max_listpack_value: 64,
        }
    }
}

/// A field and its value, borrowed from a hash.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// One pair of a hashtable-encoded hash.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldValue {
    pub field: Box<[u8]>,
    pub value: Box<[u8]>,
}

impl Keyed for FieldValue {
    fn key(&self) -> &[u8] {
        &self.field
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Repr {
    Listpack(PackedPairs),
    /// Behind a pointer: keeps `Value` small for the many keys that are
    /// not big hashes. Shared, so a snapshot's page copy does not copy the
    /// table; the first write while a frozen view holds it copies it whole.
    Table(Shared<ScanTable<FieldValue>>),
}

/// A hash value.
#[derive(Clone, Debug, PartialEq)]
pub struct HashValue {
    repr: Repr,
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue {
            repr: Repr::Listpack(PackedPairs::default()),
        }
    }
}

impl HashValue {
    /// The encoding `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Listpack(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Listpack(pairs) => pairs.len(),
            Repr::Table(table) => table.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Listpack(pairs) => pairs.get(field),
            Repr::Table(table) => table.get(field).map(|p| &*p.value),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        match &self.repr {
            Repr::Listpack(pairs) => pairs.get(field).is_some(),
            Repr::Table(table) => table.find(field).is_some(),
        }
    }

    /// Becomes a hashtable (no-op when it is one).
    pub fn convert_to_table(&mut self) {
        let Repr::Listpack(pairs) = &self.repr else {
            return;
        };
        let mut table = ScanTable::with_capacity(pairs.len());
        for (field, value) in pairs.iter() {
            table.insert_new(FieldValue {
                field: field.into(),
                value: value.into(),
            });
        }
        self.repr = Repr::Table(Shared::new(table));
    }

    /// Redis's `hashTypeTryConversion`, run before a write of several
    /// fields and values: converts when any of them is too long for the
    /// listpack or all of them together would overflow it.
    pub fn prepare_for<'a>(&mut self, strings: impl Iterator<Item = &'a [u8]>, limits: HashLimits) {
        let Repr::Listpack(pairs) = &self.repr else {
            return;
        };
        let mut total = 0usize;
        for s in strings {
            if s.len() > limits.max_listpack_value {
                self.convert_to_table();
                return;
            }
            total = total.saturating_add(s.len());
        }
        if pairs.byte_len().saturating_add(total) > LISTPACK_MAX_BYTES {
            self.convert_to_table();
        }
    }

    /// Redis's `hashTypeSet`: sets `field` to `value`, converting first
    /// when either is too long for a listpack and after when the listpack
    /// has too many fields. True when the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        if matches!(self.repr, Repr::Listpack(_))
            && (field.len() > limits.max_listpack_value || value.len() > limits.max_listpack_value)
        {
            self.convert_to_table();
        }
        match &mut self.repr {
            Repr::Listpack(pairs) => {
                let added = pairs.set(field, value);
                if pairs.len() > limits.max_listpack_entries {
                    self.convert_to_table();
                }
                added
            }
            Repr::Table(table) => match table.get_mut(field) {
                Some(pair) => {
                    pair.value = value.into();
                    false
                }
                None => {
                    table.insert_new(FieldValue {
                        field: field.into(),
                        value: value.into(),
                    });
                    true
                }
            },
        }
    }

    /// Removes `field`; false when absent.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Listpack(pairs) => pairs.remove(field),
            Repr::Table(table) => table.remove(field).is_some(),
        }
    }

    /// Field/value pairs: insertion order for a listpack, table order for
    /// a hashtable.
    pub fn iter(&self) -> HashIter<'_> {
        match &self.repr {
            Repr::Listpack(pairs) => HashIter::Listpack(pairs.iter()),
            Repr::Table(table) => HashIter::Table(table.iter()),
        }
    }

    /// Whether this is the compact (listpack) form, where positional
    /// access walks the pairs.
    pub fn is_listpack(&self) -> bool {
        matches!(self.repr, Repr::Listpack(_))
    }

    /// The pair at a position in `0..len()`: direct for a hashtable, a
    /// walk for a listpack.
    pub fn pair_at(&self, index: usize) -> Pair<'_> {
        match &self.repr {
            Repr::Table(table) => {
                let pair = table.at(index);
                (&pair.field, &pair.value)
            }
            Repr::Listpack(pairs) => pairs.iter().nth(index).expect("positions are below len()"),
        }
    }

    /// The pairs at the given positions in `0..len()`, which must be in
    /// ascending order (one walk for a listpack, direct for a hashtable).
    pub fn pairs_at<'a>(&'a self, positions: &'a [usize]) -> impl Iterator<Item = Pair<'a>> + 'a {
        debug_assert!(positions.windows(2).all(|w| w[0] <= w[1]));
        let mut walk = self.iter().enumerate();
        let mut last: Option<(usize, Pair<'a>)> = None;
        positions.iter().map(move |&want| match &self.repr {
            Repr::Table(table) => {
                let pair = table.at(want);
                (&*pair.field, &*pair.value)
            }
            Repr::Listpack(_) => {
                if let Some((at, pair)) = last {
                    if at == want {
                        return pair;
                    }
                }
                let found = walk
                    .find(|(at, _)| *at == want)
                    .expect("positions are below len() and ascending");
                last = Some(found);
                found.1
            }
        })
    }

    /// One `HSCAN` step: visits pairs from `cursor` until at least `count`
    /// were visited or the scan ends, and returns the next cursor (0 at
    /// the end). A listpack is visited whole in one step, as Redis does.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        match &self.repr {
            Repr::Listpack(pairs) => {
                for (field, value) in pairs.iter() {
                    visit(field, value);
                }
                0
            }
            Repr::Table(table) => {
                let mut visited = 0usize;
                let mut cursor = cursor;
                // Redis gives up after ten buckets per wanted item, so a
                // sparse table cannot stall the server.
                let mut budget = count.saturating_mul(10);
                loop {
                    cursor = table.scan_step(cursor, |pair| {
                        visited += 1;
                        visit(&pair.field, &pair.value);
                    });
                    if cursor == 0 || budget == 0 || visited >= count {
                        return cursor;
                    }
                    budget -= 1;
                }
            }
        }
    }
}

/// Iterator over a hash's pairs.
#[derive(Clone)]
pub enum HashIter<'a> {
    Listpack(listpack::Pairs<'a>),
    Table(table::Items<'a, FieldValue>),
}

impl<'a> Iterator for HashIter<'a> {
    type Item = Pair<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            HashIter::Listpack(pairs) => pairs.next(),
            HashIter::Table(pairs) => pairs.next().map(|p| (&*p.field, &*p.value)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            HashIter::Listpack(pairs) => pairs.size_hint(),
            HashIter::Table(pairs) => pairs.size_hint(),
        }
    }
}

impl ExactSizeIterator for HashIter<'_> {}
