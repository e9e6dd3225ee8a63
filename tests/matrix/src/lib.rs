//! Backend-agnostic integration suite against the real kevy binary.
//!
//! The tests in `tests/*.rs` start the `kevy` executable as a child
//! process, talk to it over TCP (the `redis` client crate, or raw sockets
//! where exact bytes matter) and stop it. They do not link kevy, so the
//! same suite runs unchanged against every build of the server:
//!
//! - the binary is `$KEVY_BIN` when set, else `<workspace>/target/debug/kevy`
//!   (build it first with `cargo build -p kevy`);
//! - `cargo xtask matrix` builds kevy once per feature combination of
//!   `ci/matrix.txt` and runs this suite with `KEVY_BIN` pointing at that
//!   build.
//!
//! Every expectation is Redis 7.0's behaviour, except where a test uses a
//! directive of kevy's own (`--threads`, `--pin-cores`, `--transport`):
//! pointing `KEVY_BIN` at a wrapper script that drops those and runs
//! `redis-server` passes the rest of the suite, which is how the suite
//! itself is checked.
//!
//! This library holds the plumbing: [`KevyServer`] starts the binary on a
//! free port in a scratch directory, waits until it answers a PING and
//! kills the process on drop; [`RawConnection`] sends bytes and reads
//! replies with deadlines, for protocol-level checks.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long the binary may take to accept its first connection.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Port picks race with other processes; a start that loses the race is
/// retried on a new port this many times.
const START_ATTEMPTS: usize = 3;
/// How long a raw connection waits for an expected reply.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// The `--threads` every test runs with: one shard, and several so that
/// keys live on different shards and the cross-shard hops are exercised.
pub const SHARD_COUNTS: [usize; 2] = [1, 4];

/// The kevy executable under test.
pub fn kevy_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("KEVY_BIN") {
        return PathBuf::from(path);
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                workspace.join(dir)
            }
        })
        .unwrap_or_else(|| workspace.join("target"));
    target.join("debug").join("kevy")
}

/// Reads kevy's log until its "listening on ADDR:PORT" line and returns the
/// port; the rest of the log is drained on a thread so kevy never blocks.
fn read_listening_port(child: &mut Child) -> Option<u16> {
    use std::io::BufRead;
    let stdout = child.stdout.take()?;
    let mut lines = std::io::BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some((_, addrs)) = line.split_once("listening on ") {
            // Under `cargo xtask matrix` the backend is picked by
            // KEVY_TRANSPORT (inherited by the child): make sure it runs.
            if let Ok(backend) = std::env::var("KEVY_TRANSPORT") {
                assert!(
                    line.contains(&format!("transport={backend},")),
                    "kevy runs another backend than KEVY_TRANSPORT={backend}: {line}"
                );
            }
            let port = addrs
                .split_whitespace()
                .next()?
                .rsplit(':')
                .next()?
                .parse()
                .ok();
            std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
            return port;
        }
    }
}

/// A running kevy process, killed and reaped on drop.
pub struct KevyServer {
    child: Child,
    port: u16,
    dir: ScratchDir,
}

impl KevyServer {
    /// Starts kevy with `--threads <threads>`.
    pub fn start(threads: usize) -> KevyServer {
        KevyServer::start_with(threads, &[])
    }

    /// Starts kevy with `--threads <threads>` and further `--name value`
    /// arguments, on a free port, and waits until it answers a PING.
    pub fn start_with(threads: usize, args: &[&str]) -> KevyServer {
        KevyServer::try_start_with(threads, args).unwrap_or_else(|err| panic!("{err}"))
    }

    /// As [`KevyServer::start_with`], returning why kevy did not start
    /// instead of panicking.
    pub fn try_start_with(threads: usize, args: &[&str]) -> Result<KevyServer, String> {
        let bin = kevy_bin();
        assert!(
            bin.is_file(),
            "kevy binary {} not found: run `cargo build -p kevy` or set KEVY_BIN",
            bin.display()
        );
        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            let dir = ScratchDir::new();
            // Port 0: kevy binds a port the kernel picks and logs it, so no
            // other test can race for the same port between pick and bind.
            let mut child = Command::new(&bin)
                .arg("--port")
                .arg("0")
                .arg("--threads")
                .arg(threads.to_string())
                .args(args)
                .current_dir(&dir.0)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let Some(port) = read_listening_port(&mut child) else {
                let _ = child.kill();
                let _ = child.wait();
                last_failure = "exited before logging its port".to_string();
                continue;
            };
            let mut server = KevyServer { child, port, dir };
            match server.wait_accepting() {
                Ok(()) => return Ok(server),
                Err(failure) => last_failure = failure,
            }
        }
        Err(format!("kevy did not start: {last_failure}"))
    }

    fn wait_accepting(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited at start ({status})"));
            }
            if answers_ping(self.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "port {} not accepting after {START_TIMEOUT:?}",
            self.port
        ))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The `redis://` URL of this server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The scratch directory the server runs in (its `dir`).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir.0
    }

    /// A connection of the `redis` client library to the server.
    pub fn connect(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|client| client.get_connection())
            .unwrap_or_else(|e| panic!("cannot connect to kevy on {}: {e}", self.port))
    }

    /// A raw TCP connection to the server.
    pub fn raw(&self) -> RawConnection {
        RawConnection::connect(self.port)
    }

    /// Sends SIGTERM (through the `kill` command, so no libc binding is
    /// needed).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("the kill command is available");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => return None,
            }
        }
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for KevyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw client socket with read deadlines, for byte-exact checks.
pub struct RawConnection {
    stream: TcpStream,
}

