//! The origin's answers to a parked connection: what the arbiter's
//! actions become (hops to keys' shards, the reply written into the
//! connection's reply slot, `CLIENT UNBLOCK`'s and timeouts' replies), and
//! the second half of a `BLMOVE` whose destination lives on another shard
//! than its source (the source's shard popped; the destination's pushes).

use std::sync::atomic::Ordering;

use kevy_blocking::{OriginAction, UnblockAs};
use kevy_transport::ConnId;

use super::blocking::{split_wait_key, BlockHop, Parked};
use super::blocking_target::TargetSpec;
use super::mesh::{Hop, ReplyTo};
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
                    };
                    let spec = Box::new(spec);
                    self.send_block(target, BlockHop::Arm { waiter, key, spec });
                }
                OriginAction::Serve {
                    target,
                    waiter,
                    key,
                } => self.send_block(target, BlockHop::Serve { waiter, key }),
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
                    self.finish_move(&parked, &reply);
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

    /// A `BLMOVE` whose destination lives on another shard than its
    /// source: the source's shard popped, the destination's pushes now.
    fn finish_move(&mut self, parked: &Parked, reply: &[u8]) {
        let Serve::Move {
            db,
            destination,
            to,
            ..
        } = &*parked.serve
        else {
            return;
        };
        let Some(source) = parked.kinds.keys().next() else {
            return;
        };
        let (_, source) = split_wait_key(source);
        let dst_shard = self.shared.slots.shard_of(destination);
        if dst_shard == self.shared.slots.shard_of(source) {
            return;
        }
        let Some(element) = bulk_payload(reply) else {
            return;
        };
        let push = if to.eq_ignore_ascii_case(b"left") {
            &b"LPUSH"[..]
        } else {
            &b"RPUSH"[..]
        };
        let argv = OwnedArgv::from_slices([push, destination.as_slice(), element]);
        if dst_shard == self.id {
            self.run_for_blocking(*db, false, argv.argv());
        } else {
            // Nobody waits for the push's reply: it goes to no connection.
            let reply_to = ReplyTo {
                shard: self.id,
                conn: ConnId::MAX,
                client_id: 0,
                seq: 0,
                part: 0,
            };
            self.mesh.send(
                dst_shard,
                Hop::Exec {
                    reply_to,
                    db: *db,
                    resp3: false,
                    argv,
                },
            );
        }
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

/// The payload of a RESP bulk string reply.
fn bulk_payload(reply: &[u8]) -> Option<&[u8]> {
    let rest = reply.strip_prefix(b"$")?;
    let header_end = rest.windows(2).position(|w| w == b"\r\n")?;
    let len: usize = std::str::from_utf8(&rest[..header_end])
        .ok()?
        .parse()
        .ok()?;
    rest.get(header_end + 2..header_end + 2 + len)
}
