//! Blocking commands of kevy (being built): blocked-client registry and cross-shard arbiter.
