//! Rewriting the log set (`BGREWRITEAOF`, the automatic rewrite, turning
//! the log on at run time): a new base snapshot from every shard's frozen
//! view plus fresh incremental logs, switched at each shard's freeze
//! point so no write is lost or doubled.
//!
//! 1. [`start_rewrite`] (any thread, under the rewrite lock) creates the
//!    new sequence's empty incremental logs, one per shard, and writes a
//!    manifest listing them after the current files, so from then on a
//!    crash loads old base + old logs + new logs, in that order per shard.
//!    Then it opens the new base's temp file and raises a request.
//! 2. Each shard, on its next tick ([`serve_rewrite`]), hands its queued
//!    write records to its log, freezes a copy of its keyspace and moves
//!    its log to the new file in the same step: every write before the
//!    freeze is in the old logs and the view, every write after it only
//!    in the new log. Its view is written into the base on a thread of
//!    its own.
//! 3. The last part finishes the base (fsync, rename), writes the manifest
//!    `new base + new logs` and only then removes the old files.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kevy_persist::aof::{
    base_name, incr_name, sync_dir, write_manifest, BaseFile, IncrFile, Manifest,
};
use kevy_persist::snapshot::SnapshotWriter;

use super::aof_shard::attach_or_switch;
use super::aof_state::{ensure_dir, AofPaths};
use super::save::{freeze, write_frozen, FrozenShard};
use super::state::{FileWriter, SnapshotState};
use crate::config::Config;
use crate::shard::ShardCore;

pub const ALREADY_IN_PROGRESS: &str =
    "ERR Background append only file rewriting already in progress";

/// The base snapshot being written by the shards' parts.
pub struct RewriteJob {
    pub seq: u64,
    temp: PathBuf,
    writer: Option<FileWriter>,
    joined: usize,
    shards: usize,
    error: Option<String>,
    started: Instant,
}

/// Starts a rewrite (see the module comment); `enable` turns the log on
/// (`appendonly yes` at run time), so shards attach their logs at their
/// freeze points. Errors are the reply's text.
pub fn start_rewrite(state: &SnapshotState, config: &Config, enable: bool) -> Result<(), String> {
    let shared = state.shared();
    let aof = &shared.aof;
    let mut files = aof.files();
    if files.job.is_some() {
        return Err(ALREADY_IN_PROGRESS.into());
    }
    let paths = files
        .paths
        .get_or_insert_with(|| AofPaths::from_config(config))
        .clone();
    let shards = shared.shards.load(Ordering::SeqCst).max(1);
    let seq = files.manifest.last_seq() + 1;
    let prepared = prepare_files(&paths, &files.manifest, seq, shards, config);
    let (manifest, job) = match prepared {
        Ok(prepared) => prepared,
        Err(err) => {
            aof.last_rewrite_ok.store(false, Ordering::Relaxed);
            aof.consecutive_failures.fetch_add(1, Ordering::Relaxed);
            log::warn!("Can't rewrite append only file in background: {err}");
            return Err(format!(
                "ERR Can't rewrite append only file in background: {err}"
            ));
        }
    };
    files.manifest = manifest;
    files.job = Some(Arc::new(Mutex::new(job)));
    if enable {
        aof.on.store(true, Ordering::SeqCst);
    }
    aof.rewrite_in_progress.store(true, Ordering::SeqCst);
    aof.rewrite_started_ms
        .store(crate::shard::unix_ms(), Ordering::Relaxed);
    aof.rewrite_generation.fetch_add(1, Ordering::SeqCst);
    log::info!("Background append only file rewriting started");
    Ok(())
}

/// The new sequence's empty logs and the manifest listing them after the
/// current files (written), and the open base.
fn prepare_files(
    paths: &AofPaths,
    current: &Manifest,
    seq: u64,
    shards: usize,
    config: &Config,
) -> Result<(Manifest, RewriteJob), String> {
    let io = |what: &str, err: std::io::Error| format!("{what}: {err}");
    ensure_dir(&paths.dir).map_err(|e| io(&paths.dir.display().to_string(), e))?;
    let mut manifest = current.clone();
    for shard in 0..shards as u32 {
        let name = incr_name(&paths.filename, seq, shard);
        let path = paths.file(&name);
        File::create(&path)
            .and_then(|f| f.sync_all())
            .map_err(|e| io(&path.display().to_string(), e))?;
        log::info!("Creating AOF incr file {name} on background rewrite");
        manifest.incrs.push(IncrFile { name, seq, shard });
    }
    sync_dir(&paths.dir).map_err(|e| io("fsync of the AOF directory", e))?;
    write_manifest(&paths.dir, &paths.filename, &manifest)
        .map_err(|e| io("writing the AOF manifest", e))?;
    let temp = paths.file(&format!(
        "temp-rewriteaof-bg-{}-{seq}.rdb",
        std::process::id()
    ));
    let file = File::create(&temp).map_err(|e| io(&temp.display().to_string(), e))?;
    let codec = crate::cmd::persist::configured_codec(config);
    let mut writer = SnapshotWriter::new(BufWriter::with_capacity(1 << 20, file), codec)
        .map_err(|e| e.to_string())?;
    let now = super::unix_secs().to_string();
    writer
        .aux(b"kevy-ver", env!("CARGO_PKG_VERSION").as_bytes())
        .and_then(|()| writer.aux(b"ctime", now.as_bytes()))
        .and_then(|()| writer.aux(b"aof-base", b"1"))
        .map_err(|e| e.to_string())?;
    let job = RewriteJob {
        seq,
        temp,
        writer: Some(writer),
        joined: 0,
        shards,
        error: None,
        started: Instant::now(),
    };
    Ok((manifest, job))
}

