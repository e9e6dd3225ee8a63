//! Pub/Sub on two shard cores wired by the real mesh, driven by hand:
//! a message published on one shard reaches subscribers on the other, the
//! receiver counts add up, and a message never overtakes a reply its
//! subscriber still waits for.

use std::net::SocketAddr;
use std::sync::Arc;

use kevy_transport::{ShardHandler, Waker};

use crate::config::Config;
use crate::shard::mesh::{build_mesh, Doorbell};
use crate::shard::{ServerShared, ShardCore};

struct NoWaker;

impl Waker for NoWaker {
    fn wake(&self) {}
}

fn cores(shards: usize) -> Vec<ShardCore> {
    let doorbells: Arc<[Doorbell]> = (0..shards)
        .map(|_| Doorbell::new(Arc::new(NoWaker)))
        .collect();
    let shared = Arc::new(ServerShared::new(shards, 0));
    build_mesh(doorbells)
        .into_iter()
        .enumerate()
        .map(|(id, mesh)| ShardCore::new(id, shared.clone(), Config::default(), mesh))
        .collect()
}

fn command(parts: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for part in parts {
        out.extend_from_slice(format!("${}\r\n{part}\r\n", part.len()).as_bytes());
    }
    out
}

fn connect(core: &mut ShardCore, conn: usize) {
    let addr: SocketAddr = "127.0.0.1:1".parse().expect("literal address");
    core.on_accept(conn, addr, addr);
}

fn send(core: &mut ShardCore, conn: usize, parts: &[&str]) {
    core.on_read(conn, &command(parts));
    core.end_of_iteration();
}

/// Lets every core drain its inbox until no message is left in flight.
fn settle(cores: &mut [ShardCore]) {
    for _ in 0..8 {
        for core in cores.iter_mut() {
            core.on_inbox();
            core.end_of_iteration();
        }
    }
}

fn take_output(core: &mut ShardCore, conn: usize) -> String {
    let out = core.pending_output(conn).to_vec();
    core.consume_output(conn, out.len());
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn publish_reaches_every_shard_and_counts_every_receiver() {
    let mut cores = cores(2);
    connect(&mut cores[0], 0);
    connect(&mut cores[0], 1);
    connect(&mut cores[1], 0);
    send(&mut cores[0], 1, &["SUBSCRIBE", "news"]);
    send(&mut cores[1], 0, &["PSUBSCRIBE", "n*"]);
    take_output(&mut cores[0], 1);
    take_output(&mut cores[1], 0);
    send(&mut cores[0], 0, &["PUBLISH", "news", "hi"]);
    settle(&mut cores);
    assert_eq!(take_output(&mut cores[0], 0), ":2\r\n");
    assert_eq!(
        take_output(&mut cores[0], 1),
        "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    );
    assert_eq!(
        take_output(&mut cores[1], 0),
        "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    );
    send(&mut cores[0], 0, &["PUBSUB", "NUMPAT"]);
    send(&mut cores[0], 0, &["PUBSUB", "NUMSUB", "news", "n*"]);
    settle(&mut cores);
    assert_eq!(
        take_output(&mut cores[0], 0),
        ":1\r\n*4\r\n$4\r\nnews\r\n:1\r\n$2\r\nn*\r\n:0\r\n"
    );
    // A closed subscriber no longer counts.
    cores[1].on_closed(0);
    send(&mut cores[0], 0, &["PUBLISH", "news", "again"]);
    settle(&mut cores);
    assert_eq!(take_output(&mut cores[0], 0), ":1\r\n");
}

#[test]
fn a_message_waits_behind_a_reply_still_owed() {
    let mut cores = cores(2);
    connect(&mut cores[0], 0);
    connect(&mut cores[1], 0);
    let remote_key = (0..)
        .map(|i| format!("key{i}"))
        .find(|k| cores[1].shared.slots.shard_of(k.as_bytes()) == 0)
        .expect("some key lives on shard 0");
    // Pipelined: a GET owed by shard 0, then SUBSCRIBE (answered at once
    // but queued behind the GET).
    let mut input = command(&["GET", &remote_key]);
    input.extend(command(&["SUBSCRIBE", "news"]));
    cores[1].on_read(0, &input);
    // The publish reaches shard 1 before shard 0 has answered the GET.
    send(&mut cores[0], 0, &["PUBLISH", "news", "hi"]);
    cores[1].on_inbox();
    cores[1].end_of_iteration();
    assert_eq!(take_output(&mut cores[1], 0), "");
    settle(&mut cores);
    assert_eq!(
        take_output(&mut cores[1], 0),
        "$-1\r\n*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    );
    assert_eq!(take_output(&mut cores[0], 0), ":1\r\n");
}
