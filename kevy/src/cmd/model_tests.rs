//! Model-based property tests at the command level: a random sequence of
//! commands runs through kevy's real handlers (via the test harness) and
//! through a small model of Redis written with std collections, and every
//! reply must match.
//!
//! Data flow: a family's generator (in `model_tests/<family>.rs`) produces
//! command lines over a tiny key space ("a", "b", "c") mixed with string
//! commands (SET/DEL/EXISTS) so WRONGTYPE replies happen. [`check`] sends
//! each line to the [`Harness`], parses the raw RESP reply into an [`R`]
//! tree, asks the model ([`Model::apply`]) for the reply Redis would give,
//! and compares them (after sorting the replies of commands whose order
//! Redis leaves unspecified). The harness lowers the encoding thresholds
//! so small collections cross them. The property mixing every family also
//! runs in RESP3, where [`to_resp3`] turns the model's RESP2 reply into the
//! framing Redis 7.0 uses for a HELLO 3 client.

mod hash;
mod list;
mod set;
mod stream;
mod zset;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;

use crate::cmd::test_harness::Harness;

pub(super) const WRONGTYPE: &str =
    "WRONGTYPE Operation against a key holding the wrong kind of value";

/// A RESP2 reply as a tree.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum R {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(String),
    Nil,
    NilArr,
    Arr(Vec<R>),
    /// RESP3 only: null, double, map (flattened pairs) and set.
    Null,
    Double(String),
    Map(Vec<R>),
    Set(Vec<R>),
}

pub(super) fn bulk(s: impl Into<String>) -> R {
    R::Bulk(s.into())
}

pub(super) fn err(s: &str) -> R {
    R::Err(s.to_string())
}

pub(super) fn bulks<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> R {
    R::Arr(items.into_iter().map(|s| R::Bulk(s.into())).collect())
}

/// One stream entry: its ID and field-value pairs.
pub(super) type StreamEntry = ((u64, u64), Vec<(String, String)>);

/// A stream in the model: entries in ID order and the last ID ever added.
#[derive(Debug, Clone, Default)]
pub(super) struct MStream {
    pub entries: Vec<StreamEntry>,
    pub last_id: (u64, u64),
}

/// A value in the model keyspace.
#[derive(Debug, Clone)]
pub(super) enum MVal {
    Str,
    Hash(BTreeMap<String, String>),
    List(VecDeque<String>),
    Set(BTreeSet<String>),
    ZSet(BTreeMap<String, i64>),
    Stream(MStream),
}

/// The model keyspace: what Redis would hold after the same commands.
#[derive(Debug, Default)]
pub(super) struct Model {
    pub keys: BTreeMap<String, MVal>,
}

impl Model {
    /// The reply Redis gives to `args`, updating the model.
    fn apply(&mut self, args: &[String]) -> R {
        let reply = match args[0].as_str() {
            "SET" => {
                self.keys.insert(args[1].clone(), MVal::Str);
                R::Simple("OK".into())
            }
            "DEL" => R::Int(i64::from(self.keys.remove(&args[1]).is_some())),
            "EXISTS" => R::Int(i64::from(self.keys.contains_key(&args[1]))),
            name if name.starts_with('H') => hash::apply(self, args),
            name if name.starts_with('L') || name.starts_with("RP") => list::apply(self, args),
            name if name.starts_with('S') => set::apply(self, args),
            name if name.starts_with('Z') => zset::apply(self, args),
            name if name.starts_with('X') => stream::apply(self, args),
            name => panic!("the model has no {name}"),
        };
        // Redis deletes a collection when its last element goes (streams stay).
        self.keys.retain(|_, v| match v {
            MVal::Hash(h) => !h.is_empty(),
            MVal::List(l) => !l.is_empty(),
            MVal::Set(s) => !s.is_empty(),
            MVal::ZSet(z) => !z.is_empty(),
            MVal::Str | MVal::Stream(_) => true,
        });
        reply
    }
}

