//! Sorted sets: ZADD (plain and with NX/XX/GT/LT/CH), ZREM, ZSCORE, ZCARD,
//! ZRANK, ZRANGE by rank (WITHSCORES), ZRANGEBYSCORE, ZINCRBY and ZPOPMIN
//! against a member-to-score `BTreeMap` model. Scores stay integers so
//! replies need no float formatting; `zset-max-listpack-entries 4` and a
//! long member make sorted sets convert to skiplists.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{bulk, check, err, generic_command, key, line, typed, MVal, Model, CASES, R};

const XX_AND_NX: &str = "ERR XX and NX options at the same time are not compatible";
const GT_LT_NX: &str = "ERR GT, LT, and/or NX options at the same time are not compatible";

fn int(s: &str) -> i64 {
    s.parse().expect("generated numbers are integers")
}

/// Members in rank order: by score, then by member bytes.
fn ranked(zset: &BTreeMap<String, i64>) -> Vec<(String, i64)> {
    let mut items: Vec<(String, i64)> = zset.iter().map(|(m, s)| (m.clone(), *s)).collect();
    items.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    items
}

fn reply_items(items: &[(String, i64)], with_scores: bool) -> R {
    R::Arr(
        items
            .iter()
            .flat_map(|(m, s)| {
                let score = with_scores.then(|| bulk(s.to_string()));
                std::iter::once(bulk(m.clone())).chain(score)
            })
            .collect(),
    )
}

/// Whether `score` is within the ZRANGEBYSCORE bound `bound` ("(n" is
/// exclusive) from below (`min`) or above.
fn within(bound: &str, score: i64, min: bool) -> bool {
    match bound {
        "-inf" => min,
        "+inf" => !min,
        _ => match bound.strip_prefix('(') {
            Some(n) if min => score > int(n),
            Some(n) => score < int(n),
            None if min => score >= int(bound),
            None => score <= int(bound),
        },
    }
}

fn zadd(model: &mut Model, args: &[String]) -> R {
    let flags: Vec<&str> = args[2..]
        .iter()
        .map(String::as_str)
        .take_while(|a| matches!(*a, "NX" | "XX" | "GT" | "LT" | "CH"))
        .collect();
    let has = |f: &str| flags.contains(&f);
    let (nx, xx, gt, lt) = (has("NX"), has("XX"), has("GT"), has("LT"));
    if nx && xx {
        return err(XX_AND_NX);
    }
    // Redis rejects GT with LT, and either with NX.
    if (gt || lt) && (nx || (gt && lt)) {
        return err(GT_LT_NX);
    }
    let zset = match typed!(model, args[1], ZSet) {
        Ok(zset) => zset,
        Err(e) => return e,
    };
    if zset.is_none() && xx {
        return R::Int(0);
    }
    let zset = match model
        .keys
        .entry(args[1].clone())
        .or_insert_with(|| MVal::ZSet(BTreeMap::new()))
    {
        MVal::ZSet(z) => z,
        _ => unreachable!(),
    };
    let (mut added, mut updated) = (0, 0);
    for pair in args[2 + flags.len()..].chunks(2) {
        let score = int(&pair[0]);
        match zset.get(&pair[1]).copied() {
            Some(current) => {
                if nx || (gt && score <= current) || (lt && score >= current) {
                    continue;
                }
                if score != current {
                    updated += 1;
                    zset.insert(pair[1].clone(), score);
                }
            }
            None if xx => {}
            None => {
                added += 1;
                zset.insert(pair[1].clone(), score);
            }
        }
    }
    R::Int(if has("CH") { added + updated } else { added })
}

