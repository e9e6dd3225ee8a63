//! Loading the append-only log set when the server starts, on the main
//! thread before the shard threads run.
//!
//! With `appendonly yes` the log set wins over the snapshot (Redis's
//! rule). The base snapshot goes into one scratch keyspace per shard of
//! the run that wrote the set (the shard that owned each key then); each
//! shard's incremental logs replay, in `seq` order, into its own scratch
//! keyspace with `apply_commands`; then every key moves to the shard that
//! owns it now, so a set written with N shards loads into M.
//!
//! Two passes over the logs: the first checks every frame and counts the
//! parts of each cross-shard write; the second replays. A part whose
//! siblings are not all present is dropped (and the log truncated before
//! it) when it sits at the tail of its shard's stream: that write never
//! completed. Such a part anywhere else is applied with a warning, since
//! later writes of its shard built on it. A torn tail is truncated with a
//! warning (`aof-load-truncated yes`) or stops the start (`no`); a damaged
//! record stops the start with the file and offset. With the log on but
//! no set on disk, the snapshot (if any) is loaded and becomes the base
//! of a new set, so turning the log on in the config file never drops
//! the dataset.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

use kevy_persist::aof::{
    base_name, incr_name, read_log, read_manifest, sync_dir, write_manifest, BaseFile, IncrFile,
    LogTail, Manifest, TxnTag,
};
use kevy_persist::snapshot::SnapshotWriter;

use super::aof_state::{ensure_dir, AofPaths};
use super::load::{load_snapshot, ValueLimits};
use super::save::write_keyspace;
use crate::config::Config;
use crate::keyspace::Keyspace;
use crate::shard::propagate::apply_commands;
use crate::slot::SlotTable;

/// One keyspace per shard: from the log set when `appendonly` is on,
/// else from the snapshot (see the module comment).
pub fn load_at_start(
    config: &Config,
    shards: usize,
    limits: ValueLimits,
) -> Result<Vec<Keyspace>, String> {
    let state = config.snapshots.shared();
    let aof = &state.aof;
    let paths = AofPaths::from_config(config);
    aof.files().paths = Some(paths.clone());
    let manifest = read_manifest(&paths.dir, &paths.filename);
    let manifest_path = paths.file(&format!("{}.manifest", paths.filename));
    if config.get("appendonly") != Some("yes") {
        // Kept so turning the log on later continues its sequence and
        // removes its old files.
        if let Ok(Some(manifest)) = manifest {
            aof.files().manifest = manifest;
        }
        return super::startup::load_at_start(config, shards, limits);
    }
    let manifest = manifest.map_err(|err| {
        format!(
            "Can't load the AOF manifest {}: {err}",
            manifest_path.display()
        )
    })?;
    let (keyspaces, continue_set) = match manifest {
        None => {
            let keyspaces = super::startup::load_at_start(config, shards, limits)?;
            (keyspaces, None)
        }
        Some(manifest) => {
            state.loading.store(true, Ordering::Relaxed);
            let started = Instant::now();
            let loaded = load_set(config, &paths, &manifest, shards, limits);
            state.loading.store(false, Ordering::Relaxed);
            let keyspaces = loaded?;
            let keys: usize = keyspaces
                .iter()
                .flat_map(|k| &k.dbs)
                .map(|db| db.len())
                .sum();
            state.loaded_keys.store(keys as u64, Ordering::Relaxed);
            log::info!(
                "DB loaded from append only file: {:.3} seconds ({keys} keys)",
                started.elapsed().as_secs_f64()
            );
            let same_shards = manifest.shards() == Some(shards);
            (keyspaces, same_shards.then_some(manifest))
        }
    };
    let manifest = match continue_set {
        Some(manifest) => manifest,
        None => {
            let old = aof.files().manifest.clone();
            let old = read_manifest(&paths.dir, &paths.filename)
                .ok()
                .flatten()
                .unwrap_or(old);
            create_set(config, &paths, &old, &keyspaces)?
        }
    };
    aof.files().manifest = manifest;
    aof.base_size.store(aof.current_size(), Ordering::Relaxed);
    aof.on.store(true, Ordering::SeqCst);
    Ok(keyspaces)
}

