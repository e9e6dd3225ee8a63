//! Running a backend's loop on its own thread with the [`LineHandler`],
//! and the blocking clients that talk to it over 127.0.0.1.
//!
//! Nothing here asserts how long anything takes: every wait polls a
//! condition and fails the test after the generous [`TIMEOUT`] instead of
//! hanging, and every client socket has that read timeout.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use kevy_transport::{ShardLoop, TransportError, Waker};

use super::line_handler::{big_reply, HandlerConfig, LineHandler, LoopStats, RECORD_LEN};

/// How long any wait may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// How long the loop must stay without an iteration to count as asleep.
const QUIET_WINDOW: Duration = Duration::from_millis(150);

/// A loop running on its own thread.
pub struct RunningLoop {
    pub addr: SocketAddr,
    pub stats: Arc<LoopStats>,
    pub waker: Arc<dyn Waker>,
    finished: mpsc::Receiver<Result<(), TransportError>>,
}

/// Binds a loop of backend `L` on 127.0.0.1 (a free port) and runs it.
pub fn start<L: ShardLoop>(config: HandlerConfig) -> RunningLoop {
    start_on::<L>("127.0.0.1:0".parse().expect("a literal address"), config)
}

/// Binds a loop of backend `L` on `addr` and runs it.
pub fn start_on<L: ShardLoop>(addr: SocketAddr, config: HandlerConfig) -> RunningLoop {
    let shard_loop = L::bind(&[addr]).expect("binding the loop");
    let addrs = shard_loop.local_addrs();
    assert_eq!(addrs.len(), 1, "one listener per address");
    let stats = Arc::new(LoopStats::default());
    let waker = shard_loop.waker();
    let (report, finished) = mpsc::channel();
    let loop_stats = stats.clone();
    std::thread::Builder::new()
        .name("test-shard".into())
        .spawn(move || {
            let mut handler = LineHandler::new(config, loop_stats);
            let _ = report.send(shard_loop.run(&mut handler));
        })
        .expect("spawning the loop thread");
    RunningLoop {
        addr: addrs[0],
        stats,
        waker,
        finished,
    }
}

impl RunningLoop {
    /// Asks the loop to stop, wakes it and waits for `run` to return.
    pub fn stop(self) {
        self.stats.stop.store(true, Ordering::SeqCst);
        self.waker.wake();
        self.wait_for_end();
    }

    /// Waits for `run` to return and checks that it returned `Ok`.
    pub fn wait_for_end(&self) {
        match self.finished.recv_timeout(TIMEOUT) {
            Ok(result) => result.expect("run ended with an error"),
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("the loop did not stop"),
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the loop thread panicked"),
        }
    }

    /// Waits until the loop sleeps: parked, and no iteration for a while.
    /// A loop that spins (polls without sleeping) never gets here.
    pub fn wait_until_asleep(&self) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let before = self.stats.iterations.load(Ordering::SeqCst);
            std::thread::sleep(QUIET_WINDOW);
            let after = self.stats.iterations.load(Ordering::SeqCst);
            if after == before && self.stats.parked.load(Ordering::SeqCst) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the loop never went to sleep ({after} iterations)"
            );
        }
    }

    /// Fails when the loop thread has ended (a panic in the handler).
    pub fn assert_running(&self) {
        match self.finished.try_recv() {
            Err(mpsc::TryRecvError::Empty) => {}
            Ok(result) => panic!("the loop ended early: {result:?}"),
            Err(mpsc::TryRecvError::Disconnected) => panic!("the loop thread panicked"),
        }
    }
}

impl Drop for RunningLoop {
    fn drop(&mut self) {
        // A test that failed half way must not leave its loop running.
        self.stats.stop.store(true, Ordering::SeqCst);
        self.waker.wake();
    }
}

/// Polls `condition` until it holds; fails after [`TIMEOUT`].
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// A blocking client with a read timeout, so a missing reply fails.
pub struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connecting to the loop");
        Client::from_stream(stream)
    }

    pub fn from_stream(stream: TcpStream) -> Client {
        stream
            .set_read_timeout(Some(TIMEOUT))
            .expect("read timeout");
        stream.set_nodelay(true).expect("nodelay");
        Client {
            reader: BufReader::new(stream),
        }
    }

    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.reader
            .get_mut()
            .write_all(bytes)
            .expect("sending to the loop");
    }

    /// Reads one reply line, without its newline.
    pub fn read_line(&mut self) -> String {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("reading a reply");
        assert!(n > 0, "the connection closed before a reply");
        assert!(line.ends_with('\n'), "a reply line cut short: {line:?}");
        line.pop();
        line
    }

    /// Sends `line` and returns the reply line.
    pub fn request(&mut self, line: &str) -> String {
        self.send(format!("{line}\n").as_bytes());
        self.read_line()
    }

    /// Reads a `BIG <records>` reply in chunks of `chunk` bytes, calling
    /// `between_chunks` after each, and checks every record.
    pub fn read_big_reply(
        &mut self,
        records: usize,
        chunk: usize,
        mut between_chunks: impl FnMut(),
    ) {
        let total = records * RECORD_LEN;
        let mut reply = vec![0u8; total];
        let mut filled = 0;
        while filled < total {
            let end = total.min(filled + chunk);
            let n = self
                .reader
                .read(&mut reply[filled..end])
                .expect("reading a large reply");
            assert!(
                n > 0,
                "the connection closed after {filled} of {total} bytes"
            );
            filled += n;
            between_chunks();
        }
        check_records(&reply);
    }

    /// Expects the loop to close the connection with nothing more to read.
    pub fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => assert!(
                rest.is_empty(),
                "unexpected bytes before the close: {rest:?}"
            ),
            Err(err) => panic!("expected a close, got {err}"),
        }
    }
}

/// Checks that `reply` is records 0, 1, 2, ... of a `BIG` reply.
pub fn check_records(reply: &[u8]) {
    assert_eq!(reply.len() % RECORD_LEN, 0, "a partial record");
    let mut expected = Vec::new();
    big_reply(reply.len() / RECORD_LEN, &mut expected);
    if reply != expected {
        let index = reply
            .chunks(RECORD_LEN)
            .zip(expected.chunks(RECORD_LEN))
            .position(|(got, want)| got != want)
            .expect("unequal replies of equal length differ in some record");
        let record = &reply[index * RECORD_LEN..(index + 1) * RECORD_LEN];
        panic!("record {index} is {:?}", String::from_utf8_lossy(record));
    }
}
