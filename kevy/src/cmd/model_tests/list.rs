//! Lists: LPUSH, RPUSH, LPOP, RPOP (with and without a count), LLEN,
//! LINDEX, LRANGE, LREM, LINSERT and LSET against a `VecDeque` model, with
//! `list-max-listpack-size 3` so lists span several chunks.

use std::collections::VecDeque;

use proptest::prelude::*;

use super::{bulk, bulks, check, err, generic_command, key, line, typed, MVal, Model, CASES, R};

fn int(s: &str) -> i64 {
    s.parse().expect("generated indexes are integers")
}

/// A Redis index (negative from the end) as a position, if in range.
fn position(len: usize, index: i64) -> Option<usize> {
    let len = len as i64;
    let at = if index < 0 { index + len } else { index };
    (0..len).contains(&at).then_some(at as usize)
}

pub(super) fn apply(model: &mut Model, args: &[String]) -> R {
    let list = match typed!(model, args[1], List) {
        Ok(list) => list,
        Err(e) => return e,
    };
    match args[0].as_str() {
        "LPUSH" | "RPUSH" => {
            let list = match list {
                Some(l) => l,
                None => {
                    model
                        .keys
                        .insert(args[1].clone(), MVal::List(VecDeque::new()));
                    match model.keys.get_mut(&args[1]) {
                        Some(MVal::List(l)) => l,
                        _ => unreachable!(),
                    }
                }
            };
            for v in &args[2..] {
                if args[0] == "LPUSH" {
                    list.push_front(v.clone());
                } else {
                    list.push_back(v.clone());
                }
            }
            R::Int(list.len() as i64)
        }
        "LPOP" | "RPOP" => {
            let pop = |list: &mut VecDeque<String>| {
                if args[0] == "LPOP" {
                    list.pop_front()
                } else {
                    list.pop_back()
                }
            };
            match (list, args.get(2)) {
                (None, None) => R::Nil,
                (None, Some(_)) => R::NilArr,
                (Some(list), None) => pop(list).map_or(R::Nil, bulk),
                (Some(list), Some(count)) => {
                    bulks((0..int(count)).map_while(|_| pop(list)).collect::<Vec<_>>())
                }
            }
        }
        "LLEN" => R::Int(list.map_or(0, |l| l.len() as i64)),
        "LINDEX" => list
            .and_then(|l| position(l.len(), int(&args[2])).map(|at| bulk(l[at].clone())))
            .unwrap_or(R::Nil),
        "LRANGE" => {
            let Some(list) = list else {
                return R::Arr(vec![]);
            };
            let len = list.len() as i64;
            let mut start = int(&args[2]);
            let mut stop = int(&args[3]);
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
            bulks(list.range(start as usize..=stop as usize).cloned())
        }
        "LREM" => {
            let Some(list) = list else { return R::Int(0) };
            let count = int(&args[2]);
            let limit = if count == 0 {
                usize::MAX
            } else {
                count.unsigned_abs() as usize
            };
            let mut order: Vec<usize> = (0..list.len()).collect();
            if count < 0 {
                order.reverse();
            }
            let doomed: Vec<usize> = order
                .into_iter()
                .filter(|&i| list[i] == args[3])
                .take(limit)
                .collect();
            let mut i = 0;
            list.retain(|_| {
                i += 1;
                !doomed.contains(&(i - 1))
            });
            R::Int(doomed.len() as i64)
        }
        "LINSERT" => {
            let Some(list) = list else { return R::Int(0) };
            let Some(at) = list.iter().position(|v| *v == args[3]) else {
                return R::Int(-1);
            };
            let at = if args[2] == "AFTER" { at + 1 } else { at };
            list.insert(at, args[4].clone());
            R::Int(list.len() as i64)
        }
        "LSET" => {
            let Some(list) = list else {
                return err("ERR no such key");
            };
            let Some(at) = position(list.len(), int(&args[2])) else {
                return err("ERR index out of range");
            };
            list[at] = args[3].clone();
            R::Simple("OK".into())
        }
        other => panic!("the list model has no {other}"),
    }
}

fn element() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c", "1", "22"]).prop_map(String::from)
}

fn index() -> impl Strategy<Value = String> {
    (-6i64..6).prop_map(|i| i.to_string())
}

pub(super) fn command() -> impl Strategy<Value = Vec<String>> {
    let push = prop::sample::select(vec!["LPUSH", "RPUSH"]);
    let pop = prop::sample::select(vec!["LPOP", "RPOP"]);
    prop_oneof![
        4 => (push, key(), prop::collection::vec(element(), 1..5)).prop_map(|(c, k, vs)| {
            let mut args = line([c, &k]);
            args.extend(vs);
            args
        }),
        3 => (pop, key(), prop::option::of(0u8..5)).prop_map(|(c, k, n)| {
            let mut args = line([c, &k]);
            args.extend(n.map(|n| n.to_string()));
            args
        }),
        1 => key().prop_map(|k| line(["LLEN", &k])),
        1 => (key(), index()).prop_map(|(k, i)| line(["LINDEX", &k, &i])),
        2 => (key(), index(), index()).prop_map(|(k, a, b)| line(["LRANGE", &k, &a, &b])),
        1 => (key(), -3i64..4, element()).prop_map(|(k, n, v)| line(["LREM", &k, &n.to_string(), &v])),
        1 => (key(), prop::sample::select(vec!["BEFORE", "AFTER"]), element(), element())
            .prop_map(|(k, w, p, v)| line(["LINSERT", &k, w, &p, &v])),
        1 => (key(), index(), element()).prop_map(|(k, i, v)| line(["LSET", &k, &i, &v])),
        1 => generic_command(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]
    #[test]
    fn list_commands_match_the_model(commands in prop::collection::vec(command(), 1..60)) {
        check(&commands)?;
    }
}
