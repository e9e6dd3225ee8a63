//! Deterministic simulation of blocking commands through the real shard
//! cores: four cores in one thread wired by the real mesh, a seeded
//! scheduler picking which client sends and which shard drains its inbox
//! (each pair of shards stays FIFO), producers pushing unique elements,
//! consumers blocking on three keys of different shards (`BLPOP`, `BRPOP`,
//! `BLMPOP`, and `BLMOVE` into a list another consumer drains), and
//! clients that leave while blocked.
//!
//! Checked when the run quiesces: no element is delivered twice; every
//! element is delivered or still in a list; a consumer still blocked waits
//! only on empty keys (no lost wake-up); registrations and
//! `blocked_clients` match exactly the consumers still blocked.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use kevy_transport::ShardHandler;

use super::sim_tests::{accept, clear_events, meshed_cores, take_replies};
use super::ShardCore;
use crate::random::SplitMix64;

struct Client {
    shard: usize,
    conn: usize,
    script: Vec<Vec<String>>,
    next: usize,
    /// Leaves (end of input) after sending this many commands.
    leave_after: Option<usize>,
    left: bool,
    received: Vec<u8>,
    replies: Vec<Vec<u8>>,
}

struct Sim {
    cores: Vec<ShardCore>,
    clients: Vec<Client>,
    rng: SplitMix64,
}

