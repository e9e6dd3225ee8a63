//! Blocking commands in the shard core: the origin side (parking a
//! connection, the arbiter's decisions, replies, timeouts, `CLIENT
//! UNBLOCK`, disconnects) and the messages between shards.
//!
//! Data flow: a blocking call reserves its connection's reply slot (later
//! commands of the connection wait, as in Redis) and hands its keys to
//! this shard's [`Origin`], the sole arbiter of the call. The origin's
//! actions become [`BlockHop`]s to each key's shard (`blocking_target`
//! handles them there); hops for this shard's own keys go through a local
//! queue drained in the same call, without the mesh, so a call whose keys
//! are all here is answered before `start_block` returns when a key has
//! data. The answer fills the reply slot and the connection resumes
//! (`blocking_origin` turns the arbiter's actions into hops and replies).
//!
//! Hops that read or change the keyspace wait while the shard is locked by
//! a coordinated command, like every other keyspace request. Nothing is
//! paid by other commands when no client blocks: the write hook is one
//! emptiness check.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use kevy_blocking::{BlockOptions, Origin, TargetWaiters, UnblockAs, WaiterId};
use kevy_transport::ConnId;

use super::blocking_target::{TargetSpec, TargetSpecs};
use super::conn::ReplySlot;
use super::mesh::Hop;
use super::ShardCore;
use crate::cmd::blocking::{BlockRequest, Serve, WaitKind};
use crate::cmd::CommandSpec;
use crate::resp::Argv;

/// The connection id of a coordinated command run to serve a blocked call
/// (no connection has it: its reply goes to the blocking origin).
pub const SERVE_CONN: ConnId = ConnId::MAX;

/// Whether `conn` is parked by a blocking command (`CLIENT LIST`'s `b`):
/// its replies wait and its last command is a blocking one.
pub fn is_parked(conn: &super::Conn) -> bool {
    conn.waiting_coordination
        && crate::cmd::lookup(conn.last_command.as_bytes())
            .is_some_and(|spec| spec.flags.contains(&"blocking"))
}

/// A key as blocking names it: its database (4 bytes) then its bytes.
pub fn wait_key(db: usize, key: &[u8]) -> Box<[u8]> {
    let mut bytes = Vec::with_capacity(4 + key.len());
    bytes.extend_from_slice(&(db as u32).to_le_bytes());
    bytes.extend_from_slice(key);
    bytes.into()
}

pub fn split_wait_key(wait_key: &[u8]) -> (usize, &[u8]) {
    let (db, key) = wait_key.split_at(4);
    let db = u32::from_le_bytes(db.try_into().expect("a wait key starts with 4 db bytes"));
    (db as usize, key)
}

/// Messages of the blocking protocol between shards.
pub enum BlockHop {
    /// Register `waiter` on `key` (idempotent); answer `Armed`.
    Arm {
        waiter: WaiterId,
        key: Box<[u8]>,
        spec: Box<TargetSpec>,
    },
    Armed {
        waiter: WaiterId,
        key: Box<[u8]>,
        ready: bool,
    },
    /// A write gave `key` data for `waiter`.
    Ready {
        waiter: WaiterId,
        key: Box<[u8]>,
    },
    /// Pop from `key` for `waiter` if it is its turn; answer `Served`.
    Serve {
        waiter: WaiterId,
        key: Box<[u8]>,
    },
    /// The serve's reply; None when there was nothing to pop.
    Served {
        waiter: WaiterId,
        reply: Option<Vec<u8>>,
    },
    Cancel {
        waiter: WaiterId,
        key: Box<[u8]>,
    },
}

impl BlockHop {
    /// Whether the hop reads or changes the keyspace (waits for a lock).
    fn touches_keyspace(&self) -> bool {
        matches!(
            self,
            BlockHop::Arm { .. } | BlockHop::Serve { .. } | BlockHop::Cancel { .. }
        )
    }
}

/// A connection parked on this shard.
pub(super) struct Parked {
    pub(super) conn: ConnId,
    pub(super) client_id: u64,
    pub(super) seq: u64,
    pub(super) resp3: bool,
    /// The kinds of the origin's keys, by wait key.
    pub(super) kinds: HashMap<Box<[u8]>, WaitKind>,
    pub(super) serve: Arc<Serve>,
    /// Counted in `blocked_clients` (false once the client left).
    pub(super) counted: bool,
}

/// A shard's blocking state: both sides of the arbiter.
pub struct ShardBlocking {
    pub(super) origin: Origin<Vec<u8>>,
    pub(super) target: TargetWaiters,
    pub(super) specs: TargetSpecs,
    pub(super) parked: HashMap<u64, Parked>,
    pub(super) by_conn: HashMap<ConnId, u64>,
    /// Hops to this shard, handled before the entry point returns.
    local: VecDeque<BlockHop>,
    draining: bool,
    /// Running the input of answered connections.
    resuming: bool,
    /// Scratch for the write hook: key positions and a wait key.
    positions: Vec<usize>,
    wait_key: Vec<u8>,
    /// Connections answered during the current entry point, to resume.
    pub(super) resume: Vec<ConnId>,
    /// Inside `start_block`: its connection resumes by itself.
    pub(super) starting: Option<ConnId>,
}

