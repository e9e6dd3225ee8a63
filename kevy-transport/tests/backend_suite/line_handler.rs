//! A small line protocol core that the backend suite runs on every
//! backend, standing in for the real shard core.
//!
//! Clients send `\n`-terminated lines; the handler answers each one:
//! `PING` → `PONG`, `ECHO <text>` → `<text>`, `BIG <n>` → `n` numbered
//! 16-byte records (see [`big_reply`]), `QUIT` → `BYE` and a close once the
//! reply is written, `HOLD` → `HELD` after blocking the loop thread while
//! [`LoopStats::hold`] is set (so a test can let events pile up). Like the real core it stops taking lines from a
//! connection while that connection's unwritten output exceeds a limit and
//! resumes on `on_output_flushed`, and it closes a connection whose peer
//! half-closed once every reply is written. Everything the tests observe
//! crosses threads through [`LoopStats`]; the cross-shard inbox is a
//! counter that other threads add to before calling the loop's waker.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kevy_transport::{ConnId, ShardHandler};

/// The longest a `HOLD` line blocks the loop, so a failed test cannot
/// leave it blocked forever.
pub const HOLD_LIMIT: Duration = Duration::from_secs(30);

/// Length of one record of a `BIG` reply: 15 digits and a newline.
pub const RECORD_LEN: usize = 16;

/// Per-test settings of the handler.
#[derive(Clone, Copy, Debug)]
pub struct HandlerConfig {
    pub tick_interval: Duration,
    /// Lines are left unprocessed while a connection has more than this
    /// many unwritten bytes.
    pub output_limit: usize,
    /// The handler asks for one early tick this long after it starts
    /// (`ShardHandler::next_deadline`), as a blocked client's timeout does.
    pub deadline_after: Option<Duration>,
}

impl Default for HandlerConfig {
    /// A tick too long to ever run, so that an idle loop makes no
    /// iterations at all (the tests count them to detect spinning).
    fn default() -> Self {
        HandlerConfig {
            tick_interval: Duration::from_secs(3600),
            output_limit: 1 << 20,
            deadline_after: None,
        }
    }
}

/// What the loop thread did, readable from the test thread.
#[derive(Default)]
pub struct LoopStats {
    pub stop: AtomicBool,
    pub accepted: AtomicUsize,
    pub closed: AtomicUsize,
    /// Calls of `on_read` with bytes, and the bytes they carried.
    pub reads: AtomicUsize,
    pub bytes_read: AtomicUsize,
    /// Calls of `on_read` with an empty slice (end of input).
    pub end_of_input: AtomicUsize,
    /// Complete lines answered, over all connections.
    pub lines_answered: AtomicUsize,
    /// Calls of `consume_output` (one per successful socket write).
    pub writes: AtomicUsize,
    pub output_flushed: AtomicUsize,
    /// Unwritten output over all connections, and the most ever seen.
    pub pending_output: AtomicUsize,
    pub max_pending_output: AtomicUsize,
    /// Loop iterations (calls of `end_of_iteration`).
    pub iterations: AtomicU64,
    pub inbox_calls: AtomicU64,
    pub ticks: AtomicU64,
    /// True between a `prepare_to_park` that allowed sleeping and `unparked`.
    pub parked: AtomicBool,
    /// The inbox: messages posted by other threads and not yet taken.
    pub mailbox: AtomicU64,
    /// Messages taken from the mailbox by `on_inbox`.
    pub delivered: AtomicU64,
    /// While set, a `HOLD` line blocks the loop thread (at most [`HOLD_LIMIT`]).
    pub hold: AtomicBool,
    /// Set while a `HOLD` line blocks the loop thread.
    pub holding: AtomicBool,
}

