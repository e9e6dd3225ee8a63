//! Transactions holding commands that run on every shard (`FLUSHALL`,
//! `FLUSHDB`, `SWAPDB`, `DBSIZE`, `KEYS`, `SCAN`, `RANDOMKEY`) when the
//! server has several shards: run in steps under every shard's lock.
//!
//! `EXEC` of such a queue locks every shard (`multi_exec`), so nothing
//! else runs anywhere until it ends. Once the locks are held, the queue
//! runs on the coordinator's scratch copy of its keys up to the first
//! whole-server command; then one *step* message per shard carries that
//! shard's writes so far, the command (run on the shard's own keyspace,
//! replying its part) and a fresh copy of the shard's keys, since the
//! command may have changed them. When every shard answered, the parts are
//! merged as outside a transaction, the scratch is rebuilt from the fresh
//! copies and the queue goes on; the last writes go with the release, as
//! for any coordination. Each command therefore sees exactly what the ones
//! before it did, as in Redis. A step's writes are recorded as their own
//! cross-shard part (for the log and replicas), so a replica applies such a
//! transaction step by step, each step atomically.
//!
//! `SAVE`/`BGSAVE` still reply an error inside `MULTI` with several
//! shards: their shards take turns on a file, which a locked shard must
//! not wait for.

use super::MultiHop;
use crate::cmd::{lookup, CommandSpec, Route};
use crate::resp::{OwnedArgv, ReplyBuf};
use crate::shard::conn::GatherState;
use crate::shard::coord::{TxId, TxOp, TxOut};
use crate::shard::gather::{merge, Merge};
use crate::shard::mesh::Hop;
use crate::shard::multi_run::Target;
use crate::shard::propagate::TxnPart;
use crate::shard::ShardCore;

/// A transaction run in steps: where it stands between two steps.
pub struct Stepped {
    /// The next queued command to run.
    next: usize,
    /// The database the queue is in.
    db: usize,
    /// The `EXEC` reply so far.
    out: Vec<u8>,
    /// The step in flight: how its parts merge, the parts, how many are
    /// still expected.
    merge: Option<Merge>,
    parts: Vec<Option<Vec<u8>>>,
    missing: usize,
}

/// Whether a command runs on every shard (and is allowed in a step).
pub(in crate::shard) fn runs_on_every_shard(spec: &CommandSpec) -> bool {
    matches!(spec.route, Route::AllShards(_) | Route::ScanShards)
        && !matches!(spec.name, "save" | "bgsave")
}

fn queued_runs_on_every_shard(argv: &OwnedArgv) -> bool {
    lookup(argv.argv().get(0)).is_some_and(runs_on_every_shard)
}

impl ShardCore {
    /// Whether `EXEC` of `commands` must lock every shard and run in steps.
    pub(in crate::shard) fn queue_runs_on_every_shard(&self, commands: &[OwnedArgv]) -> bool {
        self.shards() > 1 && commands.iter().any(queued_runs_on_every_shard)
    }

    /// Every lock of coordination `index` is held: if it is a transaction
    /// to run in steps, starts it (true); otherwise leaves it (false).
    pub(in crate::shard) fn run_multi_in_steps(&mut self, index: usize) -> bool {
        let coordination = &mut self.coordinations[index];
        let (db, resp3) = (coordination.db, coordination.resp3);
        let Some(run) = coordination.multi.as_mut() else {
            return false;
        };
        if run.watch_dirty || !run.commands.iter().any(queued_runs_on_every_shard) {
            return false;
        }
        let mut out = Vec::new();
        ReplyBuf::new(&mut out, resp3).array(run.commands.len());
        run.stepped = Some(Box::new(Stepped {
            next: 0,
            db,
            out,
            merge: None,
            parts: Vec::new(),
            missing: 0,
        }));
        self.run_to_next_step(index);
        true
    }

    /// Runs the queue of coordination `index` on a scratch copy up to the
    /// next whole-server command, then sends its step; or, at the end of
    /// the queue, sends the last writes with the release.
    fn run_to_next_step(&mut self, index: usize) {
        let clock = self.clock();
        let now_ms = self.now_ms;
        let databases = self.config.databases;
        let coordination = &mut self.coordinations[index];
        let (resp3, tx) = (coordination.resp3, coordination.tx);
        let mut scratch = coordination.scratch(databases, clock);
        let live = self
            .conns
            .get(coordination.conn)
            .and_then(Option::as_ref)
            .is_some_and(|c| c.client_id == coordination.client_id);
        let conn = live.then_some(coordination.conn);
        let Some(mut run) = coordination.multi.take() else {
            return;
        };
        let Some(mut stepped) = run.stepped.take() else {
            return;
        };
        let start = stepped.next;
        let end = run.commands[start..]
            .iter()
            .position(queued_runs_on_every_shard)
            .map_or(run.commands.len(), |at| start + at);
        let mut out = std::mem::take(&mut stepped.out);
        stepped.db = self.run_commands(
            conn,
            Target::Scratch(&mut scratch),
            stepped.db,
            resp3,
            &run.commands[start..end],
            &mut out,
        );
        let coordination = &mut self.coordinations[index];
        let mut writes = coordination.writes(&mut scratch, now_ms);
        self.hold_coordinated_events(index, &mut writes);
        let shards = self.coordinations[index].shards.clone();
        if end == run.commands.len() {
            let coordination = &mut self.coordinations[index];
            coordination.reply = out;
            coordination.finishing = shards.len();
            for (target, ops) in shards.into_iter().zip(writes) {
                self.mesh.send(target, Hop::Finish { tx, ops });
            }
            return;
        }
        stepped.out = out;
        stepped.next = end + 1;
        let db = match conn
            .and_then(|id| self.conns.get(id))
            .and_then(Option::as_ref)
        {
            Some(c) => c.db,
            None => stepped.db,
        };
        stepped.db = db;
        let command = run.commands[end].argv();
        let step_txn = self.fresh_txn_id();
        let (merge, runs) = self.step_parts(command, &shards, &mut stepped.out, resp3);
        stepped.missing = shards.len();
        stepped.parts = vec![None; runs.iter().filter(|r| r.is_some()).count()];
        stepped.merge = merge;
        for ((target, mut ops), run) in shards.iter().copied().zip(writes).zip(runs) {
            if let Some(TxOp::Record(part)) = ops.first_mut() {
                // Each step is its own cross-shard write.
                *part = TxnPart {
                    id: step_txn,
                    parts: part.parts,
                };
            }
            let refetch = self.coordinations[index]
                .keys
                .iter()
                .filter(|k| k.shard == target)
                .map(|k| TxOp::Get {
                    db: k.db,
                    key: k.key.clone(),
                })
                .collect();
            let hop = MultiHop::Step {
                tx,
                ops,
                run: run.map(|argv| (argv, db, resp3)),
                refetch,
            };
            self.mesh.send(target, Hop::Multi(hop));
        }
        run.stepped = Some(stepped);
        self.coordinations[index].multi = Some(run);
    }

