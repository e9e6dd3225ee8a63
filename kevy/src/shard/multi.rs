//! `MULTI`/`EXEC`/`DISCARD`/`WATCH`/`UNWATCH` on the connection's shard.
//!
//! A connection in `MULTI` queues its commands (owned copies) and answers
//! `+QUEUED`; a command rejected while queuing (unknown, wrong arity, not
//! authenticated) marks the transaction aborted, so `EXEC` answers
//! `-EXECABORT`. `WATCH` registers each key on its shard (`watch`) and
//! keeps the stamps it got back in the connection. `EXEC` is planned in
//! `multi_exec`: run here, on one other shard in one step, or coordinated
//! under the shard locks. The messages between shards are [`MultiHop`]s.

use std::collections::BTreeMap;

use kevy_transport::ConnId;

use super::conn::ReplySlot;
use super::coord::{TxId, TxOp, TxOut};
use super::mesh::{Hop, ReplyTo};
use super::watch::WatchStamp;
use super::{ConnCtx, ShardCore};
use crate::cmd::CommandSpec;
use crate::resp::{Argv, OwnedArgv};

#[path = "multi_conn_cmds.rs"]
mod conn_cmds;
#[path = "multi_steps.rs"]
pub(super) mod steps;

const NESTED: &str = "ERR MULTI calls can not be nested";
const EXEC_WITHOUT_MULTI: &str = "ERR EXEC without MULTI";
const DISCARD_WITHOUT_MULTI: &str = "ERR DISCARD without MULTI";
const WATCH_IN_MULTI: &str = "ERR WATCH inside MULTI is not allowed";
pub(super) const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

/// Commands that run at once inside `MULTI` instead of being queued.
const NOT_QUEUED: &[&str] = &["exec", "discard", "multi", "watch", "quit", "reset"];

/// Scattered multi-key commands that are coordinated under the shard locks
/// when their keys span shards, so no observer (another `MGET`, a
/// transaction) sees one shard's part applied and not another's.
const COORDINATED_SCATTER: &[&str] = &["mget", "mset", "del", "unlink", "exists"];

pub(super) fn coordinated_scatter(spec: &CommandSpec) -> bool {
    COORDINATED_SCATTER.contains(&spec.name)
}

/// A connection's transaction state.
#[derive(Default)]
pub struct ConnTx {
    /// Between `MULTI` and `EXEC`/`DISCARD`.
    pub active: bool,
    /// A command was rejected while queuing: `EXEC` will abort.
    pub aborted: bool,
    pub queue: Vec<OwnedArgv>,
    pub watched: Vec<WatchStamp>,
    /// `WATCH` answers still expected from other shards.
    pub watch_pending: usize,
}

/// Transaction messages between shards.
#[derive(Debug)]
pub enum MultiHop {
    /// Register watches of `keys` (db, key) and answer `Watched`.
    Watch {
        reply_to: ReplyTo,
        keys: Vec<(usize, Vec<u8>)>,
    },
    Watched {
        reply_to: ReplyTo,
        shard: usize,
        keys: Vec<(usize, Vec<u8>)>,
        stamps: Vec<(u64, bool)>,
    },
    /// Drop registrations (fire and forget).
    Unwatch { keys: Vec<(usize, Vec<u8>)> },
    /// A step of a transaction run under every shard's lock
    /// (`multi_steps`): apply `ops`, run the command, copy the keys of
    /// `refetch`, answer `StepDone`.
    Step {
        tx: TxId,
        ops: Vec<TxOp>,
        /// The command's part for this shard: (argv, db, resp3).
        run: Option<(OwnedArgv, usize, bool)>,
        refetch: Vec<TxOp>,
    },
    StepDone {
        tx: TxId,
        shard: usize,
        reply: Option<Vec<u8>>,
        copies: Vec<TxOut>,
    },
    /// A transaction whose keys all live on the target: check the stamps,
    /// release them, run the commands back to back, reply the array.
    Exec {
        reply_to: ReplyTo,
        db: usize,
        resp3: bool,
        commands: Vec<OwnedArgv>,
        watches: Vec<WatchStamp>,
    },
}