/// What a read up to a deadline saw.
#[derive(Debug, PartialEq, Eq)]
pub struct Received {
    pub bytes: Vec<u8>,
    /// The server closed the connection (EOF or reset).
    pub closed: bool,
}

impl RawConnection {
    pub fn connect(port: u16) -> RawConnection {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("cannot connect to port {port}: {e}"));
        stream.set_nodelay(true).expect("TCP_NODELAY can be set");
        RawConnection { stream }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("the server reads");
    }

    /// Reads until `want` bytes arrived, the server closed, or `timeout`.
    pub fn read_at_least(&mut self, want: usize, timeout: Duration) -> Received {
        let deadline = Instant::now() + timeout;
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 64 * 1024];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if bytes.len() >= want || left.is_zero() {
                return Received {
                    bytes,
                    closed: false,
                };
            }
            self.stream
                .set_read_timeout(Some(left))
                .expect("a non-zero timeout is valid");
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Received {
                        bytes,
                        closed: true,
                    }
                }
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    return Received {
                        bytes,
                        closed: true,
                    }
                }
            }
        }
    }

    /// Reads `expected_len` bytes (fewer when the server closes first or
    /// after [`REPLY_TIMEOUT`]) and returns them.
    pub fn read_reply(&mut self, expected_len: usize) -> Vec<u8> {
        self.read_at_least(expected_len, REPLY_TIMEOUT).bytes
    }

    /// True when the server closes the connection within `timeout`, with
    /// no further bytes.
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let received = self.read_at_least(usize::MAX, timeout);
        received.closed && received.bytes.is_empty()
    }

    /// Sends `request` and asserts the reply is exactly `expected`.
    pub fn roundtrip(&mut self, request: &[u8], expected: &[u8]) {
        self.send(request);
        let reply = self.read_at_least(expected.len(), REPLY_TIMEOUT);
        assert_eq!(
            String::from_utf8_lossy(&reply.bytes),
            String::from_utf8_lossy(expected),
            "reply to {} ({})",
            shown(request),
            if reply.closed {
                "the server closed the connection"
            } else {
                "the connection is open"
            }
        );
    }

    /// Closes the connection abruptly.
    pub fn close(self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// At most the first 200 bytes of a request, for failure messages (some
/// requests carry megabytes).
fn shown(request: &[u8]) -> String {
    const SHOWN: usize = 200;
    let text = String::from_utf8_lossy(&request[..request.len().min(SHOWN)]);
    if request.len() > SHOWN {
        format!("{text:?}... ({} bytes)", request.len())
    } else {
        format!("{text:?}")
    }
}

/// A command as a RESP multi-bulk request.
pub fn resp_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// True when a server on `port` accepts a connection and answers an
/// inline PING (`+PONG`, or an error such as `-NOAUTH`: either way a shard
/// is serving). An accepted connection alone is not enough: a server may
/// hold listening sockets it is about to close while it starts, and a
/// connection queued on one of those would be reset.
fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    if stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .is_err()
        || stream.write_all(b"PING\r\n").is_err()
    {
        return false;
    }
    let mut first = [0u8; 1];
    matches!(stream.read(&mut first), Ok(1) if first[0] == b'+' || first[0] == b'-')
}

/// Files a test writes (certificates, config files), in a directory of
/// their own that is removed on drop.
pub struct ScratchFiles(ScratchDir);

impl Default for ScratchFiles {
    fn default() -> Self {
        ScratchFiles::new()
    }
}

impl ScratchFiles {
    pub fn new() -> ScratchFiles {
        ScratchFiles(ScratchDir::new())
    }

    /// Writes `contents` to `name` in the directory; returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0 .0.join(name);
        std::fs::write(&path, contents).expect("the temp dir is writable");
        path
    }
}

/// A directory of its own for one server process, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> ScratchDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "kevy-matrix-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("the temp dir is writable");
        ScratchDir(path)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
