//! The table of configuration directives: each one's name, kind of value,
//! default (Redis 7.0's, where Redis has the directive) and whether
//! `CONFIG SET` may change it, plus the old names Redis still accepts.

#[derive(Clone, Copy)]
pub(super) enum Kind {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    Memory,
    Text,
    OneOf(&'static [&'static str]),
    Save,
    Bind,
    /// `client-output-buffer-limit`: `<class> <hard> <soft> <seconds>`
    /// groups; a `CONFIG SET` changes only the classes it names.
    OutputLimits,
}

pub(super) struct Directive {
    pub(super) name: &'static str,
    pub(super) kind: Kind,
    pub(super) default: &'static str,
    /// Settable with `CONFIG SET` (else only at start).
    pub(super) mutable: bool,
}

const fn d(name: &'static str, kind: Kind, default: &'static str, mutable: bool) -> Directive {
    Directive {
        name,
        kind,
        default,
        mutable,
    }
}

const I32: Kind = Kind::Int {
    min: 0,
    max: i32::MAX as i64,
};

pub(super) static DIRECTIVES: &[Directive] = &[
    d("bind", Kind::Bind, "127.0.0.1", false),
    d("port", Kind::Int { min: 0, max: 65535 }, "6379", false),
    d("threads", Kind::Int { min: 0, max: 1024 }, "0", false),
    d(
        "transport",
        Kind::OneOf(&["auto", "mio", "polling", "glommio"]),
        "auto",
        false,
    ),
    d("pin-cores", Kind::Bool, "no", false),
    // kevy's own: whether MGET/MSET/DEL/UNLINK/EXISTS whose keys span shards
    // run under the shard locks (atomic for every observer, as in Redis) or
    // are scattered (atomic per shard only, much faster across shards).
    d("atomic-multikey", Kind::Bool, "yes", true),
    d("dir", Kind::Text, ".", true),
    d("dbfilename", Kind::Text, "dump.rdb", true),
    d(
        "databases",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "16",
        false,
    ),
    d("requirepass", Kind::Text, "", true),
    d("masterauth", Kind::Text, "", true),
    d("proto-max-bulk-len", Kind::Memory, "536870912", true),
    d(
        "client-query-buffer-limit",
        Kind::Memory,
        "1073741824",
        true,
    ),
    d(
        "maxclients",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "10000",
        true,
    ),
    d("hz", Kind::Int { min: 1, max: 500 }, "10", true),
    d(
        "client-output-buffer-limit",
        Kind::OutputLimits,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        true,
    ),
    d("tls-port", Kind::Int { min: 0, max: 65535 }, "0", false),
    d("tls-cert-file", Kind::Text, "", false),
    d("tls-key-file", Kind::Text, "", false),
    d("tls-ca-cert-file", Kind::Text, "", false),
    d(
        "tls-auth-clients",
        Kind::OneOf(&["no", "yes", "optional"]),
        "yes",
        false,
    ),
    d("timeout", I32, "0", true),
    d("tcp-keepalive", I32, "300", true),
    d("tcp-backlog", I32, "511", false),
    d("maxmemory", Kind::Memory, "0", true),
    d(
        "maxmemory-policy",
        Kind::OneOf(&[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ]),
        "noeviction",
        true,
    ),
    d(
        "loglevel",
        Kind::OneOf(&["debug", "verbose", "notice", "warning"]),
        "notice",
        true,
    ),
    d("logfile", Kind::Text, "", false),
    d("daemonize", Kind::Bool, "no", false),
    d("protected-mode", Kind::Bool, "yes", true),
    d("save", Kind::Save, "3600 1 300 100 60 10000", true),
    d("appendonly", Kind::Bool, "no", true),
    // kevy's own: the codec of snapshot blocks (zstd needs the feature).
    d(
        "snapshot-compression",
        Kind::OneOf(&["none", "zstd"]),
        "none",
        true,
    ),
    d(
        "appendfsync",
        Kind::OneOf(&["always", "everysec", "no"]),
        "everysec",
        true,
    ),
    // The log set: `dir`/`appenddirname` holds `<appendfilename>.manifest`
    // and the files it names (persist/aof_*.rs). Plain names only.
    d("appendfilename", Kind::Text, "appendonly.aof", false),
    d("appenddirname", Kind::Text, "appendonlydir", false),
    // A rewrite starts by itself when the log set has grown by this
    // percentage over its size after the last rewrite (0: never) and is
    // at least `auto-aof-rewrite-min-size` bytes.
    d("auto-aof-rewrite-percentage", I32, "100", true),
    d("auto-aof-rewrite-min-size", Kind::Memory, "67108864", true),
    // A torn tail (the last append cut short by a crash) is truncated at
    // start with a warning; `no` refuses to start instead.
    d("aof-load-truncated", Kind::Bool, "yes", true),
    d("lazyfree-lazy-user-del", Kind::Bool, "no", true),
    d("lazyfree-lazy-user-flush", Kind::Bool, "no", true),
    d("lazyfree-lazy-expire", Kind::Bool, "no", true),
    d("lazyfree-lazy-eviction", Kind::Bool, "no", true),
    d("lazyfree-lazy-server-del", Kind::Bool, "no", true),
    d(
        "active-expire-effort",
        Kind::Int { min: 1, max: 10 },
        "1",
        true,
    ),
    d(
        "slowlog-log-slower-than",
        Kind::Int {
            min: -1,
            max: i64::MAX,
        },
        "10000",
        true,
    ),
    d(
        "slowlog-max-len",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "128",
        true,
    ),
    d("notify-keyspace-events", Kind::Text, "", true),
    d("replica-read-only", Kind::Bool, "yes", true),
    // Replication: `replicaof <host> <port>` at start (the REPLICAOF
    // command changes the role at run time, as in Redis).
    d("replicaof", Kind::Text, "", false),
    d("masteruser", Kind::Text, "", true),
    d("repl-backlog-size", Kind::Memory, "1048576", true),
    d(
        "repl-ping-replica-period",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "10",
        true,
    ),
    d(
        "repl-timeout",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "60",
        true,
    ),
    // kevy's own: shard i of a primary serves replicas on
    // `replication-port-base + i`; 0 lets the kernel pick each port
    // (replicas learn them with `REPLCONF KEVY-TOPOLOGY`).
    d(
        "replication-port-base",
        Kind::Int { min: 0, max: 65535 },
        "0",
        false,
    ),
    // kevy's own: the codec a primary offers for full-sync chunks (zstd
    // needs the feature; replicas without it get plain chunks).
    d(
        "repl-snapshot-compression",
        Kind::OneOf(&["none", "zstd"]),
        "none",
        true,
    ),
    d("tls-replication", Kind::Bool, "no", false),
    d("tls-client-cert-file", Kind::Text, "", false),
    d("tls-client-key-file", Kind::Text, "", false),
    d("io-threads", Kind::Int { min: 1, max: 128 }, "1", false),
    d(
        "supervised",
        Kind::OneOf(&["upstart", "systemd", "auto", "no"]),
        "no",
        false,
    ),
    d("pidfile", Kind::Text, "", false),
    d("unixsocket", Kind::Text, "", false),
    d("lfu-log-factor", I32, "10", true),
    d("lfu-decay-time", I32, "1", true),
    d(
        "hash-max-listpack-entries",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "512",
        true,
    ),
    d("hash-max-listpack-value", Kind::Memory, "64", true),
    d(
        "list-max-listpack-size",
        Kind::Int {
            min: i32::MIN as i64,
            max: i32::MAX as i64,
        },
        "-2",
        true,
    ),
    d(
        "set-max-intset-entries",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "512",
        true,
    ),
    d(
        "zset-max-listpack-entries",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "128",
        true,
    ),
    d("zset-max-listpack-value", Kind::Memory, "64", true),
    d("list-compress-depth", I32, "0", true),
    d("stream-node-max-bytes", Kind::Memory, "4096", true),
    d(
        "stream-node-max-entries",
        Kind::Int {
            min: 0,
            max: 999_999_999_999_999,
        },
        "100",
        true,
    ),
];

/// Old names Redis 7.0 still accepts (and lists) for renamed directives.
pub(super) static ALIASES: &[(&str, &str)] = &[
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("slave-read-only", "replica-read-only"),
    ("slaveof", "replicaof"),
    ("repl-ping-slave-period", "repl-ping-replica-period"),
];
