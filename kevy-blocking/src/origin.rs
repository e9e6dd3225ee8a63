//! The origin side of the cross-shard arbiter: the shard a blocked
//! connection lives on, and the sole judge of when it is served.
//!
//! Data flow: `block` allocates a [`WaiterId`] and asks every key's shard
//! to arm a waiter ([`OriginAction::Arm`]); each target answers whether the
//! key has data for it (`on_armed`), and later says "ready" when a write
//! gives it data (`on_ready`). Once every arm of a round is answered, the
//! origin picks the first ready key in the command's order (as Redis
//! serves an unblocked call), marks itself *serving* and asks that one
//! target to pop ([`OriginAction::Serve`]). The pop's outcome comes back in
//! `on_served`: a value is delivered and every registration cancelled;
//! nothing (another client drained the key in between) starts a new round
//! of arms on every key. Timeouts (`expire`), `CLIENT UNBLOCK` (`unblock`)
//! and disconnects (`disconnect`) end a block and cancel its registrations.
//! A block made with `no_block` (a blocking command inside `MULTI`) ends
//! with a timeout as soon as its first round finds no key ready; one made
//! with `collect` (`XREAD`) serves, in its first round only, every ready
//! key one after another and delivers the replies together, as a call
//! that does not wait serves every stream that has data.
//!
//! Invariants: at most one serve is in flight per block; a block with a
//! serve in flight is neither timed out nor unblocked until the serve comes
//! back, so a popped value is never dropped; every block ends with exactly
//! one of Deliver / TimedOut / Unblocked (or a silent end after a
//! disconnect), followed by a Cancel to each of its keys' shards.

use std::collections::{BTreeSet, HashMap};

use crate::WaiterId;

/// How `CLIENT UNBLOCK` ends a block: as a timeout (nil reply) or with
/// `-UNBLOCKED`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnblockAs {
    Timeout,
    Error,
}

/// What the origin asks its caller to do. `target` is a shard id; actions
/// for the origin's own shard are to be handled inline, without messages.
#[derive(Debug, PartialEq, Eq)]
pub enum OriginAction<R> {
    /// Register `waiter` on `key` at `target` (idempotent on the target).
    Arm {
        target: usize,
        waiter: WaiterId,
        key: Box<[u8]>,
    },
    /// Pop from `key` at `target` for `waiter` and report with `on_served`.
    Serve {
        target: usize,
        waiter: WaiterId,
        key: Box<[u8]>,
    },
    /// Forget `waiter` on `key` at `target`.
    Cancel {
        target: usize,
        waiter: WaiterId,
        key: Box<[u8]>,
    },
    /// Write `replies` (one per served key, in the command's key order;
    /// one unless the block collects) to the client of `block` and unpark
    /// it. `client_gone`: the client disconnected while the value was being
    /// popped; the value is gone with it, as a reply already written to a
    /// closing socket.
    Deliver {
        block: u64,
        replies: Vec<R>,
        client_gone: bool,
    },
    /// The block's timeout fired: reply nil and unpark.
    TimedOut { block: u64 },
    /// `CLIENT UNBLOCK` ended the block.
    Unblocked { block: u64, how: UnblockAs },
}

/// How a block behaves besides waiting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockOptions {
    /// Unix ms (the caller's clock); None: forever.
    pub deadline: Option<u64>,
    /// End with a timeout when the first round finds no key ready (a
    /// blocking command inside `MULTI`).
    pub no_block: bool,
    /// Serve every key ready in the first round and deliver the replies
    /// together (reads that consume nothing, as `XREAD` serving several
    /// streams at once when it does not wait).
    pub collect: bool,
}

/// A key and the shard that owns it.
pub type ShardKey = (usize, Box<[u8]>);

struct OriginBlock<R> {
    /// (shard, key), without duplicates, in the order the command named them.
    keys: Vec<ShardKey>,
    deadline: Option<u64>,
    /// The key index whose pop is in flight.
    serving: Option<usize>,
    /// Arms of the current round not answered yet.
    arms_pending: usize,
    /// Keys answered or told ready since the round began.
    ready: Vec<bool>,
    /// End with a timeout when the first round finds nothing.
    no_block: bool,
    /// Serve every key ready in the first round, delivered together.
    collect: bool,
    /// The first round of arms is not over yet.
    first_round: bool,
    /// Replies collected so far (more than one only with `collect`).
    collected: Vec<R>,
    /// The client left while a serve was in flight.
    gone: bool,
    /// `CLIENT UNBLOCK` arrived while a serve was in flight.
    unblock_pending: Option<UnblockAs>,
}

