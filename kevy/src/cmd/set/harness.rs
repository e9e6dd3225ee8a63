//! A command-level test bench for the set and hash families: a command
//! line in, its raw reply out, against one in-memory keyspace with a fixed
//! clock. Tests use it for what the differential suite cannot see
//! (encodings as `OBJECT ENCODING` reports them, keyspace hit/miss
//! counters, lowered conversion limits).

use crate::cmd::{errors, lookup, ExecCtx, Handler};
use crate::config::Config;
use crate::keyspace::Keyspace;
use crate::random::SplitMix64;
use crate::resp::{OwnedArgv, ReplyBuf};
use crate::shard::ShardStats;

pub(in crate::cmd) struct Bench {
    pub keyspace: Keyspace,
    pub stats: ShardStats,
    pub config: Config,
    pub now_ms: u64,
    pub resp3: bool,
    rng: SplitMix64,
}

impl Bench {
    pub fn new() -> Self {
        Bench {
            keyspace: Keyspace::new(16),
            stats: ShardStats::default(),
            config: Config::default(),
            now_ms: 1_700_000_000_000,
            resp3: false,
            rng: SplitMix64::new(11),
        }
    }

    /// Sets a configuration directive (as `CONFIG SET` would).
    pub fn configure(&mut self, name: &str, value: &str) {
        self.config
            .set_runtime(name, value)
            .expect("tests set valid directives");
    }

    /// Runs one command (arguments split on spaces) and returns its reply.
    pub fn run(&mut self, line: &str) -> String {
        self.run_args(&line.split(' ').collect::<Vec<_>>())
    }

    /// Runs one command given as separate arguments.
    pub fn run_args(&mut self, args: &[&str]) -> String {
        let owned = OwnedArgv::from_slices(args.iter().map(|a| a.as_bytes()));
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

    /// What `OBJECT ENCODING key` would answer.
    pub fn encoding(&mut self, key: &str) -> &'static str {
        let now = self.now_ms;
        self.keyspace
            .db(0)
            .get(key.as_bytes(), now)
            .map_or("none", |e| e.value.encoding())
    }

    pub fn exists(&mut self, key: &str) -> bool {
        let now = self.now_ms;
        self.keyspace.db(0).contains(key.as_bytes(), now)
    }

    /// The key's absolute expiry time.
    pub fn expire_at(&mut self, key: &str) -> Option<u64> {
        let now = self.now_ms;
        self.keyspace
            .db(0)
            .get(key.as_bytes(), now)
            .and_then(|e| e.expire_at)
    }

    pub fn set_expire_at(&mut self, key: &str, at: u64) {
        let now = self.now_ms;
        self.keyspace
            .db(0)
            .set_expire(key.as_bytes(), Some(at), now);
    }

    /// Change of (hits, misses) while running `line`.
    pub fn hits_misses_of(&mut self, line: &str) -> (u64, u64) {
        let before = (self.stats.keyspace_hits, self.stats.keyspace_misses);
        self.run(line);
        (
            self.stats.keyspace_hits - before.0,
            self.stats.keyspace_misses - before.1,
        )
    }
}
