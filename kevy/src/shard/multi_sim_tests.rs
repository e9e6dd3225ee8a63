//! Deterministic simulation of transactions over several shards (the
//! harness of `sim_tests`): clients move value between counters with
//! `MULTI; DECRBY; INCRBY; EXEC` (some under `WATCH`), on one shard
//! (`{tag}` counters) and across shards, while observers read every
//! counter atomically (`MGET`, or a `MULTI` of `GET`s). Every observed sum
//! equals the starting total, every `EXEC` answers a whole array (or null
//! under `WATCH`), and at rest the total is unchanged.

use super::sim_tests::{cmd, Sim};
use crate::random::SplitMix64;
use crate::shard::gather_value_end;

const COUNTERS: usize = 8;
const START: i64 = 100;

fn counter(i: usize) -> String {
    // Half the counters share a tag (one shard), half spread out.
    if i % 2 == 0 {
        format!("{{bank}}c{i}")
    } else {
        format!("c{i}")
    }
}

/// The elements of an array reply, parsed as integers (bulk or `:`).
fn numbers(reply: &[u8]) -> Vec<i64> {
    let header = reply
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("an array header");
    let count: usize = std::str::from_utf8(&reply[1..header])
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("an array length");
    let mut at = header + 2;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let end = gather_value_end(reply, at).expect("a complete element");
        let item = std::str::from_utf8(&reply[at..end]).expect("text");
        let digits = item.rsplit("\r\n").nth(1).expect("an element body");
        let digits = digits.trim_start_matches(':');
        out.push(digits.parse().expect("a number"));
        at = end;
    }
    out
}

fn run_transfers(seed: u64) {
    let mut sim = Sim::new(4, seed);
    let mut rng = SplitMix64::new(seed ^ 0x5EED);
    let mut mset = vec!["MSET".to_string()];
    for i in 0..COUNTERS {
        mset.push(counter(i));
        mset.push(START.to_string());
    }
    let as_cmd = |args: &[String]| args.iter().map(|a| a.as_bytes().to_vec()).collect();
    sim.add_client(vec![as_cmd(&mset)]);
    sim.run();
    let total = START * COUNTERS as i64;
    let first_client = sim.clients.len();
    for _ in 0..4 {
        let mut script = Vec::new();
        for _ in 0..8 {
            let from = counter(rng.below(COUNTERS));
            let to = counter(rng.below(COUNTERS));
            let amount = rng.below(20).to_string();
            if rng.below(3) == 0 {
                script.push(cmd(&["WATCH", &from, &to]));
            }
            script.push(cmd(&["MULTI"]));
            script.push(cmd(&["DECRBY", &from, &amount]));
            script.push(cmd(&["INCRBY", &to, &amount]));
            script.push(cmd(&["EXEC"]));
        }
        sim.add_client(script);
    }
    let observers = sim.clients.len();
    for _ in 0..2 {
        let mut script = Vec::new();
        for _ in 0..6 {
            let mut mget = vec!["MGET".to_string()];
            mget.extend((0..COUNTERS).map(counter));
            script.push(as_cmd(&mget));
            script.push(cmd(&["MULTI"]));
            for i in 0..COUNTERS {
                script.push(cmd(&["GET", &counter(i)]));
            }
            script.push(cmd(&["EXEC"]));
        }
        sim.add_client(script);
    }
    sim.run();

    for client in &sim.clients[first_client..observers] {
        assert_eq!(client.replies.len(), client.script.len(), "seed {seed}");
        for (command, reply) in client.script.iter().zip(&client.replies) {
            if command[0] == b"EXEC" && reply.as_slice() != b"*-1\r\n" {
                assert_eq!(numbers(reply).len(), 2, "seed {seed}: EXEC {reply:?}");
            }
        }
    }
    for client in &sim.clients[observers..] {
        assert_eq!(client.replies.len(), client.script.len(), "seed {seed}");
        for (command, reply) in client.script.iter().zip(&client.replies) {
            if command[0] == b"MGET" || command[0] == b"EXEC" {
                let seen: i64 = numbers(reply).iter().sum();
                assert_eq!(seen, total, "seed {seed}: an observer saw {reply:?}");
            }
        }
    }
    let mut mget = vec!["MGET".to_string()];
    mget.extend((0..COUNTERS).map(counter));
    sim.add_client(vec![as_cmd(&mget)]);
    sim.run();
    let last = sim.clients.last().expect("the probe was added");
    assert_eq!(
        numbers(&last.replies[0]).iter().sum::<i64>(),
        total,
        "seed {seed}"
    );
    for core in &sim.cores {
        assert!(!core.lock.is_held(), "seed {seed}: a lock stayed held");
        assert!(
            core.coordinations.is_empty(),
            "seed {seed}: a coordination stayed"
        );
        assert!(
            core.watches.is_empty(),
            "seed {seed}: a watch registration leaked"
        );
    }
}

#[test]
fn transfers_keep_the_total_under_seeded_interleavings() {
    let seeds: u64 = std::env::var("KEVY_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    for seed in 0..seeds {
        run_transfers(seed);
    }
}
