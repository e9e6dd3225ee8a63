//! Replication commands: `REPLICAOF`/`SLAVEOF`, `ROLE`, `WAIT` and
//! `REPLCONF`.
//!
//! They run on the client's shard and act on the shared replication state
//! (`crate::replication`): `REPLICAOF` starts or stops the replica runner,
//! `ROLE` reads the role and offsets, `WAIT` parks the client's reply until
//! enough replicas acknowledged its writes (answered by the shard's
//! replication handler), `REPLCONF` answers Redis's options plus kevy's
//! own `KEVY-TOPOLOGY` (shard count and replication ports, what a replica
//! asks first) and `KEVY-APPLIER` (the runner's own local connection).

use super::{errors, CommandSpec, ConnCtx, Handler, KeySpec, Route};
use crate::replication::state::{LinkState, PendingWait};
use crate::replication::{self, Upstream};
use crate::resp::num::parse_i64;
use crate::resp::Argv;
use crate::shard::unix_ms;

const INVALID_PORT: &str = "ERR Invalid master port";
const ALREADY_CONNECTED: &str = "OK Already connected to specified master";
const WAIT_ON_REPLICA: &str = "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.";
const TIMEOUT_NOT_INTEGER: &str = "ERR timeout is not an integer or out of range";
const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";

const fn conn_command(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    handler: fn(&mut ConnCtx, Argv),
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl: &["@admin", "@slow", "@dangerous"],
        keys: KeySpec::None,
        route: Route::Local,
        handler: Handler::Conn(handler),
        group: "server",
        since,
        summary,
        subcommands: &[],
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    conn_command(
        "replicaof",
        3,
        &["admin", "noscript", "stale", "no_async_loading"],
        replicaof,
        "5.0.0",
        "Make the server a replica of another instance, or promote it as master.",
    ),
    conn_command(
        "slaveof",
        3,
        &["admin", "noscript", "stale", "no_async_loading"],
        replicaof,
        "1.0.0",
        "Make the server a replica of another instance, or promote it as master.",
    ),
    CommandSpec {
        acl: &["@admin", "@fast", "@dangerous"],
        ..conn_command(
            "role",
            1,
            &["noscript", "loading", "stale", "fast"],
            role,
            "2.8.12",
            "Return the role of the instance in the context of replication",
        )
    },
    CommandSpec {
        acl: &["@slow", "@connection"],
        group: "generic",
        ..conn_command(
            "wait",
            3,
            &["noscript"],
            wait,
            "3.0.0",
            "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
        )
    },
    conn_command(
        "replconf",
        -1,
        &["admin", "noscript", "loading", "stale", "allow_busy"],
        replconf,
        "3.0.0",
        "An internal command for configuring the replication stream",
    ),
];

fn replicaof(ctx: &mut ConnCtx, argv: Argv) {
    let (host, port) = (argv.get(1), argv.get(2));
    if host.eq_ignore_ascii_case(b"no") && port.eq_ignore_ascii_case(b"one") {
        let shared = ctx.core.shared.clone();
        replication::promote(&shared);
        ctx.reply().ok();
        return;
    }
    let port = match parse_i64(port) {
        Some(port) if (0..=65535).contains(&port) => port as u16,
        _ => return ctx.reply().error(INVALID_PORT),
    };
    let upstream = Upstream {
        host: String::from_utf8_lossy(host).into_owned(),
        port,
    };
    let shared = ctx.core.shared.clone();
    if shared.replication.status().upstream.as_ref() == Some(&upstream) {
        ctx.reply().simple(ALREADY_CONNECTED);
        return;
    }
    log::info!(
        "REPLICAOF {}:{} enabled (user request)",
        upstream.host,
        upstream.port
    );
    let config = ctx.core.config.clone();
    replication::replicate_from(&shared, &config, upstream);
    ctx.reply().ok();
}

