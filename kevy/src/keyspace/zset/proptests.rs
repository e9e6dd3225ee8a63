//! Property tests: random operations on a [`ZSetValue`] and on a simple
//! model (an ordered set of (score, member) plus a member → score map)
//! must agree on every answer, across the compact → large conversion and
//! through enough members to split and merge B-tree nodes.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;

use super::{Limits, ScoreRange, ZSetValue};

/// Scores in the model's order (never NaN; `-0` equals `0` as in Redis).
#[derive(Clone, Copy, Debug)]
struct Score(f64);

impl PartialEq for Score {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.partial_cmp(&other.0).unwrap_or(Ordering::Equal)
    }
}

#[derive(Default)]
struct Model {
    order: BTreeSet<(Score, Vec<u8>)>,
    scores: HashMap<Vec<u8>, f64>,
}

impl Model {
    fn set(&mut self, member: &[u8], score: f64) {
        if let Some(old) = self.scores.insert(member.to_vec(), score) {
            self.order.remove(&(Score(old), member.to_vec()));
        }
        self.order.insert((Score(score), member.to_vec()));
    }

    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let old = self.scores.remove(member)?;
        self.order.remove(&(Score(old), member.to_vec()));
        Some(old)
    }

    fn ranked(&self) -> Vec<(Vec<u8>, f64)> {
        self.order.iter().map(|(s, m)| (m.clone(), s.0)).collect()
    }
}

#[derive(Clone, Debug)]
enum Op {
    Set(u16, f64),
    Remove(u16),
    RemoveRanks(usize, usize),
    Pop(bool),
    Rank(u16),
    At(usize),
    ScoreRange(f64, f64, bool, bool),
    /// Rebuild the set whole, as `ZUNIONSTORE` stores a result: compact
    /// again when it fits.
    Rebuild,
}

fn member(id: u16) -> Vec<u8> {
    // Some members are longer than the compact form allows.
    if id % 97 == 0 {
        format!("long-member-{id}").into_bytes()
    } else {
        format!("m{id}").into_bytes()
    }
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-20i32..20).prop_map(f64::from),
        (-20i32..20).prop_map(|n| f64::from(n) / 4.0),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        // Every integer width of the packed form, and 2^63 (integral but
        // past i64, so stored as a float).
        any::<i64>().prop_map(|n| n as f64),
    ]
}

fn op(members: u16) -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..members, score()).prop_map(|(m, s)| Op::Set(m, s)),
        2 => (0..members).prop_map(Op::Remove),
        1 => (0usize..300, 0usize..40).prop_map(|(s, n)| Op::RemoveRanks(s, n)),
        1 => any::<bool>().prop_map(Op::Pop),
        2 => (0..members).prop_map(Op::Rank),
        2 => (0usize..2000).prop_map(Op::At),
        2 => (score(), score(), any::<bool>(), any::<bool>())
            .prop_map(|(a, b, x, y)| Op::ScoreRange(a, b, x, y)),
        1 => Just(Op::Rebuild),
    ]
}

fn run(ops: Vec<Op>, limits: Limits) {
    let mut z = ZSetValue::new();
    let mut model = Model::default();
    for op in ops {
        match op {
            Op::Set(id, score) => {
                let m = member(id);
                if z.score(&m).is_some() {
                    assert!(z.set_score(&m, score));
                } else {
                    z.insert(&m, score, limits);
                }
                // The compact form stores -0 as 0; equal under ==.
                model.set(&m, score);
            }
            Op::Remove(id) => {
                let m = member(id);
                assert_eq!(z.remove(&m).is_some(), model.remove(&m).is_some());
            }
            Op::RemoveRanks(start, count) => {
                let ranked = model.ranked();
                let end = (start + count).min(ranked.len());
                let removed = z.remove_ranks(start, start + count);
                assert_eq!(removed, end.saturating_sub(start));
                for (m, _) in ranked.get(start..end).unwrap_or(&[]) {
                    model.remove(m);
                }
            }
            Op::Pop(highest) => {
                let ranked = model.ranked();
                let expected = if highest {
                    ranked.last()
                } else {
                    ranked.first()
                };
                let popped = z.pop(highest);
                assert_eq!(
                    popped.as_ref().map(|(m, _)| m.to_vec()),
                    expected.map(|(m, _)| m.clone())
                );
                if let Some((m, _)) = expected {
                    model.remove(m);
                }
            }
            Op::Rank(id) => {
                let m = member(id);
                let expected = model.ranked().iter().position(|(x, _)| *x == m);
                assert_eq!(z.rank(&m), expected);
                assert_eq!(z.score(&m), model.scores.get(&m).copied());
            }
            Op::At(rank) => {
                let ranked = model.ranked();
                let got = z.at(rank).map(|(m, s)| (m.to_vec(), s));
                assert_eq!(got, ranked.get(rank).cloned());
            }
            Op::ScoreRange(min, max, min_exclusive, max_exclusive) => {
                let range = ScoreRange {
                    min,
                    max,
                    min_exclusive,
                    max_exclusive,
                };
                let ranked = model.ranked();
                let inside: Vec<usize> = (0..ranked.len())
                    .filter(|&i| range.above_min(ranked[i].1) && range.below_max(ranked[i].1))
                    .collect();
                assert_eq!(z.first_in_score_range(&range), inside.first().copied());
                assert_eq!(z.last_in_score_range(&range), inside.last().copied());
            }
            Op::Rebuild => {
                let entries: Vec<(Box<[u8]>, f64)> = z.iter().map(|(m, s)| (m.into(), s)).collect();
                let fits = entries.len() <= limits.max_entries
                    && entries
                        .iter()
                        .all(|(m, _)| m.len() <= limits.max_member_len);
                z = ZSetValue::from_sorted(entries, limits);
                assert_eq!(z.is_compact(), fits);
            }
        }
        assert_eq!(z.len(), model.scores.len());
    }
    z.check();
    let all: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
    assert_eq!(all, model.ranked());
    let backwards: Vec<Vec<u8>> = match z.len() {
        0 => Vec::new(),
        n => z.iter_from(n - 1, true).map(|(m, _)| m.to_vec()).collect(),
    };
    let mut expected: Vec<Vec<u8>> = model.ranked().into_iter().map(|(m, _)| m).collect();
    expected.reverse();
    assert_eq!(backwards, expected);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn small_sets_cross_the_threshold(ops in prop::collection::vec(op(40), 1..300)) {
        run(ops, Limits { max_entries: 16, max_member_len: 8 });
    }

    #[test]
    fn large_sets_split_and_merge_nodes(ops in prop::collection::vec(op(3000), 1..2500)) {
        run(ops, Limits { max_entries: 16, max_member_len: 64 });
    }
}
