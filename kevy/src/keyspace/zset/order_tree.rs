//! An order-statistic B-tree of item ids: the ordered view of a large
//! sorted set, with O(log n) insert, remove, rank and select.
//!
//! Items are `u32` ids; their sort keys (score, member) live elsewhere (the
//! sorted set's slot table) and are read through [`KeySource`], so a member
//! is stored once. Leaves hold ids in key order; a branch keeps, for each
//! child, the number of items below it (for ranks) and the id of its first
//! item (to route a key to the one child whose key interval holds it).
//! Nodes split when they overflow and merge with a neighbour when they fall
//! under a quarter full and the pair fits in one node, so the depth stays
//! logarithmic and space stays dense.
//!
//! The caller guarantees that an id's key does not change while the id is
//! in the tree (a score change is a remove, then an insert).

use std::cmp::Ordering;

mod iter;
#[cfg(test)]
mod tests;

pub(super) use iter::Iter;

/// Most ids in a leaf.
const LEAF_MAX: usize = 64;
/// Most children of a branch.
const BRANCH_MAX: usize = 32;
/// Fill of nodes made by a bulk build: room for inserts before a split.
const LEAF_BUILD: usize = LEAF_MAX * 3 / 4;
const BRANCH_BUILD: usize = BRANCH_MAX * 3 / 4;

/// The sort key of an item id.
pub(super) trait KeySource {
    fn key(&self, id: u32) -> (f64, &[u8]);
}

/// Redis's order: by score, then by member bytes. Scores are never NaN.
pub(super) fn cmp_keys(a: (f64, &[u8]), b: (f64, &[u8])) -> Ordering {
    if a.0 < b.0 {
        Ordering::Less
    } else if a.0 > b.0 {
        Ordering::Greater
    } else {
        a.1.cmp(b.1)
    }
}

#[derive(Clone, Debug)]
pub(super) struct OrderTree {
    root: Node,
    len: usize,
}

#[derive(Clone, Debug)]
enum Node {
    Leaf(Vec<u32>),
    Branch(Branch),
}

#[derive(Clone, Debug)]
struct Branch {
    children: Vec<Node>,
    /// Items under each child.
    sizes: Vec<usize>,
    /// The first (smallest) id under each child.
    firsts: Vec<u32>,
}

impl Default for OrderTree {
    fn default() -> Self {
        OrderTree {
            root: Node::Leaf(Vec::new()),
            len: 0,
        }
    }
}

impl Node {
    fn item_count(&self) -> usize {
        match self {
            Node::Leaf(items) => items.len(),
            Node::Branch(b) => b.sizes.iter().sum(),
        }
    }

    /// The first id; the node is not empty.
    fn first(&self) -> u32 {
        match self {
            Node::Leaf(items) => items[0],
            Node::Branch(b) => b.firsts[0],
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Node::Leaf(items) => items.is_empty(),
            Node::Branch(b) => b.children.is_empty(),
        }
    }

    /// Entries held directly (ids or children), the measure of fullness.
    fn width(&self) -> usize {
        match self {
            Node::Leaf(items) => items.len(),
            Node::Branch(b) => b.children.len(),
        }
    }

    fn max_width(&self) -> usize {
        match self {
            Node::Leaf(_) => LEAF_MAX,
            Node::Branch(_) => BRANCH_MAX,
        }
    }

    /// Inserts `id` in key order; returns the right half when it split.
    fn insert(&mut self, keys: &impl KeySource, id: u32) -> Option<Node> {
        let key = keys.key(id);
        match self {
            Node::Leaf(items) => {
                let pos = items.partition_point(|&x| cmp_keys(keys.key(x), key) == Ordering::Less);
                items.insert(pos, id);
                (items.len() > LEAF_MAX).then(|| Node::Leaf(items.split_off(items.len() / 2)))
            }
            Node::Branch(b) => {
                let i = b.child_for(keys, key);
                let split = b.children[i].insert(keys, id);
                b.sizes[i] += 1;
                b.firsts[i] = b.children[i].first();
                if let Some(right) = split {
                    b.insert_child_after(i, right);
                    if b.children.len() > BRANCH_MAX {
                        return Some(Node::Branch(b.split_half()));
                    }
                }
                None
            }
        }
    }

