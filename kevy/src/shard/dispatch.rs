//! Routing one parsed command: checks (existence, arity, authentication),
//! then by [`Route`]: run here, hop to the owning shard, scatter over
//! shards and gather, coordinate under locks, or walk shards for `SCAN`.
//! Also the receiving side of every hop.

use std::collections::BTreeMap;
use std::time::Instant;

use kevy_transport::ConnId;

use super::conn::{GatherState, ReplySlot};

use super::gather::{merge, Merge};
use super::mesh::{ExecBatch, Hop, ReplyTo};
use super::{ConnCtx, ShardCore};
use crate::cmd::{errors, lookup_indexed, CommandSpec, ExecCtx, Gather, Handler, Route};
use crate::resp::{Argv, OwnedArgv, ReplyBuf};

/// Commands a client may run before authenticating.
const NO_AUTH: &[&str] = &["auth", "hello", "quit"];

/// One command in this many is timed for `INFO commandstats`; reading the
/// clock around every command costs more than the commands themselves.
const TIMING_SAMPLE_EVERY: u64 = 16;

/// The time a sampled command took, scaled to stand for the unsampled
/// ones (0 for unsampled commands).
fn sampled_usec(started: Option<Instant>) -> u64 {
    started.map_or(0, |s| s.elapsed().as_micros() as u64 * TIMING_SAMPLE_EVERY)
}

impl ShardCore {
    fn timing_sample(&mut self) -> Option<Instant> {
        self.timing_counter = self.timing_counter.wrapping_add(1);
        (self.timing_counter % TIMING_SAMPLE_EVERY == 0).then(Instant::now)
    }

    /// Runs one command of connection `id`.
    pub(crate) fn execute(&mut self, id: ConnId, argv: Argv) {
        let now_ms = self.now_ms;
        let Some(conn) = self.conn(id) else {
            return;
        };
        conn.last_command_ms = now_ms;
        let Some((index, spec)) = lookup_indexed(argv.get(0)) else {
            let args: Vec<&[u8]> = argv.iter().skip(1).collect();
            let text = errors::unknown_command(argv.get(0), &args);
            self.multi_flag_error(id);
            self.reply_error_now(id, &text);
            return;
        };
        conn.last_command = spec.name;
        if !spec.arity_ok(argv.len()) {
            self.reject(id, index, &errors::wrong_args(spec.name));
            return;
        }
        if !conn.authenticated && !NO_AUTH.contains(&spec.name) {
            self.reject(id, index, errors::NOAUTH);
            return;
        }
        let client_id = conn.client_id;
        if spec.is_write() && self.shared.replication.refuses_writes(client_id) {
            self.reject(id, index, crate::replication::READONLY_ERROR);
            return;
        }
        if self.pubsub_gate(id, index, spec, argv) {
            return;
        }
        if self.multi_queue(id, spec, argv) {
            return;
        }
        self.stats.total_commands_processed += 1;
        // `XREAD`/`XREADGROUP` with `BLOCK` take the blocking path when
        // they may wait; the other blocking commands are connection handlers.
        if (spec.name == "xread" || spec.name == "xreadgroup")
            && self.try_block_stream(id, index, argv)
        {
            return;
        }
        match spec.route {
            Route::Local => self.run_here(id, index, spec, argv),
            Route::Keyed | Route::Scatter(_) | Route::Atomic => {
                self.route_by_keys(id, index, spec, argv)
            }
            Route::AllShards(gather) => {
                let parts: Vec<(usize, OwnedArgv)> =
                    (0..self.shards()).map(|s| (s, argv.to_owned())).collect();
                self.scatter(id, Merge::Gather(gather), parts, Vec::new(), 0);
            }
            Route::ScanShards => self.scan_shards(id, argv),
        }
    }

    fn reject(&mut self, id: ConnId, index: usize, text: &str) {
        self.multi_flag_error(id);
        self.stats.counter(index).rejected_calls += 1;
        self.reply_error_now(id, text);
    }

    /// Writes an error reply in order and counts it.
    pub(crate) fn reply_error_now(&mut self, id: ConnId, text: &str) {
        self.stats.total_error_replies += 1;
        if let Some(conn) = self.conn(id) {
            let resp3 = conn.resp3;
            ReplyBuf::new(conn.reply_buffer(), resp3).error(text);
            conn.release_ready();
        }
        self.mark_dirty(id);
    }

