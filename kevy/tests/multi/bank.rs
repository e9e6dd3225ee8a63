//! End to end with `--threads 4`: transfer transactions between accounts
//! on every shard while readers take atomic snapshots, and optimistic
//! (`WATCH`) increments from many clients.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::support::{self, Client, Value};

const ACCOUNTS: usize = 100;
const START_BALANCE: i64 = 1000;
const WRITERS: usize = 20;
const TRANSFERS_PER_WRITER: usize = 300;
const READERS: usize = 5;

fn account(i: usize) -> String {
    format!("account:{i}")
}

/// A deterministic per-writer sequence, so a failing run can be replayed.
fn next(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *state >> 33
}

fn total(reply: &Value) -> i64 {
    reply
        .items()
        .iter()
        .map(|v| {
            v.text()
                .parse::<i64>()
                .expect("every account holds a number")
        })
        .sum()
}

#[test]
fn transfers_never_change_the_total_any_reader_sees() {
    let server = support::kevy(4);
    let port = server.port;
    let mut setup = Client::connect(port);
    let mut mset = vec!["MSET".to_string()];
    for i in 0..ACCOUNTS {
        mset.push(account(i));
        mset.push(START_BALANCE.to_string());
    }
    let args: Vec<&str> = mset.iter().map(String::as_str).collect();
    assert_eq!(setup.call(&args), Value::Simple("OK".into()));
    let expected = START_BALANCE * ACCOUNTS as i64;
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut client = Client::connect(port);
                let mut mget = vec!["MGET".to_string()];
                mget.extend((0..ACCOUNTS).map(account));
                let args: Vec<&str> = mget.iter().map(String::as_str).collect();
                let mut reads = 0;
                while !stop.load(Ordering::Relaxed) || reads == 0 {
                    // Alternate plain MGET and a transaction of GETs.
                    let seen = if reads % 2 == 0 || r == 0 {
                        total(&client.call(&args))
                    } else {
                        client.call(&["MULTI"]);
                        for i in 0..ACCOUNTS {
                            client.call(&["GET", &account(i)]);
                        }
                        total(&client.call(&["EXEC"]))
                    };
                    assert_eq!(seen, expected, "reader {r} saw a half-applied transfer");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            std::thread::spawn(move || {
                let mut client = Client::connect(port);
                let mut state = w as u64 + 1;
                for _ in 0..TRANSFERS_PER_WRITER {
                    let from = account(next(&mut state) as usize % ACCOUNTS);
                    let to = account(next(&mut state) as usize % ACCOUNTS);
                    let amount = (next(&mut state) % 50).to_string();
                    client.call(&["MULTI"]);
                    client.call(&["DECRBY", &from, &amount]);
                    client.call(&["INCRBY", &to, &amount]);
                    let reply = client.call(&["EXEC"]);
                    assert_eq!(reply.items().len(), 2, "{reply:?}");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("writer");
    }
    stop.store(true, Ordering::Relaxed);
    let reads: usize = readers.into_iter().map(|r| r.join().expect("reader")).sum();
    assert!(reads > 0);
    let mut mget = vec!["MGET".to_string()];
    mget.extend((0..ACCOUNTS).map(account));
    let args: Vec<&str> = mget.iter().map(String::as_str).collect();
    assert_eq!(total(&setup.call(&args)), expected);
}

#[test]
fn watch_increments_count_exactly() {
    const CLIENTS: usize = 20;
    const INCREMENTS: usize = 50;
    let server = support::kevy(4);
    let port = server.port;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            std::thread::spawn(move || {
                let mut client = Client::connect(port);
                // The counter and a second key on (probably) another shard,
                // so the EXEC is coordinated across shards.
                let witness = format!("witness:{c}");
                let mut retries = 0;
                for _ in 0..INCREMENTS {
                    loop {
                        client.call(&["WATCH", "counter"]);
                        let now = match client.call(&["GET", "counter"]) {
                            Value::Null => 0,
                            v => v.text().parse::<i64>().expect("a number"),
                        };
                        client.call(&["MULTI"]);
                        client.call(&["SET", "counter", &(now + 1).to_string()]);
                        client.call(&["INCR", &witness]);
                        match client.call(&["EXEC"]) {
                            Value::Null => retries += 1,
                            Value::Array(_) => break,
                            other => panic!("EXEC replied {other:?}"),
                        }
                    }
                }
                retries
            })
        })
        .collect();
    let retries: usize = clients.into_iter().map(|c| c.join().expect("client")).sum();
    let mut client = Client::connect(port);
    assert_eq!(
        client.call(&["GET", "counter"]).text(),
        (CLIENTS * INCREMENTS).to_string(),
        "after {retries} retries"
    );
    for c in 0..CLIENTS {
        assert_eq!(
            client.call(&["GET", &format!("witness:{c}")]).text(),
            INCREMENTS.to_string()
        );
    }
}