    /// Removes `id` (found by its key); false when absent.
    fn remove(&mut self, keys: &impl KeySource, id: u32) -> bool {
        let key = keys.key(id);
        match self {
            Node::Leaf(items) => {
                let pos = items.partition_point(|&x| cmp_keys(keys.key(x), key) == Ordering::Less);
                if items.get(pos) != Some(&id) {
                    return false;
                }
                items.remove(pos);
                true
            }
            Node::Branch(b) => {
                let i = b.child_for(keys, key);
                if !b.children[i].remove(keys, id) {
                    return false;
                }
                b.after_child_shrank(i);
                true
            }
        }
    }

    /// Removes and returns the id at `rank` (< item count).
    fn remove_at(&mut self, rank: usize) -> u32 {
        match self {
            Node::Leaf(items) => items.remove(rank),
            Node::Branch(b) => {
                let (i, inner) = b.locate(rank);
                let id = b.children[i].remove_at(inner);
                b.after_child_shrank(i);
                id
            }
        }
    }

    /// Items for which `pred` holds, when it holds for a prefix.
    fn partition_point(
        &self,
        keys: &impl KeySource,
        pred: &impl Fn((f64, &[u8])) -> bool,
    ) -> usize {
        match self {
            Node::Leaf(items) => items.partition_point(|&x| pred(keys.key(x))),
            Node::Branch(b) => {
                // The first child whose first item fails the predicate: the
                // boundary lies in the child before it.
                let j = b.firsts.partition_point(|&f| pred(keys.key(f)));
                if j == 0 {
                    return 0;
                }
                let before: usize = b.sizes[..j - 1].iter().sum();
                before + b.children[j - 1].partition_point(keys, pred)
            }
        }
    }
}

impl Branch {
    /// The child whose key interval holds `key`: the last one whose first
    /// item is not greater than it (the first child for smaller keys).
    fn child_for(&self, keys: &impl KeySource, key: (f64, &[u8])) -> usize {
        self.firsts
            .partition_point(|&f| cmp_keys(keys.key(f), key) != Ordering::Greater)
            .saturating_sub(1)
    }

    /// The child holding `rank` and the rank inside it.
    fn locate(&self, mut rank: usize) -> (usize, usize) {
        for (i, &size) in self.sizes.iter().enumerate() {
            if rank < size {
                return (i, rank);
            }
            rank -= size;
        }
        // Callers pass ranks below the item count; the last child is the
        // closest valid answer otherwise.
        let last = self.sizes.len().saturating_sub(1);
        (
            last,
            self.sizes.get(last).map_or(0, |s| s.saturating_sub(1)),
        )
    }

    fn insert_child_after(&mut self, i: usize, right: Node) {
        let right_len = right.item_count();
        self.sizes[i] -= right_len;
        self.firsts.insert(i + 1, right.first());
        self.sizes.insert(i + 1, right_len);
        self.children.insert(i + 1, right);
    }

    fn split_half(&mut self) -> Branch {
        let at = self.children.len() / 2;
        Branch {
            children: self.children.split_off(at),
            sizes: self.sizes.split_off(at),
            firsts: self.firsts.split_off(at),
        }
    }

