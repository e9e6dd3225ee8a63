//! A shard's lock for coordinated operations (see `coord`): who holds it and
//! the messages that arrived meanwhile, kept in arrival order.

use std::collections::VecDeque;

use super::coord::TxId;
use super::mesh::Hop;

#[derive(Default)]
pub struct LockState {
    holder: Option<TxId>,
    /// Keyspace requests and lock requests that arrived while locked.
    deferred: VecDeque<Hop>,
}

impl LockState {
    pub fn is_held(&self) -> bool {
        self.holder.is_some()
    }

    pub fn acquire(&mut self, tx: TxId) {
        debug_assert!(self.holder.is_none(), "acquire only when free");
        self.holder = Some(tx);
    }

    pub fn release(&mut self, tx: TxId) {
        debug_assert_eq!(self.holder, Some(tx), "only the holder releases");
        self.holder = None;
    }

    pub fn defer(&mut self, hop: Hop) {
        self.deferred.push_back(hop);
    }

    /// The next deferred message, while the lock is free.
    pub fn next_deferred(&mut self) -> Option<Hop> {
        if self.holder.is_some() {
            return None;
        }
        self.deferred.pop_front()
    }
}
