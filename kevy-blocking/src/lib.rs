//! Blocking commands of kevy (`BLPOP`, `BRPOP`, `BLMOVE`, `BZPOPMIN`,
//! `XREAD BLOCK`, ...), as sans-IO state machines: input in, decisions
//! out, time passed in as a value, no sockets or clocks inside.
//!
//! Today this crate holds the [`BlockedRegistry`]: the per-shard record of
//! which clients wait on which local keys. A shard blocks a client on its
//! keys, tells the registry when a key received data (and learns which
//! client to serve, first come first served per key), sweeps timeouts with
//! its own clock, and unblocks clients that disconnect. The cross-shard
//! arbiter (an origin shard serving keys that live on other shards) builds
//! on it and lands here next.

mod registry;

pub use registry::BlockedRegistry;

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
