//! Running `EXEC`: plan by the shards the queued commands' keys and the
//! watched keys live on, then run the queue in one step.
//!
//! - every key on this shard (or none): check the stamps and run the
//!   commands back to back here — nothing else runs on the shard meanwhile;
//! - every key on one other shard, no connection command queued: one
//!   `MultiHop::Exec` carries the queue there, it runs back to back in one
//!   step and the reply array comes back; no lock is taken;
//! - otherwise the coordination of `coord` runs the whole queue: every
//!   involved shard is locked in ascending order, the stamps are checked on
//!   their shards under the locks, the keys are copied into a scratch
//!   keyspace where the queue runs, and the differences are written back.

use kevy_transport::ConnId;

use super::conn::ReplySlot;
use super::coord::{self, Coordination, KeyRef, TxId};
use super::mesh::Hop;
use super::multi::MultiHop;
use super::watch::WatchStamp;
use super::ShardCore;
use crate::cmd::{lookup, ExecCtx, Handler, Route};
use crate::keyspace::Keyspace;
use crate::resp::{Argv, OwnedArgv, ReplyBuf};

pub(super) const NOT_ACROSS_SHARDS: &str =
    "ERR this command cannot run inside MULTI when the server has several shards";

/// A whole transaction run by a coordination.
pub struct MultiRun {
    pub commands: Vec<OwnedArgv>,
    pub watches: Vec<WatchStamp>,
    /// A watched key changed (reported by its shard under the lock).
    pub watch_dirty: bool,
    /// Run in steps under every shard's lock (`multi_steps`).
    pub stepped: Option<Box<super::multi::steps::Stepped>>,
}

/// Where a queue runs: this shard's keyspace, or a coordination's scratch.
pub(super) enum Target<'a> {
    Own,
    Scratch(&'a mut Keyspace),
}

/// Connection commands whose reply gathers answers from every shard, in a
/// slot of their own: inside a transaction the `EXEC` reply is cut around
/// it (`multi_conn_cmds`) (`container|subcommand` or a name).
const GATHERING: &[&str] = &[
    "info",
    "publish",
    "spublish",
    "pubsub",
    "client|list",
    "client|info",
    "client|kill",
    "client|unblock",
    "config|set",
    "config|resetstat",
];

pub(super) fn gathers_from_shards(argv: Argv) -> bool {
    let name = String::from_utf8_lossy(argv.get(0)).to_ascii_lowercase();
    if GATHERING.contains(&name.as_str()) {
        return true;
    }
    if argv.len() < 2 {
        return false;
    }
    let sub = String::from_utf8_lossy(argv.get(1)).to_ascii_lowercase();
    GATHERING.contains(&format!("{name}|{sub}").as_str())
}

fn is_blocking(handler: Handler, flags: &[&str]) -> bool {
    matches!(handler, Handler::Conn(_)) && flags.contains(&"blocking")
}