    /// Bookkeeping after child `i` lost one item: drop it when empty,
    /// refresh its first id, merge it with a neighbour when it is small.
    fn after_child_shrank(&mut self, i: usize) {
        self.sizes[i] -= 1;
        if self.children[i].is_empty() {
            self.children.remove(i);
            self.sizes.remove(i);
            self.firsts.remove(i);
            return;
        }
        self.firsts[i] = self.children[i].first();
        let child = &self.children[i];
        if child.width() >= child.max_width() / 4 {
            return;
        }
        let fits = |j: usize| {
            self.children.get(j).is_some_and(|n| {
                matches!(
                    (n, child),
                    (Node::Leaf(_), Node::Leaf(_)) | (Node::Branch(_), Node::Branch(_))
                ) && n.width() + child.width() <= child.max_width()
            })
        };
        if fits(i + 1) {
            self.merge_with_next(i);
        } else if i > 0 && fits(i - 1) {
            self.merge_with_next(i - 1);
        }
    }

    /// Moves child `i + 1`'s contents to the end of child `i`.
    fn merge_with_next(&mut self, i: usize) {
        let next = self.children.remove(i + 1);
        let next_size = self.sizes.remove(i + 1);
        self.firsts.remove(i + 1);
        self.sizes[i] += next_size;
        match (&mut self.children[i], next) {
            (Node::Leaf(items), Node::Leaf(more)) => items.extend(more),
            (Node::Branch(b), Node::Branch(more)) => {
                b.children.extend(more.children);
                b.sizes.extend(more.sizes);
                b.firsts.extend(more.firsts);
            }
            // Callers merge nodes of one kind (all leaves are at one depth).
            (_, other) => {
                self.sizes[i] -= next_size;
                self.firsts.insert(i + 1, other.first());
                self.sizes.insert(i + 1, next_size);
                self.children.insert(i + 1, other);
            }
        }
    }
}

impl OrderTree {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// A tree of `ids`, already in key order.
    pub(super) fn from_sorted(ids: Vec<u32>) -> Self {
        let len = ids.len();
        if len <= LEAF_MAX {
            return OrderTree {
                root: Node::Leaf(ids),
                len,
            };
        }
        let mut level: Vec<Node> = ids
            .chunks(LEAF_BUILD)
            .map(|chunk| Node::Leaf(chunk.to_vec()))
            .collect();
        while level.len() > 1 {
            let mut parents = Vec::with_capacity(level.len() / BRANCH_BUILD + 1);
            let mut rest = level.into_iter().peekable();
            while rest.peek().is_some() {
                let children: Vec<Node> = rest.by_ref().take(BRANCH_BUILD).collect();
                parents.push(Node::Branch(Branch {
                    sizes: children.iter().map(Node::item_count).collect(),
                    firsts: children.iter().map(Node::first).collect(),
                    children,
                }));
            }
            level = parents;
        }
        let root = level.pop().unwrap_or(Node::Leaf(Vec::new()));
        OrderTree { root, len }
    }

    pub(super) fn insert(&mut self, keys: &impl KeySource, id: u32) {
        if let Some(right) = self.root.insert(keys, id) {
            let left = std::mem::replace(&mut self.root, Node::Leaf(Vec::new()));
            self.root = Node::Branch(Branch {
                sizes: vec![left.item_count(), right.item_count()],
                firsts: vec![left.first(), right.first()],
                children: vec![left, right],
            });
        }
        self.len += 1;
    }

    /// Removes `id`, whose key must be the one it was inserted with.
    pub(super) fn remove(&mut self, keys: &impl KeySource, id: u32) -> bool {
        if self.len == 0 || !self.root.remove(keys, id) {
            return false;
        }
        self.len -= 1;
        self.shrink_root();
        true
    }

    /// Removes and returns the id at `rank`, if there is one.
    pub(super) fn remove_at(&mut self, rank: usize) -> Option<u32> {
        if rank >= self.len {
            return None;
        }
        let id = self.root.remove_at(rank);
        self.len -= 1;
        self.shrink_root();
        Some(id)
    }

    fn shrink_root(&mut self) {
        loop {
            match &mut self.root {
                Node::Branch(b) if b.children.len() == 1 => {
                    self.root = b.children.pop().unwrap_or(Node::Leaf(Vec::new()));
                }
                Node::Branch(b) if b.children.is_empty() => self.root = Node::Leaf(Vec::new()),
                _ => return,
            }
        }
    }

