//! Atomic multi-shard commands: a command whose keys live on several shards
//! (`MSETNX`, `RENAME`, `COPY`, `BITOP`, ...) runs all-or-nothing.
//!
//! The protocol, with the connection's shard as coordinator:
//! 1. lock — the involved shards are locked one after another in ascending
//!    shard order; each `Lock` carries the keys to copy from that shard.
//!    Acquiring in one global order means no two operations can wait on
//!    each other in a cycle: no deadlock.
//! 2. run — the coordinator loads the copies into a scratch keyspace, runs
//!    the command's ordinary handler there, and diffs each key before and
//!    after into writes (`Put` / `Del`) per shard.
//! 3. finish — each shard applies its writes and releases its lock.
//!
//! A locked shard runs nothing else on its keyspace: its clients' commands
//! and other shards' requests wait, in order, until the release, so no
//! observer sees a half-applied command. Commands need no coordination
//! code of their own: the same handler serves the one-shard case.

use super::multi_run::MultiRun;
use super::watch::WatchStamp;
use crate::keyspace::{Key, Keyspace, Value};
use crate::resp::num::parse_i64;
use crate::resp::OwnedArgv;

/// Identifies a coordinated operation: its coordinator and a number unique
/// there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TxId {
    pub origin: usize,
    pub id: u64,
}

/// One step run on a locked shard.
#[derive(Debug)]
pub enum TxOp {
    /// Copies a value and its expiry time (the key stays).
    Get {
        db: usize,
        key: Key,
    },
    /// Marks the writes that follow as this shard's part of a write
    /// spanning several shards (for the append-only log and replicas).
    Record(super::propagate::TxnPart),
    /// Sets a key, replacing any value and expiry.
    Put {
        db: usize,
        key: Key,
        value: Value,
        expire_at: Option<u64>,
    },
    Del {
        db: usize,
        key: Key,
    },
    /// Marks a key modified in place (a watched key's version moves) when
    /// the command rewrote it with the value it had.
    Touch {
        db: usize,
        key: Key,
    },
    /// Checks (and releases) a transaction's watched key under the lock.
    CheckWatch(WatchStamp),
}

/// The result of one [`TxOp`].
#[derive(Debug)]
pub enum TxOut {
    Value(Option<(Value, Option<u64>)>),
    Done,
    /// The result of a `CheckWatch`: the watched key changed.
    WatchChanged(bool),
}

/// A key an atomic command touches: where it is and what it held.
pub struct KeyRef {
    pub db: usize,
    pub key: Key,
    pub shard: usize,
    /// The value copied in phase 1.
    pub before: Option<(Value, Option<u64>)>,
}

/// The coordinator's record of one operation in flight.
pub struct Coordination {
    pub tx: TxId,
    pub argv: OwnedArgv,
    pub conn: usize,
    pub client_id: u64,
    /// The reply slot reserved on the connection.
    pub seq: u64,
    pub db: usize,
    pub resp3: bool,
    /// Involved shards, ascending.
    pub shards: Vec<usize>,
    pub keys: Vec<KeyRef>,
    /// How many shards are locked so far.
    pub locked: usize,
    /// `Finish` replies still expected.
    pub finishing: usize,
    pub reply: Vec<u8>,
    /// A transaction (`EXEC`) rather than one command.
    pub multi: Option<Box<MultiRun>>,
}

/// The database of key argument `position`: the connection's, except
/// where an option names another (`COPY ... DB n` for the destination).
pub fn key_db(argv: &OwnedArgv, position: usize, conn_db: usize) -> usize {
    let args = argv.argv();
    if position != 2 || !args.get(0).eq_ignore_ascii_case(b"copy") {
        return conn_db;
    }
    // Options in order, as COPY parses them: the last `DB n` wins.
    let mut db = conn_db;
    let mut i = 3;
    while i < args.len() {
        if args.get(i).eq_ignore_ascii_case(b"replace") {
            i += 1;
        } else if args.get(i).eq_ignore_ascii_case(b"db") && i + 1 < args.len() {
            if let Some(n) = parse_i64(args.get(i + 1)).filter(|&n| n >= 0) {
                db = n as usize;
            }
            i += 2;
        } else {
            break;
        }
    }
    db
}