/// A new set on disk holding `keyspaces` as its base, with empty logs for
/// this run's shards; the files of `old` are removed once the manifest
/// names the new set (Redis: "Creating AOF base file ... on server start").
fn create_set(
    config: &Config,
    paths: &AofPaths,
    old: &Manifest,
    keyspaces: &[Keyspace],
) -> Result<Manifest, String> {
    let fail = |what: String| {
        format!(
            "Can't create the AOF files in {}: {what}",
            paths.dir.display()
        )
    };
    ensure_dir(&paths.dir).map_err(|e| fail(e.to_string()))?;
    let seq = old.last_seq() + 1;
    let name = base_name(&paths.filename, seq);
    log::info!("Creating AOF base file {name} on server start");
    let temp = paths.file(&format!("temp-rewriteaof-{}.rdb", std::process::id()));
    write_base(&temp, keyspaces, config).map_err(&fail)?;
    std::fs::rename(&temp, paths.file(&name)).map_err(|e| fail(e.to_string()))?;
    let mut manifest = Manifest {
        base: Some(BaseFile { name, seq }),
        incrs: Vec::new(),
    };
    for shard in 0..keyspaces.len() as u32 {
        let name = incr_name(&paths.filename, seq, shard);
        File::create(paths.file(&name))
            .and_then(|f| f.sync_all())
            .map_err(|e| fail(e.to_string()))?;
        log::info!("Creating AOF incr file {name} on server start");
        manifest.incrs.push(IncrFile { name, seq, shard });
    }
    sync_dir(&paths.dir).map_err(|e| fail(e.to_string()))?;
    write_manifest(&paths.dir, &paths.filename, &manifest).map_err(|e| fail(e.to_string()))?;
    let keep: Vec<&str> = manifest.file_names().collect();
    for name in old.file_names().filter(|n| !keep.contains(n)) {
        log::info!("Removing the history file {name} in the background");
        let _ = std::fs::remove_file(paths.file(name));
    }
    Ok(manifest)
}

fn write_base(temp: &Path, keyspaces: &[Keyspace], config: &Config) -> Result<(), String> {
    let file = File::create(temp).map_err(|e| e.to_string())?;
    let codec = crate::cmd::persist::configured_codec(config);
    let mut writer = SnapshotWriter::new(BufWriter::with_capacity(1 << 20, file), codec)
        .map_err(|e| e.to_string())?;
    writer
        .aux(b"kevy-ver", env!("CARGO_PKG_VERSION").as_bytes())
        .and_then(|()| writer.aux(b"aof-base", b"1"))
        .map_err(|e| e.to_string())?;
    let now = crate::shard::unix_ms();
    for keyspace in keyspaces {
        write_keyspace(&mut writer, keyspace, now).map_err(|e| e.to_string())?;
    }
    let (buffered, _) = writer.finish().map_err(|e| e.to_string())?;
    let file = buffered.into_inner().map_err(|e| e.error().to_string())?;
    file.sync_all().map_err(|e| e.to_string())
}

/// Where a shard's stream may legitimately end early: its last log that
/// holds any byte (a rewrite may have listed a newer, empty one after it).
fn last_used_logs(paths: &AofPaths, manifest: &Manifest) -> Vec<String> {
    let shards = manifest.shards().unwrap_or(0) as u32;
    (0..shards)
        .filter_map(|shard| {
            manifest
                .incrs_of(shard)
                .filter(|f| std::fs::metadata(paths.file(&f.name)).is_ok_and(|m| m.len() > 0))
                .last()
                .map(|f| f.name.clone())
        })
        .collect()
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("Can't read the AOF file {}: {e}", path.display()))
}

/// Reads the base and replays every log (see the module comment).
fn load_set(
    config: &Config,
    paths: &AofPaths,
    manifest: &Manifest,
    shards: usize,
    limits: ValueLimits,
) -> Result<Vec<Keyspace>, String> {
    let written_by = manifest.shards().unwrap_or(shards);
    let mut scratch: Vec<Keyspace> = (0..written_by)
        .map(|_| Keyspace::new(config.databases))
        .collect();
    if let Some(base) = &manifest.base {
        let path = paths.file(&base.name);
        let file = File::open(&path)
            .map_err(|e| format!("Can't open the AOF base file {}: {e}", path.display()))?;
        // Time 0: no key counts as expired yet, since a later write in the
        // logs (PERSIST, a new EXPIRE) may have kept it.
        load_snapshot(
            BufReader::with_capacity(1 << 20, file),
            &mut scratch,
            &SlotTable::new(written_by),
            limits,
            0,
        )
        .map_err(|err| {
            format!(
                "Can't load the AOF base file {}: {err} (offset {}); refusing to start with a partial dataset",
                path.display(),
                err.offset().map_or("unknown".to_string(), |o| o.to_string())
            )
        })?;
        log::info!("DB loaded from base file {}", base.name);
    }
    let may_end_early = last_used_logs(paths, manifest);
    let parts = count_parts(paths, manifest, &may_end_early, config)?;
    let now = crate::shard::unix_ms();
    for file in &manifest.incrs {
        let keyspace = &mut scratch[file.shard as usize];
        replay_log(paths, file, &parts, &may_end_early, keyspace, now, config)?;
    }
    Ok(distribute(scratch, shards, config.databases, now))
}

