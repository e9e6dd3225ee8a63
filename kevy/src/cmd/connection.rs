//! Connection commands: `PING ECHO HELLO AUTH SELECT QUIT RESET SHUTDOWN`.
//! They change or describe the session and run on the connection's shard.

use std::sync::atomic::Ordering;

use super::errors;
use super::{CommandSpec, ConnCtx, ExecCtx, Handler, KeySpec, Route};
use crate::resp::num::parse_i64;
use crate::resp::Argv;

/// The Redis version reported to clients, which choose features by it.
pub const REDIS_VERSION: &str = "7.0.15";

/// `HELLO` and `AUTH`: allowed before authentication and in every state.
const HANDSHAKE_FLAGS: &[&str] = &[
    "noscript",
    "loading",
    "stale",
    "fast",
    "no_auth",
    "sentinel",
    "allow_busy",
];

/// A connection command's table row (no keys, run on the client's shard).
const fn conn(
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
        acl: &["@connection"],
        keys: KeySpec::None,
        route: Route::Local,
        handler: Handler::Conn(handler),
        group: "connection",
        since,
        summary,
        subcommands: &[],
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "ping",
        arity: -1,
        flags: &["fast", "sentinel"],
        acl: &["@fast", "@connection"],
        keys: KeySpec::None,
        route: Route::Local,
        handler: Handler::Key(ping),
        group: "connection",
        since: "1.0.0",
        summary: "Ping the server",
        subcommands: &[],
    },
    CommandSpec {
        name: "echo",
        arity: 2,
        flags: &["loading", "stale", "fast"],
        acl: &["@fast", "@connection"],
        keys: KeySpec::None,
        route: Route::Local,
        handler: Handler::Key(echo),
        group: "connection",
        since: "1.0.0",
        summary: "Echo the given string",
        subcommands: &[],
    },
    conn(
        "hello",
        -1,
        HANDSHAKE_FLAGS,
        hello,
        "6.0.0",
        "Handshake with Redis",
    ),
    conn(
        "auth",
        -2,
        HANDSHAKE_FLAGS,
        auth,
        "1.0.0",
        "Authenticate to the server",
    ),
    conn(
        "select",
        2,
        &["loading", "stale", "fast"],
        select,
        "1.0.0",
        "Change the selected database for the current connection",
    ),
    conn(
        "quit",
        -1,
        &[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy",
        ],
        quit,
        "1.0.0",
        "Close the connection",
    ),
    conn(
        "reset",
        1,
        &[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy",
        ],
        reset,
        "6.2.0",
        "Reset the connection",
    ),
    conn(
        "shutdown",
        -1,
        &[
            "admin",
            "noscript",
            "loading",
            "stale",
            "no_multi",
            "sentinel",
            "allow_busy",
        ],
        shutdown,
        "1.0.0",
        "Synchronously save the dataset to disk and then shut down the server",
    ),
];

fn ping(ctx: &mut ExecCtx, argv: Argv) {
    match argv.len() {
        1 => ctx.reply.simple("PONG"),
        2 => ctx.reply.bulk(argv.get(1)),
        _ => ctx.reply.error(&errors::wrong_args("ping")),
    }
}

fn echo(ctx: &mut ExecCtx, argv: Argv) {
    ctx.reply.bulk(argv.get(1));
}

/// Checks a password for `user` against `requirepass` (the default user).
fn check_password(ctx: &mut ConnCtx, user: &[u8], pass: &[u8]) -> bool {
    if user != b"default" {
        return false;
    }
    match &ctx.core.config.requirepass {
        None => true,
        Some(expected) => expected.as_slice() == pass,
    }
}

