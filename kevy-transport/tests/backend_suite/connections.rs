//! Connection lifecycle on a backend: accepting on loops that share a port,
//! reading a request that arrives in pieces, the peer half-closing or
//! resetting, and closes the core asks for.

use std::net::Shutdown;
use std::sync::atomic::Ordering;
use std::time::Duration;

use kevy_transport::ShardLoop;
use socket2::SockRef;

use super::harness::{start, start_on, wait_until, Client, RunningLoop};
use super::line_handler::{count, HandlerConfig};

/// Several loops bound to one address (SO_REUSEPORT) all accept: the
/// kernel spreads connections over them and each loop serves its own.
pub fn accepts_on_every_loop_sharing_a_port<L: ShardLoop>() {
    const LOOPS: usize = 3;
    // With 90 connections spread by a hash of the peer port, a loop left
    // without any has a probability below 1e-15.
    const CONNECTIONS: usize = 90;
    let first = start::<L>(HandlerConfig::default());
    let mut loops = vec![first];
    for _ in 1..LOOPS {
        let addr = loops[0].addr;
        loops.push(start_on::<L>(addr, HandlerConfig::default()));
    }
    assert!(loops.iter().all(|l| l.addr == loops[0].addr));
    let mut clients: Vec<Client> = (0..CONNECTIONS)
        .map(|_| Client::connect(loops[0].addr))
        .collect();
    for (index, client) in clients.iter_mut().enumerate() {
        assert_eq!(
            client.request(&format!("ECHO client {index}")),
            format!("client {index}")
        );
    }
    let accepted: Vec<usize> = loops.iter().map(|l| count(&l.stats.accepted)).collect();
    assert_eq!(accepted.iter().sum::<usize>(), CONNECTIONS, "{accepted:?}");
    assert!(
        accepted.iter().all(|&n| n > 0),
        "a loop accepted nothing: {accepted:?}"
    );
    drop(clients);
    for running in &loops {
        wait_until("every connection is closed", || {
            count(&running.stats.closed) == count(&running.stats.accepted)
        });
    }
    for running in loops {
        running.stop();
    }
}

/// A request sent one byte at a time (each byte read on its own before the
/// next is sent) is assembled and answered once; pipelined requests in one
/// packet are answered in order.
pub fn reads_a_request_sent_one_byte_at_a_time<L: ShardLoop>() {
    let running = start::<L>(HandlerConfig::default());
    let mut client = Client::connect(running.addr);
    let request = b"ECHO one byte at a time\n";
    for (index, byte) in request.iter().enumerate() {
        client.send(std::slice::from_ref(byte));
        wait_until("the loop read the byte", || {
            count(&running.stats.bytes_read) == index + 1
        });
    }
    assert_eq!(count(&running.stats.reads), request.len());
    assert_eq!(client.read_line(), "one byte at a time");
    client.send(b"PING\nECHO a\nECHO b\nPING\n");
    assert_eq!(client.read_line(), "PONG");
    assert_eq!(client.read_line(), "a");
    assert_eq!(client.read_line(), "b");
    assert_eq!(client.read_line(), "PONG");
    running.stop();
}

/// After the peer shuts down its sending side, the replies to what it sent
/// are still delivered (a large one included), then the connection closes.
pub fn delivers_replies_after_the_peer_half_closes<L: ShardLoop>() {
    const RECORDS: usize = 500_000;
    let running = start::<L>(HandlerConfig::default());
    let mut client = Client::connect(running.addr);
    client.send(format!("PING\nECHO before the end\nBIG {RECORDS}\nPING\n").as_bytes());
    client
        .stream()
        .shutdown(Shutdown::Write)
        .expect("half-closing the client");
    assert_eq!(client.read_line(), "PONG");
    assert_eq!(client.read_line(), "before the end");
    client.read_big_reply(RECORDS, 64 * 1024, || {});
    assert_eq!(client.read_line(), "PONG");
    client.expect_closed();
    wait_until("the loop closed the connection", || {
        count(&running.stats.closed) == 1
    });
    assert_eq!(count(&running.stats.end_of_input), 1);
    running.stop();
}

