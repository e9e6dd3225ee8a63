//! The per-shard registry of clients blocked on local keys.
//!
//! Data flow: `block(client, keys, deadline)` queues the client behind
//! every earlier waiter of each of its keys; `on_key_ready(key)` hands out
//! the longest-waiting client of that key, which leaves every queue (it is
//! being served; the caller re-blocks it if the pop found nothing);
//! `expired(now)` hands out the clients whose deadline has been reached;
//! `unblock(client)` forgets a client (disconnect, `CLIENT UNBLOCK`).
//!
//! Invariants (checked by the tests after every step): a client is in a
//! key's queue exactly when it is blocked and names that key, once; no key
//! keeps an empty queue; a deadline is indexed exactly for each blocked
//! client that has one. So a client is handed out at most once per block,
//! and nothing is left behind after it leaves.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::Hash;

use crate::BlockingError;

/// What the registry knows of one blocked client.
struct Blocked {
    /// The keys it waits on, without duplicates, in the order given.
    keys: Vec<Box<[u8]>>,
    /// When it times out (the caller's clock, e.g. unix ms); None = never.
    deadline: Option<u64>,
}

/// Clients blocked on keys of one shard, generic over the client id.
pub struct BlockedRegistry<C> {
    /// Per key, its waiters in arrival order.
    waiters: HashMap<Box<[u8]>, VecDeque<C>>,
    clients: HashMap<C, Blocked>,
    /// (deadline, client) for every blocked client with a deadline.
    deadlines: BTreeSet<(u64, C)>,
}

impl<C> Default for BlockedRegistry<C> {
    fn default() -> Self {
        BlockedRegistry {
            waiters: HashMap::new(),
            clients: HashMap::new(),
            deadlines: BTreeSet::new(),
        }
    }
}

impl<C: Copy + Eq + Hash + Ord> BlockedRegistry<C> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Blocks `client` on `keys` until one is ready, it times out at
    /// `deadline` (None: never), or it is unblocked. A key named twice is
    /// waited on once.
    pub fn block<K: AsRef<[u8]>>(
        &mut self,
        client: C,
        keys: impl IntoIterator<Item = K>,
        deadline: Option<u64>,
    ) -> Result<(), BlockingError> {
        if self.clients.contains_key(&client) {
            return Err(BlockingError::AlreadyBlocked);
        }
        let mut unique: Vec<Box<[u8]>> = Vec::new();
        for key in keys {
            let key = key.as_ref();
            if !unique.iter().any(|k| **k == *key) {
                unique.push(key.into());
            }
        }
        if unique.is_empty() {
            return Err(BlockingError::NoKeys);
        }
        for key in &unique {
            self.waiters
                .entry(key.clone())
                .or_default()
                .push_back(client);
        }
        if let Some(at) = deadline {
            self.deadlines.insert((at, client));
        }
        self.clients.insert(
            client,
            Blocked {
                keys: unique,
                deadline,
            },
        );
        Ok(())
    }

    /// Forgets `client` everywhere; false when it was not blocked.
    pub fn unblock(&mut self, client: C) -> bool {
        let Some(blocked) = self.clients.remove(&client) else {
            return false;
        };
        for key in &blocked.keys {
            if let Some(queue) = self.waiters.get_mut(key) {
                queue.retain(|waiter| *waiter != client);
                if queue.is_empty() {
                    self.waiters.remove(key);
                }
            }
        }
        if let Some(at) = blocked.deadline {
            self.deadlines.remove(&(at, client));
        }
        true
    }

    /// `key` received data: the client that has waited on it longest, now
    /// unblocked, to be served; None when nobody waits on it.
    pub fn on_key_ready(&mut self, key: &[u8]) -> Option<C> {
        let client = *self.waiters.get(key)?.front()?;
        let was_blocked = self.unblock(client);
        debug_assert!(was_blocked, "every queued waiter is a blocked client");
        Some(client)
    }

    /// The clients whose deadline is at or before `now`, unblocked, in
    /// deadline order.
    pub fn expired(&mut self, now: u64) -> Vec<C> {
        let mut due = Vec::new();
        while let Some(&(at, client)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.unblock(client);
            due.push(client);
        }
        due
    }

    /// The earliest deadline of any blocked client, for the shard's timer.
    pub fn next_deadline(&self) -> Option<u64> {
        self.deadlines.first().map(|&(at, _)| at)
    }

    pub fn is_blocked(&self, client: C) -> bool {
        self.clients.contains_key(&client)
    }

    /// Clients blocked now.
    pub fn blocked_count(&self) -> usize {
        self.clients.len()
    }

    /// How many clients wait on `key`.
    pub fn waiting_on(&self, key: &[u8]) -> usize {
        self.waiters.get(key).map_or(0, VecDeque::len)
    }

    /// Keys at least one client waits on (INFO's `blocked_keys`-like).
    pub fn watched_key_count(&self) -> usize {
        self.waiters.len()
    }
}

#[cfg(test)]
mod tests;
