//! The simulated cluster: shards (each an origin and a target of the
//! arbiter, owning some list keys), clients, the FIFO wire between each
//! pair of shards, the seeded scheduler and the invariant checks (see
//! `main.rs`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};

use kevy_blocking::{BlockOptions, Origin, OriginAction, TargetWaiters, UnblockAs, WaiterId};

const STEPS: usize = 100;
const SHARDS: usize = 3;
const KEYS: usize = 5;
const CLIENTS: usize = 6;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[derive(Debug)]
enum Msg {
    Arm {
        waiter: WaiterId,
        key: Box<[u8]>,
    },
    Armed {
        waiter: WaiterId,
        key: Box<[u8]>,
        ready: bool,
    },
    Ready {
        waiter: WaiterId,
        key: Box<[u8]>,
    },
    Serve {
        waiter: WaiterId,
        key: Box<[u8]>,
    },
    Served {
        waiter: WaiterId,
        value: Option<u64>,
    },
    Cancel {
        waiter: WaiterId,
        key: Box<[u8]>,
    },
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum ClientState {
    Idle,
    Blocked(u64),
}

struct Client {
    shard: usize,
    state: ClientState,
}

struct Shard {
    origin: Origin<u64>,
    target: TargetWaiters,
    lists: HashMap<Box<[u8]>, VecDeque<u64>>,
}

struct Sim {
    rng: Rng,
    now: u64,
    shards: Vec<Shard>,
    /// FIFO per (from, to) pair.
    wire: Vec<Vec<VecDeque<Msg>>>,
    inline: VecDeque<(usize, Msg)>,
    clients: Vec<Client>,
    /// (origin, block) → replies written to it.
    replies: HashMap<(usize, u64), u32>,
    next_element: u64,
    delivered: HashSet<u64>,
    stolen: HashSet<u64>,
}

fn key_name(index: usize) -> Box<[u8]> {
    format!("k{index}").into_bytes().into()
}

fn shard_of(key: &[u8]) -> usize {
    key.iter().map(|&b| b as usize).sum::<usize>() % SHARDS
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let shards = (0..SHARDS)
            .map(|id| Shard {
                origin: Origin::new(id),
                target: TargetWaiters::new(),
                lists: HashMap::new(),
            })
            .collect();
        let mut rng = Rng(seed);
        let clients = (0..CLIENTS)
            .map(|_| Client {
                shard: rng.below(SHARDS),
                state: ClientState::Idle,
            })
            .collect();
        Sim {
            rng,
            now: 0,
            shards,
            wire: (0..SHARDS)
                .map(|_| (0..SHARDS).map(|_| VecDeque::new()).collect())
                .collect(),
            inline: VecDeque::new(),
            clients,
            replies: HashMap::new(),
            next_element: 0,
            delivered: HashSet::new(),
            stolen: HashSet::new(),
        }
    }

    fn send(&mut self, from: usize, to: usize, msg: Msg) {
        if from == to {
            self.inline.push_back((to, msg));
        } else {
            self.wire[from][to].push_back(msg);
        }
    }

    fn has_data(lists: &HashMap<Box<[u8]>, VecDeque<u64>>, key: &[u8]) -> bool {
        lists.get(key).is_some_and(|l| !l.is_empty())
    }

    fn tell_ready(&mut self, shard: usize, key: &[u8], waiters: Vec<WaiterId>) {
        for waiter in waiters {
            let msg = Msg::Ready {
                waiter,
                key: key.into(),
            };
            self.send(shard, waiter.origin, msg);
        }
    }

