//! The coordinator's side of atomic multi-shard commands (the protocol is
//! described in `coord`): start an operation, take the locks in ascending
//! shard order, run the command on the copies once every lock is held, and
//! deliver the reply when every shard has applied its writes; plus the
//! locked shard's side, running a `Lock` or `Finish`'s steps.

use kevy_transport::ConnId;

use super::conn::ReplySlot;
use super::coord::{self, Coordination, KeyRef, TxId, TxOp, TxOut};
use super::mesh::{Hop, ReplyTo};
use super::ShardCore;
use crate::cmd::{lookup, ExecCtx, Handler};
use crate::resp::{Argv, ReplyBuf};

impl ShardCore {
    pub(super) fn coordinate(
        &mut self,
        id: ConnId,
        argv: Argv,
        positions: &[usize],
        key_shards: &[usize],
    ) {
        let Some(conn) = self.conn(id) else {
            return;
        };
        let (db, resp3) = (conn.db, conn.resp3);
        let Some((reply_to, _, _)) = self.reply_to(id, ReplySlot::Pending) else {
            return;
        };
        if let Some(conn) = self.conn(id) {
            conn.waiting_coordination = true;
        }
        self.begin_coordination(reply_to, db, resp3, argv, positions, key_shards);
    }

    /// Starts the coordinated run of `argv`, its reply for `reply_to`: a
    /// connection's reserved slot, or (`blocking::SERVE_CONN`) the serve
    /// of a blocked call.
    pub(super) fn begin_coordination(
        &mut self,
        reply_to: ReplyTo,
        db: usize,
        resp3: bool,
        argv: Argv,
        positions: &[usize],
        key_shards: &[usize],
    ) {
        let owned = argv.to_owned();
        let mut keys: Vec<KeyRef> = Vec::with_capacity(positions.len());
        for (&p, &shard) in positions.iter().zip(key_shards) {
            let key_db = coord::key_db(&owned, p, db);
            let key = argv.get(p);
            if key_db >= self.config.databases
                || keys.iter().any(|k| k.db == key_db && &*k.key == key)
            {
                continue;
            }
            keys.push(KeyRef {
                db: key_db,
                key: key.into(),
                shard,
                before: None,
            });
        }
        let mut shards: Vec<usize> = keys.iter().map(|k| k.shard).collect();
        shards.sort_unstable();
        shards.dedup();
        let tx = TxId {
            origin: self.id,
            id: self.next_tx,
        };
        self.next_tx += 1;
        let coordination = Coordination {
            tx,
            argv: owned,
            conn: reply_to.conn,
            client_id: reply_to.client_id,
            seq: reply_to.seq,
            db,
            resp3,
            shards,
            keys,
            locked: 0,
            finishing: 0,
            reply: Vec::new(),
            multi: None,
        };
        let first = coordination.shards[0];
        let ops = coordination.lock_ops(0);
        self.coordinations.push(coordination);
        self.mesh.send(first, Hop::Lock { tx, ops });
    }

    /// Every shard is locked and its keys copied: runs the command on the
    /// copies and sends each shard its writes with the release.
    fn run_coordinated(&mut self, index: usize) {
        if self.run_multi_in_steps(index) {
            return;
        }
        let clock = self.clock();
        let now_ms = self.now_ms;
        let coordination = &self.coordinations[index];
        let mut scratch = coordination.scratch(self.config.databases, clock);
        let mut reply = Vec::new();
        let argv = coordination.argv.clone();
        if let Some(run) = self.coordinations[index].multi.take() {
            reply = self.run_multi_on_scratch(index, &run, &mut scratch);
        } else if let Some(Handler::Key(handler)) = lookup(argv.argv().get(0)).map(|s| s.handler) {
            let coordination = &self.coordinations[index];
            let events = self.scratch_events_before(&mut scratch, coordination.db, argv.argv());
            let coordination = &self.coordinations[index];
            let mut ctx = ExecCtx {
                keyspace: &mut scratch,
                db_index: coordination.db,
                reply: ReplyBuf::new(&mut reply, coordination.resp3),
                now_ms,
                clock,
                rng: &mut self.rng,
                stats: &mut self.stats,
                config: &self.config,
                effects: &mut self.effects,
            };
            handler(&mut ctx, argv.argv());
            self.effects.clear();
            self.scratch_events_after(&mut scratch, argv.argv(), events, &reply);
        }
        let coordination = &mut self.coordinations[index];
        let mut writes = coordination.writes(&mut scratch, now_ms);
        self.hold_coordinated_events(index, &mut writes);
        let coordination = &mut self.coordinations[index];
        coordination.reply = reply;
        coordination.finishing = coordination.shards.len();
        let tx = coordination.tx;
        let targets = coordination.shards.clone();
        for (target, ops) in targets.into_iter().zip(writes) {
            self.mesh.send(target, Hop::Finish { tx, ops });
        }
    }