    /// A transaction id for one step's writes, unique on this server.
    fn fresh_txn_id(&mut self) -> u64 {
        let id = (self.id as u64) << 48 | self.next_tx;
        self.next_tx += 1;
        id
    }

    /// What each shard (in `shards` order) runs for whole-server command
    /// `argv`, and how the parts merge; None when the command failed here
    /// (its error is already in `out`).
    fn step_parts(
        &mut self,
        argv: crate::resp::Argv,
        shards: &[usize],
        out: &mut Vec<u8>,
        resp3: bool,
    ) -> (Option<Merge>, Vec<Option<OwnedArgv>>) {
        let nothing = || shards.iter().map(|_| None).collect();
        let Some(spec) = lookup(argv.get(0)) else {
            return (None, nothing());
        };
        if let Route::AllShards(gather) = spec.route {
            let runs = shards.iter().map(|_| Some(argv.to_owned())).collect();
            return (Some(Merge::Gather(gather)), runs);
        }
        // `SCAN`: the cursor names the shard and its local cursor.
        let Some(cursor) = crate::resp::num::parse_cursor(argv.get(1)) else {
            ReplyBuf::new(out, resp3).error("ERR invalid cursor");
            return (None, nothing());
        };
        let count = shards.len() as u64;
        let (local, shard) = (cursor / count, (cursor % count) as usize);
        let mut part = OwnedArgv::from_slices([argv.get(0), local.to_string().as_bytes()]);
        for arg in argv.iter().skip(2) {
            part.push(arg);
        }
        let runs = shards
            .iter()
            .map(|&s| (s == shard).then(|| part.clone()))
            .collect();
        let merge = Merge::Scan {
            shard,
            shards: shards.len(),
        };
        (Some(merge), runs)
    }

    /// A locked shard runs its part of step `tx`: applies the writes so
    /// far, runs the command, copies its keys again, and answers.
    pub(in crate::shard) fn run_step(
        &mut self,
        tx: TxId,
        ops: Vec<TxOp>,
        run: Option<(OwnedArgv, usize, bool)>,
        refetch: Vec<TxOp>,
    ) {
        self.run_tx_ops(ops);
        let reply = run.map(|(argv, db, resp3)| {
            let mut out = Vec::new();
            self.run_for_hop_into(db, resp3, argv.argv(), &mut out);
            out
        });
        let copies = self.run_tx_ops(refetch);
        let done = MultiHop::StepDone {
            tx,
            shard: self.id,
            reply,
            copies,
        };
        self.mesh.send(tx.origin, Hop::Multi(done));
    }

    /// A shard answered its part of a step of coordination `tx`.
    pub(in crate::shard) fn step_done(
        &mut self,
        tx: TxId,
        shard: usize,
        reply: Option<Vec<u8>>,
        copies: Vec<TxOut>,
    ) {
        let Some(index) = self.coordinations.iter().position(|c| c.tx == tx) else {
            log::warn!(
                "a transaction step answer for an unknown operation came from shard {shard}"
            );
            return;
        };
        let coordination = &mut self.coordinations[index];
        let Some(at) = coordination.shards.iter().position(|&s| s == shard) else {
            return;
        };
        coordination.record_reads(at, copies);
        let resp3 = coordination.resp3;
        let Some(stepped) = coordination
            .multi
            .as_mut()
            .and_then(|run| run.stepped.as_mut())
        else {
            return;
        };
        if let Some(reply) = reply {
            // Parts in shard order, as outside a transaction (a `SCAN` step
            // has one).
            let slot = if stepped.parts.len() > 1 { at } else { 0 };
            if let Some(place) = stepped.parts.get_mut(slot) {
                *place = Some(reply);
            }
        }
        stepped.missing -= 1;
        if stepped.missing > 0 {
            return;
        }
        if let Some(kind) = stepped.merge.take() {
            let mut state = GatherState {
                kind,
                missing: 0,
                resp3,
                parts: std::mem::take(&mut stepped.parts),
                positions: Vec::new(),
                total: 0,
            };
            let merged = merge(&mut state);
            stepped.out.extend_from_slice(&merged);
        }
        self.run_to_next_step(index);
    }
}