impl ShardBlocking {
    pub fn new(shard: usize) -> Self {
        ShardBlocking {
            origin: Origin::new(shard),
            target: TargetWaiters::new(),
            specs: HashMap::new(),
            parked: HashMap::new(),
            by_conn: HashMap::new(),
            local: VecDeque::new(),
            draining: false,
            resuming: false,
            positions: Vec::new(),
            wait_key: Vec::new(),
            resume: Vec::new(),
            starting: None,
        }
    }

    /// Someone waits on a key of this shard.
    pub fn watching(&self) -> bool {
        self.target.watched_keys() > 0
    }
}

impl ShardCore {
    /// The time of the current batch (unix ms), as handlers see it.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Parks connection `id` on `request` (`no_block`: answer at once
    /// when no key has data, as inside `MULTI`).
    pub(crate) fn start_block(&mut self, id: ConnId, request: BlockRequest, no_block: bool) {
        let Some((reply_to, db, resp3)) = self.reply_to(id, ReplySlot::Pending) else {
            return;
        };
        if let Some(conn) = self.conn(id) {
            conn.waiting_coordination = true;
        }
        let mut kinds = HashMap::new();
        let mut keys = Vec::with_capacity(request.keys.len());
        for (key, kind) in request.keys {
            let shard = self.shared.slots.shard_of(&key);
            let wait = wait_key(db, &key);
            kinds.entry(wait.clone()).or_insert(kind);
            keys.push((shard, wait));
        }
        let options = BlockOptions {
            deadline: request.deadline,
            no_block,
            // XREAD serves every stream that has data when it need not wait.
            collect: matches!(
                *request.serve,
                Serve::XRead { .. } | Serve::XReadGroup { .. }
            ),
        };
        let mut out = Vec::new();
        let block = self.blocking.origin.block(keys, options, &mut out);
        self.blocking.parked.insert(
            block,
            Parked {
                conn: id,
                client_id: reply_to.client_id,
                seq: reply_to.seq,
                resp3,
                kinds,
                serve: request.serve,
                counted: true,
            },
        );
        self.blocking.by_conn.insert(id, block);
        self.shared.blocked_clients.fetch_add(1, Ordering::Relaxed);
        self.blocking.starting = Some(id);
        self.run_origin_actions(out);
        self.drain_blocking();
        self.blocking.starting = None;
    }

    /// The `XREAD`/`XREADGROUP ... BLOCK` entry: true when the call was
    /// taken as a blocking one (otherwise the ordinary handler runs).
    pub(super) fn try_block_stream(&mut self, id: ConnId, index: usize, argv: Argv) -> bool {
        let Some(Ok(request)) = crate::cmd::blocking::stream::parse_block(argv, self.now_ms) else {
            return false;
        };
        self.stats.counter(index).calls += 1;
        self.start_block(id, request, false);
        self.mark_dirty(id);
        true
    }

    /// Sends a blocking hop; this shard's own go to the local queue.
    pub(super) fn send_block(&mut self, shard: usize, hop: BlockHop) {
        if shard == self.id {
            self.blocking.local.push_back(hop);
        } else {
            self.mesh.send(shard, Hop::Block(hop));
        }
    }

    /// A blocking hop from another shard (or replayed after a lock).
    pub(super) fn on_block_hop(&mut self, hop: BlockHop) {
        self.blocking.local.push_back(hop);
        self.drain_blocking();
    }

    /// Handles queued local hops until none is left, then resumes the
    /// connections that were answered.
    pub(super) fn drain_blocking(&mut self) {
        if self.blocking.draining {
            return;
        }
        self.blocking.draining = true;
        while let Some(hop) = self.blocking.local.pop_front() {
            if hop.touches_keyspace() && self.lock.is_held() {
                self.lock.defer(Hop::Block(hop));
                continue;
            }
            self.handle_block_hop(hop);
        }
        self.blocking.draining = false;
        // Resumed connections may wake others in turn: they queue up and
        // this loop runs them, so the wake-ups never nest deeper.
        if self.blocking.resuming {
            return;
        }
        self.blocking.resuming = true;
        while let Some(id) = self.blocking.resume.pop() {
            self.process_input(id, &[]);
        }
        self.blocking.resuming = false;
    }

    fn handle_block_hop(&mut self, hop: BlockHop) {
        let mut out = Vec::new();
        match hop {
            BlockHop::Arm { waiter, key, spec } => self.target_arm(waiter, key, *spec),
            BlockHop::Serve { waiter, key } => self.target_serve(waiter, key),
            BlockHop::Cancel { waiter, key } => self.target_cancel(waiter, key),
            BlockHop::Armed { waiter, key, ready } => {
                self.blocking
                    .origin
                    .on_armed(waiter.block, &key, ready, &mut out)
            }
            BlockHop::Ready { waiter, key } => {
                self.blocking.origin.on_ready(waiter.block, &key, &mut out)
            }
            BlockHop::Served { waiter, reply } => {
                self.blocking
                    .origin
                    .on_served(waiter.block, reply, &mut out);
                self.run_origin_actions(out);
                self.forget_if_ended(waiter.block);
                return;
            }
        }
        self.run_origin_actions(out);
    }

