//! Unit tests of the shared readiness iteration with scripted in-memory
//! streams: what the socket suite (`tests/backend_suite`) cannot pin down
//! exactly — the per-iteration read budget, when a short read ends reading,
//! and how writes resume, flush and close.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{ReadClosedEvents, ReadinessState, READ_BUDGET_PER_ITERATION, READ_CHUNK};
use crate::{ConnId, ShardHandler};

enum ReadStep {
    Data(Vec<u8>),
    EndOfInput,
    Reset,
}

/// A non-blocking stream whose reads follow a script (then `WouldBlock`)
/// and whose writes accept `write_room` bytes (then `WouldBlock`).
#[derive(Default)]
struct ScriptedStream {
    reads: VecDeque<ReadStep>,
    read_calls: usize,
    write_room: usize,
    write_fails: bool,
    written: Vec<u8>,
}

impl Read for ScriptedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_calls += 1;
        match self.reads.pop_front() {
            None => Err(io::ErrorKind::WouldBlock.into()),
            Some(ReadStep::Data(data)) => {
                assert!(
                    data.len() <= buf.len(),
                    "a scripted read larger than the buffer"
                );
                buf[..data.len()].copy_from_slice(&data);
                Ok(data.len())
            }
            Some(ReadStep::EndOfInput) => Ok(0),
            Some(ReadStep::Reset) => Err(io::ErrorKind::ConnectionReset.into()),
        }
    }
}

impl Write for ScriptedStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.write_fails {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        if self.write_room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.write_room);
        self.write_room -= n;
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A core that records what the loop told it and closes a connection at
/// its end of input.
#[derive(Default)]
struct Recorder {
    input: HashMap<ConnId, Vec<u8>>,
    end_of_input: Vec<ConnId>,
    closed: Vec<ConnId>,
    flushed: Vec<ConnId>,
    output: HashMap<ConnId, Vec<u8>>,
    dirty: Vec<ConnId>,
    closing: Vec<ConnId>,
    parks: usize,
}

impl Recorder {
    fn queue_output(&mut self, id: ConnId, bytes: &[u8]) {
        self.output.entry(id).or_default().extend_from_slice(bytes);
        self.dirty.push(id);
    }
}

impl ShardHandler for Recorder {
    fn on_accept(&mut self, _conn: ConnId, _peer: SocketAddr, _local: SocketAddr) {}

    fn on_read(&mut self, conn: ConnId, bytes: &[u8]) {
        if bytes.is_empty() {
            self.end_of_input.push(conn);
            self.closing.push(conn);
        }
        self.input.entry(conn).or_default().extend_from_slice(bytes);
    }

    fn on_closed(&mut self, conn: ConnId) {
        self.output.remove(&conn);
        self.closed.push(conn);
    }

    fn on_output_flushed(&mut self, conn: ConnId) {
        self.flushed.push(conn);
    }

    fn on_inbox(&mut self) {}

    fn on_tick(&mut self, _now: Instant) {}

    fn end_of_iteration(&mut self) {}

    fn take_events(&mut self, dirty: &mut Vec<ConnId>, closing: &mut Vec<ConnId>) {
        dirty.append(&mut self.dirty);
        closing.append(&mut self.closing);
    }

    fn pending_output(&mut self, conn: ConnId) -> &[u8] {
        self.output.get(&conn).map_or(&[], Vec::as_slice)
    }

    fn consume_output(&mut self, conn: ConnId, n: usize) {
        if let Some(output) = self.output.get_mut(&conn) {
            output.drain(..n);
        }
    }

    fn prepare_to_park(&mut self) -> bool {
        self.parks += 1;
        true
    }

    fn unparked(&mut self) {}

    fn stop_requested(&self) -> bool {
        false
    }

    fn tick_interval(&self) -> Duration {
        Duration::from_secs(3600)
    }
}

type State = ReadinessState<ScriptedStream>;

fn new_state(events: ReadClosedEvents) -> State {
    ReadinessState::new(Duration::from_secs(3600), events)
}

/// One loop iteration: plan and "poll" (the events are `readiness`), then
/// the shared rest. Returns whether the handler was allowed to park.
fn iterate(
    state: &mut State,
    core: &mut Recorder,
    readiness: &[(ConnId, bool, bool, bool)],
    deregistered: &mut Vec<ScriptedStream>,
) -> bool {
    let plan = state.plan_poll(core);
    state.after_poll(core, &plan);
    for &(id, readable, writable, read_closed) in readiness {
        state.on_readiness(id, readable, writable, read_closed);
    }
    state.finish_iteration(core, |stream| deregistered.push(std::mem::take(stream)));
    plan.parked
}

#[test]
fn reads_at_most_the_budget_per_iteration_then_polls_without_sleeping() {
    let chunks = READ_BUDGET_PER_ITERATION / READ_CHUNK + 4;
    let mut stream = ScriptedStream::default();
    for index in 0..chunks {
        stream
            .reads
            .push_back(ReadStep::Data(vec![index as u8; READ_CHUNK]));
    }
    let mut state = new_state(ReadClosedEvents::Reported);
    let mut core = Recorder::default();
    let mut deregistered = Vec::new();
    let id = state.insert(stream);

    assert!(iterate(
        &mut state,
        &mut core,
        &[(id, true, false, false)],
        &mut deregistered
    ));
    assert_eq!(core.input[&id].len(), READ_BUDGET_PER_ITERATION);
    let parks = core.parks;
    // Input is left: the next poll must not sleep, nor ask the core to.
    assert!(!iterate(&mut state, &mut core, &[], &mut deregistered));
    assert_eq!(core.parks, parks);
    assert_eq!(core.input[&id].len(), chunks * READ_CHUNK);
    let stream = state.stream_mut(id).expect("the connection is open");
    assert_eq!(stream.read_calls, chunks + 1, "read until WouldBlock");
    assert!(iterate(&mut state, &mut core, &[], &mut deregistered));
    assert!(core.end_of_input.is_empty() && deregistered.is_empty());
}

