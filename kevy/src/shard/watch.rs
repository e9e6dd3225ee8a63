//! `WATCH` support on the shard that owns the keys: a table of the keys
//! some client watches, each with the version of its last modification.
//!
//! `WATCH` registers a key here (from any shard, by a `MultiHop::Watch`) and
//! takes a [`WatchStamp`]: the version and whether the key was alive. Every
//! write command that runs on this shard compares the watched keys it names
//! before and after (only when the table is not empty), and a change bumps
//! the key's version, as does a write Redis signals though it changed
//! nothing (`HSET` of the same value: the keyspace events mark it);
//! `FLUSHDB`/`FLUSHALL`/`SWAPDB` bump every watched key that existed in the
//! databases they replace, and coordinated writes bump the keys they put,
//! delete or (`TxOp::Touch`) rewrite with the value they had. `EXEC` checks its stamps on each shard in
//! the same step that runs the commands (or under the coordination locks),
//! so the check and the execution are atomic. A key alive at `WATCH` time
//! and gone at `EXEC` time (expired, even unseen) fails the check, as in
//! Redis 7.0. Registrations are counted and dropped on `EXEC`, `DISCARD`,
//! `UNWATCH` and disconnect, so the table only holds watched keys.

use hashbrown::HashMap;

use super::keyspace_events::rules::may_raise_events;
use super::ShardCore;
use crate::cmd::CommandSpec;
use crate::keyspace::Value;
use crate::resp::Argv;

/// A watched key as `WATCH` saw it.
#[derive(Clone, Debug)]
pub struct WatchStamp {
    pub shard: usize,
    pub db: usize,
    pub key: Vec<u8>,
    pub version: u64,
    /// The key existed (and was not expired) when watched.
    pub alive: bool,
}

struct WatchedKey {
    version: u64,
    watchers: u32,
}

#[derive(Default)]
pub struct WatchTable {
    keys: HashMap<(usize, Vec<u8>), WatchedKey>,
    next_version: u64,
}

impl WatchTable {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn is_watched(&self, db: usize, key: &[u8]) -> bool {
        !self.keys.is_empty() && self.keys.contains_key(&(db, key.to_vec()))
    }

    /// Registers one more watcher of `key`; returns its current version.
    pub fn register(&mut self, db: usize, key: &[u8]) -> u64 {
        let entry = self.keys.entry((db, key.to_vec())).or_insert(WatchedKey {
            version: 0,
            watchers: 0,
        });
        entry.watchers += 1;
        entry.version
    }

    pub fn release(&mut self, db: usize, key: &[u8]) {
        let id = (db, key.to_vec());
        if let Some(entry) = self.keys.get_mut(&id) {
            entry.watchers -= 1;
            if entry.watchers == 0 {
                self.keys.remove(&id);
            }
        }
    }

    pub fn touch(&mut self, db: usize, key: &[u8]) {
        if self.keys.is_empty() {
            return;
        }
        if let Some(entry) = self.keys.get_mut(&(db, key.to_vec())) {
            self.next_version += 1;
            entry.version = self.next_version;
        }
    }

    pub fn version(&self, db: usize, key: &[u8]) -> Option<u64> {
        self.keys.get(&(db, key.to_vec())).map(|e| e.version)
    }

    /// Watched keys of database `db`.
    fn keys_of(&self, db: usize) -> Vec<Vec<u8>> {
        self.keys
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect()
    }
}

/// A key's value and expiry time, or None when it does not exist.
type KeyState = Option<(Value, Option<u64>)>;

/// Watched keys a write command names, as they were before it ran.
pub(crate) struct WatchBefore {
    /// `(db, key, state before)`.
    keys: Vec<(usize, Vec<u8>, KeyState)>,
    /// Keys to bump whatever the command did (`FLUSHDB` and friends).
    touch_all: bool,
    /// A status reply counts as a modification: for commands without
    /// event rules, which otherwise mark the keys Redis signals
    /// (`keyspace_events`; `RENAME k k` answers `+OK` and touches nothing).
    status_touches: bool,
}

