//! Write records redo exactly what happened: seeded runs of random write
//! commands (relative TTLs, random pops, auto IDs, consumer groups,
//! approximate trims, cross-shard atomic writes, transactions, database
//! switches, lazy expiry) on several meshed shard cores, each recording to
//! a sink; then each shard's records are replayed into an empty keyspace,
//! which must equal that shard's keyspace key for key (value, type,
//! encoding-independent `DUMP` payload, expiry time).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::propagate::{apply_commands, SinkKind, TxnPart, WriteRecord, WriteSink};
use super::sim_tests::{cmd, Sim};
use crate::config::Config;
use crate::keyspace::{Keyspace, Value};
use crate::random::SplitMix64;

type Records = Arc<Mutex<Vec<(usize, Option<TxnPart>, Vec<u8>)>>>;

struct Capture(Records);

impl WriteSink for Capture {
    fn record(&mut self, record: &WriteRecord<'_>) {
        let mut records = self.0.lock().unwrap_or_else(|p| p.into_inner());
        records.push((record.db, record.txn, record.commands.to_vec()));
    }

    fn end_iteration(&mut self) {}
}

/// Every live key of every database: (db, key) → (DUMP payload, expiry).
/// (db, key) → (contents, expiry).
type Contents = BTreeMap<(usize, Vec<u8>), (Vec<u8>, Option<u64>)>;

fn contents(keyspace: &Keyspace, now_ms: u64) -> Contents {
    let mut all = BTreeMap::new();
    for (index, db) in keyspace.dbs.iter().enumerate() {
        for entry in db.iter_live(now_ms) {
            // A consumer's last-seen time is the replay's clock, in Redis
            // too: compare everything else.
            let mut value = entry.value.clone();
            if let Value::Stream(stream) = &mut value {
                for group in stream.groups.values_mut() {
                    for consumer in group.consumers.values_mut() {
                        consumer.seen_time = 0;
                    }
                }
            }
            // Sets and hashes compare as sorted contents: their internal
            // order depends on the history of edits, not on what they hold.
            let payload = match &value {
                Value::Set(set) => {
                    let mut members: Vec<Vec<u8>> = set.iter().map(|m| m.to_vec()).collect();
                    members.sort();
                    members.concat()
                }
                Value::Hash(hash) => {
                    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> =
                        hash.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
                    pairs.sort();
                    pairs
                        .into_iter()
                        .flat_map(|(f, v)| [f, v])
                        .collect::<Vec<_>>()
                        .concat()
                }
                other => crate::cmd::dump_payload(other).expect("every type dumps"),
            };
            all.insert(
                (index, entry.key.as_bytes().to_vec()),
                (payload, entry.expire_at()),
            );
        }
    }
    all
}

/// `SET k hello` then `DUMP k` on redis-server 7.0.15.
const DUMP_OF_HELLO: &[u8] =
    b"\x00\x05\x68\x65\x6c\x6c\x6f\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a";

fn pick<'a>(rng: &mut SplitMix64, items: &[&'a str]) -> &'a str {
    items[rng.below(items.len())]
}

