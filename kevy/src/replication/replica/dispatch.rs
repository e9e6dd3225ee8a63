//! Routing upstream writes to the replica shards that own their keys, and
//! knowing how far each stream has been applied.
//!
//! Data flow: every stream thread pushes its writes and transaction parts
//! here (one `Dispatcher` behind a mutex, so transaction parts of all
//! streams meet in one `TxnAssembler`). Each step that comes out is split
//! by replica shard:
//! - commands whose keys live on one replica shard go to its inbox as one
//!   record (with equal shard counts on both sides every plain record does);
//! - a scattered command (`MSET`, `DEL`, ...) spanning replica shards is
//!   split into one command per shard, as the primary's own scatter does;
//! - `FLUSHDB`/`FLUSHALL`/`SWAPDB` go to every shard, limited to the
//!   slots of the stream that carried them;
//! - a transaction's parts (single-key `RESTORE`/`DEL` commands) are split
//!   per key; any other command spanning replica shards is applied through
//!   the server's own transactions ([`LocalApplier`]: `MULTI` ... `EXEC` on
//!   a local connection), after everything queued before it was applied.
//!
//! For each stream it keeps, in order, the end offset of every step and
//! the inbox items that carry it, so [`Dispatcher::applied_offset`] is the
//! end of the last step whose items every shard has applied: what the
//! link acknowledges and where a reconnect resumes.

use std::collections::VecDeque;
use std::sync::Arc;

use kevy_replication::{ApplyStep, TxnAssembler, TxnMark};

use super::applier::LocalApplier;
use crate::cmd::{self, KeySpec, Route};
use crate::keyspace::Keyspace;
use crate::replication::apply::{command_keys, split_commands, stream_of};
use crate::replication::inbox::{ApplyItem, INBOX_HIGH_WATER};
use crate::replication::state::ReplicationState;

/// Payload bytes held while waiting for transaction parts.
const TXN_HOLD_MAX: usize = 256 * 1024 * 1024;

/// Where one step went: (shard, inbox sequence) pairs.
type Placed = Vec<(usize, u64)>;

/// Builds the item a flush or swap of one stream's slots sends to each
/// shard: (stream, streams, the command's arguments, its database).
type BroadcastItem = fn(usize, usize, &[Vec<u8>], usize) -> Option<ApplyItem>;

/// One command of a step: its database, bytes, arguments and route.
type StepCommand = (usize, Vec<u8>, Vec<Vec<u8>>, Routed);

pub struct Dispatcher {
    state: Arc<ReplicationState>,
    streams: usize,
    shards: usize,
    assembler: TxnAssembler,
    /// Per stream: (end offset, items) of steps not yet known applied.
    pending: Vec<VecDeque<(u64, Placed)>>,
    applier: LocalApplier,
}

/// One command routed: where it goes and its bytes.
enum Routed {
    /// To one replica shard.
    One(usize),
    /// To every shard (flush or swap of the stream's slots).
    Broadcast(BroadcastItem),
    /// Split per shard: (shard, command bytes).
    Split(Vec<(usize, Vec<u8>)>),
    /// Needs the server's transactions.
    Coordinated,
}

impl Dispatcher {
    pub fn new(state: Arc<ReplicationState>, streams: usize, applier: LocalApplier) -> Self {
        let shards = state.shards();
        Dispatcher {
            state,
            streams,
            shards,
            assembler: TxnAssembler::new(streams, TXN_HOLD_MAX),
            pending: (0..streams).map(|_| VecDeque::new()).collect(),
            applier,
        }
    }

    /// `stream`'s snapshot holds its part of the transactions `ids`.
    pub fn covered(&mut self, stream: usize, ids: &[u64]) -> Result<(), String> {
        self.assembler.covered_by_snapshot(stream, ids);
        self.release_steps()
    }

    /// A write or transaction part of `stream` at `offset`.
    pub fn push(
        &mut self,
        stream: usize,
        offset: u64,
        txn: Option<TxnMark>,
        bytes: Vec<u8>,
    ) -> Result<(), String> {
        self.assembler
            .push(stream, offset, txn, bytes)
            .map_err(|e| e.to_string())?;
        self.release_steps()
    }

