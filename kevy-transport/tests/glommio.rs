//! Tests of the glommio shard loop over real sockets on 127.0.0.1.
//!
//! A small line protocol stands in for the shard core: `LineHandler`
//! (in `glommio_support/`) echoes each line, answers `big N` with N bytes,
//! closes after replying to `quit`, and counts inbox messages that other
//! threads push and announce through the loop's waker. Each test starts
//! one or more loops on their own threads, talks to them with blocking std
//! clients, and stops them through the handler's stop flag and the waker.
//! Timeouts are generous and only turn a hang into a failure.

#![cfg(all(feature = "glommio", target_os = "linux"))]

mod glommio_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;
use std::time::Duration;

use glommio_support::{big_reply_byte, connect, read_line, wait_until, Server, LONG_TIMEOUT};
use kevy_transport::glommio_backend::{GlommioConfig, GlommioLoop};
use kevy_transport::{ShardLoop, TransportError};

#[test]
fn echoes_lines_on_several_loops_sharing_a_port() {
    let server = Server::start(3, Duration::from_millis(50));
    let mut clients: Vec<_> = (0..24).map(|_| connect(server.addr)).collect();
    for round in 0..5 {
        for (index, client) in clients.iter_mut().enumerate() {
            client
                .get_mut()
                .write_all(format!("echo {index}-{round}\n").as_bytes())
                .unwrap();
        }
        for (index, client) in clients.iter_mut().enumerate() {
            assert_eq!(read_line(client), format!("{index}-{round}"));
        }
    }
    let served = server.accepted_per_loop();
    assert_eq!(served.iter().sum::<usize>(), 24);
    assert!(
        served.iter().filter(|&&n| n > 0).count() >= 2,
        "the kernel spread connections over the loops: {served:?}"
    );
    server.stop();
}

#[test]
fn input_arriving_one_byte_at_a_time_is_reassembled() {
    let server = Server::start(1, Duration::from_millis(50));
    let mut client = connect(server.addr);
    client.get_ref().set_nodelay(true).unwrap();
    let request = b"echo partial reads work\necho twice\n";
    for byte in request {
        client.get_mut().write_all(&[*byte]).unwrap();
        client.get_mut().flush().unwrap();
    }
    assert_eq!(read_line(&mut client), "partial reads work");
    // The reply is also taken one byte at a time.
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while reply.last() != Some(&b'\n') {
        client.read_exact(&mut byte).unwrap();
        reply.push(byte[0]);
    }
    assert_eq!(reply, b"twice\n");
    server.stop();
}

