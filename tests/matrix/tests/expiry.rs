//! Key expiry seen from outside: a key set with `PX` is gone once its time
//! has passed (lazy expiry on access), and keys nobody touches are removed
//! by the server's own active expiry cycle (DBSIZE counts keys that are
//! expired but not yet removed, so it only drops through active expiry).

use std::time::{Duration, Instant};

use kevy_matrix_tests::{KevyServer, SHARD_COUNTS};

#[test]
fn key_set_with_px_expires() {
    for threads in SHARD_COUNTS {
        let server = KevyServer::start(threads);
        let mut con = server.connect();
        let () = redis::cmd("SET")
            .arg("short-lived")
            .arg("v")
            .arg("PX")
            .arg(100)
            .query(&mut con)
            .expect("SET PX");
        let () = redis::cmd("SET")
            .arg("lasting")
            .arg("v")
            .query(&mut con)
            .expect("SET");
        let now: Option<String> = redis::cmd("GET")
            .arg("short-lived")
            .query(&mut con)
            .expect("GET");
        assert_eq!(now.as_deref(), Some("v"));
        std::thread::sleep(Duration::from_millis(200));
        let later: Option<String> = redis::cmd("GET")
            .arg("short-lived")
            .query(&mut con)
            .expect("GET");
        assert_eq!(later, None, "the key outlived its PX");
        let lasting: Option<String> = redis::cmd("GET")
            .arg("lasting")
            .query(&mut con)
            .expect("GET");
        assert_eq!(lasting.as_deref(), Some("v"));
    }
}

#[test]
fn active_expiry_removes_untouched_keys() {
    const KEYS: usize = 300;
    for threads in SHARD_COUNTS {
        let server = KevyServer::start(threads);
        let mut con = server.connect();
        // One on its own first, so a server without SET PX fails here with
        // one clear error rather than hundreds.
        let () = redis::cmd("SET")
            .arg("volatile:first")
            .arg(0)
            .arg("PX")
            .arg(100)
            .query(&mut con)
            .expect("SET PX");
        let mut pipe = redis::pipe();
        for i in 1..KEYS {
            pipe.cmd("SET")
                .arg(format!("volatile:{i}"))
                .arg(i)
                .arg("PX")
                .arg(100)
                .ignore();
        }
        pipe.cmd("SET").arg("persistent").arg(1).ignore();
        let () = pipe.query(&mut con).expect("pipelined SET PX");
        let size: usize = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
        assert_eq!(size, KEYS + 1);
        // Active expiry runs `hz` (10) times a second and samples keys with
        // a TTL; all of them are expired, so a few cycles clear them.
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut size = usize::MAX;
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            size = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
            if size == 1 {
                break;
            }
        }
        assert_eq!(size, 1, "expired keys nobody touched were not removed");
    }
}
