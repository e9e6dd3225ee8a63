//! Everyday traffic through a real client library: single commands, deep
//! pipelines, hundreds of concurrent connections, multi-key commands whose
//! keys span shards, `{hash tag}` keys and multi-megabyte values. Every
//! test runs against `--threads 1` and `--threads 4`, so both the one-shard
//! path and the cross-shard hops are exercised.

use std::sync::{Arc, Barrier};

use kevy_matrix_tests::{KevyServer, SHARD_COUNTS};

#[test]
fn ping_set_get() {
    for threads in SHARD_COUNTS {
        let server = KevyServer::start(threads);
        let mut con = server.connect();
        let pong: String = redis::cmd("PING").query(&mut con).expect("PING");
        assert_eq!(pong, "PONG");
        let echoed: String = redis::cmd("PING")
            .arg("hello")
            .query(&mut con)
            .expect("PING msg");
        assert_eq!(echoed, "hello");
        let () = redis::cmd("SET")
            .arg("greeting")
            .arg("hi")
            .query(&mut con)
            .expect("SET");
        let value: Option<String> = redis::cmd("GET")
            .arg("greeting")
            .query(&mut con)
            .expect("GET");
        assert_eq!(value.as_deref(), Some("hi"));
        let missing: Option<String> = redis::cmd("GET").arg("nope").query(&mut con).expect("GET");
        assert_eq!(missing, None);
    }
}

#[test]
fn pipeline_of_ten_thousand_commands() {
    const COMMANDS: usize = 10_000;
    for threads in SHARD_COUNTS {
        let server = KevyServer::start(threads);
        let mut con = server.connect();
        let mut writes = redis::pipe();
        for i in 0..COMMANDS {
            writes.cmd("SET").arg(format!("pipe:{i}")).arg(i).ignore();
        }
        let () = writes.query(&mut con).expect("pipelined SETs");
        let mut reads = redis::pipe();
        for i in 0..COMMANDS {
            reads.cmd("GET").arg(format!("pipe:{i}"));
        }
        let values: Vec<usize> = reads.query(&mut con).expect("pipelined GETs");
        // Replies come back in request order even when keys live on
        // different shards.
        assert_eq!(values, (0..COMMANDS).collect::<Vec<_>>());
        let size: usize = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
        assert_eq!(size, COMMANDS);
    }
}

