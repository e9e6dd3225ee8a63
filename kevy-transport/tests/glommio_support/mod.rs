//! Test support for `tests/glommio.rs`: a line-protocol `ShardHandler`, a
//! server of one or more glommio loops on their own threads, and blocking
//! client helpers.
//!
//! Protocol (one request per line): `echo TEXT` → `TEXT\n`; `big N` → N
//! bytes of [`big_reply_byte`]; `quit` → `bye\n`, then the connection is
//! closed once the reply is written (later input is ignored); `shutdown`
//! makes the handler itself request the loop's stop; anything else
//! is echoed. End of input closes the connection after its replies. Notes
//! pushed by another thread arrive through the inbox and are written to
//! every connection, as replies from other shards would be.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kevy_transport::glommio_backend::GlommioLoop;
use kevy_transport::{ConnId, ShardHandler, ShardLoop, Waker};

/// Long enough never to fire on a working loop; only turns hangs into
/// failures.
pub const LONG_TIMEOUT: Duration = Duration::from_secs(60);

/// Byte `i` of a `big` reply.
pub fn big_reply_byte(i: usize) -> u8 {
    (i % 251) as u8
}

/// What a loop's handler shares with the test thread.
pub struct Shared {
    pub stop: AtomicBool,
    pub tick: Duration,
    inbox: Mutex<Vec<u64>>,
    /// Lines another thread sends to every connection through the inbox.
    notes: Mutex<Vec<String>>,
    pub inbox_sum: AtomicU64,
    pub parks: AtomicU64,
    pub unparks: AtomicU64,
    /// Microseconds `prepare_to_park` busy-waits, widening the window in
    /// which a wake races with the loop going to sleep.
    pub park_delay_us: AtomicU64,
    pub accepted: AtomicUsize,
    pub closed: AtomicUsize,
    pub flushed: AtomicUsize,
}

impl Shared {
    pub fn new() -> Arc<Self> {
        Self::with_tick(Duration::from_millis(50))
    }

    pub fn with_tick(tick: Duration) -> Arc<Self> {
        Arc::new(Shared {
            stop: AtomicBool::new(false),
            tick,
            inbox: Mutex::new(Vec::new()),
            notes: Mutex::new(Vec::new()),
            inbox_sum: AtomicU64::new(0),
            parks: AtomicU64::new(0),
            park_delay_us: AtomicU64::new(0),
            unparks: AtomicU64::new(0),
            accepted: AtomicUsize::new(0),
            closed: AtomicUsize::new(0),
            flushed: AtomicUsize::new(0),
        })
    }

    /// Another thread's message for the loop (announce it with the waker).
    pub fn push_inbox(&self, value: u64) {
        self.inbox.lock().unwrap().push(value);
    }

    /// A line for every connection of the loop (announce it with the waker).
    pub fn push_note(&self, line: &str) {
        self.notes.lock().unwrap().push(line.to_string());
    }
}

#[derive(Default)]
struct Conn {
    input: Vec<u8>,
    output: Vec<u8>,
    written: usize,
    quit: bool,
}

pub struct LineHandler {
    shared: Arc<Shared>,
    conns: HashMap<ConnId, Conn>,
    dirty: Vec<ConnId>,
    closing: Vec<ConnId>,
}

impl LineHandler {
    pub fn new(shared: Arc<Shared>) -> Self {
        LineHandler {
            shared,
            conns: HashMap::new(),
            dirty: Vec::new(),
            closing: Vec::new(),
        }
    }
}

/// What a request asks of the connection or the loop besides its reply.
#[derive(PartialEq)]
enum Answer {
    Replied,
    Quit,
    Shutdown,
}

fn answer(line: &[u8], output: &mut Vec<u8>) -> Answer {
    if let Some(text) = line.strip_prefix(b"echo ") {
        output.extend_from_slice(text);
        output.push(b'\n');
    } else if let Some(len) = line.strip_prefix(b"big ") {
        let len: usize = std::str::from_utf8(len).unwrap().parse().unwrap();
        let start = output.len();
        output.reserve(len);
        output.extend((0..len).map(big_reply_byte));
        debug_assert_eq!(output.len() - start, len);
    } else if line == b"shutdown" {
        return Answer::Shutdown;
    } else if line == b"quit" {
        output.extend_from_slice(b"bye\n");
        return Answer::Quit;
    } else {
        output.extend_from_slice(line);
        output.push(b'\n');
    }
    Answer::Replied
}

impl ShardHandler for LineHandler {
    fn on_accept(&mut self, conn: ConnId, _peer: SocketAddr, _local: SocketAddr) {
        assert!(self.conns.insert(conn, Conn::default()).is_none());
        self.shared.accepted.fetch_add(1, Ordering::SeqCst);
    }

    fn on_read(&mut self, id: ConnId, bytes: &[u8]) {
        let conn = self.conns.get_mut(&id).expect("read on a live connection");
        if bytes.is_empty() {
            self.closing.push(id);
            return;
        }
        if conn.quit {
            return;
        }
        conn.input.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(end) = conn.input[start..].iter().position(|&b| b == b'\n') {
            let line = conn.input[start..start + end].to_vec();
            start += end + 1;
            match answer(&line, &mut conn.output) {
                Answer::Replied => {}
                Answer::Quit => {
                    conn.quit = true;
                    self.closing.push(id);
                    break;
                }
                Answer::Shutdown => self.shared.stop.store(true, Ordering::SeqCst),
            }
        }
        conn.input.drain(..start);
        self.dirty.push(id);
    }

