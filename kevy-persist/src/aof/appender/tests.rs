//! The appender under each fsync policy: what was appended reads back in
//! order, across switches of file and of policy, and after drop.

use super::*;
use crate::aof::read::{read_log, LogTail};
use crate::aof::{encode_entry, LogEntry};

fn entry(n: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let commands = format!("*2\r\n$4\r\nINCR\r\n${}\r\n{n}\r\n", n.to_string().len());
    encode_entry(
        &LogEntry {
            db: n % 3,
            txn: None,
            commands: commands.as_bytes(),
        },
        &mut out,
    );
    out
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kevy-appender-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn dbs_of(path: &Path) -> Vec<u32> {
    let bytes = std::fs::read(path).expect("log written");
    let (entries, summary) = read_log(&bytes).expect("sound log");
    assert_eq!(summary.tail, LogTail::Clean);
    entries.iter().map(|(_, e)| e.db).collect()
}

fn write_some(appender: &mut LogAppender, from: u32, to: u32) {
    for n in from..to {
        appender.append(&entry(n)).expect("fits");
        if n % 7 == 0 {
            appender.end_iteration().expect("written");
        }
    }
    appender.end_iteration().expect("written");
}

#[test]
fn every_policy_writes_everything_in_order() {
    for policy in [FsyncPolicy::Always, FsyncPolicy::EverySec, FsyncPolicy::No] {
        let dir = temp_dir(&format!("{policy:?}"));
        let path = dir.join("log.aof");
        let mut appender =
            LogAppender::new(open_log(&path).expect("open"), policy, "t").expect("new");
        write_some(&mut appender, 0, 100);
        appender.sync_now().expect("synced");
        let expected: Vec<u32> = (0..100).map(|n| n % 3).collect();
        assert_eq!(dbs_of(&path), expected, "{policy:?}");
        assert_eq!(
            appender.status().size(),
            std::fs::metadata(&path).expect("exists").len()
        );
        assert!(appender.status().last_write_ok());
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn a_switch_splits_the_stream_at_the_iteration() {
    for policy in [FsyncPolicy::Always, FsyncPolicy::EverySec] {
        let dir = temp_dir(&format!("switch-{policy:?}"));
        let first = dir.join("1.aof");
        let second = dir.join("2.aof");
        let mut appender =
            LogAppender::new(open_log(&first).expect("open"), policy, "t").expect("new");
        write_some(&mut appender, 0, 10);
        appender
            .switch_to(open_log(&second).expect("open"))
            .expect("switched");
        write_some(&mut appender, 10, 25);
        drop(appender);
        assert_eq!(dbs_of(&first).len(), 10);
        assert_eq!(dbs_of(&second).len(), 15);
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn policy_changes_keep_every_append() {
    let dir = temp_dir("policy");
    let path = dir.join("log.aof");
    let mut appender =
        LogAppender::new(open_log(&path).expect("open"), FsyncPolicy::EverySec, "t").expect("new");
    write_some(&mut appender, 0, 20);
    appender.set_policy(FsyncPolicy::Always).expect("to always");
    write_some(&mut appender, 20, 40);
    appender.set_policy(FsyncPolicy::No).expect("to no");
    write_some(&mut appender, 40, 60);
    appender
        .set_policy(FsyncPolicy::EverySec)
        .expect("to everysec");
    write_some(&mut appender, 60, 80);
    assert_eq!(appender.policy(), FsyncPolicy::EverySec);
    drop(appender);
    assert_eq!(dbs_of(&path).len(), 80);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn reopening_appends_after_what_is_there() {
    let dir = temp_dir("reopen");
    let path = dir.join("log.aof");
    for round in 0..2 {
        let mut appender =
            LogAppender::new(open_log(&path).expect("open"), FsyncPolicy::Always, "t")
                .expect("new");
        write_some(&mut appender, round * 5, round * 5 + 5);
    }
    assert_eq!(dbs_of(&path).len(), 10);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn policy_names() {
    assert_eq!(
        FsyncPolicy::from_name("EverySec"),
        Some(FsyncPolicy::EverySec)
    );
    assert_eq!(FsyncPolicy::from_name("always"), Some(FsyncPolicy::Always));
    assert_eq!(FsyncPolicy::from_name("no"), Some(FsyncPolicy::No));
    assert_eq!(FsyncPolicy::from_name("sometimes"), None);
}
