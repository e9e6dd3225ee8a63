//! The replication backlog of a shard as a write sink: every record the
//! core hands over becomes one frame of the backlog at once (before the
//! iteration's replies leave, so `WAIT` and replies never run ahead of the
//! offsets), and the shard's offset is published to the shared state.
//!
//! Frames are self-contained: a record of database n > 0 starts with
//! `SELECT n`, so a replica resuming at any frame knows its database.

use std::sync::{Arc, Mutex};

use kevy_replication::{ReplicationBacklog, TxnMark};

use super::state::ReplicationState;
use crate::shard::propagate::{WriteRecord, WriteSink};

/// A shard's backlog, shared by its write sink and its links (one thread
/// uses both: the mutex is never contended).
pub type SharedBacklog = Arc<Mutex<ReplicationBacklog>>;

/// Appends one record as a self-contained frame (a record of database
/// n > 0 starts with `SELECT n`) and publishes the shard's new offset.
pub fn append_record(
    backlog: &mut ReplicationBacklog,
    state: &ReplicationState,
    shard: usize,
    db: usize,
    txn: Option<TxnMark>,
    commands: &[u8],
) {
    if commands.is_empty() {
        return;
    }
    let mut frame = Vec::with_capacity(commands.len() + 24);
    if db != 0 {
        let index = db.to_string();
        frame.extend_from_slice(
            format!("*2\r\n$6\r\nSELECT\r\n${}\r\n{index}\r\n", index.len()).as_bytes(),
        );
    }
    frame.extend_from_slice(commands);
    match backlog.append_marked(&frame, txn) {
        Ok(_) => state.publish_offset(shard, backlog.next_offset()),
        Err(error) => log::error!("Replication backlog of shard {shard}: {error}"),
    }
}

/// The shard's replication sink: each record goes into the backlog as the
/// shard hands it over, before that iteration's replies (to clients and
/// to other shards) leave, so a `WAIT` sees its writes' offsets.
pub struct BacklogSink {
    pub backlog: SharedBacklog,
    pub state: Arc<ReplicationState>,
    pub shard: usize,
}

impl WriteSink for BacklogSink {
    fn record(&mut self, record: &WriteRecord<'_>) {
        let txn = record.txn.map(|part| TxnMark {
            id: part.id,
            parts: part.parts,
        });
        let mut backlog = self.backlog.lock().unwrap_or_else(|p| p.into_inner());
        append_record(
            &mut backlog,
            &self.state,
            self.shard,
            record.db,
            txn,
            record.commands,
        );
    }

    fn end_iteration(&mut self) {}
}
