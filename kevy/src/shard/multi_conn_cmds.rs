//! Connection commands inside `EXEC`, including those whose reply gathers
//! every shard's answer (`INFO`, `PUBLISH`, `CLIENT LIST`, `CONFIG SET`,
//! `PUBSUB ...`).
//!
//! A gathering command reserves a reply slot of its own on the connection
//! and fills it when the answers arrive, so the `EXEC` reply is cut around
//! it: the elements before it are handed to the connection first, the
//! slot follows, and the elements after it go after the slot. Run on the
//! connection's shard, the first part goes straight to the connection (the
//! rest is `EXEC`'s own reply); run by a coordination, the first part fills
//! the slot reserved for `EXEC` and a new one is reserved for the rest
//! (the coordination delivers its reply there). The per-shard parts are
//! answered by every shard at once, even a locked one: `PUBLISH` delivers
//! at `EXEC`, before a later command of the transaction, as in Redis; and
//! a subscriber's read of a key the transaction writes waits behind the
//! locks, so it sees the write.
//!
//! As in Redis (whose `EXEC` denies blocking), `SSUBSCRIBE` is refused
//! inside a transaction; `SUBSCRIBE` and the others take effect at `EXEC`,
//! their replies being elements of its array.

use kevy_transport::ConnId;

use crate::resp::{Argv, ReplyBuf};
use crate::shard::conn::ReplySlot;
use crate::shard::mesh::ReplyTo;
use crate::shard::multi_run::{gathers_from_shards, NOT_ACROSS_SHARDS};
use crate::shard::{ConnCtx, ShardCore};

const SSUBSCRIBE_DENIED: &str = "ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client";

/// A connection command's handler.
type ConnHandler = fn(&mut ConnCtx, Argv);

impl ShardCore {
    /// Runs a queued connection command of `conn` (None: the connection is
    /// gone), its reply appended to `out` or, for a gathering command,
    /// given a slot of its own after the `EXEC` reply so far.
    pub(in crate::shard) fn run_conn_in_exec(
        &mut self,
        conn: Option<ConnId>,
        handler: ConnHandler,
        argv: Argv,
        resp3: bool,
        out: &mut Vec<u8>,
    ) {
        let Some(id) = conn else {
            ReplyBuf::new(out, resp3).error(NOT_ACROSS_SHARDS);
            return;
        };
        if argv.get(0).eq_ignore_ascii_case(b"ssubscribe") {
            ReplyBuf::new(out, resp3).error(SSUBSCRIBE_DENIED);
            return;
        }
        let cut = gathers_from_shards(argv);
        let coordination = if cut {
            self.cut_exec_reply(id, out)
        } else {
            None
        };
        let mut ctx = ConnCtx::new(self, id);
        handler(&mut ctx, argv);
        out.extend_from_slice(&ctx.out);
        if let Some(index) = coordination {
            // The rest of the reply goes after the command's slot.
            let Some(conn) = self.conn(id) else {
                return;
            };
            let seq = conn.reserve_slot(ReplySlot::Pending);
            self.coordinations[index].seq = seq;
        }
    }

    /// Hands the `EXEC` reply so far to connection `id`, emptying `out`.
    /// Returns the index of the coordination running the transaction, if
    /// one does (it then needs a new slot for the rest).
    fn cut_exec_reply(&mut self, id: ConnId, out: &mut Vec<u8>) -> Option<usize> {
        let client_id = self.conn(id)?.client_id;
        let prefix = std::mem::take(out);
        let running = self
            .coordinations
            .iter()
            .position(|c| c.conn == id && c.client_id == client_id);
        match running {
            Some(index) => {
                let to = ReplyTo {
                    shard: self.id,
                    conn: id,
                    client_id,
                    seq: self.coordinations[index].seq,
                    part: 0,
                };
                self.deliver(to, prefix);
                Some(index)
            }
            None => {
                let conn = self.conn(id)?;
                conn.reply_buffer().extend_from_slice(&prefix);
                conn.release_ready();
                self.mark_dirty(id);
                None
            }
        }
    }
}
