//! Server and introspection commands against the real `kevy` binary with
//! several shards: `INFO` sections and counts, `CLIENT LIST/KILL` across
//! shards, `CONFIG SET` applied by every shard, `COMMAND` listings.
//!
//! Connections land on shards as the kernel spreads them (SO_REUSEPORT),
//! so tests that need "another shard" open several connections. The client
//! here is a small hand-written RESP3 reader, so replies keep their types.
//!
//! Also holds (ignored) the generator of the Redis command reference that
//! `COMMAND INFO/DOCS` serve: `cargo test -p kevy --test server_commands
//! -- --ignored regenerate` with `redis-server` on the PATH.

mod support;

use support::{kevy, start, Client, Value};

/// `field:value` pairs of an INFO text.
fn info_fields(text: &str) -> Vec<(String, String)> {
    text.split("\r\n")
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn field(text: &str, name: &str) -> Option<String> {
    info_fields(text)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn client_ids(list: &str) -> Vec<u64> {
    list.lines()
        .filter_map(|l| l.strip_prefix("id=")?.split(' ').next()?.parse().ok())
        .collect()
}

#[test]
fn info_reports_sections_counts_and_keyspace() {
    let server = kevy(2);
    let mut clients: Vec<Client> = (0..6).map(|_| Client::connect(server.port)).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(client.call(&["PING"]), Value::Simple("PONG".into()));
        let key = format!("key:{i}");
        assert_eq!(client.call(&["SET", &key, "v"]), Value::Simple("OK".into()));
    }
    clients[0].call(&["SELECT", "3"]);
    clients[0].call(&["SET", "in-db3", "v"]);
    clients[0].call(&["GET", "in-db3"]);
    clients[0].call(&["GET", "missing"]);

    let text = clients[1].call(&["INFO"]).text();
    for title in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# CPU",
        "# Keyspace",
    ] {
        assert!(text.contains(&format!("{title}\r\n")), "missing {title}");
    }
    assert!(!text.contains("# Commandstats"));
    assert_eq!(field(&text, "redis_version").as_deref(), Some("7.0.15"));
    assert_eq!(field(&text, "shards").as_deref(), Some("2"));
    assert_eq!(
        field(&text, "tcp_port").as_deref(),
        Some(server.port.to_string().as_str())
    );
    assert_eq!(
        field(&text, "process_id").as_deref(),
        Some(server.child.id().to_string().as_str())
    );
    assert_eq!(field(&text, "run_id").map(|r| r.len()), Some(40));
    assert_eq!(field(&text, "connected_clients").as_deref(), Some("6"));
    assert_eq!(field(&text, "role").as_deref(), Some("master"));
    assert_eq!(field(&text, "aof_enabled").as_deref(), Some("0"));
    assert_eq!(
        field(&text, "rdb_changes_since_last_save").as_deref(),
        Some("7")
    );
    assert_eq!(
        field(&text, "db0").as_deref(),
        Some("keys=6,expires=0,avg_ttl=0")
    );
    assert_eq!(
        field(&text, "db3").as_deref(),
        Some("keys=1,expires=0,avg_ttl=0")
    );
    assert_eq!(field(&text, "db1"), None);
    assert!(field(&text, "used_cpu_user").is_some_and(|v| v.contains('.')));
    let commands: u64 = field(&text, "total_commands_processed")
        .and_then(|v| v.parse().ok())
        .expect("a count");
    assert!(commands >= 16, "{commands} commands counted");

    let stats = clients[2].call(&["INFO", "commandstats"]).text();
    assert!(stats.starts_with("# Commandstats\r\n"));
    let set = field(&stats, "cmdstat_set").expect("SET counted");
    assert!(set.starts_with("calls=7,"), "{set}");
    let get = field(&stats, "cmdstat_get").expect("GET counted");
    assert!(get.starts_with("calls=2,"), "{get}");
    assert_eq!(
        clients[2].call(&["INFO", "nosuch"]),
        Value::Bulk(Vec::new())
    );
    let keyspace = clients[3].call(&["INFO", "KEYSPACE", "server"]).text();
    assert!(keyspace.starts_with("# Server\r\n"));
    assert!(keyspace.contains("\r\n\r\n# Keyspace\r\ndb0:keys=6"));

    assert_eq!(
        clients[3].call(&["CONFIG", "RESETSTAT"]),
        Value::Simple("OK".into())
    );
    let stats = clients[3].call(&["INFO", "commandstats"]).text();
    assert_eq!(field(&stats, "cmdstat_set"), None, "{stats}");

    // Replies that wait for every shard keep their place in a pipeline.
    clients[5].send(&["INFO", "keyspace"]);
    clients[5].send(&["PING"]);
    clients[5].send(&["CLIENT", "LIST"]);
    clients[5].send(&["ECHO", "last"]);
    assert!(clients[5]
        .read()
        .expect("INFO")
        .text()
        .starts_with("# Keyspace"));
    assert_eq!(clients[5].read(), Some(Value::Simple("PONG".into())));
    assert!(clients[5]
        .read()
        .expect("CLIENT LIST")
        .text()
        .starts_with("id="));
    assert_eq!(clients[5].read(), Some(Value::Bulk(b"last".to_vec())));

    clients[4].call(&["HELLO", "3"]);
    match clients[4].call(&["INFO", "cpu"]) {
        Value::Verbatim(text) => assert!(text.starts_with("# CPU\r\n")),
        other => panic!("INFO in RESP3 is a verbatim string, not {other:?}"),
    }
}

