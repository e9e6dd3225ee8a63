//! Throughput of `MULTI; INCR; INCR; INCR; EXEC` with the three keys on one
//! shard (`{tag}`) and on several shards, on kevy `--threads 4` beside
//! redis-server in the same run. Ignored: run with
//! `cargo test -p kevy --release --test multi -- --ignored --nocapture`.
//! Prints numbers; asserts nothing about time.

use std::time::{Duration, Instant};

use crate::support::{self, Client};

const CLIENTS: usize = 8;
const RUN: Duration = Duration::from_secs(3);

/// Transactions per second from `CLIENTS` clients, each pipelining one
/// whole transaction per round trip.
fn measure(port: u16, keys: [&'static str; 3]) -> f64 {
    measure_with(port, keys, |client, keys| {
        client.send(&["MULTI"]);
        for key in keys {
            client.send(&["INCR", key]);
        }
        client.send(&["EXEC"]);
        5
    })
}

/// Operations per second from `CLIENTS` clients; `send` pipelines one
/// operation and returns how many replies it owes.
fn measure_with(
    port: u16,
    keys: [&'static str; 3],
    send: fn(&mut Client, &[String]) -> usize,
) -> f64 {
    let started = Instant::now();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|c| {
            std::thread::spawn(move || {
                let mut client = Client::connect(port);
                let keys: Vec<String> = keys.iter().map(|k| format!("{k}{c}")).collect();
                let mut done = 0u64;
                while started.elapsed() < RUN {
                    for _ in 0..send(&mut client, &keys) {
                        client.read().expect("a reply");
                    }
                    done += 1;
                }
                done
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().expect("client")).sum();
    total as f64 / started.elapsed().as_secs_f64()
}

#[test]
#[ignore]
fn multi_exec_throughput_beside_redis() {
    let Some(redis) = crate::redis_server() else {
        return;
    };
    let kevy = support::kevy(4);
    let one_shard = ["{t}a", "{t}b", "{t}c"];
    let cross = ["a", "b", "c"];
    // Check that the cross-shard keys really span shards is left to the
    // slot table: three unrelated names land on different shards with
    // high probability and the printout says which path ran.
    for (name, keys) in [("one shard", one_shard), ("cross shard", cross)] {
        Client::connect(kevy.port).call(&["FLUSHALL"]);
        Client::connect(redis.port).call(&["FLUSHALL"]);
        let k = measure(kevy.port, keys);
        let r = measure(redis.port, keys);
        println!(
            "MULTI + 3 INCR + EXEC, {name}: kevy {k:.0}/s, redis-server {r:.0}/s, ratio {:.2}",
            k / r
        );
    }
    // Plain multi-key commands across shards, coordinated for atomicity.
    type Send = fn(&mut Client, &[String]) -> usize;
    let mset: Send = |client, keys| {
        let mut args = vec!["MSET"];
        for key in keys {
            args.extend([key.as_str(), "v"]);
        }
        client.send(&args);
        1
    };
    let mget: Send = |client, keys| {
        let mut args = vec!["MGET"];
        args.extend(keys.iter().map(String::as_str));
        client.send(&args);
        1
    };
    for (name, send) in [("MSET", mset), ("MGET", mget)] {
        let k = measure_with(kevy.port, cross, send);
        let r = measure_with(redis.port, cross, send);
        println!(
            "{name} of 3 keys on different shards: kevy {k:.0}/s, redis-server {r:.0}/s, ratio {:.2}",
            k / r
        );
    }
}