fn role(ctx: &mut ConnCtx, _argv: Argv) {
    let state = ctx.core.shared.replication.clone();
    let status = state.status();
    match (&status.upstream, &status.replica) {
        (Some(upstream), Some(replica)) => {
            let connected = replica.link == LinkState::Connected;
            let offset = if connected {
                replica.applied.iter().sum::<u64>() as i64
            } else {
                -1
            };
            let mut reply = ctx.reply();
            reply.array(5);
            reply.bulk(b"slave");
            reply.bulk(upstream.host.as_bytes());
            reply.int(i64::from(upstream.port));
            reply.bulk(replica.link.role_name().as_bytes());
            reply.int(offset);
        }
        _ => {
            let replicas: Vec<(String, u16, u64)> = status
                .replicas
                .values()
                .map(|r| {
                    let acked = r.acked.iter().map(|a| a.unwrap_or(0)).sum();
                    (r.ip.clone(), r.port, acked)
                })
                .collect();
            drop(status);
            let offset = state.total_offset();
            let mut reply = ctx.reply();
            reply.array(3);
            reply.bulk(b"master");
            reply.int(offset as i64);
            reply.array(replicas.len());
            for (ip, port, acked) in replicas {
                reply.array(3);
                reply.bulk(ip.as_bytes());
                reply.bulk(port.to_string().as_bytes());
                reply.bulk(acked.to_string().as_bytes());
            }
        }
    }
}

fn wait(ctx: &mut ConnCtx, argv: Argv) {
    let state = ctx.core.shared.replication.clone();
    if state.status().upstream.is_some() {
        return ctx.reply().error(WAIT_ON_REPLICA);
    }
    let Some(numreplicas) = parse_i64(argv.get(1)) else {
        return ctx.reply().error(errors::NOT_INTEGER);
    };
    let timeout = match parse_i64(argv.get(2)) {
        None => return ctx.reply().error(TIMEOUT_NOT_INTEGER),
        Some(t) if t < 0 => return ctx.reply().error(TIMEOUT_NEGATIVE),
        Some(t) => t as u64,
    };
    if numreplicas <= 0 {
        let count = state.replicas_at(&state.offsets());
        ctx.reply().int(count as i64);
        return;
    }
    let shard = ctx.core.id;
    let conn = ctx.id;
    let client_id = ctx.conn().client_id;
    let seq = ctx.defer_reply();
    state.add_wait(
        shard,
        PendingWait {
            conn,
            client_id,
            seq,
            numreplicas: numreplicas as u64,
            deadline_ms: (timeout > 0).then(|| unix_ms().saturating_add(timeout)),
            target: None,
        },
    );
}

fn replconf(ctx: &mut ConnCtx, argv: Argv) {
    let option = argv.get(1);
    if option.eq_ignore_ascii_case(b"kevy-topology") && argv.len() == 2 {
        let state = ctx.core.shared.replication.clone();
        // A replica is coming: every shard starts recording its writes now.
        state.want_recording();
        let ports = state.ports().to_vec();
        let mut reply = ctx.reply();
        reply.array(ports.len() + 1);
        reply.int(ports.len() as i64);
        for port in ports {
            reply.int(i64::from(port));
        }
        return;
    }
    if option.eq_ignore_ascii_case(b"kevy-applier") && argv.len() == 3 {
        let state = ctx.core.shared.replication.clone();
        if argv.get(2) == state.applier_secret.as_bytes() {
            let client_id = ctx.conn().client_id;
            state.allow_applier(client_id);
            return ctx.reply().ok();
        }
        return ctx.reply().error("ERR invalid applier secret");
    }
    if argv.len() % 2 == 0 {
        return ctx.reply().error(errors::SYNTAX);
    }
    let mut i = 1;
    while i < argv.len() {
        let name = argv.get(i);
        let known = [
            &b"listening-port"[..],
            b"ip-address",
            b"capa",
            b"rdb-only",
            b"rdb-filter-only",
        ];
        if name.eq_ignore_ascii_case(b"ack") || name.eq_ignore_ascii_case(b"getack") {
            // Replicas' acknowledgements get no reply, as in Redis.
            return;
        }
        if !known.iter().any(|k| name.eq_ignore_ascii_case(k)) {
            let text = String::from_utf8_lossy(name);
            return ctx
                .reply()
                .error(&format!("ERR Unrecognized REPLCONF option: {text}"));
        }
        i += 2;
    }
    ctx.reply().ok();
}