/// Reads one event's worth from a stream holding a few bytes and then the
/// end of input; returns the read calls made and whether the end was seen.
fn read_short_then_end(events: ReadClosedEvents, read_closed: bool) -> (usize, bool) {
    let mut stream = ScriptedStream::default();
    stream.reads.push_back(ReadStep::Data(b"PING\r\n".to_vec()));
    stream.reads.push_back(ReadStep::EndOfInput);
    let mut state = new_state(events);
    let mut core = Recorder::default();
    let mut deregistered = Vec::new();
    let id = state.insert(stream);
    iterate(
        &mut state,
        &mut core,
        &[(id, true, false, read_closed)],
        &mut deregistered,
    );
    assert_eq!(core.input[&id], b"PING\r\n");
    // Seeing the end, the core closed the connection: the stream was
    // handed to the deregister callback.
    let read_calls = match state.stream_mut(id) {
        Some(stream) => stream.read_calls,
        None => deregistered[0].read_calls,
    };
    (read_calls, !core.end_of_input.is_empty())
}

#[test]
fn a_short_read_ends_reading_only_when_events_would_report_the_end() {
    // Reported and not flagged: the end comes with a later event.
    assert_eq!(
        read_short_then_end(ReadClosedEvents::Reported, false),
        (1, false)
    );
    // Flagged with the data: read on to the end of input.
    assert_eq!(
        read_short_then_end(ReadClosedEvents::Reported, true),
        (2, true)
    );
    // Not reported by the poller: always read on.
    assert_eq!(
        read_short_then_end(ReadClosedEvents::NotReported, false),
        (2, true)
    );
}

#[test]
fn output_resumes_on_a_writable_edge_and_is_flushed_once() {
    let mut state = new_state(ReadClosedEvents::Reported);
    let mut core = Recorder::default();
    let mut deregistered = Vec::new();
    let id = state.insert(ScriptedStream {
        write_room: 30,
        ..ScriptedStream::default()
    });
    let reply: Vec<u8> = (0..100u8).collect();
    core.queue_output(id, &reply);
    iterate(&mut state, &mut core, &[], &mut deregistered);
    let written = |state: &mut State| state.stream_mut(id).map(|s| s.written.clone());
    assert_eq!(written(&mut state), Some(reply[..30].to_vec()));
    assert!(core.flushed.is_empty());
    // Blocked: an iteration without a writable edge writes nothing.
    state.stream_mut(id).expect("open").write_room = 1000;
    iterate(&mut state, &mut core, &[], &mut deregistered);
    assert_eq!(written(&mut state), Some(reply[..30].to_vec()));
    iterate(
        &mut state,
        &mut core,
        &[(id, false, true, false)],
        &mut deregistered,
    );
    assert_eq!(written(&mut state), Some(reply.clone()));
    assert_eq!(core.flushed, vec![id]);
    // A writable edge with nothing blocked changes nothing.
    iterate(
        &mut state,
        &mut core,
        &[(id, false, true, false)],
        &mut deregistered,
    );
    assert_eq!(core.flushed, vec![id]);
    assert!(core.closed.is_empty() && deregistered.is_empty());
}

#[test]
fn a_close_waits_for_the_output_then_deregisters_once() {
    let mut state = new_state(ReadClosedEvents::Reported);
    let mut core = Recorder::default();
    let mut deregistered = Vec::new();
    let id = state.insert(ScriptedStream {
        write_room: 40,
        ..ScriptedStream::default()
    });
    core.queue_output(id, &[7; 100]);
    core.closing.push(id);
    iterate(&mut state, &mut core, &[], &mut deregistered);
    assert!(
        core.closed.is_empty(),
        "closed before its output was written"
    );
    state.stream_mut(id).expect("open").write_room = 1000;
    iterate(
        &mut state,
        &mut core,
        &[(id, true, true, true)],
        &mut deregistered,
    );
    assert_eq!(core.closed, vec![id]);
    assert_eq!(deregistered.len(), 1, "deregistered once");
    assert_eq!(
        deregistered[0].written,
        vec![7; 100],
        "after all the output"
    );
    assert!(
        core.end_of_input.is_empty(),
        "a closing connection is not read"
    );
    // Late events for the closed id are ignored; the id is reused.
    iterate(
        &mut state,
        &mut core,
        &[(id, true, true, true)],
        &mut deregistered,
    );
    assert_eq!(state.insert(ScriptedStream::default()), id);
}

#[test]
fn a_reset_ends_the_input_and_a_failed_write_closes() {
    let mut state = new_state(ReadClosedEvents::Reported);
    let mut core = Recorder::default();
    let mut deregistered = Vec::new();
    let mut stream = ScriptedStream::default();
    stream.reads.push_back(ReadStep::Reset);
    let reset = state.insert(stream);
    let broken = state.insert(ScriptedStream {
        write_fails: true,
        ..ScriptedStream::default()
    });
    core.queue_output(broken, b"never written");
    iterate(
        &mut state,
        &mut core,
        &[(reset, true, true, true)],
        &mut deregistered,
    );
    assert_eq!(core.end_of_input, vec![reset]);
    core.closed.sort_unstable();
    assert_eq!(core.closed, vec![reset, broken]);
    assert_eq!(deregistered.len(), 2);
    assert!(state.stream_mut(reset).is_none() && state.stream_mut(broken).is_none());
}
