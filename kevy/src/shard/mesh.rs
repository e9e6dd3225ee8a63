//! Messages between shards ("hops") and the mesh that carries them.
//!
//! Every ordered pair of shards has its own SPSC ring (rtrb), so sending
//! never takes a lock and each pair's messages arrive in the order they
//! were sent. Messages are queued in a per-target outbox while the loop
//! iteration runs and pushed in one batch at its end; a target's doorbell
//! (its backend's waker) rings only if the target said it was parking, and
//! at most once per iteration. Messages a shard sends to itself skip the
//! rings.

use std::collections::VecDeque;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;

use kevy_transport::{ConnId, Waker};

use super::coord::{TxId, TxOp, TxOut};
use super::query::{Answer, Query};
use crate::resp::{Argv, OwnedArgv};

/// Slots per ring. A full ring keeps the rest in the sender's outbox.
pub const RING_CAPACITY: usize = 16 * 1024;

/// Where a reply goes: a command of a connection on the origin shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyTo {
    pub shard: usize,
    pub conn: ConnId,
    /// Tells a reused `ConnId` from the connection that asked.
    pub client_id: u64,
    pub seq: u64,
    /// Part number within a scattered command.
    pub part: usize,
}

/// One command inside an [`ExecBatch`].
pub struct BatchedRequest {
    pub reply_to: ReplyTo,
    pub db: usize,
    pub resp3: bool,
    first_arg: u32,
    argc: u32,
}

/// The commands one shard sends another during one loop iteration, with
/// their arguments in one buffer: one message, three allocations, however
/// many commands.
#[derive(Default)]
pub struct ExecBatch {
    pub requests: Vec<BatchedRequest>,
    args: Vec<u8>,
    ranges: Vec<(u32, u32)>,
}

impl ExecBatch {
    fn push(&mut self, reply_to: ReplyTo, db: usize, resp3: bool, argv: Argv) {
        let first_arg = self.ranges.len() as u32;
        for arg in argv.iter() {
            let start = self.args.len() as u32;
            self.args.extend_from_slice(arg);
            self.ranges.push((start, self.args.len() as u32));
        }
        self.requests.push(BatchedRequest {
            reply_to,
            db,
            resp3,
            first_arg,
            argc: argv.len() as u32,
        });
    }

    /// The arguments of request `index`.
    pub fn argv(&self, index: usize) -> Argv<'_> {
        let request = &self.requests[index];
        let first = request.first_arg as usize;
        Argv::new(
            &self.args,
            &self.ranges[first..first + request.argc as usize],
        )
    }
}

/// Replies to an [`ExecBatch`]: each reply's end offset in `bytes`.
#[derive(Default)]
pub struct ReplyBatch {
    pub replies: Vec<(ReplyTo, u32)>,
    pub bytes: Vec<u8>,
}

/// A message between shards.
pub enum Hop {
    /// Run commands on the target's keyspace, reply with a `ReplyBatch`.
    ExecBatch(ExecBatch),
    ReplyBatch(ReplyBatch),
    /// Run a command on the target's keyspace and reply with its RESP bytes.
    Exec {
        reply_to: ReplyTo,
        db: usize,
        resp3: bool,
        argv: OwnedArgv,
    },
    /// The RESP bytes of an `Exec`'s reply.
    Reply {
        reply_to: ReplyTo,
        bytes: Vec<u8>,
    },
    /// A question about the shard's state (stats, clients, config).
    Query {
        reply_to: ReplyTo,
        query: Query,
    },
    Answer {
        reply_to: ReplyTo,
        answer: Answer,
    },
    /// Lock the target for a coordinated operation, then run `ops`.
    Lock {
        tx: TxId,
        ops: Vec<TxOp>,
    },
    /// Run `ops` under the lock, then release it.
    Finish {
        tx: TxId,
        ops: Vec<TxOp>,
    },
    /// Results of a `Lock` or `Finish`.
    TxDone {
        tx: TxId,
        shard: usize,
        results: Vec<TxOut>,
    },
    /// A message of the blocking protocol (`shard::blocking`).
    Block(super::blocking::BlockHop),
    /// A transaction message (`shard::multi`).
    Multi(super::multi::MultiHop),
}

/// A shard's doorbell: its waker, rung only when it is parked.
pub struct Doorbell {
    parked: AtomicBool,
    waker: Arc<dyn Waker>,
}

impl Doorbell {
    pub fn new(waker: Arc<dyn Waker>) -> Self {
        Doorbell {
            parked: AtomicBool::new(false),
            waker,
        }
    }

    /// Wakes the shard if it parked (or is about to).
    pub fn ring(&self) {
        fence(Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst) && self.parked.swap(false, Ordering::SeqCst) {
            self.waker.wake();
        }
    }

    /// Wakes the shard unconditionally (shutdown).
    pub fn ring_always(&self) {
        self.waker.wake();
    }
}

/// One shard's ends of the mesh.
pub struct Mesh {
    me: usize,
    /// `producers[t]` sends to shard `t` (none for `me`).
    producers: Vec<Option<rtrb::Producer<Hop>>>,
    /// `consumers[s]` receives from shard `s` (none for `me`).
    consumers: Vec<Option<rtrb::Consumer<Hop>>>,
    outbox: Vec<VecDeque<Hop>>,
    /// Commands and replies for each target, batched until the flush.
    open_execs: Vec<ExecBatch>,
    open_replies: Vec<ReplyBatch>,
    local: VecDeque<Hop>,
    doorbells: Arc<[Doorbell]>,
}

