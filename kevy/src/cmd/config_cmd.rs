//! `CONFIG GET | SET | RESETSTAT | REWRITE | HELP`.
//!
//! Every shard holds its own copy of the configuration. `CONFIG GET` reads
//! the connection's shard. `CONFIG SET` validates all pairs on a copy of
//! that configuration first (so errors come back before anything changes,
//! all or nothing, as in Redis), then asks every shard to apply them and
//! replies once all have. `CONFIG RESETSTAT` clears every shard's counters
//! the same way. `CONFIG REWRITE` writes the running values back into the
//! configuration file the server was started with.

use std::sync::atomic::Ordering;

use super::server::{reply_help, run_subcommand, Subcommand};
use super::{errors, CommandSpec, ConnCtx, Handler, KeySpec, Route};
use crate::config::{Config, ConfigError};
use crate::resp::Argv;
use crate::shard::query::Query;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "config",
    arity: -2,
    flags: &[],
    acl: &["@slow"],
    keys: KeySpec::None,
    route: Route::Local,
    handler: Handler::Conn(config),
    group: "server",
    since: "2.0.0",
    summary: "A container for server configuration commands",
    subcommands: &["get", "set", "resetstat", "rewrite", "help"],
}];

static SUBCOMMANDS: &[Subcommand] = &[
    Subcommand {
        full_name: "config|get",
        arity: -3,
        handler: config_get,
    },
    Subcommand {
        full_name: "config|set",
        arity: -4,
        handler: config_set,
    },
    Subcommand {
        full_name: "config|resetstat",
        arity: 2,
        handler: config_resetstat,
    },
    Subcommand {
        full_name: "config|rewrite",
        arity: 2,
        handler: config_rewrite,
    },
    Subcommand {
        full_name: "config|help",
        arity: 2,
        handler: config_help,
    },
];

fn config(ctx: &mut ConnCtx, argv: Argv) {
    run_subcommand(ctx, argv, "config", SUBCOMMANDS);
}

fn config_help(ctx: &mut ConnCtx, _argv: Argv) {
    reply_help(
        ctx,
        "config",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
}

/// True when `pattern` has glob characters; Redis looks other names up
/// directly and answers with the name as the client spelled it.
fn is_glob(pattern: &[u8]) -> bool {
    pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'['))
}

fn config_get(ctx: &mut ConnCtx, argv: Argv) {
    let config = &ctx.core.config;
    let mut found: Vec<(String, String)> = Vec::new();
    for pattern in argv.iter().skip(2) {
        let text = String::from_utf8_lossy(pattern);
        if is_glob(pattern) {
            for (name, value) in config.matching(&text) {
                if !found.iter().any(|(seen, _)| seen == name) {
                    found.push((name.to_string(), value.to_string()));
                }
            }
        } else if let Some(value) = config.get_any(&text) {
            if !found
                .iter()
                .any(|(seen, _)| seen.eq_ignore_ascii_case(&text))
            {
                found.push((text.into_owned(), value.to_string()));
            }
        }
    }
    let mut reply = ctx.reply();
    reply.map(found.len());
    for (name, value) in &found {
        reply.bulk(name.as_bytes());
        reply.bulk(value.as_bytes());
    }
}

/// Redis's text for a failed `CONFIG SET`.
fn set_failed(argument: &str, err: &ConfigError) -> String {
    match err {
        ConfigError::UnknownDirective(_) => {
            format!("ERR Unknown option or number of arguments for CONFIG SET - '{argument}'")
        }
        _ => format!("ERR CONFIG SET failed (possibly related to argument '{argument}') - {err}"),
    }
}

