//! Sets: SADD, SREM, SISMEMBER, SCARD, SMEMBERS and SINTER/SUNION/SDIFF
//! over two keys against a `BTreeSet` model. Members are mostly integers
//! so sets start as intsets, cross `set-max-intset-entries 4`, and turn
//! into hash tables when a non-integer joins.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::{bulks, check, generic_command, key, line, typed, MVal, Model, CASES, R};

pub(super) fn apply(model: &mut Model, args: &[String]) -> R {
    if matches!(args[0].as_str(), "SINTER" | "SUNION" | "SDIFF") {
        return combine(model, args);
    }
    let set = match typed!(model, args[1], Set) {
        Ok(set) => set,
        Err(e) => return e,
    };
    match args[0].as_str() {
        "SADD" => {
            let set = match set {
                Some(s) => s,
                None => {
                    model
                        .keys
                        .insert(args[1].clone(), MVal::Set(BTreeSet::new()));
                    match model.keys.get_mut(&args[1]) {
                        Some(MVal::Set(s)) => s,
                        _ => unreachable!(),
                    }
                }
            };
            R::Int(
                args[2..]
                    .iter()
                    .filter(|m| set.insert((*m).clone()))
                    .count() as i64,
            )
        }
        "SREM" => {
            let Some(set) = set else { return R::Int(0) };
            R::Int(args[2..].iter().filter(|m| set.remove(*m)).count() as i64)
        }
        "SISMEMBER" => R::Int(i64::from(set.is_some_and(|s| s.contains(&args[2])))),
        "SCARD" => R::Int(set.map_or(0, |s| s.len() as i64)),
        "SMEMBERS" => bulks(set.map(|s| s.clone()).unwrap_or_default()),
        other => panic!("the set model has no {other}"),
    }
}

/// SINTER/SUNION/SDIFF: a missing key is an empty set, any other type
/// anywhere in the list is WRONGTYPE.
fn combine(model: &mut Model, args: &[String]) -> R {
    let mut sets = Vec::new();
    for key in &args[1..] {
        match typed!(model, key, Set) {
            Ok(set) => sets.push(
                set.map(|s: &mut BTreeSet<String>| s.clone())
                    .unwrap_or_default(),
            ),
            Err(e) => return e,
        }
    }
    let first = sets[0].clone();
    let result: BTreeSet<String> = match args[0].as_str() {
        "SINTER" => sets[1..].iter().fold(first, |acc, s| &acc & s),
        "SUNION" => sets[1..].iter().fold(first, |acc, s| &acc | s),
        _ => sets[1..].iter().fold(first, |acc, s| &acc - s),
    };
    bulks(result)
}

fn member() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (0i32..8).prop_map(|m| m.to_string()),
        1 => prop::sample::select(vec!["x", "y", "-3"]).prop_map(String::from),
    ]
}

pub(super) fn command() -> impl Strategy<Value = Vec<String>> {
    let combine = prop::sample::select(vec!["SINTER", "SUNION", "SDIFF"]);
    prop_oneof![
        4 => (key(), prop::collection::vec(member(), 1..5)).prop_map(|(k, ms)| {
            let mut args = line(["SADD", &k]);
            args.extend(ms);
            args
        }),
        2 => (key(), prop::collection::vec(member(), 1..4)).prop_map(|(k, ms)| {
            let mut args = line(["SREM", &k]);
            args.extend(ms);
            args
        }),
        1 => (key(), member()).prop_map(|(k, m)| line(["SISMEMBER", &k, &m])),
        1 => key().prop_map(|k| line(["SCARD", &k])),
        1 => key().prop_map(|k| line(["SMEMBERS", &k])),
        2 => (combine, key(), key()).prop_map(|(c, a, b)| line([c, &a, &b])),
        1 => generic_command(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]
    #[test]
    fn set_commands_match_the_model(commands in prop::collection::vec(command(), 1..60)) {
        check(&commands)?;
    }
}
