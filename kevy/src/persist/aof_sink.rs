//! One shard's append-only log: the [`WriteSink`] the shard hands its
//! write records to, turning each into a log entry (its database, its
//! cross-shard tag, its commands) appended under the fsync policy.
//!
//! The sink and the rewrite share the log through an `Arc<Mutex<_>>`:
//! the shard thread appends (through the sink) and, at a rewrite's freeze
//! point, switches the log to the new file; `INFO` reads its status. The
//! lock is uncontended on the write path (one owner thread), so it costs
//! an atomic per iteration.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use kevy_persist::aof::{
    encode_entry, open_log, AppenderStatus, FsyncPolicy, LogAppender, LogEntry, TxnTag,
};

use crate::shard::propagate::{WriteRecord, WriteSink};

/// A shard's log file and its appender.
pub struct ShardLog {
    appender: LogAppender,
    run: u64,
    payload: Vec<u8>,
    shard: usize,
}

impl ShardLog {
    /// Opens (creating) the log at `path` for appending.
    pub fn open(
        path: &Path,
        policy: FsyncPolicy,
        run: u64,
        shard: usize,
    ) -> std::io::Result<ShardLog> {
        let file = open_log(path)?;
        let appender = LogAppender::new(file, policy, &format!("kevy-aof-{shard}"))?;
        Ok(ShardLog {
            appender,
            run,
            payload: Vec::new(),
            shard,
        })
    }

    pub fn lock(log: &Mutex<ShardLog>) -> MutexGuard<'_, ShardLog> {
        log.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn status(&self) -> Arc<AppenderStatus> {
        self.appender.status()
    }

    pub fn policy(&self) -> FsyncPolicy {
        self.appender.policy()
    }

    pub fn set_policy(&mut self, policy: FsyncPolicy) {
        if let Err(err) = self.appender.set_policy(policy) {
            log::warn!(
                "Can't change the AOF fsync policy of shard {}: {err}",
                self.shard
            );
        }
    }

    /// Appends go to the log at `path` from now on.
    pub fn switch_to(&mut self, path: &Path) -> Result<(), String> {
        let file = open_log(path).map_err(|e| format!("{}: {e}", path.display()))?;
        self.appender.switch_to(file)
    }

    /// Writes and fsyncs everything appended (shutdown).
    pub fn sync(&mut self) -> Result<(), String> {
        self.appender.sync_now()
    }

    fn append(&mut self, record: &WriteRecord<'_>) {
        self.payload.clear();
        let entry = LogEntry {
            db: u32::try_from(record.db).expect("databases are configured below u32::MAX"),
            txn: record.txn.map(|part| TxnTag {
                run: self.run,
                id: part.id,
                parts: part.parts,
            }),
            commands: record.commands,
        };
        encode_entry(&entry, &mut self.payload);
        if let Err(err) = self.appender.append(&self.payload) {
            log::warn!("A write of shard {} can't be logged: {err}", self.shard);
        }
    }

    fn end_iteration(&mut self) {
        if let Err(err) = self.appender.end_iteration() {
            if self.appender.policy() == FsyncPolicy::Always {
                // The writes are applied but not durable, and their
                // replies are about to leave: Redis exits rather than
                // acknowledge them.
                log::warn!("Error writing to the AOF file: {err}");
                log::warn!("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
                std::process::exit(1);
            }
            log::warn!("Error writing to the AOF file: {err}");
        }
    }
}

/// The sink a shard attaches while the log is on.
pub struct AofSink {
    pub log: Arc<Mutex<ShardLog>>,
}

impl WriteSink for AofSink {
    fn record(&mut self, record: &WriteRecord<'_>) {
        ShardLog::lock(&self.log).append(record);
    }

    fn end_iteration(&mut self) {
        ShardLog::lock(&self.log).end_iteration();
    }
}