/// The blocks of the clients parked on one shard.
pub struct Origin<R> {
    shard: usize,
    next_block: u64,
    blocks: HashMap<u64, OriginBlock<R>>,
    /// (deadline, block) for every block with a deadline.
    deadlines: BTreeSet<(u64, u64)>,
}

impl<R> Origin<R> {
    pub fn new(shard: usize) -> Self {
        Origin {
            shard,
            next_block: 1,
            blocks: HashMap::new(),
            deadlines: BTreeSet::new(),
        }
    }

    pub fn shard(&self) -> usize {
        self.shard
    }

    /// Parks a client on `keys` (each with its shard) until `deadline`
    /// (None: forever). Returns the block id; `out` receives the arms.
    pub fn block(
        &mut self,
        keys: impl IntoIterator<Item = ShardKey>,
        options: BlockOptions,
        out: &mut Vec<OriginAction<R>>,
    ) -> u64 {
        let BlockOptions {
            deadline,
            no_block,
            collect,
        } = options;
        let block = self.next_block;
        self.next_block += 1;
        let mut unique: Vec<ShardKey> = Vec::new();
        for (shard, key) in keys {
            if !unique.iter().any(|(_, k)| *k == key) {
                unique.push((shard, key));
            }
        }
        debug_assert!(!unique.is_empty(), "a blocking command names a key");
        let waiter = self.waiter(block);
        for (target, key) in &unique {
            out.push(OriginAction::Arm {
                target: *target,
                waiter,
                key: key.clone(),
            });
        }
        if let Some(at) = deadline {
            self.deadlines.insert((at, block));
        }
        let count = unique.len();
        self.blocks.insert(
            block,
            OriginBlock {
                keys: unique,
                deadline,
                serving: None,
                arms_pending: count,
                ready: vec![false; count],
                no_block,
                collect,
                first_round: true,
                collected: Vec::new(),
                gone: false,
                unblock_pending: None,
            },
        );
        block
    }

    fn waiter(&self, block: u64) -> WaiterId {
        WaiterId {
            origin: self.shard,
            block,
        }
    }

    /// A target registered `block` on `key`; `ready`: the key has data for
    /// it.
    pub fn on_armed(
        &mut self,
        block: u64,
        key: &[u8],
        ready: bool,
        out: &mut Vec<OriginAction<R>>,
    ) {
        let Some(state) = self.blocks.get_mut(&block) else {
            return;
        };
        let Some(index) = state.keys.iter().position(|(_, k)| **k == *key) else {
            return;
        };
        debug_assert!(state.arms_pending > 0, "an arm answered twice");
        state.arms_pending = state.arms_pending.saturating_sub(1);
        state.ready[index] |= ready;
        self.try_serve(block, out);
    }

    /// A target says a write gave `key` data for `block`. Stale answers
    /// (for a block already ended, or a key it does not name) are ignored.
    pub fn on_ready(&mut self, block: u64, key: &[u8], out: &mut Vec<OriginAction<R>>) {
        let Some(state) = self.blocks.get_mut(&block) else {
            return;
        };
        let Some(index) = state.keys.iter().position(|(_, k)| **k == *key) else {
            return;
        };
        state.ready[index] = true;
        self.try_serve(block, out);
    }

    /// Serves the first ready key once the round is answered, unless a
    /// serve is already in flight (its outcome decides: if it comes back
    /// empty every key is re-armed and answers again).
    fn try_serve(&mut self, block: u64, out: &mut Vec<OriginAction<R>>) {
        let waiter = self.waiter(block);
        let Some(state) = self.blocks.get_mut(&block) else {
            return;
        };
        if state.serving.is_some() || state.gone || state.arms_pending > 0 {
            return;
        }
        let Some(index) = state.ready.iter().position(|&r| r) else {
            state.first_round = false;
            if state.no_block {
                out.push(OriginAction::TimedOut { block });
                self.end(block, out);
            }
            return;
        };
        state.ready[index] = false;
        state.serving = Some(index);
        let (target, key) = &state.keys[index];
        out.push(OriginAction::Serve {
            target: *target,
            waiter,
            key: key.clone(),
        });
    }