    fn release_steps(&mut self) -> Result<(), String> {
        while let Some(step) = self.assembler.poll_step() {
            match step {
                ApplyStep::Apply {
                    stream,
                    offset,
                    bytes,
                } => {
                    let placed = self.route_record(stream, &[bytes.as_slice()], false)?;
                    let end = offset.saturating_add(bytes.len() as u64);
                    self.pending[stream].push_back((end, placed));
                }
                ApplyStep::ApplyTransaction { parts, .. } => {
                    let records: Vec<&[u8]> = parts.iter().map(|p| p.bytes.as_slice()).collect();
                    let stream = parts.first().map_or(0, |p| p.stream);
                    let placed = self.route_record(stream, &records, true)?;
                    for part in &parts {
                        self.pending[part.stream].push_back((part.end(), placed.clone()));
                    }
                }
            }
        }
        Ok(())
    }

    /// A full sync of `stream` ends at `offset`: every shard swaps in its
    /// staged keys of that stream's slots.
    pub fn replace(&mut self, stream: usize, offset: u64, staged: Vec<Keyspace>) {
        // Steps held for transactions of the old history are void.
        self.pending[stream].clear();
        let mut placed = Vec::new();
        for (shard, keyspace) in staged.into_iter().enumerate() {
            let item = ApplyItem::ReplaceSlots {
                stream,
                streams: self.streams,
                staged: Box::new(keyspace),
            };
            placed.push((shard, self.send(shard, item)));
        }
        self.pending[stream].push_back((offset, placed));
    }

    /// Gives the local connection back for the next session.
    pub fn into_applier(self) -> LocalApplier {
        self.applier
    }

    /// The end of the last step of `stream` applied by every shard.
    pub fn applied_offset(&mut self, stream: usize) -> Option<u64> {
        let inboxes = &self.state.inboxes;
        let queue = &mut self.pending[stream];
        let mut last = None;
        while let Some((end, placed)) = queue.front() {
            if !placed
                .iter()
                .all(|&(shard, seq)| inboxes.applied(shard) >= seq)
            {
                break;
            }
            last = Some(*end);
            queue.pop_front();
        }
        last
    }