/// Builds every shard's mesh end: `n × (n − 1)` rings.
pub fn build_mesh(doorbells: Arc<[Doorbell]>) -> Vec<Mesh> {
    let n = doorbells.len();
    let mut meshes: Vec<Mesh> = (0..n)
        .map(|me| Mesh {
            me,
            producers: (0..n).map(|_| None).collect(),
            consumers: (0..n).map(|_| None).collect(),
            outbox: (0..n).map(|_| VecDeque::new()).collect(),
            open_execs: (0..n).map(|_| ExecBatch::default()).collect(),
            open_replies: (0..n).map(|_| ReplyBatch::default()).collect(),
            local: VecDeque::new(),
            doorbells: doorbells.clone(),
        })
        .collect();
    for from in 0..n {
        for to in 0..n {
            if from != to {
                let (producer, consumer) = rtrb::RingBuffer::new(RING_CAPACITY);
                meshes[from].producers[to] = Some(producer);
                meshes[to].consumers[from] = Some(consumer);
            }
        }
    }
    meshes
}

impl Mesh {
    pub fn me(&self) -> usize {
        self.me
    }

    /// Queues `hop` for `target`; it leaves at [`Mesh::flush`], after the
    /// commands queued for `target` before it (a `PUBLISH` or `CONFIG SET`
    /// must not overtake a write its client sent first).
    pub fn send(&mut self, target: usize, hop: Hop) {
        if target == self.me {
            self.local.push_back(hop);
        } else {
            if !self.open_execs[target].requests.is_empty() {
                let batch = std::mem::take(&mut self.open_execs[target]);
                self.outbox[target].push_back(Hop::ExecBatch(batch));
            }
            self.outbox[target].push_back(hop);
        }
    }

    /// Queues a command for `target` in this iteration's batch.
    pub fn send_exec(
        &mut self,
        target: usize,
        reply_to: ReplyTo,
        db: usize,
        resp3: bool,
        argv: Argv,
    ) {
        if target == self.me {
            let argv = argv.to_owned();
            self.local.push_back(Hop::Exec {
                reply_to,
                db,
                resp3,
                argv,
            });
        } else {
            self.open_execs[target].push(reply_to, db, resp3, argv);
        }
    }

    /// The buffer this iteration's replies to `target` are written into;
    /// give it back with [`Mesh::end_reply`].
    pub fn take_reply_bytes(&mut self, target: usize) -> Vec<u8> {
        std::mem::take(&mut self.open_replies[target].bytes)
    }

    /// Records that `bytes` now ends with the reply for `reply_to`.
    pub fn end_reply(&mut self, target: usize, reply_to: ReplyTo, bytes: Vec<u8>) {
        let batch = &mut self.open_replies[target];
        batch.bytes = bytes;
        batch.replies.push((reply_to, batch.bytes.len() as u32));
    }

    /// Pushes every outbox into its ring and rings each target that got
    /// something, once. Returns true when something could not be pushed.
    pub fn flush(&mut self) -> bool {
        for target in 0..self.outbox.len() {
            if !self.open_execs[target].requests.is_empty() {
                let batch = std::mem::take(&mut self.open_execs[target]);
                self.outbox[target].push_back(Hop::ExecBatch(batch));
            }
            if !self.open_replies[target].replies.is_empty() {
                let batch = std::mem::take(&mut self.open_replies[target]);
                self.outbox[target].push_back(Hop::ReplyBatch(batch));
            }
        }
        let mut backlog = false;
        for target in 0..self.outbox.len() {
            if self.outbox[target].is_empty() {
                continue;
            }
            let Some(producer) = self.producers[target].as_mut() else {
                continue;
            };
            let mut pushed = false;
            while let Some(hop) = self.outbox[target].pop_front() {
                match producer.push(hop) {
                    Ok(()) => pushed = true,
                    Err(rtrb::PushError::Full(hop)) => {
                        self.outbox[target].push_front(hop);
                        backlog = true;
                        break;
                    }
                }
            }
            if pushed {
                self.doorbells[target].ring();
            }
        }
        backlog
    }

    /// Takes the next incoming message: self-sent first, then each ring.
    pub fn receive(&mut self, start: &mut usize) -> Option<Hop> {
        if let Some(hop) = self.local.pop_front() {
            return Some(hop);
        }
        let n = self.consumers.len();
        for i in 0..n {
            let source = (*start + i) % n;
            if let Some(consumer) = self.consumers[source].as_mut() {
                if let Ok(hop) = consumer.pop() {
                    *start = source;
                    return Some(hop);
                }
            }
        }
        None
    }

    /// True when a message is waiting or could not be sent yet.
    pub fn has_work(&self) -> bool {
        !self.local.is_empty()
            || self.outbox.iter().any(|q| !q.is_empty())
            || self.open_execs.iter().any(|b| !b.requests.is_empty())
            || self.open_replies.iter().any(|b| !b.replies.is_empty())
            || self.consumers.iter().flatten().any(|c| !c.is_empty())
    }

    /// Marks this shard parked unless work arrived meanwhile; returns
    /// whether it may sleep.
    pub fn park(&self) -> bool {
        let bell = &self.doorbells[self.me];
        bell.parked.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.has_work() {
            bell.parked.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    pub fn unpark(&self) {
        self.doorbells[self.me]
            .parked
            .store(false, Ordering::SeqCst);
    }

    pub fn doorbells(&self) -> &Arc<[Doorbell]> {
        &self.doorbells
    }
}
