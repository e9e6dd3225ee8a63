//! The command table and the context a command runs in.
//!
//! Every command is a [`CommandSpec`]: name, arity, flags, which arguments
//! are keys, how it is routed across shards, and its handler. The shard core
//! looks the name up, checks arity, finds the shard(s) owning the keys and
//! runs the handler there with an [`ExecCtx`] (keyspace commands) or, on the
//! connection's own shard, a [`crate::shard::ConnCtx`] (connection and
//! server commands). The table is data: `COMMAND INFO/DOCS/LIST` read it.
//!
//! Keys are looked up through the functions here, as Redis's
//! `lookupKeyRead` ([`read_entry`], [`lookup_read`]) and `lookupKeyWrite`
//! ([`lookup_write`]), so access times and keyspace hit/miss counts are kept
//! the same way by every family; [`Lookup`] is a key as a command working on
//! one value type sees it (absent, that type, or WRONGTYPE).

mod bits;
pub mod blocking;
mod client;
mod command_docs;
mod config_cmd;
pub mod connection;
mod debug;
mod dump;
pub mod effects;
pub mod errors;
mod expire;
mod hash;
mod info;
mod keys;
mod list;
#[cfg(test)]
mod model_tests;
mod multi;
mod numkeys;
pub mod persist;
mod pubsub;
mod replication;
mod server;
mod set;
mod sort;
mod stream;
mod strings;
mod table;
#[cfg(test)]
mod test_harness;
mod zset;

pub use table::{all, count, lookup, lookup_indexed, COMMANDS};

use crate::keyspace::hash::HashValue;
use crate::keyspace::list::ListValue;
use crate::keyspace::set::SetValue;
use crate::keyspace::stream::StreamValue;
use crate::keyspace::zset::ZSetValue;
use crate::keyspace::{Db, Entry, Keyspace, RString, Value};
use crate::random::SplitMix64;
use crate::resp::{Argv, ReplyBuf};
use crate::shard::{ConnCtx, ShardStats};

/// A keyspace command's view of the shard it runs on.
pub struct ExecCtx<'a> {
    pub keyspace: &'a mut Keyspace,
    /// The client's selected database.
    pub db_index: usize,
    pub reply: ReplyBuf<'a>,
    /// Wall clock in Unix milliseconds, taken once per batch of commands.
    pub now_ms: u64,
    /// Seconds since the server started, for access times.
    pub clock: u32,
    pub rng: &'a mut SplitMix64,
    pub stats: &'a mut ShardStats,
    pub config: &'a crate::config::Config,
    /// How this run is recorded for the append-only log and replicas.
    pub effects: &'a mut effects::Effects,
}

impl ExecCtx<'_> {
    /// Whether a time already past deletes a key now (Redis's
    /// `checkAlreadyExpired`): not while replaying recorded writes, nor on
    /// a replica, where the recorded `DEL` says when the key went.
    pub fn deletes_expired(&mut self) -> bool {
        self.db().expiry_mode() == crate::keyspace::ExpiryMode::Delete
    }

    /// The selected database.
    pub fn db(&mut self) -> &mut Db {
        self.keyspace.db(self.db_index)
    }

    /// [`read_entry`] in the selected database, for commands that are done
    /// with the entry before they reply.
    pub fn read_entry(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let db = self.keyspace.db(self.db_index);
        read_entry(db, self.stats, key, self.now_ms, self.clock)
    }

    /// Redis's `lookupKeyRead` with `LOOKUP_NOTOUCH` (`TYPE`, `EXISTS`,
    /// `OBJECT`, `TTL`): counts a hit or miss but leaves the access time.
    pub fn read_entry_notouch(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let entry = self.keyspace.db(self.db_index).get(key, self.now_ms);
        count_lookup(self.stats, entry.is_some());
        entry
    }
}

