//! The replication id: a random 40-hex-digit name for one history of
//! writes, as Redis's replid.
//!
//! Data flow: a primary makes a new id when it starts without its data or
//! is promoted; it sends the id in `+ACK` and `+SNAPSHOT`; a replica keeps
//! the id with the offset it has applied and names both when it resumes.
//! Offsets are only comparable within one history, so a replica naming
//! another id full-syncs even when its offset looks valid.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

/// Hex digits in a replication id.
pub const REPLID_LEN: usize = 40;

/// A history id: 40 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplId([u8; REPLID_LEN]);

impl ReplId {
    /// The id spelled by 20 random bytes (the caller supplies the
    /// randomness, so tests are deterministic).
    pub fn from_random_bytes(bytes: [u8; REPLID_LEN / 2]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut id = [0u8; REPLID_LEN];
        for (index, byte) in bytes.iter().enumerate() {
            id[2 * index] = HEX[usize::from(byte >> 4)];
            id[2 * index + 1] = HEX[usize::from(byte & 0x0f)];
        }
        ReplId(id)
    }

    /// A fresh id from the process's random hash keys (seeded from the
    /// operating system) mixed with the clock: unique enough to tell
    /// histories apart, without a random-number dependency.
    pub fn generate() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        let mut bytes = [0u8; REPLID_LEN / 2];
        for (index, piece) in bytes.chunks_mut(8).enumerate() {
            // Each RandomState::new() has distinct keys, so each piece differs.
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u128(nanos);
            hasher.write_usize(index);
            let word = hasher.finish().to_le_bytes();
            piece.copy_from_slice(&word[..piece.len()]);
        }
        ReplId::from_random_bytes(bytes)
    }

    /// Parses 40 hex digits (either case; kept lowercase).
    pub fn parse(text: &[u8]) -> Option<Self> {
        if text.len() != REPLID_LEN || !text.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let mut id = [0u8; REPLID_LEN];
        for (slot, byte) in id.iter_mut().zip(text) {
            *slot = byte.to_ascii_lowercase();
        }
        Some(ReplId(id))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a ReplId holds only ASCII hex digits")
    }
}

impl fmt::Display for ReplId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ReplId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplId({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spells_and_parses_hex() {
        let id = ReplId::from_random_bytes([0xab; 20]);
        assert_eq!(id.as_str(), "ab".repeat(20));
        assert_eq!(ReplId::parse(id.as_str().as_bytes()), Some(id));
        assert_eq!(ReplId::parse("AB".repeat(20).as_bytes()), Some(id));
        assert_eq!(ReplId::parse(b"abc"), None);
        assert_eq!(ReplId::parse("zz".repeat(20).as_bytes()), None);
    }

    #[test]
    fn generated_ids_differ() {
        let a = ReplId::generate();
        let b = ReplId::generate();
        assert_ne!(a, b);
        assert_eq!(ReplId::parse(a.as_str().as_bytes()), Some(a));
    }
}
