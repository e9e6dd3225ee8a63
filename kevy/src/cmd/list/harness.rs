//! A command-level test bench for the list and sort families: a command
//! line in, its raw reply out, against one in-memory keyspace with a fixed
//! clock. Tests use it for what the differential suite cannot see (the
//! encoding `OBJECT ENCODING` would report, hit/miss counters, TTLs).

use crate::cmd::{errors, lookup, ExecCtx, Handler};
use crate::config::Config;
use crate::keyspace::{Entry, Keyspace, RString, Value};
use crate::random::SplitMix64;
use crate::resp::{OwnedArgv, ReplyBuf};
use crate::shard::ShardStats;

pub(in crate::cmd) struct Harness {
    pub keyspace: Keyspace,
    pub stats: ShardStats,
    pub config: Config,
    pub now_ms: u64,
    pub resp3: bool,
    rng: SplitMix64,
}

impl Harness {
    pub fn new() -> Self {
        Harness {
            keyspace: Keyspace::new(16),
            stats: ShardStats::default(),
            config: Config::default(),
            now_ms: 1_700_000_000_000,
            resp3: false,
            rng: SplitMix64::new(7),
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

    /// (hits, misses) so far.
    pub fn hits_misses(&self) -> (u64, u64) {
        (self.stats.keyspace_hits, self.stats.keyspace_misses)
    }
}
