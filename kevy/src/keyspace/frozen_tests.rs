//! Frozen views of a database ([`Db::freeze`]) against later writes: the
//! view keeps every value of every type as it was, the live side sees its
//! writes, writes copy only the slot pages and list chunks they touch, and
//! once the view is dropped nothing is shared any more (the copies it held
//! alone are freed).
//!
//! Contents are compared through their `Debug` text taken before the
//! writes, which does not depend on the sharing being tested.

use super::hash::{HashLimits, HashValue};
use super::list::{ChunkLimit, ListValue};
use super::set::{SetLimits, SetValue};
use super::slots::PAGE_SLOTS;
use super::stream::{ConsumerGroup, IdRequest, NodeLimits, StreamId, StreamValue};
use super::zset::{Limits, ZSetValue};
use super::{Db, Entry, FrozenDb, RString, Value};

const NOW: u64 = 1_000_000;
const FILLERS: usize = 1000;

fn string(data: &[u8]) -> Value {
    Value::Str(RString::from_client(data))
}

fn hash(fields: usize, value_len: usize) -> Value {
    let mut hash = HashValue::default();
    for i in 0..fields {
        let value = format!("{i:0value_len$}");
        hash.set(
            format!("f{i}").as_bytes(),
            value.as_bytes(),
            HashLimits::default(),
        );
    }
    Value::Hash(hash)
}

fn set(members: impl Iterator<Item = String>) -> Value {
    let mut set = SetValue::default();
    for member in members {
        set.add(member.as_bytes(), SetLimits::default());
    }
    Value::Set(set)
}

fn zset(members: usize) -> Value {
    let mut zset = ZSetValue::new();
    for i in 0..members {
        zset.insert(format!("m{i}").as_bytes(), i as f64, Limits::default());
    }
    Value::ZSet(zset)
}

fn list(elements: usize) -> Value {
    let items: Vec<String> = (0..elements).map(|i| format!("element-{i}")).collect();
    let list = ListValue::from_elements(ChunkLimit::default(), items.iter().map(|s| s.as_bytes()));
    Value::List(Box::new(list))
}

fn stream(entries: u64) -> Value {
    let mut stream = StreamValue::default();
    for i in 1..=entries {
        let value = i.to_string();
        let pairs: [&[u8]; 2] = [b"field", value.as_bytes()];
        stream
            .entries
            .add(
                IdRequest::Exact(StreamId::new(i, 0)),
                &pairs,
                NOW,
                NodeLimits::default(),
            )
            .expect("ascending IDs");
    }
    let mut group = ConsumerGroup::new(StreamId::new(10, 0), 10);
    group.create_consumer(b"alice", 5);
    for i in 1..=10 {
        group.assign(StreamId::new(i, 0), b"alice", (5, 1));
    }
    stream.groups.insert(b"readers"[..].into(), group);
    Value::Stream(Box::new(stream))
}

/// One key of every type and encoding, then fillers across several pages.
fn filled() -> (Db, usize) {
    let mut db = Db::default();
    let typed: Vec<(&str, Value)> = vec![
        ("str:short", string(b"short")),
        ("str:int", string(b"12345")),
        ("str:long", string(&[b'x'; 2000])),
        ("str:raw", Value::Str(RString::raw(b"raw".to_vec()))),
        ("hash:small", hash(3, 4)),
        ("hash:packed", hash(20, 50)),
        ("hash:table", hash(1000, 8)),
        ("set:ints", set((0..100).map(|i| i.to_string()))),
        ("set:table", set((0..1000).map(|i| format!("m{i}")))),
        ("zset:small", zset(5)),
        ("zset:large", zset(500)),
        ("list:small", list(3)),
        ("list:big", list(20_000)),
        ("stream", stream(500)),
    ];
    let typed_keys = typed.len();
    for (key, value) in typed {
        db.insert_new(key.into(), value, None, 0);
    }
    for i in 0..FILLERS {
        let expire = (i % 10 == 0).then_some(NOW + 60_000);
        db.insert_new(
            format!("filler:{i}").as_bytes().into(),
            string(b"v"),
            expire,
            0,
        );
    }
    (db, typed_keys)
}

fn render<'a>(entries: impl Iterator<Item = &'a Entry>) -> Vec<String> {
    entries
        .map(|e| format!("{:?} {:?} {:?}", e.key, e.value, e.expire_at()))
        .collect()
}

fn render_live(db: &Db) -> Vec<String> {
    render(db.iter_live(NOW))
}

fn render_frozen(view: &FrozenDb) -> Vec<String> {
    render(view.iter_live(NOW))
}

fn value<'a>(db: &'a mut Db, key: &str) -> &'a mut Value {
    &mut db.get(key.as_bytes(), NOW).expect("the key exists").value
}