#[test]
fn client_list_and_kill_span_shards() {
    let server = kevy(3);
    let mut clients: Vec<Client> = (0..8).map(|_| Client::connect(server.port)).collect();
    let mut ids = Vec::new();
    for (i, client) in clients.iter_mut().enumerate() {
        match client.call(&["CLIENT", "ID"]) {
            Value::Int(id) => ids.push(id as u64),
            other => panic!("CLIENT ID replied {other:?}"),
        }
        let name = format!("conn{i}");
        assert_eq!(
            client.call(&["CLIENT", "SETNAME", &name]),
            Value::Simple("OK".into())
        );
    }
    let list = clients[0].call(&["CLIENT", "LIST"]).text();
    let mut listed = client_ids(&list);
    assert_eq!(listed.len(), 8, "{list}");
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    assert_eq!(listed, sorted, "CLIENT LIST is ordered by id");
    listed.sort_unstable();
    let mut expected = ids.clone();
    expected.sort_unstable();
    assert_eq!(listed, expected);
    assert!(list.contains(" name=conn5 "));
    assert!(list.contains("cmd=client|list"));
    assert!(list.ends_with('\n'));

    let some = clients[1]
        .call(&[
            "CLIENT",
            "LIST",
            "ID",
            &ids[6].to_string(),
            &ids[2].to_string(),
        ])
        .text();
    assert_eq!(client_ids(&some), vec![ids[6], ids[2]]);
    let info = clients[7].call(&["CLIENT", "INFO"]).text();
    assert_eq!(client_ids(&info), vec![ids[7]]);
    assert!(info.contains(" name=conn7 "));

    // Kill every other connection by id from connection 0; whatever shard
    // each lives on, it must be closed.
    for victim in 1..8 {
        let reply = clients[0].call(&["CLIENT", "KILL", "ID", &ids[victim].to_string()]);
        assert_eq!(reply, Value::Int(1), "killing client {victim}");
        assert!(
            clients[victim].read().is_none(),
            "connection {victim} is closed"
        );
    }
    let list = clients[0].call(&["CLIENT", "LIST"]).text();
    assert_eq!(client_ids(&list), vec![ids[0]]);
    assert_eq!(
        clients[0].call(&["CLIENT", "KILL", "ID", &ids[3].to_string()]),
        Value::Int(0)
    );
    assert_eq!(
        clients[0].call(&["CLIENT", "KILL", "127.0.0.1:1"]),
        Value::Error("ERR No such client".into())
    );
    // SKIPME defaults to yes: the caller survives a kill of everyone.
    assert_eq!(
        clients[0].call(&["CLIENT", "KILL", "TYPE", "normal"]),
        Value::Int(0)
    );
    assert_eq!(clients[0].call(&["PING"]), Value::Simple("PONG".into()));
}

