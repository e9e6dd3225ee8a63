//! The manifest of a log set: which files make the dataset, in which
//! order. Text, one file per line, in Redis 7's key/value style:
//!
//! ```text
//! file appendonly.aof.2.base.rdb seq 2 type b
//! file appendonly.aof.2.incr.0.aof seq 2 type i shard 0
//! file appendonly.aof.2.incr.1.aof seq 2 type i shard 1
//! ```
//!
//! `type b` is the base snapshot (at most one), `type i` an incremental
//! log of one shard. A load reads the base, then for each shard its
//! incremental logs in `seq` order. Every `seq` present must hold one log
//! per shard, `0..n`, with the same `n` for every `seq`: a set is written
//! by one shard count (a start with another count rewrites the set).
//! Lines starting with `#` and blank lines are ignored, as are keys this
//! version does not know (a later version may add some). File names are
//! plain names inside the log directory: no path separator, no `..`, no
//! whitespace or control characters.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::PersistError;

/// The longest manifest accepted: a set of thousands of files fits
/// many times over; anything longer is not a manifest.
pub const MANIFEST_MAX_BYTES: usize = 1 << 20;

/// The base snapshot of a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseFile {
    pub name: String,
    pub seq: u64,
}

/// One shard's incremental log of one sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncrFile {
    pub name: String,
    pub seq: u64,
    pub shard: u32,
}

/// A parsed manifest; `incrs` sorted by `(seq, shard)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<BaseFile>,
    pub incrs: Vec<IncrFile>,
}

/// `<appendfilename>.manifest`
pub fn manifest_name(appendfilename: &str) -> String {
    format!("{appendfilename}.manifest")
}

/// `<appendfilename>.<seq>.base.rdb` (kevy's snapshot format).
pub fn base_name(appendfilename: &str, seq: u64) -> String {
    format!("{appendfilename}.{seq}.base.rdb")
}

/// `<appendfilename>.<seq>.incr.<shard>.aof`
pub fn incr_name(appendfilename: &str, seq: u64, shard: u32) -> String {
    format!("{appendfilename}.{seq}.incr.{shard}.aof")
}

/// True for a name that stays inside the log directory and fits on a
/// manifest line.
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_whitespace() || c.is_control())
}