    fn route_by_keys(&mut self, id: ConnId, index: usize, spec: &'static CommandSpec, argv: Argv) {
        let mut positions = std::mem::take(&mut self.key_positions);
        let mut shards = std::mem::take(&mut self.key_shards);
        spec.key_positions(argv, &mut positions);
        // Each key's shard, computed once per command.
        shards.clear();
        shards.extend(
            positions
                .iter()
                .map(|&p| self.shared.slots.shard_of(argv.get(p))),
        );
        let single = match shards.split_first() {
            None => Some(self.id),
            Some((&first, rest)) => rest.iter().all(|&s| s == first).then_some(first),
        };
        match (single, spec.route) {
            (Some(shard), _) if shard == self.id => self.run_here(id, index, spec, argv),
            (Some(shard), _) => self.forward(id, shard, argv),
            (None, Route::Scatter(_))
                if self.config.atomic_multikey && super::multi::coordinated_scatter(spec) =>
            {
                self.coordinate(id, argv, &positions, &shards)
            }
            (None, Route::Scatter(gather)) => {
                self.scatter_keys(id, spec, argv, &positions, &shards, gather)
            }
            (None, Route::Atomic) => self.coordinate(id, argv, &positions, &shards),
            (None, _) => {
                self.reply_error_now(id, "CROSSSLOT Keys in request don't hash to the same slot")
            }
        }
        self.key_positions = positions;
        self.key_shards = shards;
    }

    /// Runs a command on this shard, replying in order.
    fn run_here(&mut self, id: ConnId, index: usize, spec: &'static CommandSpec, argv: Argv) {
        let started = self.timing_sample();
        let events = self.conn_events_before(id, spec, argv);
        let failed = match spec.handler {
            Handler::Key(handler) => {
                let watch = match self.conns.get(id).and_then(Option::as_ref) {
                    Some(conn) => self.watch_before(conn.db, spec, argv),
                    None => None,
                };
                let clock = self.clock();
                let ShardCore {
                    conns,
                    keyspace,
                    rng,
                    stats,
                    config,
                    now_ms,
                    effects,
                    ..
                } = self;
                let Some(conn) = conns.get_mut(id).and_then(Option::as_mut) else {
                    return;
                };
                let (db_index, resp3) = (conn.db, conn.resp3);
                let buf = conn.reply_buffer();
                let start = buf.len();
                let mut ctx = ExecCtx {
                    keyspace,
                    db_index,
                    reply: ReplyBuf::new(buf, resp3),
                    now_ms: *now_ms,
                    clock,
                    rng,
                    stats,
                    config,
                    effects,
                };
                handler(&mut ctx, argv);
                let first = buf.get(start).copied();
                let failed = first == Some(b'-');
                if let Some(before) = watch {
                    self.watch_after(*before, first == Some(b'+'));
                }
                if self.blocking_watches() {
                    self.blocking_command_wrote(db_index, spec, argv);
                }
                self.record_command(db_index, spec, argv, failed);
                failed
            }
            Handler::Conn(handler) => {
                let mut ctx = ConnCtx::new(self, id);
                handler(&mut ctx, argv);
                ctx.finish()
            }
        };
        // Container commands record their subcommand (`config|get`), as
        // Redis's commandstats do.
        let subcommand = self
            .conn(id)
            .map(|c| c.last_command)
            .filter(|name| name.contains('|'));
        let stat = match subcommand {
            Some(name) => self.stats.subcommands.entry(name).or_default(),
            None => self.stats.counter(index),
        };
        stat.calls += 1;
        stat.usec += sampled_usec(started);
        if failed {
            stat.failed_calls += 1;
            self.stats.total_error_replies += 1;
        }
        self.mark_dirty(id);
        self.conn_events_after(id, spec, argv, events);
    }

    /// Runs a keyspace command for another shard (or a part of a scattered
    /// one), returning its reply bytes.
    fn run_for_hop(&mut self, db_index: usize, resp3: bool, argv: Argv) -> Vec<u8> {
        let mut out = Vec::new();
        self.run_for_hop_into(db_index, resp3, argv, &mut out);
        out
    }

    /// Like [`ShardCore::run_for_hop`], appending the reply to `out`.
    pub(super) fn run_for_hop_into(
        &mut self,
        db_index: usize,
        resp3: bool,
        argv: Argv,
        out: &mut Vec<u8>,
    ) {
        let reply_start = out.len();
        let Some((index, spec)) = lookup_indexed(argv.get(0)) else {
            ReplyBuf::new(out, resp3).error("ERR unknown command");
            return;
        };
        let Handler::Key(handler) = spec.handler else {
            ReplyBuf::new(out, resp3).error("ERR command cannot run on another shard");
            return;
        };
        let clock = self.clock();
        let started = self.timing_sample();
        let events = self.keyspace_events_before(db_index, spec, argv);
        let watch = self.watch_before(db_index, spec, argv);
        let mut ctx = ExecCtx {
            keyspace: &mut self.keyspace,
            db_index,
            reply: ReplyBuf::new(out, resp3),
            now_ms: self.now_ms,
            clock,
            rng: &mut self.rng,
            stats: &mut self.stats,
            config: &self.config,
            effects: &mut self.effects,
        };
        handler(&mut ctx, argv);
        if let Some(before) = watch {
            self.watch_after(*before, out.get(reply_start) == Some(&b'+'));
        }
        if self.blocking_watches() {
            self.blocking_command_wrote(db_index, spec, argv);
        }
        self.record_command(db_index, spec, argv, out.get(reply_start) == Some(&b'-'));
        let stat = self.stats.counter(index);
        stat.calls += 1;
        stat.usec += sampled_usec(started);
        if out.get(reply_start) == Some(&b'-') {
            stat.failed_calls += 1;
        }
        if let Some(before) = events {
            self.keyspace_events_after(spec, argv, *before, &out[reply_start..]);
        }
    }

