//! Loading one stream's full-sync snapshot while it arrives.
//!
//! Data flow: the stream thread hands each snapshot chunk to
//! [`SnapshotLoad::chunk`] (a bounded channel: when the loader is behind,
//! the stream thread waits, stops reading its socket, and the primary's
//! link stops sending: back-pressure end to end). A thread reads the
//! chunks as one byte stream with the snapshot reader, which checks every
//! block's and the whole file's crc32, and builds the keys into one staged
//! keyspace per replica shard (each key where its slot lives on this
//! replica). [`SnapshotLoad::finish`] returns them once the snapshot's end
//! arrived; only then do the shards swap them in.

use std::io::Read;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use crate::keyspace::Keyspace;
use crate::persist::load::{load_snapshot, ValueLimits};
use crate::slot::SlotTable;

/// Chunks queued for the loading thread.
const CHUNKS_QUEUED: usize = 8;

/// Reads a channel of chunks as one byte stream; its end is the end of
/// the snapshot.
struct ChunkReader {
    chunks: Receiver<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.current.len() {
            match self.chunks.recv() {
                Ok(chunk) => {
                    self.current = chunk;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len() - self.at);
        out[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

type Staged = Result<(Vec<Keyspace>, u64), String>;

/// A snapshot being loaded on its own thread.
pub struct SnapshotLoad {
    chunks: Option<SyncSender<Vec<u8>>>,
    thread: Option<JoinHandle<Staged>>,
    pub bytes: u64,
}

impl SnapshotLoad {
    pub fn start(shards: usize, databases: usize, limits: ValueLimits) -> std::io::Result<Self> {
        let (sender, receiver) = sync_channel(CHUNKS_QUEUED);
        let thread = std::thread::Builder::new()
            .name("kevy-repl-load".into())
            .spawn(move || {
                let reader = ChunkReader {
                    chunks: receiver,
                    current: Vec::new(),
                    at: 0,
                };
                let mut staged: Vec<Keyspace> =
                    (0..shards).map(|_| Keyspace::new(databases)).collect();
                let slots = SlotTable::new(shards);
                let now_ms = crate::shard::unix_ms();
                let report = load_snapshot(reader, &mut staged, &slots, limits, now_ms)
                    .map_err(|e| format!("the snapshot stream is invalid: {e}"))?;
                Ok((staged, report.keys))
            })?;
        Ok(SnapshotLoad {
            chunks: Some(sender),
            thread: Some(thread),
            bytes: 0,
        })
    }

    /// Hands one chunk to the loader (waits while it is behind). An error
    /// means the loader stopped (a bad snapshot): `finish` tells why.
    pub fn chunk(&mut self, bytes: Vec<u8>) -> bool {
        self.bytes += bytes.len() as u64;
        match &self.chunks {
            Some(chunks) => chunks.send(bytes).is_ok(),
            None => false,
        }
    }

    /// The snapshot is complete: the staged keyspaces and the key count.
    pub fn finish(mut self) -> Staged {
        self.chunks.take();
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err("the snapshot loader panicked".into())),
            None => Err("the snapshot loader is gone".into()),
        }
    }
}

impl Drop for SnapshotLoad {
    fn drop(&mut self) {
        // Closing the channel ends the reader; the thread finishes on its
        // own (an aborted snapshot reads as a truncated file).
        self.chunks.take();
        self.thread.take();
    }
}
