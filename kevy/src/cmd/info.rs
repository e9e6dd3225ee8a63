//! `INFO [section ...]`: Redis's report of the server, in Redis's sections
//! and field names so monitoring tools and client libraries read it
//! unchanged.
//!
//! The asking shard takes what it knows (configuration, shared server
//! facts) as a [`Facts`] snapshot; when a section needs counters kept per
//! shard (stats, keyspace, commandstats, memory, persistence), it asks
//! every shard for its [`ShardStats`], merges them and renders the text
//! when the last answer arrives. Each section's fields are in `sections`,
//! what comes from the operating system in `system`.

mod sections;
mod system;

use sections::{
    clients_section, commandstats_section, cpu_section, keyspace_section, memory_section,
    persistence_section, replication_section, server_section, stats_section,
};
use std::sync::Arc;

use super::{CommandSpec, ConnCtx, Handler, KeySpec, Route};
use crate::resp::Argv;
use crate::shard::query::{Answer, Query};
use crate::shard::{ServerShared, ShardStats};

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "info",
    arity: -1,
    flags: &["loading", "stale"],
    acl: &["@slow", "@dangerous"],
    keys: KeySpec::None,
    route: Route::Local,
    handler: Handler::Conn(info),
    group: "server",
    since: "1.0.0",
    summary: "Get information and statistics about the server",
    subcommands: &[],
}];

/// Every section, in the order Redis prints them.
const SECTIONS: [&str; 13] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

/// Sections left out of a plain `INFO` (and of `INFO default`).
const NOT_DEFAULT: [&str; 2] = ["commandstats", "latencystats"];

/// Sections that need every shard's counters.
const NEED_STATS: [&str; 5] = ["memory", "persistence", "stats", "commandstats", "keyspace"];

/// Which sections `INFO args...` asks for, in printing order.
fn wanted_sections(argv: Argv) -> Vec<&'static str> {
    let mut wanted = [false; SECTIONS.len()];
    let set_default = |wanted: &mut [bool; SECTIONS.len()]| {
        for (i, name) in SECTIONS.iter().enumerate() {
            wanted[i] |= !NOT_DEFAULT.contains(name);
        }
    };
    if argv.len() == 1 {
        set_default(&mut wanted);
    }
    for arg in argv.iter().skip(1) {
        let arg = String::from_utf8_lossy(arg).to_ascii_lowercase();
        match arg.as_str() {
            "all" | "everything" => wanted = [true; SECTIONS.len()],
            "default" => set_default(&mut wanted),
            name => {
                if let Some(i) = SECTIONS.iter().position(|s| *s == name) {
                    wanted[i] = true;
                }
            }
        }
    }
    SECTIONS
        .iter()
        .zip(wanted)
        .filter(|(_, on)| *on)
        .map(|(name, _)| *name)
        .collect()
}

/// What the asking shard knows, taken before the query goes out.
struct Facts {
    shared: Arc<ServerShared>,
    hz: u32,
    maxclients: u64,
    maxmemory: u64,
    maxmemory_policy: String,
    config_file: String,
    snapshots: crate::persist::SnapshotState,
}

fn info(ctx: &mut ConnCtx, argv: Argv) {
    let sections = wanted_sections(argv);
    let config = &ctx.core.config;
    let facts = Facts {
        snapshots: config.snapshots.clone(),
        shared: ctx.core.shared.clone(),
        hz: config.hz,
        maxclients: config.maxclients,
        maxmemory: config
            .get("maxmemory")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        maxmemory_policy: config
            .get("maxmemory-policy")
            .unwrap_or("noeviction")
            .to_string(),
        config_file: config
            .config_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    };
    if !sections.iter().any(|s| NEED_STATS.contains(s)) {
        let text = render(&sections, &facts, &ShardStats::default());
        ctx.reply().verbatim(text.as_bytes());
        return;
    }
    ctx.ask_all_shards(
        || Query::Stats,
        move |answers, reply| {
            let mut stats = ShardStats::default();
            for answer in answers {
                if let Answer::Stats(shard) = answer {
                    stats.merge(&shard);
                }
            }
            reply.verbatim(render(&sections, &facts, &stats).as_bytes());
        },
    );
}