/// A shard's part of a rewrite it has not served yet (its tick).
pub fn serve_rewrite(core: &mut ShardCore, now_ms: u64) {
    let state = core.config.snapshots.clone();
    let aof = &state.shared().aof;
    let generation = aof.rewrite_generation.load(Ordering::SeqCst);
    if !aof.serve(core.id, generation) {
        return;
    }
    let Some(job) = aof.files().job.clone() else {
        return;
    };
    let seq = job.lock().unwrap_or_else(|p| p.into_inner()).seq;
    // The freeze point: queued records reach the old log first.
    core.flush_write_records();
    let frozen = freeze(&core.keyspace, now_ms);
    if aof.on.load(Ordering::SeqCst) {
        attach_or_switch(core, seq);
    }
    let worker = state.clone();
    let spawned = std::thread::Builder::new()
        .name("kevy-aofrw".into())
        .spawn(move || contribute(&worker, &job, &frozen));
    if let Err(err) = spawned {
        log::warn!(
            "Can't start the AOF rewrite part of shard {}: {err}",
            core.id
        );
        let job = aof.files().job.clone();
        if let Some(job) = job {
            let mut locked = job.lock().unwrap_or_else(|p| p.into_inner());
            locked.error = Some(err.to_string());
            drop(locked);
            contribute(&state, &job, &FrozenShard::default());
        }
    }
}

/// Writes one shard's frozen view into the base; the last part finishes.
fn contribute(state: &SnapshotState, job: &Arc<Mutex<RewriteJob>>, frozen: &FrozenShard) {
    let mut guard = job.lock().unwrap_or_else(|p| p.into_inner());
    let locked = &mut *guard;
    if let (Some(writer), None) = (locked.writer.as_mut(), &locked.error) {
        if let Err(err) = write_frozen(writer, frozen) {
            locked.error = Some(err.to_string());
        }
    }
    locked.joined += 1;
    if locked.joined < locked.shards {
        return;
    }
    let result = finish_base(locked);
    let (seq, started, temp) = (locked.seq, locked.started, locked.temp.clone());
    drop(guard);
    finish(state, seq, started, &temp, result);
}

/// Trailer, flush, fsync of the base's temp file.
fn finish_base(job: &mut RewriteJob) -> Result<(), String> {
    if let Some(err) = job.error.take() {
        return Err(err);
    }
    let writer = job.writer.take().ok_or("the base writer is gone")?;
    let (buffered, _) = writer.finish().map_err(|e| e.to_string())?;
    let file = buffered.into_inner().map_err(|e| e.error().to_string())?;
    file.sync_all().map_err(|e| format!("fsync: {e}"))
}

fn finish(
    state: &SnapshotState,
    seq: u64,
    started: Instant,
    temp: &std::path::Path,
    base: Result<(), String>,
) {
    let aof = &state.shared().aof;
    let mut files = aof.files();
    let outcome = base.and_then(|()| {
        let paths = files.paths.clone().ok_or("no AOF directory")?;
        let name = base_name(&paths.filename, seq);
        std::fs::rename(temp, paths.file(&name)).map_err(|e| format!("rename: {e}"))?;
        sync_dir(&paths.dir).map_err(|e| format!("fsync of the AOF directory: {e}"))?;
        let old = files.manifest.clone();
        let manifest = Manifest {
            base: Some(BaseFile { name, seq }),
            incrs: old.incrs.iter().filter(|f| f.seq >= seq).cloned().collect(),
        };
        write_manifest(&paths.dir, &paths.filename, &manifest)
            .map_err(|e| format!("writing the AOF manifest: {e}"))?;
        let keep: Vec<&str> = manifest.file_names().collect();
        let removed: Vec<String> = old
            .file_names()
            .filter(|name| !keep.contains(name))
            .map(str::to_string)
            .collect();
        files.manifest = manifest;
        Ok((paths, removed))
    });
    files.job = None;
    drop(files);
    aof.rewrite_in_progress.store(false, Ordering::SeqCst);
    aof.rewrite_started_ms.store(0, Ordering::Relaxed);
    let secs = i64::try_from(started.elapsed().as_secs()).unwrap_or(i64::MAX);
    aof.last_rewrite_secs.store(secs, Ordering::Relaxed);
    match outcome {
        Ok((paths, removed)) => {
            for name in removed {
                log::info!("Removing the history file {name} in the background");
                let _ = std::fs::remove_file(paths.file(&name));
            }
            aof.base_size.store(aof.current_size(), Ordering::Relaxed);
            aof.rewrites.fetch_add(1, Ordering::Relaxed);
            aof.last_rewrite_ok.store(true, Ordering::Relaxed);
            aof.consecutive_failures.store(0, Ordering::Relaxed);
            log::info!("Background AOF rewrite terminated with success");
            log::info!("Background AOF rewrite finished successfully");
        }
        Err(err) => {
            let _ = std::fs::remove_file(temp);
            aof.last_rewrite_ok.store(false, Ordering::Relaxed);
            aof.consecutive_failures.fetch_add(1, Ordering::Relaxed);
            log::warn!("Background AOF rewrite terminated with error: {err}");
        }
    }
}