    /// The id at `rank`.
    pub(super) fn at(&self, mut rank: usize) -> Option<u32> {
        if rank >= self.len {
            return None;
        }
        let mut node = &self.root;
        loop {
            match node {
                Node::Leaf(items) => return items.get(rank).copied(),
                Node::Branch(b) => {
                    let (i, inner) = b.locate(rank);
                    node = &b.children[i];
                    rank = inner;
                }
            }
        }
    }

    /// The rank of `id`, found by its key.
    pub(super) fn rank(&self, keys: &impl KeySource, id: u32) -> Option<usize> {
        let key = keys.key(id);
        let mut node = &self.root;
        let mut before = 0;
        loop {
            match node {
                Node::Leaf(items) => {
                    let pos =
                        items.partition_point(|&x| cmp_keys(keys.key(x), key) == Ordering::Less);
                    return (items.get(pos) == Some(&id)).then_some(before + pos);
                }
                Node::Branch(b) => {
                    let i = b.child_for(keys, key);
                    before += b.sizes[..i].iter().sum::<usize>();
                    node = &b.children[i];
                }
            }
        }
    }

    /// How many leading items satisfy `pred` (which must hold for a prefix
    /// of the order and fail for the rest).
    pub(super) fn partition_point(
        &self,
        keys: &impl KeySource,
        pred: impl Fn((f64, &[u8])) -> bool,
    ) -> usize {
        self.root.partition_point(keys, &pred)
    }

    /// Ids of ranks `start..start + count` (clamped), or walking down from
    /// `start` when `reverse`.
    pub(super) fn iter(&self, start: usize, count: usize, reverse: bool) -> Iter<'_> {
        let remaining = if start >= self.len {
            0
        } else if reverse {
            count.min(start + 1)
        } else {
            count.min(self.len - start)
        };
        let mut iter = Iter {
            path: Vec::new(),
            leaf: &[],
            pos: 0,
            remaining,
            reverse,
        };
        if remaining == 0 {
            return iter;
        }
        let mut node = &self.root;
        let mut rank = start;
        loop {
            match node {
                Node::Leaf(items) => {
                    iter.leaf = items;
                    iter.pos = rank;
                    return iter;
                }
                Node::Branch(b) => {
                    let (i, inner) = b.locate(rank);
                    iter.path.push((b, i));
                    node = &b.children[i];
                    rank = inner;
                }
            }
        }
    }

    /// Checks the structure: sizes, first ids, key order, node fill.
    #[cfg(test)]
    pub(super) fn check(&self, keys: &impl KeySource) {
        fn walk(node: &Node, out: &mut Vec<u32>, depth: usize) -> usize {
            match node {
                Node::Leaf(items) => {
                    assert!(items.len() <= LEAF_MAX);
                    out.extend(items);
                    depth
                }
                Node::Branch(b) => {
                    assert!(!b.children.is_empty() && b.children.len() <= BRANCH_MAX);
                    assert_eq!(b.children.len(), b.sizes.len());
                    assert_eq!(b.children.len(), b.firsts.len());
                    let mut leaf_depth = None;
                    for (i, child) in b.children.iter().enumerate() {
                        assert!(!child.is_empty(), "no empty children");
                        assert_eq!(child.item_count(), b.sizes[i]);
                        assert_eq!(child.first(), b.firsts[i]);
                        let d = walk(child, out, depth + 1);
                        assert_eq!(*leaf_depth.get_or_insert(d), d, "leaves at one depth");
                    }
                    leaf_depth.unwrap_or(depth)
                }
            }
        }
        let mut ids = Vec::new();
        walk(&self.root, &mut ids, 0);
        assert_eq!(ids.len(), self.len);
        for pair in ids.windows(2) {
            assert_eq!(
                cmp_keys(keys.key(pair[0]), keys.key(pair[1])),
                Ordering::Less
            );
        }
    }
}
