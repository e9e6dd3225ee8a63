//! Snapshots end to end with the real binary: data of every type with
//! TTLs saved by `SAVE`/`BGSAVE` and found again after a restart with
//! another number of shards; a damaged snapshot refused at start with
//! the file and offset in the error; `kevy check-snapshot` on good,
//! truncated and flipped files.

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{spawn_kevy, Client, ServerProcess, Value};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kevy-persist-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

fn kevy_in(dir: &Path, shards: usize, extra: &[&str]) -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kevy"));
    command
        .args(["--threads", &shards.to_string()])
        .args(["--dir", &dir.to_string_lossy()])
        .args(extra)
        .current_dir(dir);
    let (child, port) = spawn_kevy(command);
    ServerProcess { child, port }
}

fn ok(client: &mut Client, args: &[&str]) {
    let reply = client.call(args);
    assert!(
        !matches!(reply, Value::Error(_)),
        "{args:?} failed: {reply:?}"
    );
}

/// Every key of the databases used, with its serialized value (`DUMP`),
/// its absolute expiry (`PEXPIRETIME`) and its type.
fn contents(client: &mut Client) -> BTreeMap<(u8, Vec<u8>), (String, Value, Value)> {
    let mut all = BTreeMap::new();
    for db in [0u8, 3] {
        ok(client, &["SELECT", &db.to_string()]);
        let keys = client.call(&["KEYS", "*"]);
        for key in keys.items() {
            let Value::Bulk(key) = key else {
                panic!("KEYS replied {key:?}")
            };
            let name = String::from_utf8_lossy(key).into_owned();
            let kind = client.call(&["TYPE", &name]).text();
            let dump = client.call(&["DUMP", &name]);
            let expiry = client.call(&["PEXPIRETIME", &name]);
            all.insert((db, key.clone()), (kind, dump, expiry));
        }
    }
    ok(client, &["SELECT", "0"]);
    all
}

fn populate(client: &mut Client, keys: usize) {
    for db in ["0", "3"] {
        ok(client, &["SELECT", db]);
        for i in 0..keys {
            let n = i.to_string();
            let k = |t: &str| format!("{t}:{db}:{i}");
            ok(client, &["SET", &k("s"), &format!("value-{i}")]);
            ok(client, &["SET", &k("n"), &n, "EX", "100000"]);
            ok(client, &["HSET", &k("h"), "f1", &n, "f2", "x"]);
            ok(client, &["RPUSH", &k("l"), "a", &n, "c"]);
            ok(client, &["SADD", &k("set"), "m1", &n]);
            ok(client, &["ZADD", &k("z"), "1.5", "a", &n, "b"]);
            ok(client, &["XADD", &k("x"), "*", "f", &n]);
            ok(client, &["PEXPIRE", &k("h"), "9000000"]);
        }
        ok(
            client,
            &["XGROUP", "CREATE", &format!("x:{db}:0"), "g", "0"],
        );
        ok(
            client,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c1",
                "STREAMS",
                &format!("x:{db}:0"),
                ">",
            ],
        );
        ok(client, &["SET", "{tag}a", "1"]);
        ok(client, &["SET", "{tag}b", "2", "PX", "5000000"]);
    }
    ok(client, &["SELECT", "0"]);
}

fn stop(server: ServerProcess) {
    drop(server);
}

