//! Unit tests of the order-statistic tree: ranks, selects, walks, and
//! the node invariants after splits, merges and root changes.

use super::*;

/// Keys where id n sorts as score n / 3, member n (as text).
struct Numbers(Vec<Vec<u8>>);

impl Numbers {
    fn new(n: u32) -> Self {
        Numbers((0..n).map(|i| format!("{i:08}").into_bytes()).collect())
    }
}

impl KeySource for Numbers {
    fn key(&self, id: u32) -> (f64, &[u8]) {
        (f64::from(id / 3), &self.0[id as usize])
    }
}

#[test]
fn inserts_in_any_order_rank_and_select() {
    let keys = Numbers::new(5000);
    let mut tree = OrderTree::default();
    // A scrambled insertion order.
    for i in 0..5000u32 {
        tree.insert(&keys, (i * 7919) % 5000);
    }
    tree.check(&keys);
    assert_eq!(tree.len(), 5000);
    for rank in [0usize, 1, 63, 64, 65, 2500, 4999] {
        let id = tree.at(rank).expect("in range");
        assert_eq!(id as usize, rank);
        assert_eq!(tree.rank(&keys, id), Some(rank));
    }
    assert_eq!(tree.at(5000), None);
    let forward: Vec<u32> = tree.iter(4990, 100, false).collect();
    assert_eq!(forward, (4990..5000).collect::<Vec<_>>());
    let backward: Vec<u32> = tree.iter(70, 5, true).collect();
    assert_eq!(backward, vec![70, 69, 68, 67, 66]);
    assert_eq!(tree.iter(5, 100, true).count(), 6);
    assert_eq!(tree.partition_point(&keys, |(s, _)| s < 100.0), 300);
}

#[test]
fn removals_merge_and_shrink() {
    let keys = Numbers::new(3000);
    let mut tree = OrderTree::from_sorted((0..3000).collect());
    tree.check(&keys);
    for id in (0..3000).step_by(2) {
        assert!(tree.remove(&keys, id));
        assert!(!tree.remove(&keys, id));
    }
    tree.check(&keys);
    assert_eq!(tree.len(), 1500);
    while tree.len() > 10 {
        let rank = tree.len() / 3;
        let expected = tree.at(rank);
        assert_eq!(tree.remove_at(rank), expected);
    }
    tree.check(&keys);
    assert!(matches!(tree.root, Node::Leaf(_)));
    while tree.remove_at(0).is_some() {}
    assert_eq!(tree.len(), 0);
    assert_eq!(tree.iter(0, 10, false).count(), 0);
}
