//! Snapshot state every shard of a server shares, and the save job that
//! gathers the shards' parts into one file.
//!
//! A `SAVE`/`BGSAVE` runs on every shard. Each shard's part goes into the
//! job of its own n-th save (a per-thread counter: a shard is a thread),
//! so concurrent saves from several clients never mix within a shard: the
//! shards' n-th contributions always form the n-th file. Parts take turns
//! under one lock and each writes whole keys, so parts never interleave
//! inside a key. The shard that completes a job finishes the file:
//! trailer, fsync, rename over the target, fsync of the directory; until
//! then the target is untouched, so a crash never leaves a torn snapshot.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kevy_persist::snapshot::{Codec, SnapshotWriter};
use kevy_persist::PersistError;

/// Buffered output of the file being written.
pub type FileWriter = SnapshotWriter<BufWriter<File>>;

/// Shared between all shards of one server (held by each shard's
/// configuration, so command handlers reach it).
#[derive(Clone, Default)]
pub struct SnapshotState(Arc<SharedState>);

impl std::fmt::Debug for SnapshotState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SnapshotState")
    }
}

#[derive(Default)]
pub struct SharedState {
    /// Shards that contribute to each file; set when the server starts.
    pub shards: AtomicUsize,
    /// Unix seconds of the last successful save (`LASTSAVE`).
    pub last_save: AtomicU64,
    pub last_bgsave_ok: AtomicBool,
    /// Shards whose background part is still being written.
    pub bgsave_running: AtomicUsize,
    /// Writes since the last successful save (`rdb_changes_since_last_save`).
    pub changes: AtomicU64,
    /// Writes counted when the running save started, subtracted on success.
    changes_at_start: AtomicU64,
    pub last_bgsave_secs: AtomicU64,
    /// Set while the snapshot is loaded at start.
    pub loading: AtomicBool,
    jobs: Mutex<Jobs>,
}

#[derive(Default)]
struct Jobs {
    /// The generation of `open[0]`.
    first: u64,
    /// Jobs by generation; `None` once finished (popped from the front).
    open: VecDeque<Option<Job>>,
}

/// One file being written by the shards in turn.
pub struct Job {
    temp: PathBuf,
    target: PathBuf,
    writer: Option<FileWriter>,
    joined: usize,
    error: Option<String>,
    started: Instant,
    background: bool,
}

thread_local! {
    /// The next save generation of this thread's shard, per server.
    static NEXT_GENERATION: RefCell<HashMap<usize, u64>> = RefCell::new(HashMap::new());
}

/// Where and how a save writes.
#[derive(Clone, Debug)]
pub struct SaveTarget {
    pub target: PathBuf,
    pub codec: Codec,
    pub background: bool,
}

impl SnapshotState {
    pub fn shared(&self) -> &SharedState {
        &self.0
    }

    fn generation(&self) -> u64 {
        let id = Arc::as_ptr(&self.0) as usize;
        NEXT_GENERATION.with(|map| {
            let mut map = map.borrow_mut();
            let next = map.entry(id).or_insert(0);
            let mine = *next;
            *next += 1;
            mine
        })
    }

    /// Reserves this shard's place in its next save; the returned ticket
    /// is redeemed by [`SnapshotState::contribute`] on any thread.
    pub fn ticket(&self) -> u64 {
        self.generation()
    }