#[test]
fn saved_data_survives_a_restart_with_another_shard_count() {
    let dir = temp_dir("restart");
    let server = kevy_in(&dir, 4, &[]);
    let mut client = Client::connect(server.port);
    populate(&mut client, 30);
    let before = contents(&mut client);
    assert_eq!(client.call(&["SAVE"]), Value::Simple("OK".into()));
    let last = client.call(&["LASTSAVE"]);
    assert!(matches!(last, Value::Int(n) if n > 1_600_000_000));
    stop(server);
    for shards in [3, 1] {
        let server = kevy_in(&dir, shards, &[]);
        let mut client = Client::connect(server.port);
        assert_eq!(
            contents(&mut client),
            before,
            "restarted with {shards} shards"
        );
        stop(server);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn wait_for_bgsave(client: &mut Client, before: &Value) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = client.call(&["LASTSAVE"]);
        let info = client.call(&["INFO", "persistence"]).text();
        if &now != before && !info.contains("rdb_bgsave_in_progress:1") {
            return;
        }
        assert!(Instant::now() < deadline, "BGSAVE did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bgsave_while_writes_continue() {
    let dir = temp_dir("bgsave");
    let server = kevy_in(&dir, 2, &[]);
    let mut client = Client::connect(server.port);
    populate(&mut client, 200);
    let before = contents(&mut client);
    let last = client.call(&["LASTSAVE"]);
    // LASTSAVE has one-second resolution.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        client.call(&["BGSAVE"]),
        Value::Simple("Background saving started".into())
    );
    let mut writer = Client::connect(server.port);
    for i in 0..500 {
        ok(&mut writer, &["SET", &format!("after:{i}"), "x"]);
        ok(
            &mut writer,
            &["SET", &format!("s:0:{}", i % 200), "changed"],
        );
    }
    wait_for_bgsave(&mut client, &last);
    stop(server);
    let server = kevy_in(&dir, 3, &[]);
    let mut client = Client::connect(server.port);
    let after = contents(&mut client);
    for (key, value) in &before {
        let found = after
            .get(key)
            .expect("a key written before BGSAVE is there");
        if !key.1.starts_with(b"s:0:") {
            assert_eq!(found, value, "key {key:?}");
        }
    }
    stop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

fn run_kevy(dir: &Path, args: &[&str]) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kevy"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kevy starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("kevy {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    child.stdout.take().map(|mut s| s.read_to_string(&mut out));
    child.stderr.take().map(|mut s| s.read_to_string(&mut out));
    (status.success(), out)
}

#[test]
fn damaged_snapshots_are_refused_and_checked() {
    let dir = temp_dir("damaged");
    let server = kevy_in(&dir, 2, &[]);
    let mut client = Client::connect(server.port);
    populate(&mut client, 20);
    ok(&mut client, &["SAVE"]);
    stop(server);
    let file = dir.join("dump.rdb");
    let good = std::fs::read(&file).expect("the snapshot exists");
    let (sound, report) = run_kevy(&dir, &["check-snapshot", "dump.rdb"]);
    assert!(sound, "{report}");
    assert!(
        report.contains("OK") && report.contains("streams"),
        "{report}"
    );

    let truncated = dir.join("truncated.rdb");
    std::fs::write(&truncated, &good[..good.len() * 2 / 3]).expect("write");
    let (sound, report) = run_kevy(&dir, &["check-snapshot", "truncated.rdb"]);
    assert!(!sound && report.contains("BAD at offset"), "{report}");

    let mut flipped = good.clone();
    let middle = good.len() / 2;
    flipped[middle] ^= 0x5a;
    std::fs::write(dir.join("flipped.rdb"), &flipped).expect("write");
    let (sound, report) = run_kevy(&dir, &["check-snapshot", "flipped.rdb"]);
    assert!(!sound && report.contains("BAD at offset"), "{report}");

    // The server refuses to start on either, naming file and offset.
    for name in ["flipped.rdb", "truncated.rdb"] {
        let dir_arg = dir.to_string_lossy().into_owned();
        let (started, log) = run_kevy(
            &dir,
            &["--port", "0", "--dir", &dir_arg, "--dbfilename", name],
        );
        assert!(!started, "{log}");
        assert!(log.contains(name) && log.contains("offset"), "{log}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn info_field(client: &mut Client, name: &str) -> String {
    let info = client.call(&["INFO", "persistence"]).text();
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}:")))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn save_points_trigger_a_background_save_and_info_reports_it() {
    let dir = temp_dir("savepoints");
    let server = kevy_in(&dir, 2, &["--save", "1 3"]);
    let mut client = Client::connect(server.port);
    assert_eq!(info_field(&mut client, "rdb_saves"), "0");
    for i in 0..5 {
        ok(&mut client, &["SET", &format!("k{i}"), "v"]);
    }
    assert_eq!(info_field(&mut client, "rdb_changes_since_last_save"), "5");
    let deadline = Instant::now() + Duration::from_secs(20);
    while info_field(&mut client, "rdb_saves") == "0" {
        assert!(Instant::now() < deadline, "the save point never fired");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(info_field(&mut client, "rdb_changes_since_last_save"), "0");
    assert_eq!(info_field(&mut client, "rdb_last_bgsave_status"), "ok");
    assert!(dir.join("dump.rdb").exists());
    stop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "zstd")]
#[test]
fn zstd_snapshots_restart_and_record_their_codec() {
    let dir = temp_dir("zstd");
    let server = kevy_in(&dir, 2, &["--snapshot-compression", "zstd"]);
    let mut client = Client::connect(server.port);
    populate(&mut client, 20);
    let before = contents(&mut client);
    ok(&mut client, &["SAVE"]);
    stop(server);
    let (sound, report) = run_kevy(&dir, &["check-snapshot", "dump.rdb"]);
    assert!(sound && report.contains("zstd"), "{report}");
    // The file names its codec: a server configured for none reads it.
    let server = kevy_in(&dir, 3, &[]);
    let mut client = Client::connect(server.port);
    assert_eq!(contents(&mut client), before);
    stop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
