//! `kevy check-aof` run as a binary, as an operator runs redis-check-aof:
//! a sound set is valid; a torn tail is reported with its offset, kept
//! when the operator answers no to `--fix`, truncated when yes; a corrupt
//! log is refused with its offset and never truncated; usage errors.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use kevy_persist::aof::{encode_entry, incr_name, manifest_name, IncrFile, LogEntry, Manifest};
use kevy_persist::encode_record;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kevy-check-aof-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

/// A log of `n` entries and each record's start.
fn log_of(n: usize) -> (Vec<u8>, Vec<u64>) {
    let mut log = Vec::new();
    let mut starts = Vec::new();
    for i in 0..n {
        let commands = format!(
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n{i}\r\n",
            i.to_string().len()
        );
        let mut payload = Vec::new();
        encode_entry(
            &LogEntry {
                db: 0,
                txn: None,
                commands: commands.as_bytes(),
            },
            &mut payload,
        );
        starts.push(log.len() as u64);
        encode_record(&payload, &mut log).expect("fits");
    }
    (log, starts)
}

/// A two-shard set in `dir` whose shard 1 log is `shard1`.
fn write_set(dir: &Path, shard1: &[u8]) {
    let manifest = Manifest {
        base: None,
        incrs: (0..2)
            .map(|shard| IncrFile {
                name: incr_name("appendonly.aof", 1, shard),
                seq: 1,
                shard,
            })
            .collect(),
    };
    std::fs::write(
        dir.join(manifest_name("appendonly.aof")),
        manifest.to_text(),
    )
    .expect("write");
    std::fs::write(dir.join(incr_name("appendonly.aof", 1, 0)), log_of(5).0).expect("write");
    std::fs::write(dir.join(incr_name("appendonly.aof", 1, 1)), shard1).expect("write");
}

/// Runs `kevy check-aof ARGS` with `input` on stdin: (exit code, stdout).
fn check_aof(args: &[&str], input: &str) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kevy"))
        .arg("check-aof")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kevy runs");
    let _ = child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(input.as_bytes());
    let output = child.wait_with_output().expect("kevy ends");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn a_sound_set_is_valid() {
    let dir = temp_dir("sound");
    write_set(&dir, &log_of(3).0);
    let (code, out) = check_aof(&[&dir.to_string_lossy()], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Start checking Multi Part AOF"), "{out}");
    assert!(out.contains("is valid (3 entries"), "{out}");
    assert!(out.contains("All AOF files are valid"), "{out}");
    let manifest = dir.join("appendonly.aof.manifest");
    assert_eq!(check_aof(&[&manifest.to_string_lossy()], "").0, 0);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_torn_tail_is_truncated_only_when_the_operator_agrees() {
    let dir = temp_dir("torn");
    let (log, starts) = log_of(4);
    let torn = &log[..log.len() - 3];
    write_set(&dir, torn);
    let file = dir.join(incr_name("appendonly.aof", 1, 1));
    let arg = dir.to_string_lossy().into_owned();

    let (code, out) = check_aof(&[&arg], "");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("ok_up_to={}", starts[3])), "{out}");
    assert!(out.contains("Use the --fix option"), "{out}");

    let (code, out) = check_aof(&["--fix", &arg], "n\n");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Continue? [y/N]: Aborting..."), "{out}");
    assert_eq!(
        std::fs::metadata(&file).expect("kept").len(),
        torn.len() as u64
    );

    let (code, out) = check_aof(&["--fix", &arg], "y\n");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Successfully truncated AOF"), "{out}");
    assert_eq!(std::fs::metadata(&file).expect("kept").len(), starts[3]);
    assert_eq!(check_aof(&[&arg], "").0, 0);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_corrupt_log_is_refused_with_its_offset_and_never_truncated() {
    let dir = temp_dir("corrupt");
    let (mut log, starts) = log_of(6);
    let damaged = starts[2] as usize + 12;
    log[damaged] ^= 0x20;
    write_set(&dir, &log);
    let file = dir.join(incr_name("appendonly.aof", 1, 1));
    let (code, out) = check_aof(&["--fix", &dir.to_string_lossy()], "y\n");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("corrupt at offset {}", starts[2])),
        "{out}"
    );
    assert!(!out.contains("Continue?"), "{out}");
    assert_eq!(std::fs::read(&file).expect("kept"), log);
    // A single log named directly.
    let (code, out) = check_aof(&[&file.to_string_lossy()], "");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("offset {}", starts[2])), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn usage_and_missing_files() {
    assert_eq!(check_aof(&[], "").0, 1);
    assert!(check_aof(&["--fix"], "")
        .1
        .starts_with("Usage: kevy check-aof"));
    let dir = temp_dir("missing");
    let (code, out) = check_aof(&[&dir.to_string_lossy()], "");
    assert_eq!(code, 1);
    assert!(out.contains("no manifest"), "{out}");
    write_set(&dir, b"");
    std::fs::remove_file(dir.join(incr_name("appendonly.aof", 1, 0))).expect("removed");
    let (code, out) = check_aof(&[&dir.to_string_lossy()], "");
    assert_eq!(code, 1);
    assert!(out.contains("can't be read"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}