/// Looks a key up as a command on one type sees it: `Err` is WRONGTYPE.
macro_rules! typed {
    ($model:expr, $key:expr, $variant:ident) => {
        match $model.keys.get_mut($key.as_str()) {
            None => Ok(None),
            Some($crate::cmd::model_tests::MVal::$variant(v)) => Ok(Some(v)),
            Some(_) => Err($crate::cmd::model_tests::err(
                $crate::cmd::model_tests::WRONGTYPE,
            )),
        }
    };
}
pub(super) use typed;

/// Parses one RESP2 or RESP3 reply starting at `*pos`.
fn parse(raw: &[u8], pos: &mut usize) -> R {
    let end = *pos
        + raw[*pos..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("reply lines end in CRLF");
    let line = String::from_utf8_lossy(&raw[*pos + 1..end]).into_owned();
    let kind = raw[*pos];
    *pos = end + 2;
    let number = || line.parse::<i64>().expect("RESP lengths are numbers");
    match kind {
        b'+' => R::Simple(line),
        b'-' => R::Err(line),
        b':' => R::Int(number()),
        b'$' if number() < 0 => R::Nil,
        b'$' => {
            let len = usize::try_from(number()).expect("bulk length is non-negative");
            let text = String::from_utf8_lossy(&raw[*pos..*pos + len]).into_owned();
            *pos += len + 2;
            R::Bulk(text)
        }
        b'*' if number() < 0 => R::NilArr,
        b'*' => R::Arr((0..number()).map(|_| parse(raw, pos)).collect()),
        b'_' => R::Null,
        b',' => R::Double(line),
        b'%' => R::Map((0..number() * 2).map(|_| parse(raw, pos)).collect()),
        b'~' => R::Set((0..number()).map(|_| parse(raw, pos)).collect()),
        other => panic!("unexpected RESP type byte {other}"),
    }
}

/// Sorts the elements (or, for HGETALL, the field-value pairs) of replies
/// whose order Redis does not specify.
fn canonical(command: &str, reply: R) -> R {
    match (command, reply) {
        ("HGETALL", R::Arr(items)) => R::Arr(sorted_pairs(items)),
        ("HGETALL", R::Map(items)) => R::Map(sorted_pairs(items)),
        ("SMEMBERS" | "SINTER" | "SUNION" | "SDIFF", R::Arr(mut items)) => {
            items.sort();
            R::Arr(items)
        }
        ("SMEMBERS" | "SINTER" | "SUNION" | "SDIFF", R::Set(mut items)) => {
            items.sort();
            R::Set(items)
        }
        (_, reply) => reply,
    }
}

fn sorted_pairs(items: Vec<R>) -> Vec<R> {
    let mut pairs: Vec<Vec<R>> = items.chunks(2).map(<[R]>::to_vec).collect();
    pairs.sort();
    pairs.into_iter().flatten().collect()
}

/// The RESP3 form of the model's RESP2 reply to `args`: nulls, maps,
/// sets, doubles for scores, and WITHSCORES / counted ZPOPMIN replies as
/// member-score pairs (as Redis 7.0 answers a HELLO 3 client).
fn to_resp3(args: &[String], reply: R) -> R {
    let scored_pairs = |items: Vec<R>| {
        R::Arr(
            items
                .chunks(2)
                .map(|pair| match pair {
                    [member, R::Bulk(score)] => {
                        R::Arr(vec![member.clone(), R::Double(score.clone())])
                    }
                    _ => unreachable!("scored replies alternate member and score"),
                })
                .collect(),
        )
    };
    match (args[0].as_str(), reply) {
        (_, R::Nil | R::NilArr) => R::Null,
        ("HGETALL", R::Arr(items)) => R::Map(items),
        ("SMEMBERS" | "SINTER" | "SUNION" | "SDIFF", R::Arr(items)) => R::Set(items),
        ("ZSCORE" | "ZINCRBY", R::Bulk(score)) => R::Double(score),
        ("ZRANGE" | "ZRANGEBYSCORE", R::Arr(items)) if args.len() > 4 => scored_pairs(items),
        ("ZPOPMIN", R::Arr(items)) if args.len() > 2 => scored_pairs(items),
        ("ZPOPMIN", R::Arr(items)) => match items.as_slice() {
            [member, R::Bulk(score)] => R::Arr(vec![member.clone(), R::Double(score.clone())]),
            _ => R::Arr(items),
        },
        (_, reply) => reply,
    }
}

/// A harness with encoding thresholds low enough for small collections to
/// cross them.
fn small_harness() -> Harness {
    let mut harness = Harness::new();
    for (name, value) in [
        ("hash-max-listpack-entries", "4"),
        ("hash-max-listpack-value", "8"),
        ("list-max-listpack-size", "3"),
        ("set-max-intset-entries", "4"),
        ("zset-max-listpack-entries", "4"),
        ("zset-max-listpack-value", "8"),
        ("stream-node-max-entries", "3"),
    ] {
        harness.set_config(name, value);
    }
    harness
}

/// Runs `commands` through kevy and the model; fails on the first reply
/// that differs, naming the commands so far.
pub(super) fn check(commands: &[Vec<String>]) -> Result<(), TestCaseError> {
    check_protocol(commands, false)
}

/// [`check`] with the harness speaking RESP2 or RESP3.
fn check_protocol(commands: &[Vec<String>], resp3: bool) -> Result<(), TestCaseError> {
    let mut harness = small_harness();
    harness.resp3 = resp3;
    let mut model = Model::default();
    for (i, args) in commands.iter().enumerate() {
        let argv: Vec<&[u8]> = args.iter().map(String::as_bytes).collect();
        let raw = harness.run_args(&argv);
        let mut pos = 0;
        let got = canonical(&args[0], parse(raw.as_bytes(), &mut pos));
        prop_assert_eq!(pos, raw.len(), "one reply to {:?}", args);
        let want = model.apply(args);
        let want = if resp3 { to_resp3(args, want) } else { want };
        prop_assert_eq!(
            got,
            want,
            "reply to {:?} after {:?}",
            args.join(" "),
            commands[..i]
                .iter()
                .map(|c| c.join(" "))
                .collect::<Vec<_>>()
        );
    }
    Ok(())
}

/// The key space every family draws from.
pub(super) fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c"]).prop_map(String::from)
}

