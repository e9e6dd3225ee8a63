//! Tests of stream payloads: samples dumped by redis-server 7.0.15 load
//! to the state Redis reports, kevy's dumps load back equal, and broken
//! payloads are rejected without panics.

use super::super::{create, load, verify};
use super::*;
use crate::keyspace::Value;

/// `XADD s1 1-1 a 1 b 2`, `XADD s1 1-2 a 3 b 4`, `XADD s1 2-0 c x`,
/// `XDEL s1 1-2` (the listpack is LZF-compressed).
const THREE_ONE_DELETED: &[u8] = b"\x13\x01\x10\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\xc3\x39\x3e\x12\x3e\x00\x00\x00\x19\x00\x02\x01\x01\x01\x02\x01\x81\x61\x02\x81\x62\x02\x00\x20\x09\x00\x00\x20\x01\x40\x11\x02\x05\x01\x03\x60\x09\x02\x03\x01\x04\x20\x0b\x40\x13\x01\xdf\xff\x20\x2b\x08\x81\x63\x02\x81\x78\x02\x06\x01\xff\x02\x02\x00\x01\x01\x01\x02\x03\x00\x0a\x00\x8f\x6e\x60\x42\x98\x5f\x4a\xc6";

/// `XADD s2 1-1 f v1` (and 1-2, 1-3), `XGROUP CREATE s2 g1 0`,
/// `XGROUP CREATE s2 g2 $`, `XREADGROUP GROUP g1 alice COUNT 2 ... >`,
/// `XREADGROUP GROUP g1 bob COUNT 1 ... >`, `XACK s2 g1 1-1`.
const GROUPS: &[u8] = b"\x13\x01\x10\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x36\x36\x00\x00\x00\x14\x00\x03\x01\x00\x01\x01\x01\x81\x66\x02\x00\x01\x02\x01\x00\x01\x00\x01\x82\x76\x31\x03\x04\x01\x02\x01\x00\x01\x01\x01\x82\x76\x32\x03\x04\x01\x02\x01\x00\x01\x02\x01\x82\x76\x33\x03\x04\x01\xff\x03\x01\x03\x01\x01\x00\x00\x03\x02\x02\x67\x31\x01\x03\x03\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\xd7\x9d\xc5\x06\xa2\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x03\xdb\x9d\xc5\x06\xa2\x01\x00\x00\x01\x02\x05\x61\x6c\x69\x63\x65\xd7\x9d\xc5\x06\xa2\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x03\x62\x6f\x62\xdb\x9d\xc5\x06\xa2\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x03\x02\x67\x32\x01\x03\x81\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x0a\x00\x17\x66\x56\x44\xad\x73\x81\x75";

fn stream(payload: &[u8]) -> StreamValue {
    assert!(verify(payload));
    match load(payload) {
        Ok(Value::Stream(stream)) => *stream,
        other => panic!("a stream loads: {other:?}"),
    }
}

fn id(ms: u64, seq: u64) -> StreamId {
    StreamId::new(ms, seq)
}

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

