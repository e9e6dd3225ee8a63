//! The append-only log end to end with the real binary: a set written
//! by 4 shards loads into 1 and back; a torn tail is truncated at start
//! (or refused with `aof-load-truncated no`); a corrupt record stops the
//! start naming the file and offset; `CONFIG SET appendonly yes` at run
//! time survives a restart; `BGREWRITEAOF` under writes loses nothing and
//! removes the old files; `SHUTDOWN [SAVE|NOSAVE]` and SIGTERM save as
//! Redis does; a second `BGSAVE` while one runs is refused.

mod aof_support;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use aof_support::{contents, encode, start_refused, temp_dir, Conn, Kevy};
use kevy_persist::aof::{incr_name, read_log};

const AOF: [&str; 2] = ["--appendonly", "yes"];

/// Keys of every type, some with TTLs, some written by cross-shard MSET.
fn write_mixed(conn: &mut Conn, tag: &str) {
    for i in 0..40 {
        conn.ok(&["SET", &format!("s{tag}{i}"), &i.to_string()]);
        conn.ok(&["RPUSH", &format!("l{tag}{}", i % 5), &i.to_string()]);
        conn.ok(&["HSET", &format!("h{tag}{}", i % 4), &format!("f{i}"), "v"]);
        conn.ok(&["SADD", &format!("t{tag}{}", i % 3), &format!("m{i}")]);
        conn.ok(&[
            "ZADD",
            &format!("z{tag}{}", i % 3),
            &i.to_string(),
            &format!("m{i}"),
        ]);
        conn.ok(&["INCRBY", &format!("n{tag}{}", i % 6), "3"]);
    }
    conn.ok(&["XADD", &format!("x{tag}"), "*", "f", "v"]);
    conn.ok(&["XGROUP", "CREATE", &format!("x{tag}"), "g", "0"]);
    conn.ok(&["SET", &format!("ttl{tag}"), "v", "EX", "1000"]);
    conn.ok(&["EXPIRE", &format!("l{tag}0"), "2000"]);
    conn.ok(&[
        "MSET",
        &format!("{{a}}{tag}"),
        "1",
        &format!("{{b}}{tag}"),
        "2",
        &format!("{{c}}{tag}"),
        "3",
    ]);
    conn.ok(&["DEL", &format!("s{tag}3"), &format!("h{tag}1")]);
    conn.ok(&["SELECT", "3"]);
    conn.ok(&["SET", &format!("db3{tag}"), "x"]);
    conn.ok(&["SELECT", "0"]);
}

#[test]
fn a_log_written_by_four_shards_loads_into_one_and_back() {
    let dir = temp_dir("shards");
    let mut four = Kevy::start(&dir, 4, &AOF);
    let mut conn = four.conn();
    write_mixed(&mut conn, "a");
    let before = contents(&mut conn);
    four.kill9();

    let mut one = Kevy::start(&dir, 1, &AOF);
    let mut conn = one.conn();
    assert_eq!(contents(&mut conn), before);
    conn.ok(&["SELECT", "3"]);
    assert_eq!(conn.ok(&["GET", "db3a"]).text(), "x");
    conn.ok(&["SELECT", "0"]);
    write_mixed(&mut conn, "b");
    let before = contents(&mut conn);
    one.kill9();

    let four = Kevy::start(&dir, 4, &AOF);
    let mut conn = four.conn();
    assert_eq!(contents(&mut conn), before);
    let _ = std::fs::remove_dir_all(dir);
}

fn log_path(dir: &Path, seq: u64, shard: u32) -> std::path::PathBuf {
    dir.join("appendonlydir")
        .join(incr_name("appendonly.aof", seq, shard))
}

/// The newest sequence of the set in `dir`.
fn newest_seq(dir: &Path) -> u64 {
    let manifest =
        std::fs::read(dir.join("appendonlydir/appendonly.aof.manifest")).expect("a manifest");
    kevy_persist::aof::Manifest::parse(&manifest)
        .expect("valid")
        .last_seq()
}

