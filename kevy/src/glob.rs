//! Glob-style pattern matching with Redis's `stringmatchlen` rules (`*`,
//! `?`, `[...]` with ranges and `^`, `\` escapes), used by `KEYS`,
//! `SCAN MATCH`, `CONFIG GET` and pattern subscriptions.

/// True when `text` matches `pattern`.
pub fn glob_match(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    // Redis bounds the recursion of nested stars; an iterative matcher with
    // backtracking to the last star is linear in practice and cannot overflow.
    match_from(pattern, text, nocase, 0)
}

const MAX_NESTING: usize = 1000;

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

fn match_from(mut p: &[u8], mut s: &[u8], nocase: bool, depth: usize) -> bool {
    if depth > MAX_NESTING {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for start in 0..s.len() {
                    if match_from(&p[1..], &s[start..], nocase, depth + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                s = &s[1..];
                p = &p[1..];
            }
            b'[' => {
                let (matched, rest) = match_class(&p[1..], s[0], nocase);
                if !matched {
                    return false;
                }
                p = rest;
                s = &s[1..];
            }
            b'\\' if p.len() >= 2 => {
                if !eq(p[1], s[0], nocase) {
                    return false;
                }
                p = &p[2..];
                s = &s[1..];
            }
            c => {
                if !eq(c, s[0], nocase) {
                    return false;
                }
                p = &p[1..];
                s = &s[1..];
            }
        }
    }
    if s.is_empty() {
        while !p.is_empty() && p[0] == b'*' {
            p = &p[1..];
        }
    }
    p.is_empty() && s.is_empty()
}

/// Matches `c` against a class body (after `[`); returns the pattern after
/// the closing `]`.
fn match_class(mut p: &[u8], c: u8, nocase: bool) -> (bool, &[u8]) {
    let not = !p.is_empty() && p[0] == b'^';
    if not {
        p = &p[1..];
    }
    let mut matched = false;
    loop {
        if p.is_empty() {
            // Unterminated class: Redis treats the end as the closing bracket.
            break;
        }
        if p[0] == b'\\' && p.len() >= 2 {
            if p[1] == c {
                matched = true;
            }
            p = &p[2..];
        } else if p[0] == b']' {
            p = &p[1..];
            break;
        } else if p.len() >= 3 && p[1] == b'-' {
            let (mut start, mut end) = (p[0], p[2]);
            if start > end {
                std::mem::swap(&mut start, &mut end);
            }
            let (lo, hi, ch) = if nocase {
                (
                    start.to_ascii_lowercase(),
                    end.to_ascii_lowercase(),
                    c.to_ascii_lowercase(),
                )
            } else {
                (start, end, c)
            };
            if ch >= lo && ch <= hi {
                matched = true;
            }
            p = &p[3..];
        } else {
            if eq(p[0], c, nocase) {
                matched = true;
            }
            p = &p[1..];
        }
    }
    (matched != not, p)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn redis_patterns() {
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h*llo", b"heeeello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        assert!(glob_match(b"*", b"", false));
        assert!(glob_match(b"a\\*b", b"a*b", false));
        assert!(!glob_match(b"a\\*b", b"axb", false));
        assert!(glob_match(b"MAX*", b"maxmemory", true));
    }
}
