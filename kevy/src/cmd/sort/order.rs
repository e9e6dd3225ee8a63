//! How SORT orders elements: the weights, the comparison and the two sort
//! algorithms Redis uses, so that ties come out in Redis's order too.
//!
//! Numeric weights are parsed with the C library's `strtod`, as Redis does
//! (leading spaces, hex floats, `inf` accepted; NaN, overflow and trailing
//! bytes rejected). Without LIMIT+BY Redis calls glibc's `qsort`, a stable
//! merge sort: Rust's stable sort gives the same result. With BY and a
//! LIMIT narrower than the whole input it calls its own `pqsort` (NetBSD's
//! quicksort that skips partitions outside the window), which is not
//! stable; [`partial_sort`] is a port of it, so elements whose BY weights
//! tie land where Redis puts them.

use std::cmp::Ordering;

/// One element being sorted, with the weight it is sorted by.
pub(super) struct Weighted {
    pub element: Vec<u8>,
    /// The numeric weight (0 when the BY key is missing).
    pub score: f64,
    /// With ALPHA and BY: the BY value; None when the BY key is missing.
    pub by_value: Option<Vec<u8>>,
}

/// The comparison's settings (Redis keeps them in globals for `qsort`).
#[derive(Clone, Copy)]
pub(super) struct Comparison {
    pub desc: bool,
    pub alpha: bool,
    pub by_pattern: bool,
    /// With STORE, ALPHA compares bytes; without it, `strcoll`.
    pub store: bool,
}

/// The text of a C string: the bytes up to the first NUL.
pub(super) fn c_str(bytes: &[u8]) -> &[u8] {
    bytes
        .iter()
        .position(|&b| b == 0)
        .map_or(bytes, |nul| &bytes[..nul])
}

/// `strcoll` in the C and C.UTF-8 locales: bytes compared as unsigned, up
/// to the first NUL (Redis runs with `LC_COLLATE` from its environment; a
/// locale with other collation rules would order ALPHA sorts differently).
fn collate(a: &[u8], b: &[u8]) -> Ordering {
    c_str(a).cmp(c_str(b))
}

impl Comparison {
    /// Redis's `sortCompare`.
    pub fn compare(&self, a: &Weighted, b: &Weighted) -> Ordering {
        let order = if !self.alpha {
            if a.score > b.score {
                Ordering::Greater
            } else if a.score < b.score {
                Ordering::Less
            } else {
                // Equal weights: the elements' bytes decide, so the result
                // does not depend on the algorithm.
                a.element.cmp(&b.element)
            }
        } else if self.by_pattern {
            match (&a.by_value, &b.by_value) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) if self.store => x.cmp(y),
                (Some(x), Some(y)) => collate(x, y),
            }
        } else if self.store {
            a.element.cmp(&b.element)
        } else {
            collate(&a.element, &b.element)
        };
        if self.desc {
            order.reverse()
        } else {
            order
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn clear_errno() {
    // SAFETY: `__errno_location` returns this thread's errno slot.
    unsafe { *libc::__errno_location() = 0 }
}

#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
fn clear_errno() {
    // SAFETY: `__error` returns this thread's errno slot.
    unsafe { *libc::__error() = 0 }
}

/// Elsewhere errno cannot be cleared portably; like Redis, which never
/// clears it before `strtod`, a stale ERANGE then reads as an overflow.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd"
)))]
fn clear_errno() {}

/// Longest weight parsed from a stack buffer (longer ones allocate).
const STACK_NUMBER: usize = 64;

