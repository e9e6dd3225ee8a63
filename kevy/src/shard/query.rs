//! Questions one shard asks all shards about their state, and the answers:
//! statistics for `INFO`, client lists for `CLIENT LIST/KILL`, and
//! configuration changes every shard must apply (`CONFIG SET`).

use std::collections::{BTreeMap, BTreeSet};

/// Per-command counters (`INFO commandstats`).
#[derive(Clone, Copy, Debug, Default)]
pub struct CommandStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
}

/// One shard's counters; summed over shards for `INFO`.
#[derive(Clone, Debug, Default)]
pub struct ShardStats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub total_net_input_bytes: u64,
    pub total_net_output_bytes: u64,
    pub total_error_replies: u64,
    /// Per-command counters by command table index (the hot-path form).
    pub counters: Vec<CommandStat>,
    /// Counters of container subcommands (`config|get`), by name.
    pub subcommands: BTreeMap<&'static str, CommandStat>,
    /// Per-command counters by name, filled when answering a query.
    pub commands: BTreeMap<&'static str, CommandStat>,
    /// Filled when answering a query.
    pub connected_clients: u64,
    /// `(keys, volatile keys)` per database, filled when answering.
    pub keyspace: Vec<(u64, u64)>,
    /// An estimate of the bytes the shard's data uses.
    pub used_memory: u64,
    /// Channels, patterns and shard channels with subscribers, filled when
    /// answering (merged as sets: a channel subscribed on two shards is
    /// one channel).
    pub pubsub_names: [BTreeSet<Vec<u8>>; 3],
}

impl ShardStats {
    /// The counters of the command at table index `index`.
    pub fn counter(&mut self, index: usize) -> &mut CommandStat {
        if self.counters.len() <= index {
            self.counters
                .resize(crate::cmd::count().max(index + 1), CommandStat::default());
        }
        &mut self.counters[index]
    }

    /// Fills `commands` from `counters` and `subcommands` (commands never
    /// called are left out).
    pub fn name_counters(&mut self) {
        self.commands
            .extend(self.subcommands.iter().map(|(name, stat)| (*name, *stat)));
        for (spec, stat) in crate::cmd::all().zip(&self.counters) {
            if stat.calls + stat.rejected_calls + stat.failed_calls > 0 {
                self.commands.insert(spec.name, *stat);
            }
        }
    }

    /// Adds another shard's counters to these.
    pub fn merge(&mut self, other: &ShardStats) {
        self.total_connections_received += other.total_connections_received;
        self.total_commands_processed += other.total_commands_processed;
        self.rejected_connections += other.rejected_connections;
        self.expired_keys += other.expired_keys;
        self.evicted_keys += other.evicted_keys;
        self.keyspace_hits += other.keyspace_hits;
        self.keyspace_misses += other.keyspace_misses;
        self.total_net_input_bytes += other.total_net_input_bytes;
        self.total_net_output_bytes += other.total_net_output_bytes;
        self.total_error_replies += other.total_error_replies;
        self.connected_clients += other.connected_clients;
        self.used_memory += other.used_memory;
        for (mine, theirs) in self.pubsub_names.iter_mut().zip(&other.pubsub_names) {
            mine.extend(theirs.iter().cloned());
        }
        for (name, stat) in &other.commands {
            let mine = self.commands.entry(name).or_default();
            mine.calls += stat.calls;
            mine.usec += stat.usec;
            mine.rejected_calls += stat.rejected_calls;
            mine.failed_calls += stat.failed_calls;
        }
        if self.keyspace.len() < other.keyspace.len() {
            self.keyspace.resize(other.keyspace.len(), (0, 0));
        }
        for (mine, theirs) in self.keyspace.iter_mut().zip(&other.keyspace) {
            mine.0 += theirs.0;
            mine.1 += theirs.1;
        }
    }

    /// Clears what `CONFIG RESETSTAT` resets.
    pub fn reset(&mut self) {
        let connections = self.connected_clients;
        *self = ShardStats {
            connected_clients: connections,
            ..ShardStats::default()
        };
    }
}

/// Which clients a `CLIENT LIST` / `CLIENT KILL` selects.
#[derive(Clone, Debug, Default)]
pub struct ClientFilter {
    pub ids: Vec<u64>,
    pub addr: Option<String>,
    pub laddr: Option<String>,
    /// `CLIENT KILL ... SKIPME yes`: the asking client's id is spared.
    pub skip_id: Option<u64>,
    /// `TYPE normal|master|replica|pubsub`: `normal` and `pubsub` (subscribed)
    /// clients exist yet.
    pub only_type: Option<String>,
}

pub enum Query {
    Stats,
    ClientList(ClientFilter),
    ClientKill(ClientFilter),
    /// `CLIENT UNBLOCK`: unblock this client if it is parked here.
    ClientUnblock {
        client_id: u64,
        error: bool,
    },
    /// Apply a `CONFIG SET` (already validated) on every shard. A shard
    /// applies a directive only if `epoch` is newer than the last one it
    /// applied to that directive.
    ConfigSet {
        epoch: u64,
        pairs: Vec<(String, String)>,
    },
    ResetStats,
    /// Publish to, or ask about, this shard's subscribers.
    PubSub(super::pubsub::PubSubQuery),
}

pub enum Answer {
    Stats(Box<ShardStats>),
    /// `CLIENT LIST` lines.
    Clients(Vec<String>),
    Count(u64),
    Done,
    PubSub(super::pubsub::PubSubAnswer),
}
