//! The stress run: 20 producers and 20 consumers, each consumer blocking
//! on 3 keys of 3 different shards of a 4-shard kevy, 100 000 elements;
//! every element is received exactly once and nothing is left behind.
//!
//! `stress_rates` (ignored: a measurement, not a check; run it with
//! `cargo test -p kevy --release --test blocking stress_rates -- --ignored
//! --nocapture`) runs the same workload on kevy with 1, 2 and 4 shards and
//! on redis-server, and prints elements per second for each.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kevy::slot::SlotTable;

use crate::blocked_clients;
use crate::support::{self, Client, Value};

const PRODUCERS: usize = 20;
const CONSUMERS: usize = 20;
const ELEMENTS: usize = 100_000;
/// Elements per push command.
const PUSH_BATCH: usize = 10;

/// `count` keys per shard of a `shards`-shard kevy, by shard.
fn keys_by_shard(shards: usize, count: usize) -> Vec<Vec<String>> {
    let table = SlotTable::new(shards);
    let mut by_shard = vec![Vec::new(); shards];
    let mut n = 0;
    while by_shard.iter().any(|keys| keys.len() < count) {
        let key = format!("stress:{n}");
        let shard = table.shard_of(key.as_bytes());
        if by_shard[shard].len() < count {
            by_shard[shard].push(key);
        }
        n += 1;
    }
    by_shard
}

#[test]
fn stress_every_element_received_exactly_once() {
    let server = support::kevy(4);
    run_stress(server.port);
}

#[test]
#[ignore = "a measurement: prints elements per second"]
fn stress_rates() {
    for threads in [1, 2, 4] {
        let server = support::kevy(threads);
        let took = run_stress(server.port);
        println!(
            "kevy --threads {threads}: {:.0} elements/s",
            ELEMENTS as f64 / took.as_secs_f64()
        );
    }
    if let Some(server) = crate::redis_server() {
        let took = run_stress(server.port);
        println!(
            "redis-server: {:.0} elements/s",
            ELEMENTS as f64 / took.as_secs_f64()
        );
    }
}

/// Runs the workload against the server on `port`, checks exactly-once
/// delivery, and returns how long moving every element took.
fn run_stress(port: u16) -> Duration {
    // Keys of 3 different shards whatever the server's shard count (a
    // 4-shard table: on fewer shards some share one).
    let shards = 4;
    let started = Instant::now();
    let by_shard = keys_by_shard(shards, 3);
    // Consumer i waits on one key of each of three different shards; every
    // key is watched by several consumers.
    let consumer_keys: Vec<Vec<String>> = (0..CONSUMERS)
        .map(|i| {
            (0..3)
                .map(|j| by_shard[(i + j) % shards][(i / shards + j) % 3].clone())
                .collect()
        })
        .collect();
    let watched: HashSet<String> = consumer_keys.iter().flatten().cloned().collect();
    let keys: Vec<String> = watched.into_iter().collect();
    let received = Arc::new(Mutex::new(Vec::with_capacity(ELEMENTS)));
    let count = Arc::new(AtomicUsize::new(0));
    let consumers: Vec<_> = consumer_keys
        .into_iter()
        .map(|watch| {
            let received = received.clone();
            let count = count.clone();
            std::thread::spawn(move || {
                let mut client = Client::connect(port);
                let mut mine = Vec::new();
                while count.load(Ordering::SeqCst) < ELEMENTS {
                    let reply = client.call(&["BLPOP", &watch[0], &watch[1], &watch[2], "0.2"]);
                    if let Value::Array(items) = reply {
                        mine.push(items[1].text());
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                }
                received.lock().expect("no panics holding it").extend(mine);
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let keys = keys.clone();
            std::thread::spawn(move || {
                let mut client = Client::connect(port);
                let per_producer = ELEMENTS / PRODUCERS;
                for batch in 0..per_producer / PUSH_BATCH {
                    let key = &keys[(p * 7 + batch) % keys.len()];
                    let elements: Vec<String> = (0..PUSH_BATCH)
                        .map(|i| format!("{p}:{}", batch * PUSH_BATCH + i))
                        .collect();
                    let mut args = vec!["RPUSH", key.as_str()];
                    args.extend(elements.iter().map(String::as_str));
                    client.call(&args);
                }
            })
        })
        .collect();
    for producer in producers {
        producer.join().expect("producer");
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while count.load(Ordering::SeqCst) < ELEMENTS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    for consumer in consumers {
        consumer.join().expect("consumer");
    }
    let took = started.elapsed();
    let received = received.lock().expect("consumers are done");
    let unique: HashSet<&String> = received.iter().collect();
    assert_eq!(
        unique.len(),
        received.len(),
        "an element was received twice"
    );
    assert_eq!(received.len(), ELEMENTS, "elements were lost");
    let mut control = Client::connect(port);
    for key in &keys {
        assert_eq!(control.call(&["LLEN", key]), Value::Int(0));
    }
    assert_eq!(blocked_clients(&mut control), 0);
    took
}