    pub(super) fn reply_to(
        &mut self,
        id: ConnId,
        slot: ReplySlot,
    ) -> Option<(ReplyTo, usize, bool)> {
        let me = self.id;
        let conn = self.conn(id)?;
        let seq = conn.reserve_slot(slot);
        Some((
            ReplyTo {
                shard: me,
                conn: id,
                client_id: conn.client_id,
                seq,
                part: 0,
            },
            conn.db,
            conn.resp3,
        ))
    }

    fn forward(&mut self, id: ConnId, shard: usize, argv: Argv) {
        let Some((reply_to, db, resp3)) = self.reply_to(id, ReplySlot::Pending) else {
            return;
        };
        self.mesh.send_exec(shard, reply_to, db, resp3, argv);
    }

    fn scatter_keys(
        &mut self,
        id: ConnId,
        spec: &CommandSpec,
        argv: Argv,
        positions: &[usize],
        key_shards: &[usize],
        gather: Gather,
    ) {
        let (_, _, step) = spec.key_range();
        let step = step.max(1) as usize;
        let mut by_shard: BTreeMap<usize, (OwnedArgv, Vec<usize>)> = BTreeMap::new();
        for (index, (&pos, &shard)) in positions.iter().zip(key_shards).enumerate() {
            let (part, order) = by_shard
                .entry(shard)
                .or_insert_with(|| (OwnedArgv::from_slices([argv.get(0)]), Vec::new()));
            for i in pos..(pos + step).min(argv.len()) {
                part.push(argv.get(i));
            }
            order.push(index);
        }
        let mut parts = Vec::with_capacity(by_shard.len());
        let mut orders = Vec::with_capacity(by_shard.len());
        for (shard, (part, order)) in by_shard {
            parts.push((shard, part));
            orders.push(order);
        }
        self.scatter(id, Merge::Gather(gather), parts, orders, positions.len());
    }

    /// Sends each part to its shard (running this shard's inline) and
    /// gathers the replies into one slot.
    pub(crate) fn scatter(
        &mut self,
        id: ConnId,
        merge_kind: Merge,
        parts: Vec<(usize, OwnedArgv)>,
        positions: Vec<Vec<usize>>,
        total: usize,
    ) {
        let resp3 = self.conn(id).map(|c| c.resp3).unwrap_or(false);
        let state = GatherState {
            kind: merge_kind,
            missing: parts.len(),
            resp3,
            parts: (0..parts.len()).map(|_| None).collect(),
            positions,
            total,
        };
        let Some((reply_to, db, resp3)) = self.reply_to(id, ReplySlot::Gathering(state)) else {
            return;
        };
        for (part, (shard, argv)) in parts.into_iter().enumerate() {
            let reply_to = ReplyTo { part, ..reply_to };
            if shard == self.id && !self.lock.is_held() {
                let bytes = self.run_for_hop(db, resp3, argv.argv());
                self.deliver(reply_to, bytes);
            } else {
                self.mesh.send(
                    shard,
                    Hop::Exec {
                        reply_to,
                        db,
                        resp3,
                        argv,
                    },
                );
            }
        }
    }

    fn scan_shards(&mut self, id: ConnId, argv: Argv) {
        let shards = self.shards() as u64;
        let Some(cursor) = crate::resp::num::parse_cursor(argv.get(1)) else {
            self.reply_error_now(id, "ERR invalid cursor");
            return;
        };
        let (local, shard) = (cursor / shards, (cursor % shards) as usize);
        let mut part = OwnedArgv::from_slices([argv.get(0), local.to_string().as_bytes()]);
        for arg in argv.iter().skip(2) {
            part.push(arg);
        }
        self.scatter(
            id,
            Merge::Scan {
                shard,
                shards: shards as usize,
            },
            vec![(shard, part)],
            Vec::new(),
            0,
        );
    }

