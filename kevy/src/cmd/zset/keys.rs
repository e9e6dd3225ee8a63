//! Key positions of the sorted-set commands that name their keys after a
//! `numkeys` argument (`ZUNION 2 a b`, `ZUNIONSTORE dst 2 a b`, `ZMPOP 1 k
//! MIN`), for routing. A `numkeys` that is not a positive integer names no
//! keys, and a count beyond the arguments stops at the last argument: the
//! handler answers those with Redis's errors.

use crate::resp::num::parse_i64;
use crate::resp::Argv;

/// Keys counted by the argument at `at`, right after it.
fn counted_keys(argv: Argv, at: usize, out: &mut Vec<usize>) {
    if at >= argv.len() {
        return;
    }
    let Some(count) = parse_i64(argv.get(at)).and_then(|n| usize::try_from(n).ok()) else {
        return;
    };
    let first = at + 1;
    let end = first.saturating_add(count).min(argv.len());
    out.extend(first..end);
}

/// `ZUNION ZINTER ZINTERCARD ZDIFF ZMPOP`: `numkeys` at 1.
pub(super) fn numkeys_at_1(argv: Argv, out: &mut Vec<usize>) {
    counted_keys(argv, 1, out);
}

/// `ZUNIONSTORE ZINTERSTORE ZDIFFSTORE`: the destination at 1, `numkeys`
/// at 2.
pub(super) fn destination_and_numkeys(argv: Argv, out: &mut Vec<usize>) {
    if argv.len() > 1 {
        out.push(1);
    }
    counted_keys(argv, 2, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::OwnedArgv;

    fn keys(line: &str, find: fn(Argv, &mut Vec<usize>)) -> Vec<usize> {
        let owned = OwnedArgv::from_slices(line.split(' ').map(str::as_bytes));
        let mut out = Vec::new();
        find(owned.argv(), &mut out);
        out
    }

    #[test]
    fn finds_counted_keys() {
        assert_eq!(keys("zunion 2 a b withscores", numkeys_at_1), [2, 3]);
        assert_eq!(keys("zunion 5 a b", numkeys_at_1), [2, 3]);
        assert_eq!(keys("zunion -1 a b", numkeys_at_1), Vec::<usize>::new());
        assert_eq!(keys("zunion x a", numkeys_at_1), Vec::<usize>::new());
        assert_eq!(
            keys("zmpop 9223372036854775807 a min", numkeys_at_1),
            [2, 3]
        );
        assert_eq!(
            keys("zunionstore d 2 a b", destination_and_numkeys),
            [1, 3, 4]
        );
        assert_eq!(keys("zunionstore d x a", destination_and_numkeys), [1]);
    }
}