fn encode(args: &[String]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    out
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

impl Sim {
    fn new(seed: u64) -> Sim {
        Sim {
            cores: meshed_cores(4),
            clients: Vec::new(),
            rng: SplitMix64::new(seed),
        }
    }

    fn add_client(&mut self, script: Vec<Vec<String>>, leave_after: Option<usize>) -> usize {
        let shard = self.rng.below(self.cores.len());
        let conn = self.clients.iter().filter(|c| c.shard == shard).count();
        accept(&mut self.cores[shard], conn);
        self.clients.push(Client {
            shard,
            conn,
            script,
            next: 0,
            leave_after,
            left: false,
            received: Vec::new(),
            replies: Vec::new(),
        });
        self.clients.len() - 1
    }

    fn collect_output(&mut self) {
        for client in &mut self.clients {
            let core = &mut self.cores[client.shard];
            take_replies(core, client.conn, &mut client.received, &mut client.replies);
        }
        clear_events(&mut self.cores);
    }

    fn step(&mut self) -> bool {
        let senders: Vec<usize> = (0..self.clients.len())
            .filter(|&i| {
                let c = &self.clients[i];
                !c.left && (c.next < c.script.len() || c.leave_after.is_some())
            })
            .collect();
        let busy: Vec<usize> = (0..self.cores.len())
            .filter(|&s| self.cores[s].mesh.has_work())
            .collect();
        if senders.is_empty() && busy.is_empty() {
            return false;
        }
        let pick = self.rng.below(senders.len() + busy.len());
        if pick < senders.len() {
            let client = &mut self.clients[senders[pick]];
            let core = &mut self.cores[client.shard];
            if client.leave_after.is_some_and(|n| client.next >= n) {
                client.left = true;
                core.on_read(client.conn, &[]);
                core.on_closed(client.conn);
            } else {
                let bytes = encode(&client.script[client.next]);
                client.next += 1;
                core.on_read(client.conn, &bytes);
            }
            core.end_of_iteration();
        } else {
            let core = &mut self.cores[busy[pick - senders.len()]];
            core.on_inbox();
            core.end_of_iteration();
        }
        self.collect_output();
        true
    }

    fn run(&mut self) {
        let mut steps = 0;
        while self.step() {
            steps += 1;
            assert!(steps < 1_000_000, "the simulation does not quiesce");
        }
    }

    /// Runs one command on a fresh client until it is answered.
    fn call(&mut self, args: &str) -> Vec<u8> {
        let id = self.add_client(vec![words(args)], None);
        self.run();
        self.clients[id]
            .replies
            .pop()
            .expect("a command is answered")
    }
}

/// The bulk strings of a reply, in order.
fn bulks(reply: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(reply);
    let lines: Vec<&str> = text.split("\r\n").collect();
    let mut out = Vec::new();
    for pair in lines.windows(2) {
        if pair[0].starts_with('$') && pair[0] != "$-1" {
            out.push(pair[1].to_string());
        }
    }
    out
}

fn run_seed(seed: u64) {
    let mut sim = Sim::new(seed);
    let mut rng = SplitMix64::new(seed ^ 0x5EED);
    // k0..k5 spread over the four shards; "moved" collects BLMOVE's output.
    let keys: Vec<String> = (0..6).map(|i| format!("k{i}")).collect();
    let mut pushed = 0;
    for p in 0..3 {
        let script = (0..8)
            .map(|i| {
                pushed += 1;
                let key = &keys[rng.below(keys.len())];
                let push = if rng.below(2) == 0 { "RPUSH" } else { "LPUSH" };
                words(&format!("{push} {key} e{p}-{i}"))
            })
            .collect();
        sim.add_client(script, None);
    }
    let mut consumers = Vec::new();
    for c in 0..4 {
        let watched: Vec<String> = (0..3)
            .map(|j| keys[(c + j * 2) % keys.len()].clone())
            .collect();
        let [a, b, d] = [&watched[0], &watched[1], &watched[2]];
        let script = (0..6)
            .map(|_| match rng.below(4) {
                0 => words(&format!("BLPOP {a} {b} {d} 0")),
                1 => words(&format!("BRPOP {a} {b} {d} 0")),
                2 => words(&format!("BLMPOP 0 3 {a} {b} {d} LEFT COUNT 1")),
                _ => words(&format!("BLMOVE {a} moved LEFT RIGHT 0")),
            })
            .collect();
        let leave_after = (rng.below(4) == 0).then(|| rng.below(6));
        let id = sim.add_client(script, leave_after);
        consumers.push((id, watched));
    }
    let drain = (0..8).map(|_| words("BLPOP moved 0")).collect();
    let drainer = sim.add_client(drain, None);
    sim.run();

    // Each element reaches one client once (BLMOVE's go on to "moved",
    // drained by the last client); delivered + left in lists = pushed.
    let mut delivered = Vec::new();
    let mut moved = Vec::new();
    for (id, _) in &consumers {
        let client = &sim.clients[*id];
        for (reply, command) in client.replies.iter().zip(&client.script) {
            let values = bulks(reply).into_iter().filter(|v| v.starts_with('e'));
            if command[0] == "BLMOVE" {
                moved.extend(values);
            } else {
                delivered.extend(values);
            }
        }
    }
    for reply in &sim.clients[drainer].replies {
        delivered.extend(bulks(reply).into_iter().filter(|v| v.starts_with('e')));
    }
    let unique: HashSet<&String> = delivered.iter().collect();
    assert_eq!(
        unique.len(),
        delivered.len(),
        "seed {seed}: delivered twice"
    );
    let mut left = Vec::new();
    for key in keys.iter().chain(std::iter::once(&"moved".to_string())) {
        left.extend(bulks(&sim.call(&format!("LRANGE {key} 0 -1"))));
    }
    for element in &moved {
        assert!(
            unique.contains(element) || left.contains(element),
            "seed {seed}: {element} was moved but is nowhere"
        );
    }
    // A client that leaves while its element is being popped takes it
    // along, as a reply written to a closing socket: at most one each.
    let departed = consumers
        .iter()
        .filter(|(id, _)| sim.clients[*id].left)
        .count();
    let accounted = delivered.len() + left.len();
    assert!(
        accounted <= pushed && accounted + departed >= pushed,
        "seed {seed}: {accounted} elements accounted for, {pushed} pushed, {departed} departed"
    );

    // Who still waits waits on empty keys only, and is all that is left.
    let mut still_blocked = 0;
    let mut registrations = 0;
    for (id, watched) in &consumers {
        let client = &sim.clients[*id];
        let answered = client.replies.len();
        if client.left || answered >= client.next {
            continue;
        }
        still_blocked += 1;
        let command = &client.script[answered];
        let is_move = command[0] == "BLMOVE";
        let waits_on: Vec<&String> = if is_move {
            vec![&watched[0]]
        } else {
            watched.iter().collect()
        };
        registrations += waits_on.iter().collect::<HashSet<_>>().len();
        for key in waits_on {
            let len = sim.call(&format!("LLEN {key}"));
            assert_eq!(
                len, b":0\r\n",
                "seed {seed}: a client waits on {key} which has data"
            );
        }
    }
    let drainer_client = &sim.clients[drainer];
    if drainer_client.replies.len() < drainer_client.next {
        still_blocked += 1;
        registrations += 1;
    }
    let shared_blocked = sim.cores[0].shared.blocked_clients.load(Ordering::Relaxed);
    assert_eq!(
        shared_blocked, still_blocked as u64,
        "seed {seed}: blocked_clients"
    );
    let registered: usize = sim
        .cores
        .iter()
        .map(|c| c.blocking.target.registrations())
        .sum();
    assert_eq!(
        registered, registrations,
        "seed {seed}: waiters left behind"
    );
}

#[test]
fn blocking_through_the_shard_cores() {
    for seed in 0..400 {
        run_seed(seed);
    }
}
