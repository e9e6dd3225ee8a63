//! Key flags for `COMMAND GETKEYSANDFLAGS`: which of Redis's key specs
//! finds each key, evaluated as Redis's `getKeysUsingKeySpecs` does.
//!
//! A key spec begins its search at a fixed index or after a keyword, then
//! takes a range of arguments or a counted list (`numkeys key...`). The
//! positions found carry that spec's flags (`RW`, `access`, ...). Specs of
//! an unknown shape find nothing; commands Redis does not describe get
//! flags from their read/write nature.

use super::reference::{self, Node};
use crate::cmd::CommandSpec;
use crate::resp::num::parse_i64;
use crate::resp::Argv;

/// `(position, flags)` for every key the reference's key specs find in
/// `argv` (the command's own arguments, its name at 0).
pub fn flags_by_position(spec: &CommandSpec, argv: Argv) -> Vec<(usize, Vec<String>)> {
    if let Some(flags) = variable_flags(spec.name, argv) {
        return vec![(1, flags.iter().map(|f| f.to_string()).collect())];
    }
    let Some(specs) = reference::lookup(spec.name).and_then(|r| r.key_specs()) else {
        return derived(spec, argv);
    };
    let mut found = Vec::new();
    for key_spec in specs.items() {
        let flags: Vec<String> = key_spec
            .get("flags")
            .map(Node::items)
            .unwrap_or_default()
            .iter()
            .filter_map(|f| f.as_str().map(str::to_string))
            .collect();
        for pos in positions(key_spec, argv) {
            if !found.iter().any(|(p, _)| *p == pos) {
                found.push((pos, flags.clone()));
            }
        }
    }
    found
}

/// Flags of the key specs marked `variable_flags`, which depend on the
/// arguments (Redis's `setGetKeys` and `bitfieldGetKeys`).
fn variable_flags(name: &str, argv: Argv) -> Option<&'static [&'static str]> {
    const READ_WRITE: &[&str] = &["RW", "access", "update"];
    match name {
        "set" => Some(
            if argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get")) {
                READ_WRITE
            } else {
                &["OW", "update"]
            },
        ),
        "bitfield" => {
            let mut i = 2;
            while i < argv.len() {
                let (arg, remaining) = (argv.get(i), argv.len() - i - 1);
                if arg.eq_ignore_ascii_case(b"get") && remaining >= 2 {
                    i += 3;
                } else if arg.eq_ignore_ascii_case(b"overflow") && remaining >= 1 {
                    i += 2;
                } else {
                    // SET, INCRBY, or a syntax error: assume a write.
                    return Some(READ_WRITE);
                }
            }
            Some(&["RO", "access"])
        }
        _ => None,
    }
}

fn derived(spec: &CommandSpec, argv: Argv) -> Vec<(usize, Vec<String>)> {
    let flags: Vec<String> = if spec.is_write() {
        vec!["RW".into(), "update".into()]
    } else if spec.flags.contains(&"readonly") {
        vec!["RO".into(), "access".into()]
    } else {
        Vec::new()
    };
    let mut positions = Vec::new();
    spec.key_positions(argv, &mut positions);
    positions.into_iter().map(|p| (p, flags.clone())).collect()
}

fn int(node: Option<&Node>, key: &str) -> Option<i64> {
    node?.get(key)?.as_int()
}

/// Positions one key spec finds in `argv`.
fn positions(key_spec: &Node, argv: Argv) -> Vec<usize> {
    let argc = argv.len() as i64;
    let Some(begin) = begin_index(key_spec.get("begin_search"), argv) else {
        return Vec::new();
    };
    let find = key_spec.get("find_keys");
    let find_spec = find.and_then(|f| f.get("spec"));
    let (first, last, step) = match find.and_then(|f| f.get("type")).and_then(Node::as_str) {
        Some("range") => {
            let (Some(lastkey), Some(step), Some(limit)) = (
                int(find_spec, "lastkey"),
                int(find_spec, "keystep"),
                int(find_spec, "limit"),
            ) else {
                return Vec::new();
            };
            let last = if lastkey >= 0 {
                begin + lastkey
            } else if limit == 0 {
                argc + lastkey
            } else {
                begin + ((argc - begin) / limit + lastkey)
            };
            (begin, last, step)
        }
        Some("keynum") => {
            let (Some(index), Some(firstkey), Some(step)) = (
                int(find_spec, "keynumidx"),
                int(find_spec, "firstkey"),
                int(find_spec, "keystep"),
            ) else {
                return Vec::new();
            };
            let Some(count_at) = usize::try_from(begin + index)
                .ok()
                .filter(|&i| i < argv.len())
            else {
                return Vec::new();
            };
            let Some(count) = parse_i64(argv.get(count_at)).filter(|&n| n >= 0) else {
                return Vec::new();
            };
            let first = begin + firstkey;
            // As Redis: the count, not the step, sets the last position.
            let last = first.saturating_add(count) - 1;
            (first, last, step)
        }
        _ => return Vec::new(),
    };
    if step <= 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut i = first;
    while i <= last && i < argc {
        if i >= 1 {
            out.push(i as usize);
        }
        i += step;
    }
    out
}

