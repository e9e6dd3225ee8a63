//! Output flow on a backend: replies far larger than the socket buffers
//! (partial writes resumed on writable edges) and a peer that never reads
//! (back-pressure: bounded pending output, others still served, no spin).

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;

use kevy_transport::ShardLoop;
use socket2::{Domain, Protocol, Socket, Type};

use super::harness::{start, wait_until, Client};
use super::line_handler::{count, HandlerConfig, RECORD_LEN};

/// A reply of tens of MB read slowly, in small odd-sized pieces, arrives
/// intact and in order, and the requests after it are answered after it.
pub fn writes_a_large_reply_to_a_slow_reader<L: ShardLoop>() {
    // 32 MB: several times what the socket buffers of both ends hold.
    const RECORDS: usize = 2 * 1024 * 1024;
    let running = start::<L>(HandlerConfig {
        output_limit: 64 << 20,
        ..HandlerConfig::default()
    });
    let mut client = Client::connect(running.addr);
    client.send(format!("ECHO first\nBIG {RECORDS}\nECHO after\n").as_bytes());
    assert_eq!(client.read_line(), "first");
    // The loop writes until the socket is full, then sleeps until the
    // client reads: every later write is resumed by a writable edge.
    running.wait_until_asleep();
    let writes_before_reading = count(&running.stats.writes);
    let mut reads = 0u32;
    client.read_big_reply(RECORDS, 4093, || {
        reads += 1;
        if reads % 1024 == 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    });
    assert_eq!(client.read_line(), "after");
    assert!(
        count(&running.stats.writes) > writes_before_reading + 1,
        "the reply was not written in several parts"
    );
    wait_until("the output is flushed", || {
        count(&running.stats.output_flushed) > 0
    });
    assert_eq!(client.request("PING"), "PONG");
    running.stop();
}

/// A peer that sends many requests for large replies and never reads:
/// its unwritten output stays bounded by the handler's limit plus one
/// reply, the loop goes to sleep instead of spinning, other connections
/// are served meanwhile, and once the peer reads, every reply arrives.
pub fn keeps_serving_others_while_a_peer_never_reads<L: ShardLoop>() {
    const REQUESTS: usize = 16;
    const RECORDS: usize = 128 * 1024; // 2 MB per reply
    const LIMIT: usize = 1 << 20;
    let running = start::<L>(HandlerConfig {
        output_limit: LIMIT,
        ..HandlerConfig::default()
    });
    let mut stalled = Client::from_stream(connect_with_small_receive_buffer(running.addr));
    let requests = format!("BIG {RECORDS}\n").repeat(REQUESTS);
    stalled.send(requests.as_bytes());
    wait_until("every request is read", || {
        count(&running.stats.bytes_read) == requests.len()
    });

    let mut other = Client::connect(running.addr);
    for index in 0..100 {
        assert_eq!(other.request(&format!("ECHO {index}")), index.to_string());
    }
    // No busy loop: with the stalled peer's socket full, nothing is left
    // to do, and the loop must sleep (waits for a quiet iteration count).
    running.wait_until_asleep();
    let answered = count(&running.stats.lines_answered) - 100;
    assert!(
        answered < REQUESTS,
        "the handler never paused ({answered} of {REQUESTS} answered)"
    );
    // The limit plus one reply, and a little for the other client's echoes.
    let bound = LIMIT + RECORDS * RECORD_LEN + 4096;
    let max_pending = count(&running.stats.max_pending_output);
    assert!(
        max_pending <= bound,
        "pending output reached {max_pending} > {bound}"
    );
    let iterations_asleep = running.stats.iterations.load(Ordering::SeqCst);
    assert_eq!(other.request("PING"), "PONG");
    assert!(running.stats.iterations.load(Ordering::SeqCst) > iterations_asleep);

    for _ in 0..REQUESTS {
        stalled.read_big_reply(RECORDS, 64 * 1024, || {});
    }
    assert_eq!(stalled.request("PING"), "PONG");
    assert!(count(&running.stats.output_flushed) > 0);
    assert!(count(&running.stats.max_pending_output) <= bound);
    running.stop();
}

/// A client socket whose receive buffer is fixed small (no autotuning), so
/// the loop meets a full socket after a few MB whatever the host settings.
fn connect_with_small_receive_buffer(addr: SocketAddr) -> TcpStream {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP)).expect("a client socket");
    socket
        .set_recv_buffer_size(64 * 1024)
        .expect("setting SO_RCVBUF");
    socket
        .connect(&addr.into())
        .expect("connecting to the loop");
    socket.into()
}
