//! The target side of blocking on a shard: the waiters that clients of
//! any shard registered on this shard's keys, what "has data" means for
//! each, and serving one (running the ordinary pop/move/read command).
//!
//! Data flow: `Arm` registers a waiter (its `$` frozen against the live
//! stream on first registration) and answers `Armed`; a write to a watched
//! key (`blocking_key_written`) answers `Ready` to the waiters whose turn
//! it is; `Serve` pops for a waiter if it is its turn and answers `Served`
//! with the reply (None when there was nothing); `Cancel` forgets it. The
//! first come first served order per key is `kevy_blocking::TargetWaiters`'s.
//!
//! "Has data" is strict (the key holds the awaited type with something to
//! give) except on a waiter's first round of arms and when serving it,
//! where a key of another type counts: the serve then replies WRONGTYPE,
//! as Redis does when a blocking call meets such a key before blocking.

use std::collections::HashMap;
use std::sync::Arc;

use kevy_blocking::WaiterId;

use super::blocking::{split_wait_key, BlockHop};
use super::ShardCore;
use crate::cmd::blocking::{Serve, WaitKind};
use crate::cmd::{lookup_indexed, ExecCtx, Handler};
use crate::keyspace::stream::StreamId;
use crate::keyspace::{Keyspace, Value};
use crate::resp::{Argv, OwnedArgv, ReplyBuf};

/// What a target shard knows of one waiter on one key.
pub struct TargetSpec {
    pub kind: WaitKind,
    pub serve: Arc<Serve>,
    pub resp3: bool,
    /// Not answered an arm yet: a key of another type counts as data.
    pub first_round: bool,
    /// Answered an arm with "not ready": the client has waited on this key.
    pub waited: bool,
}

/// Waiters registered on this shard's keys, per wait key then waiter.
pub type TargetSpecs = HashMap<Box<[u8]>, HashMap<WaiterId, TargetSpec>>;

/// Whether `wait_key` has data for a waiter of `spec` (see the module
/// comment for `strict`).
fn has_data(
    keyspace: &mut Keyspace,
    now_ms: u64,
    wait_key: &[u8],
    spec: Option<&TargetSpec>,
    strict: bool,
) -> bool {
    let Some(spec) = spec else {
        return false;
    };
    let (db, key) = split_wait_key(wait_key);
    if db >= keyspace.dbs.len() {
        return false;
    }
    let Some(entry) = keyspace.db(db).get(key, now_ms) else {
        // XREADGROUP on a missing key replies NOGROUP at once; a group
        // reader that waited is told its stream is gone.
        return matches!(spec.kind, WaitKind::StreamGroup(_));
    };
    match (&spec.kind, &entry.value) {
        (WaitKind::List, Value::List(_)) | (WaitKind::ZSet, Value::ZSet(_)) => true,
        (WaitKind::StreamAfter(after), Value::Stream(stream)) => {
            let after = after.unwrap_or(StreamId::MAX);
            stream.entries.last_live_id().is_some_and(|top| top > after)
        }
        (WaitKind::StreamGroup(group), Value::Stream(stream)) => match stream.groups.get(group) {
            Some(group) => stream
                .entries
                .last_live_id()
                .is_some_and(|top| top > group.last_id),
            // The group was destroyed: the waiter is told so.
            None => true,
        },
        // The stream was replaced: a group reader is told so.
        (WaitKind::StreamGroup(_), _) => true,
        _ => !strict,
    }
}

/// Redis 7.0 unblocks a group reader whose stream or group disappeared
/// while it waited, with these errors.
const STREAM_GONE: &str = "UNBLOCKED the stream key no longer exists";
const GROUP_GONE: &str = "NOGROUP the consumer group this client was blocked on no longer exists";

/// The error for a group reader that waited on `wait_key` when its stream
/// or group is gone; None when both are there.
fn group_gone(
    keyspace: &mut Keyspace,
    now_ms: u64,
    wait_key: &[u8],
    group: &[u8],
) -> Option<&'static str> {
    let (db, key) = split_wait_key(wait_key);
    let entry = keyspace.dbs.get_mut(db)?.get(key, now_ms);
    match entry.map(|e| &e.value) {
        Some(Value::Stream(stream)) if stream.groups.contains_key(group) => None,
        Some(Value::Stream(_)) => Some(GROUP_GONE),
        _ => Some(STREAM_GONE),
    }
}

