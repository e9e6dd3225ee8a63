//! Crash tests of the append-only log with the real binary: a writer
//! pipelines 50 000 INCR/RPUSH/HSET (and cross-shard MSETs) while the
//! server is killed with SIGKILL at random moments, five times in a row,
//! restarted each time on the same files. With `appendfsync always` every
//! acknowledged write is there after each restart (and nothing that was
//! never sent); with `everysec` at most the last ~2 seconds may be missing.
//! A cross-shard MSET is never seen half-applied after a crash.

mod aof_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aof_support::{encode, temp_dir, Conn, Kevy};

const TOTAL_OPS: u64 = 50_000;
const BATCH: u64 = 100;
const COUNTERS: u64 = 8;
const LISTS: u64 = 4;
const HASHES: u64 = 4;

/// What the writer sent and what the server acknowledged.
#[derive(Default)]
struct Model {
    /// Per counter: (acknowledged increments, sent increments).
    counters: BTreeMap<u64, (i64, i64)>,
    /// Per list: (acknowledged items, sent items), in order.
    lists: BTreeMap<u64, (Vec<u64>, Vec<u64>)>,
    /// Per hash: acknowledged fields, sent fields.
    hashes: BTreeMap<u64, (Vec<u64>, Vec<u64>)>,
    /// Acknowledged counts of every counter, sampled after each batch
    /// with the time (for `everysec`).
    samples: Vec<(Instant, BTreeMap<u64, i64>)>,
}

fn seed() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7)
}

fn next(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *state >> 33
}

/// One command of the stream: (its RESP, what acknowledging it means).
enum Op {
    Incr(u64),
    Push(u64, u64),
    Field(u64, u64),
    Mset(u64),
}

fn op_of(n: u64) -> Op {
    match n % 25 {
        24 => Op::Mset(n),
        r if r % 3 == 0 => Op::Incr(n % COUNTERS),
        r if r % 3 == 1 => Op::Push(n % LISTS, n),
        _ => Op::Field(n % HASHES, n),
    }
}

fn encode_op(op: &Op, out: &mut Vec<u8>) {
    match op {
        Op::Incr(k) => encode(&[b"INCR", format!("c{k}").as_bytes()], out),
        Op::Push(l, n) => encode(
            &[
                b"RPUSH",
                format!("l{l}").as_bytes(),
                n.to_string().as_bytes(),
            ],
            out,
        ),
        Op::Field(h, n) => {
            let n = n.to_string();
            encode(
                &[
                    b"HSET",
                    format!("h{h}").as_bytes(),
                    n.as_bytes(),
                    n.as_bytes(),
                ],
                out,
            )
        }
        // Keys on different shards (their tags hash apart).
        Op::Mset(n) => {
            let v = n.to_string();
            encode(
                &[
                    b"MSET",
                    b"{a}m",
                    v.as_bytes(),
                    b"{b}m",
                    v.as_bytes(),
                    b"{c}m",
                    v.as_bytes(),
                ],
                out,
            )
        }
    }
}

impl Model {
    fn sent(&mut self, op: &Op) {
        match *op {
            Op::Incr(k) => self.counters.entry(k).or_default().1 += 1,
            Op::Push(l, n) => self.lists.entry(l).or_default().1.push(n),
            Op::Field(h, n) => self.hashes.entry(h).or_default().1.push(n),
            Op::Mset(_) => {}
        }
    }

    fn acked(&mut self, op: &Op) {
        match *op {
            Op::Incr(k) => self.counters.entry(k).or_default().0 += 1,
            Op::Push(l, n) => self.lists.entry(l).or_default().0.push(n),
            Op::Field(h, n) => self.hashes.entry(h).or_default().0.push(n),
            Op::Mset(_) => {}
        }
    }

