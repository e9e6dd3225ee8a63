//! Where SORT's data comes from: the elements of the sorted key (one small
//! function per type), and the values BY and GET patterns name.
//!
//! Each collection type hands its elements over as a `Vec`, in its native
//! order; the sort itself never looks inside a type. Lists are complete;
//! sets, sorted sets and hashes are written in other modules and expose no
//! accessor here yet, so [`set_members`], [`zset_members`] and
//! [`hash_field`] answer "nothing" (an empty collection, a missing field)
//! until they do: SORT of a set or sorted set replies an empty result
//! rather than WRONGTYPE, and `key->field` patterns read as missing.

use std::borrow::Cow;

use super::order::c_str;
use crate::cmd::read_entry;
use crate::keyspace::hash::HashValue;
use crate::keyspace::list::ListValue;
use crate::keyspace::set::SetValue;
use crate::keyspace::zset::ZSetValue;
use crate::keyspace::{Db, RString, Value};
use crate::shard::ShardStats;

/// The members of a set, in its iteration order.
fn set_members(set: &SetValue) -> Vec<Vec<u8>> {
    set.iter().map(|member| member.to_vec()).collect()
}

/// The members of a sorted set, lowest score first.
fn zset_members(zset: &ZSetValue) -> Vec<Vec<u8>> {
    zset.iter().map(|(member, _)| member.to_vec()).collect()
}

/// The value of `field` in a hash.
fn hash_field<'h>(hash: &'h HashValue, field: &[u8]) -> Option<Cow<'h, [u8]>> {
    hash.get(field).map(Cow::Borrowed)
}

/// The sorted key's collection, as SORT distinguishes them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Lists and sorted sets keep their own order when nothing is sorted
    /// (`BY nosort`); an absent key sorts as an empty list.
    List,
    Set,
    ZSet,
}

/// The elements to sort and their kind.
pub(super) struct Elements {
    pub kind: Kind,
    pub items: Vec<Vec<u8>>,
}

/// Reads what SORT sorts; Err when the value is of another type.
pub(super) fn elements_of(value: Option<&Value>) -> Result<Elements, ()> {
    let (kind, items) = match value {
        None => (Kind::List, Vec::new()),
        Some(Value::List(list)) => (Kind::List, list_elements(list)),
        Some(Value::Set(set)) => (Kind::Set, set_members(set)),
        Some(Value::ZSet(zset)) => (Kind::ZSet, zset_members(zset)),
        Some(_) => return Err(()),
    };
    Ok(Elements { kind, items })
}

fn list_elements(list: &ListValue) -> Vec<Vec<u8>> {
    list.iter().map(<[u8]>::to_vec).collect()
}

/// Redis's `lookupKeyByPattern`: the value `pattern` names for element
/// `subst`. `#` is the element itself; otherwise the first `*` is replaced
/// by the element and the result names a string key, or, when followed by
/// `->field`, a field of a hash key. Patterns without `*` name nothing.
/// The key is read like `lookupKeyRead` (hits, misses, lazy expiry).
pub(super) fn lookup_by_pattern<'d>(
    db: &'d mut Db,
    stats: &mut ShardStats,
    now_ms: u64,
    clock: u32,
    pattern: &[u8],
    subst: &'d [u8],
) -> Option<Cow<'d, [u8]>> {
    // Redis reads the pattern as a C string for these tests, and with its
    // full length when cutting it.
    let text = c_str(pattern);
    if text == b"#" {
        return Some(Cow::Borrowed(subst));
    }
    let star = text.iter().position(|&b| b == b'*')?;
    let arrow = text[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|at| star + 1 + at)
        .filter(|&at| at + 2 < text.len());
    let (postfix_end, field) = match arrow {
        Some(at) => (at, Some(&pattern[at + 2..])),
        None => (pattern.len(), None),
    };
    let mut key = Vec::with_capacity(pattern.len() + subst.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(subst);
    key.extend_from_slice(&pattern[star + 1..postfix_end]);

    let entry = read_entry(db, stats, &key, now_ms, clock);
    match (&entry?.value, field) {
        (Value::Hash(hash), Some(field)) => hash_field(hash, field),
        (Value::Str(RString::Bytes { data, .. }), None) => Some(Cow::Borrowed(data)),
        (Value::Str(number @ RString::Int(_)), None) => Some(Cow::Owned(number.to_vec())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(db: &mut Db, pattern: &str, subst: &str) -> Option<Vec<u8>> {
        let mut stats = ShardStats::default();
        let subst = subst.as_bytes().to_vec();
        lookup_by_pattern(db, &mut stats, 0, 0, pattern.as_bytes(), &subst).map(|v| v.into_owned())
    }

    #[test]
    fn patterns_name_keys_as_redis_builds_them() {
        let mut db = Db::default();
        for (key, value) in [
            ("w_a", "1"),
            ("a_suffix", "2"),
            ("x->", "3"),
            ("pre-a-post", "4"),
        ] {
            db.set(
                key.as_bytes(),
                Value::Str(RString::from_client(value.as_bytes())),
                false,
                0,
            );
        }
        assert_eq!(lookup(&mut db, "#", "a"), Some(b"a".to_vec()));
        assert_eq!(lookup(&mut db, "w_*", "a"), Some(b"1".to_vec()));
        assert_eq!(lookup(&mut db, "*_suffix", "a"), Some(b"2".to_vec()));
        assert_eq!(lookup(&mut db, "pre-*-post", "a"), Some(b"4".to_vec()));
        assert_eq!(lookup(&mut db, "nostar", "a"), None);
        // An arrow with an empty field is part of the key name.
        assert_eq!(lookup(&mut db, "*->", "x"), Some(b"3".to_vec()));
        // A field names a hash; a string key there reads as missing.
        assert_eq!(lookup(&mut db, "w_*->f", "a"), None);
        assert_eq!(lookup(&mut db, "w_*", "missing"), None);
    }
}
