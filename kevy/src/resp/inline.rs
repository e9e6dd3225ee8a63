//! Splitting an inline request into arguments with Redis's `sdssplitargs`
//! rules: spaces separate, "double quotes" understand `\n \r \t \b \a \\ \"`
//! and `\xHH`, 'single quotes' understand `\'`, and a closing quote must be
//! followed by a space or the end of the line.

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c)
}

/// Appends the unquoted arguments of `line` to `out`, recording each one's
/// range in `args`. Returns false on unbalanced quotes.
pub fn split_inline(line: &[u8], out: &mut Vec<u8>, args: &mut Vec<(u32, u32)>) -> bool {
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return true;
        }
        let start = out.len() as u32;
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                if i >= line.len() {
                    return false;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < line.len()
                    && line[i + 1] == b'x'
                    && hex_value(line[i + 2]).is_some()
                    && hex_value(line[i + 3]).is_some()
                {
                    let hi = hex_value(line[i + 2]).unwrap_or(0);
                    let lo = hex_value(line[i + 3]).unwrap_or(0);
                    out.push(hi * 16 + lo);
                    i += 3;
                } else if c == b'\\' && i + 1 < line.len() {
                    i += 1;
                    out.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < line.len() && !is_space(line[i + 1]) {
                        return false;
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                }
            } else if in_single {
                if i >= line.len() {
                    return false;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < line.len() && line[i + 1] == b'\'' {
                    i += 1;
                    out.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < line.len() && !is_space(line[i + 1]) {
                        return false;
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                }
            } else {
                if i >= line.len() {
                    break;
                }
                match line[i] {
                    c if is_space(c) => break,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    c => out.push(c),
                }
            }
            i += 1;
        }
        args.push((start, out.len() as u32));
    }
}