#[test]
fn config_set_applies_on_every_shard() {
    let server = kevy(3);
    let mut admin = Client::connect(server.port);
    assert_eq!(
        admin.call(&["CONFIG", "SET", "requirepass", "s3cret", "maxmemory", "2mb"]),
        Value::Simple("OK".into())
    );
    // New connections land on every shard; each must ask for the password.
    for _ in 0..9 {
        let mut client = Client::connect(server.port);
        assert_eq!(
            client.call(&["GET", "k"]),
            Value::Error("NOAUTH Authentication required.".into())
        );
        assert_eq!(client.call(&["AUTH", "s3cret"]), Value::Simple("OK".into()));
        assert_eq!(
            client.call(&["CONFIG", "GET", "maxmemory"]),
            Value::Array(vec![
                Value::Bulk(b"maxmemory".to_vec()),
                Value::Bulk(b"2097152".to_vec())
            ])
        );
    }
    // A rejected CONFIG SET changes nothing anywhere.
    assert_eq!(
        admin.call(&["CONFIG", "SET", "maxmemory", "1mb", "hz", "nope"]),
        Value::Error(
            "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer"
                .into()
        )
    );
    assert_eq!(
        admin.call(&["CONFIG", "SET", "port", "1"]),
        Value::Error(
            "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config"
                .into()
        )
    );
    let mut other = Client::connect(server.port);
    other.call(&["AUTH", "s3cret"]);
    assert_eq!(
        other.call(&["CONFIG", "GET", "maxmemory"]).items()[1],
        Value::Bulk(b"2097152".to_vec())
    );
    assert_eq!(
        admin.call(&["CONFIG", "SET", "requirepass", ""]),
        Value::Simple("OK".into())
    );
    for _ in 0..6 {
        let mut client = Client::connect(server.port);
        assert_eq!(client.call(&["GET", "k"]), Value::Null);
    }
}

