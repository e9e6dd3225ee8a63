//! Command-level tests of the stream family with a fixed clock: the replies
//! that carry times (XPENDING idle, XINFO CONSUMERS idle, XINFO STREAM
//! FULL delivery and seen times), `*` IDs, keyspace hit/miss counters and
//! node settings — what the differential suite can only compare by type.

use crate::cmd::{errors, lookup, ExecCtx, Handler};
use crate::config::Config;
use crate::keyspace::Keyspace;
use crate::random::SplitMix64;
use crate::resp::{OwnedArgv, ReplyBuf};
use crate::shard::ShardStats;

/// One shard's keyspace, driven a command at a time at a settable time.
struct Harness {
    keyspace: Keyspace,
    stats: ShardStats,
    config: Config,
    now_ms: u64,
    resp3: bool,
    rng: SplitMix64,
}

impl Harness {
    fn new() -> Self {
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
    fn run(&mut self, line: &str) -> String {
        let owned = OwnedArgv::from_slices(line.split(' ').map(str::as_bytes));
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

    /// Runs commands, ignoring their replies.
    fn setup(&mut self, lines: &[&str]) {
        for line in lines {
            let reply = self.run(line);
            assert!(!reply.starts_with('-'), "{line}: {reply}");
        }
    }

    fn advance(&mut self, ms: u64) {
        self.now_ms += ms;
    }
}

/// A RESP2 integer reply.
fn int(n: i64) -> String {
    format!(":{n}\r\n")
}

/// A RESP2 bulk string reply.
fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

#[test]
fn auto_ids_follow_the_clock_and_never_go_back() {
    let mut h = Harness::new();
    assert_eq!(h.run("XADD s * f v"), bulk("1700000000000-0"));
    assert_eq!(h.run("XADD s * f v"), bulk("1700000000000-1"));
    h.now_ms -= 5000;
    assert_eq!(h.run("XADD s * f v"), bulk("1700000000000-2"));
    h.now_ms += 6000;
    assert_eq!(h.run("XADD s * f v"), bulk("1700000001000-0"));
    assert_eq!(h.run("XADD s 1700000001000-* f v"), bulk("1700000001000-1"));
}
