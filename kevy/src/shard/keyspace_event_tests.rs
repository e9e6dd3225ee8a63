//! The event rules on a bare keyspace: a command runs through its real
//! handler between [`observe`] and [`events_after`], and the events come
//! out in Redis's order (checked against redis-server end to end in
//! `tests/keyspace_events.rs`).

use super::{events_after, observe, KeyEvent};
use crate::cmd::effects::Effects;
use crate::cmd::{lookup, ExecCtx, Handler};
use crate::config::Config;
use crate::keyspace::Keyspace;
use crate::random::SplitMix64;
use crate::resp::{OwnedArgv, ReplyBuf};
use crate::shard::ShardStats;

const NOW: u64 = 1_700_000_000_000;

/// Runs `line` (arguments split on spaces) in database 0; its events.
fn run(keyspace: &mut Keyspace, line: &str) -> Vec<KeyEvent> {
    let owned = OwnedArgv::from_slices(line.split(' ').map(str::as_bytes));
    let argv = owned.argv();
    let spec = lookup(argv.get(0)).expect("tests run known commands");
    let Handler::Key(handler) = spec.handler else {
        panic!("tests run keyspace commands");
    };
    let observed = observe(keyspace, 0, spec, argv, NOW);
    let (mut out, mut rng, mut stats) = (Vec::new(), SplitMix64::new(1), ShardStats::default());
    let (config, mut effects) = (Config::default(), Effects::new(false));
    let mut ctx = ExecCtx {
        keyspace,
        db_index: 0,
        reply: ReplyBuf::new(&mut out, false),
        now_ms: NOW,
        clock: 0,
        rng: &mut rng,
        stats: &mut stats,
        config: &config,
        effects: &mut effects,
    };
    handler(&mut ctx, argv);
    observed.map_or_else(Vec::new, |o| {
        events_after(&o, keyspace, spec, argv, &out, NOW)
    })
}

/// `event key` (with `@db` outside database 0) for each event.
fn names(events: &[KeyEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let key = String::from_utf8_lossy(&e.key);
            match e.db {
                0 => format!("{} {key}", e.event),
                db => format!("{} {key}@{db}", e.event),
            }
        })
        .collect()
}

fn events_of(keyspace: &mut Keyspace, line: &str) -> Vec<String> {
    names(&run(keyspace, line))
}

#[test]
fn a_list_move_pushes_then_pops_then_deletes_the_source() {
    let mut ks = Keyspace::new(16);
    run(&mut ks, "RPUSH s a");
    assert_eq!(
        events_of(&mut ks, "LMOVE s d LEFT RIGHT"),
        ["new d", "rpush d", "lpop s", "del s"]
    );
    assert_eq!(
        events_of(&mut ks, "LMOVE nosuch d LEFT RIGHT"),
        Vec::<String>::new()
    );
    assert_eq!(events_of(&mut ks, "RPOPLPUSH d d"), ["lpush d", "rpop d"]);
}

#[test]
fn a_set_move_adds_only_a_new_member() {
    let mut ks = Keyspace::new(16);
    run(&mut ks, "SADD s a b");
    run(&mut ks, "SADD t a");
    assert_eq!(events_of(&mut ks, "SMOVE s t a"), ["srem s"]);
    assert_eq!(
        events_of(&mut ks, "SMOVE s u b"),
        ["srem s", "del s", "new u", "sadd u"]
    );
    assert_eq!(events_of(&mut ks, "SMOVE u u b"), Vec::<String>::new());
}

#[test]
fn stores_raise_their_event_or_delete_the_destination() {
    let mut ks = Keyspace::new(16);
    run(&mut ks, "SADD a x");
    assert_eq!(
        events_of(&mut ks, "SINTERSTORE d a"),
        ["new d", "sinterstore d"]
    );
    assert_eq!(events_of(&mut ks, "SINTERSTORE d a"), ["sinterstore d"]);
    assert_eq!(events_of(&mut ks, "SINTERSTORE d a nosuch"), ["del d"]);
    assert_eq!(
        events_of(&mut ks, "SINTERSTORE d a nosuch"),
        Vec::<String>::new()
    );
    run(&mut ks, "RPUSH l 2 1");
    assert_eq!(
        events_of(&mut ks, "SORT l STORE s"),
        ["new s", "sortstore s"]
    );
    assert_eq!(events_of(&mut ks, "SORT l"), Vec::<String>::new());
}

#[test]
fn renames_copies_and_moves_always_add_the_destination() {
    let mut ks = Keyspace::new(16);
    run(&mut ks, "SET a 1");
    run(&mut ks, "SET b 2");
    assert_eq!(
        events_of(&mut ks, "RENAME a b"),
        ["new b", "rename_from a", "rename_to b"]
    );
    assert_eq!(events_of(&mut ks, "RENAME b b"), Vec::<String>::new());
    assert_eq!(
        events_of(&mut ks, "COPY b c DB 3"),
        ["new c@3", "copy_to c@3"]
    );
    assert_eq!(
        events_of(&mut ks, "MOVE b 2"),
        ["new b@2", "move_from b", "move_to b@2"]
    );
    assert_eq!(events_of(&mut ks, "MOVE b 2"), Vec::<String>::new());
}

#[test]
fn a_key_named_twice_raises_new_and_del_once() {
    let mut ks = Keyspace::new(16);
    assert_eq!(
        events_of(&mut ks, "MSET a 1 a 2"),
        ["new a", "set a", "set a"]
    );
    assert_eq!(events_of(&mut ks, "DEL a a nosuch"), ["del a"]);
}

#[test]
fn set_with_get_raises_set_only_when_its_condition_held() {
    let mut ks = Keyspace::new(16);
    assert_eq!(events_of(&mut ks, "SET k v NX GET"), ["new k", "set k"]);
    assert_eq!(events_of(&mut ks, "SET k w NX GET"), Vec::<String>::new());
    assert_eq!(
        events_of(&mut ks, "SET k w XX GET EX 10"),
        ["set k", "expire k"]
    );
    assert_eq!(events_of(&mut ks, "SET k w KEEPTTL"), ["set k"]);
}

#[test]
fn guessed_events_do_not_count_as_modifications() {
    let mut ks = Keyspace::new(16);
    run(&mut ks, "ZADD z 1 m");
    let events = run(&mut ks, "ZADD z 1 m");
    assert_eq!(names(&events), ["zadd z"]);
    assert!(!events[0].touches_key());
    let events = run(&mut ks, "HSET h f v");
    assert!(events.iter().all(KeyEvent::touches_key));
}