impl ShardCore {
    /// A command was rejected: if the connection is in `MULTI`, `EXEC`
    /// will abort.
    pub(super) fn multi_flag_error(&mut self, id: ConnId) {
        if let Some(conn) = self.conn(id) {
            if conn.tx.active {
                conn.tx.aborted = true;
            }
        }
    }

    /// Queues the command if the connection is in `MULTI`; true if queued.
    pub(super) fn multi_queue(&mut self, id: ConnId, spec: &CommandSpec, argv: Argv) -> bool {
        let Some(conn) = self.conn(id) else {
            return false;
        };
        if !conn.tx.active || NOT_QUEUED.contains(&spec.name) {
            return false;
        }
        conn.tx.queue.push(argv.to_owned());
        conn.reply_buffer().extend_from_slice(b"+QUEUED\r\n");
        conn.release_ready();
        self.mark_dirty(id);
        true
    }

    /// Drops the watches of a connection that goes away.
    pub(super) fn multi_forget(&mut self, id: ConnId) {
        let Some(conn) = self.conn(id) else {
            return;
        };
        let watched = std::mem::take(&mut conn.tx.watched);
        conn.tx = ConnTx::default();
        self.release_stamps(watched);
    }

    /// Releases registrations on their shards.
    pub(super) fn release_stamps(&mut self, stamps: Vec<WatchStamp>) {
        let mut by_shard: BTreeMap<usize, Vec<(usize, Vec<u8>)>> = BTreeMap::new();
        for s in stamps {
            by_shard.entry(s.shard).or_default().push((s.db, s.key));
        }
        for (shard, keys) in by_shard {
            if shard == self.id {
                self.watch_release(&keys);
            } else {
                self.mesh
                    .send(shard, Hop::Multi(MultiHop::Unwatch { keys }));
            }
        }
    }

    pub(super) fn on_multi_hop(&mut self, hop: MultiHop) {
        match hop {
            MultiHop::Watch { reply_to, keys } => {
                let stamps = self.watch_register(&keys);
                let shard = self.id;
                let answer = MultiHop::Watched {
                    reply_to,
                    shard,
                    keys,
                    stamps,
                };
                self.mesh.send(reply_to.shard, Hop::Multi(answer));
            }
            MultiHop::Watched {
                reply_to,
                shard,
                keys,
                stamps,
            } => self.watched(reply_to, shard, keys, stamps),
            MultiHop::Unwatch { keys } => self.watch_release(&keys),
            // The coordinator holds this shard's lock: no deferral.
            MultiHop::Step {
                tx,
                ops,
                run,
                refetch,
            } => self.run_step(tx, ops, run, refetch),
            MultiHop::StepDone {
                tx,
                shard,
                reply,
                copies,
            } => self.step_done(tx, shard, reply, copies),
            MultiHop::Exec {
                reply_to,
                db,
                resp3,
                commands,
                watches,
            } => {
                if self.lock.is_held() {
                    let hop = MultiHop::Exec {
                        reply_to,
                        db,
                        resp3,
                        commands,
                        watches,
                    };
                    self.lock.defer(Hop::Multi(hop));
                    return;
                }
                let bytes = self.exec_here(None, db, resp3, &commands, watches);
                self.send_reply(reply_to, bytes);
            }
        }
    }

    /// Another shard registered our `WATCH`: keep the stamps; the last
    /// answer releases the `+OK` and the connection's next commands.
    fn watched(
        &mut self,
        reply_to: ReplyTo,
        shard: usize,
        keys: Vec<(usize, Vec<u8>)>,
        stamps: Vec<(u64, bool)>,
    ) {
        let live = self
            .conn(reply_to.conn)
            .is_some_and(|c| c.client_id == reply_to.client_id);
        if !live {
            self.mesh
                .send(shard, Hop::Multi(MultiHop::Unwatch { keys }));
            return;
        }
        let conn = self
            .conn(reply_to.conn)
            .expect("the connection was just found live");
        for ((db, key), (version, alive)) in keys.into_iter().zip(stamps) {
            conn.tx.watched.push(WatchStamp {
                shard,
                db,
                key,
                version,
                alive,
            });
        }
        conn.tx.watch_pending -= 1;
        if conn.tx.watch_pending == 0 {
            conn.waiting_coordination = false;
            self.deliver(reply_to, b"+OK\r\n".to_vec());
            self.process_input(reply_to.conn, &[]);
        }
    }
}