/// Parts present of each cross-shard write, over every log; checks every
/// frame and each torn tail on the way.
fn count_parts(
    paths: &AofPaths,
    manifest: &Manifest,
    may_end_early: &[String],
    config: &Config,
) -> Result<HashMap<TxnTag, u16>, String> {
    let mut parts: HashMap<TxnTag, u16> = HashMap::new();
    for file in &manifest.incrs {
        let path = paths.file(&file.name);
        let bytes = read_file(&path)?;
        let (entries, summary) = read_log(&bytes).map_err(|err| corrupt(&path, &err))?;
        for (_, entry) in &entries {
            if let Some(tag) = entry.txn {
                *parts.entry(tag).or_insert(0) += 1;
            }
        }
        if let LogTail::Torn { offset } = summary.tail {
            if !may_end_early.contains(&file.name) {
                return Err(format!(
                    "Bad file format reading the append only file {}: a record at offset {offset} is incomplete but newer logs of its shard follow; use kevy check-aof to inspect it",
                    path.display()
                ));
            }
            if config.get("aof-load-truncated") == Some("no") {
                return Err(format!(
                    "Unexpected end of file reading the append only file {} (incomplete record at offset {offset}). You can: 1) Make a backup of your AOF file, then use kevy check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
                    path.display()
                ));
            }
        }
    }
    Ok(parts)
}

fn corrupt(path: &Path, err: &kevy_persist::PersistError) -> String {
    format!(
        "Bad file format reading the append only file {}: {err} (offset {}); refusing to start. Use kevy check-aof to inspect it",
        path.display(),
        err.offset().map_or("unknown".to_string(), |o| o.to_string())
    )
}

/// Replays one log into its shard's scratch keyspace; truncates a torn
/// tail and a tail of incomplete cross-shard writes.
fn replay_log(
    paths: &AofPaths,
    file: &IncrFile,
    parts: &HashMap<TxnTag, u16>,
    may_end_early: &[String],
    keyspace: &mut Keyspace,
    now: u64,
    config: &Config,
) -> Result<(), String> {
    let path = paths.file(&file.name);
    let bytes = read_file(&path)?;
    let (entries, summary) = read_log(&bytes).map_err(|err| corrupt(&path, &err))?;
    let complete = |tag: &TxnTag| parts.get(tag).copied().unwrap_or(0) >= tag.parts;
    // Entries from `keep` on are incomplete cross-shard writes at the tail.
    let mut keep = entries.len();
    if may_end_early.contains(&file.name) {
        while keep > 0 && entries[keep - 1].1.txn.is_some_and(|t| !complete(&t)) {
            keep -= 1;
        }
    }
    for (offset, entry) in &entries[..keep] {
        if let Some(tag) = entry.txn.filter(|t| !complete(t)) {
            log::warn!(
                "AOF {} at offset {offset}: a part of cross-shard write {} misses some of its {} parts but later writes follow it; applied",
                file.name, tag.id, tag.parts
            );
        }
        let db = entry.db as usize;
        if db >= keyspace.dbs.len() {
            return Err(format!(
                "Bad file format reading the append only file {}: database {db} at offset {offset} is beyond the configured {} databases",
                path.display(),
                keyspace.dbs.len()
            ));
        }
        apply_commands(keyspace, db, entry.commands, now, config).map_err(|err| {
            format!(
                "Can't replay the append only file {} at offset {offset}: {err}; refusing to start",
                path.display()
            )
        })?;
    }
    let cut = if keep < entries.len() {
        let offset = entries[keep].0;
        log::warn!(
            "!!! Dropping {} incomplete cross-shard write part(s) at the end of the AOF {} (from offset {offset}): their other parts never reached the disk !!!",
            entries.len() - keep,
            file.name
        );
        Some(offset)
    } else if let LogTail::Torn { offset } = summary.tail {
        log::warn!(
            "!!! Warning: short read while loading the AOF file {}!!!",
            file.name
        );
        log::warn!(
            "!!! Truncating the AOF {} at offset {offset} !!!",
            file.name
        );
        Some(offset)
    } else {
        None
    };
    if let Some(offset) = cut {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(offset).and_then(|()| f.sync_all()))
            .map_err(|e| format!("Can't truncate the AOF file {}: {e}", path.display()))?;
        log::warn!(
            "AOF {} loaded anyway because aof-load-truncated is enabled",
            file.name
        );
    }
    Ok(())
}

/// Moves every key to the shard that owns it among `shards` (the
/// keyspaces stay as they are when the count did not change).
fn distribute(scratch: Vec<Keyspace>, shards: usize, databases: usize, now: u64) -> Vec<Keyspace> {
    if scratch.len() == shards {
        return scratch;
    }
    let slots = SlotTable::new(shards);
    let mut target: Vec<Keyspace> = (0..shards).map(|_| Keyspace::new(databases)).collect();
    for mut source in scratch {
        for (index, db) in source.dbs.iter_mut().enumerate() {
            let keys: Vec<Vec<u8>> = db.iter_live(0).map(|e| e.key.as_bytes().to_vec()).collect();
            for key in keys {
                let Some(entry) = db.remove(&key) else {
                    continue;
                };
                let expire_at = entry.expire_at();
                if expire_at.is_some_and(|at| at <= now) {
                    continue;
                }
                let owner = slots.shard_of(&key);
                target[owner].dbs[index].insert_new(key.into(), entry.value, expire_at, 0);
            }
        }
    }
    target
}
