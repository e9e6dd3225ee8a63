//! Key positions of commands that name their keys after a `numkeys`
//! argument (`ZUNION 2 a b`, `ZUNIONSTORE dst 2 a b`, `ZMPOP 1 k MIN`,
//! `SINTERCARD 2 a b`), for routing and `COMMAND GETKEYS`. As Redis's
//! `genericGetKeys`, the count is read with C's `atoi`, and a count below 1
//! or beyond the arguments names no keys at all (the handler then answers
//! with the command's own error).

use crate::resp::num::c_atoi as atoi;
use crate::resp::Argv;

/// `first_key - 1` holds the count; `prefix` keys come before the list.
fn counted_keys(argv: Argv, prefix: &[usize], first_key: usize, out: &mut Vec<usize>) {
    if first_key > argv.len() {
        return;
    }
    let count = atoi(argv.get(first_key - 1));
    let available = argv.len() - first_key;
    let Some(count) = usize::try_from(count)
        .ok()
        .filter(|&n| n >= 1 && n <= available)
    else {
        return;
    };
    out.extend_from_slice(prefix);
    out.extend(first_key..first_key + count);
}

/// `ZUNION ZINTER ZINTERCARD ZDIFF ZMPOP SINTERCARD`: `numkeys` at 1.
pub(crate) fn numkeys_at_1(argv: Argv, out: &mut Vec<usize>) {
    counted_keys(argv, &[], 2, out);
}

/// `ZUNIONSTORE ZINTERSTORE ZDIFFSTORE`: the destination at 1, `numkeys`
/// at 2.
pub(crate) fn destination_and_numkeys(argv: Argv, out: &mut Vec<usize>) {
    counted_keys(argv, &[1], 3, out);
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
        assert_eq!(keys("zunion 5 a b", numkeys_at_1), Vec::<usize>::new());
        assert_eq!(keys("zunion 2abc a b", numkeys_at_1), [2, 3]);
        assert_eq!(keys("zunion 4294967297 a b", numkeys_at_1), [2]);
        assert_eq!(keys("zunion -1 a b", numkeys_at_1), Vec::<usize>::new());
        assert_eq!(keys("zunion x a", numkeys_at_1), Vec::<usize>::new());
        assert_eq!(
            keys("zmpop 9223372036854775807 a min", numkeys_at_1),
            Vec::<usize>::new()
        );
        assert_eq!(keys("zmpop 2 a min", numkeys_at_1), [2, 3]);
        assert_eq!(
            keys("zunionstore d 2 a b", destination_and_numkeys),
            [1, 3, 4]
        );
        assert_eq!(
            keys("zunionstore d x a", destination_and_numkeys),
            Vec::<usize>::new()
        );
        assert_eq!(
            keys("zunionstore d 5 a", destination_and_numkeys),
            Vec::<usize>::new()
        );
    }
}
