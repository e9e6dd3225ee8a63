//! Applying replicated writes on a replica shard, and splitting a record
//! into its commands.
//!
//! Data flow: the shard drains its [`ApplyItem`]s once per loop iteration
//! and applies each to its own keyspace here: a record's commands are
//! replayed with `shard::propagate::apply_commands` (as the append-only
//! log is); a full sync replaces the keys of one upstream stream's slots
//! with the staged ones; `FLUSHDB`/`FLUSHALL`/`SWAPDB` of a stream touch
//! only that stream's slots. What changed is also handed back as commands
//! for this server's own replicas (a chain), see [`Applied`].

use crate::cmd;
use crate::cmd::effects::push_command;
use crate::keyspace::{Keyspace, Value};
use crate::resp::{parse, Argv, Frame, ParseLimits};
use crate::slot::{slot_of, SLOTS};

/// The stream (upstream shard, of `streams`) that owns `key`'s slot.
pub fn stream_of(key: &[u8], streams: usize) -> usize {
    usize::from(slot_of(key)) * streams / SLOTS
}

/// One command of a record: its bytes within the record and its name.
pub struct CommandBytes<'a> {
    pub bytes: &'a [u8],
    pub argv: Vec<Vec<u8>>,
}

/// Splits a record's RESP into commands; None when it is not valid RESP
/// (a corrupt record: the link is dropped, nothing is applied).
pub fn split_commands(record: &[u8]) -> Option<Vec<CommandBytes<'_>>> {
    let limits = ParseLimits {
        max_bulk_len: u64::MAX,
        unauthenticated: false,
    };
    let mut args = Vec::new();
    let mut scratch = Vec::new();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < record.len() {
        let rest = &record[pos..];
        match parse(rest, &limits, &mut args, &mut scratch).ok()? {
            Frame::Multibulk { consumed } => {
                let argv = Argv::new(rest, &args);
                out.push(CommandBytes {
                    bytes: &rest[..consumed],
                    argv: argv.iter().map(<[u8]>::to_vec).collect(),
                });
                pos += consumed;
            }
            Frame::Inline { .. } | Frame::Incomplete { .. } => return None,
        }
    }
    Some(out)
}

/// The key positions of a command (by the command table).
pub fn command_keys(argv: &[Vec<u8>]) -> Option<Vec<usize>> {
    let name = argv.first()?;
    let spec = cmd::lookup(name)?;
    let ranges: Vec<(u32, u32)> = encode_ranges(argv);
    let flat: Vec<u8> = argv.concat();
    let view = Argv::new(&flat, &ranges);
    let mut positions = Vec::new();
    spec.key_positions(view, &mut positions);
    Some(positions)
}

fn encode_ranges(argv: &[Vec<u8>]) -> Vec<(u32, u32)> {
    let mut start = 0u32;
    argv.iter()
        .map(|arg| {
            let end = start + arg.len() as u32;
            let range = (start, end);
            start = end;
            range
        })
        .collect()
}

/// Keys of database `db` whose slot belongs to `stream` of `streams`.
fn stream_keys(keyspace: &Keyspace, db: usize, stream: usize, streams: usize) -> Vec<Vec<u8>> {
    keyspace.dbs.get(db).map_or_else(Vec::new, |db| {
        // Time 0: every key, expired or not, is listed.
        db.iter_live(0)
            .map(|entry| entry.key.as_bytes().to_vec())
            .filter(|key| stream_of(key, streams) == stream)
            .collect()
    })
}

/// Removes the keys of `stream`'s slots in `dbs`; returns them by db.
pub fn flush_slots(
    keyspace: &mut Keyspace,
    stream: usize,
    streams: usize,
    dbs: impl Iterator<Item = usize>,
) -> Vec<(usize, Vec<Vec<u8>>)> {
    let mut removed = Vec::new();
    for db in dbs {
        let keys = stream_keys(keyspace, db, stream, streams);
        if keys.is_empty() {
            continue;
        }
        let target = keyspace.db(db);
        for key in &keys {
            target.remove(key);
        }
        removed.push((db, keys));
    }
    removed
}