pub(super) fn apply(model: &mut Model, args: &[String]) -> R {
    if args[0] == "ZADD" {
        return zadd(model, args);
    }
    let zset = match typed!(model, args[1], ZSet) {
        Ok(zset) => zset,
        Err(e) => return e,
    };
    match args[0].as_str() {
        "ZREM" => {
            let Some(zset) = zset else { return R::Int(0) };
            R::Int(
                args[2..]
                    .iter()
                    .filter(|m| zset.remove(*m).is_some())
                    .count() as i64,
            )
        }
        "ZSCORE" => zset
            .and_then(|z| z.get(&args[2]))
            .map_or(R::Nil, |s| bulk(s.to_string())),
        "ZCARD" => R::Int(zset.map_or(0, |z| z.len() as i64)),
        "ZRANK" => zset
            .and_then(|z| ranked(z).iter().position(|(m, _)| *m == args[2]))
            .map_or(R::Nil, |at| R::Int(at as i64)),
        "ZRANGE" => {
            let items = zset.map(|z| ranked(z)).unwrap_or_default();
            let len = items.len() as i64;
            let (mut start, mut stop) = (int(&args[2]), int(&args[3]));
            if start < 0 {
                start = (start + len).max(0);
            }
            if stop < 0 {
                stop += len;
            }
            stop = stop.min(len - 1);
            if start > stop || start >= len {
                return R::Arr(vec![]);
            }
            reply_items(&items[start as usize..=stop as usize], args.len() > 4)
        }
        "ZRANGEBYSCORE" => {
            let items: Vec<(String, i64)> = zset
                .map(|z| ranked(z))
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, s)| within(&args[2], *s, true) && within(&args[3], *s, false))
                .collect();
            reply_items(&items, args.len() > 4)
        }
        "ZINCRBY" => {
            let by = int(&args[2]);
            let zset = match model
                .keys
                .entry(args[1].clone())
                .or_insert_with(|| MVal::ZSet(BTreeMap::new()))
            {
                MVal::ZSet(z) => z,
                _ => unreachable!(),
            };
            let score = zset.entry(args[3].clone()).or_insert(0);
            *score += by;
            bulk(score.to_string())
        }
        "ZPOPMIN" => {
            let count = args.get(2).map_or(1, |c| int(c)) as usize;
            let Some(zset) = zset else {
                return R::Arr(vec![]);
            };
            let popped: Vec<(String, i64)> = ranked(zset).into_iter().take(count).collect();
            for (m, _) in &popped {
                zset.remove(m);
            }
            reply_items(&popped, true)
        }
        other => panic!("the sorted set model has no {other}"),
    }
}

fn member() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (0..6).prop_map(|m| format!("m{m}")),
        1 => Just("a-long-member".to_string()),
    ]
}

fn score() -> impl Strategy<Value = String> {
    (-4i64..5).prop_map(|s| s.to_string())
}

fn bound() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => prop::sample::select(vec!["-inf", "+inf"]).prop_map(String::from),
        3 => (-5i64..6).prop_map(|s| s.to_string()),
        2 => (-5i64..6).prop_map(|s| format!("({s}")),
    ]
}

fn zadd_flags() -> impl Strategy<Value = Vec<String>> {
    prop::sample::subsequence(vec!["NX", "XX", "GT", "LT", "CH"], 0..3)
        .prop_map(|flags| flags.into_iter().map(String::from).collect())
}

pub(super) fn command() -> impl Strategy<Value = Vec<String>> {
    let with_scores = prop::bool::ANY;
    prop_oneof![
        5 => (key(), zadd_flags(), prop::collection::vec((score(), member()), 1..4)).prop_map(
            |(k, flags, pairs)| {
                let mut args = line(["ZADD", &k]);
                args.extend(flags);
                args.extend(pairs.into_iter().flat_map(|(s, m)| [s, m]));
                args
            }
        ),
        2 => (key(), prop::collection::vec(member(), 1..3)).prop_map(|(k, ms)| {
            let mut args = line(["ZREM", &k]);
            args.extend(ms);
            args
        }),
        1 => (key(), member()).prop_map(|(k, m)| line(["ZSCORE", &k, &m])),
        1 => key().prop_map(|k| line(["ZCARD", &k])),
        1 => (key(), member()).prop_map(|(k, m)| line(["ZRANK", &k, &m])),
        2 => (key(), -6i64..6, -6i64..6, with_scores).prop_map(|(k, a, b, w)| {
            let mut args = line(["ZRANGE".to_string(), k, a.to_string(), b.to_string()]);
            args.extend(w.then(|| "WITHSCORES".to_string()));
            args
        }),
        2 => (key(), bound(), bound(), with_scores).prop_map(|(k, a, b, w)| {
            let mut args = line(["ZRANGEBYSCORE".to_string(), k, a, b]);
            args.extend(w.then(|| "WITHSCORES".to_string()));
            args
        }),
        2 => (key(), -3i64..4, member()).prop_map(|(k, n, m)| line(["ZINCRBY", &k, &n.to_string(), &m])),
        2 => (key(), prop::option::of(0u8..4)).prop_map(|(k, n)| {
            let mut args = line(["ZPOPMIN", &k]);
            args.extend(n.map(|n| n.to_string()));
            args
        }),
        1 => generic_command(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]
    #[test]
    fn sorted_set_commands_match_the_model(commands in prop::collection::vec(command(), 1..60)) {
        check(&commands)?;
    }
}