/// Redis's `lookupKeyRead`: expires the key lazily, records the access and
/// counts a keyspace hit (any live key, whatever its type) or miss. A free
/// function over the parts of [`ExecCtx`] it needs, so that a handler can
/// hold the entry and still write `ctx.reply`.
pub fn read_entry<'k>(
    db: &'k mut Db,
    stats: &mut ShardStats,
    key: &[u8],
    now_ms: u64,
    clock: u32,
) -> Option<&'k mut Entry> {
    let entry = db.get_touch(key, now_ms, clock);
    count_lookup(stats, entry.is_some());
    entry
}

fn count_lookup(stats: &mut ShardStats, hit: bool) {
    if hit {
        stats.keyspace_hits += 1;
    } else {
        stats.keyspace_misses += 1;
    }
}

/// A key as a command working on values of type `T` sees it.
pub enum Lookup<'k, T> {
    Absent,
    Found(&'k mut T),
    /// Another type: the caller replies WRONGTYPE (or its own error).
    WrongType,
}

impl<'k, T: ValueKind> Lookup<'k, T> {
    fn classify(entry: Option<&'k mut Entry>) -> Self {
        match entry {
            None => Lookup::Absent,
            Some(entry) => T::of(&mut entry.value).map_or(Lookup::WrongType, Lookup::Found),
        }
    }
}

/// [`read_entry`] as a value of type `T` (Redis's `lookupKeyRead` followed
/// by `checkType`).
pub fn lookup_read<'k, T: ValueKind>(
    db: &'k mut Db,
    stats: &mut ShardStats,
    key: &[u8],
    now_ms: u64,
    clock: u32,
) -> Lookup<'k, T> {
    Lookup::classify(read_entry(db, stats, key, now_ms, clock))
}

/// Redis's `lookupKeyWrite` as a value of type `T`: records the access; no
/// hit/miss statistics.
pub fn lookup_write<'k, T: ValueKind>(
    db: &'k mut Db,
    key: &[u8],
    now_ms: u64,
    clock: u32,
) -> Lookup<'k, T> {
    Lookup::classify(db.get_touch(key, now_ms, clock))
}

/// A value type a command family works on: the [`Value`] variant holding it.
pub trait ValueKind {
    fn of(value: &mut Value) -> Option<&mut Self>;
}

macro_rules! value_kind {
    ($($type:ty => $variant:ident),* $(,)?) => {$(
        impl ValueKind for $type {
            fn of(value: &mut Value) -> Option<&mut Self> {
                match value {
                    Value::$variant(inner) => Some(inner),
                    _ => None,
                }
            }
        }
    )*};
}

value_kind! {
    RString => Str,
    HashValue => Hash,
    ListValue => List,
    SetValue => Set,
    ZSetValue => ZSet,
    StreamValue => Stream,
}

/// How a command's keys are found among its arguments.
#[derive(Clone, Copy)]
pub enum KeySpec {
    /// No keys.
    None,
    /// Keys at `first`, `first + step`, ... up to `last` (negative counts
    /// from the end, -1 being the last argument), as in `COMMAND INFO`.
    Range { first: i32, last: i32, step: i32 },
    /// Keys found by a function (commands with options that name keys).
    Custom {
        first: i32,
        last: i32,
        step: i32,
        find: fn(Argv, &mut Vec<usize>),
    },
}

/// How replies of parts run on several shards are merged into one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gather {
    /// Array parts whose elements go back to the positions of their keys
    /// (`MGET`).
    ByKeyPosition,
    /// Integer parts summed (`DEL`, `EXISTS`, `DBSIZE`).
    SumIntegers,
    /// Every part answers `+OK`; the first error wins (`MSET`, `FLUSHDB`).
    AllOk,
    /// Array parts concatenated (`KEYS`).
    ConcatArrays,
    /// One non-null part, picked at random (`RANDOMKEY`).
    AnyNonNull,
}

