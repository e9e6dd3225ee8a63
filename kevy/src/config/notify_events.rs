//! `notify-keyspace-events`: the event classes a server publishes on the
//! `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>` channels, as
//! flags parsed from and printed to Redis's class letters.

/// Keyspace channel (`K`).
pub const KEYSPACE: u32 = 1 << 0;
/// Keyevent channel (`E`).
pub const KEYEVENT: u32 = 1 << 1;
/// Generic commands: `DEL`, `EXPIRE`, `RENAME`, ... (`g`).
pub const GENERIC: u32 = 1 << 2;
/// String commands (`$`).
pub const STRING: u32 = 1 << 3;
pub const LIST: u32 = 1 << 4;
pub const SET: u32 = 1 << 5;
pub const HASH: u32 = 1 << 6;
pub const ZSET: u32 = 1 << 7;
pub const EXPIRED: u32 = 1 << 8;
pub const EVICTED: u32 = 1 << 9;
pub const STREAM: u32 = 1 << 10;
pub const KEY_MISS: u32 = 1 << 11;
pub const MODULE: u32 = 1 << 12;
pub const NEW: u32 = 1 << 13;
/// `A`: every class except key misses and new keys, as in Redis.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// Redis's error text for a bad class letter.
pub const INVALID: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

/// The flags of a class string, or None on an unknown letter.
pub fn parse(classes: &str) -> Option<u32> {
    let mut flags = 0;
    for c in classes.chars() {
        flags |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => return None,
        };
    }
    Some(flags)
}

/// The canonical class string `CONFIG GET` prints (Redis's order).
pub fn to_text(flags: u32) -> String {
    let mut out = String::new();
    if flags & ALL == ALL {
        out.push('A');
    } else {
        for (flag, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if flags & flag != 0 {
                out.push(c);
            }
        }
    }
    for (flag, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & flag != 0 {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_print_in_redis_order() {
        for (given, printed) in [
            ("KEA", "AKE"),
            ("Kx", "xK"),
            ("", ""),
            ("gE", "gE"),
            ("AK", "AK"),
            ("Eg$lshzxetdK", "AKE"),
            ("nmK$", "$nKm"),
        ] {
            assert_eq!(
                parse(given).map(to_text).as_deref(),
                Some(printed),
                "{given}"
            );
        }
        assert_eq!(parse("xyz"), None);
        assert_eq!(parse("K E"), None);
    }
}
