//! `DEBUG DIGEST`: a digest of the whole dataset, for tests that compare a
//! replica with its primary (or any two servers) whatever their shard
//! counts.
//!
//! kevy's own digest, not Redis's SHA1 one (which is order-dependent in
//! places and hex): every key contributes a 31-bit hash of its database,
//! name, TTL and value, and the contributions are summed, so the result is
//! the same in any key order and any split over shards (each shard sums
//! its keys; the shards' sums are summed). Inside a value, hash fields,
//! set members and sorted-set members are summed too (their order depends
//! on how the value was built), while list items and stream entries are
//! chained in order. Reply: an integer, 0 for an empty dataset.

use super::{CommandSpec, ExecCtx, Gather, Handler, KeySpec, Route};
use crate::keyspace::stream::{StreamId, StreamValue};
use crate::keyspace::Value;
use crate::resp::Argv;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "debug",
    arity: -2,
    flags: &["admin", "noscript", "loading", "stale"],
    acl: &["@admin", "@slow", "@dangerous"],
    keys: KeySpec::None,
    route: Route::AllShards(Gather::SumIntegers),
    handler: Handler::Key(debug),
    group: "server",
    since: "1.0.0",
    summary: "A container for debugging commands",
    subcommands: &[],
}];

fn debug(ctx: &mut ExecCtx, argv: Argv) {
    let sub = argv.get(1);
    if !sub.eq_ignore_ascii_case(b"digest") || argv.len() != 2 {
        let name = String::from_utf8_lossy(sub);
        ctx.reply
            .error(&format!("ERR unknown subcommand '{name}'. Try DEBUG HELP."));
        return;
    }
    let now_ms = ctx.now_ms;
    let mut sum: i64 = 0;
    for (index, db) in ctx.keyspace.dbs.iter().enumerate() {
        for entry in db.iter_live(now_ms) {
            let mut hasher = Fnv::new();
            hasher.u64(index as u64);
            hasher.bytes(entry.key.as_bytes());
            hasher.u64(entry.expire_at().unwrap_or(0));
            hasher.u64(value_digest(&entry.value));
            sum = sum.saturating_add((hasher.finish() >> 33) as i64);
        }
    }
    ctx.reply.int(sum);
}

/// FNV-1a, 64 bits, with a final mix: small, no dependency, stable.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.u64(bytes.len() as u64);
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn u64(&mut self, n: u64) {
        for byte in n.to_le_bytes() {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn hash_of(parts: &[&[u8]]) -> u64 {
    let mut hasher = Fnv::new();
    for part in parts {
        hasher.bytes(part);
    }
    hasher.finish()
}

fn value_digest(value: &Value) -> u64 {
    let mut scratch = Vec::new();
    let mut hasher = Fnv::new();
    match value {
        Value::Str(s) => {
            hasher.u64(1);
            hasher.bytes(s.as_bytes(&mut scratch));
        }
        Value::Hash(hash) => {
            hasher.u64(2);
            let sum = hash
                .iter()
                .fold(0u64, |acc, (f, v)| acc.wrapping_add(hash_of(&[f, v])));
            hasher.u64(sum);
        }
        Value::List(list) => {
            hasher.u64(3);
            for item in list.iter() {
                hasher.bytes(item);
            }
        }
        Value::Set(set) => {
            hasher.u64(4);
            let sum = set.iter().fold(0u64, |acc, member| {
                acc.wrapping_add(hash_of(&[member.as_bytes(&mut scratch)]))
            });
            hasher.u64(sum);
        }
        Value::ZSet(zset) => {
            hasher.u64(5);
            let sum = zset.iter().fold(0u64, |acc, (member, score)| {
                acc.wrapping_add(hash_of(&[member, &score.to_bits().to_le_bytes()]))
            });
            hasher.u64(sum);
        }
        Value::Stream(stream) => {
            hasher.u64(6);
            stream_digest(&mut hasher, stream);
        }
    }
    hasher.finish()
}

fn id_bytes(id: StreamId) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&id.ms.to_le_bytes());
    out[8..].copy_from_slice(&id.seq.to_le_bytes());
    out
}

fn stream_digest(hasher: &mut Fnv, stream: &StreamValue) {
    let entries = &stream.entries;
    hasher.bytes(&id_bytes(entries.last_id));
    for entry in entries.range(StreamId::MIN, StreamId::MAX) {
        hasher.bytes(&id_bytes(entry.id));
        for (field, value) in entry.pairs() {
            hasher.bytes(field);
            hasher.bytes(value);
        }
    }
    for (name, group) in &stream.groups {
        hasher.bytes(name);
        hasher.bytes(&id_bytes(group.last_id));
        for (id, pending) in &group.pel {
            hasher.bytes(&id_bytes(*id));
            hasher.bytes(&pending.consumer);
            hasher.u64(pending.delivery_count);
        }
        for name in group.consumers.keys() {
            hasher.bytes(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::cmd::test_harness::Harness;

    fn digest_after(lines: &[&str]) -> String {
        let mut harness = Harness::new();
        for line in lines {
            harness.run(line);
        }
        harness.run("DEBUG DIGEST")
    }

    #[test]
    fn digest_ignores_order_and_sees_every_difference() {
        let a = digest_after(&["SET k v", "SADD s 1 2 3", "HSET h a 1 b 2", "RPUSH l x y"]);
        let b = digest_after(&["RPUSH l x y", "HSET h b 2 a 1", "SADD s 3 2 1", "SET k v"]);
        assert_eq!(a, b);
        assert_ne!(
            a,
            digest_after(&["SET k v", "SADD s 1 2 3", "HSET h a 1 b 2", "RPUSH l y x"])
        );
        assert_ne!(
            a,
            digest_after(&["SET k v2", "SADD s 1 2 3", "HSET h a 1 b 2", "RPUSH l x y"])
        );
        assert_eq!(digest_after(&[]), ":0\r\n");
    }
}