/// The target database of `MOVE key db`, whose copy of the key must be
/// read and written too (it is no key position).
pub fn move_target_db(argv: &OwnedArgv) -> Option<usize> {
    let args = argv.argv();
    if args.len() != 3 || !args.get(0).eq_ignore_ascii_case(b"move") {
        return None;
    }
    parse_i64(args.get(2))
        .filter(|&n| n >= 0)
        .and_then(|n| usize::try_from(n).ok())
}

impl Coordination {
    /// The copies shard `shards[index]` must make while taking its lock.
    pub fn lock_ops(&self, index: usize) -> Vec<TxOp> {
        let shard = self.shards[index];
        let copies = self
            .keys
            .iter()
            .filter(|k| k.shard == shard)
            .map(|k| TxOp::Get {
                db: k.db,
                key: k.key.clone(),
            });
        let watches = self.multi.iter().flat_map(|m| &m.watches);
        let checks = watches
            .filter(|w| w.shard == shard)
            .map(|w| TxOp::CheckWatch(w.clone()));
        copies.chain(checks).collect()
    }

    /// Records the copies shard `shards[index]` returned (same order as its
    /// `lock_ops`).
    pub fn record_reads(&mut self, index: usize, results: Vec<TxOut>) {
        let shard = self.shards[index];
        let mut results = results.into_iter();
        for key in self.keys.iter_mut().filter(|k| k.shard == shard) {
            if let Some(TxOut::Value(value)) = results.next() {
                key.before = value;
            }
        }
        for result in results {
            if let (TxOut::WatchChanged(true), Some(multi)) = (result, self.multi.as_mut()) {
                multi.watch_dirty = true;
            }
        }
    }

    /// A scratch keyspace holding the copies.
    pub fn scratch(&self, databases: usize, clock: u32) -> Keyspace {
        let mut scratch = Keyspace::new(databases);
        for key in &self.keys {
            if let (Some((value, expire_at)), Some(db)) = (&key.before, scratch.dbs.get_mut(key.db))
            {
                db.insert_new(key.key.clone(), value.clone(), *expire_at, clock);
            }
        }
        scratch
    }

    /// Each shard's writes (indexed like `shards`): every key whose value or
    /// expiry differs in `after` from what was copied.
    pub fn writes(&self, after: &mut Keyspace, now_ms: u64) -> Vec<Vec<TxOp>> {
        let mut writes: Vec<Vec<TxOp>> = self.shards.iter().map(|_| Vec::new()).collect();
        for key in &self.keys {
            let index = self
                .shards
                .iter()
                .position(|&s| s == key.shard)
                .expect("every key's shard is among the involved shards");
            let now = after
                .dbs
                .get_mut(key.db)
                .and_then(|db| db.get(&key.key, now_ms))
                .map(|e| (e.value.clone(), e.expire_at()));
            let unchanged = match (&key.before, &now) {
                (None, None) => true,
                (Some((v1, e1)), Some((v2, e2))) => v1 == v2 && e1 == e2,
                _ => false,
            };
            if unchanged {
                continue;
            }
            writes[index].push(match now {
                Some((value, expire_at)) => TxOp::Put {
                    db: key.db,
                    key: key.key.clone(),
                    value,
                    expire_at,
                },
                None => TxOp::Del {
                    db: key.db,
                    key: key.key.clone(),
                },
            });
        }
        let parts = writes.iter().filter(|ops| !ops.is_empty()).count();
        if parts > 1 {
            let part = super::propagate::TxnPart {
                id: (self.tx.origin as u64) << 48 | self.tx.id,
                parts: u16::try_from(parts).unwrap_or(u16::MAX),
            };
            for ops in writes.iter_mut().filter(|ops| !ops.is_empty()) {
                ops.insert(0, TxOp::Record(part));
            }
        }
        writes
    }
}