#[test]
fn a_torn_tail_is_truncated_at_start_unless_refused_by_config() {
    let dir = temp_dir("torn");
    let mut kevy = Kevy::start(&dir, 1, &AOF);
    let mut conn = kevy.conn();
    for i in 0..10 {
        conn.ok(&["RPUSH", "list", &i.to_string()]);
    }
    kevy.kill9();
    let path = log_path(&dir, newest_seq(&dir), 0);
    let sound = std::fs::metadata(&path).expect("the log").len();
    // Half an append: a frame header promising 100 bytes, 10 of them.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open");
    file.write_all(&100u32.to_le_bytes()).expect("write");
    file.write_all(&[7u8; 14]).expect("write");
    drop(file);

    let refused = start_refused(
        &dir,
        1,
        &["--appendonly", "yes", "--aof-load-truncated", "no"],
    );
    assert!(refused.contains("Unexpected end of file"), "{refused}");
    assert!(
        refused.contains(&path.file_name().unwrap().to_string_lossy().into_owned()),
        "{refused}"
    );
    assert!(refused.contains(&format!("offset {sound}")), "{refused}");

    let kevy = Kevy::start(&dir, 1, &AOF);
    let mut conn = kevy.conn();
    assert_eq!(conn.ok(&["LLEN", "list"]).int(), 10);
    assert!(kevy.log().contains("Truncating the AOF"), "{}", kevy.log());
    assert_eq!(std::fs::metadata(&path).expect("the log").len(), sound);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_corrupt_record_stops_the_start_naming_file_and_offset() {
    let dir = temp_dir("corrupt");
    let mut kevy = Kevy::start(&dir, 1, &AOF);
    let mut conn = kevy.conn();
    for i in 0..5 {
        conn.ok(&["SET", &format!("k{i}"), "value"]);
    }
    kevy.kill9();
    let path = log_path(&dir, newest_seq(&dir), 0);
    let mut bytes = std::fs::read(&path).expect("the log");
    let offsets: Vec<u64> = read_log(&bytes)
        .expect("sound")
        .0
        .iter()
        .map(|(o, _)| *o)
        .collect();
    assert_eq!(offsets.len(), 5);
    let damaged = offsets[2];
    bytes[damaged as usize + 12] ^= 0x01;
    std::fs::write(&path, &bytes).expect("write");
    let refused = start_refused(&dir, 1, &AOF);
    assert!(refused.contains(&path.display().to_string()), "{refused}");
    assert!(refused.contains(&format!("offset {damaged}")), "{refused}");
    // A damaged length is corruption too, not a torn tail to cut.
    bytes[damaged as usize + 12] ^= 0x01;
    bytes[damaged as usize + 2] = 0x40;
    std::fs::write(&path, &bytes).expect("write");
    let refused = start_refused(&dir, 1, &AOF);
    assert!(refused.contains(&format!("offset {damaged}")), "{refused}");
    assert_eq!(
        std::fs::read(&path).expect("kept"),
        bytes,
        "the log was changed"
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn info_field(conn: &mut Conn, name: &str) -> String {
    let info = conn.ok(&["INFO", "persistence"]).text();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_default()
        .to_string()
}

fn wait_for(conn: &mut Conn, name: &str, value: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while info_field(conn, name) != value {
        assert!(Instant::now() < deadline, "{name} never became {value}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn appendonly_turned_on_at_run_time_survives_a_restart() {
    let dir = temp_dir("runtime");
    let mut kevy = Kevy::start(&dir, 2, &[]);
    let mut conn = kevy.conn();
    write_mixed(&mut conn, "a");
    assert_eq!(info_field(&mut conn, "aof_enabled"), "0");
    conn.ok(&["CONFIG", "SET", "appendonly", "yes"]);
    wait_for(&mut conn, "aof_enabled", "1");
    wait_for(&mut conn, "aof_rewrites", "1");
    wait_for(&mut conn, "aof_rewrite_in_progress", "0");
    assert_eq!(info_field(&mut conn, "aof_last_bgrewrite_status"), "ok");
    assert_eq!(info_field(&mut conn, "aof_last_write_status"), "ok");
    write_mixed(&mut conn, "b");
    let before = contents(&mut conn);
    kevy.kill9();
    let kevy = Kevy::start(&dir, 2, &AOF);
    let mut conn = kevy.conn();
    assert_eq!(contents(&mut conn), before);
    // Off again: the set stays as it was, nothing more is appended.
    conn.ok(&["CONFIG", "SET", "appendonly", "no"]);
    wait_for(&mut conn, "aof_enabled", "0");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bgrewriteaof_while_writes_continue_loses_nothing() {
    let dir = temp_dir("rewrite");
    let mut kevy = Kevy::start(&dir, 2, &["--appendonly", "yes", "--appendfsync", "always"]);
    let port = kevy.port;
    let writer = std::thread::spawn(move || {
        let mut conn = Conn::connect(port).expect("connect");
        let mut pushed = 0u64;
        for batch in 0..300u64 {
            let mut out = Vec::new();
            for i in 0..20u64 {
                let n = batch * 20 + i;
                encode(&[b"INCR", format!("c{}", n % 8).as_bytes()], &mut out);
                encode(
                    &[
                        b"RPUSH",
                        format!("l{}", n % 3).as_bytes(),
                        n.to_string().as_bytes(),
                    ],
                    &mut out,
                );
            }
            conn.send_raw(&out).expect("send");
            for _ in 0..40 {
                conn.read().expect("a reply");
            }
            pushed += 20;
        }
        pushed
    });
    let mut conn = kevy.conn();
    for round in 1..=3 {
        let reply = conn.ok(&["BGREWRITEAOF"]).text();
        assert_eq!(reply, "+Background append only file rewriting started");
        wait_for(&mut conn, "aof_rewrites", &round.to_string());
    }
    let pushed = writer.join().expect("the writer ends");
    assert_eq!(pushed, 6000);
    let expected = contents(&mut conn);
    kevy.kill9();
    let kevy = Kevy::start(&dir, 2, &AOF);
    let mut conn = kevy.conn();
    assert_eq!(contents(&mut conn), expected);
    let total: i64 = (0..8)
        .map(|k| conn.ok(&["GET", &format!("c{k}")]).int())
        .sum();
    assert_eq!(total, 6000);
    // Only the files the manifest names are left.
    let manifest =
        std::fs::read(dir.join("appendonlydir/appendonly.aof.manifest")).expect("manifest");
    let manifest = kevy_persist::aof::Manifest::parse(&manifest).expect("valid");
    let mut listed: Vec<String> = manifest.file_names().map(str::to_string).collect();
    listed.push("appendonly.aof.manifest".into());
    listed.sort();
    let mut present: Vec<String> = std::fs::read_dir(dir.join("appendonlydir"))
        .expect("the dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    assert_eq!(present, listed);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn shutdown_saves_as_redis_does() {
    let dir = temp_dir("shutdown");
    let dump = dir.join("dump.rdb");
    let points = ["--save", "3600 1"];
    // NOSAVE: nothing written.
    let mut kevy = Kevy::start(&dir, 2, &points);
    let mut conn = kevy.conn();
    conn.ok(&["SET", "a", "1"]);
    let _ = conn.call(&["SHUTDOWN", "NOSAVE"]);
    kevy.wait_exit();
    assert!(!dump.exists());
    // Plain SHUTDOWN with save points: saved.
    let mut kevy = Kevy::start(&dir, 2, &points);
    let mut conn = kevy.conn();
    conn.ok(&["SET", "a", "1"]);
    let _ = conn.call(&["SHUTDOWN"]);
    kevy.wait_exit();
    assert!(
        kevy.log().contains("Saving the final RDB snapshot"),
        "{}",
        kevy.log()
    );
    // SHUTDOWN SAVE without save points: saved too.
    let mut kevy = Kevy::start(&dir, 1, &[]);
    let mut conn = kevy.conn();
    assert_eq!(conn.ok(&["GET", "a"]).text(), "1");
    conn.ok(&["SET", "b", "2"]);
    let _ = conn.call(&["SHUTDOWN", "SAVE"]);
    kevy.wait_exit();
    // SIGTERM with save points: saved.
    let mut kevy = Kevy::start(&dir, 2, &points);
    let mut conn = kevy.conn();
    assert_eq!(conn.ok(&["GET", "b"]).text(), "2");
    conn.ok(&["SET", "c", "3"]);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &kevy.child.id().to_string()])
        .status();
    kevy.wait_exit();
    let kevy = Kevy::start(&dir, 1, &[]);
    let mut conn = kevy.conn();
    assert_eq!(conn.ok(&["GET", "c"]).text(), "3");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_second_bgsave_while_one_runs_is_refused() {
    let dir = temp_dir("bgsave");
    let kevy = Kevy::start(&dir, 2, &[]);
    let mut conn = kevy.conn();
    let mut out = Vec::new();
    for batch in 0..50 {
        let mut args: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
        for i in 0..1000 {
            args.push(format!("{{t{batch}}}key{i}").into_bytes());
            args.push(vec![b'x'; 100]);
        }
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        encode(&refs, &mut out);
    }
    conn.send_raw(&out).expect("send");
    for _ in 0..50 {
        conn.read().expect("a reply");
    }
    let mut out = Vec::new();
    encode(&[b"BGSAVE"], &mut out);
    encode(&[b"BGSAVE"], &mut out);
    encode(&[b"BGSAVE", b"SCHEDULE"], &mut out);
    conn.send_raw(&out).expect("send");
    assert_eq!(
        conn.read().expect("reply").text(),
        "+Background saving started"
    );
    assert_eq!(
        conn.read().expect("reply").text(),
        "-ERR Background save already in progress"
    );
    assert_eq!(
        conn.read().expect("reply").text(),
        "+Background saving scheduled"
    );
    wait_for(&mut conn, "rdb_bgsave_in_progress", "0");
    assert_eq!(info_field(&mut conn, "rdb_last_bgsave_status"), "ok");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn log_file_names_must_be_plain_names() {
    let dir = temp_dir("names");
    let refused = start_refused(&dir, 1, &["--appendfilename", "a/b"]);
    assert!(
        refused.contains("appendfilename can't be a path, just a filename"),
        "{refused}"
    );
    let refused = start_refused(&dir, 1, &["--appenddirname", "../x"]);
    assert!(
        refused.contains("appenddirname can't be a path, just a dirname"),
        "{refused}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