/// A reply that carries nothing: the serve found no data.
pub(super) fn is_empty_reply(bytes: &[u8]) -> bool {
    matches!(bytes, b"*-1\r\n" | b"$-1\r\n" | b"_\r\n" | b"*0\r\n")
}

/// `[key, ...reply]`: BLPOP's `[key, value]` from LPOP's value,
/// BZPOPMIN's `[key, member, score]` from ZPOPMIN's `[member, score]`.
pub(super) fn prefix_with_key(bytes: Vec<u8>, key: &[u8], resp3: bool) -> Vec<u8> {
    if bytes.first() == Some(&b'-') {
        return bytes;
    }
    let mut out = Vec::with_capacity(bytes.len() + key.len() + 16);
    let (count, rest) = match bytes.first() {
        Some(b'*') => {
            let header_end = bytes
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("a RESP array header ends with CRLF");
            let count = std::str::from_utf8(&bytes[1..header_end])
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
                .expect("an array header holds its length");
            (count + 1, &bytes[header_end + 2..])
        }
        _ => (2, &bytes[..]),
    };
    let mut reply = ReplyBuf::new(&mut out, resp3);
    reply.array(count);
    reply.bulk(key);
    out.extend_from_slice(rest);
    out
}

impl ShardCore {
    /// Runs a keyspace command here without counting it in the command
    /// statistics (it serves a blocking call), then tells waiters of the
    /// keys it wrote.
    pub(super) fn run_for_blocking(&mut self, db: usize, resp3: bool, argv: Argv) -> Vec<u8> {
        let mut out = Vec::new();
        let Some((_, spec)) = lookup_indexed(argv.get(0)) else {
            ReplyBuf::new(&mut out, resp3).error("ERR unknown command");
            return out;
        };
        let Handler::Key(handler) = spec.handler else {
            ReplyBuf::new(&mut out, resp3).error("ERR command cannot serve a blocked client");
            return out;
        };
        let clock = self.clock();
        let events = self.keyspace_events_before(db, spec, argv);
        let watch = self.watch_before(db, spec, argv);
        let mut ctx = ExecCtx {
            keyspace: &mut self.keyspace,
            db_index: db,
            reply: ReplyBuf::new(&mut out, resp3),
            now_ms: self.now_ms,
            clock,
            rng: &mut self.rng,
            stats: &mut self.stats,
            config: &self.config,
            effects: &mut self.effects,
        };
        handler(&mut ctx, argv);
        if let Some(before) = watch {
            self.watch_after(*before, out.first() == Some(&b'+'));
        }
        self.blocking_command_wrote(db, spec, argv);
        self.record_command(db, spec, argv, out.first() == Some(&b'-'));
        if let Some(before) = events {
            self.keyspace_events_after(spec, argv, *before, &out);
        }
        out
    }

    pub(super) fn target_arm(&mut self, waiter: WaiterId, key: Box<[u8]>, spec: TargetSpec) {
        let now = self.now_ms;
        let waiters = self.blocking.specs.entry(key.clone()).or_default();
        if let std::collections::hash_map::Entry::Vacant(slot) = waiters.entry(waiter) {
            let mut spec = spec;
            if spec.kind == WaitKind::StreamAfter(None) {
                // `$`: entries after the last one now, on the key's shard.
                let (db, name) = split_wait_key(&key);
                let last = match self.keyspace.dbs.get_mut(db).and_then(|d| d.get(name, now)) {
                    Some(entry) => match &entry.value {
                        Value::Stream(stream) => stream.entries.last_id,
                        _ => StreamId::MIN,
                    },
                    None => StreamId::MIN,
                };
                spec.kind = WaitKind::StreamAfter(Some(last));
            }
            slot.insert(spec);
        }
        let Self {
            blocking, keyspace, ..
        } = self;
        let specs = &mut blocking.specs;
        let first_round = specs
            .get(&key)
            .and_then(|w| w.get(&waiter))
            .is_some_and(|s| s.first_round);
        let consumes = specs
            .get(&key)
            .and_then(|w| w.get(&waiter))
            .is_some_and(|s| !matches!(s.kind, WaitKind::StreamAfter(_)));
        let ready = blocking.target.arm(waiter, &key, consumes, |w| {
            let spec = specs.get(&key).and_then(|m| m.get(&w));
            has_data(keyspace, now, &key, spec, !(first_round && w == waiter))
        });
        if let Some(spec) = specs.get_mut(&key).and_then(|m| m.get_mut(&waiter)) {
            spec.first_round = false;
            spec.waited |= !ready;
        }
        self.send_block(waiter.origin, BlockHop::Armed { waiter, key, ready });
    }

