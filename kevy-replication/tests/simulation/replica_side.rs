//! The replica's half of a simulated step: deliver the primary's bytes,
//! apply events through the transaction assembler into the replica's data,
//! and check after every applied write that the data is a prefix of the
//! primary's history and ends where the link says it has applied.

use kevy_replication::{ApplyStep, ReplicaEvent, TxnMark};

use crate::kind;
use crate::net::deserialize;
use crate::world::Sim;

impl Sim {
    pub fn replica_side(&mut self) -> Result<(), String> {
        let (now, stalled) = (self.now, self.now < self.stall_until);
        let mut failed = false;
        if let Some(conn) = self.conn.as_mut() {
            while let Some(bytes) = conn.to_replica.due(if stalled { 0 } else { now }) {
                if let Err(error) = self.link.receive(&bytes, now) {
                    *self.stats.replica_failures.entry(kind(&error)).or_default() += 1;
                    failed = true;
                    break;
                }
            }
            if conn.closing && conn.to_replica.0.is_empty() {
                failed = true;
            }
        }
        if let Err(error) = self.link.tick(now) {
            *self.stats.replica_failures.entry(kind(&error)).or_default() += 1;
            failed = true;
        }
        self.apply_events()?;
        if failed && self.conn.is_some() {
            self.close();
        }
        Ok(())
    }

    pub fn apply_events(&mut self) -> Result<(), String> {
        while let Some(event) = self.link.poll_event() {
            match event {
                ReplicaEvent::Transmit { bytes } => {
                    let delay = self.rng.range(0, self.p.max_delay);
                    if let Some(conn) = self.conn.as_mut() {
                        conn.to_primary.send(self.now, delay, bytes);
                    }
                }
                ReplicaEvent::SnapshotBegin { replid } => {
                    self.loading = Some(Vec::new());
                    self.loading_replid = Some(replid);
                }
                ReplicaEvent::SnapshotChunk { bytes, .. } => match self.loading.as_mut() {
                    Some(loading) => loading.extend_from_slice(&bytes),
                    None => return Err("chunk outside a snapshot".into()),
                },
                ReplicaEvent::SnapshotEnd { offset } => {
                    let loaded = deserialize(&self.loading.take().ok_or("end without begin")?)?;
                    let expected: Vec<_> = self
                        .history_of(self.loading_replid)
                        .ok_or("snapshot of an unknown history")?
                        .get(..loaded.len())
                        .ok_or("snapshot longer than the primary's history")?
                        .iter()
                        .map(|(o, b, _)| (*o, b.clone()))
                        .collect();
                    if loaded != expected {
                        return Err("snapshot differs from the primary's history".into());
                    }
                    self.data = loaded;
                    self.data_replid = self.loading_replid;
                    if self.data_end() != offset || !self.link.mark_applied(offset) {
                        return Err(format!("snapshot ends at {} not {offset}", self.data_end()));
                    }
                }
                // This simulation's primary marks no transactions.
                ReplicaEvent::CoveredTransactions { .. } => {}
                ReplicaEvent::SnapshotAborted => self.loading = None,
                ReplicaEvent::Apply { offset, bytes } => {
                    self.push_assembler(offset, None, bytes)?
                }
                ReplicaEvent::TransactionPart {
                    offset,
                    mark,
                    bytes,
                } => self.push_assembler(offset, Some(mark), bytes)?,
                ReplicaEvent::Resumed { replid, .. } => {
                    if Some(replid) != self.data_replid {
                        return Err(format!(
                            "resumed {replid} onto data of {:?}",
                            self.data_replid
                        ));
                    }
                }
            }
        }
        if let Some((_, applied)) = self.link.applied() {
            if applied != self.data_end() {
                return Err(format!(
                    "applied {applied} but data ends at {}",
                    self.data_end()
                ));
            }
        }
        Ok(())
    }

    pub fn push_assembler(
        &mut self,
        offset: u64,
        mark: Option<TxnMark>,
        bytes: Vec<u8>,
    ) -> Result<(), String> {
        self.assembler
            .push(0, offset, mark, bytes)
            .map_err(|error| error.to_string())?;
        while let Some(step) = self.assembler.poll_step() {
            let writes = match step {
                ApplyStep::Apply { offset, bytes, .. } => vec![(offset, bytes)],
                ApplyStep::ApplyTransaction { parts, .. } => {
                    self.stats.transactions += 1;
                    parts
                        .into_iter()
                        .map(|part| (part.offset, part.bytes))
                        .collect()
                }
            };
            for (offset, bytes) in writes {
                let index = self.data.len();
                let history = self
                    .history_of(self.data_replid)
                    .ok_or("data of no history")?;
                let Some((want_offset, want_bytes, _)) = history.get(index) else {
                    return Err(format!(
                        "applied a write at {offset} the primary never made"
                    ));
                };
                if (offset, &bytes) != (*want_offset, want_bytes) {
                    return Err(format!(
                        "write #{index}: got offset {offset}, want {want_offset}"
                    ));
                }
                self.data.push((offset, bytes));
                if !self.link.mark_applied(self.data_end()) {
                    return Err(format!("link refused applied offset {}", self.data_end()));
                }
            }
        }
        Ok(())
    }

    pub fn converged(&self) -> bool {
        self.data_replid == Some(self.replid)
            && self.data.len() == self.history.len()
            && self
                .conn
                .as_ref()
                .is_some_and(|conn| conn.pump.acked_offset() == Some(self.backlog.next_offset()))
    }
}