    fn receive(&mut self, shard: usize, msg: Msg) {
        if std::env::var_os("KEVY_SIM_TRACE").is_some() {
            eprintln!("t={} shard {shard} <- {msg:?}", self.now);
        }
        let mut told = Vec::new();
        match msg {
            Msg::Arm { waiter, key } => {
                let s = &mut self.shards[shard];
                let data = Self::has_data(&s.lists, &key);
                let ready = s.target.arm(waiter, &key, true, |_| data);
                self.send(shard, waiter.origin, Msg::Armed { waiter, key, ready });
            }
            Msg::Armed { waiter, key, ready } => {
                let mut out = Vec::new();
                self.shards[shard]
                    .origin
                    .on_armed(waiter.block, &key, ready, &mut out);
                self.run_actions(shard, out);
            }
            Msg::Ready { waiter, key } => {
                let mut out = Vec::new();
                self.shards[shard]
                    .origin
                    .on_ready(waiter.block, &key, &mut out);
                self.run_actions(shard, out);
            }
            Msg::Serve { waiter, key } => {
                let s = &mut self.shards[shard];
                let data = Self::has_data(&s.lists, &key);
                let value = if s.target.may_serve(waiter, &key, |_| data) {
                    s.lists.get_mut(&key).and_then(VecDeque::pop_front)
                } else {
                    None
                };
                let data = Self::has_data(&s.lists, &key);
                s.target
                    .served(waiter, &key, value.is_some(), |_| data, &mut told);
                self.tell_ready(shard, &key, told);
                self.send(shard, waiter.origin, Msg::Served { waiter, value });
            }
            Msg::Served { waiter, value } => {
                let mut out = Vec::new();
                self.shards[shard]
                    .origin
                    .on_served(waiter.block, value, &mut out);
                self.run_actions(shard, out);
            }
            Msg::Cancel { waiter, key } => {
                let s = &mut self.shards[shard];
                let data = Self::has_data(&s.lists, &key);
                s.target.cancel(waiter, &key, |_| data, &mut told);
                self.tell_ready(shard, &key, told);
            }
        }
    }

    fn run_actions(&mut self, shard: usize, actions: Vec<OriginAction<u64>>) {
        for action in actions {
            match action {
                OriginAction::Arm {
                    target,
                    waiter,
                    key,
                } => self.send(shard, target, Msg::Arm { waiter, key }),
                OriginAction::Serve {
                    target,
                    waiter,
                    key,
                } => self.send(shard, target, Msg::Serve { waiter, key }),
                OriginAction::Cancel {
                    target,
                    waiter,
                    key,
                } => self.send(shard, target, Msg::Cancel { waiter, key }),
                OriginAction::Deliver {
                    block,
                    replies,
                    client_gone,
                } => {
                    assert!(!replies.is_empty(), "a delivery carries a value");
                    for reply in replies {
                        assert!(self.delivered.insert(reply), "{reply} delivered twice");
                        assert!(!self.stolen.contains(&reply), "{reply} popped twice");
                    }
                    self.reply_to(shard, block, !client_gone);
                }
                OriginAction::TimedOut { block } | OriginAction::Unblocked { block, .. } => {
                    self.reply_to(shard, block, true)
                }
            }
        }
    }

    /// Records a reply to `block`; `alive`: its client is still connected.
    fn reply_to(&mut self, shard: usize, block: u64, alive: bool) {
        let count = self.replies.entry((shard, block)).or_insert(0);
        *count += 1;
        assert_eq!(*count, 1, "block {block} of shard {shard} replied twice");
        let client = self
            .clients
            .iter_mut()
            .find(|c| c.shard == shard && c.state == ClientState::Blocked(block));
        match (client, alive) {
            (Some(client), true) => client.state = ClientState::Idle,
            (None, false) => {}
            (found, alive) => panic!(
                "reply to block {block}: client found {}, alive {alive}",
                found.is_some()
            ),
        }
    }

    fn drain_inline(&mut self) {
        while let Some((shard, msg)) = self.inline.pop_front() {
            self.receive(shard, msg);
        }
    }

