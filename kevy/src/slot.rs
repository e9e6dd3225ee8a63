//! Which shard owns a key: slot = CRC16(key or its `{hash tag}`) mod 16384,
//! the Redis Cluster rule, so keys sharing a hash tag live together; slots
//! map to shards through a table built at start.

pub const SLOTS: usize = 16384;

/// CRC16-CCITT (XModem), polynomial 0x1021, as Redis Cluster uses it.
const fn crc16_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static CRC16: [u16; 256] = crc16_table();

/// `CRC16_2[a]`: the state after feeding byte `a` then a zero byte from a
/// zero state. CRC is linear, so two bytes `b0 b1` on state `crc` give
/// `CRC16_2[hi(crc) ^ b0] ^ CRC16[lo(crc) ^ b1]`: two independent table
/// loads per two bytes instead of a chain of two.
const fn crc16_pair_table(single: &[u16; 256]) -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut a = 0;
    while a < 256 {
        let first = single[a];
        table[a] = (first << 8) ^ single[(first >> 8) as usize];
        a += 1;
    }
    table
}

static CRC16_2: [u16; 256] = crc16_pair_table(&crc16_table());

pub fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    let mut pairs = data.chunks_exact(2);
    for pair in &mut pairs {
        let hi = usize::from(((crc >> 8) as u8) ^ pair[0]);
        let lo = usize::from((crc as u8) ^ pair[1]);
        crc = CRC16_2[hi] ^ CRC16[lo];
    }
    for &b in pairs.remainder() {
        crc = (crc << 8) ^ CRC16[usize::from(((crc >> 8) as u8) ^ b)];
    }
    crc
}

/// The part of the key that is hashed: the content of the first `{...}` if
/// it is non-empty, else the whole key.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

pub fn slot_of(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) & (SLOTS as u16 - 1)
}

/// Slot → shard, in contiguous ranges of equal size.
#[derive(Clone)]
pub struct SlotTable {
    owner: Box<[u16]>,
    shards: usize,
}

impl SlotTable {
    pub fn new(shards: usize) -> Self {
        assert!((1..=SLOTS).contains(&shards), "1..=16384 shards");
        let owner = (0..SLOTS).map(|s| (s * shards / SLOTS) as u16).collect();
        SlotTable { owner, shards }
    }

    pub fn shards(&self) -> usize {
        self.shards
    }

    pub fn shard_of(&self, key: &[u8]) -> usize {
        usize::from(self.owner[usize::from(slot_of(key))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_cluster_examples() {
        // Values from the Redis Cluster specification and CLUSTER KEYSLOT.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(slot_of(b"foo"), 12182);
        assert_eq!(
            slot_of(b"{user1000}.following"),
            slot_of(b"{user1000}.followers")
        );
        assert_eq!(slot_of(b"foo{}{bar}"), slot_of(b"foo{}{bar}"));
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
    }

    #[test]
    fn pairwise_crc_equals_bytewise() {
        let bytewise = |data: &[u8]| {
            data.iter().fold(0u16, |crc, &b| {
                (crc << 8) ^ CRC16[usize::from(((crc >> 8) as u8) ^ b)]
            })
        };
        let mut data = Vec::new();
        for i in 0..600u32 {
            assert_eq!(crc16(&data), bytewise(&data), "length {}", data.len());
            data.push((i.wrapping_mul(2_654_435_761) >> 13) as u8);
        }
    }

    #[test]
    fn table_covers_all_shards() {
        let table = SlotTable::new(4);
        let mut seen = [false; 4];
        for i in 0..1000 {
            seen[table.shard_of(format!("key:{i}").as_bytes())] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
