//! Files of a log set on disk: the manifest written so a crash leaves
//! either the old or the new one (temp file, fsync, rename, fsync of the
//! directory), and the manifest read back.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use super::manifest::{manifest_name, Manifest, MANIFEST_MAX_BYTES};
use crate::PersistError;

/// Fsyncs a directory, so the renames and creations inside it persist.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replaces the manifest of `appendfilename` in `dir` atomically.
pub fn write_manifest(
    dir: &Path,
    appendfilename: &str,
    manifest: &Manifest,
) -> std::io::Result<()> {
    let name = manifest_name(appendfilename);
    let temp = dir.join(format!("temp-{name}"));
    let mut file = File::create(&temp)?;
    file.write_all(manifest.to_text().as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, dir.join(&name))?;
    sync_dir(dir)
}

/// Why a manifest could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestReadError {
    Io(String),
    Invalid(PersistError),
}

impl std::fmt::Display for ManifestReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManifestReadError::Io(message) => f.write_str(message),
            ManifestReadError::Invalid(err) => write!(f, "{err}"),
        }
    }
}

/// The manifest of `appendfilename` in `dir`; `None` when there is none.
pub fn read_manifest(
    dir: &Path,
    appendfilename: &str,
) -> Result<Option<Manifest>, ManifestReadError> {
    let path = dir.join(manifest_name(appendfilename));
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(ManifestReadError::Io(format!(
                "can't read {}: {err}",
                path.display()
            )))
        }
    };
    if bytes.len() > MANIFEST_MAX_BYTES {
        return Err(ManifestReadError::Invalid(
            PersistError::MalformedManifest {
                line: 0,
                reason: "the manifest is larger than 1 MiB".into(),
            },
        ));
    }
    Manifest::parse(&bytes)
        .map(Some)
        .map_err(ManifestReadError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aof::manifest::{incr_name, IncrFile};

    #[test]
    fn manifest_written_and_read_back() {
        let dir = std::env::temp_dir().join(format!("kevy-manifest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        assert_eq!(read_manifest(&dir, "a.aof"), Ok(None));
        let manifest = Manifest {
            base: None,
            incrs: vec![IncrFile {
                name: incr_name("a.aof", 1, 0),
                seq: 1,
                shard: 0,
            }],
        };
        write_manifest(&dir, "a.aof", &manifest).expect("written");
        assert_eq!(read_manifest(&dir, "a.aof"), Ok(Some(manifest)));
        assert!(!dir.join("temp-a.aof.manifest").exists());
        std::fs::write(dir.join("a.aof.manifest"), "garbage").expect("written");
        assert!(matches!(
            read_manifest(&dir, "a.aof"),
            Err(ManifestReadError::Invalid(_))
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
}
