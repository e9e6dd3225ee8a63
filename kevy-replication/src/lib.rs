//! Replication of kevy (being built): per-shard backlog and the primary-replica stream.