/// The databases a whole-database command replaces.
fn replaced_dbs(spec: &CommandSpec, argv: Argv, db: usize, databases: usize) -> Option<Vec<usize>> {
    match spec.name {
        "flushdb" => Some(vec![db]),
        "flushall" => Some((0..databases).collect()),
        "swapdb" => {
            let parse = |i: usize| {
                crate::resp::num::parse_i64(argv.get(i))
                    .filter(|&n| n >= 0 && (n as usize) < databases)
                    .map(|n| n as usize)
            };
            Some(vec![parse(1)?, parse(2)?])
        }
        _ => None,
    }
}

impl ShardCore {
    /// Registers `WATCH` of keys on this shard and stamps them.
    pub(super) fn watch_register(&mut self, keys: &[(usize, Vec<u8>)]) -> Vec<(u64, bool)> {
        let now = self.now_ms;
        keys.iter()
            .map(|(db, key)| {
                let version = self.watches.register(*db, key);
                let alive =
                    *db < self.keyspace.dbs.len() && self.keyspace.db(*db).contains(key, now);
                (version, alive)
            })
            .collect()
    }

    pub(super) fn watch_release(&mut self, keys: &[(usize, Vec<u8>)]) {
        for (db, key) in keys {
            self.watches.release(*db, key);
        }
    }

    /// Whether a stamped key on this shard changed since `WATCH`.
    pub(super) fn watch_changed(&mut self, stamp: &WatchStamp) -> bool {
        let now = self.now_ms;
        let version = self.watches.version(stamp.db, &stamp.key);
        if version != Some(stamp.version) {
            return true;
        }
        stamp.alive
            && !(stamp.db < self.keyspace.dbs.len()
                && self.keyspace.db(stamp.db).contains(&stamp.key, now))
    }

    /// Before a write command: the watched keys it names, with their values.
    /// Costs one emptiness check when nobody watches a key of this shard.
    pub(crate) fn watch_before(
        &mut self,
        db: usize,
        spec: &CommandSpec,
        argv: Argv,
    ) -> Option<Box<WatchBefore>> {
        if self.watches.is_empty() || !spec.is_write() {
            return None;
        }
        let now = self.now_ms;
        let databases = self.keyspace.dbs.len();
        if let Some(dbs) = replaced_dbs(spec, argv, db, databases) {
            let mut keys = Vec::new();
            for d in dbs {
                for key in self.watches.keys_of(d) {
                    if self.keyspace.db(d).contains(&key, now) {
                        keys.push((d, key, None));
                    }
                }
            }
            return Some(Box::new(WatchBefore {
                keys,
                touch_all: true,
                status_touches: true,
            }));
        }
        let mut positions = Vec::new();
        spec.key_positions(argv, &mut positions);
        let mut keys = Vec::new();
        for p in positions {
            let key = argv.get(p);
            if db < databases && self.watches.is_watched(db, key) {
                let before = self
                    .keyspace
                    .db(db)
                    .get(key, now)
                    .map(|e| (e.value.clone(), e.expire_at()));
                keys.push((db, key.to_vec(), before));
            }
        }
        (!keys.is_empty()).then(|| {
            Box::new(WatchBefore {
                keys,
                touch_all: false,
                status_touches: !may_raise_events(spec),
            })
        })
    }

    /// After the command: bumps the watched keys it modified. A key counts
    /// as modified when its value or expiry changed, or when a command
    /// without event rules replied a status; the keyspace events of the
    /// others mark the keys Redis signals though nothing changed (`SET` or
    /// `HSET` of the same value), see `keyspace_events`.
    pub(crate) fn watch_after(&mut self, before: WatchBefore, status: bool) {
        let status = status && before.status_touches;
        let now = self.now_ms;
        for (db, key, was) in before.keys {
            let modified = before.touch_all || {
                let is: KeyState = self
                    .keyspace
                    .db(db)
                    .get(&key, now)
                    .map(|e| (e.value.clone(), e.expire_at()));
                match (&was, &is) {
                    (None, None) => false,
                    (Some((v1, e1)), Some((v2, e2))) => status || v1 != v2 || e1 != e2,
                    _ => true,
                }
            };
            if modified {
                self.watches.touch(db, &key);
            }
        }
    }
}
