//! The append-only log as files: a log set, Redis 7's multi-part layout
//! with one incremental log per shard.
//!
//! A set lives in a directory (`appenddirname`) and is named by a
//! manifest ([`manifest`]): an optional base snapshot (kevy's snapshot
//! format, written by a rewrite) and, per shard, incremental logs of
//! framed entries ([`entry`], framed by `log_record`). Each shard appends
//! only to its own log ([`appender`]), so shards never share a file, a
//! lock or an fsync; a write's position relative to other shards' writes
//! does not matter because a key lives on one shard, and the rare write
//! that spans shards is tagged so a load can tell whether every part of
//! it reached the disk. Reading back ([`read`]) tells a torn tail (cut by
//! a crash: truncate) from corruption (refuse, naming file and offset).
//!
//! This module deals in bytes and files only; which commands an entry
//! holds and how they apply is the server's business.

pub mod appender;
pub mod check;
pub mod entry;
pub mod files;
pub mod manifest;
pub mod read;

pub use appender::{open_log, AppenderStatus, FsyncPolicy, LogAppender};
pub use entry::{decode_entry, encode_entry, LogEntry, TxnTag};
pub use files::{read_manifest, sync_dir, write_manifest, ManifestReadError};
pub use manifest::{base_name, incr_name, manifest_name, BaseFile, IncrFile, Manifest};
pub use read::{read_log, walk_log, LogSummary, LogTail};
