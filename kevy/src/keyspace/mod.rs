//! The keyspace of one shard: its logical databases, each a [`Db`] of
//! entries with optional expiry times, and the values they hold.
//!
//! Commands reach entries through [`Db`]'s lookups, which expire keys lazily
//! (an expired key is deleted when touched and never returned); the shard's
//! timer runs [`Db::expire_cycle`] to reclaim keys nobody touches.

mod db;
pub mod hash;
mod key;
pub mod list;
pub mod set;
mod slots;
mod str_bytes;
pub mod stream;
pub mod value;
pub mod zset;

pub use db::{Db, Entry, ExpiryMode, ScanCursor};
pub use value::{RString, Value};

pub use key::{Key, INLINE_KEY_LEN};

/// All logical databases of one shard.
pub struct Keyspace {
    pub dbs: Vec<Db>,
}

impl Keyspace {
    pub fn new(databases: usize) -> Self {
        Keyspace {
            dbs: (0..databases).map(|_| Db::default()).collect(),
        }
    }

    pub fn db(&mut self, index: usize) -> &mut Db {
        &mut self.dbs[index]
    }

    pub fn swap(&mut self, a: usize, b: usize) {
        self.dbs.swap(a, b);
    }
}
