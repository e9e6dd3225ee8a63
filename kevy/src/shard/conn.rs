//! One client connection's state inside its shard: input not yet parsed,
//! output not yet written, the replies it still waits for, and the session
//! settings (protocol, database, name, authentication).
//!
//! Replies leave in command order. While no reply is outstanding, a local
//! command writes straight into `output`; once one is (a hop to another
//! shard, a gather, a coordinated operation), later replies queue in
//! `slots` and are released from the front as they complete.

use std::collections::VecDeque;
use std::net::SocketAddr;

use super::gather::Merge;
use super::query::Answer;
use crate::resp::ReplyBuf;

/// Output past which the connection stops executing new commands until
/// the backend has written it (input is still buffered).
pub const OUTPUT_PAUSE_BYTES: usize = 64 * 1024 * 1024;

/// A reply that is not (entirely) known yet.
pub enum ReplySlot {
    /// Waiting for one reply from another shard.
    Pending,
    /// Waiting for several parts to merge.
    Gathering(GatherState),
    /// Waiting for every shard's answer to a query.
    Querying(QueryGather),
    /// Complete, waiting for the replies before it.
    Ready(Vec<u8>),
}

/// Formats the reply of a query from every shard's answer (in shard order).
pub type QueryFinish = Box<dyn FnOnce(Vec<Answer>, &mut ReplyBuf)>;

/// Answers to a query sent to every shard, received so far.
pub struct QueryGather {
    pub missing: usize,
    pub answers: Vec<Option<Answer>>,
    pub resp3: bool,
    pub finish: Option<QueryFinish>,
}

/// Parts of a scattered command received so far.
pub struct GatherState {
    pub kind: Merge,
    pub missing: usize,
    pub resp3: bool,
    /// Received parts, by part number.
    pub parts: Vec<Option<Vec<u8>>>,
    /// For [`Gather::ByKeyPosition`]: the output position of each element of
    /// each part.
    pub positions: Vec<Vec<usize>>,
    pub total: usize,
}

pub struct Conn {
    pub client_id: u64,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub input: Vec<u8>,
    /// Do not try to parse again before `input` holds this many bytes.
    pub input_need: usize,
    pub output: Vec<u8>,
    pub output_sent: usize,
    /// Queued in the shard's dirty list since the output last grew.
    pub dirty: bool,
    /// Replies owed, in command order: `slots[i]` is command `first_slot + i`.
    pub slots: VecDeque<ReplySlot>,
    pub first_slot: u64,
    pub resp3: bool,
    pub db: usize,
    pub authenticated: bool,
    pub name: Vec<u8>,
    pub lib_name: Vec<u8>,
    pub lib_ver: Vec<u8>,
    /// Close once every owed reply is written (QUIT, protocol error, EOF).
    pub close_after_replies: bool,
    /// The peer sent EOF.
    pub eof: bool,
    /// A coordinated multi-shard operation is in flight: later commands wait.
    pub waiting_coordination: bool,
    /// Unix ms of creation and of the last command, for `CLIENT LIST`.
    pub created_ms: u64,
    pub last_command_ms: u64,
    pub last_command: &'static str,
    /// Since when (unix ms) the pending output has been over the soft
    /// `client-output-buffer-limit`; None while under it.
    pub over_soft_limit_since_ms: Option<u64>,
    /// `MULTI` queue and `WATCH` stamps.
    pub tx: super::multi::ConnTx,
}

impl Conn {
    pub fn new(
        client_id: u64,
        peer: SocketAddr,
        local: SocketAddr,
        now_ms: u64,
        authenticated: bool,
    ) -> Self {
        Conn {
            client_id,
            peer,
            local,
            input: Vec::new(),
            input_need: 0,
            output: Vec::new(),
            output_sent: 0,
            dirty: false,
            slots: VecDeque::new(),
            first_slot: 0,
            resp3: false,
            db: 0,
            authenticated,
            name: Vec::new(),
            lib_name: Vec::new(),
            lib_ver: Vec::new(),
            close_after_replies: false,
            eof: false,
            waiting_coordination: false,
            created_ms: now_ms,
            last_command_ms: now_ms,
            last_command: "NULL",
            over_soft_limit_since_ms: None,
            tx: Default::default(),
        }
    }

    pub fn pending_output(&self) -> &[u8] {
        &self.output[self.output_sent..]
    }

    pub fn consume_output(&mut self, n: usize) {
        self.output_sent += n;
        if self.output_sent >= self.output.len() {
            self.output.clear();
            self.output_sent = 0;
        }
    }

    pub fn output_len(&self) -> usize {
        self.output.len() - self.output_sent
    }

    /// No reply is owed: nothing queued, nothing pending.
    pub fn owes_nothing(&self) -> bool {
        self.slots.is_empty() && !self.waiting_coordination
    }

    /// Reserves the next reply position for a reply that will come later;
    /// returns its sequence number.
    pub fn reserve_slot(&mut self, slot: ReplySlot) -> u64 {
        self.slots.push_back(slot);
        self.first_slot + self.slots.len() as u64 - 1
    }

    /// Where the reply of a command completing now goes: straight to the
    /// output when nothing is owed before it, else into a new ready slot.
    pub fn reply_buffer(&mut self) -> &mut Vec<u8> {
        if self.slots.is_empty() {
            &mut self.output
        } else {
            self.slots.push_back(ReplySlot::Ready(Vec::new()));
            match self.slots.back_mut() {
                Some(ReplySlot::Ready(buf)) => buf,
                _ => unreachable!("a ready slot was pushed just above"),
            }
        }
    }

    pub fn slot_mut(&mut self, seq: u64) -> Option<&mut ReplySlot> {
        let index = seq.checked_sub(self.first_slot)?;
        self.slots.get_mut(index as usize)
    }

    /// Fills the pending slot `seq` with `bytes`. When it is the front slot
    /// the bytes go straight to the output (no copy into a slot). Returns
    /// false when `seq` is not a pending slot.
    pub fn fill_pending(&mut self, seq: u64, bytes: &[u8]) -> bool {
        if seq == self.first_slot && matches!(self.slots.front(), Some(ReplySlot::Pending)) {
            self.slots.pop_front();
            self.first_slot += 1;
            self.output.extend_from_slice(bytes);
            self.release_ready();
            return true;
        }
        match self.slot_mut(seq) {
            Some(slot @ ReplySlot::Pending) => {
                *slot = ReplySlot::Ready(bytes.to_vec());
                true
            }
            _ => false,
        }
    }

    /// Moves completed replies at the front into the output. Returns true
    /// when the output grew.
    pub fn release_ready(&mut self) -> bool {
        let mut grew = false;
        while let Some(ReplySlot::Ready(_)) = self.slots.front() {
            if let Some(ReplySlot::Ready(bytes)) = self.slots.pop_front() {
                if self.output.is_empty() {
                    self.output = bytes;
                    self.output_sent = 0;
                } else {
                    self.output.extend_from_slice(&bytes);
                }
                grew = true;
            }
            self.first_slot += 1;
        }
        grew
    }
}
