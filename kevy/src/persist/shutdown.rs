//! What persistence does when the server stops, as Redis's
//! `prepareForShutdown`: each shard writes and fsyncs its append-only log
//! whatever the policy, and saves its part of a final snapshot when the
//! stop asks for one: `SHUTDOWN SAVE` always, `SHUTDOWN NOSAVE` never,
//! plain `SHUTDOWN` and SIGTERM/SIGINT when save points are configured.
//!
//! A stop that no one asked for this way (a program embedding kevy
//! calling `RunningServer::stop`) saves nothing: the embedding program
//! decides when to save.

use std::sync::atomic::Ordering;

use super::autosave::save_points;
use super::save::write_keyspace;
use super::state::SnapshotState;
use crate::shard::ShardCore;

/// How the stop was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ShutdownSave {
    /// Not asked (library stop): no save.
    Unasked = 0,
    /// `SHUTDOWN` or a signal: save when save points are configured.
    Default = 1,
    Save = 2,
    NoSave = 3,
}

/// Records how the server is asked to stop (before it stops).
pub fn request(state: &SnapshotState, mode: ShutdownSave) {
    state
        .shared()
        .shutdown_save
        .store(mode as u8, Ordering::SeqCst);
}

/// The mode `SHUTDOWN`'s arguments ask for.
pub fn mode_of_arguments<'a>(args: impl Iterator<Item = &'a [u8]>) -> ShutdownSave {
    let mut mode = ShutdownSave::Default;
    for arg in args {
        if arg.eq_ignore_ascii_case(b"save") {
            mode = ShutdownSave::Save;
        } else if arg.eq_ignore_ascii_case(b"nosave") {
            mode = ShutdownSave::NoSave;
        }
    }
    mode
}

/// Runs on each shard's thread after its loop ended.
pub fn on_shard_stop(core: &mut ShardCore) {
    super::aof_shard::on_stop(core);
    let state = core.config.snapshots.clone();
    let mode = state.shared().shutdown_save.load(Ordering::SeqCst);
    let save = match mode {
        m if m == ShutdownSave::Save as u8 => true,
        m if m == ShutdownSave::Default as u8 => !save_points(&core.config).is_empty(),
        _ => false,
    };
    if !save {
        return;
    }
    if core.id == 0 {
        log::info!("Saving the final RDB snapshot before exiting.");
    }
    let generation = state.ticket();
    let target = crate::cmd::persist::save_target(&core.config, false);
    let now = crate::shard::unix_ms();
    let keyspace = &core.keyspace;
    if let Err(err) = state.contribute(generation, &target, |writer| {
        write_keyspace(writer, keyspace, now)
    }) {
        log::warn!("Error trying to save the DB, can't exit: {err}");
    }
}
