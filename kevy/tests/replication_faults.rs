//! Replication under faults, real binaries on loopback: a replica killed
//! and restarted (full sync), a primary frozen past the replica's link
//! timeout (the links drop and resume from the backlog: partial sync), a
//! replica frozen while the primary writes more than its output cap
//! (within the backlog it catches up; beyond it, a full sync), a primary
//! killed and restarted from its snapshot with another shard count, and
//! peers that send garbage or a future offset (refused with an error).

mod replication_support;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use replication_support::*;
use support::{Client, Value};

fn signal(process: &support::ServerProcess, signal: i32) {
    let pid = process.child.id() as i32;
    // SAFETY: kill(2) on a child process of this test; no memory involved.
    let result = unsafe { libc::kill(pid, signal) };
    assert_eq!(result, 0, "signal {signal} to {pid}");
}

fn big_writes(port: u16, count: usize, size: usize) {
    let mut client = Client::connect(port);
    let value = "v".repeat(size);
    for chunk in (0..count).collect::<Vec<_>>().chunks(100) {
        for i in chunk {
            client.send(&["SET", &format!("big:{i}"), &value]);
        }
        for _ in chunk {
            client.read().expect("a reply");
        }
    }
}

#[test]
fn killed_replica_restarts_with_a_full_sync() {
    let dir = temp_dir("kill-replica");
    let primary = kevy_on(&dir, 0, 2, &[]);
    write_load(primary.port, 10, 500);
    let replica_dir = dir.join("replica");
    std::fs::create_dir_all(&replica_dir).expect("dir");
    let mut replica = replica_of(&replica_dir, primary.port, 2, &[]);
    write_load(primary.port, 11, 300);
    let _ = replica.child.kill();
    let _ = replica.child.wait();
    write_load(primary.port, 12, 300);
    let replica = replica_of(&replica_dir, primary.port, 3, &[]);
    wait_converged(primary.port, replica.port, Duration::from_secs(10));
    assert_eq!(
        info_number(replica.port, "kevy_full_syncs"),
        2,
        "one per stream"
    );
    assert_eq!(info_number(replica.port, "kevy_partial_syncs"), 0);
}

#[test]
fn links_cut_by_a_timeout_resume_from_the_backlog() {
    let dir = temp_dir("resume");
    let primary = kevy_on(&dir, 0, 2, &[]);
    let replica = replica_of(&dir, primary.port, 2, &["--repl-timeout", "1"]);
    write_load(primary.port, 20, 400);
    wait_converged(primary.port, replica.port, Duration::from_secs(10));
    assert_eq!(info_number(replica.port, "kevy_full_syncs"), 2);
    // The primary says nothing for longer than the replica's timeout.
    signal(&primary, libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(2500));
    signal(&primary, libc::SIGCONT);
    write_load(primary.port, 21, 400);
    wait_converged(primary.port, replica.port, Duration::from_secs(10));
    assert!(
        info_number(replica.port, "kevy_partial_syncs") >= 2,
        "every stream resumed: {:?}",
        info_field(replica.port, "kevy_partial_syncs")
    );
    assert_eq!(
        info_number(replica.port, "kevy_full_syncs"),
        2,
        "no full sync after the cut"
    );
}