    /// Checks the restarted server against the model (`floor`: the
    /// acknowledged counter values that must be there at least), then
    /// takes the server's state as the new truth.
    fn verify(&mut self, conn: &mut Conn, floor: &BTreeMap<u64, i64>, everything_acked: bool) {
        for (k, (acked, sent)) in self.counters.iter_mut() {
            let value = conn.ok(&["GET", &format!("c{k}")]).int();
            let must = if everything_acked {
                *acked
            } else {
                floor.get(k).copied().unwrap_or(0)
            };
            assert!(value >= must, "counter c{k}: {value} < acknowledged {must}");
            assert!(value <= *sent, "counter c{k}: {value} > sent {sent}");
            *acked = value;
            *sent = value;
        }
        for (l, (acked, sent)) in self.lists.iter_mut() {
            let items: Vec<u64> = conn
                .ok(&["LRANGE", &format!("l{l}"), "0", "-1"])
                .items()
                .iter()
                .map(|i| i.parse().expect("numbers"))
                .collect();
            if everything_acked {
                assert!(
                    items.starts_with(acked),
                    "list l{l} lost acknowledged items"
                );
            }
            assert!(
                sent.starts_with(&items),
                "list l{l} holds items never sent in order"
            );
            *acked = items.clone();
            *sent = items;
        }
        for (h, (acked, sent)) in self.hashes.iter_mut() {
            let fields: Vec<u64> = conn
                .ok(&["HKEYS", &format!("h{h}")])
                .items()
                .iter()
                .map(|i| i.parse().expect("numbers"))
                .collect();
            if everything_acked {
                for field in acked.iter() {
                    assert!(fields.contains(field), "hash h{h} lost field {field}");
                }
            }
            for field in &fields {
                assert!(sent.contains(field), "hash h{h} holds a field never sent");
            }
            *acked = fields.clone();
            *sent = fields;
        }
        let mset = conn.ok(&["MGET", "{a}m", "{b}m", "{c}m"]).items();
        assert!(
            mset.iter().all(|v| *v == mset[0]),
            "a cross-shard MSET is half applied: {mset:?}"
        );
    }
}

/// Writes ops from `*issued` until the server dies or `until` ops were
/// issued; returns when it stopped.
fn write_until_dead(conn: &mut Conn, model: &mut Model, issued: &mut u64, until: u64) {
    while *issued < until {
        let batch: Vec<Op> = (*issued..(*issued + BATCH).min(until)).map(op_of).collect();
        let mut out = Vec::new();
        for op in &batch {
            encode_op(op, &mut out);
            model.sent(op);
        }
        *issued += batch.len() as u64;
        if conn.send_raw(&out).is_err() {
            return;
        }
        for op in &batch {
            match conn.read() {
                Ok(reply) => {
                    assert!(!reply.text().starts_with('-'), "error reply {reply:?}");
                    model.acked(op);
                }
                Err(_) => return,
            }
        }
        let counts = model.counters.iter().map(|(k, (a, _))| (*k, *a)).collect();
        model.samples.push((Instant::now(), counts));
    }
}

fn crash_rounds(policy: &str, max_loss: Option<Duration>) {
    let dir = temp_dir(&format!("crash-{policy}"));
    let args = ["--appendonly", "yes", "--appendfsync", policy];
    let mut rng = seed();
    eprintln!("crash test ({policy}) seed {rng}");
    let mut model = Model::default();
    let mut issued = 0;
    for round in 0..=5 {
        let mut kevy = Kevy::start(&dir, 2, &args);
        let mut conn = kevy.conn();
        if round > 0 {
            let killed_at = model.samples.last().map(|(t, _)| *t);
            // The newest sample old enough that everysec must have kept it.
            let floor = match (max_loss, killed_at) {
                (Some(loss), Some(at)) => model
                    .samples
                    .iter()
                    .rev()
                    .find(|(t, _)| at.duration_since(*t) >= loss)
                    .map(|(_, counts)| counts.clone())
                    .unwrap_or_default(),
                _ => BTreeMap::new(),
            };
            model.verify(&mut conn, &floor, max_loss.is_none());
            model.samples.clear();
        }
        if round == 5 {
            write_until_dead(&mut conn, &mut model, &mut issued, TOTAL_OPS);
            model.verify(&mut conn, &BTreeMap::new(), true);
            break;
        }
        let pid = kevy.child.id();
        let delay = Duration::from_millis(100 + next(&mut rng) % 400);
        let killer = std::thread::spawn(move || {
            std::thread::sleep(delay);
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        });
        let per_round = TOTAL_OPS / 5 * (round + 1);
        write_until_dead(&mut conn, &mut model, &mut issued, per_round.min(TOTAL_OPS));
        killer.join().expect("the killer ends");
        kevy.kill9();
    }
    assert_eq!(issued, TOTAL_OPS);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn appendfsync_always_keeps_every_acknowledged_write_across_five_kills() {
    crash_rounds("always", None);
}

#[test]
fn appendfsync_everysec_loses_at_most_the_last_seconds() {
    crash_rounds("everysec", Some(Duration::from_secs(2)));
}