/// Checks every pair as Redis does (unknown names first, then immutable
/// or repeated ones, then values) against a copy of `config`; returns the
/// pairs to apply or the error to reply.
fn validate_pairs(config: &Config, argv: Argv) -> Result<Vec<(String, String)>, String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut unknown: Option<String> = None;
    let mut refused: Option<String> = None;
    let mut names: Vec<String> = Vec::new();
    let mut i = 2;
    while i + 1 < argv.len() {
        let asked = String::from_utf8_lossy(argv.get(i)).into_owned();
        let value = String::from_utf8_lossy(argv.get(i + 1)).into_owned();
        i += 2;
        if !Config::knows(&asked) {
            unknown.get_or_insert(asked);
            continue;
        }
        if unknown.is_some() || refused.is_some() {
            continue;
        }
        let canonical = asked.to_ascii_lowercase();
        // `set_runtime` checks mutability before the value.
        if config.clone().set_runtime(&canonical, &value) == Err(ConfigError::Immutable) {
            refused = Some(set_failed(&asked, &ConfigError::Immutable));
            continue;
        }
        if names.contains(&canonical) {
            refused = Some(format!(
                "ERR CONFIG SET failed (possibly related to argument '{asked}') - duplicate parameter"
            ));
            continue;
        }
        names.push(canonical.clone());
        pairs.push((canonical, value));
    }
    if let Some(name) = unknown {
        return Err(set_failed(
            &name,
            &ConfigError::UnknownDirective(name.clone()),
        ));
    }
    if let Some(text) = refused {
        return Err(text);
    }
    let mut trial = config.clone();
    for (name, value) in &pairs {
        if let Err(err) = trial.set_runtime(name, value) {
            return Err(set_failed(name, &err));
        }
    }
    Ok(pairs)
}

fn config_set(ctx: &mut ConnCtx, argv: Argv) {
    if argv.len() % 2 != 0 {
        ctx.reply().error(errors::SYNTAX);
        return;
    }
    match validate_pairs(&ctx.core.config, argv) {
        Err(text) => ctx.reply().error(&text),
        Ok(pairs) => {
            // One server-wide order for CONFIG SETs, so concurrent ones from
            // connections on different shards settle the same everywhere.
            let epoch = ctx.core.shared.config_epoch.fetch_add(1, Ordering::SeqCst) + 1;
            ctx.ask_all_shards(
                move || Query::ConfigSet {
                    epoch,
                    pairs: pairs.clone(),
                },
                |_answers, reply| reply.ok(),
            )
        }
    }
}

fn config_resetstat(ctx: &mut ConnCtx, _argv: Argv) {
    ctx.ask_all_shards(|| Query::ResetStats, |_answers, reply| reply.ok());
}

fn config_rewrite(ctx: &mut ConnCtx, _argv: Argv) {
    let Some(path) = ctx.core.config.config_file.clone() else {
        ctx.reply()
            .error("ERR The server is running without a config file");
        return;
    };
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let text = rewritten(&old, &ctx.core.config);
    match write_atomically(&path, &text) {
        Ok(()) => {
            log::info!("CONFIG REWRITE executed with success.");
            ctx.reply().ok();
        }
        Err(err) => {
            log::warn!("CONFIG REWRITE failed: {err}");
            ctx.reply()
                .error(&format!("ERR Rewriting config file: {err}"));
        }
    }
}

/// Marks where directives that were not in the file begin, as Redis does.
const REWRITE_MARKER: &str = "# Generated by CONFIG REWRITE";