/// The whole reply text: each section's `# Title` and `field:value`
/// lines, sections separated by an empty line, every line ending `\r\n`.
fn render(sections: &[&str], facts: &Facts, stats: &ShardStats) -> String {
    let mut out = String::new();
    for (i, section) in sections.iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        let mut lines = Lines(&mut out);
        match *section {
            "server" => server_section(&mut lines, facts),
            "clients" => clients_section(&mut lines, facts),
            "memory" => memory_section(&mut lines, facts, stats),
            "persistence" => persistence_section(&mut lines, facts, stats),
            "stats" => stats_section(&mut lines, stats),
            "replication" => replication_section(&mut lines, facts),
            "cpu" => cpu_section(&mut lines),
            "modules" => lines.title("Modules"),
            "commandstats" => commandstats_section(&mut lines, stats),
            // Errors are not yet counted by error code.
            "errorstats" => lines.title("Errorstats"),
            // Latency histograms are not kept.
            "latencystats" => lines.title("Latencystats"),
            "cluster" => {
                lines.title("Cluster");
                lines.field("cluster_enabled", 0);
            }
            _ => keyspace_section(&mut lines, stats),
        }
    }
    out
}

/// Appends `INFO` lines.
struct Lines<'a>(&'a mut String);

impl Lines<'_> {
    fn title(&mut self, title: &str) {
        self.0.push_str("# ");
        self.0.push_str(title);
        self.0.push_str("\r\n");
    }

    fn field(&mut self, name: &str, value: impl std::fmt::Display) {
        use std::fmt::Write;
        let _ = write!(self.0, "{name}:{value}\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::OwnedArgv;

    fn sections(words: &[&str]) -> Vec<&'static str> {
        let argv = OwnedArgv::from_slices(words.iter().map(|w| w.as_bytes()));
        wanted_sections(argv.argv())
    }

    #[test]
    fn section_selection() {
        let default = sections(&["info"]);
        assert_eq!(default.len(), 11);
        assert!(!default.contains(&"commandstats"));
        assert_eq!(sections(&["info", "default"]), default);
        assert_eq!(sections(&["info", "all"]).len(), 13);
        assert_eq!(sections(&["info", "EVERYTHING"]).len(), 13);
        assert_eq!(
            sections(&["info", "keyspace", "server", "cpu", "cpu"]),
            vec!["server", "cpu", "keyspace"]
        );
        assert!(sections(&["info", "nosuch"]).is_empty());
    }

    #[test]
    fn rendering() {
        let facts = Facts {
            shared: Arc::new(ServerShared::new(2, 6379)),
            hz: 10,
            maxclients: 10000,
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            config_file: String::new(),
            snapshots: Default::default(),
        };
        let mut stats = ShardStats {
            keyspace: vec![(0, 0), (3, 1)],
            ..ShardStats::default()
        };
        stats.commands.entry("get").or_default().calls = 4;
        stats.commands.entry("get").or_default().usec = 10;
        let text = render(&["commandstats", "keyspace"], &facts, &stats);
        assert_eq!(
            text,
            "# Commandstats\r\n\
             cmdstat_get:calls=4,usec=10,usec_per_call=2.50,rejected_calls=0,failed_calls=0\r\n\
             \r\n# Keyspace\r\ndb1:keys=3,expires=1,avg_ttl=0\r\n"
        );
        let server = render(&["server"], &facts, &stats);
        assert!(server.starts_with("# Server\r\nredis_version:7.0.15\r\n"));
        assert!(server.contains("\r\nshards:2\r\n"));
        assert!(server.contains("\r\ntcp_port:6379\r\n"));
    }
}