impl Manifest {
    /// Parses a manifest file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, PersistError> {
        let bad = |line: usize, reason: &str| PersistError::MalformedManifest {
            line,
            reason: reason.to_string(),
        };
        if bytes.len() > MANIFEST_MAX_BYTES {
            return Err(bad(0, "the manifest is larger than 1 MiB"));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| bad(0, "the manifest is not UTF-8"))?;
        let mut manifest = Manifest::default();
        let mut names = BTreeSet::new();
        let mut places = BTreeSet::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() % 2 != 0 {
                return Err(bad(number, "keys and values do not pair up"));
            }
            let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
            for pair in words.chunks_exact(2) {
                if fields.insert(pair[0], pair[1]).is_some() {
                    return Err(bad(number, "a key appears twice"));
                }
            }
            let name = *fields.get("file").ok_or(bad(number, "no file name"))?;
            if !is_plain_file_name(name) {
                return Err(bad(number, "the file name is not a plain name"));
            }
            let seq: u64 = fields
                .get("seq")
                .and_then(|s| s.parse().ok())
                .filter(|&s| s > 0)
                .ok_or(bad(number, "no valid seq"))?;
            if !names.insert(name) {
                return Err(bad(number, "a file is listed twice"));
            }
            let shard = fields.get("shard");
            match fields.get("type").copied() {
                Some("b") => {
                    if shard.is_some() {
                        return Err(bad(number, "a base file names a shard"));
                    }
                    if manifest.base.is_some() {
                        return Err(bad(number, "more than one base file"));
                    }
                    manifest.base = Some(BaseFile {
                        name: name.to_string(),
                        seq,
                    });
                }
                Some("i") => {
                    let shard: u32 = shard
                        .and_then(|s| s.parse().ok())
                        .ok_or(bad(number, "an incremental log without a valid shard"))?;
                    if !places.insert((seq, shard)) {
                        return Err(bad(number, "two logs of one shard with the same seq"));
                    }
                    manifest.incrs.push(IncrFile {
                        name: name.to_string(),
                        seq,
                        shard,
                    });
                }
                _ => return Err(bad(number, "the type is not b or i")),
            }
        }
        manifest.incrs.sort_by_key(|f| (f.seq, f.shard));
        manifest.check_shards()?;
        Ok(manifest)
    }

    /// Every seq holds the logs of shards `0..n`, the same `n` for all.
    fn check_shards(&self) -> Result<(), PersistError> {
        let mut by_seq: BTreeMap<u64, u32> = BTreeMap::new();
        for file in &self.incrs {
            let count = by_seq.entry(file.seq).or_insert(0);
            // Sorted by (seq, shard): shards of a seq must count 0, 1, ...
            if file.shard != *count {
                return Err(PersistError::MalformedManifest {
                    line: 0,
                    reason: format!("seq {} does not hold one log per shard from 0", file.seq),
                });
            }
            *count += 1;
        }
        let counts: BTreeSet<u32> = by_seq.values().copied().collect();
        if counts.len() > 1 {
            return Err(PersistError::MalformedManifest {
                line: 0,
                reason: "the sequences were written by different shard counts".into(),
            });
        }
        Ok(())
    }

    /// How many shards wrote the incremental logs (None: there are none).
    pub fn shards(&self) -> Option<usize> {
        let last = self.incrs.last()?.seq;
        Some(self.incrs.iter().filter(|f| f.seq == last).count())
    }

    /// The highest seq of any file (0 for an empty manifest).
    pub fn last_seq(&self) -> u64 {
        let base = self.base.as_ref().map_or(0, |b| b.seq);
        self.incrs.iter().map(|f| f.seq).fold(base, u64::max)
    }

    /// The incremental logs of `shard`, oldest first.
    pub fn incrs_of(&self, shard: u32) -> impl Iterator<Item = &IncrFile> {
        self.incrs.iter().filter(move |f| f.shard == shard)
    }

    /// Every file name the manifest lists.
    pub fn file_names(&self) -> impl Iterator<Item = &str> {
        self.base
            .iter()
            .map(|b| b.name.as_str())
            .chain(self.incrs.iter().map(|f| f.name.as_str()))
    }

    /// The manifest's text (what [`Manifest::parse`] reads back).
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        if let Some(base) = &self.base {
            let _ = writeln!(text, "file {} seq {} type b", base.name, base.seq);
        }
        for incr in &self.incrs {
            let _ = writeln!(
                text,
                "file {} seq {} type i shard {}",
                incr.name, incr.seq, incr.shard
            );
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(base: Option<u64>, seqs: &[u64], shards: u32) -> Manifest {
        Manifest {
            base: base.map(|seq| BaseFile {
                name: base_name("appendonly.aof", seq),
                seq,
            }),
            incrs: seqs
                .iter()
                .flat_map(|&seq| {
                    (0..shards).map(move |shard| IncrFile {
                        name: incr_name("appendonly.aof", seq, shard),
                        seq,
                        shard,
                    })
                })
                .collect(),
        }
    }

    #[test]
    fn text_layout_and_round_trip() {
        let manifest = set(Some(2), &[2, 3], 2);
        let text = manifest.to_text();
        assert!(text.starts_with(
            "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.0.aof seq 2 type i shard 0\n"
        ));
        assert_eq!(Manifest::parse(text.as_bytes()), Ok(manifest.clone()));
        assert_eq!(manifest.shards(), Some(2));
        assert_eq!(manifest.last_seq(), 3);
        assert_eq!(manifest.incrs_of(1).count(), 2);
        assert_eq!(Manifest::parse(b""), Ok(Manifest::default()));
    }

    #[test]
    fn comments_key_order_and_unknown_keys() {
        let text = b"# kevy\n\ntype i shard 0 seq 1 file a.aof future x\n";
        let manifest = Manifest::parse(text).expect("valid");
        assert_eq!(manifest.incrs[0].name, "a.aof");
    }

    #[test]
    fn bad_manifests_name_their_line() {
        let cases: [(&[u8], usize); 11] = [
            (b"file a seq 1", 1),
            (b"file a seq 1 type b\nfile b seq 2 type b", 2),
            (b"file ../a seq 1 type b", 1),
            (b"file a/b seq 1 type b", 1),
            (b"file a seq 0 type b", 1),
            (b"file a seq x type b", 1),
            (b"file a seq 1 type i", 1),
            (b"file a seq 1 type b shard 0", 1),
            (
                b"file a seq 1 type i shard 0\nfile a seq 2 type i shard 0",
                2,
            ),
            (b"file a seq 1 type q", 1),
            (b"file a seq 1 seq 2 type b", 1),
        ];
        for (text, line) in cases {
            match Manifest::parse(text) {
                Err(PersistError::MalformedManifest { line: at, .. }) => {
                    assert_eq!(at, line, "{}", String::from_utf8_lossy(text))
                }
                other => panic!("{} gave {other:?}", String::from_utf8_lossy(text)),
            }
        }
    }

    #[test]
    fn shard_sets_must_be_whole_and_agree() {
        assert!(Manifest::parse(b"file a seq 1 type i shard 1\n").is_err());
        let mixed = "file a seq 1 type i shard 0\nfile b seq 1 type i shard 1\nfile c seq 2 type i shard 0\n";
        assert!(Manifest::parse(mixed.as_bytes()).is_err());
        assert!(Manifest::parse(b"\xff").is_err());
    }

    proptest! {
        #[test]
        fn written_manifests_read_back(
            base in proptest::option::of(1u64..100),
            seqs in proptest::collection::btree_set(1u64..100, 0..4),
            shards in 1u32..5,
        ) {
            let seqs: Vec<u64> = seqs.into_iter().collect();
            let manifest = set(base, &seqs, shards);
            prop_assert_eq!(Manifest::parse(manifest.to_text().as_bytes()), Ok(manifest));
        }

        #[test]
        fn any_text_parses_or_fails_cleanly(text in "[a-z0-9 .\n#/]{0,200}") {
            let _ = Manifest::parse(text.as_bytes());
        }
    }
}