/// The numeric weight of `bytes` as SORT computes it: `strtod` over the C
/// string, None when it is not a number (trailing bytes, overflow, NaN).
/// An empty string is 0, as `strtod` leaves it.
pub(super) fn weight(bytes: &[u8]) -> Option<f64> {
    let text = c_str(bytes);
    let mut stack = [0u8; STACK_NUMBER];
    let mut heap = Vec::new();
    let terminated: &[u8] = if text.len() < STACK_NUMBER {
        stack[..text.len()].copy_from_slice(text);
        &stack[..=text.len()]
    } else {
        heap.extend_from_slice(text);
        heap.push(0);
        &heap
    };
    let start = terminated.as_ptr().cast::<libc::c_char>();
    let mut end = start.cast_mut();
    clear_errno();
    // SAFETY: `terminated` is NUL-terminated and outlives the call; strtod
    // only reads up to the NUL and stores a pointer into it in `end`.
    let value = unsafe { libc::strtod(start, &mut end) };
    let overflow = std::io::Error::last_os_error().raw_os_error() == Some(libc::ERANGE);
    // SAFETY: `end` points into `terminated` (at or before its NUL).
    let consumed = unsafe { end.offset_from(start) } as usize;
    (consumed == text.len() && !overflow && !value.is_nan()).then_some(value)
}

/// Sorts `items` so that positions `first..=last` hold what a full sort
/// would put there, exactly as Redis's `pqsort` leaves them.
pub(super) fn partial_sort(items: &mut [Weighted], cmp: Comparison, first: usize, last: usize) {
    pqsort(items, 0, items.len(), &cmp, first, last);
}

fn med3(items: &[Weighted], cmp: &Comparison, a: usize, b: usize, c: usize) -> usize {
    let less = |x: usize, y: usize| cmp.compare(&items[x], &items[y]) == Ordering::Less;
    let greater = |x: usize, y: usize| cmp.compare(&items[x], &items[y]) == Ordering::Greater;
    if less(a, b) {
        if less(b, c) {
            b
        } else if less(a, c) {
            c
        } else {
            a
        }
    } else if greater(b, c) {
        b
    } else if less(a, c) {
        a
    } else {
        c
    }
}

fn insertion_sort(items: &mut [Weighted], cmp: &Comparison, lo: usize, n: usize) {
    for m in lo + 1..lo + n {
        let mut l = m;
        while l > lo && cmp.compare(&items[l - 1], &items[l]) == Ordering::Greater {
            items.swap(l, l - 1);
            l -= 1;
        }
    }
}

/// Swaps `n` elements starting at `a` with `n` starting at `b`.
fn swap_run(items: &mut [Weighted], a: usize, b: usize, n: usize) {
    for i in 0..n {
        items.swap(a + i, b + i);
    }
}

/// Does the run `lo..lo + n` overlap the window `first..=last`?
fn overlaps(lo: usize, n: usize, first: usize, last: usize) -> bool {
    !((first < lo && last < lo) || (first >= lo + n && last >= lo + n))
}

