//! `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`: the longest
//! common subsequence of two strings.
//!
//! The same dynamic programme as Redis (a full `u32` table, walked back
//! from the end), so that among several subsequences of equal length the
//! same one and the same match ranges come out. The table may not exceed
//! `proto-max-bulk-len` bytes, and a failed allocation is an error reply,
//! as in Redis. LCS may name keys on two shards: it is routed as an atomic
//! command, so this handler sees both keys in one keyspace.

use super::{option_is, StrLookup};
use crate::cmd::lookup_read;
use crate::cmd::{errors, ExecCtx};
use crate::resp::num::parse_i64;
use crate::resp::Argv;

const NOT_STRINGS: &str = "ERR The specified keys must contain string values";
const LEN_AND_IDX: &str = "ERR If you want both the length and indexes, please just use IDX.";
const TOO_LONG: &str = "ERR String too long for LCS";
const OVER_BULK_LEN: &str =
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
const NO_MEMORY: &str = "ERR Insufficient memory, failed allocating transient memory for LCS";

/// One matching run: `a[a_start..=a_end] == b[b_start..=b_end]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Match {
    a_start: u32,
    a_end: u32,
    b_start: u32,
    b_end: u32,
}

impl Match {
    fn len(&self) -> u32 {
        self.a_end - self.a_start + 1
    }
}

/// `LCS(i, j)` for all prefixes, row-major with `b.len() + 1` columns.
struct Table {
    cells: Vec<u32>,
    width: usize,
}

/// Why no table was built.
#[derive(Debug, PartialEq, Eq)]
enum TableError {
    OverBulkLen,
    NoMemory,
}

impl Table {
    /// Fills the table, refusing one larger than `max_bytes`.
    fn build(a: &[u8], b: &[u8], max_bytes: u64) -> Result<Table, TableError> {
        let width = b.len() + 1;
        let cells = (a.len() as u64 + 1)
            .checked_mul(width as u64)
            .ok_or(TableError::NoMemory)?;
        let bytes = cells.checked_mul(4).ok_or(TableError::NoMemory)?;
        if bytes > max_bytes {
            return Err(TableError::OverBulkLen);
        }
        let cells = usize::try_from(cells).map_err(|_| TableError::NoMemory)?;
        let mut table = Vec::new();
        table
            .try_reserve_exact(cells)
            .map_err(|_| TableError::NoMemory)?;
        table.resize(cells, 0u32);
        for i in 1..=a.len() {
            for j in 1..width {
                table[i * width + j] = if a[i - 1] == b[j - 1] {
                    table[(i - 1) * width + j - 1] + 1
                } else {
                    table[(i - 1) * width + j].max(table[i * width + j - 1])
                };
            }
        }
        Ok(Table {
            cells: table,
            width,
        })
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }

    /// Walks back from the end as Redis does: the subsequence itself and
    /// its matching runs, last run first.
    fn walk(&self, a: &[u8], b: &[u8]) -> (Vec<u8>, Vec<Match>) {
        let mut text = vec![0u8; self.at(a.len(), b.len()) as usize];
        let mut idx = text.len();
        let mut runs = Vec::new();
        let mut current: Option<Match> = None;
        let (mut i, mut j) = (a.len(), b.len());
        while i > 0 && j > 0 {
            let emit = if a[i - 1] == b[j - 1] {
                text[idx - 1] = a[i - 1];
                // Consecutive matches step back diagonally, so a run only
                // ever grows towards the start of both strings.
                let run = current.get_or_insert(Match {
                    a_start: i as u32,
                    a_end: i as u32 - 1,
                    b_start: j as u32,
                    b_end: j as u32 - 1,
                });
                run.a_start -= 1;
                run.b_start -= 1;
                let reached_start = run.a_start == 0 || run.b_start == 0;
                idx -= 1;
                i -= 1;
                j -= 1;
                reached_start
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                current.is_some()
            };
            if emit {
                runs.extend(current.take());
            }
        }
        (text, runs)
    }
}

