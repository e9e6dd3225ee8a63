//! A full sync's snapshot, serialized off the shard thread and handed to
//! the link chunk by chunk.
//!
//! Data flow: the shard freezes its keys (`persist::save::freeze`, on the
//! shard thread, after delivering the pending write records) and notes the
//! backlog offset the copy covers; [`SnapshotShip::start`] serializes the
//! copy with the snapshot writer on a thread of its own into chunks of at
//! most `SNAPSHOT_CHUNK_MAX` bytes, through a channel of
//! [`CHUNKS_IN_FLIGHT`] chunks: the thread waits when the link does not
//! take them (back-pressure), so neither side ever holds the whole
//! serialized snapshot. The shard pulls chunks while the link has room
//! ([`SnapshotShip::next_chunk`]) and ends the snapshot when the thread is
//! done. The chunk bytes are the snapshot file format itself, whose
//! per-block and whole-file crc32s let the replica detect any corruption.

use std::io::Write;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;

use kevy_persist::snapshot::{Codec as FileCodec, SnapshotWriter};
use kevy_replication::{Codec, SNAPSHOT_CHUNK_MAX};

use crate::persist::save::{write_frozen, FrozenShard};

use super::state::ReplicationState;

/// Chunks queued between the serializing thread and the link.
pub const CHUNKS_IN_FLIGHT: usize = 4;

/// What the link gets from the serializing thread.
pub enum ChunkPoll {
    Chunk(Vec<u8>),
    /// Nothing yet: the thread is still encoding.
    NotYet,
    /// Every chunk was delivered.
    Done,
    Failed(String),
}

/// One snapshot on its way to one replica link.
pub struct SnapshotShip {
    chunks: Receiver<Result<Vec<u8>, String>>,
    thread: Option<JoinHandle<()>>,
    pub codec: Codec,
    /// The backlog offset the frozen copy covers: live frames follow from it.
    pub end_offset: u64,
    pub bytes_sent: u64,
    /// Cross-shard transactions whose part on this shard the copy holds.
    pub covered: Vec<u64>,
}

/// Buffers the writer's output into chunks and sends them (blocking when
/// the link is behind), waking the shard after each one.
struct ChunkWriter {
    buffer: Vec<u8>,
    chunks: SyncSender<Result<Vec<u8>, String>>,
    state: Arc<ReplicationState>,
    shard: usize,
}

impl ChunkWriter {
    fn send_full(&mut self) -> std::io::Result<()> {
        while self.buffer.len() >= SNAPSHOT_CHUNK_MAX {
            let rest = self.buffer.split_off(SNAPSHOT_CHUNK_MAX);
            let chunk = std::mem::replace(&mut self.buffer, rest);
            self.send(chunk)?;
        }
        Ok(())
    }

    fn send(&mut self, chunk: Vec<u8>) -> std::io::Result<()> {
        self.chunks
            .send(Ok(chunk))
            .map_err(|_| std::io::Error::other("the replica link is gone"))?;
        self.state.ring(self.shard);
        Ok(())
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        self.send_full()?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The snapshot file codec that carries a link's chunk codec.
pub fn file_codec(codec: Codec) -> FileCodec {
    match codec {
        Codec::Plain => FileCodec::Plain,
        Codec::Zstd => FileCodec::Zstd,
    }
}

impl SnapshotShip {
    /// Serializes `frozen` on a new thread.
    pub fn start(
        frozen: FrozenShard,
        codec: Codec,
        end_offset: u64,
        covered: Vec<u64>,
        state: Arc<ReplicationState>,
        shard: usize,
    ) -> std::io::Result<SnapshotShip> {
        let (sender, chunks) = sync_channel(CHUNKS_IN_FLIGHT);
        let thread = std::thread::Builder::new()
            .name(format!("kevy-repl-ship-{shard}"))
            .spawn(move || {
                let mut out = ChunkWriter {
                    buffer: Vec::with_capacity(SNAPSHOT_CHUNK_MAX),
                    chunks: sender.clone(),
                    state: state.clone(),
                    shard,
                };
                let result = SnapshotWriter::new(&mut out, file_codec(codec))
                    .and_then(|mut writer| {
                        write_frozen(&mut writer, &frozen)?;
                        writer.finish().map(|_| ())
                    })
                    .map_err(|e| e.to_string());
                drop(frozen);
                let result = result.and_then(|()| {
                    let last = std::mem::take(&mut out.buffer);
                    if last.is_empty() {
                        Ok(())
                    } else {
                        out.send(last).map_err(|e| e.to_string())
                    }
                });
                if let Err(error) = result {
                    let _ = sender.send(Err(error));
                }
                drop(out);
                drop(sender);
                state.ring(shard);
            })?;
        Ok(SnapshotShip {
            chunks,
            thread: Some(thread),
            codec,
            end_offset,
            bytes_sent: 0,
            covered,
        })
    }

    pub fn next_chunk(&mut self) -> ChunkPoll {
        match self.chunks.try_recv() {
            Ok(Ok(chunk)) => {
                self.bytes_sent += chunk.len() as u64;
                ChunkPoll::Chunk(chunk)
            }
            Ok(Err(error)) => ChunkPoll::Failed(error),
            Err(TryRecvError::Empty) => ChunkPoll::NotYet,
            Err(TryRecvError::Disconnected) => {
                if let Some(thread) = self.thread.take() {
                    let _ = thread.join();
                }
                ChunkPoll::Done
            }
        }
    }
}

impl Drop for SnapshotShip {
    fn drop(&mut self) {
        // Dropping the receiver makes the thread's next send fail, so it
        // ends on its own; it is not joined here to keep the shard going.
        self.thread.take();
    }
}