/// Commands on other types sharing the key space: strings make WRONGTYPE
/// replies, EXISTS sees empty collections deleted.
pub(super) fn generic_command() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        key().prop_map(|k| vec!["SET".into(), k, "x".into()]),
        key().prop_map(|k| vec!["DEL".into(), k]),
        key().prop_map(|k| vec!["EXISTS".into(), k]),
    ]
}

/// Builds a command line from its parts.
pub(super) fn line<I: IntoIterator<Item = S>, S: ToString>(parts: I) -> Vec<String> {
    parts.into_iter().map(|p| p.to_string()).collect()
}

/// The number of random cases each family's property runs.
pub(super) const CASES: u32 = 128;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]
    /// Every family on the same keys: each type's commands meet every
    /// other type's values.
    #[test]
    fn mixed_type_commands_match_the_model(
        commands in prop::collection::vec(
            (
                prop_oneof![
                    hash::command(),
                    list::command(),
                    set::command(),
                    zset::command(),
                    stream::command(),
                ],
                any::<u8>(),
            ),
            1..60,
        )
        .prop_map(stream::assign_ids),
        resp3 in any::<bool>(),
    ) {
        check_protocol(&commands, resp3)?;
    }
}

#[test]
fn the_lowered_thresholds_convert_small_collections() {
    let mut harness = small_harness();
    harness.run("HSET h f0 1 f1 1 f2 1 f3 1");
    assert_eq!(harness.encoding("h"), "listpack");
    harness.run("HSET h f4 1");
    assert_eq!(harness.encoding("h"), "hashtable");
    harness.run("SADD s 1 2 3 4");
    assert_eq!(harness.encoding("s"), "intset");
    harness.run("SADD s 5");
    assert_eq!(harness.encoding("s"), "hashtable");
    harness.run("ZADD z 1 a 2 b 3 c 4 d");
    assert_eq!(harness.encoding("z"), "listpack");
    harness.run("ZADD z 5 e");
    assert_eq!(harness.encoding("z"), "skiplist");
    harness.run("RPUSH l a b c d e f g");
    assert!(harness.chunks("l") > 1);
}