    /// A block that ended without a reply (its client left) is forgotten.
    pub(super) fn forget_if_ended(&mut self, block: u64) {
        if self.blocking.origin.keys_of(block).is_none() {
            self.blocking.parked.remove(&block);
        }
    }

    /// The client of connection `id` is gone (EOF, closed, killed): its
    /// block ends and every registration is cancelled.
    pub(super) fn blocking_disconnect(&mut self, id: ConnId) {
        let Some(block) = self.blocking.by_conn.remove(&id) else {
            return;
        };
        let mut out = Vec::new();
        self.blocking.origin.disconnect(block, &mut out);
        let slot = self.blocking.parked.get_mut(&block).map(|parked| {
            let counted = std::mem::replace(&mut parked.counted, false);
            (parked.client_id, parked.seq, counted)
        });
        self.forget_if_ended(block);
        if let Some((client_id, seq, counted)) = slot {
            if counted {
                self.shared.blocked_clients.fetch_sub(1, Ordering::Relaxed);
            }
            // The reply slot is released empty, so the connection can close
            // (the caller closes it: no second close is queued from here).
            if let Some(conn) = self.conn(id) {
                if conn.client_id == client_id {
                    conn.waiting_coordination = false;
                    conn.fill_pending(seq, &[]);
                    conn.release_ready();
                }
            }
        }
        self.run_origin_actions(out);
        self.drain_blocking();
    }

    /// `CLIENT UNBLOCK` for this shard's client `client_id`: whether it
    /// was blocked.
    pub(super) fn blocking_unblock(&mut self, client_id: u64, error: bool) -> bool {
        let found = self.blocking.by_conn.values().copied().find(|block| {
            self.blocking
                .parked
                .get(block)
                .is_some_and(|parked| parked.client_id == client_id)
        });
        let Some(block) = found else {
            return false;
        };
        let how = if error {
            UnblockAs::Error
        } else {
            UnblockAs::Timeout
        };
        let mut out = Vec::new();
        let unblocked = self.blocking.origin.unblock(block, how, &mut out);
        self.run_origin_actions(out);
        self.drain_blocking();
        unblocked
    }

    /// Times out the blocks whose deadline has passed (the shard's tick).
    pub(super) fn blocking_tick(&mut self) {
        if self.blocking.parked.is_empty() {
            return;
        }
        self.now_ms = super::unix_ms();
        let mut out = Vec::new();
        self.blocking.origin.expire(self.now_ms, &mut out);
        self.run_origin_actions(out);
        self.drain_blocking();
    }

    /// After a keyspace command ran here while someone waits on a key of
    /// this shard: tells the waiters of its keys (every command, not only
    /// those flagged `write`: container commands such as `XGROUP DESTROY`
    /// carry no flag; "has data" decides).
    pub(super) fn blocking_command_wrote(&mut self, db: usize, spec: &CommandSpec, argv: Argv) {
        if !self.blocking.watching() {
            return;
        }
        // Scratch buffers: no allocation per command while clients wait.
        let mut positions = std::mem::take(&mut self.blocking.positions);
        let mut wait = std::mem::take(&mut self.blocking.wait_key);
        spec.key_positions(argv, &mut positions);
        for &position in &positions {
            let key = argv.get(position);
            wait.clear();
            wait.extend_from_slice(&(db as u32).to_le_bytes());
            wait.extend_from_slice(key);
            if self.blocking.target.is_watched(&wait) {
                self.target_key_written(&wait);
            }
        }
        self.blocking.positions = positions;
        self.blocking.wait_key = wait;
        self.keys_moved_between_databases(db, spec, argv);
        self.drain_blocking();
    }

    /// `MOVE key db` adds the key to another database and `SWAPDB` swaps
    /// whole databases: Redis serves the clients blocked there too.
    fn keys_moved_between_databases(&mut self, db: usize, spec: &CommandSpec, argv: Argv) {
        match spec.name {
            "move" if argv.len() == 3 => {
                let Some(to) = crate::resp::num::parse_i64(argv.get(2)) else {
                    return;
                };
                if to >= 0 && to as usize != db {
                    self.target_key_written(&wait_key(to as usize, argv.get(1)));
                }
            }
            "swapdb" => {
                let watched: Vec<Box<[u8]>> = self.blocking.specs.keys().cloned().collect();
                for key in watched {
                    self.target_key_written(&key);
                }
            }
            _ => {}
        }
    }

    /// Someone waits on a key of this shard (the write hooks' only cost).
    pub(super) fn blocking_watches(&self) -> bool {
        self.blocking.watching()
    }

    /// After a coordinated command wrote `key` here.
    pub(super) fn blocking_key_written(&mut self, db: usize, key: &[u8]) {
        if self.blocking.watching() {
            self.target_key_written(&wait_key(db, key));
            self.drain_blocking();
        }
    }
}
