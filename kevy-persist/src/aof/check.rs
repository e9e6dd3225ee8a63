//! `kevy check-aof`'s engine: verify a log set (or one file of it) and
//! say, per file, whether it is sound, ends in a torn tail that may be
//! truncated, or is corrupt (never to be "fixed" by dropping sound data).
//!
//! A torn tail may be truncated only where a crash can leave one: at the
//! end of a shard's stream, i.e. in its last log that holds anything (a
//! rewrite may have listed a newer, still empty log after it). A torn
//! tail anywhere else is reported as corruption.

use std::path::{Path, PathBuf};

use super::manifest::{manifest_name, Manifest};
use super::read::{walk_log, LogTail};
use crate::snapshot::{check_snapshot, SnapshotContents, MAGIC};
use crate::PersistError;

/// What one file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// A sound base snapshot.
    BaseValid(Box<SnapshotContents>),
    /// A sound incremental log.
    LogValid { entries: u64, txn_parts: u64 },
    /// An incremental log whose whole records end at `ok_up_to`, followed
    /// by an incomplete one; `fixable` when it is at the end of its
    /// shard's stream (truncating loses only the incomplete record).
    Torn {
        entries: u64,
        ok_up_to: u64,
        fixable: bool,
    },
    /// Damaged: the error names the offset.
    Corrupt(PersistError),
    /// Missing or unreadable.
    Unreadable(String),
}

/// One file checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    pub path: PathBuf,
    /// True for the base snapshot.
    pub base: bool,
    pub size: u64,
    pub state: FileState,
}

impl FileCheck {
    pub fn is_valid(&self) -> bool {
        matches!(
            self.state,
            FileState::BaseValid(_) | FileState::LogValid { .. }
        )
    }
}

/// Checks one file: a base snapshot (by its magic) or an incremental log
/// (a torn tail counts as fixable: the file is taken alone).
pub fn check_file(path: &Path) -> FileCheck {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) => return unreadable(path, false, &err),
    };
    if bytes.starts_with(&MAGIC) {
        check_base_bytes(path, &bytes)
    } else {
        check_log_bytes(path, &bytes, true)
    }
}

fn unreadable(path: &Path, base: bool, err: &std::io::Error) -> FileCheck {
    FileCheck {
        path: path.to_path_buf(),
        base,
        size: 0,
        state: FileState::Unreadable(err.to_string()),
    }
}

fn check_base_bytes(path: &Path, bytes: &[u8]) -> FileCheck {
    let state = match check_snapshot(bytes) {
        Ok(contents) => FileState::BaseValid(Box::new(contents)),
        Err(err) => FileState::Corrupt(err),
    };
    FileCheck {
        path: path.to_path_buf(),
        base: true,
        size: bytes.len() as u64,
        state,
    }
}

fn check_log_bytes(path: &Path, bytes: &[u8], fixable: bool) -> FileCheck {
    let state = match walk_log(bytes, |_, _| {}) {
        Ok(summary) => match summary.tail {
            LogTail::Clean => FileState::LogValid {
                entries: summary.entries,
                txn_parts: summary.txn_parts,
            },
            LogTail::Torn { offset } => FileState::Torn {
                entries: summary.entries,
                ok_up_to: offset,
                fixable,
            },
        },
        Err(err) => FileState::Corrupt(err),
    };
    FileCheck {
        path: path.to_path_buf(),
        base: false,
        size: bytes.len() as u64,
        state,
    }
}

/// The manifest a command-line argument names: a directory holding one
/// `*.manifest`, or a manifest file. Returns the directory and the
/// `appendfilename`; `None` when `path` is neither.
pub fn find_manifest(path: &Path) -> Result<Option<(PathBuf, String)>, String> {
    if path.is_dir() {
        let mut found = Vec::new();
        let entries = std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".manifest") {
                if !name.starts_with("temp-") {
                    found.push(stem.to_string());
                }
            }
        }
        return match found.as_slice() {
            [one] => Ok(Some((path.to_path_buf(), one.clone()))),
            [] => Err(format!("no manifest in the directory {}", path.display())),
            _ => Err(format!(
                "several manifests in the directory {}: name one",
                path.display()
            )),
        };
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    match name.as_deref().and_then(|n| n.strip_suffix(".manifest")) {
        Some(stem) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            Ok(Some((dir.to_path_buf(), stem.to_string())))
        }
        None => Ok(None),
    }
}

