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
    let started = Instant::now();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|c| {
            std::thread::spawn(move || {
                let mut client = Client::connect(port);
                let keys: Vec<String> = keys.iter().map(|k| format!("{k}{c}")).collect();
                let mut done = 0u64;
                while started.elapsed() < RUN {
                    client.send(&["MULTI"]);
                    for key in &keys {
                        client.send(&["INCR", key]);
                    }
                    client.send(&["EXEC"]);
                    for _ in 0..5 {
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
}