/// The current value of one of the [`LoopStats`] counters.
pub fn count(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

#[derive(Default)]
struct LineConn {
    input: Vec<u8>,
    output: Vec<u8>,
    /// Bytes of `output` already written.
    written: usize,
    /// The peer closed its sending side.
    eof: bool,
    /// A close was requested; no more lines are answered.
    closing: bool,
}

impl LineConn {
    fn pending(&self) -> usize {
        self.output.len() - self.written
    }
}

/// The test core. Lives on the loop thread; shares only [`LoopStats`].
pub struct LineHandler {
    config: HandlerConfig,
    stats: Arc<LoopStats>,
    conns: HashMap<ConnId, LineConn>,
    dirty: Vec<ConnId>,
    closing: Vec<ConnId>,
    /// Until the first tick: when the handler wants it.
    deadline: Option<Instant>,
}

impl LineHandler {
    pub fn new(config: HandlerConfig, stats: Arc<LoopStats>) -> Self {
        LineHandler {
            config,
            stats,
            conns: HashMap::new(),
            dirty: Vec::new(),
            closing: Vec::new(),
            deadline: config.deadline_after.map(|after| Instant::now() + after),
        }
    }

    /// Answers complete lines until the output limit is reached; requests
    /// the close of a half-closed connection once nothing is left to answer.
    fn process_input(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let pending_before = conn.pending();
        let mut answered = 0;
        while !conn.closing && conn.pending() <= self.config.output_limit {
            let Some(end) = conn.input.iter().position(|&b| b == b'\n') else {
                break;
            };
            let line: Vec<u8> = conn.input.drain(..=end).take(end).collect();
            if conn.written > 0 {
                conn.output.drain(..conn.written);
                conn.written = 0;
            }
            if line == b"HOLD" {
                hold(&self.stats);
            }
            answer(&line, &mut conn.output, &mut conn.closing);
            answered += 1;
        }
        let idle = !conn.input.contains(&b'\n');
        if conn.eof && idle && !conn.closing {
            conn.closing = true;
        }
        if conn.closing && !self.closing.contains(&id) {
            self.closing.push(id);
        }
        let pending_after = conn.pending();
        if pending_after > pending_before {
            self.dirty.push(id);
            self.stats
                .pending_output
                .fetch_add(pending_after - pending_before, Ordering::SeqCst);
            let total = self.stats.pending_output.load(Ordering::SeqCst);
            self.stats
                .max_pending_output
                .fetch_max(total, Ordering::SeqCst);
        }
        self.stats
            .lines_answered
            .fetch_add(answered, Ordering::SeqCst);
    }
}

/// Blocks the loop thread while [`LoopStats::hold`] is set.
fn hold(stats: &LoopStats) {
    let started = Instant::now();
    stats.holding.store(true, Ordering::SeqCst);
    while stats.hold.load(Ordering::SeqCst) && started.elapsed() < HOLD_LIMIT {
        std::thread::sleep(Duration::from_millis(1));
    }
    stats.holding.store(false, Ordering::SeqCst);
}

/// Appends the reply to one request line.
fn answer(line: &[u8], output: &mut Vec<u8>, close: &mut bool) {
    let (command, argument) = match line.iter().position(|&b| b == b' ') {
        Some(space) => (&line[..space], &line[space + 1..]),
        None => (line, &line[..0]),
    };
    match command {
        b"PING" => output.extend_from_slice(b"PONG\n"),
        b"ECHO" => {
            output.extend_from_slice(argument);
            output.push(b'\n');
        }
        b"BIG" => {
            let records = std::str::from_utf8(argument)
                .ok()
                .and_then(|text| text.parse::<usize>().ok())
                .unwrap_or(0);
            big_reply(records, output);
        }
        b"HOLD" => output.extend_from_slice(b"HELD\n"),
        b"QUIT" => {
            output.extend_from_slice(b"BYE\n");
            *close = true;
        }
        _ => output.extend_from_slice(b"ERR\n"),
    }
}

/// Appends `records` records of [`RECORD_LEN`] bytes: record `i` is `i`
/// in 15 zero-padded digits and a newline, so a reader can tell any lost,
/// repeated or reordered byte range.
pub fn big_reply(records: usize, output: &mut Vec<u8>) {
    output.reserve(records * RECORD_LEN);
    for index in 0..records {
        let mut digits = [b'0'; RECORD_LEN];
        digits[RECORD_LEN - 1] = b'\n';
        let mut rest = index;
        for slot in digits[..RECORD_LEN - 1].iter_mut().rev() {
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        output.extend_from_slice(&digits);
    }
}

impl ShardHandler for LineHandler {
    fn on_accept(&mut self, conn: ConnId, _peer: SocketAddr, _local: SocketAddr) {
        let previous = self.conns.insert(conn, LineConn::default());
        assert!(previous.is_none(), "connection {conn} accepted twice");
        self.stats.accepted.fetch_add(1, Ordering::SeqCst);
    }

    fn on_read(&mut self, id: ConnId, bytes: &[u8]) {
        let conn = self
            .conns
            .get_mut(&id)
            .unwrap_or_else(|| panic!("read on unknown connection {id}"));
        assert!(!conn.eof, "read on connection {id} after its end of input");
        if bytes.is_empty() {
            conn.eof = true;
            self.stats.end_of_input.fetch_add(1, Ordering::SeqCst);
        } else {
            conn.input.extend_from_slice(bytes);
            self.stats.reads.fetch_add(1, Ordering::SeqCst);
            self.stats
                .bytes_read
                .fetch_add(bytes.len(), Ordering::SeqCst);
        }
        self.process_input(id);
    }

    fn on_closed(&mut self, id: ConnId) {
        let conn = self
            .conns
            .remove(&id)
            .unwrap_or_else(|| panic!("close of unknown connection {id}"));
        self.stats
            .pending_output
            .fetch_sub(conn.pending(), Ordering::SeqCst);
        self.dirty.retain(|&c| c != id);
        self.closing.retain(|&c| c != id);
        self.stats.closed.fetch_add(1, Ordering::SeqCst);
    }

    fn on_output_flushed(&mut self, id: ConnId) {
        assert_eq!(self.conns.get(&id).map(LineConn::pending), Some(0));
        self.stats.output_flushed.fetch_add(1, Ordering::SeqCst);
        self.process_input(id);
    }

    fn on_inbox(&mut self) {
        self.stats.inbox_calls.fetch_add(1, Ordering::SeqCst);
        let taken = self.stats.mailbox.swap(0, Ordering::SeqCst);
        self.stats.delivered.fetch_add(taken, Ordering::SeqCst);
    }

    fn on_tick(&mut self, _now: Instant) {
        self.deadline = None;
        self.stats.ticks.fetch_add(1, Ordering::SeqCst);
    }

    fn end_of_iteration(&mut self) {
        self.stats.iterations.fetch_add(1, Ordering::SeqCst);
    }

    fn take_events(&mut self, dirty: &mut Vec<ConnId>, closing: &mut Vec<ConnId>) {
        dirty.append(&mut self.dirty);
        closing.append(&mut self.closing);
    }

    fn pending_output(&mut self, id: ConnId) -> &[u8] {
        match self.conns.get(&id) {
            Some(conn) => &conn.output[conn.written..],
            None => &[],
        }
    }

    fn consume_output(&mut self, id: ConnId, n: usize) {
        let conn = self
            .conns
            .get_mut(&id)
            .unwrap_or_else(|| panic!("write on unknown connection {id}"));
        assert!(n <= conn.pending(), "consumed more than was pending");
        conn.written += n;
        if conn.written == conn.output.len() {
            conn.output.clear();
            conn.written = 0;
        }
        self.stats.pending_output.fetch_sub(n, Ordering::SeqCst);
        self.stats.writes.fetch_add(1, Ordering::SeqCst);
    }

    fn prepare_to_park(&mut self) -> bool {
        assert!(
            !self.stats.parked.load(Ordering::SeqCst),
            "prepare_to_park twice without unparked"
        );
        // Like the real core: output produced after this iteration's
        // writes (a resumed connection) must not wait for an event.
        if !self.dirty.is_empty() || !self.closing.is_empty() {
            return false;
        }
        self.stats.parked.store(true, Ordering::SeqCst);
        true
    }

    fn unparked(&mut self) {
        let was_parked = self.stats.parked.swap(false, Ordering::SeqCst);
        assert!(
            was_parked,
            "unparked without a prepare_to_park that allowed it"
        );
    }

    fn stop_requested(&self) -> bool {
        self.stats.stop.load(Ordering::SeqCst)
    }

    fn tick_interval(&self) -> Duration {
        self.config.tick_interval
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.deadline
    }
}