fn hello(ctx: &mut ConnCtx, argv: Argv) {
    let mut protocol = None;
    let mut i = 1;
    if argv.len() >= 2 {
        match parse_i64(argv.get(1)) {
            Some(v) if (2..=3).contains(&v) => protocol = Some(v == 3),
            Some(_) => {
                ctx.reply().error("NOPROTO unsupported protocol version");
                return;
            }
            None => {
                ctx.reply()
                    .error("ERR Protocol version is not an integer or out of range");
                return;
            }
        }
        i = 2;
    }
    let mut name = None;
    while i < argv.len() {
        let option = argv.get(i);
        let more = argv.len() - i - 1;
        if option.eq_ignore_ascii_case(b"auth") && more >= 2 {
            let (user, pass) = (argv.get(i + 1), argv.get(i + 2));
            if !check_password(ctx, user, pass) {
                ctx.reply().error(errors::WRONGPASS);
                return;
            }
            ctx.conn().authenticated = true;
            i += 3;
        } else if option.eq_ignore_ascii_case(b"setname") && more >= 1 {
            let candidate = argv.get(i + 1);
            if candidate.iter().any(|&b| b <= b' ' || b > b'~') {
                ctx.reply().error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
                return;
            }
            name = Some(candidate.to_vec());
            i += 2;
        } else {
            let text = format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(option)
            );
            ctx.reply().error(&text);
            return;
        }
    }
    if !ctx.conn().authenticated {
        ctx.reply().error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        return;
    }
    let conn = ctx.conn();
    if let Some(resp3) = protocol {
        conn.resp3 = resp3;
    }
    if let Some(name) = name {
        conn.name = name;
    }
    let (id, resp3) = (conn.client_id, conn.resp3);
    let mut reply = ctx.reply();
    reply.map(7);
    reply.bulk(b"server");
    reply.bulk(b"redis");
    reply.bulk(b"version");
    reply.bulk(REDIS_VERSION.as_bytes());
    reply.bulk(b"proto");
    reply.int(if resp3 { 3 } else { 2 });
    reply.bulk(b"id");
    reply.int(id as i64);
    reply.bulk(b"mode");
    reply.bulk(b"standalone");
    reply.bulk(b"role");
    reply.bulk(b"master");
    reply.bulk(b"modules");
    reply.array(0);
}

fn auth(ctx: &mut ConnCtx, argv: Argv) {
    if argv.len() > 3 {
        ctx.reply().error(errors::SYNTAX);
        return;
    }
    let (user, pass) = if argv.len() == 2 {
        if ctx.core.config.requirepass.is_none() {
            ctx.reply().error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
            return;
        }
        (&b"default"[..], argv.get(1))
    } else {
        (argv.get(1), argv.get(2))
    };
    if check_password(ctx, user, pass) {
        ctx.conn().authenticated = true;
        ctx.reply().ok();
    } else {
        ctx.reply().error(errors::WRONGPASS);
    }
}

fn select(ctx: &mut ConnCtx, argv: Argv) {
    let databases = ctx.core.config.databases as i64;
    match parse_i64(argv.get(1)) {
        None => ctx.reply().error(errors::NOT_INTEGER),
        Some(n) if n < 0 || n >= databases => ctx.reply().error(errors::DB_INDEX_OUT_OF_RANGE),
        Some(n) => {
            ctx.conn().db = n as usize;
            ctx.reply().ok();
        }
    }
}

fn quit(ctx: &mut ConnCtx, _argv: Argv) {
    ctx.reply().ok();
    ctx.close_after_reply();
}

fn reset(ctx: &mut ConnCtx, _argv: Argv) {
    let requirepass = ctx.core.config.requirepass.is_some();
    let conn = ctx.conn();
    conn.resp3 = false;
    conn.db = 0;
    conn.name.clear();
    conn.authenticated = !requirepass;
    ctx.reply().simple("RESET");
}

fn shutdown(ctx: &mut ConnCtx, argv: Argv) {
    for arg in argv.iter().skip(1) {
        let known = [&b"nosave"[..], b"save", b"now", b"force", b"abort"];
        if !known.iter().any(|k| arg.eq_ignore_ascii_case(k)) {
            ctx.reply().error(errors::SYNTAX);
            return;
        }
        if arg.eq_ignore_ascii_case(b"abort") {
            ctx.reply().error("ERR No shutdown in progress.");
            return;
        }
    }
    let mode = crate::persist::shutdown::mode_of_arguments(argv.iter().skip(1));
    crate::persist::shutdown::request(&ctx.core.config.snapshots, mode);
    log::warn!("User requested shutdown...");
    ctx.core.shared.shutdown.store(true, Ordering::SeqCst);
    for bell in ctx.core.mesh.doorbells().iter() {
        bell.ring_always();
    }
    // Redis sends no reply: the connection closes with the server.
    ctx.close_after_reply();
}
