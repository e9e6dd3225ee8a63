//! Access and process lifecycle: `--requirepass` refuses commands until
//! `AUTH`, `SHUTDOWN` stops the process with a success status, and SIGTERM
//! stops it cleanly (success status, port released), and a second server
//! cannot start on a port the first holds.

use std::net::TcpStream;
use std::time::Duration;

use kevy_matrix_tests::{kevy_bin, resp_command, KevyServer, SHARD_COUNTS};

const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
const NOAUTH: &[u8] = b"-NOAUTH Authentication required.\r\n";
const WRONGPASS: &[u8] = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";

#[test]
fn requirepass_refuses_until_auth() {
    for threads in SHARD_COUNTS {
        let server = KevyServer::start_with(threads, &["--requirepass", "s3cret"]);
        let mut con = server.raw();
        con.roundtrip(&resp_command(&[b"GET", b"k"]), NOAUTH);
        con.roundtrip(&resp_command(&[b"SET", b"k", b"v"]), NOAUTH);
        con.roundtrip(&resp_command(&[b"AUTH", b"wrong"]), WRONGPASS);
        con.roundtrip(&resp_command(&[b"GET", b"k"]), NOAUTH);
        con.roundtrip(&resp_command(&[b"AUTH", b"s3cret"]), b"+OK\r\n");
        con.roundtrip(&resp_command(&[b"SET", b"k", b"v"]), b"+OK\r\n");
        con.roundtrip(&resp_command(&[b"GET", b"k"]), b"$1\r\nv\r\n");
        // Authentication belongs to the connection, not to the server.
        let mut other = server.raw();
        other.roundtrip(&resp_command(&[b"GET", b"k"]), NOAUTH);

        // A client library that authenticates through its URL.
        let url = format!("redis://:s3cret@127.0.0.1:{}/", server.port());
        let mut client = redis::Client::open(url)
            .and_then(|client| client.get_connection())
            .expect("connect with the password");
        let value: Option<String> = redis::cmd("GET").arg("k").query(&mut client).expect("GET");
        assert_eq!(value.as_deref(), Some("v"));
    }
}

#[test]
fn shutdown_stops_the_process() {
    for threads in SHARD_COUNTS {
        let mut server = KevyServer::start(threads);
        let mut con = server.raw();
        con.send(&resp_command(&[b"SHUTDOWN"]));
        // Redis closes the connection without a reply on success.
        assert!(
            con.closed_within(EXIT_TIMEOUT),
            "SHUTDOWN left the connection open"
        );
        let status = server
            .wait_exit(EXIT_TIMEOUT)
            .expect("the process exits after SHUTDOWN");
        assert!(status.success(), "exit status {status}");
    }
}

#[test]
fn sigterm_stops_the_process_cleanly() {
    for threads in SHARD_COUNTS {
        let mut server = KevyServer::start(threads);
        let mut con = server.raw();
        con.roundtrip(&resp_command(&[b"SET", b"k", b"v"]), b"+OK\r\n");
        assert!(server.is_running());
        server.terminate();
        let status = server
            .wait_exit(EXIT_TIMEOUT)
            .expect("the process exits after SIGTERM");
        assert!(status.success(), "exit status {status}");
        assert!(
            TcpStream::connect(("127.0.0.1", server.port())).is_err(),
            "the port still accepts after exit"
        );
    }
}

#[test]
fn a_second_server_on_a_taken_port_refuses_to_start() {
    let first = KevyServer::start(2);
    let port = first.port().to_string();
    let second = std::process::Command::new(kevy_bin())
        .args(["--port", &port, "--threads", "2"])
        .output()
        .expect("the kevy binary runs");
    assert!(
        !second.status.success(),
        "a second server started on a taken port"
    );
    let log = String::from_utf8_lossy(&second.stdout);
    assert!(log.contains("Address already in use"), "{log}");
    // The first server still answers every connection itself.
    for _ in 0..20 {
        let mut con = first.connect();
        let pong: String = redis::cmd("PING").query(&mut con).expect("PING");
        assert_eq!(pong, "PONG");
    }
}
