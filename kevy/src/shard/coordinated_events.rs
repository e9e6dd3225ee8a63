//! Keyspace events of commands run under coordination (keys on several
//! shards, or a transaction spanning shards): the command runs on the
//! coordinator's scratch copy of its keys, so its events are found there,
//! from the state of each key before and after and the command's reply,
//! by the same rules as on one shard (`keyspace_event_rules`).
//!
//! Data flow: `run_coordinated` (and each command of a transaction run on
//! the scratch) calls [`ShardCore::scratch_events_before`] and
//! [`ShardCore::scratch_events_after`], which collect the events; once the
//! command (or queue) ran, [`ShardCore::hold_coordinated_events`] keeps
//! them under the operation's id and adds a `Touch` for each key Redis
//! would signal as modified but whose value did not change (only
//! differences are written back, and a `WATCH` must still fail); when
//! every shard applied its writes, [`ShardCore::publish_coordinated_events`]
//! publishes them, before the reply leaves. Events are found whether or
//! not notifications are on, since the watch touches need them; a
//! coordination costs round trips that dwarf this.

use super::rules::{events_after, observe, KeyEvent, Observed};
use super::ShardCore;
use crate::cmd::lookup;
use crate::keyspace::Keyspace;
use crate::resp::Argv;
use crate::shard::coord::{TxId, TxOp};

/// Events of coordinated commands: being collected, and waiting for their
/// writes to be applied.
#[derive(Default)]
pub struct CoordinatedEvents {
    collecting: Vec<KeyEvent>,
    held: Vec<(TxId, Vec<KeyEvent>)>,
}

impl ShardCore {
    /// Before a command runs on a coordination's scratch copy.
    pub(in crate::shard) fn scratch_events_before(
        &self,
        scratch: &mut Keyspace,
        db: usize,
        argv: Argv,
    ) -> Option<Observed> {
        let spec = lookup(argv.get(0))?;
        observe(scratch, db, spec, argv, self.now_ms)
    }

    /// After it ran there with `reply`: collects its events.
    pub(in crate::shard) fn scratch_events_after(
        &mut self,
        scratch: &mut Keyspace,
        argv: Argv,
        observed: Option<Observed>,
        reply: &[u8],
    ) {
        let (Some(observed), Some(spec)) = (observed, lookup(argv.get(0))) else {
            return;
        };
        let events = events_after(&observed, scratch, spec, argv, reply, self.now_ms);
        self.pubsub.key_events.collecting.extend(events);
    }

    /// The coordination at `index` ran its command(s) and `writes` (one
    /// list per involved shard) are about to be sent: keeps the collected
    /// events until the writes are applied, and touches the keys modified
    /// in place (an event, no write) so their watchers see the change.
    pub(in crate::shard) fn hold_coordinated_events(
        &mut self,
        index: usize,
        writes: &mut [Vec<TxOp>],
    ) {
        let events = std::mem::take(&mut self.pubsub.key_events.collecting);
        if events.is_empty() {
            return;
        }
        let coordination = &self.coordinations[index];
        for event in events.iter().filter(|e| e.touches_key()) {
            let Some(key) = coordination
                .keys
                .iter()
                .find(|k| k.db == event.db && *k.key == *event.key)
            else {
                continue;
            };
            let Some(at) = coordination.shards.iter().position(|&s| s == key.shard) else {
                continue;
            };
            let Some(ops) = writes.get_mut(at) else {
                continue;
            };
            let covered = ops.iter().any(|op| match op {
                TxOp::Put { db, key, .. } | TxOp::Del { db, key } | TxOp::Touch { db, key } => {
                    *db == event.db && **key == *event.key
                }
                _ => false,
            });
            if !covered {
                ops.push(TxOp::Touch {
                    db: event.db,
                    key: key.key.clone(),
                });
            }
        }
        let tx = coordination.tx;
        self.pubsub.key_events.held.push((tx, events));
    }

    /// Every shard applied the writes of `tx`: its events go out (held in
    /// several parts when a transaction ran in steps, in order).
    pub(in crate::shard) fn publish_coordinated_events(&mut self, tx: TxId) {
        let held = &mut self.pubsub.key_events.held;
        if !held.iter().any(|(t, _)| *t == tx) {
            return;
        }
        let (mine, others): (Vec<_>, Vec<_>) = std::mem::take(held)
            .into_iter()
            .partition(|(t, _)| *t == tx);
        *held = others;
        for (_, events) in mine {
            self.publish_key_events(&events);
        }
    }
}