#[test]
fn frozen_replica_catches_up_within_the_backlog_and_resyncs_beyond_it() {
    let dir = temp_dir("frozen");
    // Within: a large backlog, an output cap far below what is written.
    let primary = kevy_on(
        &dir,
        0,
        1,
        &[
            "--repl-backlog-size",
            "64mb",
            "--client-output-buffer-limit",
            "replica 1mb 0 0",
        ],
    );
    let replica = replica_of(&dir, primary.port, 1, &[]);
    wait_link_up(replica.port, Duration::from_secs(10));
    signal(&replica, libc::SIGSTOP);
    big_writes(primary.port, 1500, 10_000);
    std::thread::sleep(Duration::from_millis(300));
    signal(&replica, libc::SIGCONT);
    wait_converged(primary.port, replica.port, Duration::from_secs(20));
    assert_eq!(info_number(replica.port, "kevy_full_syncs"), 1);

    // Beyond: the backlog holds less than the replica missed.
    let dir = temp_dir("frozen-beyond");
    let primary = kevy_on(
        &dir,
        0,
        1,
        &[
            "--repl-backlog-size",
            "1mb",
            "--client-output-buffer-limit",
            "replica 1mb 0 0",
        ],
    );
    let replica = replica_of(&dir, primary.port, 1, &[]);
    wait_link_up(replica.port, Duration::from_secs(10));
    signal(&replica, libc::SIGSTOP);
    big_writes(primary.port, 1500, 10_000);
    std::thread::sleep(Duration::from_millis(300));
    signal(&replica, libc::SIGCONT);
    wait_converged(primary.port, replica.port, Duration::from_secs(20));
    assert!(
        info_number(replica.port, "kevy_full_syncs") >= 2,
        "the replica fell out of the backlog and took a full sync"
    );
}

#[test]
fn restarted_primary_with_its_snapshot_and_other_shards_is_followed() {
    let dir = temp_dir("restart-primary");
    let fixed = support::free_port();
    let mut primary = kevy_on(&dir, fixed, 2, &[]);
    let replica_dir = dir.join("replica");
    std::fs::create_dir_all(&replica_dir).expect("dir");
    let replica = replica_of(&replica_dir, primary.port, 3, &[]);
    write_load(primary.port, 30, 500);
    ok(&mut Client::connect(primary.port), &["SAVE"]);
    let saved = digest(primary.port);
    wait_converged(primary.port, replica.port, Duration::from_secs(10));
    let _ = primary.child.kill();
    let _ = primary.child.wait();
    let primary = kevy_on(&dir, fixed, 3, &[]);
    assert_eq!(
        digest(primary.port),
        saved,
        "the primary loaded its snapshot"
    );
    write_load(primary.port, 31, 300);
    wait_converged(primary.port, replica.port, Duration::from_secs(15));
    assert_eq!(info_number(replica.port, "kevy_full_syncs"), 2 + 3);
}

/// The replication port of shard 0 of a primary.
fn replication_port(primary: u16) -> u16 {
    let topology = Client::connect(primary).call(&["REPLCONF", "KEVY-TOPOLOGY"]);
    match topology.items() {
        [Value::Int(_), Value::Int(port), ..] => *port as u16,
        other => panic!("topology {other:?}"),
    }
}

/// Sends `bytes` to a replication port and reads until the peer closes.
fn exchange(port: u16, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(bytes).expect("write");
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply).into_owned()
}

#[test]
fn garbage_and_future_offsets_are_refused_with_an_error() {
    let dir = temp_dir("garbage");
    let primary = kevy_on(&dir, 0, 2, &[]);
    ok(&mut Client::connect(primary.port), &["SET", "k", "v"]);
    let port = replication_port(primary.port);
    assert_eq!(
        exchange(port, b"hello there\r\n"),
        "-ERR replication: expected AUTH <user> <password>\r\n"
    );
    let reply = exchange(port, b"AUTH - -\r\n\x01\x02garbage\r\n");
    assert!(
        reply.starts_with("-ERR replication: malformed line"),
        "{reply}"
    );
    let replid = info_field(primary.port, "master_replid").expect("a replid");
    let future = format!("AUTH - -\r\nREPLICATE FROM {replid} 999999 ID intruder\r\n");
    let reply = exchange(port, future.as_bytes());
    assert!(
        reply.starts_with("-ERR replication: offset 999999 is beyond the primary's next offset"),
        "{reply}"
    );
    // The primary is unharmed.
    assert_eq!(
        Client::connect(primary.port).call(&["GET", "k"]),
        Value::Bulk(b"v".to_vec())
    );
}
