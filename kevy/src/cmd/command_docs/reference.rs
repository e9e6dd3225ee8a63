//! Redis 7.0.15's own description of its commands — key specs, command
//! tips, documentation (complexity, history, arguments) and the arity,
//! flags and ACL categories of subcommands — read from a data file taken
//! from `redis-server`'s `COMMAND INFO` and `COMMAND DOCS` replies (see
//! `regenerate_redis_command_reference` in `tests/server_commands.rs`).
//!
//! kevy's own command table says what kevy does (arity, flags, keys);
//! this reference adds what only describes the command and is the same in
//! both, so `COMMAND INFO` and `COMMAND DOCS` can answer as Redis does.
//!
//! The file holds one command per line: its name, then its `COMMAND INFO`
//! entry without the subcommands element, then its `COMMAND DOCS` map
//! without subcommands, each a [`Node`] in a small text syntax: `[..]`
//! array, `<..>` set, `{k v ..}` map, `"..."` bulk string (escapes `\"`
//! `\\` `\n` `\r` `\t` `\xHH`), `+word` status string, `:n` integer, `_`
//! null, separated by single spaces.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::resp::ReplyBuf;

static DATA: &str = include_str!("redis-7.0.15-commands.txt");

/// A reply value as Redis sent it (RESP3 types, so maps and sets survive).
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Array(Vec<Node>),
    Set(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Bulk(String),
    Simple(String),
    Int(i64),
    Null,
}

impl Node {
    /// Writes the value in the connection's protocol.
    pub fn emit(&self, reply: &mut ReplyBuf) {
        match self {
            Node::Array(items) => {
                reply.array(items.len());
                items.iter().for_each(|item| item.emit(reply));
            }
            Node::Set(items) => {
                reply.set(items.len());
                items.iter().for_each(|item| item.emit(reply));
            }
            Node::Map(pairs) => {
                reply.map(pairs.len());
                for (key, value) in pairs {
                    key.emit(reply);
                    value.emit(reply);
                }
            }
            Node::Bulk(text) => reply.bulk(text.as_bytes()),
            Node::Simple(text) => reply.simple(text),
            Node::Int(n) => reply.int(*n),
            Node::Null => reply.null(),
        }
    }

    /// The value of `key` in a map.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Bulk(text) | Node::Simple(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Node::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// Elements of an array or set.
    pub fn items(&self) -> &[Node] {
        match self {
            Node::Array(items) | Node::Set(items) => items,
            _ => &[],
        }
    }
}

/// What Redis says about one command or subcommand (`config|get`).
pub struct Reference {
    /// `COMMAND INFO` entry: name, arity, flags, first, last, step, ACL
    /// categories, tips, key specs (no subcommands element).
    pub info: Node,
    /// `COMMAND DOCS` map (no `subcommands` entry).
    pub docs: Node,
}

impl Reference {
    #[cfg(test)]
    pub fn arity(&self) -> Option<i64> {
        self.info.items().get(1)?.as_int()
    }

    pub fn tips(&self) -> Option<&Node> {
        self.info.items().get(7)
    }

    pub fn key_specs(&self) -> Option<&Node> {
        self.info.items().get(8)
    }

    /// ACL categories without their `@`.
    pub fn acl_categories(&self) -> impl Iterator<Item = &str> {
        self.info
            .items()
            .get(6)
            .map(Node::items)
            .unwrap_or_default()
            .iter()
            .filter_map(|n| n.as_str()?.strip_prefix('@'))
    }
}

/// Redis's reference for `name` (lower case, `parent|sub` for subcommands).
pub fn lookup(name: &str) -> Option<&'static Reference> {
    table().get(name)
}

fn table() -> &'static HashMap<&'static str, Reference> {
    static TABLE: OnceLock<HashMap<&'static str, Reference>> = OnceLock::new();
    TABLE.get_or_init(|| {
        DATA.lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| match parse_line(line) {
                Some(entry) => Some(entry),
                None => {
                    log::warn!("skipping a malformed line of the command reference");
                    None
                }
            })
            .collect()
    })
}

