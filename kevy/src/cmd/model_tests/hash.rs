//! Hashes: HSET, HDEL, HGET, HLEN, HEXISTS, HINCRBY and HGETALL against a
//! `BTreeMap` model, with fields and values few enough to collide and a
//! long value that crosses `hash-max-listpack-value`.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{bulk, check, err, generic_command, key, line, typed, MVal, Model, CASES, R};

const NOT_AN_INTEGER: &str = "ERR hash value is not an integer";

pub(super) fn apply(model: &mut Model, args: &[String]) -> R {
    let hash = match typed!(model, args[1], Hash) {
        Ok(hash) => hash,
        Err(e) => return e,
    };
    match args[0].as_str() {
        "HSET" => {
            let hash = match hash {
                Some(h) => h,
                None => {
                    model
                        .keys
                        .insert(args[1].clone(), MVal::Hash(BTreeMap::new()));
                    match model.keys.get_mut(&args[1]) {
                        Some(MVal::Hash(h)) => h,
                        _ => unreachable!(),
                    }
                }
            };
            let added = args[2..]
                .chunks(2)
                .filter(|pair| hash.insert(pair[0].clone(), pair[1].clone()).is_none())
                .count();
            R::Int(added as i64)
        }
        "HDEL" => {
            let Some(hash) = hash else { return R::Int(0) };
            R::Int(
                args[2..]
                    .iter()
                    .filter(|f| hash.remove(*f).is_some())
                    .count() as i64,
            )
        }
        "HGET" => hash
            .and_then(|h| h.get(&args[2]))
            .map_or(R::Nil, |v| bulk(v.clone())),
        "HLEN" => R::Int(hash.map_or(0, |h| h.len() as i64)),
        "HEXISTS" => R::Int(i64::from(hash.is_some_and(|h| h.contains_key(&args[2])))),
        "HINCRBY" => {
            let by: i64 = args[3].parse().expect("generated increments are integers");
            let current = hash.as_ref().and_then(|h| h.get(&args[2]));
            let Ok(current) = current.map_or(Ok(0), |v| v.parse::<i64>()) else {
                return err(NOT_AN_INTEGER);
            };
            let value = current + by;
            model
                .keys
                .entry(args[1].clone())
                .or_insert_with(|| MVal::Hash(BTreeMap::new()));
            if let Some(MVal::Hash(h)) = model.keys.get_mut(&args[1]) {
                h.insert(args[2].clone(), value.to_string());
            }
            R::Int(value)
        }
        "HGETALL" => R::Arr(
            hash.into_iter()
                .flatten()
                .flat_map(|(f, v)| [bulk(f.clone()), bulk(v.clone())])
                .collect(),
        ),
        other => panic!("the hash model has no {other}"),
    }
}

fn field() -> impl Strategy<Value = String> {
    (0..6).prop_map(|f| format!("f{f}"))
}

fn value() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["1", "-2", "7", "x", "y", "a-long-value"]).prop_map(String::from)
}

pub(super) fn command() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        4 => (key(), prop::collection::vec((field(), value()), 1..4)).prop_map(|(k, pairs)| {
            let mut args = line(["HSET", &k]);
            args.extend(pairs.into_iter().flat_map(|(f, v)| [f, v]));
            args
        }),
        2 => (key(), prop::collection::vec(field(), 1..3)).prop_map(|(k, fields)| {
            let mut args = line(["HDEL", &k]);
            args.extend(fields);
            args
        }),
        1 => (key(), field()).prop_map(|(k, f)| line(["HGET", &k, &f])),
        1 => key().prop_map(|k| line(["HLEN", &k])),
        1 => (key(), field()).prop_map(|(k, f)| line(["HEXISTS", &k, &f])),
        2 => (key(), field(), -3i64..4).prop_map(|(k, f, n)| line(["HINCRBY", &k, &f, &n.to_string()])),
        1 => key().prop_map(|k| line(["HGETALL", &k])),
        1 => generic_command(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]
    #[test]
    fn hash_commands_match_the_model(commands in prop::collection::vec(command(), 1..60)) {
        check(&commands)?;
    }
}