/// One random write (or a short transaction) over a small set of keys.
fn random_commands(rng: &mut SplitMix64) -> Vec<Vec<Vec<u8>>> {
    let strings = ["s0", "s1", "s2", "s3", "{t}s4", "{t}s5"];
    let k = pick(rng, &strings);
    let k2 = pick(rng, &strings);
    let n = (rng.below(50) + 1).to_string();
    let one = match rng.below(34) {
        0 => cmd(&["SET", k, &n, "EX", &n]),
        1 => cmd(&["SET", k, "v", "PX", &n, "GET"]),
        2 => cmd(&["SET", k, "w", "NX"]),
        3 => cmd(&["SET", k, "x", "XX", "KEEPTTL"]),
        4 => cmd(&["SETEX", k, "100", "y"]),
        5 => cmd(&["PSETEX", k, "1", "gone-soon"]),
        6 => cmd(&["GETEX", k, "PX", "5000"]),
        7 => cmd(&["GETEX", k, "PERSIST"]),
        8 => cmd(&["EXPIRE", k, &n, pick(rng, &["NX", "XX", "GT", "LT"])]),
        9 => cmd(&["PEXPIRE", k, "1"]),
        10 => cmd(&["INCR", k]),
        11 => cmd(&["INCRBYFLOAT", k, "1.25"]),
        12 => cmd(&["APPEND", k, "ab"]),
        13 => cmd(&["MSET", k, "m", k2, "n"]),
        14 => cmd(&["MSETNX", k, "m", k2, "n"]),
        15 => cmd(&["RENAME", k, k2]),
        16 => cmd(&["COPY", k, k2, "REPLACE"]),
        17 => cmd(&["DEL", k, k2]),
        18 => cmd(&["HSET", "h", &n, "v", "f", &n]),
        19 => cmd(&["HINCRBYFLOAT", "h", "fl", "0.1"]),
        20 => cmd(&["LPUSH", pick(rng, &["l0", "l1"]), &n, "b"]),
        21 => cmd(&["LMOVE", "l0", "l1", "LEFT", "RIGHT"]),
        22 => cmd(&["SADD", pick(rng, &["z0", "z1"]), "a", "b", "c", &n]),
        23 => cmd(&["SPOP", pick(rng, &["z0", "z1"])]),
        24 => cmd(&["SPOP", pick(rng, &["z0", "z1"]), "2"]),
        25 => cmd(&["SINTERSTORE", "z2", "z0", "z1"]),
        26 => cmd(&["ZADD", "q", &n, pick(rng, &["a", "b", "c"])]),
        27 => cmd(&["ZPOPMIN", "q"]),
        28 => cmd(&["XADD", "x", "*", "f", &n]),
        29 => cmd(&["XADD", "x", "MAXLEN", "~", "3", "*", "f", &n]),
        30 => cmd(&["XGROUP", "CREATE", "x", "g", "0", "MKSTREAM"]),
        31 => cmd(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c1",
            "COUNT",
            "2",
            "STREAMS",
            "x",
            ">",
        ]),
        32 => cmd(&["XAUTOCLAIM", "x", "g", "c2", "0", "0-0", "COUNT", "2"]),
        _ => vec![
            b"RESTORE".to_vec(),
            b"r".to_vec(),
            b"100000".to_vec(),
            DUMP_OF_HELLO.to_vec(),
            b"REPLACE".to_vec(),
        ],
    };
    match rng.below(12) {
        0 => vec![
            cmd(&["MULTI"]),
            one,
            cmd(&["INCR", k2]),
            cmd(&["SET", "{t}s4", "in-multi"]),
            cmd(&["EXEC"]),
        ],
        1 => vec![cmd(&["SELECT", "1"]), one, cmd(&["SELECT", "0"])],
        2 => vec![
            cmd(&["MULTI"]),
            cmd(&["INCR", "{t}s5"]),
            cmd(&["SELECT", "2"]),
            cmd(&["SET", "{t}s5", "db2"]),
            cmd(&["SELECT", "0"]),
            cmd(&["EXEC"]),
        ],
        _ => vec![one],
    }
}

fn run_seed(seed: u64, shards: usize) {
    let mut sim = Sim::new(shards, seed);
    let captured: Vec<Records> = (0..shards).map(|_| Records::default()).collect();
    for (core, records) in sim.cores.iter_mut().zip(&captured) {
        core.attach_write_sink(SinkKind::Replication, Box::new(Capture(records.clone())));
    }
    let mut rng = SplitMix64::new(seed);
    for _ in 0..3 {
        let mut script = Vec::new();
        for _ in 0..120 {
            script.extend(random_commands(&mut rng));
        }
        sim.add_client(script);
    }
    sim.run();
    let config = Config::default();
    for (shard, records) in captured.iter().enumerate() {
        let core = &mut sim.cores[shard];
        core.flush_write_records();
        let now = super::unix_ms();
        let mut replayed = Keyspace::new(config.databases);
        let records = records.lock().unwrap_or_else(|p| p.into_inner());
        for (db, _, commands) in records.iter() {
            let end_db = apply_commands(&mut replayed, *db, commands, now, &config)
                .unwrap_or_else(|e| panic!("seed {seed} shard {shard}: {e}"));
            assert_eq!(end_db, *db, "a record ends in the database it started in");
        }
        let expected = contents(&core.keyspace, now);
        let got = contents(&replayed, now);
        assert_eq!(
            expected.keys().collect::<Vec<_>>(),
            got.keys().collect::<Vec<_>>(),
            "seed {seed} shard {shard}: keys differ"
        );
        for (key, value) in &expected {
            assert_eq!(
                Some(value),
                got.get(key),
                "seed {seed} shard {shard}: {key:?}"
            );
        }
    }
}

#[test]
fn replayed_records_rebuild_every_shard() {
    for seed in 0..60 {
        run_seed(seed, 1 + (seed as usize % 3));
    }
}

#[test]
fn cross_shard_parts_carry_one_transaction_mark() {
    let mut sim = Sim::new(2, 5);
    let captured: Vec<Records> = (0..2).map(|_| Records::default()).collect();
    for (core, records) in sim.cores.iter_mut().zip(&captured) {
        core.attach_write_sink(SinkKind::AppendOnlyLog, Box::new(Capture(records.clone())));
    }
    // Keys on both shards, whatever the slot table: a dozen names.
    let names: Vec<String> = (0..12).map(|i| format!("key{i}")).collect();
    let mut mset = vec!["MSET".to_string()];
    for name in &names {
        mset.push(name.clone());
        mset.push("v".to_string());
    }
    let mset: Vec<&str> = mset.iter().map(String::as_str).collect();
    sim.add_client(vec![cmd(&mset)]);
    sim.run();
    let marks: Vec<TxnPart> = captured
        .iter()
        .flat_map(|records| {
            let records = records.lock().unwrap_or_else(|p| p.into_inner());
            records
                .iter()
                .filter_map(|(_, txn, _)| *txn)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(marks.len(), 2, "one part per shard");
    assert_eq!(marks[0], marks[1]);
    assert_eq!(marks[0].parts, 2);
}
