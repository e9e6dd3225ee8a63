//! Replication end to end with real binaries on loopback: replicas with
//! other shard counts than their primary converge under a write load of
//! every data type (`DEBUG DIGEST` equal), `WAIT` counts acknowledging
//! replicas, a chain primary → replica → replica, authentication with
//! `masterauth`, read-only replicas and the commands' errors.

mod replication_support;
mod support;

use std::time::Duration;

use replication_support::*;
use support::{Client, Value};

#[test]
fn two_replicas_with_other_shard_counts_converge_under_load() {
    let dir = temp_dir("converge");
    let primary = kevy_on(&dir, 0, 2, &[]);
    write_load(primary.port, 1, 300);
    let one = replica_of(&dir, primary.port, 1, &[]);
    let three = replica_of(&dir, primary.port, 3, &[]);
    // Writes while the replicas sync and after.
    write_load(primary.port, 2, 1500);
    let mut client = Client::connect(primary.port);
    let acked = client.call(&["WAIT", "2", "10000"]);
    if acked != Value::Int(2) {
        for port in [primary.port, one.port, three.port] {
            eprintln!(
                "{}",
                Client::connect(port).call(&["INFO", "replication"]).text()
            );
        }
        if std::env::var("KEVY_STUCK").is_ok() {
            let _ = std::fs::write(
                "/tmp/stuck.pids",
                format!("{} {}", one.child.id(), three.child.id()),
            );
            std::thread::sleep(Duration::from_secs(40));
        }
    }
    assert_eq!(acked, Value::Int(2), "both replicas acknowledge");
    wait_converged(primary.port, one.port, Duration::from_secs(10));
    wait_converged(primary.port, three.port, Duration::from_secs(10));
    assert_ne!(digest(primary.port), 0);
    assert_eq!(info_number(primary.port, "connected_slaves"), 2);
    let role = Client::connect(one.port).call(&["ROLE"]);
    assert_eq!(role.items()[0], Value::Bulk(b"slave".to_vec()));
    assert_eq!(role.items()[3], Value::Bulk(b"connected".to_vec()));
    // Replicas refuse client writes.
    assert_eq!(
        Client::connect(three.port).call(&["SET", "k", "v"]),
        Value::Error("READONLY You can't write against a read only replica.".into())
    );
    assert_eq!(
        Client::connect(three.port).call(&["WAIT", "0", "0"]),
        Value::Error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.".into())
    );
    // A promoted replica takes writes and starts a new history.
    let before = info_field(one.port, "master_replid");
    let mut promoted = Client::connect(one.port);
    ok(&mut promoted, &["REPLICAOF", "NO", "ONE"]);
    ok(&mut promoted, &["SET", "after-promotion", "1"]);
    assert_ne!(info_field(one.port, "master_replid"), before);
    assert_eq!(info_field(one.port, "role").as_deref(), Some("master"));
}

#[test]
fn chain_of_replicas_with_flushes_and_swaps() {
    let dir = temp_dir("chain");
    let primary = kevy_on(&dir, 0, 3, &[]);
    let middle = replica_of(&dir, primary.port, 2, &[]);
    let last = replica_of(&dir, middle.port, 1, &[]);
    write_load(primary.port, 3, 600);
    let mut client = Client::connect(primary.port);
    ok(&mut client, &["SELECT", "3"]);
    ok(&mut client, &["FLUSHDB"]);
    ok(&mut client, &["SELECT", "0"]);
    write_load(primary.port, 4, 400);
    wait_converged(primary.port, middle.port, Duration::from_secs(10));
    wait_converged(primary.port, last.port, Duration::from_secs(10));
    ok(&mut client, &["SWAPDB", "0", "3"]);
    write_load(primary.port, 6, 200);
    wait_converged(primary.port, middle.port, Duration::from_secs(10));
    wait_converged(primary.port, last.port, Duration::from_secs(10));
    ok(&mut client, &["FLUSHALL"]);
    write_load(primary.port, 5, 200);
    wait_converged(primary.port, middle.port, Duration::from_secs(10));
    wait_converged(primary.port, last.port, Duration::from_secs(10));
}

#[test]
fn wait_counts_replicas_and_times_out() {
    let dir = temp_dir("wait");
    let primary = kevy_on(&dir, 0, 2, &[]);
    let mut client = Client::connect(primary.port);
    // No replica: nothing acknowledges, the timeout answers.
    ok(&mut client, &["SET", "a", "1"]);
    assert_eq!(client.call(&["WAIT", "1", "100"]), Value::Int(0));
    assert_eq!(client.call(&["WAIT", "0", "0"]), Value::Int(0));
    let replica = replica_of(&dir, primary.port, 1, &[]);
    wait_link_up(replica.port, Duration::from_secs(10));
    for i in 0..20 {
        ok(&mut client, &["SET", &format!("key{i}"), "v"]);
        assert_eq!(client.call(&["WAIT", "1", "5000"]), Value::Int(1));
        assert_eq!(
            Client::connect(replica.port).call(&["GET", &format!("key{i}")]),
            Value::Bulk(b"v".to_vec()),
            "WAIT returned before the replica applied the write"
        );
    }
    // More replicas than exist: the timeout answers with those that did.
    assert_eq!(client.call(&["WAIT", "2", "200"]), Value::Int(1));
    // Argument errors, as redis-server 7.0 words them.
    assert_eq!(
        client.call(&["WAIT", "x", "0"]),
        Value::Error("ERR value is not an integer or out of range".into())
    );
    assert_eq!(
        client.call(&["WAIT", "1", "x"]),
        Value::Error("ERR timeout is not an integer or out of range".into())
    );
    assert_eq!(
        client.call(&["WAIT", "1", "-1"]),
        Value::Error("ERR timeout is negative".into())
    );
    assert_eq!(
        client.call(&["REPLICAOF", "127.0.0.1", "99999"]),
        Value::Error("ERR Invalid master port".into())
    );
    assert_eq!(
        client.call(&["REPLICAOF", "no"]),
        Value::Error("ERR wrong number of arguments for 'replicaof' command".into())
    );
    assert_eq!(
        Client::connect(replica.port).call(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]),
        Value::Simple("OK Already connected to specified master".into())
    );
}

#[test]
fn masterauth_is_required_by_a_primary_with_a_password() {
    let dir = temp_dir("auth");
    let primary = kevy_on(&dir, 0, 2, &["--requirepass", "s3cret"]);
    let mut client = Client::connect(primary.port);
    ok(&mut client, &["AUTH", "s3cret"]);
    ok(&mut client, &["SET", "guarded", "1"]);
    let good = replica_of(&dir, primary.port, 2, &["--masterauth", "s3cret"]);
    wait_link_up(good.port, Duration::from_secs(10));
    assert_eq!(
        Client::connect(good.port).call(&["GET", "guarded"]),
        Value::Bulk(b"1".to_vec())
    );
    let bad = replica_of(&dir, primary.port, 1, &["--masterauth", "wrong"]);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        info_field(bad.port, "master_link_status").as_deref(),
        Some("down")
    );
    let error = info_field(bad.port, "kevy_last_link_error").unwrap_or_default();
    assert!(error.contains("WRONGPASS"), "{error}");
    assert_eq!(Client::connect(bad.port).call(&["DBSIZE"]), Value::Int(0));
}
