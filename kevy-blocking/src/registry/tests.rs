//! Tests of the blocked-client registry: first come first served per key,
//! deadlines, and a model-based property test that no client is served
//! twice and nothing leaks after clients leave.

use std::collections::HashSet;
use std::fmt::Debug;

use proptest::prelude::*;

use super::*;

impl<C: Copy + Eq + Hash + Ord + Debug> BlockedRegistry<C> {
    /// Checks every invariant of the module comment.
    fn assert_consistent(&self) {
        for (key, queue) in &self.waiters {
            assert!(!queue.is_empty(), "empty queue left for {key:?}");
            let mut seen = HashSet::new();
            for client in queue {
                assert!(seen.insert(*client), "{client:?} queued twice on {key:?}");
                let blocked = self
                    .clients
                    .get(client)
                    .expect("queued clients are blocked");
                assert!(
                    blocked.keys.contains(key),
                    "{client:?} queued on a key it does not name"
                );
            }
        }
        let mut with_deadline = 0;
        for (client, blocked) in &self.clients {
            for key in &blocked.keys {
                let queue = self.waiters.get(key).expect("a named key has a queue");
                assert!(queue.contains(client), "{client:?} missing from {key:?}");
            }
            if let Some(at) = blocked.deadline {
                with_deadline += 1;
                assert!(self.deadlines.contains(&(at, *client)));
            }
        }
        assert_eq!(self.deadlines.len(), with_deadline, "stale deadlines");
    }
}

#[test]
fn first_come_first_served_per_key() {
    let mut registry = BlockedRegistry::new();
    registry.block(1u32, [b"a"], None).expect("not blocked yet");
    registry
        .block(2u32, [&b"b"[..], b"a"], None)
        .expect("not blocked yet");
    registry.block(3u32, [b"a"], None).expect("not blocked yet");
    assert_eq!(registry.waiting_on(b"a"), 3);
    assert_eq!(registry.on_key_ready(b"a"), Some(1));
    // Client 2 is served through its other key and leaves "a" too.
    assert_eq!(registry.on_key_ready(b"b"), Some(2));
    assert_eq!(registry.waiting_on(b"a"), 1);
    assert_eq!(registry.on_key_ready(b"a"), Some(3));
    assert_eq!(registry.on_key_ready(b"a"), None);
    assert_eq!(registry.watched_key_count(), 0);
    registry.assert_consistent();
}

#[test]
fn blocking_twice_or_on_nothing_is_refused() {
    let mut registry = BlockedRegistry::new();
    assert_eq!(
        registry.block(7u64, Vec::<&[u8]>::new(), None),
        Err(BlockingError::NoKeys)
    );
    registry
        .block(7u64, [b"k", b"k"], Some(10))
        .expect("first block");
    assert_eq!(
        registry.waiting_on(b"k"),
        1,
        "a repeated key is waited on once"
    );
    assert_eq!(
        registry.block(7u64, [b"x"], None),
        Err(BlockingError::AlreadyBlocked)
    );
    assert!(registry.unblock(7));
    assert!(!registry.unblock(7));
    registry
        .block(7u64, [b"x"], None)
        .expect("free to block again");
    registry.assert_consistent();
}

#[test]
fn deadlines_expire_in_order_and_only_once() {
    let mut registry = BlockedRegistry::new();
    registry.block('a', [b"k"], Some(30)).expect("block");
    registry.block('b', [b"k"], Some(10)).expect("block");
    registry.block('c', [b"k"], None).expect("block");
    assert_eq!(registry.next_deadline(), Some(10));
    assert_eq!(registry.expired(9), vec![]);
    assert_eq!(registry.expired(10), vec!['b']);
    assert_eq!(registry.expired(100), vec!['a']);
    assert_eq!(registry.expired(1000), vec![]);
    assert_eq!(registry.next_deadline(), None);
    assert_eq!(registry.on_key_ready(b"k"), Some('c'));
    assert_eq!(registry.blocked_count(), 0);
}

#[derive(Debug, Clone)]
enum Step {
    Block {
        client: u8,
        keys: Vec<u8>,
        deadline: Option<u64>,
    },
    Unblock {
        client: u8,
    },
    Ready {
        key: u8,
    },
    Expire {
        now: u64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0u8..6, prop::collection::vec(0u8..4, 0..4), prop::option::of(0u64..50))
            .prop_map(|(client, keys, deadline)| Step::Block { client, keys, deadline }),
        1 => (0u8..6).prop_map(|client| Step::Unblock { client }),
        2 => (0u8..4).prop_map(|key| Step::Ready { key }),
        1 => (0u64..60).prop_map(|now| Step::Expire { now }),
    ]
}

/// The reference: blocked clients in arrival order.
struct Model {
    blocked: Vec<(u8, Vec<u8>, Option<u64>)>,
}

proptest! {
    #[test]
    fn matches_a_simple_model(steps in prop::collection::vec(step(), 0..80)) {
        let mut registry = BlockedRegistry::new();
        let mut model = Model { blocked: Vec::new() };
        for step in steps {
            match step {
                Step::Block { client, keys, deadline } => {
                    let key_bytes: Vec<[u8; 1]> = keys.iter().map(|k| [*k]).collect();
                    let result = registry.block(client, &key_bytes, deadline);
                    if model.blocked.iter().any(|(c, _, _)| *c == client) {
                        prop_assert_eq!(result, Err(BlockingError::AlreadyBlocked));
                    } else if keys.is_empty() {
                        prop_assert_eq!(result, Err(BlockingError::NoKeys));
                    } else {
                        prop_assert_eq!(result, Ok(()));
                        model.blocked.push((client, keys, deadline));
                    }
                }
                Step::Unblock { client } => {
                    let position = model.blocked.iter().position(|(c, _, _)| *c == client);
                    prop_assert_eq!(registry.unblock(client), position.is_some());
                    if let Some(i) = position {
                        model.blocked.remove(i);
                    }
                }
                Step::Ready { key } => {
                    let position = model.blocked.iter().position(|(_, keys, _)| keys.contains(&key));
                    let expected = position.map(|i| model.blocked.remove(i).0);
                    prop_assert_eq!(registry.on_key_ready(&[key]), expected);
                }
                Step::Expire { now } => {
                    let mut due: Vec<(u64, u8)> = model
                        .blocked
                        .iter()
                        .filter_map(|(c, _, d)| d.filter(|at| *at <= now).map(|at| (at, *c)))
                        .collect();
                    due.sort();
                    model.blocked.retain(|(_, _, d)| !d.is_some_and(|at| at <= now));
                    let expected: Vec<u8> = due.into_iter().map(|(_, c)| c).collect();
                    prop_assert_eq!(registry.expired(now), expected);
                }
            }
            registry.assert_consistent();
            prop_assert_eq!(registry.blocked_count(), model.blocked.len());
            for client in 0u8..6 {
                prop_assert_eq!(
                    registry.is_blocked(client),
                    model.blocked.iter().any(|(c, _, _)| *c == client)
                );
            }
        }
        // Once every client left, nothing remains.
        for client in 0u8..6 {
            registry.unblock(client);
        }
        registry.assert_consistent();
        prop_assert_eq!(registry.watched_key_count(), 0);
        prop_assert_eq!(registry.next_deadline(), None);
        prop_assert_eq!(registry.blocked_count(), 0);
    }
}
