//! kevy: a Redis-compatible, in-memory key-value server, thread-per-core
//! and shared-nothing.
//!
//! The crate holds everything with Redis semantics: the RESP codec
//! ([`resp`]), the keyspace and its values ([`keyspace`]), the command table
//! ([`cmd`]), the per-shard sans-IO core ([`shard`]) and the [`server`] that
//! binds sockets, starts one shard per thread on a backend of
//! `kevy-transport` and wires the shards together. The `kevy` binary is a
//! thin command line over [`server::Server`].

pub mod alloc;
pub mod cmd;
pub mod config;
pub mod glob;
pub mod keyspace;
pub mod logging;
pub mod persist;
pub mod random;
pub mod replication;
pub mod resp;
pub mod server;
pub mod shard;
pub mod slot;

#[cfg(not(any(feature = "mio", feature = "polling", feature = "glommio")))]
compile_error!("kevy needs at least one transport feature: enable `mio`, `polling` or `glommio`");

pub use config::Config;
pub use server::{RunningServer, Server, ServerBuilder, ServerError, Transport};