    pub(super) fn run_tx_ops(&mut self, ops: Vec<TxOp>) -> Vec<TxOut> {
        let now = self.now_ms;
        let clock = self.clock();
        let mut recorded = self
            .propagation_active()
            .then(super::propagate::CoordinatedWrites::default);
        let results = ops
            .into_iter()
            .map(|op| match op {
                TxOp::Get { db, key } => TxOut::Value(
                    self.keyspace
                        .db(db)
                        .get(&key, now)
                        .map(|e| (e.value.clone(), e.expire_at())),
                ),
                TxOp::Record(part) => {
                    if let Some(recorded) = &mut recorded {
                        recorded.txn = Some(part);
                    }
                    TxOut::Done
                }
                TxOp::Put {
                    db,
                    key,
                    value,
                    expire_at,
                } => {
                    if let Some(recorded) = &mut recorded {
                        recorded.wrote(db, &key, Some((&value, expire_at)));
                    }
                    let written = self.blocking_watches().then(|| key.clone());
                    self.watches.touch(db, key.as_bytes());
                    let store = self.keyspace.db(db);
                    store.remove(&key);
                    store.insert_new(key, value, expire_at, clock);
                    if let Some(key) = written {
                        self.blocking_key_written(db, &key);
                    }
                    TxOut::Done
                }
                TxOp::Del { db, key } => {
                    if let Some(recorded) = &mut recorded {
                        recorded.wrote(db, &key, None);
                    }
                    self.watches.touch(db, key.as_bytes());
                    self.keyspace.db(db).delete(&key, now);
                    TxOut::Done
                }
                TxOp::Touch { db, key } => {
                    self.watches.touch(db, key.as_bytes());
                    TxOut::Done
                }
                TxOp::CheckWatch(stamp) => {
                    let changed = self.watch_changed(&stamp);
                    self.watch_release(&[(stamp.db, stamp.key)]);
                    TxOut::WatchChanged(changed)
                }
            })
            .collect();
        if let Some(recorded) = recorded {
            self.record_coordinated_writes(recorded);
        }
        // Keys the copies found expired raise their events now.
        self.record_expired_keys();
        results
    }

    pub(super) fn coordination_step(&mut self, tx: TxId, shard: usize, results: Vec<TxOut>) {
        let Some(index) = self.coordinations.iter().position(|c| c.tx == tx) else {
            log::warn!("a coordination step for an unknown operation arrived from shard {shard}");
            return;
        };
        let coordination = &mut self.coordinations[index];
        if coordination.locked < coordination.shards.len() {
            coordination.record_reads(coordination.locked, results);
            coordination.locked += 1;
            if coordination.locked < coordination.shards.len() {
                let next = coordination.shards[coordination.locked];
                let ops = coordination.lock_ops(coordination.locked);
                self.mesh.send(next, Hop::Lock { tx, ops });
            } else {
                self.run_coordinated(index);
            }
            return;
        }
        let coordination = &mut self.coordinations[index];
        coordination.finishing -= 1;
        if coordination.finishing > 0 {
            return;
        }
        let done = self.coordinations.swap_remove(index);
        self.publish_coordinated_events(done.tx);
        if done.conn == super::blocking::SERVE_CONN {
            self.blocking_move_served(done.client_id, done.reply);
            return;
        }
        let to = ReplyTo {
            shard: self.id,
            conn: done.conn,
            client_id: done.client_id,
            seq: done.seq,
            part: 0,
        };
        if let Some(conn) = self.conn(done.conn) {
            if conn.client_id == done.client_id {
                conn.waiting_coordination = false;
            }
        }
        self.deliver(to, done.reply);
        self.process_input(done.conn, &[]);
    }
}
