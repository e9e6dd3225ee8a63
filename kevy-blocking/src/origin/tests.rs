//! Unit tests of the origin side of the arbiter.

use super::*;

fn keys(names: &[&str]) -> Vec<ShardKey> {
    names
        .iter()
        .enumerate()
        .map(|(shard, name)| (shard, name.as_bytes().into()))
        .collect()
}

fn serves(out: &[OriginAction<u32>]) -> Vec<Box<[u8]>> {
    out.iter()
        .filter_map(|a| match a {
            OriginAction::Serve { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_first_ready_key_in_command_order_is_served() {
    let mut origin: Origin<u32> = Origin::new(0);
    let mut out = Vec::new();
    let block = origin.block(keys(&["a", "b", "c"]), BlockOptions::default(), &mut out);
    assert_eq!(out.len(), 3, "one arm per key");
    out.clear();
    origin.on_armed(block, b"c", true, &mut out);
    origin.on_armed(block, b"b", true, &mut out);
    assert!(
        out.is_empty(),
        "nothing is served before every arm answered"
    );
    origin.on_armed(block, b"a", false, &mut out);
    assert_eq!(serves(&out), vec![Box::from(&b"b"[..])]);
}

#[test]
fn a_serve_in_flight_holds_off_timeouts_and_disconnects() {
    let mut origin: Origin<u32> = Origin::new(0);
    let mut out = Vec::new();
    let options = BlockOptions {
        deadline: Some(10),
        ..BlockOptions::default()
    };
    let block = origin.block(keys(&["a"]), options, &mut out);
    origin.on_armed(block, b"a", true, &mut out);
    out.clear();
    origin.expire(20, &mut out);
    origin.disconnect(block, &mut out);
    assert!(out.is_empty(), "the serve in flight decides");
    origin.on_served(block, Some(7), &mut out);
    assert!(matches!(
        out[0],
        OriginAction::Deliver {
            client_gone: true,
            ..
        }
    ));
    assert!(matches!(out[1], OriginAction::Cancel { .. }));
    assert_eq!(origin.blocks().count(), 0);
}

#[test]
fn an_empty_serve_rearms_and_no_block_times_out_at_once() {
    let mut origin: Origin<u32> = Origin::new(0);
    let mut out = Vec::new();
    let block = origin.block(keys(&["a", "b"]), BlockOptions::default(), &mut out);
    origin.on_armed(block, b"a", true, &mut out);
    origin.on_armed(block, b"b", false, &mut out);
    out.clear();
    origin.on_served(block, None, &mut out);
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|a| matches!(a, OriginAction::Arm { .. })));

    let options = BlockOptions {
        no_block: true,
        ..BlockOptions::default()
    };
    let mut out = Vec::new();
    let block = origin.block(keys(&["c"]), options, &mut out);
    out.clear();
    origin.on_armed(block, b"c", false, &mut out);
    assert_eq!(out[0], OriginAction::TimedOut { block });
}

#[test]
fn collecting_serves_every_ready_key_of_the_first_round() {
    let mut origin: Origin<u32> = Origin::new(0);
    let mut out = Vec::new();
    let options = BlockOptions {
        collect: true,
        ..BlockOptions::default()
    };
    let block = origin.block(keys(&["a", "b", "c"]), options, &mut out);
    origin.on_armed(block, b"a", true, &mut out);
    origin.on_armed(block, b"b", false, &mut out);
    origin.on_armed(block, b"c", true, &mut out);
    out.clear();
    origin.on_served(block, Some(1), &mut out);
    assert_eq!(serves(&out), vec![Box::from(&b"c"[..])]);
    out.clear();
    origin.on_served(block, Some(3), &mut out);
    assert!(matches!(
        &out[0],
        OriginAction::Deliver { replies, .. } if *replies == vec![1, 3]
    ));
}
