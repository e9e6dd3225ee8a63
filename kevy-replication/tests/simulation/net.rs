//! The simulated network and primary-side helpers: a seeded random
//! source, an in-order pipe with delays, the connection (the pump, two
//! pipes and a snapshot producer), and the snapshot format of the
//! simulated keyspace (the history of writes, serialized).

use std::collections::VecDeque;

use kevy_replication::{ReplicaPump, TxnMark};

/// SplitMix64: small, seedable, good enough to pick faults.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }
    /// True with probability `per_mille` / 1000.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1_000) < per_mille
    }
}

/// Bytes in flight one way, delivered in order at their times.
#[derive(Default)]
pub struct Pipe(pub VecDeque<(u64, Vec<u8>)>);

impl Pipe {
    pub fn send(&mut self, now: u64, delay: u64, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        let after_previous = self.0.back().map_or(0, |(at, _)| *at);
        self.0.push_back(((now + delay).max(after_previous), bytes));
    }
    pub fn due(&mut self, now: u64) -> Option<Vec<u8>> {
        match self.0.front() {
            Some((at, _)) if *at <= now => self.0.pop_front().map(|(_, bytes)| bytes),
            _ => None,
        }
    }
}

/// A snapshot being pushed into the pump chunk by chunk.
pub struct SnapshotProducer {
    pub bytes: Vec<u8>,
    pub sent: usize,
    pub ack_offset: u64,
}

pub struct Connection {
    pub pump: ReplicaPump,
    pub to_replica: Pipe,
    pub to_primary: Pipe,
    pub producer: Option<SnapshotProducer>,
    /// The pump closed: deliver what it said, then close.
    pub closing: bool,
}

pub fn serialize(history: &[(u64, Vec<u8>, Option<TxnMark>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (offset, bytes, _) in history {
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

pub fn deserialize(mut bytes: &[u8]) -> Result<Vec<(u64, Vec<u8>)>, String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 12 {
            return Err("snapshot cut inside a record header".into());
        }
        let offset = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        let len = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
        let record = bytes
            .get(12..12 + len)
            .ok_or("snapshot cut inside a record")?;
        out.push((offset, record.to_vec()));
        bytes = &bytes[12 + len..];
    }
    Ok(out)
}