    /// The outcome of the serve of `block`: `Some(reply)` when the target
    /// popped, None when it found nothing.
    pub fn on_served(&mut self, block: u64, reply: Option<R>, out: &mut Vec<OriginAction<R>>) {
        let Some(state) = self.blocks.get_mut(&block) else {
            debug_assert!(reply.is_none(), "a popped value for an unknown block");
            return;
        };
        debug_assert!(state.serving.is_some(), "a serve reply without a serve");
        let served = state.serving.take().unwrap_or(0);
        let collecting = state.collect && state.first_round;
        if let Some(reply) = reply {
            state.collected.push(reply);
        }
        if collecting && !state.gone && state.unblock_pending.is_none() {
            // Serve the next key ready in this round, in the command's order.
            let next = (served + 1..state.keys.len()).find(|&j| state.ready[j]);
            if let Some(next) = next {
                state.ready[next] = false;
                state.serving = Some(next);
                let (target, key) = &state.keys[next];
                out.push(OriginAction::Serve {
                    target: *target,
                    waiter: WaiterId {
                        origin: self.shard,
                        block,
                    },
                    key: key.clone(),
                });
                return;
            }
        }
        if !state.collected.is_empty() {
            let client_gone = state.gone;
            let replies = std::mem::take(&mut state.collected);
            out.push(OriginAction::Deliver {
                block,
                replies,
                client_gone,
            });
            self.end(block, out);
        } else if state.gone {
            self.end(block, out);
        } else if let Some(how) = state.unblock_pending {
            out.push(OriginAction::Unblocked { block, how });
            self.end(block, out);
        } else {
            let waiter = WaiterId {
                origin: self.shard,
                block,
            };
            state.arms_pending = state.keys.len();
            state.first_round = false;
            state.ready.iter_mut().for_each(|r| *r = false);
            for (target, key) in &state.keys {
                out.push(OriginAction::Arm {
                    target: *target,
                    waiter,
                    key: key.clone(),
                });
            }
        }
    }

    /// Times out every block whose deadline is at or before `now`, except
    /// those with a serve in flight (their outcome decides).
    pub fn expire(&mut self, now: u64, out: &mut Vec<OriginAction<R>>) {
        let due: Vec<u64> = self
            .deadlines
            .range(..(now.saturating_add(1), 0))
            .map(|&(_, block)| block)
            .filter(|block| self.blocks[block].serving.is_none())
            .collect();
        for block in due {
            out.push(OriginAction::TimedOut { block });
            self.end(block, out);
        }
    }

    /// `CLIENT UNBLOCK`: false when `block` is not blocked. With a serve in
    /// flight the block ends when the serve comes back (with the value if
    /// it popped one).
    pub fn unblock(&mut self, block: u64, how: UnblockAs, out: &mut Vec<OriginAction<R>>) -> bool {
        let Some(state) = self.blocks.get_mut(&block) else {
            return false;
        };
        if state.gone {
            return false;
        }
        if state.serving.is_some() {
            // A second unblock before the serve comes back keeps the first.
            state.unblock_pending.get_or_insert(how);
            return true;
        }
        out.push(OriginAction::Unblocked { block, how });
        self.end(block, out);
        true
    }

    /// The client of `block` disconnected: its registrations are cancelled
    /// (after the serve in flight, if any, comes back).
    pub fn disconnect(&mut self, block: u64, out: &mut Vec<OriginAction<R>>) {
        let Some(state) = self.blocks.get_mut(&block) else {
            return;
        };
        if state.serving.is_some() {
            state.gone = true;
            return;
        }
        self.end(block, out);
    }

    /// Forgets `block` and cancels each of its registrations.
    fn end(&mut self, block: u64, out: &mut Vec<OriginAction<R>>) {
        let state = self
            .blocks
            .remove(&block)
            .expect("only known blocks are ended");
        if let Some(at) = state.deadline {
            self.deadlines.remove(&(at, block));
        }
        let waiter = self.waiter(block);
        for (target, key) in state.keys {
            out.push(OriginAction::Cancel {
                target,
                waiter,
                key,
            });
        }
    }

    /// The earliest deadline of any block, for the shard's timer.
    pub fn next_deadline(&self) -> Option<u64> {
        self.deadlines.first().map(|&(at, _)| at)
    }

    /// Replies served and held until a collecting block delivers them.
    pub fn held_replies(&self) -> usize {
        self.blocks.values().map(|b| b.collected.len()).sum()
    }

    /// Blocks whose client still waits (INFO's `blocked_clients`).
    pub fn blocked_count(&self) -> usize {
        self.blocks.values().filter(|b| !b.gone).count()
    }

    pub fn is_blocked(&self, block: u64) -> bool {
        self.blocks.get(&block).is_some_and(|b| !b.gone)
    }

    pub fn is_serving(&self, block: u64) -> bool {
        self.blocks.get(&block).is_some_and(|b| b.serving.is_some())
    }

    /// The (shard, key) pairs `block` waits on.
    pub fn keys_of(&self, block: u64) -> Option<&[ShardKey]> {
        self.blocks.get(&block).map(|b| b.keys.as_slice())
    }

    /// Every block, alive or waiting for its serve to come back.
    pub fn blocks(&self) -> impl Iterator<Item = u64> + '_ {
        self.blocks.keys().copied()
    }
}

#[cfg(test)]
mod tests;
