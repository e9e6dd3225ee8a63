//! Server commands: `TIME`, and what the container commands (`CONFIG`,
//! `CLIENT`, `COMMAND`) share: finding a subcommand, checking its arity
//! and replying `HELP` text.
//!
//! A container command is one row of the command table; its handler hands
//! `argv` to [`run_subcommand`] with the family's [`Subcommand`] table,
//! which replies Redis's errors for an unknown subcommand or a wrong
//! number of arguments (`'config|set'`) before calling the subcommand.

use super::{errors, CommandSpec, ConnCtx, ExecCtx, Handler, KeySpec, Route};
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
    // TIME reports microseconds, finer than the batch clock `now_ms`.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.reply.array(2);
    ctx.reply.bulk(now.as_secs().to_string().as_bytes());
    ctx.reply.bulk(now.subsec_micros().to_string().as_bytes());
}

/// One subcommand of a container command.
pub struct Subcommand {
    /// Lower-case name as `COMMAND` lists it (`config|get`).
    pub full_name: &'static str,
    /// Redis arity of the whole command line (`CONFIG GET p` is 3).
    pub arity: i32,
    pub handler: fn(&mut ConnCtx, Argv),
}

impl Subcommand {
    /// The part after `|`.
    pub fn name(&self) -> &'static str {
        self.full_name
            .split_once('|')
            .map_or(self.full_name, |(_, sub)| sub)
    }

    fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }
}

/// Runs the subcommand named by `argv[1]` from `table`, or replies the
/// error Redis gives. `container` is the lower-case command name.
pub fn run_subcommand(ctx: &mut ConnCtx, argv: Argv, container: &str, table: &[Subcommand]) {
    let asked = argv.get(1);
    let Some(sub) = table
        .iter()
        .find(|s| s.name().as_bytes().eq_ignore_ascii_case(asked))
    else {
        ctx.reply()
            .error(&errors::unknown_subcommand(asked, container));
        return;
    };
    // CLIENT LIST shows the subcommand as the last command (`client|list`).
    ctx.conn().last_command = sub.full_name;
    if !sub.arity_ok(argv.len()) {
        ctx.reply().error(&errors::wrong_args(sub.full_name));
        return;
    }
    (sub.handler)(ctx, argv);
}

/// Replies a `HELP` text: the usage line Redis prints first, then `lines`,
/// then the closing `HELP` entry, each as a status string.
pub fn reply_help(ctx: &mut ConnCtx, container: &str, lines: &[&str]) {
    let mut reply = ctx.reply();
    reply.array(lines.len() + 3);
    reply.simple(&format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        container.to_ascii_uppercase()
    ));
    for line in lines {
        reply.simple(line);
    }
    reply.simple("HELP");
    reply.simple("    Prints this help.");
}

/// The names listed in a container's `CommandSpec::subcommands`, checked
/// by tests against its [`Subcommand`] table.
#[cfg(test)]
pub fn names_of(table: &[Subcommand]) -> Vec<&'static str> {
    table.iter().map(Subcommand::name).collect()
}