impl ShardCore {
    /// Plans and runs `EXEC` for connection `id`: the reply when known now,
    /// or None when it comes later (a reply slot is reserved).
    pub(super) fn multi_exec(
        &mut self,
        id: ConnId,
        commands: Vec<OwnedArgv>,
        watches: Vec<WatchStamp>,
    ) -> Option<Vec<u8>> {
        let (mut db, resp3) = self.conn(id).map(|c| (c.db, c.resp3))?;
        let start_db = db;
        let databases = self.config.databases;
        let mut keys: Vec<KeyRef> = Vec::new();
        let mut has_conn = false;
        let mut positions = Vec::new();
        for owned in &commands {
            let argv = owned.argv();
            let Some(spec) = lookup(argv.get(0)) else {
                continue;
            };
            if spec.name == "select" {
                if let Some(n) = crate::resp::num::parse_i64(argv.get(1)) {
                    if n >= 0 && (n as usize) < databases {
                        db = n as usize;
                    }
                }
            }
            has_conn |=
                matches!(spec.handler, Handler::Conn(_)) && !is_blocking(spec.handler, spec.flags);
            spec.key_positions(argv, &mut positions);
            // `MOVE key db` also writes the key in the target database.
            let moved = coord::move_target_db(owned).map(|target| (1, target));
            for (p, key_db) in positions
                .iter()
                .map(|&p| (p, None))
                .chain(moved.map(|(p, d)| (p, Some(d))))
            {
                let key_db = key_db.unwrap_or_else(|| coord::key_db(owned, p, db));
                let key = argv.get(p);
                if key_db >= databases || keys.iter().any(|k| k.db == key_db && &*k.key == key) {
                    continue;
                }
                keys.push(KeyRef {
                    db: key_db,
                    key: key.into(),
                    shard: self.shared.slots.shard_of(key),
                    before: None,
                });
            }
        }
        let mut shards: Vec<usize> = keys
            .iter()
            .map(|k| k.shard)
            .chain(watches.iter().map(|w| w.shard))
            .collect();
        shards.sort_unstable();
        shards.dedup();
        if self.queue_runs_on_every_shard(&commands) {
            shards = (0..self.shards()).collect();
        }
        match shards.as_slice() {
            [] => return Some(self.exec_here(Some(id), start_db, resp3, &commands, watches)),
            [only] if *only == self.id => {
                return Some(self.exec_here(Some(id), start_db, resp3, &commands, watches))
            }
            [only] if !has_conn => {
                let (reply_to, db, resp3) = self.reply_to(id, ReplySlot::Pending)?;
                let hop = MultiHop::Exec {
                    reply_to,
                    db,
                    resp3,
                    commands,
                    watches,
                };
                self.mesh.send(*only, Hop::Multi(hop));
                return None;
            }
            _ => {}
        }
        let (reply_to, _, _) = self.reply_to(id, ReplySlot::Pending)?;
        if let Some(conn) = self.conn(id) {
            conn.waiting_coordination = true;
        }
        let tx = TxId {
            origin: self.id,
            id: self.next_tx,
        };
        self.next_tx += 1;
        let coordination = Coordination {
            tx,
            argv: OwnedArgv::from_slices([&b"exec"[..]]),
            conn: reply_to.conn,
            client_id: reply_to.client_id,
            seq: reply_to.seq,
            db: start_db,
            resp3,
            shards,
            keys,
            locked: 0,
            finishing: 0,
            reply: Vec::new(),
            multi: Some(Box::new(MultiRun {
                commands,
                watches,
                watch_dirty: false,
                stepped: None,
            })),
        };
        let first = coordination.shards[0];
        let ops = coordination.lock_ops(0);
        self.coordinations.push(coordination);
        self.mesh.send(first, Hop::Lock { tx, ops });
        None
    }

    /// Checks the stamps (all of this shard), releases them and runs the
    /// queue here in one step: the `EXEC` reply.
    pub(super) fn exec_here(
        &mut self,
        conn: Option<ConnId>,
        db: usize,
        resp3: bool,
        commands: &[OwnedArgv],
        watches: Vec<WatchStamp>,
    ) -> Vec<u8> {
        let changed = watches.iter().any(|w| self.watch_changed(w));
        let keys: Vec<(usize, Vec<u8>)> = watches.into_iter().map(|w| (w.db, w.key)).collect();
        self.watch_release(&keys);
        let mut out = Vec::new();
        if changed {
            ReplyBuf::new(&mut out, resp3).null_array();
            return out;
        }
        self.begin_record_group(db);
        self.run_queue(conn, Target::Own, db, resp3, commands, &mut out);
        self.end_record_group();
        out
    }

    /// The coordination of a transaction holds every lock: check what the
    /// shards said of the stamps and run the queue on the copies.
    pub(super) fn run_multi_on_scratch(
        &mut self,
        index: usize,
        run: &MultiRun,
        scratch: &mut Keyspace,
    ) -> Vec<u8> {
        let coordination = &self.coordinations[index];
        let (db, resp3) = (coordination.db, coordination.resp3);
        let live = self
            .conns
            .get(coordination.conn)
            .and_then(Option::as_ref)
            .is_some_and(|c| c.client_id == coordination.client_id);
        let conn = live.then_some(coordination.conn);
        let mut out = Vec::new();
        if run.watch_dirty {
            ReplyBuf::new(&mut out, resp3).null_array();
            return out;
        }
        self.run_queue(
            conn,
            Target::Scratch(scratch),
            db,
            resp3,
            &run.commands,
            &mut out,
        );
        out
    }

    /// Runs the queued commands back to back into one reply array.
    fn run_queue(
        &mut self,
        conn: Option<ConnId>,
        target: Target,
        db: usize,
        resp3: bool,
        commands: &[OwnedArgv],
        out: &mut Vec<u8>,
    ) {
        ReplyBuf::new(out, resp3).array(commands.len());
        self.run_commands(conn, target, db, resp3, commands, out);
    }