/// The configuration file `old` with every known directive set to its
/// running value: the first line naming a directive is replaced, later
/// ones dropped; directives that differ from their default and were not
/// in the file are appended after [`REWRITE_MARKER`]. Comments and
/// unknown lines stay as they are.
fn rewritten(old: &str, config: &Config) -> String {
    let defaults = Config::default();
    let current = config.canonical_values();
    let mut written: Vec<&str> = Vec::new();
    let mut out = String::new();
    let mut marked = false;
    for line in old.lines() {
        marked |= line.trim() == REWRITE_MARKER;
        let word = line.split_whitespace().next().unwrap_or("");
        let known = current
            .iter()
            .find(|(name, _)| !word.starts_with('#') && name.eq_ignore_ascii_case(word));
        match known {
            Some((name, value)) => {
                if !written.contains(name) {
                    written.push(name);
                    out.push_str(&directive_line(name, value));
                    out.push('\n');
                }
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (name, value) in &current {
        if written.contains(name) || defaults.get(name) == Some(*value) {
            continue;
        }
        if !marked {
            out.push_str(REWRITE_MARKER);
            out.push('\n');
            marked = true;
        }
        out.push_str(&directive_line(name, value));
        out.push('\n');
    }
    out
}

/// `name value`, the value quoted when it is empty or has spaces or
/// quotes (the config file reader undoes the quoting).
fn directive_line(name: &str, value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\'' && b != b'\\');
    // `save` and `bind` hold several words, written unquoted.
    if plain || name == "save" && !value.is_empty() || name == "bind" {
        return format!("{name} {value}");
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    format!("{name} {quoted}")
}

/// Writes `text` to a temporary file beside `path`, syncs it and renames
/// it over `path`, so a crash never leaves a half-written file.
fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".tmp-{}", std::process::id()));
    let temp = std::path::PathBuf::from(temp);
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, path)
}

/// The subcommand table, for tests comparing it with Redis's reference.
#[cfg(test)]
pub(super) fn subcommands() -> &'static [Subcommand] {
    SUBCOMMANDS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::OwnedArgv;

    fn argv(words: &[&str]) -> OwnedArgv {
        OwnedArgv::from_slices(words.iter().map(|w| w.as_bytes()))
    }

    #[test]
    fn subcommand_table_matches_spec() {
        assert_eq!(
            super::super::server::names_of(SUBCOMMANDS),
            COMMANDS[0].subcommands
        );
    }

    #[test]
    fn validation_reports_errors_in_redis_order() {
        let config = Config::default();
        let check = |words: &[&str]| validate_pairs(&config, argv(words).argv());
        assert_eq!(
            check(&["config", "set", "hz", "x", "nosuch", "1"]),
            Err("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'".into())
        );
        assert_eq!(
            check(&["config", "set", "Databases", "2"]),
            Err("ERR CONFIG SET failed (possibly related to argument 'Databases') - can't set immutable config".into())
        );
        assert_eq!(
            check(&["config", "set", "hz", "5", "HZ", "6"]),
            Err(
                "ERR CONFIG SET failed (possibly related to argument 'HZ') - duplicate parameter"
                    .into()
            )
        );
        assert_eq!(
            check(&["config", "set", "MAXMEMORY", "lots"]),
            Err("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value".into())
        );
        assert_eq!(
            check(&["config", "set", "maxmemory", "1mb", "hz", "20"]),
            Ok(vec![
                ("maxmemory".into(), "1mb".into()),
                ("hz".into(), "20".into())
            ])
        );
    }

    #[test]
    fn rewrite_keeps_comments_and_replaces_values() {
        let mut config = Config::default();
        config.set_runtime("maxmemory", "1mb").unwrap();
        config.set_runtime("requirepass", "a b").unwrap();
        config.set_runtime("hz", "20").unwrap();
        let old = "# my config\nhz 10\nport 7000\n\nhz 30\n  # hz 40\n";
        let text = rewritten(old, &config);
        assert!(text.starts_with("# my config\nhz 20\nport 6379\n\n  # hz 40\n"));
        assert!(text.contains("# Generated by CONFIG REWRITE\n"));
        assert!(text.contains("maxmemory 1048576\n"));
        assert!(text.contains("requirepass \"a b\"\n"));
        let mut reread = Config::default();
        reread.load_file_text(&text).unwrap();
        assert_eq!(reread.requirepass.as_deref(), Some(&b"a b"[..]));
        assert_eq!(reread.get("maxmemory"), Some("1048576"));
        // A second rewrite changes nothing.
        assert_eq!(rewritten(&text, &config), text);
    }
}
