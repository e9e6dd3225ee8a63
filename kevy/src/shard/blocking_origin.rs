//! The origin's answers to a parked connection: what the arbiter's
//! actions become (hops to keys' shards, the reply written into the
//! connection's reply slot, `CLIENT UNBLOCK`'s and timeouts' replies), and
//! the serve of a `BLMOVE` whose destination lives on another shard than
//! its source: a coordinated `LMOVE`, atomic over both shards.

use std::sync::atomic::Ordering;

use kevy_blocking::{OriginAction, UnblockAs};

use super::blocking::{split_wait_key, BlockHop, Parked, SERVE_CONN};
use super::blocking_target::TargetSpec;
use super::mesh::ReplyTo;
use super::ShardCore;
use crate::cmd::blocking::{Serve, WaitKind};
use crate::resp::{OwnedArgv, ReplyBuf};

const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

impl ShardCore {
    pub(super) fn run_origin_actions(&mut self, actions: Vec<OriginAction<Vec<u8>>>) {
        for action in actions {
            match action {
                OriginAction::Arm {
                    target,
                    waiter,
                    key,
                } => {
                    let Some(parked) = self.blocking.parked.get(&waiter.block) else {
                        continue;
                    };
                    let spec = TargetSpec {
                        kind: parked.kinds.get(&key).cloned().unwrap_or(WaitKind::List),
                        serve: parked.serve.clone(),
                        resp3: parked.resp3,
                        first_round: true,
                        waited: false,
                    };
                    let spec = Box::new(spec);
                    self.send_block(target, BlockHop::Arm { waiter, key, spec });
                }
                OriginAction::Serve {
                    target,
                    waiter,
                    key,
                } => {
                    if !self.serve_cross_shard_move(waiter.block, &key) {
                        self.send_block(target, BlockHop::Serve { waiter, key });
                    }
                }
                OriginAction::Cancel {
                    target,
                    waiter,
                    key,
                } => self.send_block(target, BlockHop::Cancel { waiter, key }),
                OriginAction::Deliver {
                    block,
                    replies,
                    client_gone,
                } => {
                    let Some(parked) = self.blocking.parked.remove(&block) else {
                        continue;
                    };
                    let reply = merge_stream_replies(replies, parked.resp3);
                    if !client_gone {
                        self.answer_parked(block, parked, reply);
                    }
                }
                OriginAction::TimedOut { block }
                | OriginAction::Unblocked {
                    block,
                    how: UnblockAs::Timeout,
                } => {
                    let Some(parked) = self.blocking.parked.remove(&block) else {
                        continue;
                    };
                    let mut bytes = Vec::new();
                    ReplyBuf::new(&mut bytes, parked.resp3).null_array();
                    self.answer_parked(block, parked, bytes);
                }
                OriginAction::Unblocked {
                    block,
                    how: UnblockAs::Error,
                } => {
                    let Some(parked) = self.blocking.parked.remove(&block) else {
                        continue;
                    };
                    let mut bytes = Vec::new();
                    ReplyBuf::new(&mut bytes, parked.resp3).error(UNBLOCKED);
                    self.stats.total_error_replies += 1;
                    self.answer_parked(block, parked, bytes);
                }
            }
        }
    }

    /// Serves `BLMOVE`/`BRPOPLPUSH` when the source and the destination
    /// live on different shards: `LMOVE` runs as a coordinated command
    /// (both shards locked), so the element moves atomically; its reply
    /// comes back in [`ShardCore::blocking_move_served`]. Returns false
    /// when the serve is an ordinary one.
    fn serve_cross_shard_move(&mut self, block: u64, source: &[u8]) -> bool {
        let Some(parked) = self.blocking.parked.get(&block) else {
            return false;
        };
        let Serve::Move {
            db,
            destination,
            from,
            to,
        } = &*parked.serve
        else {
            return false;
        };
        let (_, source) = split_wait_key(source);
        let shards = [
            self.shared.slots.shard_of(source),
            self.shared.slots.shard_of(destination),
        ];
        if shards[0] == shards[1] {
            return false;
        }
        let argv = OwnedArgv::from_slices([
            &b"LMOVE"[..],
            source,
            destination.as_slice(),
            from.as_slice(),
            to.as_slice(),
        ]);
        let reply_to = ReplyTo {
            shard: self.id,
            conn: SERVE_CONN,
            client_id: block,
            seq: 0,
            part: 0,
        };
        let (db, resp3) = (*db, parked.resp3);
        self.begin_coordination(reply_to, db, resp3, argv.argv(), &[1, 2], &shards);
        true
    }

    /// The coordinated `LMOVE` of a blocked call finished with `reply`.
    pub(super) fn blocking_move_served(&mut self, block: u64, reply: Vec<u8>) {
        let nothing = matches!(reply.as_slice(), b"$-1\r\n" | b"_\r\n");
        let mut out = Vec::new();
        let reply = (!nothing).then_some(reply);
        self.blocking.origin.on_served(block, reply, &mut out);
        self.run_origin_actions(out);
        self.forget_if_ended(block);
        self.drain_blocking();
    }

    /// Writes the answer of `block` into its connection's reply slot and
    /// lets the connection run its next commands.
    fn answer_parked(&mut self, block: u64, parked: Parked, bytes: Vec<u8>) {
        if self.blocking.by_conn.get(&parked.conn) == Some(&block) {
            self.blocking.by_conn.remove(&parked.conn);
        }
        if parked.counted {
            self.shared.blocked_clients.fetch_sub(1, Ordering::Relaxed);
        }
        let to = ReplyTo {
            shard: self.id,
            conn: parked.conn,
            client_id: parked.client_id,
            seq: parked.seq,
            part: 0,
        };
        let Some(conn) = self.conn(parked.conn) else {
            return;
        };
        if conn.client_id != parked.client_id {
            return;
        }
        conn.waiting_coordination = false;
        self.deliver(to, bytes);
        self.mark_dirty(parked.conn);
        if self.blocking.starting != Some(parked.conn) {
            self.blocking.resume.push(parked.conn);
        }
    }
}

/// One reply from the replies of the keys served: the reply itself when
/// there is one; else stream reads of one stream each (`*1`/`%1` then the
/// stream), merged under one header, in the order they were served.
fn merge_stream_replies(mut replies: Vec<Vec<u8>>, resp3: bool) -> Vec<u8> {
    if replies.len() == 1 {
        return replies.pop().expect("one reply");
    }
    // Redis checks every key before serving any: one error is the reply.
    if let Some(error) = replies.iter().position(|r| r.first() == Some(&b'-')) {
        return replies.swap_remove(error);
    }
    let mut out = Vec::new();
    let mut reply = ReplyBuf::new(&mut out, resp3);
    if resp3 {
        reply.map(replies.len());
    } else {
        reply.array(replies.len());
    }
    for one in &replies {
        let body = one
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(&one[..], |end| &one[end + 2..]);
        out.extend_from_slice(body);
    }
    out
}
