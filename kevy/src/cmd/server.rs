//! Server commands: `TIME`, and (by later families) `INFO`, `CONFIG`,
//! `COMMAND`, `CLIENT`.

use super::{CommandSpec, ExecCtx, Handler, KeySpec, Route};
use crate::resp::Argv;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "time",
    arity: 1,
    flags: &["loading", "stale", "fast"],
    acl: &["@fast"],
    keys: KeySpec::None,
    route: Route::Local,
    handler: Handler::Key(time),
    group: "server",
    since: "2.6.0",
    summary: "Return the current server time",
    subcommands: &[],
}];

fn time(ctx: &mut ExecCtx, _argv: Argv) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.reply.array(2);
    ctx.reply.bulk(now.as_secs().to_string().as_bytes());
    ctx.reply.bulk(now.subsec_micros().to_string().as_bytes());
}
