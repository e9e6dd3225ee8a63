//! Write records: every write a shard applies, as RESP commands that redo
//! it, handed to the shard's write sinks (the append-only log, the
//! replication backlog).
//!
//! Data flow: after a keyspace command runs, the shard records it (see
//! `record_command`): first a `DEL` for every key the run found expired
//! and deleted, then the command as sent, or the replacement its handler
//! described through `Effects` (absolute TTLs, `SREM` for `SPOP`, ...).
//! A coordinated write records this shard's part as per-key
//! `SET`/`RESTORE ... REPLACE ABSTTL`/`DEL` commands marked with a
//! [`TxnPart`]; a transaction run in one step on this shard is one record.
//! Records queue in the shard during a loop iteration and are handed to
//! every sink at its end (`flush_write_records`), before that iteration's
//! replies leave, so a sink that fsyncs in `end_iteration` covers every
//! write before it is acknowledged. Nothing is recorded while no sink is
//! attached: the cost is then one test per command.
//!
//! Replay (`apply_commands`) runs a record's commands on a keyspace whose
//! databases treat expired keys as live (`ExpiryMode::Ignore`), so nothing
//! expires mid-replay: the recorded `DEL`s say exactly when keys went
//! away, as Redis does while loading.

use crate::cmd::effects::{push_command, Effects, Recorded};
use crate::cmd::{lookup, CommandSpec, ExecCtx, Handler};
use crate::config::Config;
use crate::keyspace::{ExpiryMode, Keyspace, Value};
use crate::random::SplitMix64;
use crate::resp::{parse, Argv, Frame, ParseLimits, ReplyBuf};

use super::query::ShardStats;
use super::ShardCore;

/// One shard's part of a cross-shard atomic write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnPart {
    /// Unique per server run and shared by every part.
    pub id: u64,
    /// How many shards hold a part.
    pub parts: u16,
}

/// One atomic unit of applied writes.
#[derive(Debug, Clone, Copy)]
pub struct WriteRecord<'a> {
    pub db: usize,
    pub txn: Option<TxnPart>,
    /// RESP of one or more commands, applied in one step, starting in
    /// `db`. A transaction that switched databases has `SELECT`s inside
    /// and ends back in `db`.
    pub commands: &'a [u8],
}

/// What receives a shard's write records.
pub trait WriteSink: Send {
    fn record(&mut self, record: &WriteRecord<'_>);
    /// After the records of one loop iteration, before its replies leave.
    fn end_iteration(&mut self);
}

/// Which consumer a sink is, so each can be replaced or removed alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    AppendOnlyLog,
    Replication,
}

struct Pending {
    db: usize,
    txn: Option<TxnPart>,
    start: usize,
    end: usize,
}

/// The shard's sinks and the records of the current iteration.
#[derive(Default)]
pub struct Propagation {
    sinks: Vec<(SinkKind, Box<dyn WriteSink>)>,
    pending: Vec<Pending>,
    bytes: Vec<u8>,
    /// Set while a transaction's commands gather into one record, with
    /// the database its last command ran in.
    group: Option<(Pending, usize)>,
}

impl Propagation {
    pub fn active(&self) -> bool {
        !self.sinks.is_empty()
    }

    fn push(&mut self, db: usize, txn: Option<TxnPart>, commands: &[u8]) {
        if !commands.is_empty() {
            self.push_with(db, txn, |out| out.extend_from_slice(commands));
        }
    }

    /// Adds what `write` appends as one record (or to the open group).
    fn push_with(&mut self, db: usize, txn: Option<TxnPart>, write: impl FnOnce(&mut Vec<u8>)) {
        if let Some((group, current_db)) = &mut self.group {
            // A transaction that changes database keeps one record: the
            // switch is written inside it (and undone at its end).
            if *current_db != db {
                push_select(&mut self.bytes, db);
                *current_db = db;
            }
            write(&mut self.bytes);
            group.end = self.bytes.len();
            return;
        }
        let start = self.bytes.len();
        write(&mut self.bytes);
        if self.bytes.len() > start {
            self.pending.push(Pending {
                db,
                txn,
                start,
                end: self.bytes.len(),
            });
        }
    }
}

