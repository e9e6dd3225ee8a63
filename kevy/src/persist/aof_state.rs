//! State of the append-only log that every shard of a server shares: the
//! files of the log set (directory, manifest), whether the log is on,
//! each shard's log, the rewrite in progress and the counters `INFO
//! persistence` reports.
//!
//! Held inside the snapshot state (`SharedState::aof`), which every
//! shard's configuration carries, so command handlers and shard ticks
//! reach it without new plumbing. The manifest is changed only under the
//! rewrite lock, by the thread that starts or finishes a rewrite (or the
//! main thread at start, before any shard runs).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use kevy_persist::aof::manifest::is_plain_file_name;
use kevy_persist::aof::Manifest;

use super::aof_rewrite::RewriteJob;
use super::aof_sink::ShardLog;
use crate::config::Config;

/// Validates the log-set directives as Redis does at start.
pub fn check_directive(name: &str, value: &str) -> Result<(), String> {
    match name {
        "appendfilename" if !is_plain_file_name(value) => {
            Err("appendfilename can't be a path, just a filename".into())
        }
        "appenddirname" if !is_plain_file_name(value) => {
            Err("appenddirname can't be a path, just a dirname".into())
        }
        _ => Ok(()),
    }
}

/// Where a log set lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofPaths {
    /// `dir`/`appenddirname`.
    pub dir: PathBuf,
    pub filename: String,
}

impl AofPaths {
    pub fn from_config(config: &Config) -> AofPaths {
        AofPaths {
            dir: config
                .dir
                .join(config.get("appenddirname").unwrap_or("appendonlydir")),
            filename: config
                .get("appendfilename")
                .unwrap_or("appendonly.aof")
                .to_string(),
        }
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The rewrite lock's contents: the manifest in force and the rewrite
/// being written, if any.
#[derive(Default)]
pub struct AofFiles {
    pub paths: Option<AofPaths>,
    pub manifest: Manifest,
    pub job: Option<Arc<Mutex<RewriteJob>>>,
}

/// See the module comment.
pub struct AofShared {
    /// The log is being written (`appendonly yes` took effect: its
    /// rewrite started). Shards attach and detach their logs by it.
    pub on: AtomicBool,
    /// Random per start: tags cross-shard writes so ids of two runs never
    /// meet in one log (`TxnTag::run`).
    pub run: u64,
    pub files: Mutex<AofFiles>,
    /// Rewrite requests; each shard serves every one once.
    pub rewrite_generation: AtomicU64,
    /// Per shard: the last rewrite generation it served.
    pub served: Mutex<Vec<u64>>,
    /// Per shard: its log, while it has one.
    pub logs: Mutex<Vec<Option<Arc<Mutex<ShardLog>>>>>,
    pub rewrite_in_progress: AtomicBool,
    pub last_rewrite_ok: AtomicBool,
    pub rewrites: AtomicU64,
    pub consecutive_failures: AtomicU64,
    pub last_rewrite_secs: AtomicI64,
    /// Unix ms when the running rewrite started (0: none).
    pub rewrite_started_ms: AtomicU64,
    /// Size of the set right after the last rewrite (or the load at
    /// start): what the automatic rewrite measures growth against.
    pub base_size: AtomicU64,
}

impl Default for AofShared {
    fn default() -> Self {
        AofShared {
            on: AtomicBool::new(false),
            run: crate::random::SplitMix64::from_entropy().next_u64(),
            files: Mutex::new(AofFiles::default()),
            rewrite_generation: AtomicU64::new(0),
            served: Mutex::new(Vec::new()),
            logs: Mutex::new(Vec::new()),
            rewrite_in_progress: AtomicBool::new(false),
            last_rewrite_ok: AtomicBool::new(true),
            rewrites: AtomicU64::new(0),
            consecutive_failures: AtomicU64::new(0),
            last_rewrite_secs: AtomicI64::new(-1),
            rewrite_started_ms: AtomicU64::new(0),
            base_size: AtomicU64::new(0),
        }
    }
}

impl AofShared {
    pub fn files(&self) -> std::sync::MutexGuard<'_, AofFiles> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The log of `shard`, if it has one.
    pub fn log_of(&self, shard: usize) -> Option<Arc<Mutex<ShardLog>>> {
        let logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        logs.get(shard).cloned().flatten()
    }

    pub fn set_log(&self, shard: usize, log: Option<Arc<Mutex<ShardLog>>>) {
        let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        if logs.len() <= shard {
            logs.resize(shard + 1, None);
        }
        logs[shard] = log;
    }

    /// Takes every shard's log (at stop).
    pub fn take_logs(&self) -> Vec<Arc<Mutex<ShardLog>>> {
        let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        logs.iter_mut().filter_map(Option::take).collect()
    }

    /// False once a write or fsync of any shard's log failed (until one
    /// succeeds again): `aof_last_write_status`.
    pub fn last_write_ok(&self) -> bool {
        let logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        logs.iter()
            .flatten()
            .all(|log| ShardLog::lock(log).status().last_write_ok())
    }

    /// Bytes queued for the logs' writer threads.
    pub fn pending_bytes(&self) -> u64 {
        let logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        logs.iter()
            .flatten()
            .map(|log| ShardLog::lock(log).status().pending_bytes())
            .sum()
    }

    /// The size of every file the manifest lists.
    pub fn current_size(&self) -> u64 {
        let files = self.files();
        let Some(paths) = &files.paths else {
            return 0;
        };
        files
            .manifest
            .file_names()
            .filter_map(|name| std::fs::metadata(paths.file(name)).ok())
            .map(|m| m.len())
            .sum()
    }

    /// The base snapshot's size.
    pub fn base_file_size(&self) -> u64 {
        let files = self.files();
        match (&files.paths, &files.manifest.base) {
            (Some(paths), Some(base)) => std::fs::metadata(paths.file(&base.name))
                .map(|m| m.len())
                .unwrap_or(0),
            _ => 0,
        }
    }

    /// Marks `shard` as having served rewrite `generation`; false when
    /// it already had.
    pub fn serve(&self, shard: usize, generation: u64) -> bool {
        let mut served = self.served.lock().unwrap_or_else(|p| p.into_inner());
        if served.len() <= shard {
            served.resize(shard + 1, 0);
        }
        if served[shard] >= generation {
            return false;
        }
        served[shard] = generation;
        true
    }

    /// Records that every shard is up to date with the rewrites so far
    /// (at start: no shard serves an old request).
    pub fn mark_all_served(&self, shards: usize) {
        let generation = self.rewrite_generation.load(Ordering::SeqCst);
        let mut served = self.served.lock().unwrap_or_else(|p| p.into_inner());
        *served = vec![generation; shards];
    }
}

/// Creates the log directory if missing.
pub fn ensure_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}