#[test]
fn a_reply_of_tens_of_megabytes_read_slowly_arrives_intact() {
    const LEN: usize = 40 * 1024 * 1024;
    let server = Server::start(1, Duration::from_millis(50));
    let mut client = connect(server.addr);
    client
        .get_mut()
        .write_all(format!("big {LEN}\necho after\n").as_bytes())
        .unwrap();
    // Let the socket buffers fill so the loop has to wait for writability.
    std::thread::sleep(Duration::from_millis(200));
    let mut received = 0usize;
    let mut chunk = vec![0u8; 4096];
    let mut reads = 0u64;
    while received < LEN {
        let want = chunk.len().min(LEN - received);
        let n = client.read(&mut chunk[..want]).unwrap();
        assert!(n > 0, "connection closed after {received} bytes");
        for (offset, &byte) in chunk[..n].iter().enumerate() {
            assert_eq!(
                byte,
                big_reply_byte(received + offset),
                "byte {}",
                received + offset
            );
        }
        received += n;
        reads += 1;
        if reads % 256 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert_eq!(read_line(&mut client), "after");
    server.stop();
}

#[test]
fn a_request_larger_than_the_read_budget_is_read_over_iterations() {
    // 3 MiB in one line: more than one iteration's read budget (1 MiB), so
    // the loop carries the connection over to its next iterations.
    let server = Server::start(1, Duration::from_millis(50));
    let mut client = connect(server.addr);
    let text = "x".repeat(3 * 1024 * 1024);
    client
        .get_mut()
        .write_all(format!("echo {text}\n").as_bytes())
        .unwrap();
    assert!(read_line(&mut client) == text);
    let shared = server.shared(0);
    wait_until("the loop reports the output flushed", || {
        shared.flushed.load(Ordering::SeqCst) >= 1
    });
    server.stop();
}

#[test]
fn a_peer_that_never_reads_does_not_stop_other_connections() {
    let server = Server::start(1, Duration::from_millis(50));
    let mut stalled = connect(server.addr);
    stalled
        .get_mut()
        .write_all(b"big 50000000\necho never read\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    for round in 0..50 {
        let mut client = connect(server.addr);
        client
            .get_mut()
            .write_all(format!("echo {round}\n").as_bytes())
            .unwrap();
        assert_eq!(read_line(&mut client), round.to_string());
    }
    drop(stalled);
    // The loop notices the dead peer (its write fails) and keeps serving.
    let mut client = connect(server.addr);
    client.get_mut().write_all(b"echo still here\n").unwrap();
    assert_eq!(read_line(&mut client), "still here");
    server.stop();
}

#[test]
fn the_waker_runs_the_inbox_of_a_sleeping_loop() {
    // A tick so long that only the waker can make the loop run `on_inbox`.
    let server = Server::start(1, Duration::from_secs(3600));
    let shared = server.shared(0);
    // Let the loop settle and park.
    wait_until("the loop parks", || shared.parks.load(Ordering::SeqCst) > 0);
    for message in 1..=2000u64 {
        // Wake only a loop that is asleep (it allowed the sleep and has
        // not woken since), so every wake below has to rouse it.
        wait_until("the loop sleeps", || {
            shared.parks.load(Ordering::SeqCst) > shared.unparks.load(Ordering::SeqCst)
        });
        shared.push_inbox(message);
        server.wakers[0].wake();
        wait_until("the woken loop drains its inbox", || {
            shared.inbox_sum.load(Ordering::SeqCst) == message * (message + 1) / 2
        });
    }
    server.stop();
}

#[test]
fn output_produced_by_the_inbox_reaches_idle_connections() {
    let server = Server::start(1, Duration::from_secs(3600));
    let shared = server.shared(0);
    let mut clients: Vec<_> = (0..5).map(|_| connect(server.addr)).collect();
    for client in &mut clients {
        client.get_mut().write_all(b"echo ready\n").unwrap();
        assert_eq!(read_line(client), "ready");
    }
    for round in 0..20 {
        wait_until("the loop sleeps", || {
            shared.parks.load(Ordering::SeqCst) > shared.unparks.load(Ordering::SeqCst)
        });
        shared.push_note(&format!("note {round}"));
        server.wakers[0].wake();
        for client in &mut clients {
            assert_eq!(read_line(client), format!("note {round}"));
        }
    }
    server.stop();
}

#[test]
fn a_wake_arriving_while_the_loop_decides_to_sleep_is_not_lost() {
    // Each message is sent as soon as the previous one was drained, so it
    // lands while the loop finishes its iteration and prepares to sleep
    // (made slower here); a wake lost in that window hangs the test.
    let server = Server::start(1, Duration::from_secs(3600));
    let shared = server.shared(0);
    shared.park_delay_us.store(20, Ordering::SeqCst);
    for message in 1..=3000u64 {
        shared.push_inbox(1);
        server.wakers[0].wake();
        wait_until("the loop drains the message", || {
            shared.inbox_sum.load(Ordering::SeqCst) == message
        });
    }
    shared.park_delay_us.store(0, Ordering::SeqCst);
    server.stop();
}

#[test]
fn many_wakes_racing_with_parking_are_never_lost() {
    const THREADS: u64 = 4;
    const MESSAGES: u64 = 5000;
    let server = Server::start(2, Duration::from_secs(3600));
    let producers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let target = (thread % 2) as usize;
            let shared = server.shared(target);
            let waker = server.wakers[target].clone();
            std::thread::spawn(move || {
                for message in 0..MESSAGES {
                    shared.push_inbox(1);
                    waker.wake();
                    if message % 64 == thread {
                        // Give the loop a chance to park between bursts.
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    for producer in producers {
        producer.join().unwrap();
    }
    wait_until("every message is drained", || {
        (0..2)
            .map(|i| server.shared(i).inbox_sum.load(Ordering::SeqCst))
            .sum::<u64>()
            == THREADS * MESSAGES
    });
    let parks_before: Vec<u64> = (0..2)
        .map(|i| server.shared(i).parks.load(Ordering::SeqCst))
        .collect();
    server.stop();
    // Every allowed sleep was followed by `unparked` (the stop woke it).
    for (i, parks) in parks_before.iter().enumerate() {
        let shared = server.shared(i);
        assert!(*parks > 0);
        assert_eq!(
            shared.parks.load(Ordering::SeqCst),
            shared.unparks.load(Ordering::SeqCst)
        );
    }
}

#[test]
fn a_half_closed_peer_gets_its_replies_then_eof() {
    let server = Server::start(1, Duration::from_millis(50));
    let mut client = connect(server.addr);
    client
        .get_mut()
        .write_all(b"echo first\necho second\n")
        .unwrap();
    client.get_ref().shutdown(Shutdown::Write).unwrap();
    let mut rest = String::new();
    client.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "first\nsecond\n");
    let shared = server.shared(0);
    wait_until("the loop reports the close", || {
        shared.closed.load(Ordering::SeqCst) == 1
    });
    server.stop();
}

#[test]
fn a_close_requested_by_the_handler_happens_after_its_output() {
    let server = Server::start(1, Duration::from_millis(50));
    let mut client = connect(server.addr);
    client
        .get_mut()
        .write_all(b"echo one\nbig 3000000\nquit\necho ignored\n")
        .unwrap();
    assert_eq!(read_line(&mut client), "one");
    let mut big = vec![0u8; 3_000_000];
    client.read_exact(&mut big).unwrap();
    assert!(big
        .iter()
        .enumerate()
        .all(|(i, &byte)| byte == big_reply_byte(i)));
    let mut rest = String::new();
    client.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "bye\n");
    server.stop();
}

#[test]
fn stop_requested_ends_run_with_connections_open() {
    let server = Server::start(2, Duration::from_millis(50));
    let mut client = connect(server.addr);
    client.get_mut().write_all(b"echo open\n").unwrap();
    assert_eq!(read_line(&mut client), "open");
    // `stop` asserts that every loop's `run` returned Ok in time.
    server.stop();
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest);
}

#[test]
fn a_stop_requested_while_handling_input_ends_run_without_a_wake() {
    // Tick and waker out of the picture: only the iteration that handled
    // `shutdown` can notice the request.
    let server = Server::start(1, Duration::from_secs(3600));
    let mut client = connect(server.addr);
    client
        .get_mut()
        .write_all(b"echo last\nshutdown\n")
        .unwrap();
    assert_eq!(read_line(&mut client), "last");
    server.join();
}

#[test]
fn an_impossible_ring_is_an_error_not_a_panic() {
    let lp = GlommioLoop::bind(&["127.0.0.1:0".parse().unwrap()])
        .unwrap()
        .with_config(GlommioConfig {
            // Above io_uring's limit of 32768 entries per ring.
            ring_depth: 1 << 20,
            ..GlommioConfig::default()
        });
    let shared = glommio_support::Shared::new();
    let mut handler = glommio_support::LineHandler::new(shared);
    let result = std::thread::spawn(move || lp.run(&mut handler).map_err(|e| e.to_string()))
        .join()
        .expect("run must not panic");
    let err = result.expect_err("a ring deeper than io_uring allows must fail");
    assert!(err.contains("glommio"), "{err}");
}

/// Run in a child process (it lowers the process's locked-memory limit).
#[test]
fn too_little_locked_memory_is_an_error_not_a_panic() {
    if std::env::var_os(MEMLOCK_CHILD).is_some() {
        return memlock_child();
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "too_little_locked_memory_is_an_error_not_a_panic",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(MEMLOCK_CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("memlock child: error:"), "{stdout}");
}

const MEMLOCK_CHILD: &str = "KEVY_GLOMMIO_MEMLOCK_CHILD";

fn memlock_child() {
    let limit = libc::rlimit {
        rlim_cur: 64 * 1024,
        rlim_max: 64 * 1024,
    };
    // SAFETY: plain setrlimit on this (child) process.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &limit) }, 0);
    let lp = GlommioLoop::bind(&["127.0.0.1:0".parse().unwrap()]).unwrap();
    let mut handler = glommio_support::LineHandler::new(glommio_support::Shared::new());
    match lp.run(&mut handler) {
        Err(TransportError::Poller(err)) => println!("memlock child: error: {err}"),
        other => panic!("expected a setup error, got {other:?}"),
    }
}

#[test]
fn a_client_gets_served_after_a_burst_of_connections() {
    let server = Server::start(1, Duration::from_millis(50));
    let clients: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    for (i, client) in clients.iter().enumerate() {
        let mut client = BufReader::new(client.try_clone().unwrap());
        client
            .get_ref()
            .set_read_timeout(Some(LONG_TIMEOUT))
            .unwrap();
        client
            .get_mut()
            .write_all(format!("echo {i}\n").as_bytes())
            .unwrap();
        let mut line = String::new();
        client.read_line(&mut line).unwrap();
        assert_eq!(line, format!("{i}\n"));
    }
    server.stop();
}