fn parse_line(line: &'static str) -> Option<(&'static str, Reference)> {
    let (name, rest) = line.split_once(' ')?;
    let mut parser = Parser {
        text: rest.as_bytes(),
        pos: 0,
    };
    let info = parser.node(0)?;
    parser.space()?;
    let docs = parser.node(0)?;
    (parser.pos == parser.text.len()).then_some((name, Reference { info, docs }))
}

/// Nesting deeper than this is malformed (Redis's docs nest about 6 deep).
const MAX_DEPTH: usize = 32;

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn space(&mut self) -> Option<()> {
        (self.peek()? == b' ').then(|| self.pos += 1)
    }

    fn node(&mut self, depth: usize) -> Option<Node> {
        if depth > MAX_DEPTH {
            return None;
        }
        let first = self.peek()?;
        self.pos += 1;
        match first {
            b'[' => Some(Node::Array(self.items(b']', depth)?)),
            b'<' => Some(Node::Set(self.items(b'>', depth)?)),
            b'{' => {
                let flat = self.items(b'}', depth)?;
                if flat.len() % 2 != 0 {
                    return None;
                }
                let mut pairs = Vec::with_capacity(flat.len() / 2);
                let mut flat = flat.into_iter();
                while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                    pairs.push((k, v));
                }
                Some(Node::Map(pairs))
            }
            b'"' => self.quoted().map(Node::Bulk),
            b'+' => Some(Node::Simple(self.word().to_string())),
            b':' => self.word().parse().ok().map(Node::Int),
            b'_' => Some(Node::Null),
            _ => None,
        }
    }

    /// Nodes up to `close`, separated by spaces.
    fn items(&mut self, close: u8, depth: usize) -> Option<Vec<Node>> {
        let mut items = Vec::new();
        if self.peek()? == close {
            self.pos += 1;
            return Some(items);
        }
        loop {
            items.push(self.node(depth + 1)?);
            match self.peek()? {
                b' ' => self.pos += 1,
                c if c == close => {
                    self.pos += 1;
                    return Some(items);
                }
                _ => return None,
            }
        }
    }

    /// Text up to a space or a closing bracket.
    fn word(&mut self) -> &str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if matches!(c, b' ' | b']' | b'>' | b'}') {
                break;
            }
            self.pos += 1;
        }
        std::str::from_utf8(&self.text[start..self.pos]).unwrap_or("")
    }

    fn quoted(&mut self) -> Option<String> {
        let mut out = Vec::new();
        loop {
            let c = self.peek()?;
            self.pos += 1;
            match c {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let escaped = self.peek()?;
                    self.pos += 1;
                    match escaped {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'x' => {
                            let hex = self.text.get(self.pos..self.pos + 2)?;
                            let hex = std::str::from_utf8(hex).ok()?;
                            out.push(u8::from_str_radix(hex, 16).ok()?);
                            self.pos += 2;
                        }
                        other => out.push(other),
                    }
                }
                other => out.push(other),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_parses() {
        let lines = DATA
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .count();
        assert!(lines > 300, "the reference lists Redis's commands");
        assert_eq!(table().len(), lines, "a line of the reference is malformed");
    }

    #[test]
    fn get_is_described() {
        let get = lookup("get").expect("GET is in the reference");
        assert_eq!(get.arity(), Some(2));
        assert_eq!(
            get.docs.get("summary").and_then(Node::as_str),
            Some("Get the value of a key")
        );
        assert_eq!(get.key_specs().map(|s| s.items().len()), Some(1));
        let sub = lookup("config|get").expect("subcommands are listed");
        assert_eq!(sub.arity(), Some(-3));
        assert!(sub.acl_categories().any(|c| c == "admin"));
    }

    #[test]
    fn syntax() {
        let (name, parsed) =
            parse_line(r#"x [:1 +ok <"a\"b\x41"> {"k" _}] {}"#).expect("valid line");
        assert_eq!(name, "x");
        assert_eq!(
            parsed.info,
            Node::Array(vec![
                Node::Int(1),
                Node::Simple("ok".into()),
                Node::Set(vec![Node::Bulk("a\"bA".into())]),
                Node::Map(vec![(Node::Bulk("k".into()), Node::Null)]),
            ])
        );
        assert!(parse_line("x [:1").is_none());
        assert!(parse_line("x [] {} extra").is_none());
    }
}