    fn send(&self, shard: usize, item: ApplyItem) -> u64 {
        // A slow shard slows the links down instead of growing its queue.
        while self.state.inboxes.backlog(shard) > INBOX_HIGH_WATER {
            self.state.ring(shard);
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        let seq = self.state.inboxes.push(shard, item);
        self.state.ring(shard);
        seq
    }

    /// Routes the commands of `records` (one step) of `stream`.
    fn route_record(
        &mut self,
        stream: usize,
        records: &[&[u8]],
        split_single_keys: bool,
    ) -> Result<Placed, String> {
        let mut commands = Vec::new();
        for record in records {
            let parsed = split_commands(record).ok_or("a record is not valid RESP")?;
            let mut db = 0usize;
            for command in parsed {
                let name = command.argv.first().cloned().unwrap_or_default();
                if name.eq_ignore_ascii_case(b"select") {
                    db = command
                        .argv
                        .get(1)
                        .and_then(|n| std::str::from_utf8(n).ok()?.parse().ok())
                        .ok_or("SELECT without a valid index")?;
                    continue;
                }
                let routed = self.route_command(stream, &command.argv);
                commands.push((db, command.bytes.to_vec(), command.argv, routed));
            }
        }
        let one_shard = commands
            .iter()
            .try_fold(None, |seen, (_, _, _, r)| match r {
                Routed::One(shard) if seen.is_none_or(|s| s == *shard) => Some(Some(*shard)),
                _ => None,
            });
        let mut placed = Vec::new();
        if let Some(Some(shard)) = one_shard {
            // The common case: the whole step on one shard, as one record.
            let mut batch: Option<(usize, Vec<u8>)> = None;
            for (db, bytes, _, _) in commands {
                match &mut batch {
                    Some((batch_db, out)) if *batch_db == db => out.extend_from_slice(&bytes),
                    _ => {
                        if let Some((db, commands)) = batch.take() {
                            placed.push((
                                shard,
                                self.send(shard, ApplyItem::Record { db, commands }),
                            ));
                        }
                        batch = Some((db, bytes));
                    }
                }
            }
            if let Some((db, commands)) = batch {
                placed.push((shard, self.send(shard, ApplyItem::Record { db, commands })));
            }
            return Ok(placed);
        }
        let coordinated = commands
            .iter()
            .any(|(_, _, _, r)| matches!(r, Routed::Coordinated));
        if coordinated && !split_single_keys {
            self.apply_coordinated(&commands)?;
            return Ok(placed);
        }
        for (db, bytes, argv, routed) in commands {
            match routed {
                Routed::One(shard) => {
                    let item = ApplyItem::Record {
                        db,
                        commands: bytes,
                    };
                    placed.push((shard, self.send(shard, item)));
                }
                Routed::Split(parts) => {
                    for (shard, commands) in parts {
                        placed.push((shard, self.send(shard, ApplyItem::Record { db, commands })));
                    }
                }
                Routed::Broadcast(make) => {
                    for shard in 0..self.shards {
                        if let Some(item) = make(stream, self.streams, &argv, db) {
                            placed.push((shard, self.send(shard, item)));
                        }
                    }
                }
                Routed::Coordinated => {
                    let single = [(db, bytes, argv, Routed::Coordinated)];
                    self.apply_coordinated(&single)?;
                }
            }
        }
        Ok(placed)
    }

    fn route_command(&self, _stream: usize, argv: &[Vec<u8>]) -> Routed {
        let name = argv.first().map(Vec::as_slice).unwrap_or_default();
        if name.eq_ignore_ascii_case(b"flushall") {
            return Routed::Broadcast(|stream, streams, _, _| {
                Some(ApplyItem::FlushSlots {
                    stream,
                    streams,
                    db: None,
                })
            });
        }
        if name.eq_ignore_ascii_case(b"flushdb") {
            return Routed::Broadcast(|stream, streams, _, db| {
                Some(ApplyItem::FlushSlots {
                    stream,
                    streams,
                    db: Some(db),
                })
            });
        }
        if name.eq_ignore_ascii_case(b"swapdb") {
            return Routed::Broadcast(|stream, streams, argv, _| {
                let index = |i: usize| std::str::from_utf8(argv.get(i)?).ok()?.parse().ok();
                Some(ApplyItem::SwapSlots {
                    stream,
                    streams,
                    a: index(1)?,
                    b: index(2)?,
                })
            });
        }
        let keys = command_keys(argv).unwrap_or_default();
        let mut shards: Vec<usize> = keys
            .iter()
            .filter_map(|&p| argv.get(p))
            .map(|key| stream_of(key, self.shards))
            .collect();
        shards.dedup();
        let first = shards.first().copied().unwrap_or(0);
        if shards.iter().all(|&s| s == first) {
            return Routed::One(first);
        }
        match cmd::lookup(name).map(|spec| (spec.route, spec.keys)) {
            Some((Route::Scatter(_), KeySpec::Range { first, step, .. })) if first > 0 => {
                split_scatter(argv, &keys, step.max(1) as usize, self.shards)
            }
            _ => Routed::Coordinated,
        }
    }

    fn apply_coordinated(&mut self, commands: &[StepCommand]) -> Result<(), String> {
        // Everything queued before must be applied first: the commands
        // read what earlier writes left.
        for shard in 0..self.shards {
            while self.state.inboxes.backlog(shard) > 0 {
                self.state.ring(shard);
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
        }
        let grouped: Vec<(usize, &[u8])> = commands
            .iter()
            .map(|(db, bytes, _, _)| (*db, bytes.as_slice()))
            .collect();
        self.applier.apply(&grouped)
    }
}

/// One command per replica shard, each with that shard's keys (and the
/// `step - 1` arguments that travel with each key).
fn split_scatter(argv: &[Vec<u8>], keys: &[usize], step: usize, shards: usize) -> Routed {
    let mut per_shard: Vec<Vec<&[u8]>> = vec![Vec::new(); shards];
    for &position in keys {
        let Some(key) = argv.get(position) else {
            continue;
        };
        let shard = stream_of(key, shards);
        for arg in argv.iter().skip(position).take(step) {
            per_shard[shard].push(arg);
        }
    }
    let name = argv.first().map(Vec::as_slice).unwrap_or_default();
    let parts = per_shard
        .into_iter()
        .enumerate()
        .filter(|(_, args)| !args.is_empty())
        .map(|(shard, args)| {
            let mut command = format!("*{}\r\n", args.len() + 1).into_bytes();
            for arg in std::iter::once(name).chain(args) {
                command.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
                command.extend_from_slice(arg);
                command.extend_from_slice(b"\r\n");
            }
            (shard, command)
        })
        .collect();
    Routed::Split(parts)
}
