//! The bench the command-level tests of every family run on: a command line
//! in, its raw reply out, against one in-memory keyspace with a fixed clock.
//!
//! [`Harness::run`] looks the command up in the real table, checks its
//! arity and calls its keyspace handler with an [`ExecCtx`] over the
//! harness's keyspace, counters and configuration, as a shard would. Tests
//! then read the keyspace directly for what the differential suite cannot
//! see (encodings, TTLs, list chunks, keyspace hit/miss counters).

use crate::cmd::{errors, lookup, ExecCtx, Handler};
use crate::config::Config;
use crate::keyspace::{Entry, Keyspace, RString, Value};
use crate::random::SplitMix64;
use crate::resp::{OwnedArgv, ReplyBuf};
use crate::shard::ShardStats;

/// The wall clock every harness starts at (Unix milliseconds).
pub(in crate::cmd) const NOW: u64 = 1_700_000_000_000;

/// One shard's keyspace and counters, driven a command at a time.
pub(in crate::cmd) struct Harness {
    pub keyspace: Keyspace,
    pub stats: ShardStats,
    pub config: Config,
    pub now_ms: u64,
    pub resp3: bool,
    rng: SplitMix64,
    effects: crate::cmd::effects::Effects,
}

impl Harness {
    pub fn new() -> Self {
        Harness::with_seed(7)
    }

    /// A harness whose random commands draw from `seed`.
    pub fn with_seed(seed: u64) -> Self {
        Harness {
            keyspace: Keyspace::new(16),
            stats: ShardStats::default(),
            config: Config::default(),
            now_ms: NOW,
            resp3: false,
            rng: SplitMix64::new(seed),
            effects: crate::cmd::effects::Effects::default(),
        }
    }

    /// Runs one command (arguments split on spaces) and returns its reply.
    pub fn run(&mut self, line: &str) -> String {
        self.run_args(&line.split(' ').map(str::as_bytes).collect::<Vec<_>>())
    }

    /// Runs one command given as separate arguments.
    pub fn run_args(&mut self, args: &[&[u8]]) -> String {
        let owned = OwnedArgv::from_slices(args.iter().copied());
        let argv = owned.argv();
        let mut out = Vec::new();
        let spec = lookup(argv.get(0)).expect("tests run known commands");
        let mut reply = ReplyBuf::new(&mut out, self.resp3);
        if !spec.arity_ok(argv.len()) {
            reply.error(&errors::wrong_args(spec.name));
        } else if let Handler::Key(handler) = spec.handler {
            let mut ctx = ExecCtx {
                keyspace: &mut self.keyspace,
                db_index: 0,
                reply,
                now_ms: self.now_ms,
                clock: 1,
                rng: &mut self.rng,
                stats: &mut self.stats,
                config: &self.config,
                effects: &mut self.effects,
            };
            handler(&mut ctx, argv);
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    pub fn entry(&mut self, key: &str) -> Option<&mut Entry> {
        self.keyspace.db(0).get(key.as_bytes(), self.now_ms)
    }

    /// What `OBJECT ENCODING key` would answer.
    pub fn encoding(&mut self, key: &str) -> &'static str {
        self.entry(key).map_or("none", |e| e.value.encoding())
    }

    /// The key's absolute expiry time.
    pub fn expire_at(&mut self, key: &str) -> Option<u64> {
        self.entry(key).and_then(|e| e.expire_at())
    }

    /// The string value of `key` (None when absent or not a string).
    pub fn value(&mut self, key: &str) -> Option<Vec<u8>> {
        self.entry(key).and_then(|e| match &e.value {
            Value::Str(s) => Some(s.to_vec()),
            _ => None,
        })
    }

    /// The elements of the list at `key`, None when absent or not a list.
    pub fn list(&mut self, key: &str) -> Option<Vec<String>> {
        match &self.entry(key)?.value {
            Value::List(list) => Some(
                list.iter()
                    .map(|e| String::from_utf8_lossy(e).into_owned())
                    .collect(),
            ),
            _ => None,
        }
    }

    /// How many chunks the list at `key` is stored in (0 when absent).
    pub fn chunks(&mut self, key: &str) -> usize {
        match self.entry(key).map(|e| &e.value) {
            Some(Value::List(list)) => list.chunk_count(),
            _ => 0,
        }
    }

    /// Stores a string value (the string family's SET without running it).
    pub fn set_string(&mut self, key: &str, value: &str) {
        let value = Value::Str(RString::from_client(value.as_bytes()));
        self.keyspace.db(0).set(key.as_bytes(), value, false, 1);
    }

    /// Runs commands that must succeed, ignoring their replies.
    pub fn setup(&mut self, lines: &[&str]) {
        for line in lines {
            let reply = self.run(line);
            assert!(!reply.starts_with('-'), "{line}: {reply}");
        }
    }

    /// Moves the clock forward.
    pub fn advance(&mut self, ms: u64) {
        self.now_ms += ms;
    }

    pub fn exists(&mut self, key: &str) -> bool {
        let now = self.now_ms;
        self.keyspace.db(0).contains(key.as_bytes(), now)
    }

    pub fn set_expire_at(&mut self, key: &str, at: u64) {
        let now = self.now_ms;
        self.keyspace
            .db(0)
            .set_expire(key.as_bytes(), Some(at), now);
    }

    /// Change of (hits, misses) while running `line`.
    pub fn hits_misses_of(&mut self, line: &str) -> (u64, u64) {
        let before = self.hits_misses();
        self.run(line);
        let after = self.hits_misses();
        (after.0 - before.0, after.1 - before.1)
    }

    /// Sets a configuration parameter as `CONFIG SET` would.
    pub fn set_config(&mut self, name: &str, value: &str) {
        self.config
            .set_runtime(name, value)
            .expect("tests set valid values");
    }

    /// (hits, misses) so far.
    pub fn hits_misses(&self) -> (u64, u64) {
        (self.stats.keyspace_hits, self.stats.keyspace_misses)
    }

    /// Runs each command and checks the keyspace hits and misses it added.
    pub fn assert_hits_misses(&mut self, counted: &[(&str, (u64, u64))]) {
        for (line, (hits, misses)) in counted {
            let before = self.hits_misses();
            self.run(line);
            let after = self.hits_misses();
            assert_eq!(
                (after.0 - before.0, after.1 - before.1),
                (*hits, *misses),
                "{line}"
            );
        }
    }
}