/// NetBSD's `qsort` (Bentley & McIlroy) as Redis's `pqsort.c` modified it:
/// partitions wholly outside `first..=last` are left unsorted.
fn pqsort(
    items: &mut [Weighted],
    mut lo: usize,
    mut n: usize,
    cmp: &Comparison,
    first: usize,
    last: usize,
) {
    loop {
        if n < 7 {
            return insertion_sort(items, cmp, lo, n);
        }
        let mut pm = lo + n / 2;
        if n > 7 {
            let mut pl = lo;
            let mut pn = lo + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(items, cmp, pl, pl + d, pl + 2 * d);
                pm = med3(items, cmp, pm - d, pm, pm + d);
                pn = med3(items, cmp, pn - 2 * d, pn - d, pn);
            }
            pm = med3(items, cmp, pl, pm, pn);
        }
        items.swap(lo, pm);
        let (mut pa, mut pb) = (lo + 1, lo + 1);
        // pc and pd run down from the last element; as signed positions
        // because pc may step to just before pb (even before lo + 1).
        let (mut pc, mut pd) = ((lo + n - 1) as isize, (lo + n - 1) as isize);
        let mut swapped = false;
        loop {
            while pb as isize <= pc {
                let order = cmp.compare(&items[pb], &items[lo]);
                if order == Ordering::Greater {
                    break;
                }
                if order == Ordering::Equal {
                    swapped = true;
                    items.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb as isize <= pc {
                let order = cmp.compare(&items[pc as usize], &items[lo]);
                if order == Ordering::Less {
                    break;
                }
                if order == Ordering::Equal {
                    swapped = true;
                    items.swap(pc as usize, pd as usize);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb as isize > pc {
                break;
            }
            items.swap(pb, pc as usize);
            swapped = true;
            pb += 1;
            pc -= 1;
        }
        if !swapped {
            // Already partitioned without a swap: finish by insertion.
            return insertion_sort(items, cmp, lo, n);
        }
        let pn = lo + n;
        let r = (pa - lo).min(pb - pa);
        swap_run(items, lo, pb - r, r);
        let (pc, pd) = (pc as usize, pd as usize);
        let r = (pd - pc).min(pn - pd - 1);
        swap_run(items, pb, pn - r, r);
        let left = pb - pa;
        if left > 1 && overlaps(lo, left, first, last) {
            pqsort(items, lo, left, cmp, first, last);
        }
        let right = pd - pc;
        if right > 1 {
            lo = pn - right;
            n = right;
            if overlaps(lo, n, first, last) {
                continue;
            }
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weighted(element: &str, by: Option<&str>) -> Weighted {
        Weighted {
            element: element.as_bytes().to_vec(),
            score: 0.0,
            by_value: by.map(|b| b.as_bytes().to_vec()),
        }
    }

    #[test]
    fn weights_parse_like_strtod() {
        assert_eq!(weight(b"1.5"), Some(1.5));
        assert_eq!(weight(b""), Some(0.0));
        assert_eq!(weight(b" 12"), Some(12.0));
        assert_eq!(weight(b"0x10"), Some(16.0));
        assert_eq!(weight(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(weight(b"3\0junk"), Some(3.0));
        assert_eq!(weight(b"1e400"), None);
        assert_eq!(weight(b"nan"), None);
        assert_eq!(weight(b"12 "), None);
        assert_eq!(weight(b"abc"), None);
        let long = format!("{}1", "0".repeat(100));
        assert_eq!(weight(long.as_bytes()), Some(1.0));
    }

    #[test]
    fn partial_sort_orders_the_window() {
        let cmp = Comparison {
            desc: false,
            alpha: true,
            by_pattern: true,
            store: false,
        };
        for n in [0usize, 1, 5, 7, 8, 40, 41, 100, 500] {
            let keys: Vec<String> = (0..n)
                .map(|i| format!("{:04}", (i * 7919) % 1009))
                .collect();
            let mut sorted = keys.clone();
            sorted.sort();
            for (first, last) in [(0, 9), (3, 5), (n / 2, n / 2 + 3), (0, n.saturating_sub(1))] {
                let mut items: Vec<Weighted> =
                    keys.iter().map(|k| weighted("e", Some(k))).collect();
                partial_sort(&mut items, cmp, first, last);
                for i in first..=last.min(n.saturating_sub(1)) {
                    if i < n {
                        assert_eq!(
                            items[i].by_value.as_deref(),
                            Some(sorted[i].as_bytes()),
                            "n={n} i={i}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn missing_weights_sort_first_and_desc_reverses() {
        let mut cmp = Comparison {
            desc: false,
            alpha: true,
            by_pattern: true,
            store: true,
        };
        let (a, b) = (weighted("a", None), weighted("b", Some("x")));
        assert_eq!(cmp.compare(&a, &b), Ordering::Less);
        cmp.desc = true;
        assert_eq!(cmp.compare(&a, &b), Ordering::Greater);
        cmp.by_pattern = false;
        cmp.alpha = false;
        assert_eq!(cmp.compare(&a, &b), Ordering::Greater);
    }
}