fn entries(stream: &StreamValue) -> Vec<(StreamId, Pairs)> {
    stream
        .entries
        .range(StreamId::MIN, StreamId::MAX)
        .map(|e| {
            let pairs = e.pairs().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            (e.id, pairs)
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Pairs {
    items
        .iter()
        .map(|(f, v)| (f.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

#[test]
fn redis_stream_with_a_deleted_entry_loads() {
    let s = stream(THREE_ONE_DELETED);
    assert_eq!(
        entries(&s),
        vec![
            (id(1, 1), pairs(&[("a", "1"), ("b", "2")])),
            (id(2, 0), pairs(&[("c", "x")])),
        ]
    );
    assert_eq!(s.entries.len(), 2);
    assert_eq!(s.entries.last_id, id(2, 0));
    assert_eq!(s.entries.first_id(), id(1, 1));
    assert_eq!(s.entries.max_deleted_entry_id, id(1, 2));
    assert_eq!(s.entries.entries_added, 3);
    // One node, as in Redis (radix-tree-keys 1, radix-tree-nodes 2).
    assert_eq!((s.entries.node_count(), s.entries.rax_nodes()), (1, 2));
    assert!(s.groups.is_empty());
}

#[test]
fn redis_stream_with_groups_loads() {
    let s = stream(GROUPS);
    assert_eq!(entries(&s).len(), 3);
    assert_eq!(s.entries.last_id, id(1, 3));
    assert_eq!(s.entries.entries_added, 3);
    let g1 = &s.groups[&b"g1"[..]];
    assert_eq!((g1.last_id, g1.entries_read), (id(1, 3), 3));
    let alice_time = 1_795_409_944_023;
    let bob_time = 1_795_409_944_027;
    let pending = |consumer: &str, time| PendingEntry {
        consumer: consumer.as_bytes().into(),
        delivery_time: time,
        delivery_count: 1,
    };
    assert_eq!(
        g1.pel
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect::<Vec<_>>(),
        vec![
            (id(1, 2), pending("alice", alice_time)),
            (id(1, 3), pending("bob", bob_time)),
        ]
    );
    let alice = &g1.consumers[&b"alice"[..]];
    assert_eq!(alice.seen_time, alice_time);
    assert_eq!(
        alice.pel.iter().copied().collect::<Vec<_>>(),
        vec![id(1, 2)]
    );
    let bob = &g1.consumers[&b"bob"[..]];
    assert_eq!(bob.seen_time, bob_time);
    assert_eq!(bob.pel.iter().copied().collect::<Vec<_>>(), vec![id(1, 3)]);
    let g2 = &s.groups[&b"g2"[..]];
    assert_eq!(g2.last_id, id(1, 3));
    assert_eq!(
        g2.entries_read,
        crate::keyspace::stream::ENTRIES_READ_UNKNOWN
    );
    assert!(g2.pel.is_empty() && g2.consumers.is_empty());
}

#[test]
fn a_stream_built_by_xadd_dumps_as_redis_does() {
    // Without deletions kevy's nodes are Redis's, so the dump of the
    // stream with groups loaded from Redis is Redis's own payload.
    let payload = create(&Value::Stream(Box::new(stream(GROUPS)))).expect("streams serialize");
    assert_eq!(payload, GROUPS);
}

#[test]
fn kevy_dumps_load_back_equal() {
    for sample in [THREE_ONE_DELETED, GROUPS] {
        let original = stream(sample);
        let payload = create(&Value::Stream(Box::new(original.clone()))).expect("serializes");
        let copy = stream(&payload);
        assert_eq!(entries(&copy), entries(&original));
        assert_eq!(copy.groups, original.groups);
        assert_eq!(copy.entries.last_id, original.entries.last_id);
        assert_eq!(
            copy.entries.max_deleted_entry_id,
            original.entries.max_deleted_entry_id
        );
        assert_eq!(copy.entries.entries_added, original.entries.entries_added);
        assert_eq!(copy.entries.len(), original.entries.len());
    }
    // Many entries over several nodes, with differing fields.
    let mut big = StreamValue::default();
    for i in 1..=350u64 {
        let value = i.to_string().repeat(usize::try_from(i % 7).unwrap_or(1));
        let field: &[u8] = if i % 5 == 0 { b"other" } else { b"field" };
        big.entries
            .add(
                IdRequest::Exact(id(i, i % 3)),
                &[field, value.as_bytes(), b"n", b"-12"],
                0,
                NodeLimits::default(),
            )
            .expect("ascending IDs");
    }
    let copy = stream(&create(&Value::Stream(Box::new(big.clone()))).expect("serializes"));
    assert_eq!(copy, big);
}

fn with_footer(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    out.extend_from_slice(&10u16.to_le_bytes());
    let crc = crate::cmd::dump::crc64::crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

#[test]
fn malformed_streams_are_bad_format() {
    let body = &GROUPS[..GROUPS.len() - 10];
    // Every truncation.
    for end in 1..body.len() {
        let _ = load(&with_footer(&body[..end]));
    }
    for end in 1..60 {
        assert_eq!(load(&with_footer(&body[..end])), Err(BadFormat), "{end}");
    }
    let mut bad_length = body.to_vec();
    // Stream length 3 → 4.
    let at = 74;
    assert_eq!(bad_length[at], 3);
    bad_length[at] = 4;
    assert_eq!(load(&with_footer(&bad_length)), Err(BadFormat));
    // Huge node and group counts.
    let mut huge = body.to_vec();
    huge[1] = 0x7f;
    assert_eq!(load(&with_footer(&huge)), Err(BadFormat));
    let mut groups = body.to_vec();
    groups[at + 8] = 0x3f;
    assert_eq!(load(&with_footer(&groups)), Err(BadFormat));
    // A node key that is not 16 bytes.
    let mut key = body.to_vec();
    key[2] = 0x0f;
    assert_eq!(load(&with_footer(&key)), Err(BadFormat));
}

proptest::proptest! {
    #[test]
    fn arbitrary_stream_payloads_never_panic(
        body in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        cut in 0usize..227,
        flip in 0usize..227,
        bits in proptest::num::u8::ANY,
    ) {
        let _ = load(&with_footer(&[&[RDB_TYPE_STREAM_LISTPACKS_2][..], &body].concat()));
        // Mutations of a real payload reach deeper.
        let mut mutated = GROUPS[..GROUPS.len() - 10].to_vec();
        let flip = flip % mutated.len();
        mutated[flip] ^= bits;
        mutated.truncate(cut.max(1));
        let _ = load(&with_footer(&mutated));
    }
}