    /// Runs queued commands back to back, appending their replies to
    /// `out`; returns the database the last one left selected.
    pub(super) fn run_commands(
        &mut self,
        conn: Option<ConnId>,
        mut target: Target,
        mut db: usize,
        resp3: bool,
        commands: &[OwnedArgv],
        out: &mut Vec<u8>,
    ) -> usize {
        for owned in commands {
            let argv = owned.argv();
            if let Some(c) = conn
                .and_then(|id| self.conns.get(id))
                .and_then(Option::as_ref)
            {
                db = c.db;
            }
            let Some(spec) = lookup(argv.get(0)) else {
                ReplyBuf::new(out, resp3).error("ERR unknown command");
                continue;
            };
            let whole_server = matches!(spec.route, Route::AllShards(_) | Route::ScanShards);
            if whole_server && self.shards() > 1 {
                ReplyBuf::new(out, resp3).error(NOT_ACROSS_SHARDS);
                continue;
            }
            if is_blocking(spec.handler, spec.flags) {
                self.run_blocking_at_once(&mut target, db, resp3, argv, out);
                continue;
            }
            match spec.handler {
                Handler::Key(_) => self.run_key_command(&mut target, db, resp3, argv, out),
                Handler::Conn(handler) => self.run_conn_in_exec(conn, handler, argv, resp3, out),
            }
        }
        conn.and_then(|id| self.conns.get(id))
            .and_then(Option::as_ref)
            .map_or(db, |c| c.db)
    }

    fn run_key_command(
        &mut self,
        target: &mut Target,
        db: usize,
        resp3: bool,
        argv: Argv,
        out: &mut Vec<u8>,
    ) {
        match target {
            Target::Own => self.run_for_hop_into(db, resp3, argv, out),
            Target::Scratch(keyspace) => {
                let Some(Handler::Key(handler)) = lookup(argv.get(0)).map(|s| s.handler) else {
                    ReplyBuf::new(out, resp3).error("ERR unknown command");
                    return;
                };
                let clock = self.clock();
                let (events, start) = (self.scratch_events_before(keyspace, db, argv), out.len());
                let mut ctx = ExecCtx {
                    keyspace,
                    db_index: db,
                    reply: ReplyBuf::new(out, resp3),
                    now_ms: self.now_ms,
                    clock,
                    rng: &mut self.rng,
                    stats: &mut self.stats,
                    config: &self.config,
                    effects: &mut self.effects,
                };
                handler(&mut ctx, argv);
                // The coordination records the differences, not the commands.
                self.effects.clear();
                self.scratch_events_after(keyspace, argv, events, &out[start..]);
            }
        }
    }

    /// A blocking command inside a transaction never waits: it serves the
    /// first key with data, or replies what its timeout would.
    fn run_blocking_at_once(
        &mut self,
        target: &mut Target,
        db: usize,
        resp3: bool,
        argv: Argv,
        out: &mut Vec<u8>,
    ) {
        let request = match crate::cmd::blocking::parse_request(argv, db, self.now_ms) {
            Some(Ok(request)) => request,
            Some(Err(text)) => {
                ReplyBuf::new(out, resp3).error(&text);
                return;
            }
            None => {
                ReplyBuf::new(out, resp3).error("ERR unknown blocking command");
                return;
            }
        };
        for (key, kind) in &request.keys {
            let args = request.serve.argv(key, kind);
            let serve = OwnedArgv::from_slices(args.iter().map(Vec::as_slice));
            let mut bytes = Vec::new();
            self.run_key_command(target, db, resp3, serve.argv(), &mut bytes);
            if !super::blocking_target::is_empty_reply(&bytes) {
                if request.serve.prefixes_key() {
                    bytes = super::blocking_target::prefix_with_key(bytes, key, resp3);
                }
                out.extend_from_slice(&bytes);
                return;
            }
        }
        let name = argv.get(0);
        let mut reply = ReplyBuf::new(out, resp3);
        if name.eq_ignore_ascii_case(b"blmove") || name.eq_ignore_ascii_case(b"brpoplpush") {
            reply.null();
        } else {
            reply.null_array();
        }
    }
}
