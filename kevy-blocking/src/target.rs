//! The target side of the cross-shard arbiter: the waiters registered on
//! one shard's keys by blocked clients of any shard (this one included).
//!
//! Data flow: an origin's arm registers a waiter at the back of the key's
//! queue (an arm of a waiter already there keeps its place); the target
//! answers "ready" when the key has data for it. After a write to a key
//! with waiters, `key_changed` names the waiters to tell "ready". A serve
//! is allowed (`may_serve`) only for the waiter whose turn it is; the
//! caller pops, then reports with `served`, which removes the waiter when
//! it got a value and names the next one to tell. `cancel` forgets a
//! waiter and passes its turn on.
//!
//! Whose turn: waiters that consume (list and sorted-set pops, stream
//! group reads) are served first come first served: only the earliest
//! consuming waiter for which the key has data may pop. Waiters that only
//! read (`XREAD`) are all told as soon as the key has data for them.
//! "Has data" is the caller's answer per waiter (a stream reader waits for
//! entries after its own ID), passed in as a closure.
//!
//! Nothing is paid when no one blocks: `is_watched` is one hash-map
//! emptiness check before any lookup.

use std::collections::{HashMap, VecDeque};

use crate::WaiterId;

struct Waiter {
    id: WaiterId,
    consumes: bool,
    /// Told "ready" and not yet served since.
    notified: bool,
}

/// Waiters on the keys of one shard.
#[derive(Default)]
pub struct TargetWaiters {
    queues: HashMap<Box<[u8]>, VecDeque<Waiter>>,
    registrations: usize,
}

impl TargetWaiters {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `waiter` on `key` (kept in place if already there) and
    /// answers whether it should be told "ready" now.
    pub fn arm(
        &mut self,
        waiter: WaiterId,
        key: &[u8],
        consumes: bool,
        mut has_data: impl FnMut(WaiterId) -> bool,
    ) -> bool {
        let queue = match self.queues.get_mut(key) {
            Some(queue) => queue,
            None => self.queues.entry(key.into()).or_default(),
        };
        if !queue.iter().any(|w| w.id == waiter) {
            queue.push_back(Waiter {
                id: waiter,
                consumes,
                notified: false,
            });
            self.registrations += 1;
        }
        let index = position(queue, waiter).expect("the waiter was just registered");
        // The answer replaces whatever the origin was told before: a round
        // of arms starts afresh there.
        let ready = turn_of(queue, index, &mut has_data);
        queue[index].notified = ready;
        ready
    }

    /// True when someone waits on `key`: the write hook's only cost when
    /// nobody blocks.
    pub fn is_watched(&self, key: &[u8]) -> bool {
        !self.queues.is_empty() && self.queues.contains_key(key)
    }

    /// `key` was written: pushes onto `out` the waiters to tell "ready".
    pub fn key_changed(
        &mut self,
        key: &[u8],
        has_data: impl FnMut(WaiterId) -> bool,
        out: &mut Vec<WaiterId>,
    ) {
        if let Some(queue) = self.queues.get_mut(key) {
            notify(queue, has_data, out);
        }
    }

    /// Whether `waiter` may pop from `key` now (registered, and its turn).
    pub fn may_serve(
        &mut self,
        waiter: WaiterId,
        key: &[u8],
        mut has_data: impl FnMut(WaiterId) -> bool,
    ) -> bool {
        let Some(queue) = self.queues.get(key) else {
            return false;
        };
        let Some(index) = position(queue, waiter) else {
            return false;
        };
        turn_of(queue, index, &mut has_data)
    }

    /// Reports the outcome of a serve of `waiter` on `key`: `delivered`
    /// removes it (it is done); otherwise it stays in place, untold. Pushes
    /// onto `out` the waiters to tell "ready" next.
    pub fn served(
        &mut self,
        waiter: WaiterId,
        key: &[u8],
        delivered: bool,
        has_data: impl FnMut(WaiterId) -> bool,
        out: &mut Vec<WaiterId>,
    ) {
        if delivered {
            self.cancel(waiter, key, has_data, out);
            return;
        }
        if let Some(queue) = self.queues.get_mut(key) {
            if let Some(index) = position(queue, waiter) {
                queue[index].notified = false;
            }
            notify(queue, has_data, out);
        }
    }

