//! RDB serialization of the collection types, as Redis 7.0's
//! `rdbSaveObject` writes them, so small collections DUMP byte-identically:
//!
//! - hash: listpack encoding → `RDB_TYPE_HASH_LISTPACK` (pairs in insertion
//!   order); hashtable → `RDB_TYPE_HASH` (count, then field and value).
//! - set: intset → `RDB_TYPE_SET_INTSET`; hashtable → `RDB_TYPE_SET`.
//! - sorted set: listpack → `RDB_TYPE_ZSET_LISTPACK` (member, score in
//!   score order); skiplist → `RDB_TYPE_ZSET_2` (highest score first, each
//!   member then its score as a little-endian double).
//! - list: `RDB_TYPE_LIST_QUICKLIST_2`: the elements cut into listpack
//!   nodes the way `RPUSH` fills a quicklist under the default
//!   `list-max-listpack-size` (-2, 8 KB).

use super::listpack::ListpackWriter;
use super::{intset, rdb};
use crate::keyspace::hash::HashValue;
use crate::keyspace::list::ListValue;
use crate::keyspace::set::{Member, SetValue};
use crate::keyspace::zset::ZSetValue;
use crate::resp::num::push_g17;

pub const RDB_TYPE_LIST: u8 = 1;
pub const RDB_TYPE_SET: u8 = 2;
pub const RDB_TYPE_ZSET: u8 = 3;
pub const RDB_TYPE_HASH: u8 = 4;
pub const RDB_TYPE_ZSET_2: u8 = 5;
pub const RDB_TYPE_SET_INTSET: u8 = 11;
pub const RDB_TYPE_HASH_LISTPACK: u8 = 16;
pub const RDB_TYPE_ZSET_LISTPACK: u8 = 17;
pub const RDB_TYPE_LIST_QUICKLIST_2: u8 = 18;
/// Quicklist node containers.
pub const CONTAINER_PLAIN: u64 = 1;
pub const CONTAINER_PACKED: u64 = 2;

/// `optimization_level[1]`: the node size for `list-max-listpack-size -2`.
const LIST_NODE_MAX_BYTES: usize = 8192;
/// Redis's `packed_threshold`: larger elements get a plain node each.
const PLAIN_ELEMENT_MIN_LEN: usize = 1 << 30;

pub fn write_hash(out: &mut Vec<u8>, hash: &HashValue) {
    if hash.is_listpack() {
        out.push(RDB_TYPE_HASH_LISTPACK);
        let mut packed = ListpackWriter::default();
        for (field, value) in hash.iter() {
            packed.push(field);
            packed.push(value);
        }
        rdb::write_bytes(out, &packed.finish());
    } else {
        out.push(RDB_TYPE_HASH);
        rdb::write_length(out, hash.len() as u64);
        for (field, value) in hash.iter() {
            rdb::write_bytes(out, field);
            rdb::write_bytes(out, value);
        }
    }
}

pub fn write_set(out: &mut Vec<u8>, set: &SetValue) {
    if set.encoding() == "intset" {
        out.push(RDB_TYPE_SET_INTSET);
        let members: Vec<i64> = set
            .iter()
            .map(|m| match m {
                Member::Int(n) => n,
                // An intset holds only integers.
                Member::Bytes(_) => unreachable!("intset members are integers"),
            })
            .collect();
        rdb::write_bytes(out, &intset::encode(&members));
    } else {
        out.push(RDB_TYPE_SET);
        rdb::write_length(out, set.len() as u64);
        let mut scratch = Vec::new();
        for member in set.iter() {
            rdb::write_bytes(out, member.as_bytes(&mut scratch));
        }
    }
}

/// `zzlInsertAt`: a score within ±2^62 that is an integer is stored as
/// one (`double2ll`), any other as its `%.17g` text.
fn push_listpack_score(packed: &mut ListpackWriter, score: f64, scratch: &mut Vec<u8>) {
    let limit = (i64::MAX / 2) as f64;
    if (-limit..=limit).contains(&score) && (score as i64) as f64 == score {
        packed.push_int(score as i64);
    } else {
        scratch.clear();
        push_g17(scratch, score);
        packed.push(scratch);
    }
}

pub fn write_zset(out: &mut Vec<u8>, zset: &ZSetValue) {
    if zset.is_compact() {
        out.push(RDB_TYPE_ZSET_LISTPACK);
        let mut packed = ListpackWriter::default();
        let mut scratch = Vec::with_capacity(32);
        for (member, score) in zset.iter() {
            packed.push(member);
            push_listpack_score(&mut packed, score, &mut scratch);
        }
        rdb::write_bytes(out, &packed.finish());
    } else {
        out.push(RDB_TYPE_ZSET_2);
        rdb::write_length(out, zset.len() as u64);
        // Highest first, as Redis walks its skiplist from the tail.
        for (member, score) in zset.iter_from(zset.len().saturating_sub(1), true) {
            rdb::write_bytes(out, member);
            out.extend_from_slice(&score.to_le_bytes());
        }
    }
}

/// Redis's `SIZE_ESTIMATE_OVERHEAD`: what a quicklist assumes an entry
/// adds to a listpack beyond its bytes.
const ENTRY_ESTIMATE_OVERHEAD: usize = 8;

/// `_quicklistNodeAllowInsert`: may `node` take one more element of `len`
/// bytes? (An overestimate, as Redis makes it.)
fn node_allows(node: &ListpackWriter, len: usize) -> bool {
    node.byte_len() + len + ENTRY_ESTIMATE_OVERHEAD <= LIST_NODE_MAX_BYTES
}

fn write_node(out: &mut Vec<u8>, node: ListpackWriter) {
    rdb::write_length(out, CONTAINER_PACKED);
    rdb::write_bytes(out, &node.finish());
}

pub fn write_list(out: &mut Vec<u8>, list: &ListValue) {
    out.push(RDB_TYPE_LIST_QUICKLIST_2);
    let mut body = Vec::new();
    let mut nodes = 0u64;
    let mut node = ListpackWriter::default();
    for element in list.iter() {
        if element.len() >= PLAIN_ELEMENT_MIN_LEN {
            if node.count() > 0 {
                write_node(&mut body, std::mem::take(&mut node));
                nodes += 1;
            }
            rdb::write_length(&mut body, CONTAINER_PLAIN);
            rdb::write_bytes(&mut body, element);
            nodes += 1;
            continue;
        }
        if node.count() > 0 && !node_allows(&node, element.len()) {
            write_node(&mut body, std::mem::take(&mut node));
            nodes += 1;
        }
        node.push(element);
    }
    if node.count() > 0 {
        write_node(&mut body, node);
        nodes += 1;
    }
    rdb::write_length(out, nodes);
    out.extend_from_slice(&body);
}
