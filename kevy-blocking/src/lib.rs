//! Blocking commands of kevy (`BLPOP`, `BRPOP`, `BLMOVE`, `BZPOPMIN`,
//! `XREAD BLOCK`, ...), as sans-IO state machines: input in, decisions
//! out, time passed in as a value, no sockets or clocks inside, and no
//! knowledge of what a key holds (the caller answers "has data").
//!
//! - [`Origin`]: the shard a blocked client lives on, the sole arbiter of
//!   when and from which key it is served (arm → ready → serve → deliver
//!   or re-arm; timeouts, `CLIENT UNBLOCK`, disconnects).
//! - [`TargetWaiters`]: the shard a key lives on: who waits on its keys,
//!   whose turn it is (first come first served), who to tell "ready".
//! - [`BlockedRegistry`]: a one-shard registry of clients blocked on local
//!   keys, for a caller that needs no cross-shard protocol.
//!
//! Messages between the two sides are the caller's: the origin emits
//! [`OriginAction`]s naming a target shard; actions for its own shard are
//! handled inline. The protocol relies on the messages of one pair of
//! shards arriving in the order they were sent.

mod origin;
mod registry;
mod target;

pub use origin::{BlockOptions, Origin, OriginAction, ShardKey, UnblockAs};
pub use registry::BlockedRegistry;
pub use target::TargetWaiters;

/// One block of one client: the origin shard and a block number unique on
/// it, so an answer meant for an earlier block of the same client is
/// recognised as stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WaiterId {
    pub origin: usize,
    pub block: u64,
}

/// What can go wrong registering a blocked client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BlockingError {
    /// A client waits on one command at a time; it must be unblocked (or
    /// served, or timed out) before it blocks again.
    #[error("the client is already blocked")]
    AlreadyBlocked,
    /// A blocking command names at least one key.
    #[error("a blocked client must wait on at least one key")]
    NoKeys,
}