    fn deliver_one(&mut self) -> bool {
        let pairs: Vec<(usize, usize)> = (0..SHARDS)
            .flat_map(|f| (0..SHARDS).map(move |t| (f, t)))
            .filter(|&(f, t)| !self.wire[f][t].is_empty())
            .collect();
        if pairs.is_empty() {
            return false;
        }
        let (from, to) = pairs[self.rng.below(pairs.len())];
        let msg = self.wire[from][to].pop_front().expect("pair is non-empty");
        self.receive(to, msg);
        true
    }

    fn push(&mut self) {
        let key = key_name(self.rng.below(KEYS));
        let shard = shard_of(&key);
        let element = self.next_element;
        self.next_element += 1;
        let s = &mut self.shards[shard];
        s.lists.entry(key.clone()).or_default().push_back(element);
        let mut told = Vec::new();
        if s.target.is_watched(&key) {
            s.target.key_changed(&key, |_| true, &mut told);
        }
        self.tell_ready(shard, &key, told);
    }

    fn steal(&mut self) {
        let key = key_name(self.rng.below(KEYS));
        let shard = shard_of(&key);
        if let Some(value) = self.shards[shard]
            .lists
            .get_mut(&key)
            .and_then(VecDeque::pop_front)
        {
            assert!(self.stolen.insert(value));
        }
    }

    fn block(&mut self) {
        let c = self.rng.below(CLIENTS);
        if self.clients[c].state != ClientState::Idle {
            return;
        }
        let count = 1 + self.rng.below(3);
        let keys: Vec<(usize, Box<[u8]>)> = (0..count)
            .map(|_| {
                let key = key_name(self.rng.below(KEYS));
                (shard_of(&key), key)
            })
            .collect();
        let deadline = match self.rng.below(3) {
            0 => None,
            _ => Some(self.now + 1 + self.rng.below(40) as u64),
        };
        let options = BlockOptions {
            deadline,
            // As inside MULTI: answer at once when no key has data.
            no_block: self.rng.below(10) == 0,
            // As XREAD: serve every key ready in the first round.
            collect: self.rng.below(5) == 0,
        };
        let shard = self.clients[c].shard;
        let mut out = Vec::new();
        let block = self.shards[shard].origin.block(keys, options, &mut out);
        self.clients[c].state = ClientState::Blocked(block);
        self.run_actions(shard, out);
    }

    fn advance_time(&mut self) {
        self.now += self.rng.below(10) as u64;
        for shard in 0..SHARDS {
            let mut out = Vec::new();
            self.shards[shard].origin.expire(self.now, &mut out);
            self.run_actions(shard, out);
        }
    }

    fn disconnect(&mut self, c: usize) {
        let shard = self.clients[c].shard;
        if let ClientState::Blocked(block) = self.clients[c].state {
            let mut out = Vec::new();
            self.shards[shard].origin.disconnect(block, &mut out);
            self.run_actions(shard, out);
        }
        // A new client takes its place.
        self.clients[c] = Client {
            shard: self.rng.below(SHARDS),
            state: ClientState::Idle,
        };
    }

    fn unblock(&mut self) {
        let c = self.rng.below(CLIENTS);
        let shard = self.clients[c].shard;
        if let ClientState::Blocked(block) = self.clients[c].state {
            let how = if self.rng.below(2) == 0 {
                UnblockAs::Timeout
            } else {
                UnblockAs::Error
            };
            let mut out = Vec::new();
            assert!(self.shards[shard].origin.unblock(block, how, &mut out));
            self.run_actions(shard, out);
        }
    }

    fn step(&mut self) {
        match self.rng.below(100) {
            0..=44 => {
                self.deliver_one();
            }
            45..=59 => self.push(),
            60..=64 => self.steal(),
            65..=79 => self.block(),
            80..=89 => self.advance_time(),
            90..=94 => {
                let c = self.rng.below(CLIENTS);
                self.disconnect(c);
            }
            _ => self.unblock(),
        }
        self.drain_inline();
        self.check_step();
    }