/// Swaps the keys of `stream`'s slots between databases `a` and `b`;
/// returns, per database, the commands that redo the result (for this
/// server's own replicas: `DEL` of what left, the value of what came).
pub fn swap_slots(
    keyspace: &mut Keyspace,
    stream: usize,
    streams: usize,
    a: usize,
    b: usize,
) -> Vec<(usize, Vec<u8>)> {
    if a == b || a >= keyspace.dbs.len() || b >= keyspace.dbs.len() {
        return Vec::new();
    }
    let take = |keyspace: &mut Keyspace, db: usize| {
        let keys = stream_keys(keyspace, db, stream, streams);
        let source = keyspace.db(db);
        keys.iter()
            .filter_map(|key| source.remove(key))
            .collect::<Vec<_>>()
    };
    let from_a = take(keyspace, a);
    let from_b = take(keyspace, b);
    let mut redo = Vec::new();
    for (db, gone, entries) in [(b, &from_b, &from_a), (a, &from_a, &from_b)] {
        let mut commands = Vec::new();
        for entry in gone.iter() {
            if !entries
                .iter()
                .any(|e| e.key.as_bytes() == entry.key.as_bytes())
            {
                push_command(&mut commands, &[b"DEL", entry.key.as_bytes()]);
            }
        }
        for entry in entries.iter() {
            push_value(
                &mut commands,
                entry.key.as_bytes(),
                &entry.value,
                entry.expire_at(),
            );
        }
        redo.push((db, commands));
    }
    for (db, entries) in [(b, from_a), (a, from_b)] {
        let target = keyspace.db(db);
        for entry in entries {
            let expire_at = entry.expire_at();
            target.insert_new(entry.key, entry.value, expire_at, entry.last_access);
        }
    }
    redo
}

/// The command that leaves `key` holding `value` (with its expiry).
fn push_value(out: &mut Vec<u8>, key: &[u8], value: &Value, expire_at: Option<u64>) {
    crate::shard::propagate::push_value_command(out, key, Some((value, expire_at)));
}

/// Moves every key of `staged` into `keyspace` (which holds none of them).
pub fn take_staged(keyspace: &mut Keyspace, staged: &mut Keyspace, clock: u32) -> u64 {
    let mut moved = 0;
    for (index, db) in staged.dbs.iter_mut().enumerate() {
        if index >= keyspace.dbs.len() {
            break;
        }
        let keys: Vec<Vec<u8>> = db.iter_live(0).map(|e| e.key.as_bytes().to_vec()).collect();
        let target = keyspace.db(index);
        for key in keys {
            if let Some(entry) = db.remove(&key) {
                let expire_at = entry.expire_at();
                target.remove(&key);
                target.insert_new(entry.key, entry.value, expire_at, clock);
                moved += 1;
            }
        }
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::RString;

    fn keyspace_with(keys: &[&str]) -> Keyspace {
        let mut keyspace = Keyspace::new(4);
        for key in keys {
            let value = Value::Str(RString::from_client(key.as_bytes()));
            keyspace.db(0).insert_new((*key).into(), value, None, 0);
        }
        keyspace
    }

    fn names(keyspace: &Keyspace, db: usize) -> Vec<String> {
        let mut names: Vec<String> = keyspace.dbs[db]
            .iter_live(0)
            .map(|e| String::from_utf8_lossy(e.key.as_bytes()).into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn streams_partition_the_slots_like_the_slot_table() {
        for streams in [1, 2, 3, 7] {
            let table = crate::slot::SlotTable::new(streams);
            for key in ["a", "b", "{tag}x", "user:1000", ""] {
                assert_eq!(
                    stream_of(key.as_bytes(), streams),
                    table.shard_of(key.as_bytes())
                );
            }
        }
    }

    #[test]
    fn flush_and_swap_touch_only_the_streams_slots() {
        let keys = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let mut keyspace = keyspace_with(&keys);
        let of_stream_1: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| stream_of(k.as_bytes(), 2) == 1)
            .collect();
        assert!(!of_stream_1.is_empty() && of_stream_1.len() < keys.len());
        let redo = swap_slots(&mut keyspace, 1, 2, 0, 3);
        assert_eq!(names(&keyspace, 3), of_stream_1);
        assert_eq!(names(&keyspace, 0).len(), keys.len() - of_stream_1.len());
        // The commands redoing db 3 set exactly the keys that moved in.
        let (_, commands) = redo.iter().find(|(db, _)| *db == 3).expect("db 3");
        assert_eq!(
            split_commands(commands).expect("valid RESP").len(),
            of_stream_1.len()
        );
        let removed = flush_slots(&mut keyspace, 1, 2, 0..4);
        assert_eq!(removed.len(), 1, "only db 3 held keys of stream 1");
        assert!(names(&keyspace, 3).is_empty());
        assert_eq!(names(&keyspace, 0).len(), keys.len() - of_stream_1.len());
    }

    #[test]
    fn staged_keys_replace_and_commands_split() {
        let mut keyspace = keyspace_with(&["a"]);
        let mut staged = keyspace_with(&["a", "b"]);
        assert_eq!(take_staged(&mut keyspace, &mut staged, 0), 2);
        assert_eq!(names(&keyspace, 0), ["a", "b"]);
        let record = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n";
        let commands = split_commands(record).expect("valid RESP");
        assert_eq!(commands.len(), 2);
        assert_eq!(command_keys(&commands[0].argv), Some(vec![1]));
        assert!(split_commands(b"*3\r\n$3\r\nSET\r\n").is_none());
    }
}