    /// Adds this shard's part (written by `part`) to the save of
    /// `generation`; the last shard finishes the file. Returns the error
    /// text to reply with, if the save failed.
    pub fn contribute(
        &self,
        generation: u64,
        target: &SaveTarget,
        part: impl FnOnce(&mut FileWriter) -> Result<(), PersistError>,
    ) -> Result<(), String> {
        let shared = &self.0;
        let mut jobs = shared.jobs.lock().unwrap_or_else(|p| p.into_inner());
        while jobs.first + jobs.open.len() as u64 <= generation {
            let made = jobs.first + jobs.open.len() as u64;
            if jobs.open.is_empty() {
                shared
                    .changes_at_start
                    .store(shared.changes.load(Ordering::Relaxed), Ordering::Relaxed);
            }
            jobs.open.push_back(Some(Job::open(target, made)));
        }
        let Some(index) = generation.checked_sub(jobs.first) else {
            return Err("ERR snapshot generation already finished".into());
        };
        let index = index as usize;
        let Some(job) = jobs.open.get_mut(index).and_then(Option::as_mut) else {
            return Err("ERR snapshot generation already finished".into());
        };
        if let (Some(writer), None) = (job.writer.as_mut(), &job.error) {
            if let Err(err) = part(writer) {
                job.error = Some(err.to_string());
            }
        }
        job.joined += 1;
        let shards = shared.shards.load(Ordering::Relaxed).max(1);
        if job.joined < shards {
            return Ok(());
        }
        let job = jobs.open[index]
            .take()
            .expect("the job was found at this index just above");
        while jobs.open.front().is_some_and(Option::is_none) {
            jobs.open.pop_front();
            jobs.first += 1;
        }
        drop(jobs);
        let background = job.background;
        let started = job.started;
        let result = job.finish();
        let ok = result.is_ok();
        if ok {
            let now = super::unix_secs();
            shared.last_save.store(now, Ordering::Relaxed);
            let before = shared.changes_at_start.load(Ordering::Relaxed);
            let _ = shared
                .changes
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                    Some(c.saturating_sub(before))
                });
        }
        if background {
            shared.last_bgsave_ok.store(ok, Ordering::Relaxed);
            shared
                .last_bgsave_secs
                .store(started.elapsed().as_secs(), Ordering::Relaxed);
        }
        match &result {
            Ok(()) => log::info!("DB saved on disk"),
            Err(err) => log::warn!("Error saving DB on disk: {err}"),
        }
        result
    }
}

impl Job {
    fn open(target: &SaveTarget, generation: u64) -> Job {
        let dir = target
            .target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let temp = dir.join(format!("temp-{}-{generation}.rdb", std::process::id()));
        let mut job = Job {
            temp: temp.clone(),
            target: target.target.clone(),
            writer: None,
            joined: 0,
            error: None,
            started: Instant::now(),
            background: target.background,
        };
        match File::create(&temp) {
            Ok(file) => {
                match SnapshotWriter::new(BufWriter::with_capacity(1 << 20, file), target.codec) {
                    Ok(mut writer) => {
                        let now = super::unix_secs().to_string();
                        let aux = writer
                            .aux(b"kevy-ver", env!("CARGO_PKG_VERSION").as_bytes())
                            .and_then(|()| writer.aux(b"ctime", now.as_bytes()));
                        match aux {
                            Ok(()) => job.writer = Some(writer),
                            Err(err) => job.error = Some(err.to_string()),
                        }
                    }
                    Err(err) => job.error = Some(err.to_string()),
                }
            }
            Err(err) => {
                job.error = Some(format!(
                    "Failed opening the temp snapshot file {} for saving: {err}",
                    temp.display()
                ))
            }
        }
        job
    }

    /// Trailer, flush, fsync, rename, directory fsync.
    fn finish(self) -> Result<(), String> {
        let outcome = match (self.error, self.writer) {
            (Some(err), _) => Err(err),
            (None, None) => Err("snapshot writer missing".to_string()),
            (None, Some(writer)) => finish_file(writer, &self.temp, &self.target),
        };
        if outcome.is_err() {
            let _ = std::fs::remove_file(&self.temp);
        }
        outcome
    }
}

fn finish_file(writer: FileWriter, temp: &Path, target: &Path) -> Result<(), String> {
    let (buffered, _) = writer.finish().map_err(|e| e.to_string())?;
    let file = buffered.into_inner().map_err(|e| e.error().to_string())?;
    file.sync_all()
        .map_err(|e| format!("fsync {}: {e}", temp.display()))?;
    drop(file);
    std::fs::rename(temp, target).map_err(|e| {
        format!(
            "Error moving temp DB file {} on the final destination {}: {e}",
            temp.display(),
            target.display()
        )
    })?;
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(dir) = File::open(dir) {
        dir.sync_all()
            .map_err(|e| format!("fsync of directory {}: {e}", dir_name(target)))?;
    }
    Ok(())
}

fn dir_name(target: &Path) -> String {
    target
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}