    fn check_step(&self) {
        let in_lists: usize = self
            .shards
            .iter()
            .flat_map(|s| s.lists.values())
            .map(VecDeque::len)
            .sum();
        let in_flight = self
            .wire
            .iter()
            .flatten()
            .flatten()
            .filter(|m| matches!(m, Msg::Served { value: Some(_), .. }))
            .count();
        let held: usize = self.shards.iter().map(|s| s.origin.held_replies()).sum();
        let accounted = in_lists + in_flight + held + self.delivered.len() + self.stolen.len();
        assert_eq!(accounted as u64, self.next_element, "an element was lost");
        for client in &self.clients {
            if let ClientState::Blocked(block) = client.state {
                assert!(self.shards[client.shard].origin.is_blocked(block));
            }
        }
        let parked: usize = self
            .clients
            .iter()
            .filter(|c| c.state != ClientState::Idle)
            .count();
        let blocked: usize = self.shards.iter().map(|s| s.origin.blocked_count()).sum();
        assert_eq!(
            parked, blocked,
            "clients and origins disagree on who is blocked"
        );
    }

    fn quiesce(&mut self) {
        while self.deliver_one() {
            self.drain_inline();
            self.check_step();
        }
    }

    /// With no message in flight: no block waits on a key with data, and
    /// every registration belongs to a live block that names its key.
    fn check_quiescent(&self) {
        for (id, shard) in self.shards.iter().enumerate() {
            for block in shard.origin.blocks() {
                assert!(!shard.origin.is_serving(block), "a serve left in flight");
                for (target, key) in shard.origin.keys_of(block).expect("listed block") {
                    let lists = &self.shards[*target].lists;
                    assert!(
                        !Self::has_data(lists, key),
                        "block {block} of shard {id} waits on {key:?} which has data"
                    );
                    let waiter = WaiterId { origin: id, block };
                    assert!(
                        self.shards[*target]
                            .target
                            .iter()
                            .any(|(k, w)| k == &**key && w == waiter),
                        "block {block} is not registered on {key:?}"
                    );
                }
            }
            for (key, waiter) in shard.target.iter() {
                let origin = &self.shards[waiter.origin].origin;
                let names_key = origin
                    .keys_of(waiter.block)
                    .is_some_and(|keys| keys.iter().any(|(_, k)| **k == *key));
                assert!(names_key, "waiter {waiter:?} on {key:?} outlived its block");
            }
        }
    }
}

pub(crate) fn run(seed: u64) {
    let mut sim = Sim::new(seed);
    for _ in 0..STEPS {
        sim.step();
    }
    sim.quiesce();
    sim.check_quiescent();
    for c in 0..CLIENTS {
        sim.disconnect(c);
        sim.drain_inline();
    }
    sim.quiesce();
    for shard in &sim.shards {
        assert_eq!(shard.origin.blocked_count(), 0);
        assert_eq!(
            shard.origin.blocks().count(),
            0,
            "a block outlived its client"
        );
        assert_eq!(
            shard.target.registrations(),
            0,
            "a waiter outlived its client"
        );
        assert_eq!(shard.target.watched_keys(), 0);
    }
}

pub(crate) fn run_reporting(seed: u64) {
    if catch_unwind(AssertUnwindSafe(|| run(seed))).is_err() {
        panic!("blocking simulation failed for seed {seed}: add it to REGRESSION_SEEDS");
    }
}

/// Deliveries and other replies over `seeds` runs without the final
/// drain: evidence that the simulation reaches the interesting states.
pub(crate) fn exercise(seeds: u64) -> (usize, usize) {
    let mut delivered = 0;
    let mut other_replies = 0;
    for seed in 0..seeds {
        let mut sim = Sim::new(seed);
        for _ in 0..STEPS {
            sim.step();
        }
        delivered += sim.delivered.len();
        other_replies += sim.replies.len().saturating_sub(sim.delivered.len());
    }
    (delivered, other_replies)
}