/// Data and the end of input that arrive together (while the loop is busy,
/// so one readiness event reports both) are both seen: the reply is sent
/// and the connection closed.
pub fn sees_the_end_of_input_that_arrives_with_the_data<L: ShardLoop>() {
    let running = start::<L>(HandlerConfig::default());
    let mut holder = Client::connect(running.addr);
    let mut client = Client::connect(running.addr);
    assert_eq!(client.request("PING"), "PONG");
    running.stats.hold.store(true, Ordering::SeqCst);
    holder.send(b"HOLD\n");
    wait_until("the loop is held", || {
        running.stats.holding.load(Ordering::SeqCst)
    });
    client.send(b"ECHO with the end\n");
    client
        .stream()
        .shutdown(Shutdown::Write)
        .expect("half-closing the client");
    // Loopback delivers on send; the pause only makes sure both the data
    // and the FIN are queued before the loop polls again.
    std::thread::sleep(Duration::from_millis(50));
    running.stats.hold.store(false, Ordering::SeqCst);
    assert_eq!(holder.read_line(), "HELD");
    assert_eq!(client.read_line(), "with the end");
    client.expect_closed();
    wait_until("the loop closed the connection", || {
        count(&running.stats.closed) == 1
    });
    running.stop();
}

/// A close the core asks for happens only after its output is written,
/// even output that takes many writes; lines after it are not answered.
pub fn closes_after_the_output_when_the_core_asks<L: ShardLoop>() {
    const RECORDS: usize = 300_000;
    let running = start::<L>(HandlerConfig {
        output_limit: 64 << 20,
        ..HandlerConfig::default()
    });
    let mut short = Client::connect(running.addr);
    short.send(b"ECHO last words\nQUIT\nPING\n");
    assert_eq!(short.read_line(), "last words");
    assert_eq!(short.read_line(), "BYE");
    short.expect_closed();

    let mut long = Client::connect(running.addr);
    long.send(format!("BIG {RECORDS}\nQUIT\n").as_bytes());
    // Let the loop fill the socket and block before reading anything.
    wait_until("the reply is queued", || {
        count(&running.stats.pending_output) > 0
    });
    running.wait_until_asleep();
    long.read_big_reply(RECORDS, 64 * 1024, || {});
    assert_eq!(long.read_line(), "BYE");
    long.expect_closed();
    wait_until("both connections are closed", || {
        count(&running.stats.closed) == 2
    });
    assert_eq!(count(&running.stats.pending_output), 0);
    running.stop();
}

/// A peer that resets its connection (with or without output owed to it)
/// is closed and reported; the loop keeps serving everyone else.
pub fn survives_connections_reset_by_the_peer<L: ShardLoop>() {
    const RECORDS: usize = 1_000_000;
    let running = start::<L>(HandlerConfig::default());
    let mut bystander = Client::connect(running.addr);
    assert_eq!(bystander.request("PING"), "PONG");

    // Reset while idle.
    let mut idle = Client::connect(running.addr);
    assert_eq!(idle.request("PING"), "PONG");
    reset(idle);
    wait_until("the idle connection is closed", || {
        count(&running.stats.closed) == 1
    });

    // Reset while the loop is blocked writing a large reply to it.
    let mut owed = Client::connect(running.addr);
    owed.send(format!("BIG {RECORDS}\n").as_bytes());
    wait_until("the reply is queued", || {
        count(&running.stats.pending_output) > 0
    });
    running.wait_until_asleep();
    reset(owed);
    wait_until("the connection owed a reply is closed", || {
        count(&running.stats.closed) == 2
    });
    assert_eq!(count(&running.stats.pending_output), 0);

    assert_eq!(bystander.request("ECHO still here"), "still here");
    running.assert_running();
    running.stop();
}

/// Closes `client` with a RST instead of a FIN (SO_LINGER with timeout 0).
fn reset(client: Client) {
    SockRef::from(client.stream())
        .set_linger(Some(Duration::ZERO))
        .expect("setting SO_LINGER");
    drop(client);
}

/// `run` returns once `stop_requested` holds, whether a wake or the tick
/// makes it look; connections still open are closed.
pub fn stop_requested_ends_run<L: ShardLoop>() {
    // Woken by the waker: the default tick would take an hour.
    let running = start::<L>(HandlerConfig::default());
    let mut client = Client::connect(running.addr);
    assert_eq!(client.request("PING"), "PONG");
    running.wait_until_asleep();
    running.stop();
    client.expect_closed();

    // Noticed on the next tick, with no wake at all.
    let running = start::<L>(HandlerConfig {
        tick_interval: Duration::from_millis(5),
        ..HandlerConfig::default()
    });
    wait_until("a tick ran", || {
        running.stats.ticks.load(Ordering::SeqCst) > 0
    });
    running.stats.stop.store(true, Ordering::SeqCst);
    running.wait_for_end();
    drop::<RunningLoop>(running);
}