    fn on_closed(&mut self, conn: ConnId) {
        assert!(self.conns.remove(&conn).is_some());
        self.shared.closed.fetch_add(1, Ordering::SeqCst);
    }

    fn on_output_flushed(&mut self, conn: ConnId) {
        let c = self.conns.get(&conn).expect("flushed a live connection");
        assert_eq!(c.written, c.output.len(), "flushed means nothing pending");
        self.shared.flushed.fetch_add(1, Ordering::SeqCst);
    }

    fn on_inbox(&mut self) {
        let drained: u64 = self.shared.inbox.lock().unwrap().drain(..).sum();
        self.shared.inbox_sum.fetch_add(drained, Ordering::SeqCst);
        let notes: Vec<String> = self.shared.notes.lock().unwrap().drain(..).collect();
        for note in notes {
            for (&id, conn) in &mut self.conns {
                if !conn.quit {
                    conn.output.extend_from_slice(note.as_bytes());
                    conn.output.push(b'\n');
                    self.dirty.push(id);
                }
            }
        }
    }

    fn on_tick(&mut self, _now: Instant) {}

    fn end_of_iteration(&mut self) {}

    fn take_events(&mut self, dirty: &mut Vec<ConnId>, closing: &mut Vec<ConnId>) {
        dirty.append(&mut self.dirty);
        closing.append(&mut self.closing);
    }

    fn pending_output(&mut self, conn: ConnId) -> &[u8] {
        match self.conns.get(&conn) {
            Some(c) => &c.output[c.written..],
            None => &[],
        }
    }

    fn consume_output(&mut self, conn: ConnId, n: usize) {
        let c = self
            .conns
            .get_mut(&conn)
            .expect("output of a live connection");
        c.written += n;
        assert!(c.written <= c.output.len());
        if c.written == c.output.len() {
            c.output.clear();
            c.written = 0;
        }
    }

    fn prepare_to_park(&mut self) -> bool {
        self.shared.parks.fetch_add(1, Ordering::SeqCst);
        let delay = Duration::from_micros(self.shared.park_delay_us.load(Ordering::SeqCst));
        let start = Instant::now();
        while start.elapsed() < delay {
            std::hint::spin_loop();
        }
        true
    }

    fn unparked(&mut self) {
        self.shared.unparks.fetch_add(1, Ordering::SeqCst);
    }

    fn stop_requested(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    fn tick_interval(&self) -> Duration {
        self.shared.tick
    }
}

/// A loop's thread and where it reports what `run` returned.
type RunningLoop = (JoinHandle<()>, Receiver<Result<(), String>>);

/// Loops sharing one port, each on its own thread.
pub struct Server {
    pub addr: SocketAddr,
    pub wakers: Vec<Arc<dyn Waker>>,
    shared: Vec<Arc<Shared>>,
    running: Mutex<Vec<RunningLoop>>,
}

impl Server {
    pub fn start(loops: usize, tick: Duration) -> Server {
        let first = GlommioLoop::bind(&["127.0.0.1:0".parse().unwrap()]).unwrap();
        let addr = first.local_addrs()[0];
        let mut all = vec![first];
        for _ in 1..loops {
            all.push(GlommioLoop::bind(&[addr]).unwrap());
        }
        let mut server = Server {
            addr,
            wakers: Vec::new(),
            shared: Vec::new(),
            running: Mutex::new(Vec::new()),
        };
        for lp in all {
            let shared = Shared::with_tick(tick);
            server.wakers.push(lp.waker());
            server.shared.push(shared.clone());
            let (done, result) = channel();
            let thread = std::thread::spawn(move || {
                let mut handler = LineHandler::new(shared);
                let _ = done.send(lp.run(&mut handler).map_err(|e| e.to_string()));
            });
            server.running.lock().unwrap().push((thread, result));
        }
        server
    }

    pub fn shared(&self, index: usize) -> Arc<Shared> {
        self.shared[index].clone()
    }

    pub fn accepted_per_loop(&self) -> Vec<usize> {
        self.shared
            .iter()
            .map(|s| s.accepted.load(Ordering::SeqCst))
            .collect()
    }

    /// Asks every loop to stop and checks that each `run` returned Ok.
    pub fn stop(&self) {
        for (shared, waker) in self.shared.iter().zip(&self.wakers) {
            shared.stop.store(true, Ordering::SeqCst);
            waker.wake();
        }
        self.join();
    }

    /// Waits (without waking anyone) until every loop's `run` returned Ok.
    pub fn join(&self) {
        for (thread, result) in self.running.lock().unwrap().drain(..) {
            match result.recv_timeout(LONG_TIMEOUT) {
                Ok(Ok(())) => thread.join().unwrap(),
                Ok(Err(err)) => panic!("run failed: {err}"),
                Err(_) => panic!("run did not return after stop"),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.stop();
        } else {
            for (shared, waker) in self.shared.iter().zip(&self.wakers) {
                shared.stop.store(true, Ordering::SeqCst);
                waker.wake();
            }
        }
    }
}

pub fn connect(addr: SocketAddr) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(LONG_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(LONG_TIMEOUT)).unwrap();
    BufReader::new(stream)
}

/// One reply line without its newline.
pub fn read_line(client: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    client.read_line(&mut line).unwrap();
    assert!(line.ends_with('\n'), "incomplete line {line:?}");
    line.pop();
    line
}

pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + LONG_TIMEOUT;
    let mut spins = 0u32;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        spins += 1;
        if spins < 1000 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
}
