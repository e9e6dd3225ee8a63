//! The wire protocol at its edges, over raw sockets: malformed requests get
//! Redis's exact `-ERR Protocol error: ...` reply and their connection is
//! closed while other connections carry on; clients that vanish in the
//! middle of a request or of a large reply do not disturb the server; and
//! `HELLO 3` switches a connection to RESP3.

use std::time::Duration;

use kevy_matrix_tests::{resp_command, KevyServer, RawConnection, SHARD_COUNTS};

const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// Requests Redis 7.0 rejects as protocol errors, with its exact reply.
const MALFORMED: &[(&[u8], &[u8])] = &[
    (
        b"*1\r\n+x\r\n",
        b"-ERR Protocol error: expected '$', got '+'\r\n",
    ),
    (
        b"*1\r\n$999999999999\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    ),
    (
        b"*abc\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    ),
    (
        b"*1\r\n$-5\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    ),
    (
        b"SET \"unbalanced value\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    ),
    (
        b"SET 'single\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    ),
];

fn assert_serves(connection: &mut RawConnection) {
    connection.roundtrip(&resp_command(&[b"PING"]), b"+PONG\r\n");
}

#[test]
fn malformed_requests_get_protocol_errors_and_are_closed() {
    for threads in SHARD_COUNTS {
        let server = KevyServer::start(threads);
        let mut bystander = server.raw();
        assert_serves(&mut bystander);
        for (request, reply) in MALFORMED {
            let mut offender = server.raw();
            offender.roundtrip(request, reply);
            assert!(
                offender.closed_within(CLOSE_TIMEOUT),
                "connection left open after {:?}",
                String::from_utf8_lossy(request)
            );
            assert_serves(&mut bystander);
        }
        // Commands pipelined before the bad one are answered first.
        let mut offender = server.raw();
        let mut request = resp_command(&[b"SET", b"before", b"1"]);
        request.extend_from_slice(b"*1\r\n+x\r\n");
        offender.roundtrip(
            &request,
            b"+OK\r\n-ERR Protocol error: expected '$', got '+'\r\n",
        );
        assert!(offender.closed_within(CLOSE_TIMEOUT));
        bystander.roundtrip(&resp_command(&[b"GET", b"before"]), b"$1\r\n1\r\n");
    }
}

#[test]
fn client_leaving_mid_command_is_forgotten() {
    for threads in SHARD_COUNTS {
        let server = KevyServer::start(threads);
        let mut bystander = server.raw();
        for _ in 0..20 {
            let mut leaver = server.raw();
            // Half a bulk string: the command never completes.
            leaver.send(b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$100\r\nonly-part-of-the-val");
            leaver.close();
        }
        assert_serves(&mut bystander);
        bystander.roundtrip(&resp_command(&[b"GET", b"half"]), b"$-1\r\n");
    }
}

#[test]
fn client_leaving_mid_reply_is_forgotten() {
    const KEYS: usize = 16;
    for threads in SHARD_COUNTS {
        let server = KevyServer::start(threads);
        let mut writer = server.raw();
        let value = vec![b'x'; 1024 * 1024];
        let keys: Vec<Vec<u8>> = (0..KEYS)
            .map(|i| format!("bulky:{i}").into_bytes())
            .collect();
        for key in &keys {
            writer.roundtrip(&resp_command(&[b"SET", key, &value]), b"+OK\r\n");
        }
        let mut mget: Vec<&[u8]> = vec![b"MGET"];
        mget.extend(keys.iter().map(Vec::as_slice));
        let request = resp_command(&mget);
        for _ in 0..5 {
            // A 16 MB reply, several times over, that nobody reads.
            let mut leaver = server.raw();
            for _ in 0..4 {
                leaver.send(&request);
            }
            leaver.close();
        }
        assert_serves(&mut writer);
        writer.roundtrip(&resp_command(&[b"DBSIZE"]), b":16\r\n");
        // `*16\r\n`, then per key `$1048576\r\n`, the value and `\r\n`.
        let expected_len = 5 + KEYS * (10 + value.len() + 2);
        writer.send(&request);
        let reply = writer.read_reply(expected_len);
        assert_eq!(reply.len(), expected_len, "the MGET reply was cut short");
        assert!(reply.starts_with(b"*16\r\n$1048576\r\nxxx"));
    }
}

#[test]
fn hello_3_switches_to_resp3() {
    for threads in SHARD_COUNTS {
        let server = KevyServer::start(threads);
        let mut con = server.raw();
        con.send(&resp_command(&[b"HELLO", b"3"]));
        let hello = con.read_at_least(usize::MAX, Duration::from_millis(500));
        let text = String::from_utf8_lossy(&hello.bytes);
        assert!(
            text.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
            "{text}"
        );
        assert!(text.contains("$5\r\nproto\r\n:3\r\n"), "{text}");
        assert!(
            text.contains("$4\r\nmode\r\n$10\r\nstandalone\r\n"),
            "{text}"
        );
        // RESP3 null and RESP3 replies through the cross-shard path.
        con.roundtrip(&resp_command(&[b"GET", b"missing"]), b"_\r\n");
        con.roundtrip(
            &resp_command(&[b"MSET", b"r3:a", b"1", b"r3:b", b"2"]),
            b"+OK\r\n",
        );
        con.roundtrip(
            &resp_command(&[b"MGET", b"r3:a", b"nope", b"r3:b"]),
            b"*3\r\n$1\r\n1\r\n_\r\n$1\r\n2\r\n",
        );
        // And back to RESP2.
        con.send(&resp_command(&[b"HELLO", b"2"]));
        let hello2 = con.read_at_least(usize::MAX, Duration::from_millis(500));
        assert!(hello2.bytes.starts_with(b"*14\r\n"));
        con.roundtrip(&resp_command(&[b"GET", b"missing"]), b"$-1\r\n");
    }
}
