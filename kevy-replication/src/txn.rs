//! Assembly of cross-shard transactions on a replica.
//!
//! Data flow: a replica has one link per primary shard (a "stream"). Each
//! link's writes and transaction parts go in, in stream order
//! ([`TxnAssembler::push`]); [`ApplyStep`]s come out
//! ([`TxnAssembler::poll_step`]): a plain write as soon as nothing is held
//! before it on its stream, a transaction once every one of its parts has
//! arrived and each stands first in its stream, as one step.
//!
//! Order: a stream whose next item is an incomplete transaction part holds
//! everything after it, so no later write overtakes the transaction (the
//! primary locked the shards, so transactions touching the same shards
//! appear in the same order in each stream, and waiting cannot deadlock).
//! Limits: held bytes are capped; a primary whose parts never complete
//! fails the assembly instead of growing memory.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::frame::TxnMark;
use crate::ReplicationError;

/// One stream's part of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnPart {
    pub stream: usize,
    pub offset: u64,
    pub bytes: Vec<u8>,
}

impl TxnPart {
    /// The stream offset after this part (what the link acknowledges).
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.bytes.len() as u64)
    }
}

/// What the replica applies next, as one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyStep {
    Apply {
        stream: usize,
        offset: u64,
        bytes: Vec<u8>,
    },
    /// Every part of transaction `id`, by stream.
    ApplyTransaction { id: u64, parts: Vec<TxnPart> },
}

enum Held {
    Write { offset: u64, bytes: Vec<u8> },
    Part { part: TxnPart, mark: TxnMark },
}

impl Held {
    fn len(&self) -> usize {
        match self {
            Held::Write { bytes, .. } => bytes.len(),
            Held::Part { part, .. } => part.bytes.len(),
        }
    }
}

struct Pending {
    parts: u16,
    /// Streams whose part has arrived.
    arrived: Vec<usize>,
    /// Streams whose part is inside the snapshot they loaded: it counts as
    /// arrived and applied.
    covered: Vec<usize>,
}

/// Holds transaction parts until complete, across a replica's streams.
pub struct TxnAssembler {
    streams: Vec<VecDeque<Held>>,
    pending: HashMap<u64, Pending>,
    held_bytes: usize,
    max_held_bytes: usize,
    ready: VecDeque<ApplyStep>,
    /// Per stream: transactions whose part that stream's snapshot holds.
    covered: Vec<HashSet<u64>>,
}

impl TxnAssembler {
    /// An assembler over `streams` streams holding at most
    /// `max_held_bytes` payload bytes while waiting for parts.
    pub fn new(streams: usize, max_held_bytes: usize) -> Self {
        TxnAssembler {
            streams: (0..streams).map(|_| VecDeque::new()).collect(),
            pending: HashMap::new(),
            held_bytes: 0,
            max_held_bytes,
            ready: VecDeque::new(),
            covered: (0..streams).map(|_| HashSet::new()).collect(),
        }
    }

    /// `stream` loaded a snapshot that holds its part of each transaction
    /// in `ids` (a primary's shards freeze their snapshots at different
    /// moments, so another stream may still deliver its part as a frame):
    /// those parts count as arrived. Replaces what an earlier snapshot of
    /// the stream covered.
    pub fn covered_by_snapshot(&mut self, stream: usize, ids: &[u64]) {
        let Some(set) = self.covered.get_mut(stream) else {
            return;
        };
        *set = ids.iter().copied().collect();
        for (id, pending) in &mut self.pending {
            if set.contains(id)
                && !pending.arrived.contains(&stream)
                && !pending.covered.contains(&stream)
            {
                pending.covered.push(stream);
            }
        }
        self.release();
    }