/// Checks every file the manifest of `appendfilename` in `dir` lists.
pub fn check_set(dir: &Path, appendfilename: &str) -> Result<Vec<FileCheck>, String> {
    let path = dir.join(manifest_name(appendfilename));
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let manifest = Manifest::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut checks = Vec::new();
    if let Some(base) = &manifest.base {
        let path = dir.join(&base.name);
        checks.push(match std::fs::read(&path) {
            Ok(bytes) => check_base_bytes(&path, &bytes),
            Err(err) => unreadable(&path, true, &err),
        });
    }
    let shards = manifest.shards().unwrap_or(0);
    for shard in 0..shards as u32 {
        let logs: Vec<_> = manifest.incrs_of(shard).collect();
        let mut contents = Vec::new();
        for log in &logs {
            let path = dir.join(&log.name);
            contents.push((path.clone(), std::fs::read(&path)));
        }
        // Index of the last log of the shard holding any byte.
        let last_used = contents
            .iter()
            .rposition(|(_, bytes)| bytes.as_ref().map_or(true, |b| !b.is_empty()));
        for (index, (path, bytes)) in contents.into_iter().enumerate() {
            checks.push(match bytes {
                Ok(bytes) => check_log_bytes(&path, &bytes, Some(index) == last_used),
                Err(err) => unreadable(&path, false, &err),
            });
        }
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aof::entry::{encode_entry, LogEntry};
    use crate::aof::manifest::{incr_name, IncrFile};
    use crate::log_record::encode_record;

    fn log_bytes(entries: usize) -> Vec<u8> {
        let mut log = Vec::new();
        for _ in 0..entries {
            let mut payload = Vec::new();
            encode_entry(
                &LogEntry {
                    db: 0,
                    txn: None,
                    commands: b"*1\r\n$4\r\nPING\r\n",
                },
                &mut payload,
            );
            encode_record(&payload, &mut log).expect("fits");
        }
        log
    }

    #[test]
    fn a_torn_tail_is_fixable_only_at_the_end_of_its_shard() {
        let dir = std::env::temp_dir().join(format!("kevy-check-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut torn = log_bytes(3);
        torn.truncate(torn.len() - 2);
        let manifest = Manifest {
            base: None,
            incrs: (1..=3)
                .map(|seq| IncrFile {
                    name: incr_name("a.aof", seq, 0),
                    seq,
                    shard: 0,
                })
                .collect(),
        };
        std::fs::write(dir.join("a.aof.manifest"), manifest.to_text()).expect("write");
        std::fs::write(dir.join(incr_name("a.aof", 1, 0)), &torn).expect("write");
        std::fs::write(dir.join(incr_name("a.aof", 2, 0)), &torn).expect("write");
        std::fs::write(dir.join(incr_name("a.aof", 3, 0)), b"").expect("write");
        let checks = check_set(&dir, "a.aof").expect("manifest");
        let fixable: Vec<Option<bool>> = checks
            .iter()
            .map(|c| match c.state {
                FileState::Torn { fixable, .. } => Some(fixable),
                _ => None,
            })
            .collect();
        assert_eq!(fixable, vec![Some(false), Some(true), None]);
        assert!(checks[2].is_valid());
        assert_eq!(
            find_manifest(&dir),
            Ok(Some((dir.clone(), "a.aof".to_string())))
        );
        let single = check_file(&dir.join(incr_name("a.aof", 1, 0)));
        assert!(matches!(
            single.state,
            FileState::Torn {
                entries: 2,
                fixable: true,
                ..
            }
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
}