    /// A reply (or part) for one of this shard's connections arrived.
    pub(crate) fn deliver(&mut self, to: ReplyTo, bytes: Vec<u8>) {
        let Some(conn) = self.conn(to.conn) else {
            return;
        };
        if conn.client_id != to.client_id {
            return;
        }
        let Some(slot) = conn.slot_mut(to.seq) else {
            return;
        };
        match slot {
            ReplySlot::Pending => *slot = ReplySlot::Ready(bytes),
            ReplySlot::Gathering(state) => {
                if let Some(place) = state.parts.get_mut(to.part) {
                    if place.is_none() {
                        *place = Some(bytes);
                        state.missing -= 1;
                    }
                }
                if state.missing == 0 {
                    let merged = merge(state);
                    *slot = ReplySlot::Ready(merged);
                }
            }
            ReplySlot::Ready(_) | ReplySlot::Querying(_) => return,
        }
        if conn.release_ready() {
            self.mark_dirty(to.conn);
        }
        self.close_if_done(to.conn);
    }

    /// Handles a message from another shard (or from this one).
    pub(crate) fn handle_hop(&mut self, hop: Hop) {
        match hop {
            Hop::Exec {
                reply_to,
                db,
                resp3,
                argv,
            } => {
                if self.lock.is_held() {
                    self.lock.defer(Hop::Exec {
                        reply_to,
                        db,
                        resp3,
                        argv,
                    });
                    return;
                }
                let bytes = self.run_for_hop(db, resp3, argv.argv());
                self.send_reply(reply_to, bytes);
            }
            Hop::Reply { reply_to, bytes } => self.deliver(reply_to, bytes),
            Hop::ExecBatch(batch) => self.run_exec_batch(batch),
            Hop::ReplyBatch(batch) => {
                let mut start = 0;
                for &(reply_to, end) in &batch.replies {
                    let end = end as usize;
                    self.deliver_slice(reply_to, &batch.bytes[start..end]);
                    start = end;
                }
            }
            Hop::Query { reply_to, query } => {
                let answer = self.answer_query(query);
                self.mesh
                    .send(reply_to.shard, Hop::Answer { reply_to, answer });
            }
            Hop::Answer { reply_to, answer } => self.deliver_answer(reply_to, answer),
            Hop::Lock { tx, ops } => {
                if self.lock.is_held() {
                    self.lock.defer(Hop::Lock { tx, ops });
                    return;
                }
                self.lock.acquire(tx);
                let results = self.run_tx_ops(ops);
                self.mesh.send(
                    tx.origin,
                    Hop::TxDone {
                        tx,
                        shard: self.id,
                        results,
                    },
                );
            }
            Hop::Finish { tx, ops } => {
                let results = self.run_tx_ops(ops);
                self.lock.release(tx);
                self.mesh.send(
                    tx.origin,
                    Hop::TxDone {
                        tx,
                        shard: self.id,
                        results,
                    },
                );
                while let Some(hop) = self.lock.next_deferred() {
                    self.handle_hop(hop);
                }
            }
            Hop::TxDone { tx, shard, results } => self.coordination_step(tx, shard, results),
            Hop::Block(hop) => self.on_block_hop(hop),
            Hop::Multi(hop) => self.on_multi_hop(hop),
        }
    }

    /// Runs another shard's batch of commands, replying in one batch.
    fn run_exec_batch(&mut self, batch: ExecBatch) {
        for index in 0..batch.requests.len() {
            let request = &batch.requests[index];
            let (reply_to, db, resp3) = (request.reply_to, request.db, request.resp3);
            let argv = batch.argv(index);
            if self.lock.is_held() {
                // Rare: a lock was taken by an earlier message of this batch.
                let argv = argv.to_owned();
                self.lock.defer(Hop::Exec {
                    reply_to,
                    db,
                    resp3,
                    argv,
                });
                continue;
            }
            let mut bytes = self.mesh.take_reply_bytes(reply_to.shard);
            self.run_for_hop_into(db, resp3, argv, &mut bytes);
            self.mesh.end_reply(reply_to.shard, reply_to, bytes);
        }
    }

    /// Like [`ShardCore::deliver`] for a reply borrowed from a batch: copied
    /// straight to the output when nothing is owed before it.
    fn deliver_slice(&mut self, to: ReplyTo, bytes: &[u8]) {
        let Some(conn) = self.conn(to.conn) else {
            return;
        };
        if conn.client_id != to.client_id {
            return;
        }
        if conn.fill_pending(to.seq, bytes) {
            if conn.release_ready() || conn.output_len() > 0 {
                self.mark_dirty(to.conn);
            }
            self.close_if_done(to.conn);
        } else {
            self.deliver(to, bytes.to_vec());
        }
    }

    pub(super) fn send_reply(&mut self, reply_to: ReplyTo, bytes: Vec<u8>) {
        if reply_to.shard == self.id {
            self.deliver(reply_to, bytes);
        } else {
            self.mesh
                .send(reply_to.shard, Hop::Reply { reply_to, bytes });
        }
    }
}