    pub(super) fn target_serve(&mut self, waiter: WaiterId, key: Box<[u8]>) {
        let now = self.now_ms;
        let Self {
            blocking, keyspace, ..
        } = self;
        let specs = &blocking.specs;
        let eligible = blocking.target.may_serve(waiter, &key, |w| {
            let spec = specs.get(&key).and_then(|m| m.get(&w));
            has_data(keyspace, now, &key, spec, w != waiter)
        });
        let mut reply = None;
        let spec = specs.get(&key).and_then(|m| m.get(&waiter));
        if let (true, Some(spec)) = (eligible, spec) {
            let (serve, kind, resp3) = (spec.serve.clone(), spec.kind.clone(), spec.resp3);
            let gone = match &kind {
                WaitKind::StreamGroup(group) if spec.waited => {
                    group_gone(keyspace, now, &key, group)
                }
                _ => None,
            };
            let (db, name) = split_wait_key(&key);
            let args = serve.argv(name, &kind);
            let argv = OwnedArgv::from_slices(args.iter().map(Vec::as_slice));
            let bytes = match gone {
                Some(error) => {
                    let mut bytes = Vec::new();
                    ReplyBuf::new(&mut bytes, resp3).error(error);
                    bytes
                }
                None => self.run_for_blocking(db, resp3, argv.argv()),
            };
            if !is_empty_reply(&bytes) {
                reply = Some(if serve.prefixes_key() {
                    prefix_with_key(bytes, name, resp3)
                } else {
                    bytes
                });
            }
        }
        self.target_served(waiter, &key, reply.is_some());
        self.send_block(waiter.origin, BlockHop::Served { waiter, reply });
    }

    /// Records a serve's outcome and tells whoever's turn it now is.
    fn target_served(&mut self, waiter: WaiterId, key: &[u8], delivered: bool) {
        let now = self.now_ms;
        let mut told = Vec::new();
        let Self {
            blocking, keyspace, ..
        } = self;
        let specs = &blocking.specs;
        blocking.target.served(
            waiter,
            key,
            delivered,
            |w| {
                has_data(
                    keyspace,
                    now,
                    key,
                    specs.get(key).and_then(|m| m.get(&w)),
                    true,
                )
            },
            &mut told,
        );
        if delivered {
            self.forget_spec(waiter, key);
        }
        self.tell_ready(key, told);
    }

    pub(super) fn target_cancel(&mut self, waiter: WaiterId, key: Box<[u8]>) {
        let now = self.now_ms;
        let mut told = Vec::new();
        let Self {
            blocking, keyspace, ..
        } = self;
        let specs = &blocking.specs;
        blocking.target.cancel(
            waiter,
            &key,
            |w| {
                w != waiter
                    && has_data(
                        keyspace,
                        now,
                        &key,
                        specs.get(&key).and_then(|m| m.get(&w)),
                        true,
                    )
            },
            &mut told,
        );
        self.forget_spec(waiter, &key);
        self.tell_ready(&key, told);
    }

    fn forget_spec(&mut self, waiter: WaiterId, key: &[u8]) {
        if let Some(waiters) = self.blocking.specs.get_mut(key) {
            waiters.remove(&waiter);
            if waiters.is_empty() {
                self.blocking.specs.remove(key);
            }
        }
    }

    /// A write touched `wait_key`: tells the waiters whose turn it is.
    pub(super) fn target_key_written(&mut self, wait_key: &[u8]) {
        if !self.blocking.target.is_watched(wait_key) {
            return;
        }
        let now = self.now_ms;
        let mut told = Vec::new();
        let Self {
            blocking, keyspace, ..
        } = self;
        let specs = &blocking.specs;
        blocking.target.key_changed(
            wait_key,
            |w| {
                let spec = specs.get(wait_key).and_then(|m| m.get(&w));
                has_data(keyspace, now, wait_key, spec, true)
            },
            &mut told,
        );
        self.tell_ready(wait_key, told);
    }

    fn tell_ready(&mut self, key: &[u8], told: Vec<WaiterId>) {
        for waiter in told {
            let hop = BlockHop::Ready {
                waiter,
                key: key.into(),
            };
            self.send_block(waiter.origin, hop);
        }
    }
}