    /// Takes the next write (`txn: None`) or transaction part of `stream`.
    pub fn push(
        &mut self,
        stream: usize,
        offset: u64,
        txn: Option<TxnMark>,
        bytes: Vec<u8>,
    ) -> Result<(), ReplicationError> {
        let streams = self.streams.len();
        let Some(queue) = self.streams.get_mut(stream) else {
            return Err(ReplicationError::UnknownStream { stream, streams });
        };
        let Some(mark) = txn else {
            if queue.is_empty() {
                self.ready.push_back(ApplyStep::Apply {
                    stream,
                    offset,
                    bytes,
                });
                return Ok(());
            }
            return self.hold(stream, Held::Write { offset, bytes });
        };
        if usize::from(mark.parts) > streams || mark.parts == 0 {
            return Err(ReplicationError::TxnTooManyParts {
                id: mark.id,
                parts: mark.parts,
                streams,
            });
        }
        let covered = &self.covered;
        let pending = self.pending.entry(mark.id).or_insert_with(|| Pending {
            parts: mark.parts,
            arrived: Vec::new(),
            covered: (0..covered.len())
                .filter(|&s| s != stream && covered[s].contains(&mark.id))
                .collect(),
        });
        if pending.parts != mark.parts || pending.arrived.contains(&stream) {
            return Err(ReplicationError::TxnInconsistent { id: mark.id });
        }
        // A real part replaces a covered one (never both counted).
        pending.covered.retain(|&covered| covered != stream);
        pending.arrived.push(stream);
        let part = TxnPart {
            stream,
            offset,
            bytes,
        };
        self.hold(stream, Held::Part { part, mark })?;
        self.release();
        Ok(())
    }

    fn hold(&mut self, stream: usize, item: Held) -> Result<(), ReplicationError> {
        let held = self.held_bytes.saturating_add(item.len());
        if held > self.max_held_bytes {
            return Err(ReplicationError::TxnHoldOverflow {
                held,
                max: self.max_held_bytes,
            });
        }
        self.held_bytes = held;
        self.streams[stream].push_back(item);
        Ok(())
    }

    /// Moves every releasable item to `ready`, until nothing changes.
    fn release(&mut self) {
        loop {
            let mut progressed = false;
            for stream in 0..self.streams.len() {
                while let Some(Held::Write { .. }) = self.streams[stream].front() {
                    if let Some(Held::Write { offset, bytes }) = self.streams[stream].pop_front() {
                        self.held_bytes -= bytes.len();
                        self.ready.push_back(ApplyStep::Apply {
                            stream,
                            offset,
                            bytes,
                        });
                        progressed = true;
                    }
                }
                if let Some(Held::Part { mark, .. }) = self.streams[stream].front() {
                    let id = mark.id;
                    if self.complete_at_heads(id) {
                        self.release_transaction(id);
                        progressed = true;
                    }
                }
            }
            if !progressed {
                return;
            }
        }
    }

    fn complete_at_heads(&self, id: u64) -> bool {
        let Some(pending) = self.pending.get(&id) else {
            return false;
        };
        usize::from(pending.parts) <= pending.arrived.len() + pending.covered.len()
            && pending.arrived.iter().all(|&stream| {
                matches!(self.streams[stream].front(), Some(Held::Part { mark, .. }) if mark.id == id)
            })
    }

    fn release_transaction(&mut self, id: u64) {
        let Some(pending) = self.pending.remove(&id) else {
            return;
        };
        let mut parts = Vec::with_capacity(pending.arrived.len());
        for stream in pending.arrived {
            if let Some(Held::Part { part, .. }) = self.streams[stream].pop_front() {
                self.held_bytes -= part.bytes.len();
                parts.push(part);
            }
        }
        parts.sort_by_key(|part| part.stream);
        self.ready
            .push_back(ApplyStep::ApplyTransaction { id, parts });
    }

    /// Forgets what `stream` holds: its link reconnected and will deliver
    /// again from its applied offset. Drain [`Self::poll_step`] (and apply
    /// and mark what it gives) first: steps already released stay released,
    /// and the link resumes after what was marked applied.
    pub fn reset_stream(&mut self, stream: usize) {
        let Some(queue) = self.streams.get_mut(stream) else {
            return;
        };
        for item in queue.drain(..) {
            self.held_bytes -= item.len();
            if let Held::Part { mark, .. } = item {
                if let Some(pending) = self.pending.get_mut(&mark.id) {
                    pending.arrived.retain(|&arrived| arrived != stream);
                    if pending.arrived.is_empty() {
                        self.pending.remove(&mark.id);
                    }
                }
            }
        }
        self.release();
    }

    /// The next step to apply, in an order that keeps each stream's order.
    pub fn poll_step(&mut self) -> Option<ApplyStep> {
        self.ready.pop_front()
    }

    /// Payload bytes held waiting for transaction parts.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }
}

#[cfg(test)]
mod tests;