/// Where a command runs.
#[derive(Clone, Copy)]
pub enum Route {
    /// On the connection's shard, needing no key (`PING`, `ECHO`, `TIME`).
    Local,
    /// On the shard owning its keys; keys on several shards are an error
    /// unless `scatter` or `coordinated` says how to split it.
    Keyed,
    /// Split by shard, each part run with the same handler on its keys, and
    /// merged; `step` arguments travel with each key (2 for `MSET`).
    Scatter(Gather),
    /// All-or-nothing across shards: when its keys live on several shards,
    /// they are locked, copied to the connection's shard, the handler runs
    /// on the copies and the changes are written back before the locks are
    /// released (see `shard::coord`). On one shard it runs as `Keyed`.
    Atomic,
    /// On every shard, merged.
    AllShards(Gather),
    /// `SCAN`: walks the shards one after another.
    ScanShards,
}

pub type KeyHandler = fn(&mut ExecCtx, Argv);
pub type ConnHandler = fn(&mut ConnCtx, Argv);

#[derive(Clone, Copy)]
pub enum Handler {
    /// Runs against a shard's keyspace (possibly another shard's).
    Key(KeyHandler),
    /// Runs on the connection's shard with the connection and server state.
    Conn(ConnHandler),
}

/// One row of the command table.
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: N exactly, or -N for at least N (the name counts).
    pub arity: i32,
    /// `COMMAND INFO` flags (`write`, `readonly`, `fast`, ...).
    pub flags: &'static [&'static str],
    /// `COMMAND INFO` ACL categories (`@string`, ...).
    pub acl: &'static [&'static str],
    pub keys: KeySpec,
    pub route: Route,
    pub handler: Handler,
    /// `COMMAND DOCS` fields.
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    /// Subcommands (`CONFIG GET`, ...) for `COMMAND` listings.
    pub subcommands: &'static [&'static str],
}

impl CommandSpec {
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }

    pub fn is_write(&self) -> bool {
        self.flags.contains(&"write")
    }

    /// Positions of the key arguments in `argv`, appended to `out`.
    pub fn key_positions(&self, argv: Argv, out: &mut Vec<usize>) {
        out.clear();
        match self.keys {
            KeySpec::None => {}
            KeySpec::Range { first, last, step } => {
                range_positions(argv.len(), first, last, step, out)
            }
            KeySpec::Custom { find, .. } => find(argv, out),
        }
    }

    /// `(first, last, step)` as `COMMAND INFO` reports it.
    pub fn key_range(&self) -> (i32, i32, i32) {
        match self.keys {
            KeySpec::None => (0, 0, 0),
            KeySpec::Range { first, last, step }
            | KeySpec::Custom {
                first, last, step, ..
            } => (first, last, step),
        }
    }
}

/// `COMMAND INFO` flag sets the command tables share.
pub mod flags {
    pub const READONLY: &[&str] = &["readonly"];
    pub const READONLY_FAST: &[&str] = &["readonly", "fast"];
    pub const WRITE: &[&str] = &["write"];
    pub const WRITE_FAST: &[&str] = &["write", "fast"];
    /// Writes that may grow memory (refused under `maxmemory`).
    pub const WRITE_DENYOOM: &[&str] = &["write", "denyoom"];
    pub const WRITE_DENYOOM_FAST: &[&str] = &["write", "denyoom", "fast"];
}

/// The table row of a command whose one key is its first argument, routed
/// to the shard owning it: most commands of the data-type families.
#[allow(clippy::too_many_arguments)]
pub const fn keyed(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    acl: &'static [&'static str],
    handler: KeyHandler,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl,
        keys: KeySpec::Range {
            first: 1,
            last: 1,
            step: 1,
        },
        route: Route::Keyed,
        handler: Handler::Key(handler),
        group,
        since,
        summary,
        subcommands: &[],
    }
}

fn range_positions(argc: usize, first: i32, last: i32, step: i32, out: &mut Vec<usize>) {
    if first <= 0 || step <= 0 {
        return;
    }
    let last = if last < 0 { argc as i32 + last } else { last };
    let mut i = first;
    while i <= last && (i as usize) < argc {
        out.push(i as usize);
        i += step;
    }
}
pub use connection::REDIS_VERSION;
pub use dump::dump_payload;