/// Where a key spec's search begins: a fixed index, or the argument after
/// a keyword searched from `startfrom` (backwards when negative).
fn begin_index(begin: Option<&Node>, argv: Argv) -> Option<i64> {
    let begin = begin?;
    let spec = begin.get("spec");
    let argc = argv.len() as i64;
    match begin.get("type")?.as_str()? {
        "index" => int(spec, "index"),
        "keyword" => {
            let keyword = spec?.get("keyword")?.as_str()?;
            let start = int(spec, "startfrom")?;
            let end = if start > 0 { argc - 1 } else { 1 };
            let mut i = if start > 0 { start } else { argc + start };
            let step = if i <= end { 1 } else { -1 };
            // The end is excluded, as in Redis.
            while i != end && (1..argc).contains(&i) {
                if argv
                    .get(i as usize)
                    .eq_ignore_ascii_case(keyword.as_bytes())
                {
                    return Some(i + 1);
                }
                i += step;
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::OwnedArgv;

    fn flags_of(words: &[&str]) -> Vec<(usize, Vec<String>)> {
        let argv = OwnedArgv::from_slices(words.iter().map(|w| w.as_bytes()));
        let spec = crate::cmd::lookup(words[0].as_bytes()).expect("known command");
        flags_by_position(spec, argv.argv())
    }

    #[test]
    fn range_specs() {
        assert_eq!(
            flags_of(&["mset", "a", "1", "b", "2"]),
            vec![
                (1, vec!["OW".to_string(), "update".to_string()]),
                (3, vec!["OW".to_string(), "update".to_string()])
            ]
        );
        assert_eq!(
            flags_of(&["get", "k"]),
            vec![(1, vec!["RO".to_string(), "access".to_string()])]
        );
    }

    #[test]
    fn variable_flags_follow_arguments() {
        let ow = vec!["OW".to_string(), "update".to_string()];
        assert_eq!(flags_of(&["set", "k", "v"]), vec![(1, ow)]);
        let rw: Vec<String> = ["RW", "access", "update"].map(String::from).to_vec();
        assert_eq!(flags_of(&["set", "k", "v", "GET"]), vec![(1, rw)]);
    }

    #[test]
    fn keyword_and_keynum_specs() {
        let keyword = Node::Map(vec![
            (Node::Bulk("type".into()), Node::Bulk("keyword".into())),
            (
                Node::Bulk("spec".into()),
                Node::Map(vec![
                    (Node::Bulk("keyword".into()), Node::Bulk("STREAMS".into())),
                    (Node::Bulk("startfrom".into()), Node::Int(1)),
                ]),
            ),
        ]);
        let argv = OwnedArgv::from_slices(
            ["xread", "count", "2", "streams", "a", "b", "0", "0"].map(str::as_bytes),
        );
        assert_eq!(begin_index(Some(&keyword), argv.argv()), Some(4));
        let keynum = Node::Map(vec![
            (
                Node::Bulk("begin_search".into()),
                Node::Map(vec![
                    (Node::Bulk("type".into()), Node::Bulk("index".into())),
                    (
                        Node::Bulk("spec".into()),
                        Node::Map(vec![(Node::Bulk("index".into()), Node::Int(1))]),
                    ),
                ]),
            ),
            (
                Node::Bulk("find_keys".into()),
                Node::Map(vec![
                    (Node::Bulk("type".into()), Node::Bulk("keynum".into())),
                    (
                        Node::Bulk("spec".into()),
                        Node::Map(vec![
                            (Node::Bulk("keynumidx".into()), Node::Int(0)),
                            (Node::Bulk("firstkey".into()), Node::Int(1)),
                            (Node::Bulk("keystep".into()), Node::Int(1)),
                        ]),
                    ),
                ]),
            ),
        ]);
        let argv = OwnedArgv::from_slices(["zunion", "2", "a", "b", "WEIGHTS"].map(str::as_bytes));
        assert_eq!(positions(&keynum, argv.argv()), vec![2, 3]);
        let bad = OwnedArgv::from_slices(["zunion", "x", "a"].map(str::as_bytes));
        assert!(positions(&keynum, bad.argv()).is_empty());
    }
}