/// A write to every key of `filled` that is not a filler, of each type.
fn write_every_type(db: &mut Db) {
    db.set(b"str:short", string(b"changed"), false, 0);
    if let Value::Str(RString::Int(n)) = value(db, "str:int") {
        *n += 1;
    }
    for key in ["str:long", "str:raw"] {
        if let Value::Str(s) = value(db, key) {
            s.make_raw().extend_from_slice(b"-appended");
        }
    }
    for key in ["hash:small", "hash:packed", "hash:table"] {
        if let Value::Hash(h) = value(db, key) {
            h.set(b"f1", b"new", HashLimits::default());
        }
    }
    if let Value::Set(s) = value(db, "set:ints") {
        s.add(b"100000", SetLimits::default());
    }
    if let Value::Set(s) = value(db, "set:table") {
        assert!(s.remove(b"m7"));
    }
    if let Value::ZSet(z) = value(db, "zset:small") {
        z.insert(b"new", 0.5, Limits::default());
    }
    if let Value::ZSet(z) = value(db, "zset:large") {
        assert!(z.remove(b"m7").is_some());
    }
    if let Value::List(l) = value(db, "list:small") {
        l.push_back(b"new");
    }
    if let Value::List(l) = value(db, "list:big") {
        assert!(l.set(10_000, b"in the middle"));
    }
    if let Value::Stream(s) = value(db, "stream") {
        let pairs: [&[u8]; 2] = [b"field", b"new"];
        s.entries
            .add(IdRequest::Auto, &pairs, NOW, NodeLimits::default())
            .expect("after the last ID");
        assert!(s.entries.delete(StreamId::new(3, 0)));
        let group = s.groups.get_mut(&b"readers"[..]).expect("created");
        assert!(group.remove_pending(StreamId::new(2, 0)));
    }
}

#[test]
fn a_frozen_view_keeps_every_type_while_the_live_side_is_written() {
    let (mut db, typed_keys) = filled();
    let before = render_live(&db);
    let view = db.freeze();
    assert_eq!(view.len(), typed_keys + FILLERS);
    let (shared, pages) = db.page_sharing();
    assert_eq!(shared, pages, "freezing shares every page");

    write_every_type(&mut db);
    let page_of_filler = |i: usize| (typed_keys + i) / PAGE_SLOTS;
    assert!(db.delete(b"filler:500", NOW));
    db.insert_new(b"added"[..].into(), string(b"new"), None, 0);
    assert!(db.set_expire(b"filler:900", Some(NOW + 1), NOW));

    let after = render_live(&db);
    assert_eq!(render_frozen(&view), before, "the view is unchanged");
    assert_ne!(after, before);
    assert_eq!(after.len(), before.len(), "one key deleted, one added");
    for (old, new) in before.iter().zip(&after).take(typed_keys) {
        assert_ne!(old, new, "every typed key was written");
    }

    // Pages no write touched are still shared: the typed keys' page, the
    // deleted filler's (reused by the added key) and the expiring one's
    // were copied.
    let touched = [0, page_of_filler(500), page_of_filler(900)];
    let distinct = touched
        .iter()
        .enumerate()
        .filter(|(i, p)| !touched[..*i].contains(p))
        .count();
    assert_eq!(db.page_sharing(), (pages - distinct, pages));

    // A write in the middle of a long list copied one chunk, not the list.
    let Value::List(big) = value(&mut db, "list:big") else {
        panic!("a list")
    };
    let (held, chunks) = big.chunk_sharing();
    assert!(chunks > 10, "the list spans chunks ({chunks})");
    assert_eq!(held, chunks - 1, "only the written chunk was copied");

    drop(view);
    assert_eq!(
        db.page_sharing(),
        (0, pages),
        "nothing shared after the drop"
    );
    let Value::List(big) = value(&mut db, "list:big") else {
        panic!("a list")
    };
    assert_eq!(big.chunk_sharing().0, 0);
    assert_eq!(render_live(&db), after, "the live side is unaffected");
}

#[test]
fn a_view_outlives_the_keys_it_froze() {
    let (mut db, typed_keys) = filled();
    let before = render_live(&db);
    let view = db.freeze();
    db.clear();
    for i in 0..FILLERS {
        db.set(format!("filler:{i}").as_bytes(), string(b"other"), false, 0);
    }
    let frozen = std::thread::spawn(move || render_frozen(&view))
        .join()
        .expect("the view is read on another thread");
    assert_eq!(frozen, before);
    assert_eq!(db.len(), FILLERS);
    assert_eq!(before.len(), typed_keys + FILLERS);
}

#[test]
fn reads_through_get_read_copy_no_page() {
    let (mut db, _) = filled();
    let view = db.freeze();
    let pages = db.page_sharing().1;
    for i in 0..FILLERS {
        let entry = db.get_read(format!("filler:{i}").as_bytes(), NOW, 7);
        assert!(entry.is_some_and(|e| e.last_access == 0), "not touched");
    }
    assert_eq!(db.page_sharing(), (pages, pages), "no page copied");
    drop(view);
    let entry = db.get_read(b"filler:1", NOW, 7).expect("present");
    assert_eq!(entry.last_access, 7, "touched once nothing is shared");
    assert!(
        db.get_read(b"filler:0", NOW + 60_000, 8).is_none(),
        "expired"
    );
    assert!(!db.contains(b"filler:0", 0), "and deleted");
}

#[test]
fn keys_expired_at_the_freeze_are_not_in_the_view() {
    let mut db = Db::default();
    db.insert_new(b"gone"[..].into(), string(b"v"), Some(NOW - 1), 0);
    db.insert_new(b"kept"[..].into(), string(b"v"), Some(NOW + 1), 0);
    let view = db.freeze();
    let keys: Vec<_> = view.iter_live(NOW).map(|e| e.key.clone()).collect();
    assert_eq!(keys, [b"kept"[..].into()]);
}
