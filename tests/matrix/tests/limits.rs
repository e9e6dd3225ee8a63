//! Load and limits: a thousand connections open at once, a client that
//! never reads its replies (closed once its pending output breaks
//! `client-output-buffer-limit`, without harming other clients), and the
//! collection types touched from many shards in one session.

use std::time::{Duration, Instant};

use kevy_matrix_tests::{resp_command, KevyServer, RawConnection, SHARD_COUNTS};

#[test]
fn a_thousand_connections_at_once() {
    const CONNECTIONS: usize = 1000;
    for threads in SHARD_COUNTS {
        let server = KevyServer::start(threads);
        let mut conns: Vec<RawConnection> = (0..CONNECTIONS).map(|_| server.raw()).collect();
        // Every connection has a request in flight before any reply is read.
        for (i, con) in conns.iter_mut().enumerate() {
            let key = format!("conn:{i}");
            let mut request = resp_command(&[b"SET", key.as_bytes(), i.to_string().as_bytes()]);
            request.extend(resp_command(&[b"GET", key.as_bytes()]));
            con.send(&request);
        }
        for (i, con) in conns.iter_mut().enumerate() {
            let value = i.to_string();
            let expected = format!("+OK\r\n${}\r\n{value}\r\n", value.len());
            let reply = con.read_reply(expected.len());
            assert_eq!(
                String::from_utf8_lossy(&reply),
                expected,
                "connection {i} on {threads} shard(s)"
            );
        }
        let mut con = server.connect();
        let clients: String = redis::cmd("INFO")
            .arg("clients")
            .query(&mut con)
            .expect("INFO");
        assert!(
            clients.contains(&format!("connected_clients:{}", CONNECTIONS + 1)),
            "{clients}"
        );
        let size: usize = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
        assert_eq!(size, CONNECTIONS);
    }
}

#[test]
fn a_client_that_never_reads_is_closed_at_its_output_limit() {
    for threads in SHARD_COUNTS {
        let server = KevyServer::start_with(
            threads,
            &["--client-output-buffer-limit", "normal", "1mb", "0", "0"],
        );
        let mut con = server.connect();
        let value = vec![b'x'; 64 * 1024];
        let () = redis::cmd("SET")
            .arg("big")
            .arg(&value)
            .query(&mut con)
            .expect("SET");
        let limits: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("client-output-buffer-limit")
            .query(&mut con)
            .expect("CONFIG GET");
        assert_eq!(
            limits[1],
            "normal 1048576 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );

        // 4 000 GETs of 64 KB: 256 MB of replies the client never reads.
        let mut greedy = server.raw();
        let request = resp_command(&[b"GET", b"big"]).repeat(4000);
        greedy.send(&request);
        // Without reading a byte, wait for the server to drop the client.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut clients = String::new();
        while Instant::now() < deadline {
            clients = redis::cmd("INFO")
                .arg("clients")
                .query(&mut con)
                .expect("INFO");
            if clients.contains("connected_clients:1\r") {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(clients.contains("connected_clients:1\r"), "{clients}");
        let received = greedy.read_at_least(usize::MAX, Duration::from_secs(20));
        assert!(received.closed, "the connection ends");
        assert!(
            received.bytes.len() < request.len() / 22 * value.len(),
            "replies were dropped, not all delivered"
        );

        // Everyone else is still served.
        let back: Vec<u8> = redis::cmd("GET").arg("big").query(&mut con).expect("GET");
        assert_eq!(back.len(), value.len());
    }
}

#[test]
fn every_collection_type_across_shards() {
    for threads in SHARD_COUNTS {
        let server = KevyServer::start(threads);
        let mut con = server.connect();
        for i in 0..20 {
            let suffix = format!("{i}");
            let () = redis::cmd("HSET")
                .arg(format!("h:{suffix}"))
                .arg("f")
                .arg(&suffix)
                .query(&mut con)
                .map(|_: i64| ())
                .expect("HSET");
            let _: i64 = redis::cmd("RPUSH")
                .arg(format!("l:{suffix}"))
                .arg(&["a", "b", "c"])
                .query(&mut con)
                .expect("RPUSH");
            let _: i64 = redis::cmd("SADD")
                .arg(format!("s:{suffix}"))
                .arg(&["x", "y", &suffix])
                .query(&mut con)
                .expect("SADD");
            let _: i64 = redis::cmd("ZADD")
                .arg(format!("z:{suffix}"))
                .arg(&[i.to_string(), "m".to_string()])
                .query(&mut con)
                .expect("ZADD");
            let _: String = redis::cmd("XADD")
                .arg(format!("x:{suffix}"))
                .arg("*")
                .arg(&["f", &suffix])
                .query(&mut con)
                .expect("XADD");
        }
        let field: String = redis::cmd("HGET")
            .arg("h:7")
            .arg("f")
            .query(&mut con)
            .expect("HGET");
        assert_eq!(field, "7");
        let union: Vec<String> = redis::cmd("SUNION")
            .arg((0..20).map(|i| format!("s:{i}")).collect::<Vec<_>>())
            .query(&mut con)
            .expect("SUNION");
        assert_eq!(union.len(), 22);
        let stored: i64 = redis::cmd("ZUNIONSTORE")
            .arg("zall")
            .arg(20)
            .arg((0..20).map(|i| format!("z:{i}")).collect::<Vec<_>>())
            .query(&mut con)
            .expect("ZUNIONSTORE");
        assert_eq!(stored, 1);
        let score: f64 = redis::cmd("ZSCORE")
            .arg("zall")
            .arg("m")
            .query(&mut con)
            .expect("ZSCORE");
        assert_eq!(score, (0..20).sum::<i32>() as f64);
        let moved: String = redis::cmd("LMOVE")
            .arg("l:1")
            .arg("l:2")
            .arg("LEFT")
            .arg("RIGHT")
            .query(&mut con)
            .expect("LMOVE");
        assert_eq!(moved, "a");
        let list: Vec<String> = redis::cmd("LRANGE")
            .arg("l:2")
            .arg(0)
            .arg(-1)
            .query(&mut con)
            .expect("LRANGE");
        assert_eq!(list, ["a", "b", "c", "a"]);
        let len: i64 = redis::cmd("XLEN").arg("x:3").query(&mut con).expect("XLEN");
        assert_eq!(len, 1);
        let size: usize = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
        assert_eq!(size, 101);
    }
}