    /// Forgets `waiter` on `key`; pushes onto `out` the waiters whose turn
    /// it now is.
    pub fn cancel(
        &mut self,
        waiter: WaiterId,
        key: &[u8],
        has_data: impl FnMut(WaiterId) -> bool,
        out: &mut Vec<WaiterId>,
    ) {
        let Some(queue) = self.queues.get_mut(key) else {
            return;
        };
        let Some(index) = position(queue, waiter) else {
            return;
        };
        queue.remove(index);
        self.registrations -= 1;
        if queue.is_empty() {
            self.queues.remove(key);
        } else {
            notify(queue, has_data, out);
        }
    }

    /// Registrations of any waiter on any key.
    pub fn registrations(&self) -> usize {
        self.registrations
    }

    /// Keys with at least one waiter.
    pub fn watched_keys(&self) -> usize {
        self.queues.len()
    }

    /// Every (key, waiter) registration, for checks.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], WaiterId)> + '_ {
        self.queues
            .iter()
            .flat_map(|(key, queue)| queue.iter().map(move |w| (&**key, w.id)))
    }
}

fn position(queue: &VecDeque<Waiter>, waiter: WaiterId) -> Option<usize> {
    queue.iter().position(|w| w.id == waiter)
}

/// Whether the waiter at `index` may be served: the key has data for it,
/// and, if it consumes, no earlier consuming waiter has data.
fn turn_of(
    queue: &VecDeque<Waiter>,
    index: usize,
    has_data: &mut impl FnMut(WaiterId) -> bool,
) -> bool {
    let waiter = &queue[index];
    if !has_data(waiter.id) {
        return false;
    }
    !waiter.consumes
        || queue
            .iter()
            .take(index)
            .all(|w| !w.consumes || !has_data(w.id))
}

/// Tells every reader with data, and the first consumer with data, unless
/// already told.
fn notify(
    queue: &mut VecDeque<Waiter>,
    mut has_data: impl FnMut(WaiterId) -> bool,
    out: &mut Vec<WaiterId>,
) {
    let mut consumer_turn_given = false;
    for waiter in queue.iter_mut() {
        if waiter.consumes && consumer_turn_given {
            continue;
        }
        if !has_data(waiter.id) {
            continue;
        }
        if waiter.consumes {
            consumer_turn_given = true;
        }
        if !waiter.notified {
            waiter.notified = true;
            out.push(waiter.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(block: u64) -> WaiterId {
        WaiterId { origin: 0, block }
    }

    #[test]
    fn consumers_are_served_first_come_first_served() {
        let mut t = TargetWaiters::new();
        assert!(!t.arm(w(1), b"k", true, |_| false));
        assert!(!t.arm(w(2), b"k", true, |_| false));
        let mut told = Vec::new();
        t.key_changed(b"k", |_| true, &mut told);
        assert_eq!(told, vec![w(1)], "only the first consumer is told");
        assert!(!t.may_serve(w(2), b"k", |_| true));
        assert!(t.may_serve(w(1), b"k", |_| true));
        told.clear();
        t.served(w(1), b"k", true, |_| true, &mut told);
        assert_eq!(told, vec![w(2)], "the turn passes on while data is left");
        told.clear();
        t.cancel(w(2), b"k", |_| true, &mut told);
        assert!(told.is_empty());
        assert_eq!(t.registrations(), 0);
        assert!(!t.is_watched(b"k"));
    }

    #[test]
    fn rearm_keeps_the_place_and_readers_are_all_told() {
        let mut t = TargetWaiters::new();
        t.arm(w(1), b"k", true, |_| false);
        t.arm(w(2), b"k", false, |_| false);
        t.arm(w(3), b"k", false, |_| false);
        // Re-arming the first waiter keeps it first.
        t.arm(w(1), b"k", true, |_| false);
        assert_eq!(t.registrations(), 3);
        let mut told = Vec::new();
        t.key_changed(b"k", |_| true, &mut told);
        assert_eq!(told, vec![w(1), w(2), w(3)]);
        // A raced serve leaves the waiter in place, untold until new data.
        told.clear();
        t.served(w(1), b"k", false, |_| false, &mut told);
        assert!(told.is_empty());
        assert!(t.arm(w(1), b"k", true, |_| true));
    }
}