/// `MULTI`.
pub(crate) fn multi_command(ctx: &mut ConnCtx, _argv: Argv) {
    let conn = ctx.conn();
    if conn.tx.active {
        ctx.reply().error(NESTED);
        return;
    }
    conn.tx.active = true;
    conn.tx.aborted = false;
    conn.tx.queue.clear();
    ctx.reply().ok();
}

/// `DISCARD`.
pub(crate) fn discard_command(ctx: &mut ConnCtx, _argv: Argv) {
    let conn = ctx.conn();
    if !conn.tx.active {
        ctx.reply().error(DISCARD_WITHOUT_MULTI);
        return;
    }
    let watched = std::mem::take(&mut conn.tx.watched);
    conn.tx = ConnTx::default();
    ctx.core.release_stamps(watched);
    ctx.reply().ok();
}

/// `UNWATCH` (inside `MULTI` it is queued and does nothing at `EXEC`, where
/// every watch is dropped anyway).
pub(crate) fn unwatch_command(ctx: &mut ConnCtx, _argv: Argv) {
    let watched = std::mem::take(&mut ctx.conn().tx.watched);
    ctx.core.release_stamps(watched);
    ctx.reply().ok();
}

/// `WATCH key...`: registers each key on its shard; the reply waits for
/// the other shards' stamps (the connection's next commands wait too, so
/// an `EXEC` always sees every stamp).
pub(crate) fn watch_command(ctx: &mut ConnCtx, argv: Argv) {
    let conn = ctx.conn();
    if conn.tx.active {
        ctx.reply().error(WATCH_IN_MULTI);
        return;
    }
    let db = conn.db;
    let mut by_shard: BTreeMap<usize, Vec<(usize, Vec<u8>)>> = BTreeMap::new();
    for key in argv.iter().skip(1) {
        let known = ctx
            .conn()
            .tx
            .watched
            .iter()
            .any(|s| s.db == db && s.key == key);
        let shard = ctx.core.shared.slots.shard_of(key);
        let keys = by_shard.entry(shard).or_default();
        if !known && !keys.iter().any(|(_, k)| k == key) {
            keys.push((db, key.to_vec()));
        }
    }
    let me = ctx.core.id;
    if let Some(keys) = by_shard.remove(&me) {
        let stamps = ctx.core.watch_register(&keys);
        let watched = &mut ctx.conn().tx.watched;
        for ((db, key), (version, alive)) in keys.into_iter().zip(stamps) {
            watched.push(WatchStamp {
                shard: me,
                db,
                key,
                version,
                alive,
            });
        }
    }
    by_shard.retain(|_, keys| !keys.is_empty());
    if by_shard.is_empty() {
        ctx.reply().ok();
        return;
    }
    let Some((reply_to, _, _)) = ctx.core.reply_to(ctx.id, ReplySlot::Pending) else {
        return;
    };
    ctx.deferred = true;
    let conn = ctx.conn();
    conn.waiting_coordination = true;
    conn.tx.watch_pending = by_shard.len();
    for (shard, keys) in by_shard {
        ctx.core
            .mesh
            .send(shard, Hop::Multi(MultiHop::Watch { reply_to, keys }));
    }
}

/// `EXEC`.
pub(crate) fn exec_command(ctx: &mut ConnCtx, _argv: Argv) {
    let conn = ctx.conn();
    if !conn.tx.active {
        ctx.reply().error(EXEC_WITHOUT_MULTI);
        return;
    }
    let tx = std::mem::take(&mut conn.tx);
    if tx.aborted {
        ctx.core.release_stamps(tx.watched);
        ctx.reply().error(EXECABORT);
        return;
    }
    let id = ctx.id;
    if let Some(reply) = ctx.core.multi_exec(id, tx.queue, tx.watched) {
        ctx.out = reply;
    } else {
        ctx.deferred = true;
    }
}