#[test]
fn config_rewrite_updates_the_config_file() {
    let dir = std::env::temp_dir().join(format!("kevy-rewrite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("kevy.conf");
    std::fs::write(&path, "# kept comment\nhz 10\nmaxmemory 0\n").expect("config written");
    let server = start(
        env!("CARGO_BIN_EXE_kevy"),
        &[
            "--threads",
            "2",
            "--config",
            path.to_str().expect("utf-8 path"),
        ],
    );
    let mut client = Client::connect(server.port);
    let text = client.call(&["INFO", "server"]).text();
    assert!(field(&text, "config_file").is_some_and(|f| f.ends_with("kevy.conf")));
    assert_eq!(
        client.call(&["CONFIG", "SET", "maxmemory", "3mb", "timeout", "7"]),
        Value::Simple("OK".into())
    );
    assert_eq!(
        client.call(&["CONFIG", "REWRITE"]),
        Value::Simple("OK".into())
    );
    let written = std::fs::read_to_string(&path).expect("config readable");
    assert!(
        written.starts_with("# kept comment\nhz 10\nmaxmemory 3145728\n"),
        "{written}"
    );
    assert!(written.contains("\ntimeout 7\n"), "{written}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn command_introspection() {
    let server = kevy(2);
    let mut client = Client::connect(server.port);
    let count = match client.call(&["COMMAND", "COUNT"]) {
        Value::Int(n) => n as usize,
        other => panic!("COMMAND COUNT replied {other:?}"),
    };
    let all = client.call(&["COMMAND"]);
    assert_eq!(all.items().len(), count);
    for entry in all.items() {
        assert_eq!(entry.items().len(), 10, "{entry:?}");
    }
    let info = client.call(&["COMMAND", "INFO", "get", "nosuch", "CONFIG"]);
    let entries = info.items();
    assert_eq!(entries[0].items()[0], Value::Bulk(b"get".to_vec()));
    assert_eq!(entries[1], Value::Null);
    let subcommands = entries[2].items()[9].items();
    assert!(subcommands
        .iter()
        .any(|s| s.items()[0] == Value::Bulk(b"config|get".to_vec())));
    assert_eq!(
        client.call(&["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]),
        Value::Array(vec![Value::Bulk(b"a".to_vec()), Value::Bulk(b"b".to_vec())])
    );
    let list = client.call(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "client|*"]);
    assert!(list.items().contains(&Value::Bulk(b"client|kill".to_vec())));
    client.call(&["HELLO", "3"]);
    match client.call(&["COMMAND", "DOCS", "get"]) {
        Value::Map(pairs) => {
            assert_eq!(pairs[0].0, Value::Bulk(b"get".to_vec()));
            assert!(matches!(pairs[0].1, Value::Map(_)));
        }
        other => panic!("COMMAND DOCS in RESP3 is a map, not {other:?}"),
    }
}

/// Serializes a reply in the syntax of `src/cmd/command_docs/reference.rs`.
fn reference_syntax(value: &Value, out: &mut String) {
    let list = |items: &[Value], open: char, close: char, out: &mut String| {
        out.push(open);
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            reference_syntax(item, out);
        }
        out.push(close);
    };
    match value {
        Value::Array(items) => list(items, '[', ']', out),
        Value::Set(items) => list(items, '<', '>', out),
        Value::Map(pairs) => {
            let flat: Vec<Value> = pairs
                .iter()
                .flat_map(|(k, v)| [k.clone(), v.clone()])
                .collect();
            list(&flat, '{', '}', out);
        }
        Value::Simple(s) => {
            assert!(!s.contains([' ', ']', '>', '}']), "status {s:?}");
            out.push('+');
            out.push_str(s);
        }
        Value::Int(n) => out.push_str(&format!(":{n}")),
        Value::Null => out.push('_'),
        Value::Bulk(bytes) => {
            out.push('"');
            for &b in bytes {
                match b {
                    b'"' => out.push_str("\\\""),
                    b'\\' => out.push_str("\\\\"),
                    b'\n' => out.push_str("\\n"),
                    b'\r' => out.push_str("\\r"),
                    b'\t' => out.push_str("\\t"),
                    0x20..=0x7e => out.push(b as char),
                    _ => out.push_str(&format!("\\x{b:02x}")),
                }
            }
            out.push('"');
        }
        other => panic!("unexpected value in a command reference: {other:?}"),
    }
}

fn without_key(map: &Value, key: &str) -> (Value, Option<Value>) {
    let Value::Map(pairs) = map else {
        panic!("docs are a map: {map:?}");
    };
    let mut removed = None;
    let kept = pairs
        .iter()
        .filter(|(k, v)| {
            if k.text() == key {
                removed = Some(v.clone());
                false
            } else {
                true
            }
        })
        .cloned()
        .collect();
    (Value::Map(kept), removed)
}

fn docs_lines(name: &str, docs: &Value, lines: &mut Vec<(String, String)>) {
    let (docs, subcommands) = without_key(docs, "subcommands");
    let mut text = String::new();
    reference_syntax(&docs, &mut text);
    lines.push((name.to_string(), text));
    if let Some(Value::Map(subs)) = subcommands {
        for (sub, sub_docs) in subs {
            docs_lines(&sub.text(), &sub_docs, lines);
        }
    }
}

fn info_lines(entry: &Value, lines: &mut Vec<(String, String)>) {
    let items = entry.items();
    let mut text = String::new();
    reference_syntax(&Value::Array(items[..9].to_vec()), &mut text);
    lines.push((items[0].text(), text));
    for sub in items[9].items() {
        info_lines(sub, lines);
    }
}

#[test]
#[ignore = "rewrites the command reference from a local redis-server"]
fn regenerate_redis_command_reference() {
    let redis = start("redis-server", &["--save", "", "--appendonly", "no"]);
    let mut client = Client::connect(redis.port);
    let hello = client.call(&["HELLO", "3"]);
    let version = match &hello {
        Value::Map(pairs) => pairs
            .iter()
            .find(|(k, _)| k.text() == "version")
            .map(|(_, v)| v.text())
            .expect("HELLO names the version"),
        other => panic!("HELLO 3 replied {other:?}"),
    };
    assert_eq!(version, "7.0.15", "the reference describes Redis 7.0.15");
    let mut infos = Vec::new();
    for entry in client.call(&["COMMAND", "INFO"]).items() {
        info_lines(entry, &mut infos);
    }
    let mut docs = Vec::new();
    match client.call(&["COMMAND", "DOCS"]) {
        Value::Map(pairs) => {
            for (name, map) in pairs {
                docs_lines(&name.text(), &map, &mut docs);
            }
        }
        other => panic!("COMMAND DOCS replied {other:?}"),
    }
    infos.sort();
    docs.sort();
    let mut out = String::from(
        "# Redis 7.0.15's COMMAND INFO (without subcommands) and COMMAND DOCS\n\
         # (without subcommands) of every command and subcommand, one per line.\n\
         # Generated by `cargo test -p kevy --test server_commands -- --ignored\n\
         # regenerate` from redis-server; syntax in reference.rs. Do not edit.\n",
    );
    for (name, info) in &infos {
        let doc = docs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.as_str())
            .unwrap_or("{}");
        out.push_str(&format!("{name} {info} {doc}\n"));
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/cmd/command_docs/redis-7.0.15-commands.txt");
    std::fs::write(&path, out).expect("the reference is writable");
}

#[test]
fn info_counts_distinct_pubsub_names_over_every_shard() {
    let server = kevy(4);
    // Enough subscribers that the kernel spreads them over the shards; the
    // same names on several shards must count once.
    let mut subscribers: Vec<Client> = (0..16).map(|_| Client::connect(server.port)).collect();
    for (i, sub) in subscribers.iter_mut().enumerate() {
        sub.call(&["SUBSCRIBE", "news", &format!("room:{}", i % 3)]);
        sub.read(); // the second subscription's confirmation
        sub.call(&["PSUBSCRIBE", "alerts.*"]);
        sub.call(&["SSUBSCRIBE", "{shard}a"]);
    }
    let mut control = Client::connect(server.port);
    let info = control.call(&["INFO", "stats"]).text();
    assert_eq!(
        field(&info, "pubsub_channels").as_deref(),
        Some("4"),
        "{info}"
    );
    assert_eq!(field(&info, "pubsub_patterns").as_deref(), Some("1"));
    assert_eq!(field(&info, "pubsubshard_channels").as_deref(), Some("1"));
    drop(subscribers);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let info = control.call(&["INFO", "stats"]).text();
        if field(&info, "pubsub_channels").as_deref() == Some("0") {
            assert_eq!(field(&info, "pubsub_patterns").as_deref(), Some("0"));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{info}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn multi_key_commands_work_scattered_or_coordinated() {
    let server = kevy(4);
    let mut client = Client::connect(server.port);
    let keys: Vec<String> = (0..40).map(|i| format!("mk:{i}")).collect();
    for (round, mode) in ["no", "yes", "no"].into_iter().enumerate() {
        assert_eq!(
            client.call(&["CONFIG", "SET", "atomic-multikey", mode]),
            Value::Simple("OK".into())
        );
        let mut mset = vec!["MSET".to_string()];
        for key in &keys {
            mset.push(key.clone());
            mset.push(format!("{key}={round}"));
        }
        let args: Vec<&str> = mset.iter().map(String::as_str).collect();
        assert_eq!(client.call(&args), Value::Simple("OK".into()));
        let mut mget = vec!["MGET"];
        mget.extend(keys.iter().map(String::as_str));
        let expected: Vec<Value> = keys
            .iter()
            .map(|key| Value::Bulk(format!("{key}={round}").into_bytes()))
            .collect();
        assert_eq!(client.call(&mget), Value::Array(expected), "{mode}");
        let mut exists = vec!["EXISTS"];
        exists.extend(keys.iter().map(String::as_str));
        assert_eq!(client.call(&exists), Value::Int(40));
        let mut del = vec!["DEL"];
        del.extend(keys.iter().take(10).map(String::as_str));
        assert_eq!(client.call(&del), Value::Int(10));
        assert_eq!(client.call(&exists), Value::Int(30));
    }
}
