//! Tests of reading blocking calls: timeouts as Redis converts them, the
//! order of argument checks, and the command that serves a ready key.

use super::parse::deadline_from_seconds;
use super::*;
use crate::resp::OwnedArgv;

fn request(words: &[&str]) -> Option<Result<BlockRequest, String>> {
    let owned = OwnedArgv::from_slices(words.iter().map(|w| w.as_bytes()));
    parse_request(owned.argv(), 0, 1_000)
}

fn error(words: &[&str]) -> String {
    match request(words) {
        Some(Err(text)) => text,
        other => panic!("{words:?}: expected an error, got {other:?}"),
    }
}

#[test]
fn timeouts_convert_as_redis() {
    assert_eq!(deadline_from_seconds(b"0", 1_000), Ok(None));
    assert_eq!(deadline_from_seconds(b"1.5", 1_000), Ok(Some(2_500)));
    // Rounded up to a whole millisecond, never to "forever".
    assert_eq!(deadline_from_seconds(b"0.0000001", 1_000), Ok(Some(1_001)));
    assert_eq!(
        deadline_from_seconds(b"-1", 0),
        Err("ERR timeout is negative")
    );
    assert_eq!(
        deadline_from_seconds(b"1e30", 0),
        Err("ERR timeout is negative")
    );
    assert_eq!(
        deadline_from_seconds(b"abc", 0),
        Err("ERR timeout is not a float or out of range")
    );
}

#[test]
fn argument_errors_in_redis_order() {
    assert_eq!(error(&["blpop", "k", "-1"]), "ERR timeout is negative");
    assert_eq!(
        error(&["blmpop", "-1", "0", "k", "left"]),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(
        error(&["blmpop", "-1", "1", "k", "left"]),
        "ERR timeout is negative"
    );
    assert_eq!(
        error(&["bzmpop", "0", "1", "k", "left"]),
        "ERR syntax error"
    );
    assert_eq!(
        error(&["blmpop", "0", "1", "k", "left", "count", "0"]),
        "ERR count should be greater than 0"
    );
    assert_eq!(
        error(&["blmove", "a", "b", "up", "left", "-1"]),
        "ERR syntax error"
    );
}

#[test]
fn serve_commands_reuse_the_ordinary_pops() {
    let blpop = request(&["blpop", "a", "b", "0"]).unwrap().unwrap();
    assert_eq!(blpop.keys.len(), 2);
    assert_eq!(blpop.deadline, None);
    assert_eq!(
        blpop.serve.argv(b"b", &WaitKind::List),
        vec![b"LPOP".to_vec(), b"b".to_vec()]
    );
    let bzmpop = request(&["bzmpop", "1", "1", "z", "MAX", "COUNT", "3"])
        .unwrap()
        .unwrap();
    assert_eq!(bzmpop.deadline, Some(2_000));
    let words: Vec<Vec<u8>> = ["ZMPOP", "1", "z", "MAX", "COUNT", "3"]
        .iter()
        .map(|w| w.as_bytes().to_vec())
        .collect();
    assert_eq!(bzmpop.serve.argv(b"z", &WaitKind::ZSet), words);
    let blmove = request(&["blmove", "s", "d", "RIGHT", "LEFT", "0"])
        .unwrap()
        .unwrap();
    let words: Vec<Vec<u8>> = ["LMOVE", "s", "d", "RIGHT", "LEFT"]
        .iter()
        .map(|w| w.as_bytes().to_vec())
        .collect();
    assert_eq!(blmove.serve.argv(b"s", &WaitKind::List), words);
}

#[test]
fn xread_blocks_only_when_it_may_wait() {
    assert!(request(&["xread", "streams", "s", "0"]).is_none());
    assert!(request(&["xread", "block", "-1", "streams", "s", "0"]).is_none());
    assert!(request(&["xread", "block", "0", "streams", "s", ">"]).is_none());
    assert!(request(&[
        "xreadgroup",
        "group",
        "g",
        "c",
        "block",
        "0",
        "streams",
        "s",
        "0"
    ])
    .is_none());
    let read = request(&[
        "xread", "count", "2", "block", "10", "streams", "s", "t", "$", "5",
    ])
    .unwrap()
    .unwrap();
    assert_eq!(read.deadline, Some(1_010));
    assert_eq!(read.keys[0].1, WaitKind::StreamAfter(None));
    assert_eq!(
        read.keys[1].1,
        WaitKind::StreamAfter(Some(crate::keyspace::stream::StreamId::new(5, 0)))
    );
    let group = request(&[
        "xreadgroup",
        "group",
        "g",
        "c",
        "block",
        "0",
        "streams",
        "s",
        ">",
    ])
    .unwrap()
    .unwrap();
    assert_eq!(
        group.keys[0].1,
        WaitKind::StreamGroup(b"g".as_slice().into())
    );
}
