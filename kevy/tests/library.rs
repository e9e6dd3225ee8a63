//! kevy as a library: a program starts a server with the builder, talks to
//! it over a real socket with a client library, and stops it; a backend this
//! build lacks, or a bad setting, is a clear error instead of a server.

use kevy::server::{Server, ServerError, Transport};

/// A data directory of this test's own: a `dump.rdb` some other program
/// left in the system's temp directory must not be loaded.
fn data_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kevy-library-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the data directory");
    dir
}

fn start(transport: Transport, threads: usize) -> kevy::RunningServer {
    Server::builder()
        .bind("127.0.0.1")
        .port(0)
        .threads(threads)
        .transport(transport)
        .data_dir(data_dir())
        .start()
        .expect("the server starts")
}

#[test]
fn every_compiled_backend_serves_and_stops() {
    for transport in Transport::compiled() {
        for threads in [1, 3] {
            let running = start(transport, threads);
            assert_eq!(running.shards(), threads);
            let addr = running.addrs()[0];
            let url = format!("redis://{addr}/");
            let mut con = redis::Client::open(url)
                .and_then(|c| c.get_connection())
                .expect("connect");
            for i in 0..50 {
                let () = redis::cmd("SET")
                    .arg(format!("key:{i}"))
                    .arg(i)
                    .query(&mut con)
                    .expect("SET");
            }
            let keys: Vec<String> = (0..50).map(|i| format!("key:{i}")).collect();
            let values: Vec<i64> = redis::cmd("MGET").arg(&keys).query(&mut con).expect("MGET");
            assert_eq!(values, (0..50).collect::<Vec<i64>>());
            let backend: Vec<String> = redis::cmd("CONFIG")
                .arg("GET")
                .arg("transport")
                .query(&mut con)
                .expect("CONFIG GET");
            assert_eq!(backend[1], transport.name());
            running.stop();
            assert!(running.is_stopping());
            running.wait();
            // The listeners are closed: a new connection is refused.
            assert!(
                std::net::TcpStream::connect(addr).is_err(),
                "{transport}: still accepting after stop"
            );
        }
    }
}

#[test]
fn a_missing_backend_or_bad_setting_is_an_error() {
    for transport in Transport::ALL {
        if transport.is_compiled() {
            continue;
        }
        let err = Server::builder()
            .port(0)
            .transport(transport)
            .start()
            .err()
            .expect("a missing backend does not start");
        assert!(
            matches!(err, ServerError::TransportNotCompiled { .. }),
            "{err}"
        );
    }
    let err = Server::builder()
        .port(0)
        .config("maxclients", "none")
        .start()
        .err()
        .expect("a bad setting does not start");
    assert!(matches!(err, ServerError::Config { .. }), "{err}");
}
