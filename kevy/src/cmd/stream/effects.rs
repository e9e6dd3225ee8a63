//! How consumer-group reads and claims are recorded for the append-only
//! log and replicas.
//!
//! Delivering or claiming an entry depends on the clock (delivery times,
//! `min-idle-time`), so `XREADGROUP`, `XCLAIM` and `XAUTOCLAIM` are not
//! recorded as sent. As Redis propagates them, each entry that changed
//! hands becomes `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE
//! JUSTID LASTID last` with the exact time and count it got, a pending
//! entry dropped because its stream entry is gone becomes `XACK`, and the
//! group's read position becomes `XGROUP SETID ... ENTRIESREAD n`.

use crate::cmd::effects::Effects;
use crate::keyspace::stream::{ConsumerGroup, StreamId};

/// Records that `id` is now pending for `consumer` as `group` says.
pub(super) fn record_claim(
    effects: &mut Effects,
    key: &[u8],
    group_name: &[u8],
    consumer: &[u8],
    group: &ConsumerGroup,
    id: StreamId,
) {
    if !effects.wanted() {
        return;
    }
    let Some(pending) = group.pel.get(&id) else {
        return;
    };
    let id = id.to_bytes();
    let time = pending.delivery_time.to_string();
    let count = pending.delivery_count.to_string();
    let last = group.last_id.to_bytes();
    effects.replace(&[
        b"XCLAIM",
        key,
        group_name,
        consumer,
        b"0",
        &id,
        b"TIME",
        time.as_bytes(),
        b"RETRYCOUNT",
        count.as_bytes(),
        b"FORCE",
        b"JUSTID",
        b"LASTID",
        &last,
    ]);
}

/// Records that pending entry `id` was dropped (its entry was deleted).
pub(super) fn record_dropped(effects: &mut Effects, key: &[u8], group_name: &[u8], id: StreamId) {
    if effects.wanted() {
        effects.replace(&[b"XACK", key, group_name, &id.to_bytes()]);
    }
}

/// Records the group's read position.
pub(super) fn record_position(
    effects: &mut Effects,
    key: &[u8],
    group_name: &[u8],
    group: &ConsumerGroup,
) {
    if !effects.wanted() {
        return;
    }
    let last = group.last_id.to_bytes();
    let read = group.entries_read.to_string();
    effects.replace(&[
        b"XGROUP",
        b"SETID",
        key,
        group_name,
        &last,
        b"ENTRIESREAD",
        read.as_bytes(),
    ]);
}
