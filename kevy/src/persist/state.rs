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

pub struct SharedState {
    /// Shards that contribute to each file; set when the server starts.
    pub shards: AtomicUsize,
    /// Unix seconds of the last successful save (`LASTSAVE`).
    pub last_save: AtomicU64,
    pub last_bgsave_ok: AtomicBool,
    /// Shards whose background part is still being written.
    pub bgsave_running: AtomicUsize,
    /// Each shard's applied writes, as last published by its tick.
    shard_writes: Mutex<Vec<u64>>,
    /// Total writes when the oldest open save started.
    writes_at_start: AtomicU64,
    /// Total writes covered by the last successful save.
    writes_at_save: AtomicU64,
    /// Background saves asked for by save points (served by every shard).
    pub save_requests: AtomicU64,
    /// Successful saves since start (`rdb_saves`).
    pub saves: AtomicU64,
    /// Duration of the last background save (-1: none yet).
    pub last_bgsave_secs: std::sync::atomic::AtomicI64,
    /// Set while the snapshot is loaded at start.
    pub loading: AtomicBool,
    /// Keys loaded and expired keys skipped by the load at start.
    pub loaded_keys: AtomicU64,
    pub loaded_expired: AtomicU64,
    jobs: Mutex<Jobs>,
    /// How the server was asked to stop (`shutdown::ShutdownSave`).
    pub shutdown_save: std::sync::atomic::AtomicU8,
    /// The append-only log's shared state.
    pub aof: super::aof_state::AofShared,
    /// `BGSAVE` decisions by save generation: whether it was refused
    /// (a background save was already running), and how many shards
    /// have asked.
    bgsave_decisions: Mutex<HashMap<u64, (bool, usize)>>,
    /// Generations refused: they get no file.
    refused: Mutex<std::collections::BTreeSet<u64>>,
    /// One past the newest generation renamed into place: an older save
    /// that completes later (a background part still writing when a newer
    /// `SAVE` finished) must not replace the newer file.
    renamed: Mutex<u64>,
}

impl Default for SharedState {
    fn default() -> Self {
        SharedState {
            shards: AtomicUsize::new(0),
            last_save: AtomicU64::new(super::unix_secs()),
            last_bgsave_ok: AtomicBool::new(true),
            bgsave_running: AtomicUsize::new(0),
            shard_writes: Mutex::new(Vec::new()),
            writes_at_start: AtomicU64::new(0),
            writes_at_save: AtomicU64::new(0),
            save_requests: AtomicU64::new(0),
            saves: AtomicU64::new(0),
            last_bgsave_secs: std::sync::atomic::AtomicI64::new(-1),
            loading: AtomicBool::new(false),
            loaded_keys: AtomicU64::new(0),
            loaded_expired: AtomicU64::new(0),
            jobs: Mutex::new(Jobs::default()),
            shutdown_save: std::sync::atomic::AtomicU8::new(0),
            aof: Default::default(),
            bgsave_decisions: Mutex::new(HashMap::new()),
            refused: Mutex::new(Default::default()),
            renamed: Mutex::new(0),
        }
    }
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
    generation: u64,
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

impl SharedState {
    /// Records the applied writes of `shard` (from its tick).
    pub fn publish_writes(&self, shard: usize, writes: u64) {
        let mut all = self.shard_writes.lock().unwrap_or_else(|p| p.into_inner());
        if all.len() <= shard {
            all.resize(shard + 1, 0);
        }
        all[shard] = writes;
    }

    /// Applied writes over all shards, as last published.
    pub fn total_writes(&self) -> u64 {
        let all = self.shard_writes.lock().unwrap_or_else(|p| p.into_inner());
        all.iter().sum()
    }

    /// Applied writes (over all shards) the last successful save covers.
    pub fn writes_at_save(&self) -> u64 {
        self.writes_at_save.load(Ordering::Relaxed)
    }

    /// Writes not covered by the last successful save.
    pub fn changes_since_save(&self) -> u64 {
        self.total_writes()
            .saturating_sub(self.writes_at_save.load(Ordering::Relaxed))
    }
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

    /// Whether the `BGSAVE` of `generation` runs: decided by the first
    /// shard that asks (refused when a background save is already
    /// running, unless `schedule`), the same answer for every shard.
    /// Returns true when refused.
    pub fn decide_bgsave(&self, generation: u64, schedule: bool) -> bool {
        let shared = &self.0;
        let shards = shared.shards.load(Ordering::Relaxed).max(1);
        let mut decisions = shared
            .bgsave_decisions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !decisions.contains_key(&generation) {
            let running = self.background_save_running(&decisions);
            decisions.insert(generation, (running && !schedule, 0));
        }
        let entry = decisions
            .get_mut(&generation)
            .expect("the decision was inserted just above");
        entry.1 += 1;
        let refused = entry.0;
        if entry.1 >= shards {
            decisions.remove(&generation);
        }
        if refused {
            shared
                .refused
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(generation);
        }
        refused
    }

    /// A background save accepted or writing (any shard's part).
    fn background_save_running(&self, decisions: &HashMap<u64, (bool, usize)>) -> bool {
        let shared = &self.0;
        if shared.bgsave_running.load(Ordering::SeqCst) > 0
            || decisions.values().any(|(refused, _)| !refused)
        {
            return true;
        }
        let jobs = shared.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.open.iter().flatten().any(|job| job.background)
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
                    .writes_at_start
                    .store(shared.total_writes(), Ordering::Relaxed);
            }
            let refused = shared
                .refused
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&made);
            // A refused BGSAVE has no file: its slot is born finished.
            jobs.open
                .push_back((!refused).then(|| Job::open(target, made)));
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
        let result = job.finish(&shared.renamed);
        let ok = result.is_ok();
        if ok {
            let now = super::unix_secs();
            shared.last_save.store(now, Ordering::Relaxed);
            shared.saves.fetch_add(1, Ordering::Relaxed);
            let covered = shared.writes_at_start.load(Ordering::Relaxed);
            shared.writes_at_save.store(covered, Ordering::Relaxed);
        }
        if background {
            shared.last_bgsave_ok.store(ok, Ordering::Relaxed);
            let secs = i64::try_from(started.elapsed().as_secs()).unwrap_or(i64::MAX);
            shared.last_bgsave_secs.store(secs, Ordering::Relaxed);
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
            generation,
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
    fn finish(self, renamed: &Mutex<u64>) -> Result<(), String> {
        let outcome = match (self.error, self.writer) {
            (Some(err), _) => Err(err),
            (None, None) => Err("snapshot writer missing".to_string()),
            (None, Some(writer)) => {
                finish_file(writer, &self.temp, &self.target, self.generation, renamed)
            }
        };
        if outcome.is_err() {
            let _ = std::fs::remove_file(&self.temp);
        }
        outcome
    }
}

fn finish_file(
    writer: FileWriter,
    temp: &Path,
    target: &Path,
    generation: u64,
    renamed: &Mutex<u64>,
) -> Result<(), String> {
    let (buffered, _) = writer.finish().map_err(|e| e.to_string())?;
    let file = buffered.into_inner().map_err(|e| e.error().to_string())?;
    file.sync_all()
        .map_err(|e| format!("fsync {}: {e}", temp.display()))?;
    drop(file);
    let mut newest = renamed.lock().unwrap_or_else(|p| p.into_inner());
    if generation < *newest {
        // A newer snapshot is already in place: this one is older data.
        let _ = std::fs::remove_file(temp);
        return Ok(());
    }
    *newest = generation + 1;
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