pub(super) fn lcs(ctx: &mut ExecCtx, argv: Argv) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let mut read = |key: &[u8]| {
        let db = ctx.keyspace.db(ctx.db_index);
        match lookup_read(db, ctx.stats, key, now, clock) {
            StrLookup::Absent => Some(Vec::new()),
            StrLookup::Found(s) => Some(s.to_vec()),
            StrLookup::WrongType => None,
        }
    };
    // Both keys are looked up (and counted) before either is checked.
    let (a, b) = (read(argv.get(1)), read(argv.get(2)));
    let (Some(a), Some(b)) = (a, b) else {
        ctx.reply.error(NOT_STRINGS);
        return;
    };

    let (mut want_len, mut want_idx, mut with_match_len) = (false, false, false);
    let mut min_match_len: i64 = 0;
    let mut j = 3;
    while j < argv.len() {
        let opt = argv.get(j);
        if option_is(opt, "IDX") {
            want_idx = true;
        } else if option_is(opt, "LEN") {
            want_len = true;
        } else if option_is(opt, "WITHMATCHLEN") {
            with_match_len = true;
        } else if option_is(opt, "MINMATCHLEN") && j + 1 < argv.len() {
            let Some(n) = parse_i64(argv.get(j + 1)) else {
                ctx.reply.error(errors::NOT_INTEGER);
                return;
            };
            min_match_len = n.max(0);
            j += 1;
        } else {
            ctx.reply.error(errors::SYNTAX);
            return;
        }
        j += 1;
    }
    if want_len && want_idx {
        ctx.reply.error(LEN_AND_IDX);
        return;
    }
    let limit = u32::MAX as usize - 1;
    if a.len() >= limit || b.len() >= limit {
        ctx.reply.error(TOO_LONG);
        return;
    }
    let table = match Table::build(&a, &b, ctx.config.proto_max_bulk_len) {
        Ok(table) => table,
        Err(TableError::OverBulkLen) => return ctx.reply.error(OVER_BULK_LEN),
        Err(TableError::NoMemory) => return ctx.reply.error(NO_MEMORY),
    };
    let total = table.at(a.len(), b.len());
    if want_len {
        ctx.reply.int(i64::from(total));
        return;
    }
    let (text, runs) = table.walk(&a, &b);
    if !want_idx {
        ctx.reply.bulk(&text);
        return;
    }
    let shown = |run: &&Match| min_match_len == 0 || i64::from(run.len()) >= min_match_len;
    ctx.reply.map(2);
    ctx.reply.bulk(b"matches");
    ctx.reply.array(runs.iter().filter(shown).count());
    for run in runs.iter().filter(shown) {
        ctx.reply.array(2 + usize::from(with_match_len));
        ctx.reply.array(2);
        ctx.reply.int(i64::from(run.a_start));
        ctx.reply.int(i64::from(run.a_end));
        ctx.reply.array(2);
        ctx.reply.int(i64::from(run.b_start));
        ctx.reply.int(i64::from(run.b_end));
        if with_match_len {
            ctx.reply.int(i64::from(run.len()));
        }
    }
    ctx.reply.bulk(b"len");
    ctx.reply.int(i64::from(total));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcs_of(a: &str, b: &str) -> (String, Vec<Match>) {
        let table = Table::build(a.as_bytes(), b.as_bytes(), u64::MAX).expect("small table");
        let (text, runs) = table.walk(a.as_bytes(), b.as_bytes());
        (String::from_utf8(text).expect("ascii input"), runs)
    }

    fn run(a_start: u32, a_end: u32, b_start: u32, b_end: u32) -> Match {
        Match {
            a_start,
            a_end,
            b_start,
            b_end,
        }
    }

    #[test]
    fn finds_the_documented_example() {
        // The example of Redis's LCS documentation.
        let (text, runs) = lcs_of("ohmytext", "mynewtext");
        assert_eq!(text, "mytext");
        assert_eq!(runs, vec![run(4, 7, 5, 8), run(2, 3, 0, 1)]);
        assert_eq!(runs[0].len(), 4);
    }

    #[test]
    fn empty_and_disjoint_inputs() {
        assert_eq!(lcs_of("", "abc"), (String::new(), vec![]));
        assert_eq!(lcs_of("abc", "xyz"), (String::new(), vec![]));
        assert_eq!(lcs_of("abc", "abc").1, vec![run(0, 2, 0, 2)]);
    }

    #[test]
    fn table_size_is_bounded() {
        assert_eq!(
            Table::build(&[b'a'; 100], &[b'a'; 100], 1000).err(),
            Some(TableError::OverBulkLen)
        );
        assert!(Table::build(&[b'a'; 10], &[b'a'; 10], 484).is_ok());
    }
}
