//! Appending to one incremental log, under an fsync policy.
//!
//! A shard frames the entries of one loop iteration into the appender's
//! buffer ([`LogAppender::append`]) and calls [`LogAppender::end_iteration`]
//! before that iteration's replies go out:
//! - `always`: the buffer is written and fsynced right there, on the shard
//!   thread, so no reply leaves before its write is on disk;
//! - `everysec`: the shard writes the buffer (into the page cache, so a
//!   killed process loses nothing, as in Redis) and the log's writer
//!   thread fsyncs about once a second. While that fsync runs, or while
//!   earlier bytes still wait for the writer, the buffer is handed to the
//!   writer thread instead, which writes it after the fsync: the shard
//!   never waits behind an fsync (Redis postpones its write the same
//!   way), unless the writer falls [`PENDING_LIMIT`] bytes behind (a
//!   stalled disk), where the shard waits, as Redis stops accepting writes
//!   when its fsync is late;
//! - `no`: like `everysec` without the fsyncs (the kernel flushes when it
//!   likes); the log is still fsynced when it is switched or closed.
//!
//! [`LogAppender::switch_to`] moves the appends to another file at an
//! iteration boundary (a rewrite's new incremental log): everything
//! before the switch goes to the old file, which is fsynced, everything
//! after to the new one. Write failures are kept in [`AppenderStatus`]
//! (`aof_last_write_status`) and the unwritten bytes are retried; a
//! partial write is cut back so the file never holds half a record.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::log_record::encode_record;
use crate::PersistError;

/// Bytes the writer thread may be behind before the shard waits for it.
pub const PENDING_LIMIT: u64 = 64 << 20;

/// How often `everysec` fsyncs.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// When the log is fsynced (`appendfsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    Always,
    EverySec,
    No,
}

impl FsyncPolicy {
    /// The policy `appendfsync` names (`always`, `everysec`, `no`).
    pub fn from_name(name: &str) -> Option<FsyncPolicy> {
        match name.to_ascii_lowercase().as_str() {
            "always" => Some(FsyncPolicy::Always),
            "everysec" => Some(FsyncPolicy::EverySec),
            "no" => Some(FsyncPolicy::No),
            _ => None,
        }
    }
}

/// What an appender has done, readable from any thread (`INFO`).
#[derive(Debug, Default)]
pub struct AppenderStatus {
    write_failed: AtomicBool,
    last_error: Mutex<Option<String>>,
    /// Bytes handed to the appender since it opened its current file,
    /// plus the file's size then: the file's size once all is written.
    appended: AtomicU64,
    /// Bytes queued for the writer thread and not yet written.
    pending: AtomicU64,
    /// The writer thread is in an fsync.
    syncing: AtomicBool,
    /// The shard wrote bytes the writer has not fsynced yet.
    unsynced: AtomicBool,
    /// Fsyncs done, and those that found the disk slow (over 2 s; the
    /// server logs Redis's "fsync is taking too long" from this count).
    fsyncs: AtomicU64,
    slow_fsyncs: AtomicU64,
}