/// Appends `argv` to `out` as a RESP array of bulk strings.
fn push_argv(out: &mut Vec<u8>, argv: Argv) {
    out.push(b'*');
    crate::resp::num::push_i64(out, argv.len() as i64);
    out.extend_from_slice(b"\r\n");
    for arg in argv.iter() {
        out.push(b'$');
        crate::resp::num::push_i64(out, arg.len() as i64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

fn push_select(out: &mut Vec<u8>, db: usize) {
    push_command(out, &[b"SELECT", db.to_string().as_bytes()]);
}

impl ShardCore {
    pub(super) fn propagation_active(&self) -> bool {
        self.propagation.active()
    }

    pub(crate) fn attach_write_sink(&mut self, kind: SinkKind, sink: Box<dyn WriteSink>) {
        self.flush_write_records();
        self.propagation.sinks.retain(|(k, _)| *k != kind);
        self.propagation.sinks.push((kind, sink));
        self.set_recording(true);
    }

    pub(crate) fn detach_write_sink(&mut self, kind: SinkKind) -> Option<Box<dyn WriteSink>> {
        self.flush_write_records();
        let index = self
            .propagation
            .sinks
            .iter()
            .position(|(k, _)| *k == kind)?;
        let (_, sink) = self.propagation.sinks.remove(index);
        let active = self.propagation.active();
        self.set_recording(active);
        Some(sink)
    }

    fn set_recording(&mut self, on: bool) {
        self.effects.set_wanted(on);
        // Expired keys are listed for the records and for `expired` events.
        self.keep_expired_keys(on);
    }

    /// Hands every queued record to the sinks now.
    pub(crate) fn flush_write_records(&mut self) {
        let propagation = &mut self.propagation;
        if propagation.pending.is_empty() {
            return;
        }
        for (_, sink) in &mut propagation.sinks {
            for pending in &propagation.pending {
                sink.record(&WriteRecord {
                    db: pending.db,
                    txn: pending.txn,
                    commands: &propagation.bytes[pending.start..pending.end],
                });
            }
            sink.end_iteration();
        }
        propagation.pending.clear();
        propagation.bytes.clear();
    }

    /// Drains the keys deleted because they expired (lazily or by the
    /// sweep): records a `DEL` for each while writes are recorded, and
    /// raises its `expired` event while those are wanted (the one place
    /// both are fed from, so neither misses a key).
    pub(super) fn record_expired_keys(&mut self) {
        let recording = self.propagation.active();
        let notify = self.expired_events_wanted();
        if !recording && !notify {
            // Stops the listing if notifications were just turned off.
            self.keep_expired_keys(false);
            return;
        }
        let mut command = Vec::new();
        for index in 0..self.keyspace.dbs.len() {
            for key in self.keyspace.dbs[index].take_expired() {
                if recording {
                    command.clear();
                    push_command(&mut command, &[b"DEL", key.as_bytes()]);
                    self.propagation.push(index, None, &command);
                }
                if notify {
                    self.notify_expired(index, key.as_bytes());
                }
            }
        }
        if notify {
            // Listing starts on the first tick after notifications were
            // turned on, if no command started it before.
            self.keep_expired_keys(recording);
        }
    }

    /// Records one keyspace command run on this shard's keyspace.
    pub(super) fn record_command(
        &mut self,
        db: usize,
        spec: &CommandSpec,
        argv: Argv,
        failed: bool,
    ) {
        if !self.propagation.active() {
            return;
        }
        self.record_expired_keys();
        if !writes(spec, argv) || failed {
            self.effects.clear();
            return;
        }
        let ShardCore {
            effects,
            propagation,
            ..
        } = self;
        match effects.take() {
            Recorded::AsSent => propagation.push_with(db, None, |out| push_argv(out, argv)),
            Recorded::Replaced(commands) => propagation.push(db, None, commands),
        }
        effects.clear();
    }

    /// Starts gathering the records of a transaction run here into one.
    pub(super) fn begin_record_group(&mut self, db: usize) {
        if self.propagation.active() {
            let at = self.propagation.bytes.len();
            let group = Pending {
                db,
                txn: None,
                start: at,
                end: at,
            };
            self.propagation.group = Some((group, db));
        }
    }

    pub(super) fn end_record_group(&mut self) {
        let propagation = &mut self.propagation;
        if let Some((mut group, current_db)) = propagation.group.take() {
            if group.end > group.start {
                if current_db != group.db {
                    push_select(&mut propagation.bytes, group.db);
                    group.end = propagation.bytes.len();
                }
                propagation.pending.push(group);
            }
        }
    }

    /// Records this shard's part of a coordinated write, as one record
    /// per database touched.
    pub(super) fn record_coordinated_writes(&mut self, writes: CoordinatedWrites) {
        if !self.propagation.active() {
            return;
        }
        self.record_expired_keys();
        for (db, commands) in writes.by_db {
            self.propagation.push(db, writes.txn, &commands);
        }
    }
}

/// The commands redoing one shard's part of a coordinated write, built as
/// its steps are applied.
#[derive(Default)]
pub(super) struct CoordinatedWrites {
    pub txn: Option<TxnPart>,
    by_db: Vec<(usize, Vec<u8>)>,
}

impl CoordinatedWrites {
    /// `key` now holds `value` (None: it was deleted).
    pub fn wrote(&mut self, db: usize, key: &[u8], value: Option<(&Value, Option<u64>)>) {
        let index = match self.by_db.iter().position(|(d, _)| *d == db) {
            Some(index) => index,
            None => {
                self.by_db.push((db, Vec::new()));
                self.by_db.len() - 1
            }
        };
        push_value_command(&mut self.by_db[index].1, key, value);
    }
}

/// Whether a run of `spec` may have written: its flags, or for a container
/// command its subcommand's (every `XGROUP` subcommand but `HELP` writes).
fn writes(spec: &CommandSpec, argv: Argv) -> bool {
    spec.is_write() || (spec.name == "xgroup" && !argv.get(1).eq_ignore_ascii_case(b"help"))
}

/// The command that leaves `key` holding `value` (or absent): `SET ...
/// [PXAT]` for strings, `RESTORE ... REPLACE ABSTTL` for other types, `DEL`.
pub(crate) fn push_value_command(
    out: &mut Vec<u8>,
    key: &[u8],
    value: Option<(&Value, Option<u64>)>,
) {
    let Some((value, expire_at)) = value else {
        push_command(out, &[b"DEL", key]);
        return;
    };
    let expire = expire_at.map(|at| at.to_string());
    if let Value::Str(s) = value {
        let mut scratch = Vec::new();
        let bytes = s.as_bytes(&mut scratch);
        match &expire {
            Some(at) => push_command(out, &[b"SET", key, bytes, b"PXAT", at.as_bytes()]),
            None => push_command(out, &[b"SET", key, bytes]),
        }
        return;
    }
    match crate::cmd::dump_payload(value) {
        Ok(payload) => {
            let ttl = expire.unwrap_or_else(|| "0".to_string());
            push_command(
                out,
                &[
                    b"RESTORE",
                    key,
                    ttl.as_bytes(),
                    &payload,
                    b"REPLACE",
                    b"ABSTTL",
                ],
            );
        }
        Err(kind) => log::warn!("a coordinated write of a {kind} value cannot be recorded"),
    }
}

/// Why a record could not be replayed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApplyError {
    #[error("malformed RESP in a write record at byte {0}")]
    Malformed(usize),
    #[error("a write record ends inside a command")]
    Truncated,
    #[error("unknown command '{0}' in a write record")]
    UnknownCommand(String),
    #[error("'{command}' in a write record failed: {error}")]
    CommandFailed { command: String, error: String },
}

/// Runs the commands of one record against `keyspace`, starting in `db`
/// (a `SELECT` inside changes it; the final database is returned).
/// Expired keys count as live meanwhile (see the module comment).
pub fn apply_commands(
    keyspace: &mut Keyspace,
    db: usize,
    commands: &[u8],
    now_ms: u64,
    config: &Config,
) -> Result<usize, ApplyError> {
    let modes: Vec<ExpiryMode> = keyspace.dbs.iter().map(|d| d.expiry_mode()).collect();
    for d in &mut keyspace.dbs {
        d.set_expiry_mode(ExpiryMode::Ignore);
    }
    let result = apply_each(keyspace, db, commands, now_ms, config);
    for (d, mode) in keyspace.dbs.iter_mut().zip(modes) {
        d.set_expiry_mode(mode);
    }
    result
}

fn apply_each(
    keyspace: &mut Keyspace,
    db: usize,
    commands: &[u8],
    now_ms: u64,
    config: &Config,
) -> Result<usize, ApplyError> {
    let mut db = db;
    let mut ranges = Vec::new();
    let mut rest = commands;
    let mut inline = Vec::new();
    let mut rng = SplitMix64::new(now_ms);
    let mut stats = ShardStats::default();
    let mut effects = Effects::new(false);
    let mut reply = Vec::new();
    let limits = ParseLimits::default();
    while !rest.is_empty() {
        let at = commands.len() - rest.len();
        let (argv, used) = match parse(rest, &limits, &mut ranges, &mut inline) {
            Ok(Frame::Multibulk { consumed }) if !ranges.is_empty() => {
                (Argv::new(rest, &ranges), consumed)
            }
            Ok(Frame::Incomplete { .. }) => return Err(ApplyError::Truncated),
            Ok(_) | Err(_) => return Err(ApplyError::Malformed(at)),
        };
        let name = argv.get(0);
        if name.eq_ignore_ascii_case(b"select") {
            db = std::str::from_utf8(argv.get(1))
                .ok()
                .and_then(|s| s.parse().ok())
                .filter(|&d: &usize| d < keyspace.dbs.len())
                .ok_or(ApplyError::Malformed(at))?;
            rest = &rest[used..];
            continue;
        }
        let Some(Handler::Key(handler)) = lookup(name).map(|spec| spec.handler) else {
            return Err(ApplyError::UnknownCommand(
                String::from_utf8_lossy(name).into_owned(),
            ));
        };
        reply.clear();
        let mut ctx = ExecCtx {
            keyspace,
            db_index: db,
            reply: ReplyBuf::new(&mut reply, false),
            now_ms,
            clock: 0,
            rng: &mut rng,
            stats: &mut stats,
            config,
            effects: &mut effects,
        };
        handler(&mut ctx, argv);
        if reply.first() == Some(&b'-') {
            return Err(ApplyError::CommandFailed {
                command: String::from_utf8_lossy(name).into_owned(),
                error: String::from_utf8_lossy(&reply[1..]).trim_end().to_string(),
            });
        }
        rest = &rest[used..];
    }
    Ok(db)
}