#[test]
fn hundreds_of_concurrent_connections() {
    const CONNECTIONS: usize = 210;
    const KEYS_EACH: usize = 20;
    for threads in SHARD_COUNTS {
        let server = KevyServer::start(threads);
        let url = server.url();
        // Everyone connects first, then all work at once.
        let barrier = Arc::new(Barrier::new(CONNECTIONS));
        let workers: Vec<_> = (0..CONNECTIONS)
            .map(|worker| {
                let barrier = barrier.clone();
                let url = url.clone();
                std::thread::spawn(move || {
                    let mut con = redis::Client::open(url)
                        .and_then(|client| client.get_connection())
                        .expect("connect");
                    barrier.wait();
                    let keys: Vec<String> = (0..KEYS_EACH)
                        .map(|k| format!("conn{worker}:key{k}"))
                        .collect();
                    for (k, key) in keys.iter().enumerate() {
                        let () = redis::cmd("SET")
                            .arg(key)
                            .arg(worker * 1000 + k)
                            .query(&mut con)
                            .expect("SET");
                    }
                    let values: Vec<usize> =
                        redis::cmd("MGET").arg(&keys).query(&mut con).expect("MGET");
                    let expected: Vec<usize> = (0..KEYS_EACH).map(|k| worker * 1000 + k).collect();
                    assert_eq!(values, expected, "connection {worker}");
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("a worker panicked");
        }
        let mut con = server.connect();
        let size: usize = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
        assert_eq!(size, CONNECTIONS * KEYS_EACH);
    }
}

#[test]
fn multi_key_commands_across_shards() {
    const KEYS: usize = 100;
    for threads in SHARD_COUNTS {
        let server = KevyServer::start(threads);
        let mut con = server.connect();
        let keys: Vec<String> = (0..KEYS).map(|i| format!("multi:{i}")).collect();
        let mut mset = redis::cmd("MSET");
        for (i, key) in keys.iter().enumerate() {
            mset.arg(key).arg(format!("value-{i}"));
        }
        let () = mset.query(&mut con).expect("MSET");
        let mut with_missing = keys.clone();
        with_missing.insert(50, "multi:absent".into());
        let values: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&with_missing)
            .query(&mut con)
            .expect("MGET");
        let mut expected: Vec<Option<String>> =
            (0..KEYS).map(|i| Some(format!("value-{i}"))).collect();
        expected.insert(50, None);
        assert_eq!(values, expected);
        let existing: usize = redis::cmd("EXISTS")
            .arg(&with_missing)
            .query(&mut con)
            .expect("EXISTS");
        assert_eq!(existing, KEYS);
        let deleted: usize = redis::cmd("DEL")
            .arg(&with_missing)
            .query(&mut con)
            .expect("DEL");
        assert_eq!(deleted, KEYS);
        let size: usize = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
        assert_eq!(size, 0);
    }
}

#[test]
fn hash_tag_keys_stay_together() {
    for threads in SHARD_COUNTS {
        let server = KevyServer::start(threads);
        let mut con = server.connect();
        let keys: Vec<String> = (0..20).map(|i| format!("{{user:42}}:field{i}")).collect();
        let mut mset = redis::cmd("MSET");
        for (i, key) in keys.iter().enumerate() {
            mset.arg(key).arg(i);
        }
        let () = mset.query(&mut con).expect("MSET with a hash tag");
        let values: Vec<usize> = redis::cmd("MGET").arg(&keys).query(&mut con).expect("MGET");
        assert_eq!(values, (0..20).collect::<Vec<_>>());
        // Tagged and untagged keys in one command.
        let mixed = [keys[0].as_str(), "plain-key", keys[1].as_str()];
        let values: Vec<Option<usize>> = redis::cmd("MGET")
            .arg(&mixed)
            .query(&mut con)
            .expect("mixed MGET");
        assert_eq!(values, vec![Some(0), None, Some(1)]);
        let deleted: usize = redis::cmd("DEL").arg(&keys).query(&mut con).expect("DEL");
        assert_eq!(deleted, 20);
    }
}

#[test]
fn multi_megabyte_values_round_trip() {
    for threads in SHARD_COUNTS {
        let server = KevyServer::start(threads);
        let mut con = server.connect();
        for (key, megabytes) in [("big:5", 5usize), ("big:16", 16)] {
            let value: Vec<u8> = (0..megabytes * 1024 * 1024)
                .map(|i| (i % 251) as u8)
                .collect();
            let () = redis::cmd("SET")
                .arg(key)
                .arg(&value)
                .query(&mut con)
                .expect("SET of a big value");
            let back: Vec<u8> = redis::cmd("GET").arg(key).query(&mut con).expect("GET");
            assert!(back == value, "{megabytes} MB value came back changed");
        }
        let pong: String = redis::cmd("PING").query(&mut con).expect("PING after");
        assert_eq!(pong, "PONG");
    }
}

#[test]
fn shards_pinned_to_cores_serve() {
    let server = KevyServer::start_with(4, &["--pin-cores", "yes"]);
    let mut con = server.connect();
    let keys: Vec<String> = (0..64).map(|i| format!("pinned:{i}")).collect();
    for key in &keys {
        let () = redis::cmd("SET")
            .arg(key)
            .arg(key)
            .query(&mut con)
            .expect("SET");
    }
    let values: Vec<String> = redis::cmd("MGET").arg(&keys).query(&mut con).expect("MGET");
    assert_eq!(values, keys);
    let pinned: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("pin-cores")
        .query(&mut con)
        .expect("CONFIG GET");
    assert_eq!(pinned, ["pin-cores", "yes"]);
}