impl AppenderStatus {
    /// False after a failed write or fsync, until one succeeds.
    pub fn last_write_ok(&self) -> bool {
        !self.write_failed.load(Ordering::Relaxed)
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The size the current file has once every append is written.
    pub fn size(&self) -> u64 {
        self.appended.load(Ordering::Relaxed)
    }

    pub fn pending_bytes(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    pub fn slow_fsyncs(&self) -> u64 {
        self.slow_fsyncs.load(Ordering::Relaxed)
    }

    fn fail(&self, err: String) {
        let mut last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        self.write_failed.store(true, Ordering::Relaxed);
        *last = Some(err);
    }

    fn succeed(&self) {
        self.write_failed.store(false, Ordering::Relaxed);
    }
}

enum Command {
    Write(Vec<u8>),
    Switch(File),
    Policy(FsyncPolicy),
    /// Write and fsync everything queued, then answer.
    Sync(SyncSender<Result<(), String>>),
    /// Write and fsync everything, hand back what could not be written,
    /// and end (the policy becomes `always`).
    Release(SyncSender<Vec<u8>>),
}

enum Mode {
    Inline(File),
    Background {
        /// The shard's own handle (inline writes; the writer has a dup).
        file: File,
        commands: Sender<Command>,
        thread: Option<JoinHandle<()>>,
    },
    /// Only while the mode is being changed.
    Moving,
}

/// Appends framed entries to one log file; see the module comment.
pub struct LogAppender {
    policy: FsyncPolicy,
    buffer: Vec<u8>,
    status: Arc<AppenderStatus>,
    mode: Mode,
    thread_name: String,
}

/// Opens (creating if missing) a log for appending.
pub fn open_log(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl LogAppender {
    /// An appender at the end of `file` (opened for appending, see
    /// [`open_log`]); `thread_name` names its writer thread.
    pub fn new(file: File, policy: FsyncPolicy, thread_name: &str) -> std::io::Result<Self> {
        let size = file.metadata()?.len();
        let status = Arc::new(AppenderStatus::default());
        status.appended.store(size, Ordering::Relaxed);
        let mut appender = LogAppender {
            policy,
            buffer: Vec::new(),
            status,
            mode: Mode::Inline(file),
            thread_name: thread_name.to_string(),
        };
        if policy != FsyncPolicy::Always {
            appender.start_writer()?;
        }
        Ok(appender)
    }

    pub fn policy(&self) -> FsyncPolicy {
        self.policy
    }

    pub fn status(&self) -> Arc<AppenderStatus> {
        self.status.clone()
    }

    /// Frames `payload` (an encoded entry) into this iteration's buffer.
    pub fn append(&mut self, payload: &[u8]) -> Result<(), PersistError> {
        let before = self.buffer.len();
        encode_record(payload, &mut self.buffer)?;
        let added = (self.buffer.len() - before) as u64;
        self.status.appended.fetch_add(added, Ordering::Relaxed);
        Ok(())
    }

    /// Ends an iteration: see the module comment for each policy. Under
    /// `always` an error means the iteration's writes are not durable.
    pub fn end_iteration(&mut self) -> Result<(), String> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        match &mut self.mode {
            Mode::Inline(file) => {
                let result = write_durably(file, &self.buffer, true);
                match &result {
                    Ok(()) => {
                        self.buffer.clear();
                        self.status.succeed();
                    }
                    Err(err) => self.status.fail(err.clone()),
                }
                result
            }
            Mode::Background { file, commands, .. } => {
                let status = &self.status;
                if status.pending.load(Ordering::SeqCst) == 0
                    && !status.syncing.load(Ordering::SeqCst)
                    && write_durably(file, &self.buffer, false).is_ok()
                {
                    self.buffer.clear();
                    status.unsynced.store(true, Ordering::SeqCst);
                    status.succeed();
                    return Ok(());
                }
                let bytes = std::mem::take(&mut self.buffer);
                let len = bytes.len() as u64;
                status.pending.fetch_add(len, Ordering::SeqCst);
                if commands.send(Command::Write(bytes)).is_err() {
                    return Err("the AOF writer thread is gone".into());
                }
                while status.pending.load(Ordering::SeqCst) > PENDING_LIMIT {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Ok(())
            }
            Mode::Moving => Err("the AOF appender is being reconfigured".into()),
        }
    }

    /// From now on appends go to `file` (see the module comment).
    pub fn switch_to(&mut self, file: File) -> Result<(), String> {
        self.end_iteration()?;
        let size = file.metadata().map_err(|e| e.to_string())?.len();
        match &mut self.mode {
            Mode::Inline(old) => {
                old.sync_data().map_err(|e| format!("fsync: {e}"))?;
                *old = file;
            }
            Mode::Background {
                file: own,
                commands,
                ..
            } => {
                let writer_file = file.try_clone().map_err(|e| e.to_string())?;
                commands
                    .send(Command::Switch(writer_file))
                    .map_err(|_| "the AOF writer thread is gone".to_string())?;
                *own = file;
            }
            Mode::Moving => return Err("the AOF appender is being reconfigured".into()),
        }
        self.status.appended.store(size, Ordering::Relaxed);
        Ok(())
    }

    /// Changes the fsync policy (`CONFIG SET appendfsync`).
    pub fn set_policy(&mut self, policy: FsyncPolicy) -> Result<(), String> {
        if policy == self.policy {
            return Ok(());
        }
        self.end_iteration()?;
        let old = std::mem::replace(&mut self.mode, Mode::Moving);
        let file = match old {
            Mode::Inline(file) => file,
            Mode::Background {
                file,
                commands,
                mut thread,
            } if policy != FsyncPolicy::Always => {
                let _ = commands.send(Command::Policy(policy));
                self.mode = Mode::Background {
                    file,
                    commands,
                    thread: thread.take(),
                };
                self.policy = policy;
                return Ok(());
            }
            Mode::Background {
                file,
                commands,
                thread,
            } => {
                let (reply, answer) = mpsc::sync_channel(1);
                let _ = commands.send(Command::Release(reply));
                let released = answer.recv();
                drop(commands);
                if let Some(thread) = thread {
                    let _ = thread.join();
                }
                let unwritten =
                    released.map_err(|_| "the AOF writer thread is gone".to_string())?;
                self.status.pending.store(0, Ordering::SeqCst);
                self.buffer.splice(0..0, unwritten);
                file
            }
            Mode::Moving => return Err("the AOF appender is being reconfigured".into()),
        };
        self.mode = Mode::Inline(file);
        self.policy = policy;
        if policy != FsyncPolicy::Always {
            self.start_writer().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Writes and fsyncs everything appended so far (shutdown, tests).
    pub fn sync_now(&mut self) -> Result<(), String> {
        match &mut self.mode {
            Mode::Inline(file) => {
                let result = write_durably(file, &self.buffer, true);
                if result.is_ok() {
                    self.buffer.clear();
                }
                result
            }
            Mode::Background { .. } => {
                self.end_iteration()?;
                let Mode::Background { commands, .. } = &self.mode else {
                    unreachable!("end_iteration keeps the mode");
                };
                let (reply, answer) = mpsc::sync_channel(1);
                commands
                    .send(Command::Sync(reply))
                    .map_err(|_| "the AOF writer thread is gone".to_string())?;
                answer
                    .recv()
                    .map_err(|_| "the AOF writer thread is gone".to_string())?
            }
            Mode::Moving => Err("the AOF appender is being reconfigured".into()),
        }
    }

    fn start_writer(&mut self) -> std::io::Result<()> {
        let Mode::Inline(_) = &self.mode else {
            return Ok(());
        };
        let Mode::Inline(file) = std::mem::replace(&mut self.mode, Mode::Moving) else {
            unreachable!("checked just above");
        };
        let writer_file = match file.try_clone() {
            Ok(clone) => clone,
            Err(err) => {
                self.mode = Mode::Inline(file);
                return Err(err);
            }
        };
        let (commands, inbox) = mpsc::channel();
        let status = self.status.clone();
        let policy = self.policy;
        let spawned = std::thread::Builder::new()
            .name(self.thread_name.clone())
            .spawn(move || Writer::new(writer_file, policy, status).run(inbox));
        match spawned {
            Ok(thread) => {
                self.mode = Mode::Background {
                    file,
                    commands,
                    thread: Some(thread),
                };
                Ok(())
            }
            Err(err) => {
                self.mode = Mode::Inline(file);
                Err(err)
            }
        }
    }
}

impl Drop for LogAppender {
    fn drop(&mut self) {
        // A failure is kept in the status; nothing else can be done here.
        let _ = self.sync_now();
        if let Mode::Background {
            commands, thread, ..
        } = std::mem::replace(&mut self.mode, Mode::Moving)
        {
            drop(commands);
            if let Some(thread) = thread {
                let _ = thread.join();
            }
        }
    }
}

/// Writes `bytes` at the end of `file`, fsyncing when asked; a partial
/// write is cut back so the file never ends inside a record.
fn write_durably(file: &mut File, bytes: &[u8], sync: bool) -> Result<(), String> {
    if !bytes.is_empty() {
        let before = file.metadata().map(|m| m.len()).ok();
        if let Err(err) = file.write_all(bytes) {
            if let Some(len) = before {
                let _ = file.set_len(len);
            }
            return Err(format!("write: {err}"));
        }
    }
    if sync {
        file.sync_data().map_err(|e| format!("fsync: {e}"))?;
    }
    Ok(())
}

/// The writer thread of an `everysec` or `no` log.
struct Writer {
    file: File,
    policy: FsyncPolicy,
    status: Arc<AppenderStatus>,
    /// Bytes received but not written yet (after a failed write).
    unwritten: Vec<u8>,
    /// Bytes written since the last fsync.
    dirty: bool,
    last_sync: Instant,
}

impl Writer {
    fn new(file: File, policy: FsyncPolicy, status: Arc<AppenderStatus>) -> Self {
        Writer {
            file,
            policy,
            status,
            unwritten: Vec::new(),
            dirty: false,
            last_sync: Instant::now(),
        }
    }

    fn run(mut self, inbox: Receiver<Command>) {
        loop {
            let wait = match self.policy {
                FsyncPolicy::EverySec => SYNC_EVERY.saturating_sub(self.last_sync.elapsed()),
                _ => SYNC_EVERY,
            };
            match inbox.recv_timeout(wait) {
                Ok(Command::Write(bytes)) => {
                    self.unwritten.extend_from_slice(&bytes);
                    // Drain what else is queued before touching the disk.
                    while let Ok(next) = inbox.try_recv() {
                        if !self.handle(next) {
                            return;
                        }
                    }
                    self.write_out();
                }
                Ok(command) => {
                    if !self.handle(command) {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => self.write_out(),
                Err(RecvTimeoutError::Disconnected) => {
                    self.write_out();
                    let _ = self.sync();
                    return;
                }
            }
            if self.policy == FsyncPolicy::EverySec && self.last_sync.elapsed() >= SYNC_EVERY {
                let _ = self.sync();
                self.last_sync = Instant::now();
            }
        }
    }

    /// Handles one command; false when the thread must end.
    fn handle(&mut self, command: Command) -> bool {
        match command {
            Command::Write(bytes) => self.unwritten.extend_from_slice(&bytes),
            Command::Switch(file) => {
                self.write_out();
                let _ = self.sync();
                self.file = file;
                // The shard may have written to the new file already.
                self.dirty = true;
            }
            Command::Policy(policy) => self.policy = policy,
            Command::Sync(reply) => {
                self.write_out();
                self.dirty = true;
                let result = if self.unwritten.is_empty() {
                    self.sync()
                } else {
                    Err(self.status.last_error().unwrap_or_default())
                };
                let _ = reply.send(result);
            }
            Command::Release(reply) => {
                self.write_out();
                self.dirty = true;
                let _ = self.sync();
                let _ = reply.send(std::mem::take(&mut self.unwritten));
                return false;
            }
        }
        true
    }

    fn write_out(&mut self) {
        if self.unwritten.is_empty() {
            return;
        }
        match write_durably(&mut self.file, &self.unwritten, false) {
            Ok(()) => {
                let len = self.unwritten.len() as u64;
                self.status.pending.fetch_sub(len, Ordering::SeqCst);
                self.unwritten.clear();
                self.dirty = true;
                self.status.succeed();
            }
            Err(err) => self.status.fail(err),
        }
    }

    fn sync(&mut self) -> Result<(), String> {
        let status = &self.status;
        status.syncing.store(true, Ordering::SeqCst);
        // Set by the shard after its own writes: taken before the fsync,
        // so a write during it is fsynced next time.
        let shard_wrote = status.unsynced.swap(false, Ordering::SeqCst);
        if !self.dirty && !shard_wrote {
            status.syncing.store(false, Ordering::SeqCst);
            return Ok(());
        }
        let started = Instant::now();
        let result = self.file.sync_data().map_err(|e| format!("fsync: {e}"));
        status.syncing.store(false, Ordering::SeqCst);
        self.last_sync = Instant::now();
        match &result {
            Ok(()) => {
                self.dirty = false;
                self.status.fsyncs.fetch_add(1, Ordering::Relaxed);
                if started.elapsed() > Duration::from_secs(2) {
                    self.status.slow_fsyncs.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(err) => self.status.fail(err.clone()),
        }
        result
    }
}

#[cfg(test)]
mod tests;
