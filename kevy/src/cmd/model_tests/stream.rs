//! Streams: XADD with explicit IDs (mostly increasing, sometimes stale),
//! XDEL, XLEN, XRANGE - + with COUNT and XTRIM MAXLEN = n against a model
//! holding entries in ID order and the last ID ever added. With
//! `stream-node-max-entries 3` streams span several nodes.

use proptest::prelude::*;

use super::{bulk, check, err, generic_command, key, line, typed, MStream, MVal, Model, CASES, R};

const ID_TOO_SMALL: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";

fn parse_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').expect("generated IDs are ms-seq");
    (
        ms.parse().expect("generated IDs are numbers"),
        seq.parse().expect("generated IDs are numbers"),
    )
}

fn id_text((ms, seq): (u64, u64)) -> String {
    format!("{ms}-{seq}")
}

pub(super) fn apply(model: &mut Model, args: &[String]) -> R {
    let stream = match typed!(model, args[1], Stream) {
        Ok(stream) => stream,
        Err(e) => return e,
    };
    match args[0].as_str() {
        "XADD" => {
            let id = parse_id(&args[2]);
            if stream.as_ref().is_some_and(|s| id <= s.last_id) {
                return err(ID_TOO_SMALL);
            }
            let stream = match model
                .keys
                .entry(args[1].clone())
                .or_insert_with(|| MVal::Stream(MStream::default()))
            {
                MVal::Stream(s) => s,
                _ => unreachable!(),
            };
            let fields = args[3..]
                .chunks(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect();
            stream.entries.push((id, fields));
            stream.last_id = id;
            bulk(args[2].clone())
        }
        "XDEL" => {
            let Some(stream) = stream else {
                return R::Int(0);
            };
            let mut deleted = 0;
            for id in &args[2..] {
                let id = parse_id(id);
                if let Some(at) = stream.entries.iter().position(|(e, _)| *e == id) {
                    stream.entries.remove(at);
                    deleted += 1;
                }
            }
            R::Int(deleted)
        }
        "XLEN" => R::Int(stream.map_or(0, |s| s.entries.len() as i64)),
        "XRANGE" => {
            let Some(stream) = stream else {
                return R::Arr(vec![]);
            };
            // Redis 7.0 answers COUNT 0 on an existing stream with a null array.
            let count = match args.get(5) {
                Some(c) if c == "0" => return R::NilArr,
                Some(c) => c.parse().expect("generated counts are numbers"),
                None => usize::MAX,
            };
            R::Arr(
                stream
                    .entries
                    .iter()
                    .take(count)
                    .map(|(id, fields)| {
                        let pairs = fields
                            .iter()
                            .flat_map(|(f, v)| [bulk(f.clone()), bulk(v.clone())])
                            .collect();
                        R::Arr(vec![bulk(id_text(*id)), R::Arr(pairs)])
                    })
                    .collect(),
            )
        }
        "XTRIM" => {
            let Some(stream) = stream else {
                return R::Int(0);
            };
            let keep: usize = args[4].parse().expect("generated lengths are numbers");
            let excess = stream.entries.len().saturating_sub(keep);
            stream.entries.drain(..excess);
            R::Int(excess as i64)
        }
        other => panic!("the stream model has no {other}"),
    }
}

/// A command whose IDs are filled in by [`assign_ids`].
pub(super) fn command() -> impl Strategy<Value = Vec<String>> {
    let field = prop::sample::select(vec!["f", "g", "h"]);
    let value = prop::sample::select(vec!["1", "v", "a-longer-value"]);
    prop_oneof![
        5 => (key(), prop::collection::vec((field, value), 1..3)).prop_map(|(k, pairs)| {
            let mut args = line(["XADD", &k, "?"]);
            args.extend(pairs.into_iter().flat_map(|(f, v)| [f.to_string(), v.to_string()]));
            args
        }),
        2 => (key(), 1usize..3).prop_map(|(k, n)| {
            let mut args = line(["XDEL", &k]);
            args.extend((0..n).map(|_| "?".to_string()));
            args
        }),
        1 => key().prop_map(|k| line(["XLEN", &k])),
        2 => (key(), prop::option::of(0u8..5)).prop_map(|(k, count)| {
            let mut args = line(["XRANGE", &k, "-", "+"]);
            if let Some(count) = count {
                args.extend(line(["COUNT".to_string(), count.to_string()]));
            }
            args
        }),
        1 => (key(), 0u8..5).prop_map(|(k, n)| line(["XTRIM", &k, "MAXLEN", "=", &n.to_string()])),
        1 => generic_command(),
    ]
}

/// Replaces each "?" with an ID: XADD at position i mostly adds `i+1-0`
/// (increasing), sometimes a small, likely stale ID; XDEL names IDs some
/// earlier XADD may have added.
pub(super) fn assign_ids(commands: Vec<(Vec<String>, u8)>) -> Vec<Vec<String>> {
    commands
        .into_iter()
        .enumerate()
        .map(|(i, (mut args, r))| {
            match args[0].as_str() {
                "XADD" if r < 200 => args[2] = format!("{}-0", i + 1),
                "XADD" => args[2] = format!("{}-{}", r % 8 + 1, r % 2),
                "XDEL" => {
                    for (n, arg) in args[2..].iter_mut().enumerate() {
                        *arg = format!("{}-0", (usize::from(r) + n * 7) % (i + 1) + 1);
                    }
                }
                _ => {}
            }
            args
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]
    #[test]
    fn stream_commands_match_the_model(
        commands in prop::collection::vec((command(), any::<u8>()), 1..60).prop_map(assign_ids)
    ) {
        check(&commands)?;
    }
}
